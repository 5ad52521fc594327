//! Resource limits for reading untrusted XML.
//!
//! Every payload that reaches intake comes from outside (FIT-Connect, XTA, an HTTP form
//! server), so the sniffer treats it as hostile: it refuses to read more than these limits
//! allow, and says which limit was hit. The defaults fit real XÖV traffic, including XBau
//! and XWasser messages that carry documents inline as base64.

use serde::{Deserialize, Serialize};

/// Upper bounds applied while reading one document.
///
/// All sizes are in bytes of the raw (UTF-8) input. Configuration can override single
/// fields; unset fields keep their default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest document accepted, in bytes (default 256 MiB).
    pub max_bytes: usize,
    /// Deepest element nesting accepted; the root element is depth 1 (default 256).
    /// Real XÖV messages stay well below 40.
    pub max_depth: usize,
    /// Most attributes (namespace declarations included) on one element (default 256).
    pub max_attributes: usize,
    /// Longest element or attribute name, prefix included (default 1 KiB).
    pub max_name_len: usize,
    /// Longest text node (including CDATA and references inside it), and the longest single
    /// piece of markup: a tag with its attributes, a comment, a processing instruction
    /// (default 64 MiB). Inline base64 documents count as text: a 45 MB PDF is about
    /// 60 MB of base64, so do not set this much lower if XBau or XWasser messages carry
    /// their documents inline.
    pub max_text_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 256 * 1024 * 1024,
            max_depth: 256,
            max_attributes: 256,
            max_name_len: 1024,
            max_text_len: 64 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// How many raw bytes one event (tag, text run, comment, ...) may span before reading
    /// stops. Slightly more than `max_text_len` so that a text node of exactly the limit
    /// still fits with the markup around it; the precise text limit is checked separately.
    pub(crate) fn max_event_bytes(&self) -> u64 {
        (self.max_text_len as u64).saturating_add(64 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_keeps_defaults() {
        let limits: Limits = serde_json::from_str(r#"{"max_depth": 64}"#).unwrap();
        assert_eq!(limits.max_depth, 64);
        assert_eq!(limits.max_bytes, Limits::default().max_bytes);
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let result: Result<Limits, _> = serde_json::from_str(r#"{"max_deep": 64}"#);
        assert!(result.is_err());
    }
}
