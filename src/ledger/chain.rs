//! The hash chain over a message's history, which makes tampering with the audit trail
//! detectable: each entry's hash covers its own fields and the previous entry's hash, and the
//! first entry chains to a genesis hash over the message's identity.
//!
//! Fields are length-prefixed before hashing so that no two different histories can produce
//! the same byte stream.

use super::{ChainVerdict, HistoryEntry, MessageRecord};
use crate::message::{MessageId, Millis, State};
use sha2::{Digest, Sha256};

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// Hash the first history entry chains to.
pub fn genesis(
    id: MessageId,
    tenant: &str,
    source: &str,
    transport_id: Option<&str>,
    received_at: Millis,
) -> String {
    let mut h = Sha256::new();
    field(&mut h, b"amtsbote-ledger-v1");
    field(&mut h, id.as_uuid().as_bytes());
    field(&mut h, tenant.as_bytes());
    field(&mut h, source.as_bytes());
    field(&mut h, transport_id.unwrap_or("").as_bytes());
    field(&mut h, &received_at.to_be_bytes());
    hex::encode(h.finalize())
}

/// The fields of one history entry that the chain covers.
pub struct Link<'a> {
    pub id: MessageId,
    pub seq: u32,
    pub state: State,
    pub at: Millis,
    pub actor: &'a str,
    pub reason: &'a str,
    pub attempt: Option<u32>,
}

/// Hash of an entry given the previous entry's hash.
pub fn link(prev_hash: &str, l: &Link<'_>) -> String {
    let mut h = Sha256::new();
    field(&mut h, prev_hash.as_bytes());
    field(&mut h, l.id.as_uuid().as_bytes());
    field(&mut h, &l.seq.to_be_bytes());
    field(&mut h, l.state.as_str().as_bytes());
    field(&mut h, &l.at.to_be_bytes());
    field(&mut h, l.actor.as_bytes());
    field(&mut h, l.reason.as_bytes());
    field(
        &mut h,
        &l.attempt.map(i64::from).unwrap_or(-1).to_be_bytes(),
    );
    hex::encode(h.finalize())
}

/// Recomputes the chain of one message from its identity and history: the one check every
/// ledger implementation answers [`super::Ledger::verify`] with.
pub fn verify(record: &MessageRecord, history: &[HistoryEntry]) -> ChainVerdict {
    let mut prev = genesis(
        record.id,
        &record.tenant,
        &record.source,
        record.transport_id.as_deref(),
        record.received_at,
    );
    for (i, e) in history.iter().enumerate() {
        let expected = link(
            &prev,
            &Link {
                id: record.id,
                seq: e.seq,
                state: e.state,
                at: e.at,
                actor: &e.actor,
                reason: &e.reason,
                attempt: e.attempt,
            },
        );
        if e.seq != i as u32 + 1 || e.prev_hash != prev || e.hash != expected {
            return ChainVerdict::Broken { seq: e.seq };
        }
        prev = expected;
    }
    if prev != record.head_hash {
        return ChainVerdict::Broken {
            seq: history.len() as u32,
        };
    }
    ChainVerdict::Intact {
        entries: history.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reason: &str) -> Link<'_> {
        Link {
            id: "0190f5e0-0000-7000-8000-000000000001".parse().unwrap(),
            seq: 1,
            state: State::Received,
            at: 1_700_000_000_000,
            actor: "intake",
            reason,
            attempt: None,
        }
    }

    #[test]
    fn any_field_change_changes_the_hash() {
        let base = link("g", &entry("ok"));
        assert_ne!(base, link("g", &entry("ok!")));
        assert_ne!(base, link("h", &entry("ok")));
        let mut e = entry("ok");
        e.state = State::Rejected;
        assert_ne!(base, link("g", &e));
        let mut e = entry("ok");
        e.attempt = Some(0);
        assert_ne!(base, link("g", &e));
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let mut a = entry("b");
        a.actor = "a";
        let mut b = entry("");
        b.actor = "ab";
        assert_ne!(link("g", &a), link("g", &b));
    }
}
