//! # amtsbote-xta
//!
//! XTA 2 for Rust (XTA-Webservice v3/v4, namespace `http://xoev.de/transport/xta/211`): the
//! SOAP web service through which Fachverfahren hand XÖV messages (XMeld, XPersonenstand,
//! xdomea, XBau, …) to their XTA server and read their mailboxes — and a sandbox XTA server to
//! test against.
//!
//! | module | what it is for |
//! |---|---|
//! | [`wsdl`] | what XTA.wsdl fixes: namespaces, ports, operations, SOAP actions |
//! | [`xml`] | hardened XML reading (no DTDs, limits) and writing |
//! | [`mtom`] | MTOM/XOP `multipart/related` packages and plain SOAP bodies |
//! | [`soap`] | SOAP 1.2 envelopes with WS-Addressing headers |
//! | [`fault`] | XTA exceptions and error numbers (Fehlernummern) as SOAP faults |
//! | [`metadata`] | `MessageMetaData`: author, reader, MessageID, service, scenario, type |
//! | [`container`] | `GenericContentContainer`: the message and its attachments |
//! | [`msgbox`] | status lists, paging, fetch and close requests |
//! | [`management`] | service lookup and transport reports |
//! | [`client`] | [`XtaClient`]: the three ports over HTTPS with a PKCS#12 client certificate |
//! | [`sandbox`] | an XTA server over mutual TLS, in memory, with fault injection |
//! | [`pki`] | test certificates: a CA, a server certificate, PKCS#12 client certificates |
//!
//! XTA 2 version 5 (`https://xoev.de/transport/xta/core/3.1.1`) is a different wire protocol;
//! this crate speaks v3/v4 only, which is what most installations run. The crate does not
//! depend on the broker; facts taken from the WSDL are marked as such, everything else that
//! could not be verified is marked *unverified* where it is defined.

pub mod client;
pub mod container;
pub mod fault;
pub mod management;
pub mod metadata;
pub mod msgbox;
pub mod mtom;
pub mod pki;
pub mod sandbox;
pub mod soap;
pub mod wsdl;
pub mod xml;

pub use client::{
    ClientConfig, ClientIdentity, Endpoints, FetchedMessage, OutgoingMessage, TrustAnchors,
    XtaClient, XtaError,
};
pub use container::{Content, ContentContainer};
pub use fault::{ErrorCode, ExceptionKind};
pub use metadata::{MessageMetaData, PartyIdentifier};
