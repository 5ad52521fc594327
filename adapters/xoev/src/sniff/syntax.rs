//! The XML 1.0 rules that quick-xml leaves to its caller.
//!
//! quick-xml checks structure (tags, quotes, nesting) but not which characters may appear,
//! what a name may look like, that attributes are separated by white space, or what the
//! XML declaration may contain. Intake promises that an accepted message is well-formed,
//! so the scanner applies these rules to everything it reads.

/// Finds the first character not allowed in XML content (XML 1.0 production `Char`):
/// C0 control characters other than tab, line feed and carriage return, and the
/// non-characters U+FFFE and U+FFFF. Surrogates cannot occur in a Rust `str`.
///
/// Returns the byte index and a description fit for an error message.
pub(crate) fn find_illegal_char(text: &str) -> Option<(usize, &'static str)> {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().find_map(|(i, &b)| match b {
        0x09 | 0x0A | 0x0D => None,
        0x00..=0x1F => Some((i, "a control character that XML does not allow")),
        0xEF if bytes.get(i + 1) == Some(&0xBF)
            && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
        {
            Some((i, "the non-character U+FFFE or U+FFFF"))
        }
        _ => None,
    })
}

/// Whether `c` may appear in XML content (used for resolved character references).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `name` is a qualified XML name: an XML `Name` with at most one colon, which
/// (if present) separates two non-empty parts (Namespaces in XML, `QName`).
pub(crate) fn is_qname(name: &str) -> bool {
    let mut parts = name.split(':');
    let (Some(first), second, None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    is_ncname(first) && second.is_none_or(is_ncname)
}

fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML white space (production `S`).
pub(crate) fn is_xml_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Whether every attribute value's closing quote is followed by white space or the end of
/// the tag (`a="1"b="2"` is not well-formed). `raw` is the part of a start tag after its
/// name, as quick-xml hands it over.
pub(crate) fn attributes_are_separated(raw: &[u8]) -> bool {
    let mut quote = None;
    let mut after_value = false;
    for &b in raw {
        if after_value {
            if !is_xml_whitespace(b) {
                return false;
            }
            after_value = false;
        } else if quote == Some(b) {
            quote = None;
            after_value = true;
        } else if quote.is_none() && matches!(b, b'"' | b'\'') {
            quote = Some(b);
        }
    }
    true
}

/// What an XML declaration says, once it has been found to be well-formed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Declaration<'a> {
    pub encoding: Option<&'a str>,
}

/// Parses the content of `<?xml ...?>` (without the delimiters, starting with `xml`)
/// strictly by the grammar: `version`, then optionally `encoding`, then optionally
/// `standalone`, each in this order, separated by white space.
pub(crate) fn parse_declaration(content: &[u8]) -> Result<Declaration<'_>, &'static str> {
    let content = std::str::from_utf8(content).map_err(|_| "is not valid UTF-8")?;
    let mut rest = content.strip_prefix("xml").ok_or("is malformed")?;
    let mut pseudo = |name: &str| -> Option<&str> {
        let after_space = rest.trim_start_matches(is_ws_char);
        if after_space.len() == rest.len() {
            return None;
        }
        let value_part = after_space
            .strip_prefix(name)?
            .trim_start_matches(is_ws_char);
        let value_part = value_part.strip_prefix('=')?.trim_start_matches(is_ws_char);
        let quote = value_part
            .chars()
            .next()
            .filter(|c| matches!(c, '"' | '\''))?;
        let (value, after) = value_part[1..].split_once(quote)?;
        rest = after;
        Some(value)
    };
    let version = pseudo("version").ok_or("has no version")?;
    let encoding = pseudo("encoding");
    let standalone = pseudo("standalone");
    let version_ok = version
        .strip_prefix("1.")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    if !version_ok {
        return Err("has an invalid version");
    }
    let encoding_ok = encoding.is_none_or(|e| {
        e.starts_with(|c: char| c.is_ascii_alphabetic())
            && e.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    });
    if !encoding_ok {
        return Err("has an invalid encoding name");
    }
    if !standalone.is_none_or(|s| s == "yes" || s == "no") {
        return Err("has an invalid standalone value");
    }
    if !rest.trim_start_matches(is_ws_char).is_empty() {
        return Err("contains something other than version, encoding and standalone");
    }
    Ok(Declaration { encoding })
}

fn is_ws_char(c: char) -> bool {
    c.is_ascii() && is_xml_whitespace(c as u8)
}

/// The UTF-8 byte order mark.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "xga:sta.gewerbemeldung.0100",
            "nachrichtenkopf.g2g",
            "_x-1",
            "Größe",
        ] {
            assert!(is_qname(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a b", "a:b:c", ":a", "a:", "a<b", "a&b"] {
            assert!(!is_qname(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_separation() {
        assert!(attributes_are_separated(br#" a="1" b='2'"#));
        assert!(attributes_are_separated(
            br#" a="x'y"  b="2"
"#
        ));
        assert!(!attributes_are_separated(br#" a="1"b="2""#));
        assert!(!attributes_are_separated(br#" a='1'/"#));
    }

    #[test]
    fn declarations() {
        let ok = |s: &str| parse_declaration(s.as_bytes()).map(|d| d.encoding.map(String::from));
        assert_eq!(ok(r#"xml version="1.0""#), Ok(None));
        assert_eq!(
            ok(r#"xml version='1.0' encoding="UTF-8" standalone="yes" "#),
            Ok(Some("UTF-8".into()))
        );
        assert_eq!(
            ok("xml version = \"1.1\"\n encoding = 'latin1'"),
            Ok(Some("latin1".into()))
        );
        for bad in [
            "xml",
            r#"xml encoding="UTF-8" version="1.0""#,
            r#"xml version="1.0" encoQing="UTF-8""#,
            r#"xml version="1.0"encoding="UTF-8""#,
            r#"xml version="2.0""#,
            r#"xml version="1.""#,
            r#"xml version="1.0" standalone="maybe""#,
            r#"xml version="1.0" encoding="8bit""#,
            r#"xml version="1.0" encoding="UTF-8" x"#,
            r#"xml version="1.0"#,
        ] {
            assert!(parse_declaration(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_characters() {
        assert_eq!(find_illegal_char("ok\ttext\r\n"), None);
        assert_eq!(find_illegal_char("ab\u{1}").map(|(i, _)| i), Some(2));
        assert_eq!(find_illegal_char("x\u{FFFF}").map(|(i, _)| i), Some(1));
        assert_eq!(find_illegal_char("\u{FFFD}ü€"), None);
        assert!(!is_xml_char('\u{0}'));
        assert!(!is_xml_char('\u{FFFE}'));
        assert!(is_xml_char('€'));
    }
}
