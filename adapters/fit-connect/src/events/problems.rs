//! The catalogue of problem types a subscriber reports in `reject-submission` — kept here and
//! nowhere else. Type URIs live under `https://schema.fitko.de/fit-connect/events/problems/`.
//!
//! *Unverified*: PROTOCOLS.md lists the names below as "in use" without claiming completeness,
//! and FITKO's exact titles are not confirmed; [`ProblemType::is_verified`] says so for each.
//! Unknown types received from others are kept verbatim ([`ProblemType::Other`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix of every event problem type URI.
pub const PROBLEM_PREFIX: &str = "https://schema.fitko.de/fit-connect/events/problems/";

/// Where in a submission a problem was found — the `instance` of the problem.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemInstance {
    /// `metadata`.
    Metadata,
    /// `data`.
    Data,
    /// `attachment:<id>`.
    Attachment(String),
}

impl fmt::Display for ProblemInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemInstance::Metadata => f.write_str("metadata"),
            ProblemInstance::Data => f.write_str("data"),
            ProblemInstance::Attachment(id) => write!(f, "attachment:{id}"),
        }
    }
}

impl ProblemInstance {
    /// Parses `metadata`, `data` or `attachment:<id>`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "metadata" => Some(ProblemInstance::Metadata),
            "data" => Some(ProblemInstance::Data),
            _ => s
                .strip_prefix("attachment:")
                .map(|id| ProblemInstance::Attachment(id.to_string())),
        }
    }
}

macro_rules! problem_types {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $title:literal; )*) => {
        /// A problem type of `reject-submission`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ProblemType {
            $( $(#[$doc])* $variant, )*
            /// A type URI not in this catalogue (received from elsewhere), kept verbatim.
            Other(String),
        }

        impl ProblemType {
            /// Every catalogued type.
            pub const ALL: &'static [ProblemType] = &[$(ProblemType::$variant,)*];

            /// The last path segment, e.g. `hash-mismatch`.
            pub fn name(&self) -> &str {
                match self {
                    $(ProblemType::$variant => $name,)*
                    ProblemType::Other(uri) => uri.rsplit('/').next().unwrap_or(uri),
                }
            }

            /// A default German title (the language of FIT-Connect's users). *Unverified* wording.
            pub fn default_title(&self) -> &str {
                match self {
                    $(ProblemType::$variant => $title,)*
                    ProblemType::Other(_) => "Unbekanntes Problem",
                }
            }

            /// Parses a type URI.
            pub fn from_uri(uri: &str) -> ProblemType {
                match uri.strip_prefix(PROBLEM_PREFIX) {
                    $(Some($name) => ProblemType::$variant,)*
                    _ => ProblemType::Other(uri.to_string()),
                }
            }
        }
    };
}

problem_types! {
    /// A JWE could not be decrypted (wrong key, unknown kid, corrupted, unsupported algorithm).
    EncryptionIssue => "encryption-issue", "Entschlüsselungsfehler";
    /// Decrypted content is not syntactically valid (e.g. metadata is not JSON). *Unverified name.*
    SyntaxViolation => "syntax-violation", "Syntax-Fehler";
    /// No schema is referenced where one is required (metadata `$schema`, data `submissionSchema`).
    MissingSchema => "missing-schema", "Schema-Referenz fehlt";
    /// The referenced schema is not supported by this subscriber.
    UnsupportedSchema => "unsupported-schema", "Schema nicht unterstützt";
    /// Content violates its schema (metadata schema, XSD, JSON Schema of the data).
    SchemaViolation => "schema-violation", "Schema-Verletzung";
    /// A SHA-512 hash in the metadata does not match the decrypted content.
    HashMismatch => "hash-mismatch", "Prüfsumme stimmt nicht";
    /// An authentication tag in the Zustelldienst's submit event does not match the JWE received.
    IncorrectAuthenticationTag => "incorrect-authentication-tag", "Authentication-Tag ungültig";
    /// Announced, described (metadata) and uploaded attachments differ.
    AttachmentsMismatch => "attachments-mismatch", "Anlagen stimmen nicht überein";
    /// The service type announced to the Zustelldienst differs from the metadata's.
    ServiceMismatch => "service-mismatch", "Verwaltungsleistung stimmt nicht überein";
    /// The case's event log is not valid (bad or missing submit event).
    InvalidEventLog => "invalid-event-log", "Ungültiges Event-Log";
}

impl ProblemType {
    /// The full type URI.
    pub fn uri(&self) -> String {
        match self {
            ProblemType::Other(uri) => uri.clone(),
            known => format!("{PROBLEM_PREFIX}{}", known.name()),
        }
    }

    /// Whether this type was checked against FITKO's published catalogue. None is yet.
    pub fn is_verified(&self) -> bool {
        false
    }
}

impl fmt::Display for ProblemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

impl Serialize for ProblemType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.uri())
    }
}

impl<'de> Deserialize<'de> for ProblemType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let uri = String::deserialize(d)?;
        Ok(ProblemType::from_uri(&uri))
    }
}

/// One problem in a `reject-submission` event. `detail` must name what is wrong, never quote
/// content: it travels back to the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Type URI.
    #[serde(rename = "type")]
    pub problem_type: ProblemType,
    /// Short title.
    pub title: String,
    /// What exactly is wrong.
    pub detail: String,
    /// `metadata`, `data` or `attachment:<id>`.
    pub instance: String,
}

impl Problem {
    /// A problem with the catalogue's default title.
    pub fn new(
        problem_type: ProblemType,
        instance: ProblemInstance,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            title: problem_type.default_title().to_string(),
            problem_type,
            detail: detail.into(),
            instance: instance.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        for t in ProblemType::ALL {
            assert!(t.uri().starts_with(PROBLEM_PREFIX));
            assert_eq!(&ProblemType::from_uri(&t.uri()), t);
        }
        assert_eq!(
            ProblemType::HashMismatch.uri(),
            "https://schema.fitko.de/fit-connect/events/problems/hash-mismatch"
        );
        let other = ProblemType::from_uri("urn:x:y");
        assert_eq!(other.uri(), "urn:x:y");
    }

    #[test]
    fn instances() {
        assert_eq!(
            ProblemInstance::Attachment("a".into()).to_string(),
            "attachment:a"
        );
        assert_eq!(ProblemInstance::parse("data"), Some(ProblemInstance::Data));
        assert_eq!(
            ProblemInstance::parse("attachment:x"),
            Some(ProblemInstance::Attachment("x".into()))
        );
    }
}
