//! SOAP 1.2 envelopes with WS-Addressing 1.0 headers, as XTA.wsdl binds every operation
//! (document/literal, `wsam:Addressing` required, anonymous responses).
//!
//! Writing: [`write_envelope`] declares every prefix the crate uses on `env:Envelope`, writes
//! the addressing headers ([`Addressing`]) and lets the caller add the XTA header blocks and the
//! body; binary content goes to an [`Attachments`] collector (MTOM) or inline. Requests carry
//! `Action`, `MessageID`, `To` and `ReplyTo`=anonymous; responses `Action`, `MessageID`,
//! `RelatesTo` (the request's MessageID) and `To`=anonymous.
//!
//! Reading: [`Envelope::parse`] checks that the document is a SOAP 1.2 envelope (a SOAP 1.1
//! envelope is a [`EnvelopeError::VersionMismatch`]), reads the addressing headers and gives
//! access to the other header blocks and the body element.
//!
//! Prefixes used on the wire: `env` (SOAP 1.2), `wsa`, `xta`, `osci`, `oscimeta`, `xop`.

use crate::mtom::{Attachments, ContentEncoding};
use crate::wsdl::{NS_OSCI, NS_OSCIMETA, NS_SOAP12, NS_WSA, NS_XOP, NS_XTA, WSA_ANONYMOUS};
use crate::xml::{Element, Malformed, XmlError, XmlLimits, XmlWriter, parse};

/// Why a received message could not be read as a SOAP 1.2 envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The HTTP body is not a usable MIME package.
    #[error("MIME: {0}")]
    Mime(String),
    /// Not well-formed, or a limit exceeded.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Well-formed, but not the expected structure.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A SOAP 1.1 (or unknown) envelope.
    #[error("not a SOAP 1.2 envelope")]
    VersionMismatch,
}

/// WS-Addressing message information headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// `wsa:Action`: the operation (see [`crate::wsdl::Operation::action`]).
    pub action: String,
    /// `wsa:MessageID` of this SOAP message (`urn:uuid:…`). Not the XTA MessageID of a
    /// transported message, which lives in `MessageMetaData`.
    pub message_id: Option<String>,
    /// `wsa:To`.
    pub to: Option<String>,
    /// `wsa:ReplyTo/wsa:Address`.
    pub reply_to: Option<String>,
    /// `wsa:RelatesTo` (responses: the request's MessageID).
    pub relates_to: Option<String>,
}

impl Addressing {
    /// Headers of a request to `to`.
    pub fn request(action: &str, to: &str) -> Self {
        Addressing {
            action: action.to_string(),
            message_id: Some(new_message_id()),
            to: Some(to.to_string()),
            reply_to: Some(WSA_ANONYMOUS.to_string()),
            relates_to: None,
        }
    }

    /// Headers of the response to a request with `request_id`.
    pub fn response(action: &str, request_id: Option<&str>) -> Self {
        Addressing {
            action: action.to_string(),
            message_id: Some(new_message_id()),
            to: Some(WSA_ANONYMOUS.to_string()),
            reply_to: None,
            relates_to: request_id.map(str::to_string),
        }
    }
}

/// A fresh `urn:uuid:` message id.
pub fn new_message_id() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

/// An envelope being sent: its XML and its binary parts.
#[derive(Debug)]
pub struct OutgoingEnvelope {
    /// The envelope document.
    pub xml: Vec<u8>,
    /// Binary parts referenced from it (empty unless MTOM).
    pub attachments: Attachments,
}

/// Writes an envelope: declaration, namespaces, addressing headers, the caller's header blocks,
/// the caller's body.
pub fn write_envelope(
    addressing: &Addressing,
    encoding: ContentEncoding,
    headers: impl FnOnce(&mut XmlWriter),
    body: impl FnOnce(&mut XmlWriter, &mut Attachments),
) -> OutgoingEnvelope {
    let mut w = XmlWriter::new();
    let mut attachments = Attachments::new(encoding);
    w.declaration();
    let mut ns = vec![
        ("xmlns:env", NS_SOAP12),
        ("xmlns:wsa", NS_WSA),
        ("xmlns:xta", NS_XTA),
        ("xmlns:osci", NS_OSCI),
        ("xmlns:oscimeta", NS_OSCIMETA),
    ];
    if encoding == ContentEncoding::Mtom {
        ns.push(("xmlns:xop", NS_XOP));
    }
    w.start("env:Envelope", &ns);
    w.start("env:Header", &[]);
    w.leaf("wsa:Action", &[], &addressing.action);
    w.optional_leaf("wsa:MessageID", addressing.message_id.as_deref());
    w.optional_leaf("wsa:To", addressing.to.as_deref());
    if let Some(reply_to) = &addressing.reply_to {
        w.start("wsa:ReplyTo", &[]);
        w.leaf("wsa:Address", &[], reply_to);
        w.end("wsa:ReplyTo");
    }
    w.optional_leaf("wsa:RelatesTo", addressing.relates_to.as_deref());
    headers(&mut w);
    w.end("env:Header");
    w.start("env:Body", &[]);
    body(&mut w, &mut attachments);
    w.end("env:Body");
    w.end("env:Envelope");
    OutgoingEnvelope {
        xml: w.into_inner(),
        attachments,
    }
}

/// A received SOAP 1.2 envelope.
#[derive(Debug)]
pub struct Envelope<'a> {
    root: Element<'a>,
    /// The addressing headers (empty `action` if `wsa:Action` was missing).
    pub addressing: Addressing,
}

