//! Checking a JSON main document at intake (called by [`super::document::check`]): it must be
//! UTF-8 throughout (RFC 8259 §8.1), its strings must not hold lone UTF-16 surrogates (`"\ud800"`
//! cannot become text for any Fachverfahren), and it must not be nested deeper than
//! `intake.max_json_depth`.
//!
//! The check parses the whole document with serde_json into a visitor that counts depth and
//! reads every string as text: serde_json's `IgnoredAny` skips strings without validating
//! their bytes or escapes, which is how such documents used to get through.

use super::IntakeError;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// Line and column (1-based, column in bytes) of byte `offset` in `body`.
pub(super) fn position(body: &[u8], offset: usize) -> (usize, usize) {
    let before = &body[..offset.min(body.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = offset
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (line, column)
}

/// The document as text, or where its first invalid UTF-8 byte is.
pub(super) fn utf8<'a>(body: &'a [u8], format: &'static str) -> Result<&'a str, IntakeError> {
    std::str::from_utf8(body).map_err(|e| {
        let offset = e.valid_up_to();
        let (line, column) = position(body, offset);
        IntakeError::InvalidUtf8 {
            format,
            offset,
            line,
            column,
        }
    })
}

/// Checks a JSON document; see the module documentation for the rules.
pub fn check(body: &[u8], max_depth: usize) -> Result<(), IntakeError> {
    let text = utf8(body, "JSON")?;
    let too_deep = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Depth {
        left: max_depth,
        too_deep: &too_deep,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let Err(e) = parsed else {
        return Ok(());
    };
    let (line, column) = (e.line(), e.column());
    if too_deep.get() {
        return Err(IntakeError::TooDeep {
            limit: max_depth,
            line,
            column,
        });
    }
    // serde_json names these two faults only in its message; both arise only from a high
    // surrogate without its low half or a low surrogate on its own (pinned by a test below).
    let reason = e.to_string();
    if reason.starts_with("lone leading surrogate in hex escape")
        || reason.starts_with("unexpected end of hex escape")
    {
        return Err(IntakeError::LoneSurrogate { line, column });
    }
    Err(IntakeError::Malformed {
        format: "JSON",
        reason,
    })
}

/// One value, at most `left` more levels of arrays and objects deep.
#[derive(Clone, Copy)]
struct Depth<'a> {
    left: usize,
    too_deep: &'a Cell<bool>,
}

impl Depth<'_> {
    /// The seed for the values inside an array or object at this level.
    fn inner<E: serde::de::Error>(self) -> Result<Self, E> {
        if self.left == 0 {
            self.too_deep.set(true);
            return Err(E::custom("nested too deep"));
        }
        Ok(Depth {
            left: self.left - 1,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Depth<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Depth<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    // Strings arrive here only after serde_json decoded their escapes into valid text.
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        // Keys are strings: read as text like any other string.
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn well_formed_documents_pass() {
        for ok in [
            r#"{"name": "Erika", "kinder": [{"alter": 3}, null, true, 1.5, -2]}"#,
            r#""\ud83d\ude00 paired surrogates are one character""#,
            "[\"Grüße\", \"\\u00fc\"]",
        ] {
            check(ok.as_bytes(), 64).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        check(nested(64).as_bytes(), 64).unwrap();
        check(br#"{"a":{"b":{"c":1}}}"#, 3).unwrap();
    }

    #[test]
    fn deeper_than_the_limit_is_refused_at_its_position() {
        let err = check(nested(65).as_bytes(), 64).unwrap_err();
        assert!(
            matches!(
                err,
                IntakeError::TooDeep {
                    limit: 64,
                    line: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            check(br#"{"a":{"b":{"c":{}}}}"#, 3),
            Err(IntakeError::TooDeep { limit: 3, .. })
        ));
        // Beyond serde_json's own bound too: ours answers first.
        assert!(matches!(
            check(nested(100_000).as_bytes(), 64),
            Err(IntakeError::TooDeep { .. })
        ));
    }

    #[test]
    fn lone_surrogates_are_refused_in_values_and_keys() {
        for bad in [
            r#"{"name": "\ud800"}"#,
            r#"{"name": "\udc00"}"#,
            r#"{"name": "\ud800\u0041"}"#,
            r#"{"name": "\ud800x"}"#,
            r#"{"\ud800": 1}"#,
            r#"["ok", ["\udfff"]]"#,
        ] {
            let err = check(bad.as_bytes(), 64).unwrap_err();
            assert!(
                matches!(err, IntakeError::LoneSurrogate { line: 1, .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_position() {
        let err = check(b"{\"name\":\n \"Erika \xff Mustermann\"}", 64).unwrap_err();
        assert!(
            matches!(
                err,
                IntakeError::InvalidUtf8 {
                    format: "JSON",
                    offset: 17,
                    line: 2,
                    column: 9
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("Mustermann"));
        // An overlong encoding and a UTF-8-encoded surrogate (CESU-8) are not UTF-8 either.
        for bad in [
            &b"[\"\xc0\xaf\"]"[..],
            b"[\"\xed\xa0\x80\"]",
            b"{\"k\xfe\": 1}",
        ] {
            assert!(matches!(
                check(bad, 64),
                Err(IntakeError::InvalidUtf8 { .. })
            ));
        }
    }

    #[test]
    fn other_faults_keep_the_parsers_reason() {
        let err = check(br#"{"a": "\u12"}"#, 64).unwrap_err();
        assert!(matches!(err, IntakeError::Malformed { .. }), "{err}");
        let err = check(br#"{"a": 1,}"#, 64).unwrap_err();
        assert!(matches!(err, IntakeError::Malformed { .. }), "{err}");
    }
}
