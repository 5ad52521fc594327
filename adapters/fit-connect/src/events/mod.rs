//! Security Event Tokens (SET, RFC 8417): how a FIT-Connect subscriber answers a submission and
//! how the Zustelldienst records what happened to it. Each SET is a PS512 JWS with header
//! `{typ: "secevent+jwt", alg: "PS512", kid}` and the claims `$schema`, `jti`, `iss`, `iat`,
//! `sub: "submission:<id>"`, `txn: "case:<caseId>"` and `events` with exactly one event.
//!
//! The subscriber signs `accept-submission` (carrying the authentication tags of every JWE it
//! received) or `reject-submission` (carrying [`Problem`]s) with the destination's *signing*
//! key and posts it to the case's event log; the Zustelldienst signs `submit-submission` with its
//! own key (published at `/.well-known/jwks.json`).

pub mod problems;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::jose::{JoseError, JwsHeader, PrivateKey, PublicKey, jws};

pub use problems::{PROBLEM_PREFIX, Problem, ProblemInstance, ProblemType};

/// `typ` of every SET.
pub const SET_TYP: &str = "secevent+jwt";
/// `$schema` of the SET payload. The version segment is *unverified* against FITKO's current
/// schema repository; override per call with [`SetSubject::schema`] if FITKO publishes another.
pub const SET_PAYLOAD_SCHEMA: &str =
    "https://schema.fitko.de/fit-connect/set-payload/1.0.0/set-payload.schema.json";
/// Prefix of event type URIs.
pub const EVENT_PREFIX: &str = "https://schema.fitko.de/fit-connect/events/";
/// The Zustelldienst accepted a submitted submission (it signs this itself).
pub const EVENT_SUBMIT: &str = "https://schema.fitko.de/fit-connect/events/submit-submission";
/// The subscriber accepted the submission.
pub const EVENT_ACCEPT: &str = "https://schema.fitko.de/fit-connect/events/accept-submission";
/// The subscriber rejected the submission.
pub const EVENT_REJECT: &str = "https://schema.fitko.de/fit-connect/events/reject-submission";

/// Why a SET could not be built or was not accepted.
#[derive(Debug, Error)]
pub enum EventError {
    /// Signature or structure of the JWS.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// The JWS header is not that of a FIT-Connect SET.
    #[error("not a FIT-Connect SET header: {0}")]
    Header(String),
    /// The claims are missing or contradictory.
    #[error("invalid SET claims: {0}")]
    Claims(String),
    /// The signing key has no kid, which the header must carry.
    #[error("the signing key has no kid; FIT-Connect SETs must name their key")]
    MissingKid,
}

/// The authentication tags of the JWEs a subscriber received: the 5th segment of each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AuthenticationTags {
    /// Tag of the metadata JWE.
    pub metadata: String,
    /// Tag of the data JWE (absent for submissions without data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Tag of each attachment JWE by attachment id.
    #[serde(default)]
    pub attachments: BTreeMap<String, String>,
}

/// Who says something about which submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSubject {
    /// `iss`: the destinationId for subscriber events; the Submission API URL for its own.
    pub issuer: String,
    /// The submission.
    pub submission_id: String,
    /// The case.
    pub case_id: String,
    /// `$schema` to put into the claims.
    pub schema: String,
}

impl SetSubject {
    /// A subject with the default payload schema.
    pub fn new(
        issuer: impl Into<String>,
        submission_id: impl Into<String>,
        case_id: impl Into<String>,
    ) -> Self {
        SetSubject {
            issuer: issuer.into(),
            submission_id: submission_id.into(),
            case_id: case_id.into(),
            schema: SET_PAYLOAD_SCHEMA.to_string(),
        }
    }
}

