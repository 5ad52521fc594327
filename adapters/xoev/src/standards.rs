//! Which XÖV standard (and version) a namespace URI belongs to.
//!
//! Intake identifies a message by the namespace of its root element; routing rules then
//! match on the standard's `key` (e.g. `xbau`) and the message type. Most XÖV standards
//! put their version into the namespace, each in its own notation (`/2/6`, `2.2`,
//! `V1_0_0`, `2511a`), so the table below matches a fixed prefix and parses the rest:
//! a new release of a known standard is recognised without a code change.
//!
//! An unknown namespace is not an error: [`standard_for_namespace`] returns `None` and the
//! message can still be routed by root element or parked as `unrouted`.

use serde::{Deserialize, Deserializer, Serialize};

/// An XÖV standard as identified from a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Standard {
    /// Stable lower-case key for configuration and routing, e.g. `"xgewerbeanzeige"`.
    pub key: &'static str,
    /// The standard's own spelling, e.g. `"XGewerbeanzeige"`.
    pub name: &'static str,
    /// Version as encoded in the namespace, written with dots (`"2.6"`, `"25.11a"`);
    /// `None` when the namespace does not encode one (XJustiz) or it could not be read.
    pub version: Option<String>,
}

impl std::fmt::Display for Standard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(version) => write!(f, "{} {version}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// Returns the standard a root element namespace belongs to, or `None` if unknown.
///
/// `http://` and `https://` are treated alike and a trailing `/` is ignored, because
/// producers get both wrong in practice; everything else must match exactly.
pub fn standard_for_namespace(ns: &str) -> Option<Standard> {
    let ns = ns.trim().trim_end_matches('/');
    RULES.iter().find_map(|rule| {
        let version = rule.pattern.matches(ns)?;
        Some(Standard {
            key: rule.key,
            name: rule.name,
            version,
        })
    })
}

/// Looks a standard up by its [`Standard::key`] (without version), e.g. to check that a
/// routing rule names a standard that exists.
pub fn standard_by_key(key: &str) -> Option<Standard> {
    RULES
        .iter()
        .find(|rule| rule.key == key)
        .map(|rule| Standard {
            key: rule.key,
            name: rule.name,
            version: None,
        })
}

/// One namespace family of one standard.
struct Rule {
    key: &'static str,
    name: &'static str,
    pattern: Pattern,
}

enum Pattern {
    /// The namespace is exactly this URI; it does not encode a version.
    Exact(&'static str),
    /// The namespace is this prefix followed by a version in the given notation.
    Versioned(&'static str, Notation),
}

/// How a standard writes its version into the namespace.
#[derive(Clone, Copy)]
enum Notation {
    /// `2.2`, `3.0.0`
    Dotted,
    /// `2/6` → `2.6`
    Slashed,
    /// `1_0_0` → `1.0.0`
    Underscored,
    /// `2511` → `25.11`, `2511a` → `25.11a` (year and month of the release). Other
    /// alphanumeric suffixes still identify the standard, with an unknown version.
    YearMonth,
    /// `12` → `1.2`: one digit per version component.
    Digits,
    /// Some alphanumeric release tag that does not map to a version reliably.
    Opaque,
}

/// The table. Order does not matter: a prefix only matches when the rest parses in the
/// rule's notation, so `xbau/kernmodul/1/3/0` is not mistaken for XBau.
const RULES: &[Rule] = &[
    // XBau 2.x. 2.6 from the fixture XSDs (targetNamespace of xbau-baukasten.xsd);
    // 2.2 seen in published XBau 2.2 messages. 2.0–2.5 follow the same XLeitstelle
    // scheme `http://www.xleitstelle.de/xbau/<major>/<minor>`.
    Rule {
        key: "xbau",
        name: "XBau",
        pattern: Pattern::Versioned("http://www.xleitstelle.de/xbau/", Notation::Slashed),
    },
    // XBau-Kernmodul, shipped with XBau 2.6 as its own namespace
    // (`http://www.xleitstelle.de/xbau/kernmodul/1/3/0`, fixture XSDs). Its process
    // messages (`prozessnachrichten.*`) have roots in this namespace.
    Rule {
        key: "xbau-kernmodul",
        name: "XBau-Kernmodul",
        pattern: Pattern::Versioned(
            "http://www.xleitstelle.de/xbau/kernmodul/",
            Notation::Slashed,
        ),
    },
    // XGewerbeanzeige 2.x: `.../spezifikation/2.1` and `/2.2` in the KoSIT test suite
    // messages (fixtures); 2.0 uses the same scheme.
    Rule {
        key: "xgewerbeanzeige",
        name: "XGewerbeanzeige",
        pattern: Pattern::Versioned(
            "http://www.xgewerbeanzeige.de/spezifikation/",
            Notation::Dotted,
        ),
    },
    // xdomea 2.3 and later: `urn:xoev-de:xdomea:schema:<version>`; 3.0.0 and 4.0.0 in the
    // fixtures, 2.3.0, 2.4.0 and 3.1.0 in published schemas.
    Rule {
        key: "xdomea",
        name: "xdomea",
        pattern: Pattern::Versioned("urn:xoev-de:xdomea:schema:", Notation::Dotted),
    },
    // xdomea 2.0–2.2: `http://www.xdomea.de/V2.2.0` (named in the BSI TR-ESOR XAIP
    // profile).
    Rule {
        key: "xdomea",
        name: "xdomea",
        pattern: Pattern::Versioned("http://www.xdomea.de/V", Notation::Dotted),
    },
    // XWasser 1.0: the namespace points into the AKDB repository on OpenCoDE
    // (fixture messages and XSDs: `.../-/raw/main/V1_0_0`).
    Rule {
        key: "xwasser",
        name: "XWasser",
        pattern: Pattern::Versioned(
            "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V",
            Notation::Underscored,
        ),
    },
    // XPersonenstand: `http://xpsw.domap.de/xpsw2511` for release 25.11 (messages and
    // schema paths of Vertama's public XPersonenstand library; `version="25.11"`).
    Rule {
        key: "xpersonenstand",
        name: "XPersonenstand",
        pattern: Pattern::Versioned("http://xpsw.domap.de/xpsw", Notation::YearMonth),
    },
    // XMeld: `http://www.osci.de/xmeld2511a` for release 25.11a (published request
    // messages carry `version="25.11a"`); older releases used other suffixes, which are
    // recognised as XMeld with an unknown version.
    Rule {
        key: "xmeld",
        name: "XMeld",
        pattern: Pattern::Versioned("http://www.osci.de/xmeld", Notation::YearMonth),
    },
    // XBeteiligung: `https://www.xleitstelle.de/xbeteiligung/12` is release 1.2 (DEMOS
    // plan XBeteiligung add-on: "change xbeteiligung standard from 1.3 to 1.2 ...
    // namespace xbeteiligung/12").
    Rule {
        key: "xbeteiligung",
        name: "XBeteiligung",
        pattern: Pattern::Versioned("https://www.xleitstelle.de/xbeteiligung/", Notation::Digits),
    },
    // XBeteiligung before the XLeitstelle namespace: `http://xbeteiligung.de/V0103` in
    // DEMOS plan test messages that say `version="1.2.0"`, so the tag is not the version.
    Rule {
        key: "xbeteiligung",
        name: "XBeteiligung",
        pattern: Pattern::Versioned("http://xbeteiligung.de/V", Notation::Opaque),
    },
    // XJustiz 2.x/3.x: one namespace for all versions; the version is in the message's
    // `nachrichtenkopf` (`xjustizVersion`), not in the namespace.
    Rule {
        key: "xjustiz",
        name: "XJustiz",
        pattern: Pattern::Exact("http://www.xjustiz.de"),
    },
];

impl Pattern {
    /// `None`: not this standard. `Some(version)`: this standard, version if readable.
    fn matches(&self, ns: &str) -> Option<Option<String>> {
        match self {
            Self::Exact(uri) => same_uri(ns, uri).then_some(None),
            Self::Versioned(prefix, notation) => {
                let rest = strip_uri_prefix(ns, prefix)?;
                notation.parse(rest)
            }
        }
    }
}

impl Notation {
    /// `None`: the rest is not a version in this notation (so not this standard).
    fn parse(self, rest: &str) -> Option<Option<String>> {
        match self {
            Self::Dotted => numeric_components(rest, '.').map(Some),
            Self::Slashed => numeric_components(rest, '/').map(Some),
            Self::Underscored => numeric_components(rest, '_').map(Some),
            Self::Digits => {
                let ok = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
                ok.then(|| Some(join_chars(rest)))
            }
            Self::YearMonth => alphanumeric(rest).then(|| year_month(rest)),
            Self::Opaque => alphanumeric(rest).then_some(None),
        }
    }
}

/// `"2/6"` with separator `/` → `"2.6"`; `None` unless all components are numbers.
fn numeric_components(rest: &str, separator: char) -> Option<String> {
    let parts: Vec<&str> = rest.split(separator).collect();
    let ok = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| parts.join("."))
}

fn alphanumeric(rest: &str) -> bool {
    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn join_chars(digits: &str) -> String {
    let parts: Vec<String> = digits.chars().map(String::from).collect();
    parts.join(".")
}

/// `"2511a"` → `"25.11a"`, `"2605"` → `"26.05"`; anything else → `None`.
fn year_month(rest: &str) -> Option<String> {
    let (digits, suffix) = rest.split_at(rest.len().min(4));
    let month: u8 = digits.get(2..)?.parse().ok()?;
    let valid = digits.len() == 4
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&month)
        && suffix.len() <= 1
        && suffix.bytes().all(|b| b.is_ascii_lowercase());
    valid.then(|| format!("{}.{}{suffix}", &digits[..2], &digits[2..]))
}

/// Strips `prefix` from `ns`, treating `http://` and `https://` as the same scheme.
fn strip_uri_prefix<'a>(ns: &'a str, prefix: &str) -> Option<&'a str> {
    let (ns_rest, prefix_rest) = match (without_http_scheme(ns), without_http_scheme(prefix)) {
        (Some(ns_rest), Some(prefix_rest)) => (ns_rest, prefix_rest),
        (None, None) => (ns, prefix),
        _ => return None,
    };
    ns_rest.strip_prefix(prefix_rest)
}

