//! MTOM/XOP packaging (W3C SOAP Message Transmission Optimization Mechanism): a SOAP envelope as
//! the `application/xop+xml` root part of a `multipart/related` body, binary content in further
//! parts that the envelope references with `<xop:Include href="cid:…"/>` — and the plain
//! `application/soap+xml` form, where content is inline base64. XTA.wsdl asks for MTOM
//! (`wspmtom:OptimizedMimeSerialization`); servers answer either way, so both are read.
//!
//! Reading keeps every part as a [`Bytes`] slice of the received body: a 40 MB attachment is
//! held once, never copied. Writing produces a list of chunks ([`OutgoingBody`]) in which the
//! content parts are the caller's own `Bytes`, again without copying.
//!
//! Also here: [`inline_xop`], which turns an MTOM package back into one XML document with the
//! parts inlined as base64 — what the XSDs describe, used to validate and to log.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use quick_xml::Writer;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::wsdl::NS_XOP;

/// Most parts accepted in one multipart body.
const MAX_PARTS: usize = 10_000;
/// Longest header section of one part.
const MAX_PART_HEADER_BYTES: usize = 16 * 1024;

/// How content (the `xs:base64Binary` values of messages and attachments) travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentEncoding {
    /// MTOM/XOP: every SOAP message is a `multipart/related` package; content goes in binary
    /// MIME parts. What XTA.wsdl's policy asks for and what WCF-based XTA servers require.
    #[default]
    Mtom,
    /// Plain SOAP 1.2 (`application/soap+xml`), content inline as base64.
    Inline,
}

/// A parsed media type (`type/subtype; name=value; …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower case.
    pub essence: String,
    /// Parameters with lower-case names, values unquoted.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// Parses a `Content-Type` value (RFC 9110 syntax, quoted strings with backslash escapes).
    /// Our own because the `mime` crate refuses the backslash escapes that WCF servers write
    /// into `start-info` (`start-info="application/soap+xml; action=\"…\""`).
    pub fn parse(value: &str) -> Result<MediaType, String> {
        let (essence, mut rest) = match value.find(';') {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, ""),
        };
        let essence = essence.trim().to_ascii_lowercase();
        if !essence.contains('/') {
            return Err("Content-Type has no type/subtype".into());
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches([' ', '\t', ';']);
            if rest.is_empty() {
                break;
            }
            let eq = rest
                .find('=')
                .ok_or("Content-Type parameter without value")?;
            let name = rest[..eq].trim().to_ascii_lowercase();
            rest = rest[eq + 1..].trim_start();
            let value;
            if let Some(quoted) = rest.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = quoted.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                out.push(escaped);
                            }
                        }
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        c => out.push(c),
                    }
                }
                let end = end.ok_or("unterminated quoted string in Content-Type")?;
                value = out;
                rest = &quoted[end + 1..];
            } else {
                let end = rest.find(';').unwrap_or(rest.len());
                value = rest[..end].trim().to_string();
                rest = &rest[end..];
            }
            params.push((name, value));
        }
        Ok(MediaType { essence, params })
    }

    /// A parameter's value (name case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The SOAP 1.2 `action` parameter: on `application/soap+xml` itself, or inside the
    /// `start-info` / `type` parameter of an MTOM package or root part.
    pub fn soap_action(&self) -> Option<String> {
        if let Some(action) = self.param("action") {
            return Some(action.to_string());
        }
        for inner in ["start-info", "type"] {
            if let Some(v) = self.param(inner)
                && let Ok(t) = MediaType::parse(v)
                && let Some(a) = t.param("action")
            {
                return Some(a.to_string());
            }
        }
        None
    }
}

/// A received SOAP message: the envelope's XML and the binary parts it may reference.
#[derive(Debug, Clone, Default)]
pub struct Received {
    /// The envelope (the root part of an MTOM package, or the whole body).
    pub root: Bytes,
    /// Binary parts by Content-ID (without angle brackets).
    pub parts: HashMap<String, Bytes>,
    /// The SOAP 1.2 action from the Content-Type, if given.
    pub action: Option<String>,
    /// Whether the body was an MTOM package.
    pub mtom: bool,
}