/// An event as carried in `events`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `submit-submission` (signed by the Zustelldienst). Tags are present in newer
    /// Zustelldienst versions (*unverified* for v1).
    Submit {
        /// Tags of the JWEs as submitted.
        authentication_tags: Option<AuthenticationTags>,
    },
    /// `accept-submission`.
    Accept {
        /// Tags of the JWEs as received.
        authentication_tags: AuthenticationTags,
    },
    /// `reject-submission`.
    Reject {
        /// What was wrong.
        problems: Vec<Problem>,
    },
    /// Any other event, kept verbatim.
    Other {
        /// Event type URI.
        uri: String,
        /// Event payload.
        payload: Value,
    },
}

impl Event {
    /// The event type URI.
    pub fn uri(&self) -> &str {
        match self {
            Event::Submit { .. } => EVENT_SUBMIT,
            Event::Accept { .. } => EVENT_ACCEPT,
            Event::Reject { .. } => EVENT_REJECT,
            Event::Other { uri, .. } => uri,
        }
    }

    fn payload(&self) -> Value {
        match self {
            Event::Submit {
                authentication_tags: Some(tags),
            }
            | Event::Accept {
                authentication_tags: tags,
            } => serde_json::json!({ "authenticationTags": tags }),
            Event::Submit {
                authentication_tags: None,
            } => serde_json::json!({}),
            Event::Reject { problems } => serde_json::json!({ "problems": problems }),
            Event::Other { payload, .. } => payload.clone(),
        }
    }

    fn parse(uri: &str, payload: &Value) -> Result<Event, EventError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Tags {
            authentication_tags: Option<AuthenticationTags>,
        }
        #[derive(Deserialize)]
        struct Problems {
            problems: Vec<Problem>,
        }
        let bad = |what: &str| EventError::Claims(format!("{what} event payload is malformed"));
        Ok(match uri {
            EVENT_SUBMIT => Event::Submit {
                authentication_tags: serde_json::from_value::<Tags>(payload.clone())
                    .map_err(|_| bad("submit-submission"))?
                    .authentication_tags,
            },
            EVENT_ACCEPT => Event::Accept {
                authentication_tags: serde_json::from_value::<Tags>(payload.clone())
                    .map_err(|_| bad("accept-submission"))?
                    .authentication_tags
                    .ok_or_else(|| {
                        EventError::Claims("accept-submission without authenticationTags".into())
                    })?,
            },
            EVENT_REJECT => {
                let problems = serde_json::from_value::<Problems>(payload.clone())
                    .map_err(|_| bad("reject-submission"))?
                    .problems;
                if problems.is_empty() {
                    return Err(EventError::Claims(
                        "reject-submission without problems".into(),
                    ));
                }
                Event::Reject { problems }
            }
            other => Event::Other {
                uri: other.to_string(),
                payload: payload.clone(),
            },
        })
    }
}

/// The claims of a FIT-Connect SET.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetClaims {
    /// Payload schema URI.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Unique token id (UUID).
    pub jti: String,
    /// Issuer.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// `submission:<id>`.
    pub sub: String,
    /// `case:<caseId>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn: Option<String>,
    /// Exactly one event: type URI → payload.
    pub events: BTreeMap<String, Value>,
}

impl SetClaims {
    /// Claims for `event` about `subject`, issued now with a fresh `jti`.
    pub fn new(subject: &SetSubject, event: &Event) -> Self {
        let mut events = BTreeMap::new();
        events.insert(event.uri().to_string(), event.payload());
        SetClaims {
            schema: subject.schema.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            iss: subject.issuer.clone(),
            iat: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            sub: format!("submission:{}", subject.submission_id),
            txn: Some(format!("case:{}", subject.case_id)),
            events,
        }
    }

    /// The submission id from `sub`.
    pub fn submission_id(&self) -> Option<&str> {
        self.sub.strip_prefix("submission:")
    }

    /// The case id from `txn`.
    pub fn case_id(&self) -> Option<&str> {
        self.txn.as_deref().and_then(|t| t.strip_prefix("case:"))
    }

