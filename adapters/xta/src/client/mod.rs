//! The XTA web service client: what a Fachverfahren (or amtsbote's inbound adapter) does with
//! its XTA server, over HTTPS with the account's client certificate. One [`XtaClient`] per
//! account and identity; it is cheap to clone and to share.
//!
//! - ManagementPort: [`XtaClient::check_account_active`], [`XtaClient::create_message_id`],
//!   [`XtaClient::lookup_service`], [`XtaClient::get_transport_report`].
//! - MsgBoxPort: [`XtaClient::get_status_list`] (and [`XtaClient::list_mailbox`] for all pages),
//!   [`XtaClient::get_next_status_list`], [`XtaClient::get_message`], [`XtaClient::close`].
//! - SendPort: [`XtaClient::send_message`].
//!
//! Every request is a SOAP 1.2 envelope with WS-Addressing headers and, if
//! [`ClientConfig::author`] is set, the `oscimeta:Author` header (the identity on whose behalf
//! the account acts — for the mailbox operations, whose mailbox is read). Requests go out as
//! MTOM packages by default ([`ContentEncoding`]); answers are read in either form.
//!
//! No retries happen inside the client: polling loops decide, using
//! [`XtaError::is_transient`] and [`XtaError::is_permanent_for_account`]. Timeouts: connect,
//! time until the response headers arrive, and the longest pause while a body is read (large
//! messages may take long in total, but must keep flowing).
//!
//! Memory: an answer is read into one buffer (bounded by [`ClientConfig::max_response_bytes`]);
//! MTOM parts are slices of it, so a 40 MB message is held once, plus its decoded form only
//! where the server sent inline base64. Answers over 1 MiB are parsed and decoded on a
//! blocking thread, not on the async runtime. Outgoing content is not copied either: MTOM parts
//! are the caller's `Bytes`, inline base64 is encoded straight into the envelope.

mod error;
mod identity;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream;

pub use error::{IdentityError, XtaError};
pub use identity::{ClientIdentity, TrustAnchors};
pub(crate) use identity::{fingerprint, sha256_hex, subject_of};

use crate::container::ContentContainer;
use crate::fault::SoapFault;
use crate::management::{
    ServiceAvailability, ServiceQuery, TransportReport, parse_lookup_response, write_lookup_request,
};
use crate::metadata::{MessageMetaData, PartyIdentifier};
use crate::msgbox::{
    IteratorRequest, MsgBoxResponse, StatusList, StatusListRequest, write_fetch_request,
};
pub use crate::mtom::ContentEncoding;
use crate::mtom::{Attachments, Received, package};
use crate::soap::{Addressing, Envelope, write_envelope};
use crate::wsdl::{NS_OSCI, NS_OSCIMETA, NS_WSA, NS_XTA, Operation, Port};
use crate::xml::{Malformed, XmlLimits, XmlWriter};

/// The URLs of the three ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// ManagementPort URL.
    pub management: String,
    /// SendPort URL.
    pub send: String,
    /// MsgBoxPort URL.
    pub msg_box: String,
}

impl Endpoints {
    /// The three ports under `base_url` with the default paths of [`Port::default_path`]
    /// (*unverified*: the Governikus MultiMessenger layout; check your provider's URLs).
    pub fn from_base(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        Endpoints {
            management: format!("{base}{}", Port::Management.default_path()),
            send: format!("{base}{}", Port::Send.default_path()),
            msg_box: format!("{base}{}", Port::MsgBox.default_path()),
        }
    }

    /// The URL of a port.
    pub fn url(&self, port: Port) -> &str {
        match port {
            Port::Management => &self.management,
            Port::Send => &self.send,
            Port::MsgBox => &self.msg_box,
        }
    }
}

