//! Why a payload could not be sniffed, written for the operator who reads the dead letter.
//!
//! Payloads are personal data, so no error here ever carries document content: messages
//! name positions, limits and element names (markup, never values). Element names are
//! only printed when they look like XML names ([`display_name`]); anything else is
//! replaced by a placeholder, because a broken document can make text look like a tag.

use std::fmt;

/// Where in the document something went wrong.
///
/// Lines and columns are 1-based; the column counts bytes, not characters, so it agrees
/// with `offset` on single-line (minified) documents. When reading from a stream the line
/// can be unknown for errors deep inside one very large text node; `line` and `column`
/// are then 0 and [`Display`](fmt::Display) shows the byte offset instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Position {
    /// 1-based line number, 0 when unknown.
    pub line: u64,
    /// 1-based column in bytes, 0 when unknown.
    pub column: u64,
    /// 0-based byte offset from the start of the input (a byte order mark included).
    pub offset: u64,
}

impl Position {
    /// Computes the position of `offset` by counting line breaks in `input`.
    pub fn in_slice(input: &[u8], offset: u64) -> Self {
        let end = usize::try_from(offset).map_or(input.len(), |o| o.min(input.len()));
        let before = &input[..end];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count() as u64;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Self {
            line,
            column: (end - line_start) as u64 + 1,
            offset,
        }
    }

    /// A position of which only the byte offset is known.
    pub(crate) fn offset_only(offset: u64) -> Self {
        Self {
            line: 0,
            column: 0,
            offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "byte offset {}", self.offset)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// A payload that the sniffer refused. Every variant says where (`at`).
///
/// All of these are permanent for the payload at hand (sending the same bytes again will
/// fail the same way) except [`SniffError::Io`], which only [`crate::sniff_reader`] can
/// return; see [`SniffError::is_permanent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SniffError {
    /// Nothing but whitespace, comments or an XML declaration.
    #[error("empty document: no root element found (at {at})")]
    Empty {
        /// End of the input.
        at: Position,
    },
    /// The payload does not start like XML at all (JSON, PDF, binary).
    #[error("not XML: {hint} (at {at})")]
    NotXml {
        /// First non-blank byte.
        at: Position,
        /// What it looks like instead.
        hint: &'static str,
    },
    /// The XML parser (or one of our own well-formedness checks) rejected the document.
    #[error("not well-formed XML at {at}: {reason}")]
    NotWellFormed {
        /// Start of the offending markup.
        at: Position,
        /// What is wrong; never contains document text.
        reason: String,
    },
    /// The document has a `<!DOCTYPE ...>`. DTDs are refused outright: they are the
    /// vehicle for external entities (XXE) and entity expansion ("billion laughs"), and
    /// no XÖV message needs one.
    #[error(
        "DOCTYPE refused at {at}: XÖV messages must not contain a DTD (risk of external entities and entity expansion)"
    )]
    DoctypeRefused {
        /// Start of the DOCTYPE.
        at: Position,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error(
        "entity reference refused at {at}: only &lt; &gt; &amp; &apos; &quot; and character references are allowed"
    )]
    EntityRefused {
        /// The reference, or the tag whose attribute contains it.
        at: Position,
    },
    /// Elements nested deeper than [`crate::Limits::max_depth`].
    #[error("elements nested deeper than {limit} levels at {at}")]
    TooDeep {
        /// Start tag that went one level too deep.
        at: Position,
        /// The configured limit.
        limit: usize,
    },
    /// An element with more than [`crate::Limits::max_attributes`] attributes.
    #[error("element <{element}> has more than {limit} attributes (at {at})")]
    TooManyAttributes {
        /// The start tag.
        at: Position,
        /// The element name, or a placeholder if it does not look like an XML name.
        element: String,
        /// The configured limit.
        limit: usize,
    },
    /// An element or attribute name longer than [`crate::Limits::max_name_len`].
    #[error("element or attribute name longer than {limit} bytes at {at}")]
    NameTooLong {
        /// The tag containing the name.
        at: Position,
        /// The configured limit.
        limit: usize,
    },
    /// A text node or a single piece of markup longer than [`crate::Limits::max_text_len`].
    #[error("text or markup longer than {limit} bytes at {at}")]
    TextTooLong {
        /// Start of the text node or markup.
        at: Position,
        /// The configured limit.
        limit: usize,
    },
    /// The document is larger than [`crate::Limits::max_bytes`].
    #[error("document larger than {limit} bytes (stopped reading at {at})")]
    TooLarge {
        /// Where reading stopped.
        at: Position,
        /// The configured limit.
        limit: usize,
    },
    /// The document is not UTF-8 (by byte order mark or XML declaration). XÖV prescribes
    /// UTF-8, and reading another encoding as UTF-8 would corrupt umlauts silently.
    #[error("unsupported character encoding {encoding} at {at}: XÖV messages must be UTF-8")]
    UnsupportedEncoding {
        /// The XML declaration or the start of the input.
        at: Position,
        /// The detected encoding, or the declared one if it is a well-known label.
        encoding: String,
    },
    /// Reading from the underlying stream failed; only from [`crate::sniff_reader`].
    #[error("could not read the document (at {at}): {message}")]
    Io {
        /// How far reading got.
        at: Position,
        /// The I/O error, as reported by the stream.
        message: String,
    },
}