    /// The single event, parsed.
    pub fn event(&self) -> Result<Event, EventError> {
        let mut it = self.events.iter();
        match (it.next(), it.next()) {
            (Some((uri, payload)), None) => Event::parse(uri, payload),
            (None, _) => Err(EventError::Claims("events is empty".into())),
            _ => Err(EventError::Claims(
                "events holds more than one event".into(),
            )),
        }
    }
}

/// A SET whose signature and structure verified.
#[derive(Debug, Clone)]
pub struct SecurityEventToken {
    /// The JWS header.
    pub header: JwsHeader,
    /// The claims.
    pub claims: SetClaims,
    /// The event, parsed.
    pub event: Event,
}

/// Signs `claims` as a SET with `key` (which must have a kid).
pub fn sign_set(claims: &SetClaims, key: &PrivateKey) -> Result<String, EventError> {
    let kid = key.kid().ok_or(EventError::MissingKid)?;
    let header = JwsHeader {
        alg: jws::ALG_PS512.to_string(),
        kid: Some(kid.to_string()),
        typ: Some(SET_TYP.to_string()),
        cty: None,
        other: Default::default(),
    };
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    Ok(jws::sign(header, &payload, key)?)
}

/// Builds and signs `accept-submission`.
pub fn accept_submission(
    subject: &SetSubject,
    authentication_tags: AuthenticationTags,
    key: &PrivateKey,
) -> Result<String, EventError> {
    sign_set(
        &SetClaims::new(
            subject,
            &Event::Accept {
                authentication_tags,
            },
        ),
        key,
    )
}

/// Builds and signs `reject-submission`; `problems` must not be empty.
pub fn reject_submission(
    subject: &SetSubject,
    problems: Vec<Problem>,
    key: &PrivateKey,
) -> Result<String, EventError> {
    if problems.is_empty() {
        return Err(EventError::Claims(
            "reject-submission needs at least one problem".into(),
        ));
    }
    sign_set(&SetClaims::new(subject, &Event::Reject { problems }), key)
}

/// Verifies a SET with `key`: PS512 signature, `typ`, matching `kid`, claims shape, one event.
pub fn verify_set(token: &str, key: &PublicKey) -> Result<SecurityEventToken, EventError> {
    let header = jws::peek_header(token)?;
    if header.typ.as_deref() != Some(SET_TYP) {
        return Err(EventError::Header(format!(
            "typ is {:?}, expected {SET_TYP:?}",
            header.typ
        )));
    }
    match (header.kid.as_deref(), key.kid()) {
        (None, _) => return Err(EventError::Header("kid is missing".into())),
        (Some(a), Some(b)) if a != b => {
            return Err(EventError::Header(format!(
                "kid {a:?} does not name the expected key {b:?}"
            )));
        }
        _ => {}
    }
    let verified = jws::verify(token, key)?;
    let claims: SetClaims = serde_json::from_slice(&verified.payload)
        .map_err(|e| EventError::Claims(format!("claims do not parse ({})", e.classify_name())))?;
    if claims.submission_id().is_none() {
        return Err(EventError::Claims("sub is not submission:<id>".into()));
    }
    if claims.txn.is_some() && claims.case_id().is_none() {
        return Err(EventError::Claims("txn is not case:<id>".into()));
    }
    let event = claims.event()?;
    Ok(SecurityEventToken {
        header: verified.header,
        claims,
        event,
    })
}

/// Verifies a SET with whichever of `keys` its `kid` names (e.g. the Zustelldienst's JWKS).
pub fn verify_set_with(token: &str, keys: &[PublicKey]) -> Result<SecurityEventToken, EventError> {
    let header = jws::peek_header(token)?;
    let kid = header
        .kid
        .ok_or_else(|| EventError::Header("kid is missing".into()))?;
    let key = keys
        .iter()
        .find(|k| k.kid() == Some(kid.as_str()))
        .ok_or_else(|| EventError::Header(format!("no key with kid {kid:?}")))?;
    verify_set(token, key)
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "missing or mistyped claim",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
