//! The vocabulary every stage shares: message ids, ledger states, and the envelope that
//! travels through the queue.
//!
//! The envelope is a claim check: it carries ids and metadata only, never payload bytes, so a
//! queue entry stays small whatever the size of the attachments. Workers fetch the parts from
//! the payload store by message id.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The broker's own id for a message: a UUIDv7, so ids sort by arrival time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    pub fn new() -> Self {
        MessageId(Uuid::now_v7())
    }

    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl From<Uuid> for MessageId {
    /// An id read back from a store that keeps it as a UUID (the PostgreSQL ledger).
    fn from(u: Uuid) -> Self {
        MessageId(u)
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for MessageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(MessageId)
    }
}

/// Milliseconds since the Unix epoch; what the ledger and the queue store.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as Millis
}

/// Formats stored milliseconds as RFC 3339 (UTC) for people and JSON output.
pub fn format_millis(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// Where a message is in its life. `received → validated → routed → delivering → delivered`
/// is the happy path; the others are side exits (see [`State::can_become`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Received,
    Validated,
    Routed,
    Delivering,
    Delivered,
    /// Invalid input; the sender is told where the transport allows it.
    Rejected,
    /// No route matched. Kept and listed until an operator adds a route and replays it.
    Unrouted,
    /// A delivery attempt failed transiently; the next attempt is scheduled.
    Retrying,
    /// Attempts exhausted or a permanent failure: needs an operator.
    Dead,
    /// An operator sent it round again.
    Replayed,
    /// An operator dealt with a dead or unrouted message by hand (e.g. handed it over on
    /// paper) and closed it; it is no longer listed as needing attention.
    Resolved,
    /// Payload deleted after the retention period; the ledger row stays as audit trail.
    Purged,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Received,
        State::Validated,
        State::Routed,
        State::Delivering,
        State::Delivered,
        State::Rejected,
        State::Unrouted,
        State::Retrying,
        State::Dead,
        State::Replayed,
        State::Resolved,
        State::Purged,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            State::Received => "received",
            State::Validated => "validated",
            State::Routed => "routed",
            State::Delivering => "delivering",
            State::Delivered => "delivered",
            State::Rejected => "rejected",
            State::Unrouted => "unrouted",
            State::Retrying => "retrying",
            State::Dead => "dead",
            State::Replayed => "replayed",
            State::Resolved => "resolved",
            State::Purged => "purged",
        }
    }

    /// The ledger's state machine. Anything not listed here is refused, so a bug elsewhere
    /// cannot, say, mark a rejected message delivered.
    pub fn can_become(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Received, Validated | Rejected)
                // `dead` from `validated`: parked by route policy (no schema to check against).
                | (Validated, Routed | Unrouted | Rejected | Dead)
                | (Routed, Delivering | Dead)
                // A second `delivering` is a new attempt after a lost lease (crash, timeout).
                | (Delivering, Delivering | Delivered | Retrying | Dead)
                | (Retrying, Delivering | Dead)
                | (Dead | Unrouted | Delivered, Replayed)
                | (Replayed, Routed | Unrouted)
                | (Dead | Unrouted, Resolved)
                | (Delivered | Rejected | Dead | Unrouted | Resolved, Purged)
        )
    }

    /// States in which nothing more happens without an operator.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Delivered
                | State::Rejected
                | State::Dead
                | State::Unrouted
                | State::Resolved
                | State::Purged
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL
            .iter()
            .find(|st| st.as_str() == s)
            .copied()
            .ok_or_else(|| format!("unknown state `{s}`"))
    }
}

/// What intake learned about an XÖV message from its header (Nachrichtenkopf). Everything
/// here is metadata that may be logged and routed on; none of it is payload content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct XoevHeader {
    /// Standard key, e.g. `xgewerbeanzeige`; `None` for unknown namespaces and non-XML.
    pub standard: Option<String>,
    pub version: Option<String>,
    pub namespace: Option<String>,
    /// Root element local name, e.g. `abh.gewerbemeldung.0500`.
    pub root: Option<String>,
    /// Message type code, e.g. `0500`.
    pub message_type: Option<String>,
    pub message_uuid: Option<String>,
    /// Author authority as `prefix:id`.
    pub author: Option<String>,
    /// Reader authority as `prefix:id`.
    pub reader: Option<String>,
    /// The message says it is a test message (`test` attribute, or the XTA transport's
    /// `TestMsg`).
    pub test: bool,
    /// What the XTA transport order said, for messages that came over XTA 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xta: Option<XtaMeta>,
}

/// What an XTA 2 transport order (`MessageMetaData`) says about a message: identifiers and
/// codes that routes match on and operators see — no payload content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct XtaMeta {
    /// The XTA MessageID (`MsgIdentification/wsa:MessageID`).
    pub message_id: String,
    /// Author (`Originators/Author`) as `prefix:kennung`.
    pub author: String,
    /// Reader (`Destinations/Reader`) as `prefix:kennung`: the mailbox it was fetched from.
    pub reader: String,
    /// DVDV service URI (`Qualifier/Service`).
    pub service: String,
    /// Business scenario code (`Qualifier/BusinessScenario`).
    pub business_scenario: String,
    /// Message type code (`Qualifier/MessageType/code`).
    pub message_type: String,
    /// `MessageType/@payloadSchema`: the namespace of the payload's schema.
    #[serde(default)]
    pub payload_schema: String,
    /// `@TestMsg`.
    #[serde(default)]
    pub test: bool,
}

