//! Keeping document content out of validation messages.
//!
//! libxml2's messages quote the offending value: `Element 'geburtsdatum': 'Erika' is not
//! a valid value of the atomic type 'xs:date'.` Values are personal data and must not
//! reach logs, the ledger or a reply to the sender. Element and attribute names, type
//! names, facet names and the schema's own constraints (patterns, enumerations, lengths)
//! are kept, because they are what an operator needs to fix a message.
//!
//! The rule is a whitelist: a quoted piece survives only where the message's template
//! puts a name or a schema constraint; everything else becomes `(value not shown)`.
//! Values are found by the exact strings libxml2 inserted into the message (it reports
//! them separately), so a value containing quotes cannot confuse the matching; whatever
//! is left is checked by position (the words before the quote).

/// What replaces a document value.
pub(crate) const HIDDEN: &str = "(value not shown)";
/// What replaces a name that does not look like one.
const NAME_HIDDEN: &str = "(name not shown)";

/// libxml2 cuts messages near 64,000 bytes; a cut message may end inside a value.
const MAX_CHECKED_LEN: usize = 60_000;

/// Quoted words that libxml2's templates use and that are never document content.
const SAFE_WORDS: &[&str] = &["element-only", "nilled", "nillable"];

/// The names libxml2 puts at the start of a validation message for its node:
/// `{ns}local` of the element, and of the attribute if the error is about one.
pub(crate) struct NodeNames<'a> {
    pub element: &'a str,
    pub attribute: Option<&'a str>,
}

/// Returns `message` with every document value replaced by [`HIDDEN`].
///
/// `inserted` are the strings libxml2 reports as inserted into the message (its
/// `str1`..`str3`); `names` the node's names when known.
pub(crate) fn redact(message: &str, inserted: &[String], names: Option<NodeNames<'_>>) -> String {
    let message = message.trim_end();
    if message.len() > MAX_CHECKED_LEN {
        return "(details not shown: the message is too long to check for document content)".into();
    }
    let (head, body) = split_head(message, names.as_ref());
    let mut out = head;
    out.push_str(&redact_body(body, inserted));
    out
}

/// Splits off `Element '...'[, attribute '...']: ` and renders it with checked names.
fn split_head<'m>(message: &'m str, names: Option<&NodeNames<'_>>) -> (String, &'m str) {
    if let Some(names) = names {
        let mut expected = format!("Element '{}'", names.element);
        if let Some(attribute) = names.attribute {
            expected.push_str(&format!(", attribute '{attribute}'"));
        }
        expected.push_str(": ");
        if let Some(body) = message.strip_prefix(expected.as_str()) {
            let mut head = format!("Element '{}'", show_name(names.element));
            if let Some(attribute) = names.attribute {
                head.push_str(&format!(", attribute '{}'", show_name(attribute)));
            }
            head.push_str(": ");
            return (head, body);
        }
    }
    // Not the expected node (or unknown): parse the names. They cannot contain a quote
    // unless a namespace URI does; then the name is withheld and the rest is treated as
    // body, where the whitelist applies.
    let Some(rest) = message.strip_prefix("Element '") else {
        return (String::new(), message);
    };
    let Some(end) = rest.find('\'') else {
        return (String::new(), message);
    };
    let mut head = format!("Element '{}'", show_name(&rest[..end]));
    let mut rest = &rest[end + 1..];
    if let Some(attr) = rest.strip_prefix(", attribute '") {
        let Some(end) = attr.find('\'') else {
            return (String::new(), message);
        };
        head.push_str(&format!(", attribute '{}'", show_name(&attr[..end])));
        rest = &attr[end + 1..];
    }
    match rest.strip_prefix(": ") {
        Some(body) => {
            head.push_str(": ");
            (head, body)
        }
        None => (String::new(), message),
    }
}

/// One stretch of the body that is a quoted (or pre-formatted) piece.
struct Piece {
    start: usize,
    end: usize,
    /// Inner text (without the surrounding quotes, if quoted).
    inner: (usize, usize),
    quoted: bool,
}