/// Configuration of an [`XtaClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The port URLs.
    pub endpoints: Endpoints,
    /// The account's client certificate. Without it, servers that require one (all XTA
    /// servers) refuse the handshake.
    pub identity: Option<ClientIdentity>,
    /// CA certificates for the server's certificate, in addition to (or, with
    /// `builtin_roots = false`, instead of) the built-in web PKI roots.
    pub trust: Option<TrustAnchors>,
    /// Trust the built-in web PKI roots (Mozilla's list) as well.
    pub builtin_roots: bool,
    /// `oscimeta:Author` header: the identity (`prefix:kennung`) the account acts as; for
    /// mailbox operations, the reader whose mailbox is read.
    pub author: Option<PartyIdentifier>,
    /// How requests are packaged (MTOM by default, as XTA.wsdl asks).
    pub encoding: ContentEncoding,
    /// Connection establishment (TCP + TLS) timeout.
    pub connect_timeout: Duration,
    /// Time from sending a request until the response headers arrive (uploads included).
    pub request_timeout: Duration,
    /// Longest pause between two chunks of a response body.
    pub read_timeout: Duration,
    /// Largest answer accepted (a 40 MB message inline as base64 is about 54 MB).
    pub max_response_bytes: u64,
    /// Limits for parsing answers.
    pub xml_limits: XmlLimits,
}

impl ClientConfig {
    /// Defaults: MTOM, built-in roots, 10 s connect, 60 s until headers, 60 s read pauses,
    /// 80 MiB answers.
    pub fn new(endpoints: Endpoints) -> Self {
        ClientConfig {
            endpoints,
            identity: None,
            trust: None,
            builtin_roots: true,
            author: None,
            encoding: ContentEncoding::Mtom,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            max_response_bytes: 80 * 1024 * 1024,
            xml_limits: XmlLimits::default(),
        }
    }
}

/// A message fetched with `getMessage`.
#[derive(Debug, Clone)]
pub struct FetchedMessage {
    /// The `MessageMetaData` header of the answer (XTA.wsdl declares it; `None` if the
    /// server left it out — the status list entry has the same data).
    pub metadata: Option<MessageMetaData>,
    /// The content.
    pub container: ContentContainer,
    /// The `MsgBoxResponse` header, if sent.
    pub response: Option<MsgBoxResponse>,
}

/// A message to send: its transport order and its content.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The `MessageMetaData` header (its MessageID usually from `createMessageId`).
    pub metadata: MessageMetaData,
    /// The content.
    pub container: ContentContainer,
}

/// The `MsgBoxRequestID` sent with `close` when the caller has no iterator (it fetched by
/// MessageID alone). *Unverified*: a constant, as existing XTA v3 clients send it (the XSD
/// requires the attribute; servers release the iterator if they know it and otherwise go by
/// `LastMsgReceived`).
pub const CLOSE_WITHOUT_ITERATOR: &str = "1";

/// Pages [`XtaClient::list_mailbox`] reads at most (a safety net against a server that never
/// stops reporting pending items).
const MAX_PAGES: usize = 10_000;

/// An XTA web service client for one account.
#[derive(Clone)]
pub struct XtaClient {
    http: reqwest::Client,
    config: ClientConfig,
}

impl std::fmt::Debug for XtaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XtaClient")
            .field("endpoints", &self.config.endpoints)
            .field("author", &self.config.author.as_ref().map(|a| &a.value))
            .field("identity", &self.config.identity)
            .finish_non_exhaustive()
    }
}

