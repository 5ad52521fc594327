//! What went wrong, in words an operator can act on — and never in the document's words.
//!
//! quick-xml's own error texts can quote the input (an unknown entity's name, a stray
//! character), so they are not passed through: each error is mapped to a sentence of our
//! own that names at most an element (see [`display_name`]). This module also recognises
//! payloads that are not XML at all, because "not XML: looks like JSON" is the more
//! useful answer than "text before the root element".

use std::io::BufRead;

use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::escape::EscapeError;
use quick_xml::name::NamespaceError;

use super::header::Flow;
use super::input::{Input, Trip};
use super::syntax::{UTF8_BOM, is_xml_whitespace};
use crate::error::{Fault, FaultKind, display_name};

/// Text before anything else: white space is fine; anything else means the payload is
/// not XML at all (a JSON body, an undecrypted JWE on the wrong route, UTF-16).
pub(crate) fn leading_text(text: &[u8], at: u64) -> Result<Flow, Fault> {
    // quick-xml skips a UTF-8 byte order mark unless its first read was shorter than it.
    let (text, at) = match text.strip_prefix(UTF8_BOM) {
        Some(rest) if at == 0 => (rest, 3),
        _ => (text, at),
    };
    if at == 0 {
        let encoding =
            if text.starts_with(&[0, 0, 0xFE, 0xFF]) || text.starts_with(&[0xFF, 0xFE, 0, 0]) {
                Some("UTF-32")
            } else if text.starts_with(&[0xFE, 0xFF]) || text.starts_with(&[0xFF, 0xFE]) {
                Some("UTF-16")
            } else {
                None
            };
        if let Some(encoding) = encoding {
            return Err(Fault::new(0, FaultKind::Encoding(encoding.to_owned())));
        }
    }
    match text.iter().position(|&b| !is_xml_whitespace(b)) {
        None => Ok(Flow::Continue),
        Some(i) => Err(Fault::new(
            at + i as u64,
            FaultKind::NotXml(not_xml_hint(&text[i..])),
        )),
    }
}

/// A guess at what a non-XML payload is, so the operator knows where to look.
pub(crate) fn not_xml_hint(start: &[u8]) -> &'static str {
    if start.starts_with(b"eyJ") {
        "looks like a JWT/JWE in compact form; was the submission decrypted?"
    } else if matches!(start.first(), Some(b'{' | b'[')) {
        "looks like JSON; an XÖV message must be XML"
    } else if start.starts_with(b"%PDF") {
        "looks like a PDF document"
    } else if start.starts_with(b"PK\x03\x04") {
        "looks like a ZIP archive"
    } else {
        "the document does not start with '<'"
    }
}

/// Turns a quick-xml error into a fault. `error_at` is where quick-xml places the
/// error, `at` where the current event started.
pub(crate) fn parser_fault<R: BufRead>(
    input: &Input<R>,
    err: XmlError,
    error_at: u64,
    at: u64,
) -> Fault {
    match err {
        XmlError::Io(io) => io_fault(input, at, &io),
        XmlError::Syntax(syntax) => Fault::not_well_formed(error_at, syntax.to_string()),
        XmlError::IllFormed(IllFormedError::MissingDoctypeName) => {
            Fault::new(error_at, FaultKind::Doctype)
        }
        XmlError::IllFormed(ill) => Fault::not_well_formed(error_at, ill_formed_reason(&ill)),
        XmlError::InvalidAttr(_) => Fault::not_well_formed(error_at, "malformed attribute"),
        XmlError::Encoding(_) => Fault::not_well_formed(error_at, "not valid UTF-8"),
        XmlError::Escape(EscapeError::UnrecognizedEntity(..)) => {
            Fault::new(error_at, FaultKind::Entity)
        }
        XmlError::Escape(_) => {
            Fault::not_well_formed(error_at, "malformed character or entity reference")
        }
        XmlError::Namespace(ns) => Fault::not_well_formed(error_at, namespace_reason(&ns)),
    }
}

/// An I/O error from the stream, or one of [`Input`]'s budgets running out (which it
/// has to report as an I/O error to get quick-xml to stop).
pub(crate) fn io_fault<R: BufRead>(input: &Input<R>, at: u64, err: &std::io::Error) -> Fault {
    match input.tripped() {
        Some(Trip::TooLarge) => Fault::new(input.consumed(), FaultKind::TooLarge),
        Some(Trip::EventTooLong) => Fault::new(at, FaultKind::TextTooLong),
        None => Fault::new(input.consumed(), FaultKind::Io(err.to_string())),
    }
}

/// The declared encoding for an error message: common labels by name, anything else
/// withheld (the label is a value written by the producer, like an attribute value).
pub(crate) fn encoding_label(declared: &str) -> String {
    const KNOWN: &[&str] = &[
        "ISO-8859-1",
        "ISO-8859-2",
        "ISO-8859-15",
        "latin1",
        "windows-1250",
        "windows-1252",
        "cp1252",
        "UTF-16",
        "UTF-16LE",
        "UTF-16BE",
        "UTF-32",
        "UCS-2",
        "EBCDIC-DE",
    ];
    KNOWN
        .iter()
        .find(|known| known.eq_ignore_ascii_case(declared.trim()))
        .map_or_else(
            || "(declared in the XML declaration)".to_owned(),
            |k| (*k).to_owned(),
        )
}

fn ill_formed_reason(err: &IllFormedError) -> String {
    match err {
        IllFormedError::MissingDeclVersion(_) => "the XML declaration has no version".into(),
        IllFormedError::MissingDoctypeName => "DOCTYPE without a name".into(),
        IllFormedError::MissingEndTag(tag) => {
            format!("element <{}> is not closed", display_name(tag.as_bytes()))
        }
        IllFormedError::UnmatchedEndTag(tag) => format!(
            "end tag </{}> has no matching start tag",
            display_name(tag.as_bytes())
        ),
        IllFormedError::MismatchedEndTag { expected, found } => format!(
            "expected end tag </{}>, found </{}>",
            display_name(expected.as_bytes()),
            display_name(found.as_bytes())
        ),
        IllFormedError::DoubleHyphenInComment => "a comment contains \"--\"".into(),
        IllFormedError::UnclosedReference => {
            "an '&' does not start a reference ending in ';' (write &amp; for a literal ampersand)"
                .into()
        }
    }
}

fn namespace_reason(err: &NamespaceError) -> String {
    match err {
        NamespaceError::UnknownPrefix(prefix) => {
            format!("undeclared namespace prefix {}", display_name(prefix))
        }
        _ => "the reserved prefixes xml or xmlns are bound incorrectly".into(),
    }
}