fn redact_body(body: &str, inserted: &[String]) -> String {
    // 1. Where did libxml2 insert its strings?
    let mut pieces = Vec::new();
    // Empty strings count too: `''` is how an empty value is quoted.
    for s in inserted {
        let quoted = format!("'{s}'");
        for (i, _) in body.match_indices(quoted.as_str()) {
            pieces.push(Piece {
                start: i,
                end: i + quoted.len(),
                inner: (i + 1, i + 1 + s.len()),
                quoted: true,
            });
        }
        // Pre-formatted lists (key sequences "['a', 'b']", enumeration sets "'a', 'b'")
        // are inserted without quotes around them.
        if s.starts_with(['[', '\'']) {
            for (i, _) in body.match_indices(s.as_str()) {
                pieces.push(Piece {
                    start: i,
                    end: i + s.len(),
                    inner: (i, i + s.len()),
                    quoted: false,
                });
            }
        }
    }
    pieces.sort_by_key(|p| (p.start, std::cmp::Reverse(p.end)));

    // 2. Keep them or hide them by what precedes them; the gaps go through the quote scan.
    let mut out = String::with_capacity(body.len());
    let mut at = 0;
    for piece in pieces {
        if piece.start < at {
            continue; // overlaps a piece already handled (e.g. a value inside a value)
        }
        out.push_str(&scan_quotes(body, at, piece.start));
        let inner = &body[piece.inner.0..piece.inner.1];
        let shown = judge(&body[..piece.start], inner);
        match (shown, piece.quoted) {
            (Some(text), true) => out.push_str(&format!("'{text}'")),
            (Some(text), false) => out.push_str(&text),
            (None, true) => out.push_str(&format!("'{HIDDEN}'")),
            (None, false) => out.push_str(HIDDEN),
        }
        at = piece.end;
    }
    out.push_str(&scan_quotes(body, at, body.len()));
    out
}

/// Copies `body[from..to]`, hiding quoted pieces that are not in a name position.
///
/// Values normally never get here (they are matched by the strings libxml2 inserted).
/// If one does, its own quotes may have split it, so once a piece is hidden here the rest
/// of the stretch is not shown either.
fn scan_quotes(body: &str, from: usize, to: usize) -> String {
    let mut out = String::new();
    let mut at = from;
    while let Some(open) = body[at..to].find('\'').map(|i| at + i) {
        out.push_str(&body[at..open]);
        let Some(close) = body[open + 1..to].find('\'').map(|i| open + 1 + i) else {
            // An unpaired quote: what follows may be a cut-off value.
            out.push('\'');
            out.push_str(HIDDEN);
            return out;
        };
        let inner = &body[open + 1..close];
        match judge(&body[..open], inner) {
            Some(text) => out.push_str(&format!("'{text}'")),
            None => {
                out.push_str(&format!("'{HIDDEN}'"));
                if body[close + 1..to]
                    .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
                    .is_empty()
                {
                    out.push_str(&body[close + 1..to]);
                } else {
                    out.push_str(" (rest of the message not shown)");
                }
                return out;
            }
        }
        at = close + 1;
    }
    out.push_str(&body[at..to]);
    out
}

/// Whether a quoted piece may be shown, given the text before it; returns what to show.
fn judge(before: &str, inner: &str) -> Option<String> {
    let before = before.trim_end();
    // Constraints from the schema: patterns, bounds, enumerations, fixed values.
    const SCHEMA_VALUE: &[&str] = &[
        "by the pattern",
        "allowed (",
        "must be greater than",
        "must be less than",
        "of the set {",
        "value constraint",
    ];
    // Names of markup and schema components.
    const NAME: &[&str] = &[
        "Element",
        "attribute",
        "type",
        "facet",
        "keyref",
        "identity-constraint",
    ];
    if SCHEMA_VALUE.iter().any(|a| before.ends_with(a)) {
        return Some(inner.to_owned());
    }
    if before.ends_with("length of") && inner.bytes().all(|b| b.is_ascii_digit()) {
        return Some(inner.to_owned());
    }
    if NAME.iter().any(|a| before.ends_with(a)) {
        return Some(show_name(inner));
    }
    SAFE_WORDS.contains(&inner).then(|| inner.to_owned())
}