impl XtaClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, XtaError> {
        for port in Port::ALL {
            let url = config.endpoints.url(port);
            if !url.starts_with("https://") {
                return Err(XtaError::Config(format!(
                    "the {port} URL must start with https://"
                )));
            }
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .http1_only()
            .tls_built_in_root_certs(config.builtin_roots)
            .user_agent(concat!("amtsbote-xta/", env!("CARGO_PKG_VERSION")));
        if let Some(identity) = &config.identity {
            builder = builder.identity(identity.reqwest_identity());
        }
        if let Some(trust) = &config.trust {
            for cert in trust.certificates() {
                builder = builder.add_root_certificate(cert.clone());
            }
        }
        let http = builder
            .build()
            .map_err(|e| XtaError::Config(format!("building the HTTPS client: {e}")))?;
        Ok(XtaClient { http, config })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The same account acting as another identity (another `oscimeta:Author`), sharing the
    /// connection pool.
    pub fn with_author(&self, author: PartyIdentifier) -> XtaClient {
        let mut config = self.config.clone();
        config.author = Some(author);
        XtaClient {
            http: self.http.clone(),
            config,
        }
    }

    fn write_author(&self, w: &mut XmlWriter) {
        if let Some(author) = &self.config.author {
            author.write_party(w, "oscimeta:Author");
        }
    }

    /// `checkAccountActive`: `Ok` if the account is active; a `PermissionDeniedException`
    /// otherwise.
    pub async fn check_account_active(&self) -> Result<(), XtaError> {
        self.call(
            Operation::CheckAccountActive,
            |w| self.write_author(w),
            |_, _| {},
            |_, _| Ok(()),
        )
        .await
    }

    /// `createMessageId`: a new MessageID issued by the server.
    pub async fn create_message_id(&self) -> Result<String, XtaError> {
        self.call(
            Operation::CreateMessageId,
            |w| self.write_author(w),
            |_, _| {},
            decode_message_id,
        )
        .await
    }

    /// `lookupService`: whether readers offer services.
    pub async fn lookup_service(
        &self,
        queries: &[ServiceQuery],
    ) -> Result<Vec<ServiceAvailability>, XtaError> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        self.call(
            Operation::LookupService,
            |w| self.write_author(w),
            |w, _| write_lookup_request(w, queries),
            decode_lookup,
        )
        .await
    }

    /// `getTransportReport`: the transport report of a message the account sent or received.
    pub async fn get_transport_report(
        &self,
        message_id: &str,
    ) -> Result<TransportReport, XtaError> {
        self.call(
            Operation::GetTransportReport,
            |w| self.write_author(w),
            |w, _| w.leaf("wsa:MessageID", &[], message_id),
            decode_transport_report,
        )
        .await
    }

    /// `sendMessage`: hands a message to the XTA server for transport to its reader.
    pub async fn send_message(&self, message: &OutgoingMessage) -> Result<(), XtaError> {
        self.call(
            Operation::SendMessage,
            |w| message.metadata.write(w),
            |w, attachments| message.container.write(w, attachments),
            |_, _| Ok(()),
        )
        .await
    }

    /// `getStatusList` with `maxListItems` entries in `MessageMetaData` form.
    pub async fn get_status_list(&self, max_list_items: u32) -> Result<StatusList, XtaError> {
        self.get_status_list_with(&StatusListRequest::metadata(max_list_items))
            .await
    }

    /// `getStatusList` with a full request (selector, list form).
    pub async fn get_status_list_with(
        &self,
        request: &StatusListRequest,
    ) -> Result<StatusList, XtaError> {
        self.call(
            Operation::GetStatusList,
            |w| self.write_author(w),
            |w, _| request.write(w),
            decode_status_list,
        )
        .await
    }

    /// `getNextStatusList`: the next page of the listing `msg_box_request_id`.
    pub async fn get_next_status_list(
        &self,
        msg_box_request_id: &str,
    ) -> Result<StatusList, XtaError> {
        let request = IteratorRequest {
            request_id: msg_box_request_id.to_string(),
            last_msg_received: Vec::new(),
        };
        self.call(
            Operation::GetNextStatusList,
            |w| self.write_author(w),
            |w, _| request.write(w, "osci:MsgBoxGetNextRequest"),
            decode_status_list,
        )
        .await
    }

    /// All entries of the mailbox (`MessageMetaData` form), page by page.
    pub async fn list_mailbox(
        &self,
        max_list_items: u32,
    ) -> Result<Vec<MessageMetaData>, XtaError> {
        let mut page = self.get_status_list(max_list_items).await?;
        let mut all = std::mem::take(&mut page.messages);
        for _ in 0..MAX_PAGES {
            if page.items_pending() == 0 {
                break;
            }
            let Some(id) = page.request_id().map(str::to_string) else {
                break;
            };
            page = self.get_next_status_list(&id).await?;
            if page.messages.is_empty() {
                break;
            }
            all.append(&mut page.messages);
        }
        Ok(all)
    }

