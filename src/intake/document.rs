//! Checking the main document at intake: which format it is, that it is well-formed and within
//! limits, and what its XÖV header (Nachrichtenkopf) says. XML parsing is hardened (no DTDs, no
//! entities, depth and size limits) by the `amtsbote-xoev` sniffer.

use super::IntakeError;
use crate::message::XoevHeader;
use amtsbote_xoev::{Limits, Sniffed, inspect};

/// Size limits for incoming messages.
#[derive(Debug, Clone)]
pub struct DocumentLimits {
    pub max_document_bytes: u64,
    pub max_message_bytes: u64,
    /// Largest single attachment.
    pub max_part_bytes: u64,
    /// Most parts of one multipart request (document and attachments).
    pub max_parts: usize,
    /// Deepest nesting of arrays and objects in a JSON document.
    pub max_json_depth: usize,
    pub xml: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Xml,
    Json,
}

/// A checked document.
#[derive(Debug, Clone)]
pub struct Checked {
    pub format: DocumentFormat,
    pub content_type: String,
    pub header: XoevHeader,
    /// One line for the ledger: what was found (standard, type), no content.
    pub summary: String,
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn format_of(declared: Option<&str>, body: &[u8]) -> Result<(DocumentFormat, String), IntakeError> {
    if let Some(ct) = declared {
        let e = essence(ct);
        if e == "application/xml" || e == "text/xml" || e.ends_with("+xml") {
            return Ok((DocumentFormat::Xml, ct.to_string()));
        }
        if e == "application/json" || e.ends_with("+json") {
            return Ok((DocumentFormat::Json, ct.to_string()));
        }
        if !(e.is_empty() || e == "application/octet-stream" || e == "text/plain") {
            return Err(IntakeError::Unsupported(e));
        }
    }
    let text = body
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(body);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => Ok((DocumentFormat::Xml, "application/xml".into())),
        Some(b'{') | Some(b'[') => Ok((DocumentFormat::Json, "application/json".into())),
        None => Err(IntakeError::MissingDocument),
        Some(_) => Err(IntakeError::Unsupported(
            declared
                .map(essence)
                .unwrap_or_else(|| "unknown (neither XML nor JSON)".into()),
        )),
    }
}

/// The broker's view of a sniffed header.
pub fn header_of(s: &Sniffed) -> XoevHeader {
    XoevHeader {
        standard: s.standard.as_ref().map(|st| st.key.to_string()),
        version: s
            .standard
            .as_ref()
            .and_then(|st| st.version.clone())
            .or_else(|| s.version_attr.clone()),
        namespace: s.namespace.clone(),
        root: Some(s.root.clone()),
        message_type: s.message_type.clone(),
        message_uuid: s.message_uuid.clone(),
        author: s.author.as_ref().map(|a| a.to_string()),
        reader: s.reader.as_ref().map(|a| a.to_string()),
        test: s.test,
        xta: None,
    }
}

/// Whether the XML parser reads `body` as UTF-8: no UTF-16 byte order mark and no other
/// encoding declared. Such a document must be UTF-8 throughout, not only where the header
/// sniffer looks; documents declaring another encoding are refused by the sniffer, by name.
fn read_as_utf8(body: &[u8]) -> bool {
    if body.starts_with(b"\xFE\xFF") || body.starts_with(b"\xFF\xFE") {
        return false;
    }
    let text = body
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(body);
    let Some(declaration) = text
        .strip_prefix(b"<?xml".as_slice())
        .and_then(|rest| rest.get(..rest.len().min(512)))
        .and_then(|head| {
            head.windows(2)
                .position(|w| w == b"?>")
                .map(|end| &head[..end])
        })
    else {
        return true;
    };
    let declaration = String::from_utf8_lossy(declaration);
    let Some((_, after)) = declaration.split_once("encoding") else {
        return true;
    };
    let label: String = after
        .trim_start_matches([' ', '\t', '\r', '\n', '='])
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| !matches!(c, '"' | '\''))
        .collect();
    matches!(label.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
}