impl SniffError {
    /// Where the problem is.
    pub fn position(&self) -> Position {
        match self {
            Self::Empty { at }
            | Self::NotXml { at, .. }
            | Self::NotWellFormed { at, .. }
            | Self::DoctypeRefused { at }
            | Self::EntityRefused { at }
            | Self::TooDeep { at, .. }
            | Self::TooManyAttributes { at, .. }
            | Self::NameTooLong { at, .. }
            | Self::TextTooLong { at, .. }
            | Self::TooLarge { at, .. }
            | Self::UnsupportedEncoding { at, .. }
            | Self::Io { at, .. } => *at,
        }
    }

    /// `true` when the payload itself is at fault (reject it, do not retry); `false` for
    /// I/O errors, which may go away when reading again.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Io { .. })
    }
}

/// A problem found while scanning, before its byte offset is turned into a [`Position`].
#[derive(Debug)]
pub(crate) struct Fault {
    pub offset: u64,
    pub kind: FaultKind,
}

/// The position-free part of a [`SniffError`].
#[derive(Debug)]
pub(crate) enum FaultKind {
    Empty,
    NotXml(&'static str),
    NotWellFormed(String),
    Doctype,
    Entity,
    TooDeep,
    TooManyAttributes(String),
    NameTooLong,
    TextTooLong,
    TooLarge,
    Encoding(String),
    Io(String),
}

impl Fault {
    pub fn new(offset: u64, kind: FaultKind) -> Self {
        Self { offset, kind }
    }

    pub fn not_well_formed(offset: u64, reason: impl Into<String>) -> Self {
        Self::new(offset, FaultKind::NotWellFormed(reason.into()))
    }

    /// Resolves the offset with `locate` and attaches the limit that applies.
    pub fn into_error(
        self,
        locate: impl FnOnce(u64) -> Position,
        limits: &crate::Limits,
    ) -> SniffError {
        let at = locate(self.offset);
        match self.kind {
            FaultKind::Empty => SniffError::Empty { at },
            FaultKind::NotXml(hint) => SniffError::NotXml { at, hint },
            FaultKind::NotWellFormed(reason) => SniffError::NotWellFormed { at, reason },
            FaultKind::Doctype => SniffError::DoctypeRefused { at },
            FaultKind::Entity => SniffError::EntityRefused { at },
            FaultKind::TooDeep => SniffError::TooDeep {
                at,
                limit: limits.max_depth,
            },
            FaultKind::TooManyAttributes(element) => SniffError::TooManyAttributes {
                at,
                element,
                limit: limits.max_attributes,
            },
            FaultKind::NameTooLong => SniffError::NameTooLong {
                at,
                limit: limits.max_name_len,
            },
            FaultKind::TextTooLong => SniffError::TextTooLong {
                at,
                limit: limits.max_text_len,
            },
            FaultKind::TooLarge => SniffError::TooLarge {
                at,
                limit: limits.max_bytes,
            },
            FaultKind::Encoding(encoding) => SniffError::UnsupportedEncoding { at, encoding },
            FaultKind::Io(message) => SniffError::Io { at, message },
        }
    }
}

/// Renders a name from the document's markup for an error message, or a placeholder when
/// it does not look like an XML name (and so might be misparsed text).
///
/// Only ASCII letters, digits, `.`, `-`, `_` and `:` up to 128 bytes pass; every XÖV
/// element name does.
pub(crate) fn display_name(raw: &[u8]) -> String {
    let plausible = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if plausible {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        "(name not shown)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_byte_columns() {
        let input = b"<a>\n  <b>\n";
        assert_eq!(
            Position::in_slice(input, 6),
            Position {
                line: 2,
                column: 3,
                offset: 6
            }
        );
        assert_eq!(Position::in_slice(input, 0).to_string(), "line 1, column 1");
        // Offsets past the end are clamped for line/column but reported as given.
        assert_eq!(Position::in_slice(input, 99).line, 3);
    }

    #[test]
    fn unknown_line_shows_offset() {
        assert_eq!(Position::offset_only(42).to_string(), "byte offset 42");
    }

    #[test]
    fn display_name_withholds_anything_unusual() {
        assert_eq!(display_name(b"xga:nachrichtenkopf"), "xga:nachrichtenkopf");
        assert_eq!(display_name(b"Max Mustermann"), "(name not shown)");
        assert_eq!(display_name("Müller".as_bytes()), "(name not shown)");
        assert_eq!(display_name(b""), "(name not shown)");
    }
}