    /// `getMessage`: fetches one message. It stays in the mailbox until [`close`](Self::close).
    pub async fn get_message(&self, message_id: &str) -> Result<FetchedMessage, XtaError> {
        self.call(
            Operation::GetMessage,
            |w| self.write_author(w),
            |w, _| write_fetch_request(w, message_id),
            decode_fetched,
        )
        .await
    }

    /// `close`: confirms that `message_ids` were received (the server marks them fetched and
    /// stops listing them) and releases the iterator `msg_box_request_id` (from the status
    /// list; `None` sends [`CLOSE_WITHOUT_ITERATOR`]). Call it only once the messages are
    /// safely stored. Closing an already closed message is harmless on the sandbox; servers
    /// may answer `InvalidMessageIDException` (9070) for it.
    pub async fn close(
        &self,
        msg_box_request_id: Option<&str>,
        message_ids: &[&str],
    ) -> Result<(), XtaError> {
        let request = IteratorRequest {
            request_id: msg_box_request_id
                .unwrap_or(CLOSE_WITHOUT_ITERATOR)
                .to_string(),
            last_msg_received: message_ids.iter().map(|s| s.to_string()).collect(),
        };
        self.call(
            Operation::Close,
            |w| self.write_author(w),
            |w, _| request.write(w, "osci:MsgBoxCloseRequest"),
            |_, _| Ok(()),
        )
        .await
    }

    /// One request/response exchange.
    async fn call<T: Send + 'static>(
        &self,
        operation: Operation,
        headers: impl FnOnce(&mut XmlWriter),
        body: impl FnOnce(&mut XmlWriter, &mut Attachments),
        decode: impl FnOnce(&Envelope<'_>, &Received) -> Result<T, Malformed> + Send + 'static,
    ) -> Result<T, XtaError> {
        let url = self.config.endpoints.url(operation.port());
        let addressing = Addressing::request(operation.action(), url);
        let envelope = write_envelope(&addressing, self.config.encoding, headers, body);
        let outgoing = package(envelope.xml, envelope.attachments, operation.action());
        let length = outgoing.len();
        let chunks = outgoing.chunks.into_iter().map(Ok::<Bytes, std::io::Error>);
        let request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, &outgoing.content_type)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(stream::iter(chunks)));
        let response = tokio::time::timeout(self.config.request_timeout, request.send())
            .await
            .map_err(|_| XtaError::Timeout { operation })?
            .map_err(|e| classify(operation, e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = read_body(operation, response, self.config.max_response_bytes).await?;
        let answer = Answer {
            operation,
            status,
            content_type,
            body,
            request_id: addressing.message_id,
            limits: self.config.xml_limits,
        };
        if answer.body.len() < BLOCKING_THRESHOLD {
            return answer.interpret(decode);
        }
        // Parsing and base64-decoding a large message takes a while: not on a runtime thread.
        tokio::task::spawn_blocking(move || answer.interpret(decode))
            .await
            .map_err(|_| XtaError::Decode {
                operation,
                reason: "decoding the answer failed unexpectedly".into(),
            })?
    }
}

/// Answers at least this large are decoded on a blocking thread.
const BLOCKING_THRESHOLD: usize = 1024 * 1024;

/// A received HTTP answer, before interpretation.
struct Answer {
    operation: Operation,
    status: u16,
    content_type: Option<String>,
    body: Bytes,
    request_id: Option<String>,
    limits: XmlLimits,
}

