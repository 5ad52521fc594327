//! Values a sender controls (a tenant name from the URL path, a message type or namespace
//! from the document's header, an XTA message id or author), made safe for a log line.
//!
//! Such a value is printed escaped and cut: control and formatting characters (line breaks,
//! terminal escapes, bidirectional overrides) are written as `\u{..}`, so a sender cannot
//! forge log lines or reorder what an operator reads, and at most [`MAX_LOGGED_CHARS`]
//! characters are written, so a sender cannot flood the log through one field.

use std::fmt;

/// At most this many characters of a sender-controlled value reach a log line.
pub const MAX_LOGGED_CHARS: usize = 128;

/// A sender-controlled value, displayed escaped and cut to [`MAX_LOGGED_CHARS`] characters;
/// a cut value ends in `…(+N bytes)`, N being the bytes left out.
#[derive(Debug, Clone, Copy)]
pub struct Untrusted<'a>(pub &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, MAX_LOGGED_CHARS)
    }
}

/// At most this many characters of a refusal's description reach a log line.
pub const MAX_LOGGED_DETAIL_CHARS: usize = 1024;

/// A description the broker wrote that may quote sender-controlled fragments (a parser's
/// reason, an element name): escaped like [`Untrusted`], cut at [`MAX_LOGGED_DETAIL_CHARS`].
#[derive(Debug, Clone, Copy)]
pub struct Detail<'a>(pub &'a str);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, MAX_LOGGED_DETAIL_CHARS)
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str, max: usize) -> fmt::Result {
    let mut written = 0;
    for (at, c) in value.char_indices() {
        let escaped = needs_escape(c);
        // An escape is written whole or not at all; it counts as the characters it takes.
        let width = if escaped { escape_width(c) } else { 1 };
        if written + width > max {
            return write!(f, "…(+{} bytes)", value.len() - at);
        }
        if escaped {
            write!(f, "\\u{{{:x}}}", c as u32)?;
        } else {
            f.write_str(c.encode_utf8(&mut [0; 4]))?;
        }
        written += width;
    }
    Ok(())
}

/// The value as an owned, log-safe string.
pub fn untrusted(value: &str) -> String {
    Untrusted(value).to_string()
}

/// Characters that could break or disguise a log line: C0/C1 controls, DEL, the backslash
/// (so that an escape in the output is always ours), line and paragraph separators, and the
/// bidirectional and zero-width formatting characters.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c,
            '\u{2028}' | '\u{2029}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}')
}

fn escape_width(c: char) -> usize {
    // `\u{` + hex digits + `}`
    4 + format!("{:x}", c as u32).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_short_values_are_unchanged() {
        assert_eq!(untrusted("xgewerbeanzeige.0100"), "xgewerbeanzeige.0100");
        assert_eq!(untrusted("Müllabfuhr-Gemeinde"), "Müllabfuhr-Gemeinde");
    }

    #[test]
    fn line_breaks_escapes_and_bidi_overrides_are_escaped() {
        assert_eq!(
            untrusted("a\nlevel=ERROR forged"),
            "a\\u{a}level=ERROR forged"
        );
        assert_eq!(untrusted("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(untrusted("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(untrusted("a\\u{a}"), "a\\u{5c}u{a}");
        assert!(
            !untrusted("\r\t\u{7f}\u{85}\u{2028}")
                .chars()
                .any(char::is_control)
        );
    }

    #[test]
    fn long_values_are_cut_and_say_how_much_was_left_out() {
        let long = "x".repeat(4096);
        let shown = untrusted(&long);
        assert_eq!(
            shown,
            format!("{}…(+{} bytes)", "x".repeat(128), 4096 - 128)
        );
        let exactly = "y".repeat(MAX_LOGGED_CHARS);
        assert_eq!(untrusted(&exactly), exactly);
        // Multi-byte characters count as one; the remainder is given in bytes.
        let umlauts = "ä".repeat(200);
        assert_eq!(
            untrusted(&umlauts),
            format!("{}…(+{} bytes)", "ä".repeat(128), 72 * 2)
        );
    }

    #[test]
    fn escapes_count_towards_the_limit_and_are_never_split() {
        let newlines = "\n".repeat(100);
        let shown = untrusted(&newlines);
        // `\u{a}` is 5 characters: 25 fit into 128.
        assert!(shown.starts_with(&"\\u{a}".repeat(25)));
        assert!(shown.ends_with("…(+75 bytes)"), "{shown}");
    }
}