fn same_uri(ns: &str, uri: &str) -> bool {
    strip_uri_prefix(ns, uri).is_some_and(str::is_empty)
}

fn without_http_scheme(uri: &str) -> Option<&str> {
    uri.strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
}

/// What a [`Standard`] looks like in JSON; the key is looked up in the table again so
/// that `key` and `name` stay `&'static str`.
#[derive(Deserialize)]
struct StandardRepr {
    key: String,
    version: Option<String>,
    #[allow(dead_code)] // accepted for symmetry with Serialize, taken from the table
    name: Option<String>,
}

impl<'de> Deserialize<'de> for Standard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = StandardRepr::deserialize(deserializer)?;
        let mut standard = standard_by_key(&repr.key).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown XÖV standard key {:?}", repr.key))
        })?;
        standard.version = repr.version;
        Ok(standard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_version(ns: &str) -> Option<(&'static str, Option<String>)> {
        standard_for_namespace(ns).map(|s| (s.key, s.version))
    }

    fn v(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn fixture_namespaces() {
        assert_eq!(
            key_version("http://www.xleitstelle.de/xbau/2/6"),
            Some(("xbau", v("2.6")))
        );
        assert_eq!(
            key_version("http://www.xleitstelle.de/xbau/kernmodul/1/3/0"),
            Some(("xbau-kernmodul", v("1.3.0")))
        );
        assert_eq!(
            key_version("http://www.xgewerbeanzeige.de/spezifikation/2.1"),
            Some(("xgewerbeanzeige", v("2.1")))
        );
        assert_eq!(
            key_version("urn:xoev-de:xdomea:schema:3.0.0"),
            Some(("xdomea", v("3.0.0")))
        );
        assert_eq!(
            key_version("https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0"),
            Some(("xwasser", v("1.0.0")))
        );
    }

    #[test]
    fn versions_are_parsed_not_listed() {
        assert_eq!(
            key_version("http://www.xleitstelle.de/xbau/2/7"),
            Some(("xbau", v("2.7")))
        );
        assert_eq!(
            key_version("http://www.xgewerbeanzeige.de/spezifikation/2.0"),
            Some(("xgewerbeanzeige", v("2.0")))
        );
        assert_eq!(
            key_version("http://www.xdomea.de/V2.2.0"),
            Some(("xdomea", v("2.2.0")))
        );
        assert_eq!(
            key_version("http://www.osci.de/xmeld2511a"),
            Some(("xmeld", v("25.11a")))
        );
        assert_eq!(
            key_version("http://www.osci.de/xmeld2605"),
            Some(("xmeld", v("26.05")))
        );
        assert_eq!(
            key_version("http://xpsw.domap.de/xpsw2511"),
            Some(("xpersonenstand", v("25.11")))
        );
        assert_eq!(
            key_version("https://www.xleitstelle.de/xbeteiligung/12"),
            Some(("xbeteiligung", v("1.2")))
        );
    }

    #[test]
    fn unreadable_versions_still_identify_the_standard() {
        assert_eq!(
            key_version("http://www.osci.de/xmeld34"),
            Some(("xmeld", None))
        );
        assert_eq!(
            key_version("http://www.xjustiz.de"),
            Some(("xjustiz", None))
        );
        assert_eq!(
            key_version("http://xbeteiligung.de/V0103"),
            Some(("xbeteiligung", None))
        );
    }

    #[test]
    fn scheme_and_trailing_slash_are_lenient() {
        assert_eq!(
            key_version("https://www.xleitstelle.de/xbau/2/6/"),
            Some(("xbau", v("2.6")))
        );
        assert_eq!(
            key_version("https://www.xjustiz.de/"),
            Some(("xjustiz", None))
        );
    }

    #[test]
    fn unknown_or_malformed_namespaces() {
        assert_eq!(
            key_version("http://www.xleitstelle.de/xbau/2/6/extra"),
            None
        );
        assert_eq!(key_version("http://www.xleitstelle.de/xbau/"), None);
        assert_eq!(key_version("urn:xoev-de:xdomea:schema:"), None);
        assert_eq!(key_version("urn:xoev-de:xdomea:schema:4.0.0x"), None);
        assert_eq!(key_version("http://www.xjustiz.de/nachricht"), None);
        assert_eq!(key_version("http://example.org/xbau/2/6"), None);
        assert_eq!(key_version(""), None);
        assert_eq!(
            key_version("http://xoev.de/schemata/basisnachricht/g2g/1_1"),
            None
        );
    }

    #[test]
    fn keys_round_trip_through_json() {
        let standard = standard_for_namespace("http://www.xleitstelle.de/xbau/2/6").unwrap();
        let json = serde_json::to_string(&standard).unwrap();
        assert_eq!(json, r#"{"key":"xbau","name":"XBau","version":"2.6"}"#);
        let back: Standard = serde_json::from_str(&json).unwrap();
        assert_eq!(back, standard);
        assert!(serde_json::from_str::<Standard>(r#"{"key":"xfoo","version":null}"#).is_err());
    }

    #[test]
    fn display_includes_version() {
        let standard = standard_for_namespace("urn:xoev-de:xdomea:schema:4.0.0").unwrap();
        assert_eq!(standard.to_string(), "xdomea 4.0.0");
        assert_eq!(standard_by_key("xjustiz").unwrap().to_string(), "XJustiz");
    }
}