impl Answer {
    /// SOAP fault → typed error; HTTP error without fault → status error; otherwise `decode`.
    fn interpret<T>(
        self,
        decode: impl FnOnce(&Envelope<'_>, &Received) -> Result<T, Malformed>,
    ) -> Result<T, XtaError> {
        let Answer {
            operation,
            status,
            content_type,
            body,
            request_id,
            limits,
        } = self;
        let success = (200..300).contains(&status);
        let decode_err = |reason: String| XtaError::Decode { operation, reason };
        let status_err = || XtaError::Status { operation, status };
        let Some(content_type) = content_type.filter(|_| !body.is_empty()) else {
            if success {
                // Some servers answer operations without output with an empty 2xx body.
                return decode(&empty_envelope(), &Received::default())
                    .map_err(|e| decode_err(e.to_string()));
            }
            return Err(status_err());
        };
        let received = match Received::from_http(&content_type, body) {
            Ok(r) => r,
            Err(_) if !success => return Err(status_err()),
            Err(reason) => return Err(decode_err(reason)),
        };
        let envelope = match Envelope::parse(&received.root, &limits) {
            Ok(e) => e,
            Err(_) if !success => return Err(status_err()),
            Err(e) => return Err(decode_err(e.to_string())),
        };
        if let Some(fault) = envelope.fault() {
            let fault = SoapFault::parse(fault).map_err(|e| decode_err(e.to_string()))?;
            return Err(match fault.xta {
                Some(xta) => XtaError::Fault {
                    operation,
                    fault: xta,
                    reason: fault.reason,
                },
                None => XtaError::SoapFault {
                    operation,
                    code: fault.code,
                    subcode: fault.subcode,
                    reason: fault.reason,
                },
            });
        }
        if !success {
            return Err(status_err());
        }
        if let (Some(relates), Some(ours)) = (
            envelope.addressing.relates_to.as_deref(),
            request_id.as_deref(),
        ) && relates != ours
        {
            return Err(decode_err(
                "the answer's wsa:RelatesTo names another request".into(),
            ));
        }
        decode(&envelope, &received).map_err(|e| decode_err(e.to_string()))
    }
}

/// What the client makes of any HTTP answer: unpacking (SOAP or MTOM), the envelope, a fault,
/// and the decoder of every operation with output, each tried on the same answer. Returns how
/// many decoders accepted it. Not API: the entry of the fuzz target `xta_soap` (crate `fuzz/`)
/// and of its stable run in the broker's `tests/fuzz.rs`.
#[doc(hidden)]
pub fn interpret_any_answer(status: u16, content_type: Option<&str>, body: Bytes) -> usize {
    let answer = |operation| Answer {
        operation,
        status,
        content_type: content_type.map(str::to_string),
        body: body.clone(),
        request_id: None,
        limits: XmlLimits::default(),
    };
    [
        answer(Operation::CreateMessageId)
            .interpret(decode_message_id)
            .is_ok(),
        answer(Operation::LookupService)
            .interpret(decode_lookup)
            .is_ok(),
        answer(Operation::GetTransportReport)
            .interpret(decode_transport_report)
            .is_ok(),
        answer(Operation::GetStatusList)
            .interpret(decode_status_list)
            .is_ok(),
        answer(Operation::GetMessage)
            .interpret(decode_fetched)
            .is_ok(),
    ]
    .into_iter()
    .filter(|ok| *ok)
    .count()
}

fn decode_message_id(env: &Envelope<'_>, _: &Received) -> Result<String, Malformed> {
    let id = env.body_element(NS_WSA, "MessageID")?;
    let id = id.leaf_text("/Envelope/Body/MessageID")?.trim().to_string();
    if id.is_empty() {
        return Err(Malformed::new("/Envelope/Body/MessageID", "empty"));
    }
    Ok(id)
}

fn decode_lookup(env: &Envelope<'_>, _: &Received) -> Result<Vec<ServiceAvailability>, Malformed> {
    let el = env.body_element(NS_XTA, "LookupServiceResponse")?;
    parse_lookup_response(el, "/Envelope/Body/LookupServiceResponse")
}

fn decode_transport_report(env: &Envelope<'_>, _: &Received) -> Result<TransportReport, Malformed> {
    let el = env.body_element(NS_XTA, "TransportReport")?;
    TransportReport::parse(el, "/Envelope/Body/TransportReport")
}

fn decode_fetched(env: &Envelope<'_>, received: &Received) -> Result<FetchedMessage, Malformed> {
    let el = env.body_element(NS_XTA, "GenericContentContainer")?;
    let container =
        ContentContainer::parse(el, "/Envelope/Body/GenericContentContainer", received)?;
    let metadata = env
        .header(NS_OSCIMETA, "MessageMetaData")
        .map(|m| MessageMetaData::parse(m, "/Envelope/Header/MessageMetaData"))
        .transpose()?;
    let response = env
        .header(NS_OSCI, "MsgBoxResponse")
        .map(|r| MsgBoxResponse::parse(r, "/Envelope/Header/MsgBoxResponse"))
        .transpose()?;
    Ok(FetchedMessage {
        metadata,
        container,
        response,
    })
}

fn decode_status_list(env: &Envelope<'_>, _: &Received) -> Result<StatusList, Malformed> {
    let el = env.body_element(NS_OSCI, "MsgStatusList")?;
    let mut list = StatusList::parse_body(el, "/Envelope/Body/MsgStatusList")?;
    list.response = env
        .header(NS_OSCI, "MsgBoxResponse")
        .map(|r| MsgBoxResponse::parse(r, "/Envelope/Header/MsgBoxResponse"))
        .transpose()?;
    Ok(list)
}

/// An envelope with an empty body, for 2xx answers without a body.
fn empty_envelope() -> Envelope<'static> {
    const EMPTY: &[u8] =
        b"<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body/></env:Envelope>";
    // A constant, well-formed envelope.
    Envelope::parse(EMPTY, &XmlLimits::default()).unwrap_or_else(|_| unreachable!())
}

