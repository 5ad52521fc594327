//! What the sniffer found out about a message: the values intake stores in the ledger and
//! routing matches on.
//!
//! These types are plain data (serialisable for `--json` output and the queue envelope).
//! They hold header facts only — identifiers, codes, authority names, timestamps — never
//! content from the message body.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::standards::Standard;

/// The header facts of one XÖV message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sniffed {
    /// Namespace URI of the root element, if it has one.
    pub namespace: Option<String>,
    /// Local name of the root element, e.g. `abh.gewerbemeldung.0500`.
    pub root: String,
    /// The standard the namespace belongs to; `None` when the namespace is unknown (a
    /// result, not an error: such messages can still be routed by root or parked).
    pub standard: Option<Standard>,
    /// The root's `standard` attribute as written, e.g. `XBau-Hochbau`.
    pub standard_attr: Option<String>,
    /// The root's `version` attribute as written.
    pub version_attr: Option<String>,
    /// The message type: the header's `nachrichtentyp` code, else the numeric suffix of
    /// the root name (`...0500` → `0500`).
    pub message_type: Option<String>,
    /// `nachrichtenUUID` from the header (xdomea 3 has none; its `ProzessID` names the
    /// process, not the message, and is not reported here).
    pub message_uuid: Option<String>,
    /// `erstellungszeitpunkt` as written (not parsed; producers vary in precision and zone).
    pub created_at: Option<String>,
    /// The authority that wrote the message (`autor`, xdomea `Absender`).
    pub author: Option<Authority>,
    /// The authority the message is for (`leser`, xdomea `Empfaenger`).
    pub reader: Option<Authority>,
    /// Whether the producer marked this as a test message (see [`Sniffed::test_attr`]).
    ///
    /// XÖV says: if the root has a `test` attribute, the message is a test message,
    /// whatever the value (XGewerbeanzeige sends `test="100"`, XWasser `test="true"`).
    /// We follow that, with one concession to producers that always write the attribute:
    /// `"false"` and `"0"` (ignoring case and surrounding blanks) mean production.
    pub test: bool,
    /// The root's `test` attribute as written.
    pub test_attr: Option<String>,
    /// Root attribute `produkt` (xdomea 3: `SendendesSystem/Produktname`).
    pub product: Option<String>,
    /// Root attribute `produkthersteller`.
    pub product_vendor: Option<String>,
    /// Root attribute `produktversion` (xdomea 3: `SendendesSystem/Version`).
    pub product_version: Option<String>,
    /// Which kind of message header (Nachrichtenkopf) was found.
    pub dialect: HeaderDialect,
    /// Inconsistencies worth an operator's attention that do not stop processing, e.g.
    /// a `nachrichtentyp` code that disagrees with the root name. Codes and element
    /// names only, never values from the message body.
    pub warnings: Vec<String>,
}

/// The kind of message header (Nachrichtenkopf) a message carries. Three generations of
/// XÖV headers are in use, plus xdomea's own two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HeaderDialect {
    /// XInneres-style `nachrichtenkopf` with `leser|autor/behoerdenkennung/praefix` +
    /// `kennung` code lists (XGewerbeanzeige 2.x, XBau ≤ 2.3, older XInneres standards).
    #[serde(rename = "xinneres")]
    XInneres,
    /// XÖV Basisnachricht G2G 1.x, namespace-qualified: `nachrichtenkopf.g2g` with
    /// `leser|autor/verzeichnisdienst` + `kennung` `"prefix:id"` (e.g. XBeteiligung).
    #[serde(rename = "g2g_qualified")]
    G2gQualified,
    /// The same header without namespaces on its elements (XBau 2.4–2.6, XWasser,
    /// XMeld, XPersonenstand).
    #[serde(rename = "g2g_unqualified")]
    G2gUnqualified,
    /// xdomea 2.x/3.x `Kopf` with `Absender|Empfaenger/Behoerdenkennung`.
    #[serde(rename = "xdomea_kopf3")]
    XdomeaKopf3,
    /// xdomea 4.x `nachrichtenkopf` (`identifikation.nachricht`, `leser|autor`).
    #[serde(rename = "xdomea4")]
    Xdomea4,
    /// No header in a known dialect (XJustiz, non-XÖV XML, or no header at all).
    #[serde(rename = "none")]
    None,
}

impl fmt::Display for HeaderDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::XInneres => "XInneres nachrichtenkopf",
            Self::G2gQualified => "nachrichtenkopf.g2g (qualified)",
            Self::G2gUnqualified => "nachrichtenkopf.g2g (unqualified)",
            Self::XdomeaKopf3 => "xdomea Kopf",
            Self::Xdomea4 => "xdomea 4 nachrichtenkopf",
            Self::None => "no known header",
        })
    }
}

/// An authority (Behörde or other public body) as identified in a message header.
///
/// For DVDV-registered authorities the pair `prefix:id` is the address routing matches
/// on (`psw:01003110`, `meldid:12052000`). The prefix is stored in lower case: the DVDV
/// prefix code list writes all but one prefix (`MELDID`) in lower case, none differ only
/// by case, and producers are inconsistent, so lower case makes route matching reliable.
/// The `id` is kept exactly as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Authority {
    /// DVDV prefix (Präfix), lower-cased; `None` when the header gives none.
    pub prefix: Option<String>,
    /// The authority's key within the prefix (Kennung), e.g. an AGS.
    pub id: String,
    /// Name of the authority as written in the header, if given.
    pub name: Option<String>,
}

impl Authority {
    /// Builds an authority, normalising the prefix and dropping blank parts.
    pub(crate) fn new(prefix: Option<&str>, id: &str, name: Option<&str>) -> Self {
        let prefix = prefix
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_lowercase);
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from);
        Self {
            prefix,
            id: id.trim().to_owned(),
            name,
        }
    }
}

/// Parses the `prefix:id` (or bare `id`) form, e.g. from a routing rule, with the same
/// normalisation as the sniffer so that both compare equal. The name stays empty.
impl std::str::FromStr for Authority {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let authority = match s.split_once(':') {
            Some((prefix, id)) => Self::new(Some(prefix), id, None),
            None => Self::new(None, s, None),
        };
        if authority.id.is_empty() || (s.contains(':') && authority.prefix.is_none()) {
            return Err("expected an authority as prefix:id, e.g. psw:01003110");
        }
        Ok(authority)
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.prefix {
            Some(prefix) => write!(f, "{prefix}:{}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_display_and_normalisation() {
        let a = Authority::new(Some(" MELDID "), " 12052000 ", Some("  "));
        assert_eq!(a.to_string(), "meldid:12052000");
        assert_eq!(a.name, None);
        let b = Authority::new(None, "LATh", Some("Landesarchiv"));
        assert_eq!(b.to_string(), "LATh");
        let c = Authority::new(Some(""), "1", None);
        assert_eq!(c.prefix, None);
    }

    #[test]
    fn authority_parses_like_the_sniffer_reads_it() {
        let parsed: Authority = "PSW:01003110".parse().unwrap();
        assert_eq!(parsed, Authority::new(Some("psw"), "01003110", None));
        assert_eq!(parsed.to_string(), "psw:01003110");
        assert_eq!("LATh".parse::<Authority>().unwrap().to_string(), "LATh");
        for bad in ["", ":1", "psw:", " : "] {
            assert!(bad.parse::<Authority>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dialect_serialises_in_snake_case() {
        let json = serde_json::to_string(&HeaderDialect::G2gUnqualified).unwrap();
        assert_eq!(json, r#""g2g_unqualified""#);
    }
}