impl Received {
    /// Unpacks an HTTP body by its Content-Type: `application/soap+xml` (or `text/xml`, which
    /// the envelope check then refuses as SOAP 1.1), or an MTOM `multipart/related` package.
    pub fn from_http(content_type: &str, body: Bytes) -> Result<Received, String> {
        let media = MediaType::parse(content_type)?;
        let action = media.soap_action();
        match media.essence.as_str() {
            "application/soap+xml" | "text/xml" | "application/xml" => Ok(Received {
                root: body,
                parts: HashMap::new(),
                action,
                mtom: false,
            }),
            "multipart/related" => {
                let mut received = parse_multipart(&media, body)?;
                received.action = action.or(received.action);
                received.mtom = true;
                Ok(received)
            }
            other => Err(format!(
                "unexpected Content-Type {other} for a SOAP message"
            )),
        }
    }

    /// The content of an `xop:Include href="cid:…"`.
    pub fn part(&self, href: &str) -> Option<&Bytes> {
        let cid = href.strip_prefix("cid:")?;
        self.parts
            .get(cid)
            .or_else(|| self.parts.get(&percent_decode(cid)?))
    }
}

fn parse_multipart(media: &MediaType, body: Bytes) -> Result<Received, String> {
    let boundary = media
        .param("boundary")
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or("multipart/related without a usable boundary")?;
    let start = media
        .param("start")
        .map(|s| s.trim().trim_start_matches('<').trim_end_matches('>'));
    let delimiter = format!("--{boundary}");
    let crlf_delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(crlf_delimiter.as_bytes());
    // The first delimiter may be at the very start (no preamble) or after a preamble.
    let mut pos = if body.starts_with(delimiter.as_bytes()) {
        delimiter.len()
    } else {
        finder
            .find(&body)
            .map(|i| i + crlf_delimiter.len())
            .ok_or("multipart body without its boundary")?
    };
    let mut parts: Vec<(Option<String>, MediaTypeOrNone, Bytes)> = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            break; // close delimiter
        }
        // Transport padding, then CRLF.
        let line_end = memmem::find(rest, b"\r\n").ok_or("truncated multipart body")?;
        if !rest[..line_end].iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err("garbage after a multipart boundary".into());
        }
        let header_start = pos + line_end + 2;
        let header_len = if body[header_start..].starts_with(b"\r\n") {
            2 // a part without headers
        } else {
            memmem::find(&body[header_start..], b"\r\n\r\n")
                .map(|i| i + 4)
                .ok_or("truncated multipart part headers")?
        };
        if header_len > MAX_PART_HEADER_BYTES {
            return Err("multipart part headers too long".into());
        }
        let headers = std::str::from_utf8(&body[header_start..header_start + header_len])
            .map_err(|_| "multipart part headers are not valid UTF-8")?;
        let content_start = header_start + header_len;
        let content_end = finder
            .find(&body[content_start..])
            .map(|i| content_start + i)
            .ok_or("multipart part without closing boundary")?;
        let mut content_id = None;
        let mut content_type = None;
        let mut transfer_encoding = None;
        for line in headers.split("\r\n").filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err("malformed multipart part header".into());
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-id" => {
                    content_id = Some(
                        value
                            .trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_string(),
                    )
                }
                "content-type" => content_type = Some(MediaType::parse(value)?),
                "content-transfer-encoding" => transfer_encoding = Some(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        let mut content = body.slice(content_start..content_end);
        match transfer_encoding.as_deref() {
            None | Some("binary") | Some("8bit") | Some("7bit") => {}
            Some("base64") => {
                let text = std::str::from_utf8(&content)
                    .map_err(|_| "base64 part is not ASCII".to_string())?;
                content = Bytes::from(
                    crate::xml::decode_base64("multipart part", text).map_err(|e| e.reason)?,
                );
            }
            Some(_) => return Err("unsupported Content-Transfer-Encoding in a part".into()),
        }
        parts.push((content_id, content_type, content));
        if parts.len() > MAX_PARTS {
            return Err(format!("more than {MAX_PARTS} multipart parts"));
        }
        pos = content_end + crlf_delimiter.len();
    }
    let root_index = match start {
        Some(start) => parts
            .iter()
            .position(|(id, _, _)| id.as_deref() == Some(start))
            .ok_or("the multipart start part is missing")?,
        None => 0,
    };
    if parts.is_empty() {
        return Err("multipart body without parts".into());
    }
    let (_, root_type, root) = parts.swap_remove(root_index);
    let mut action = None;
    if let Some(t) = &root_type {
        if t.essence != "application/xop+xml" && t.essence != "application/soap+xml" {
            return Err(format!("unexpected root part type {}", t.essence));
        }
        action = t.soap_action();
    }
    let mut map = HashMap::with_capacity(parts.len());
    for (id, _, content) in parts {
        if let Some(id) = id {
            map.insert(id, content);
        }
    }
    Ok(Received {
        root,
        parts: map,
        action,
        mtom: true,
    })
}