async fn read_body(
    operation: Operation,
    mut response: reqwest::Response,
    max: u64,
) -> Result<Bytes, XtaError> {
    if response.content_length().is_some_and(|n| n > max) {
        return Err(XtaError::Decode {
            operation,
            reason: format!("the answer is larger than {max} bytes"),
        });
    }
    let capacity = response.content_length().unwrap_or(16 * 1024).min(max) as usize;
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(operation, e))? {
        if body.len() as u64 + chunk.len() as u64 > max {
            return Err(XtaError::Decode {
                operation,
                reason: format!("the answer is larger than {max} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Sorts a reqwest error into timeout, TLS verdicts and connection failures by looking for
/// rustls' error in its sources.
fn classify(operation: Operation, error: reqwest::Error) -> XtaError {
    if error.is_timeout() {
        return XtaError::Timeout { operation };
    }
    if let Some(tls) = find_rustls_error(&error) {
        use rustls::AlertDescription as A;
        return match tls {
            rustls::Error::AlertReceived(
                alert @ (A::CertificateExpired
                | A::BadCertificate
                | A::UnknownCA
                | A::CertificateRequired
                | A::CertificateUnknown
                | A::CertificateRevoked
                | A::UnsupportedCertificate
                | A::AccessDenied
                // A server answers a certificate whose signature does not verify (e.g. one
                // issued by another CA of the same name) with decrypt_error.
                | A::DecryptError),
            ) => XtaError::ClientCertificateRefused {
                operation,
                alert: format!("{alert:?}"),
            },
            rustls::Error::InvalidCertificate(reason) => XtaError::ServerCertificate {
                operation,
                reason: format!("{reason:?}"),
            },
            other => XtaError::Tls {
                operation,
                reason: other.to_string(),
            },
        };
    }
    XtaError::Connect {
        operation,
        source: error,
    }
}

fn find_rustls_error<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error::source() skips the wrapped error itself; look inside.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(tls) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Callers spawn these futures on a multi-threaded runtime.
    #[test]
    fn client_and_its_futures_are_send() {
        let client = XtaClient::new(ClientConfig::new(Endpoints::from_base(
            "https://xta.example",
        )))
        .unwrap();
        assert_send(&client.get_status_list(1));
        assert_send(&client.get_message("x"));
        assert_send(&client.close(None, &["x"]));
        assert_send(&client.list_mailbox(1));
        fn shared<T: Send + Sync + Clone>(_: &T) {}
        shared(&client);
    }

    #[test]
    fn only_https_endpoints() {
        let mut endpoints = Endpoints::from_base("https://xta.example/");
        assert_eq!(
            endpoints.msg_box,
            "https://xta.example/MB_XTA-WS/XTA210msgBoxPort.svc"
        );
        endpoints.send = "http://xta.example/send".into();
        let err = XtaClient::new(ClientConfig::new(endpoints)).unwrap_err();
        assert!(
            err.to_string()
                .contains("SendXtaPort URL must start with https://")
        );
    }
}