/// A name as printed by libxml2 (`local`, `prefix:local`, `{namespace}local`), or a
/// placeholder if it does not look like one (it could then be misparsed content).
pub(crate) fn show_name(name: &str) -> String {
    let (namespace, local) = match name.strip_prefix('{').and_then(|r| r.split_once('}')) {
        Some((ns, local)) => (Some(ns), local),
        None => (None, name),
    };
    let ns_ok = namespace.is_none_or(|ns| {
        ns.len() <= 256
            && ns.bytes().all(|b| {
                b.is_ascii_graphic() && !matches!(b, b'\'' | b'"' | b'<' | b'>' | b'{' | b'}')
            })
    });
    let local_ok = !local.is_empty()
        && local.len() <= 128
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'*'));
    if ns_ok && local_ok {
        name.to_owned()
    } else {
        NAME_HIDDEN.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(element: &'a str, attribute: Option<&'a str>) -> Option<NodeNames<'a>> {
        Some(NodeNames { element, attribute })
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hides_values_keeps_names_and_types() {
        let out = redact(
            "Element 'geburtsdatum': 'Erika' is not a valid value of the atomic type 'xs:date'.\n",
            &strings(&["Erika"]),
            names("geburtsdatum", None),
        );
        assert_eq!(
            out,
            "Element 'geburtsdatum': '(value not shown)' is not a valid value of the atomic type 'xs:date'."
        );
    }

    #[test]
    fn keeps_schema_constraints() {
        let out = redact(
            "Element '{urn:x}plz': [facet 'pattern'] The value '1234x' is not accepted by the pattern '\\d{5}'.",
            &strings(&["1234x", "\\d{5}"]),
            names("{urn:x}plz", None),
        );
        assert_eq!(
            out,
            "Element '{urn:x}plz': [facet 'pattern'] The value '(value not shown)' is not accepted by the pattern '\\d{5}'."
        );
        let out = redact(
            "Element 'code': [facet 'enumeration'] The value 'Müller' is not an element of the set {'001', '002'}.",
            &strings(&["Müller", "'001', '002'"]),
            names("code", None),
        );
        assert_eq!(
            out,
            "Element 'code': [facet 'enumeration'] The value '(value not shown)' is not an element of the set {'001', '002'}."
        );
        let out = redact(
            "Element 'name': [facet 'maxLength'] The value has a length of '300'; this exceeds the allowed maximum length of '255'.",
            &strings(&["300", "255"]),
            names("name", None),
        );
        assert!(
            out.ends_with("a length of '300'; this exceeds the allowed maximum length of '255'.")
        );
    }

    #[test]
    fn attribute_values_and_fixed_values() {
        let out = redact(
            "Element '{urn:x}artAnlage', attribute 'listVersionID': The value '1' does not match the fixed value constraint '2'.",
            &strings(&["1", "2"]),
            names("{urn:x}artAnlage", Some("listVersionID")),
        );
        assert_eq!(
            out,
            "Element '{urn:x}artAnlage', attribute 'listVersionID': The value '(value not shown)' does not match the fixed value constraint '2'."
        );
    }

    #[test]
    fn values_with_quotes_do_not_escape() {
        let value = "O'Brien' is fine, 'Erika";
        let message =
            format!("Element 'name': '{value}' is not a valid value of the atomic type 'xs:date'.");
        let out = redact(&message, &strings(&[value]), names("name", None));
        assert!(!out.contains("Brien") && !out.contains("Erika"), "{out}");
        // Even without knowing the inserted value, the quote scan hides what it cannot place.
        let out = redact(&message, &[], names("name", None));
        assert!(!out.contains("Brien") && !out.contains("Erika"), "{out}");
    }

    #[test]
    fn key_sequences_are_hidden() {
        let out = redact(
            "Element 'a': Duplicate key-sequence ['4711', 'Erika'] in unique identity-constraint 'u'.",
            &strings(&["['4711', 'Erika']", "unique identity-constraint 'u'"]),
            names("a", None),
        );
        assert!(!out.contains("4711") && !out.contains("Erika"), "{out}");
        assert!(out.contains("identity-constraint 'u'"), "{out}");
    }

    #[test]
    fn unexpected_shapes_hide_rather_than_show() {
        let out = redact("Something 'Erika Mustermann' happened", &[], None);
        assert_eq!(
            out,
            "Something '(value not shown)' (rest of the message not shown)"
        );
        let out = redact("Element 'a': 'Erika' is wrong.", &[], None);
        assert_eq!(
            out,
            "Element 'a': '(value not shown)' (rest of the message not shown)"
        );
        // An empty value is matched like any other.
        let out = redact(
            "Element 'a': [facet 'pattern'] The value '' is not accepted by the pattern '[0-9]+'.",
            &strings(&["", "[0-9]+"]),
            names("a", None),
        );
        assert_eq!(
            out,
            "Element 'a': [facet 'pattern'] The value '(value not shown)' is not accepted by the pattern '[0-9]+'."
        );
        let out = redact("The value 'cut off", &[], None);
        assert_eq!(out, "The value '(value not shown)");
        let out = redact(&"x".repeat(70_000), &[], None);
        assert!(out.starts_with("(details not shown"));
    }

    #[test]
    fn odd_names_are_withheld() {
        assert_eq!(
            show_name("{http://www.xleitstelle.de/xbau/2/6}antrag"),
            "{http://www.xleitstelle.de/xbau/2/6}antrag"
        );
        assert_eq!(show_name("xs:date"), "xs:date");
        assert_eq!(show_name("Max Mustermann"), NAME_HIDDEN);
        assert_eq!(show_name("{urn:a b}x"), NAME_HIDDEN);
        let out = redact(
            "Element 'Erika Mustermann': This element is not expected.",
            &[],
            None,
        );
        assert_eq!(
            out,
            "Element '(name not shown)': This element is not expected."
        );
    }
}