impl<'a> Envelope<'a> {
    /// Reads `xml` as a SOAP 1.2 envelope.
    pub fn parse(xml: &'a [u8], limits: &XmlLimits) -> Result<Envelope<'a>, EnvelopeError> {
        let root = parse(xml, limits)?;
        // SOAP 1.2 part 1, 5.4.7: any other root (a SOAP 1.1 envelope in particular) is a
        // version mismatch.
        if !root.is(NS_SOAP12, "Envelope") {
            return Err(EnvelopeError::VersionMismatch);
        }
        let mut seq = root.seq("/Envelope")?;
        let header = seq.optional(NS_SOAP12, "Header");
        seq.required(NS_SOAP12, "Body")?;
        seq.finish()?;
        let mut addressing = Addressing::default();
        if let Some(header) = header {
            for block in header.elements() {
                if block.ns.as_deref() != Some(NS_WSA) {
                    continue;
                }
                let path = format!("/Envelope/Header/{}", block.local);
                let text = || -> Result<String, Malformed> {
                    Ok(block.leaf_text(&path)?.trim().to_string())
                };
                match block.local.as_str() {
                    "Action" => addressing.action = text()?,
                    "MessageID" => addressing.message_id = Some(text()?),
                    "To" => addressing.to = Some(text()?),
                    "RelatesTo" => addressing.relates_to = Some(text()?),
                    "ReplyTo" => {
                        addressing.reply_to = block
                            .child(NS_WSA, "Address")
                            .map(|a| a.text().trim().to_string())
                    }
                    _ => {}
                }
            }
        }
        Ok(Envelope { root, addressing })
    }

    /// The header blocks other than WS-Addressing.
    pub fn header_blocks(&self) -> impl Iterator<Item = &Element<'a>> {
        self.root
            .child(NS_SOAP12, "Header")
            .into_iter()
            .flat_map(|h| h.elements())
            .filter(|b| b.ns.as_deref() != Some(NS_WSA))
    }

    /// The header block `ns:local`, if present.
    pub fn header(&self, ns: &str, local: &str) -> Option<&Element<'a>> {
        self.header_blocks().find(|b| b.is(ns, local))
    }

    /// The body element.
    pub fn body(&self) -> &Element<'a> {
        // `parse` checked that the Body exists.
        self.root.child(NS_SOAP12, "Body").unwrap_or(&self.root)
    }

    /// The body's child elements (document/literal: zero or one).
    pub fn body_elements(&self) -> impl Iterator<Item = &Element<'a>> {
        self.body().elements()
    }

    /// The body's only child element, which must be `ns:local`.
    pub fn body_element(&self, ns: &str, local: &str) -> Result<&Element<'a>, Malformed> {
        let mut seq = self.body().seq("/Envelope/Body")?;
        let el = seq.required(ns, local)?;
        seq.finish()?;
        Ok(el)
    }

    /// The `env:Fault` in the body, if this is a fault message.
    pub fn fault(&self) -> Option<&Element<'a>> {
        self.body().child(NS_SOAP12, "Fault")
    }

    /// Header blocks marked `env:mustUnderstand="true"` whose names are not in `understood`.
    pub fn not_understood(&self, understood: &[(&str, &str)]) -> Vec<String> {
        let mut out = Vec::new();
        let Some(header) = self.root.child(NS_SOAP12, "Header") else {
            return out;
        };
        for block in header.elements() {
            let must = matches!(
                block.attr_ns(NS_SOAP12, "mustUnderstand").map(str::trim),
                Some("true") | Some("1")
            );
            if !must || block.ns.as_deref() == Some(NS_WSA) {
                continue;
            }
            let known = understood.iter().any(|(ns, local)| block.is(ns, local));
            if !known {
                out.push(block.local.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsdl::NS_SOAP11;

    #[test]
    fn writes_and_reads_addressing() {
        let addr = Addressing::request("urn:act", "https://xta.example/msgbox");
        let out = write_envelope(
            &addr,
            ContentEncoding::Inline,
            |w| w.empty("oscimeta:Author", &[]),
            |w, _| w.empty("osci:MsgBoxStatusListRequest", &[("maxListItems", "5")]),
        );
        let env = Envelope::parse(&out.xml, &XmlLimits::default()).unwrap();
        assert_eq!(env.addressing, addr);
        assert!(env.header(NS_OSCIMETA, "Author").is_some());
        assert_eq!(env.header_blocks().count(), 1);
        let body = env
            .body_element(NS_OSCI, "MsgBoxStatusListRequest")
            .unwrap();
        assert_eq!(body.attr("maxListItems"), Some("5"));
        assert!(env.fault().is_none());
    }

    #[test]
    fn refuses_soap11_and_other_documents() {
        let soap11 = format!(r#"<s:Envelope xmlns:s="{NS_SOAP11}"><s:Body/></s:Envelope>"#);
        assert_eq!(
            Envelope::parse(soap11.as_bytes(), &XmlLimits::default()).unwrap_err(),
            EnvelopeError::VersionMismatch
        );
        let no_body =
            format!(r#"<env:Envelope xmlns:env="{NS_SOAP12}"><env:Header/></env:Envelope>"#);
        assert!(matches!(
            Envelope::parse(no_body.as_bytes(), &XmlLimits::default()).unwrap_err(),
            EnvelopeError::Malformed(_)
        ));
    }

    #[test]
    fn finds_headers_that_must_be_understood() {
        let xml = format!(
            r#"<env:Envelope xmlns:env="{NS_SOAP12}" xmlns:x="urn:x"><env:Header>
               <x:Security env:mustUnderstand="true"/><x:Info env:mustUnderstand="false"/>
               </env:Header><env:Body/></env:Envelope>"#
        );
        let env = Envelope::parse(xml.as_bytes(), &XmlLimits::default()).unwrap();
        assert_eq!(env.not_understood(&[]), vec!["Security".to_string()]);
        assert!(env.not_understood(&[("urn:x", "Security")]).is_empty());
    }
}