/// One stored part of a message: the main document or an attachment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Part {
    /// `payload` for the main document, `attachment-1`, `attachment-2`, … for the rest.
    pub name: String,
    pub content_type: String,
    /// The sender's file name, if any. Treated as personal data: stored, never logged.
    pub filename: Option<String>,
    pub size: u64,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
}

/// What travels through a connector's queue. Small by design (a claim check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub message_id: MessageId,
    pub tenant: String,
    pub source: String,
    pub transport_id: Option<String>,
    pub received_at: Millis,
    pub header: XoevHeader,
    /// LeiKa Leistungsschlüssel (federal service catalogue key), when the transport names one.
    pub service_key: Option<String>,
    /// The transport's destination (FIT-Connect destination id, XTA reader mailbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub route: String,
    pub connector: String,
    /// Mapping to apply before delivery (the route's), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    pub parts: Vec<Part>,
    /// W3C `traceparent` of the intake span, so a worker continues the same trace.
    pub traceparent: Option<String>,
    /// Idempotency key for the Fachverfahren when it is not the message id: set when an
    /// operator forces a delivered message out again, which must not be recognised as a
    /// repeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_key: Option<String>,
}

impl Envelope {
    /// The key a Fachverfahren uses to recognise a repeated delivery.
    pub fn idempotency_key(&self) -> String {
        self.delivery_key
            .clone()
            .unwrap_or_else(|| self.message_id.to_string())
    }

    pub fn payload(&self) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == PAYLOAD_PART)
    }

    pub fn attachments(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.name != PAYLOAD_PART)
    }
}

/// Part name of the main document.
pub const PAYLOAD_PART: &str = "payload";

/// Longest file name kept, in bytes (common file systems allow 255).
pub const MAX_FILENAME_BYTES: usize = 255;

/// A sender's file name as it may be kept and handed on: only its last path segment (both
/// `/` and `\` count as separators, so `../../etc/passwd` and `C:\temp\a.xml` lose their
/// directories), without control characters and surrounding blanks, at most
/// [`MAX_FILENAME_BYTES`] (cut at a character boundary, the extension kept where it fits).
/// `None` when nothing usable is left (empty, `.`, `..`): the connector then uses its own
/// name. Letters outside ASCII stay (`Antrag Müller.xml`); connectors that write files
/// narrow further for their file system.
pub fn clean_filename(raw: &str) -> Option<String> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        return None;
    }
    if name.len() <= MAX_FILENAME_BYTES {
        return Some(name.to_string());
    }
    // Keep a short extension (`.xml`) so that the file still opens with the right program.
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut stem_end = MAX_FILENAME_BYTES - ext.len();
    while !name.is_char_boundary(stem_end) {
        stem_end -= 1;
    }
    Some(format!("{}{ext}", &name[..stem_end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_allowed() {
        use State::*;
        let path = [Received, Validated, Routed, Delivering, Delivered];
        for w in path.windows(2) {
            assert!(w[0].can_become(w[1]), "{} -> {}", w[0], w[1]);
        }
    }

    #[test]
    fn terminal_states_cannot_be_rewritten() {
        use State::*;
        for next in State::ALL {
            if next != Purged {
                assert!(!Rejected.can_become(next), "rejected -> {next}");
            }
            assert!(!Purged.can_become(next), "purged -> {next}");
        }
        assert!(!Delivered.can_become(Delivering));
        assert!(!Dead.can_become(Delivered));
        assert!(!Unrouted.can_become(Routed), "needs a replay first");
    }

    #[test]
    fn retry_and_replay_loops() {
        use State::*;
        assert!(Delivering.can_become(Retrying));
        assert!(Retrying.can_become(Delivering));
        assert!(Dead.can_become(Replayed));
        assert!(Replayed.can_become(Routed));
        assert!(Unrouted.can_become(Replayed));
    }

    #[test]
    fn only_operator_cases_can_be_resolved() {
        use State::*;
        for s in State::ALL {
            assert_eq!(
                s.can_become(Resolved),
                matches!(s, Dead | Unrouted),
                "{s} -> resolved"
            );
        }
        for next in State::ALL {
            assert_eq!(
                Resolved.can_become(next),
                next == Purged,
                "resolved -> {next}"
            );
        }
    }

    #[test]
    fn file_names_lose_paths_controls_and_excess() {
        assert_eq!(
            clean_filename("Antrag Müller.xml").as_deref(),
            Some("Antrag Müller.xml")
        );
        assert_eq!(
            clean_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(clean_filename("C:\\temp\\a.xml").as_deref(), Some("a.xml"));
        assert_eq!(clean_filename(" a\nb.xml ").as_deref(), Some("ab.xml"));
        for nothing in ["", "..", ".", "dir/", "../..", " \t"] {
            assert_eq!(clean_filename(nothing), None, "{nothing:?}");
        }
        let long = format!("{}.xml", "ä".repeat(200));
        let kept = clean_filename(&long).unwrap();
        assert!(
            kept.len() <= MAX_FILENAME_BYTES && kept.ends_with(".xml"),
            "{kept}"
        );
    }

    #[test]
    fn states_round_trip_through_strings() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>().unwrap(), s);
        }
        assert!("bogus".parse::<State>().is_err());
    }
}