type MediaTypeOrNone = Option<MediaType>;

/// RFC 2392: `cid:` URLs percent-encode the Content-ID. `None` when there is nothing to
/// decode or the result is no UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Binary parts collected while an envelope is written. In [`ContentEncoding::Inline`] mode
/// nothing is collected: content is written as base64 text instead.
#[derive(Debug)]
pub struct Attachments {
    encoding: ContentEncoding,
    scope: String,
    parts: Vec<(String, Bytes)>,
}

impl Attachments {
    /// A collector for one message.
    pub fn new(encoding: ContentEncoding) -> Self {
        Attachments {
            encoding,
            scope: uuid::Uuid::new_v4().simple().to_string(),
            parts: Vec::new(),
        }
    }

    /// The encoding in use.
    pub fn encoding(&self) -> ContentEncoding {
        self.encoding
    }

    /// Registers a binary part and returns its Content-ID (without brackets).
    pub fn add(&mut self, data: Bytes) -> String {
        let cid = format!("{}-{}@amtsbote", self.parts.len() + 1, self.scope);
        self.parts.push((cid.clone(), data));
        cid
    }

    /// Total bytes of the binary parts.
    pub fn len_bytes(&self) -> u64 {
        self.parts.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// An HTTP body ready to send: its Content-Type and its chunks (content parts not copied).
#[derive(Debug, Clone)]
pub struct OutgoingBody {
    /// The `Content-Type` header value.
    pub content_type: String,
    /// The body, in order.
    pub chunks: Vec<Bytes>,
}

impl OutgoingBody {
    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }

    /// `true` if there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body as one buffer (copies; for tests and recordings).
    pub fn to_bytes(&self) -> Bytes {
        let mut all = BytesMut::with_capacity(self.len() as usize);
        for c in &self.chunks {
            all.extend_from_slice(c);
        }
        all.freeze()
    }
}

const ROOT_CONTENT_ID: &str = "root.message@amtsbote";

/// Packages an envelope for the wire: plain SOAP 1.2, or an MTOM package with its parts.
pub fn package(xml: Vec<u8>, attachments: Attachments, action: &str) -> OutgoingBody {
    let soap_type = format!("application/soap+xml; action=\"{}\"", escape_quoted(action));
    match attachments.encoding {
        ContentEncoding::Inline => OutgoingBody {
            content_type: format!(
                "application/soap+xml; charset=UTF-8; action=\"{}\"",
                escape_quoted(action)
            ),
            chunks: vec![Bytes::from(xml)],
        },
        ContentEncoding::Mtom => {
            let boundary = format!("uuid:{}", uuid::Uuid::new_v4());
            let content_type = format!(
                "multipart/related; type=\"application/xop+xml\"; boundary=\"{boundary}\"; start=\"<{ROOT_CONTENT_ID}>\"; start-info=\"{}\"",
                escape_quoted(&soap_type)
            );
            let mut chunks = Vec::with_capacity(2 + 2 * attachments.parts.len());
            chunks.push(Bytes::from(format!(
                "--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"{}\"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{ROOT_CONTENT_ID}>\r\n\r\n",
                escape_quoted(&soap_type)
            )));
            chunks.push(Bytes::from(xml));
            for (cid, data) in attachments.parts {
                chunks.push(Bytes::from(format!(
                    "\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <{cid}>\r\n\r\n"
                )));
                chunks.push(data);
            }
            chunks.push(Bytes::from(format!("\r\n--{boundary}--\r\n")));
            OutgoingBody {
                content_type,
                chunks,
            }
        }
    }
}

fn escape_quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The envelope of a received message as one XML document, with every
/// `<xop:Include href="cid:…"/>` replaced by the base64 of its part — the form the XSDs
/// describe. Fails if a referenced part is missing.
pub fn inline_xop(received: &Received) -> Result<Vec<u8>, String> {
    if !received.mtom {
        return Ok(received.root.to_vec());
    }
    let mut reader = NsReader::from_reader(&received.root[..]);
    let mut writer = Writer::new(Vec::with_capacity(received.root.len()));
    let mut skipping = 0usize;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let is_include = |start: &quick_xml::events::BytesStart<'_>| {
            matches!(&ns, ResolveResult::Bound(n) if n.as_ref() == NS_XOP.as_bytes())
                && start.local_name().as_ref() == b"Include"
        };
        if skipping > 0 {
            match event {
                Event::Start(_) => skipping += 1,
                Event::End(_) => skipping -= 1,
                Event::Eof => return Err("truncated XML".into()),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(ref s) | Event::Empty(ref s) if is_include(s) => {
                let href = s
                    .try_get_attribute("href")
                    .ok()
                    .flatten()
                    .and_then(|a| a.unescape_value().ok())
                    .ok_or("xop:Include without href")?;
                let part = received
                    .part(&href)
                    .ok_or("xop:Include references a missing part")?;
                let mut w = crate::xml::XmlWriter::new();
                w.base64(part);
                writer.get_mut().extend_from_slice(&w.into_inner());
                if matches!(event, Event::Start(_)) {
                    skipping = 1;
                }
            }
            Event::Eof => break,
            other => writer
                .write_event(other)
                .map_err(|e| format!("rewriting XML: {e}"))?,
        }
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_with_nested_quotes() {
        let t = MediaType::parse(
            r#"multipart/related; type="application/xop+xml"; boundary="uuid:1"; start="<root>"; start-info="application/soap+xml; action=\"urn:a\"""#,
        )
        .unwrap();
        assert_eq!(t.essence, "multipart/related");
        assert_eq!(t.param("boundary"), Some("uuid:1"));
        assert_eq!(t.param("START"), Some("<root>"));
        assert_eq!(t.soap_action().as_deref(), Some("urn:a"));
        let plain = MediaType::parse("application/soap+xml;charset=utf-8;action=urn:b").unwrap();
        assert_eq!(plain.soap_action().as_deref(), Some("urn:b"));
        assert!(MediaType::parse("nonsense").is_err());
    }

    #[test]
    fn package_and_unpack_round_trip() {
        let mut att = Attachments::new(ContentEncoding::Mtom);
        let binary = Bytes::from_static(b"\x00\x01\r\n--not-a-boundary\r\n\xff");
        let cid = att.add(binary.clone());
        let xml = format!(r#"<e xmlns:xop="{NS_XOP}"><m><xop:Include href="cid:{cid}"/></m></e>"#);
        let body = package(xml.clone().into_bytes(), att, "urn:act");
        let received = Received::from_http(&body.content_type, body.to_bytes()).unwrap();
        assert!(received.mtom);
        assert_eq!(received.action.as_deref(), Some("urn:act"));
        assert_eq!(&received.root[..], xml.as_bytes());
        assert_eq!(received.part(&format!("cid:{cid}")), Some(&binary));
        let inlined = String::from_utf8(inline_xop(&received).unwrap()).unwrap();
        assert!(
            inlined.contains("<m>AAENCi0tbm90LWEtYm91bmRhcnkNCv8=</m>"),
            "{inlined}"
        );
    }

    #[test]
    fn reads_foreign_packages() {
        // As CXF writes it: preamble-less, percent-encoded cid, LF-free headers.
        let body = "--b1\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\nContent-ID: <root.message@cxf.apache.org>\r\n\r\n<e/>\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-ID: <a%40b>\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--b1--";
        let received = Received::from_http(
            "multipart/related; type=\"application/xop+xml\"; boundary=b1; start=\"<root.message@cxf.apache.org>\"",
            Bytes::from(body),
        )
        .unwrap();
        assert_eq!(&received.root[..], b"<e/>");
        assert_eq!(&received.part("cid:a%40b").unwrap()[..], b"hi");
        // A plain Content-ID referenced percent-encoded (RFC 2392), as Metro writes it.
        let plain = body.replace("<a%40b>", "<a@b>");
        let received = Received::from_http(
            "multipart/related; type=\"application/xop+xml\"; boundary=b1",
            Bytes::from(plain),
        )
        .unwrap();
        assert_eq!(&received.part("cid:a%40b").unwrap()[..], b"hi");
        assert_eq!(&received.part("cid:a@b").unwrap()[..], b"hi");
        assert!(received.part("cid:a%41b").is_none());
        assert!(Received::from_http("multipart/related; boundary=zz", Bytes::from(body)).is_err());
        assert!(Received::from_http("image/png", Bytes::new()).is_err());
    }
}