pub fn check(
    declared: Option<&str>,
    body: &[u8],
    limits: &DocumentLimits,
) -> Result<Checked, IntakeError> {
    let (format, content_type) = format_of(declared, body)?;
    match format {
        DocumentFormat::Xml => {
            if read_as_utf8(body) {
                super::json::utf8(body, "XML")?;
            }
            let sniffed = inspect(body, &limits.xml).map_err(|e| IntakeError::Malformed {
                format: "XML",
                reason: e.to_string(),
            })?;
            let header = header_of(&sniffed);
            let summary = match (&header.standard, &header.root) {
                (Some(std), Some(root)) => format!(
                    "well-formed XML: {std} {} {root}",
                    header.version.as_deref().unwrap_or("(version unknown)")
                ),
                (None, Some(root)) => format!(
                    "well-formed XML, unknown standard (root {root}, namespace {})",
                    header.namespace.as_deref().unwrap_or("none")
                ),
                _ => "well-formed XML".into(),
            };
            Ok(Checked {
                format,
                content_type,
                header,
                summary,
            })
        }
        DocumentFormat::Json => {
            super::json::check(body, limits.max_json_depth)?;
            Ok(Checked {
                format,
                content_type,
                header: XoevHeader::default(),
                summary: "well-formed JSON".into(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> DocumentLimits {
        DocumentLimits {
            max_document_bytes: 1 << 20,
            max_message_bytes: 1 << 20,
            max_part_bytes: 1 << 20,
            max_parts: 100,
            max_json_depth: 64,
            xml: Limits::default(),
        }
    }

    #[test]
    fn formats_by_declaration_or_content() {
        let l = limits();
        assert_eq!(
            check(Some("application/xml"), b"<a/>", &l).unwrap().format,
            DocumentFormat::Xml
        );
        assert_eq!(
            check(None, b"\xEF\xBB\xBF  <a/>", &l).unwrap().format,
            DocumentFormat::Xml
        );
        assert_eq!(
            check(Some("application/json; charset=utf-8"), b"{}", &l)
                .unwrap()
                .format,
            DocumentFormat::Json
        );
        assert_eq!(
            check(None, b"[1]", &l).unwrap().format,
            DocumentFormat::Json
        );
        assert!(matches!(
            check(Some("application/pdf"), b"%PDF", &l),
            Err(IntakeError::Unsupported(_))
        ));
        assert!(matches!(
            check(None, b"hello", &l),
            Err(IntakeError::Unsupported(_))
        ));
        assert!(matches!(
            check(None, b"   ", &l),
            Err(IntakeError::MissingDocument)
        ));
    }

    #[test]
    fn malformed_documents_are_refused_without_echoing_content() {
        let l = limits();
        let err = check(
            Some("application/xml"),
            b"<a><name>Erika Mustermann</nam></a>",
            &l,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, IntakeError::Malformed { format: "XML", .. }),
            "{text}"
        );
        assert!(!text.contains("Mustermann"), "{text}");
        let err = check(
            Some("application/json"),
            br#"{"name": "Erika Mustermann",}"#,
            &l,
        )
        .unwrap_err();
        assert!(matches!(err, IntakeError::Malformed { format: "JSON", .. }));
        assert!(!err.to_string().contains("Mustermann"));
        let dtd = b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>";
        assert!(matches!(
            check(None, dtd, &l),
            Err(IntakeError::Malformed { .. })
        ));
    }

    #[test]
    fn xml_read_as_utf8_must_be_utf8_throughout() {
        let l = limits();
        for bad in [
            &b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>Erika \xff</a>"[..],
            b"<a>\xc3</a>",
            b"<a b=\"\xff\"/>",
            b"<a><!-- \xff --></a>",
            b"\xEF\xBB\xBF<?xml version='1.0' encoding='utf-8'?><a>\xed\xa0\x80</a>",
        ] {
            let err = check(Some("application/xml"), bad, &l).unwrap_err();
            assert!(
                matches!(err, IntakeError::InvalidUtf8 { format: "XML", .. }),
                "{}: {err}",
                String::from_utf8_lossy(bad)
            );
        }
        // Another declared encoding is the sniffer's to refuse, by name.
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xfc</a>";
        assert!(matches!(
            check(Some("application/xml"), latin1, &l),
            Err(IntakeError::Malformed { .. })
        ));
    }
}
