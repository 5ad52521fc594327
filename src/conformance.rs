//! The shared test suite of the [`Ledger`] and [`Queue`] seams. Every backend (embedded
//! SQLite today; PostgreSQL and RabbitMQ in cluster mode) runs these same functions, so the
//! promises in the traits' docs are checked once, in one place.

use crate::ledger::{
    Admission, ChainVerdict, Ledger, LedgerError, MessageFilter, NewMessage, Transition,
};
use crate::message::{Envelope, MessageId, State, XoevHeader, now_millis};
use crate::queue::{Outcome, Queue};
use std::sync::Arc;
use std::time::Duration;

/// A backend under test: a ledger and a queue sharing state, and its visibility timeout.
pub struct Subject {
    pub ledger: Arc<dyn Ledger>,
    pub queue: Arc<dyn Queue>,
    pub visibility_timeout: Duration,
}

pub fn envelope(id: MessageId, connector: &str) -> Envelope {
    Envelope {
        message_id: id,
        tenant: "musterstadt".into(),
        source: "formserver".into(),
        transport_id: None,
        received_at: now_millis(),
        header: XoevHeader {
            standard: Some("xgewerbeanzeige".into()),
            ..Default::default()
        },
        service_key: None,
        destination: None,
        route: "gewerbe".into(),
        connector: connector.into(),
        parts: Vec::new(),
        traceparent: None,
        delivery_key: None,
        mapping: None,
    }
}

pub fn new_message(transport_id: Option<&str>, connector: Option<&str>) -> NewMessage {
    let id = MessageId::new();
    let routed = connector.map(|c| (State::Routed, format!("route gewerbe to connector {c}")));
    let mut path = vec![(State::Validated, "well-formed XML".to_string())];
    path.push(
        routed
            .clone()
            .unwrap_or((State::Unrouted, "no route matches".into())),
    );
    NewMessage {
        id,
        tenant: "musterstadt".into(),
        source: "formserver".into(),
        transport_id: transport_id.map(str::to_string),
        received_at: now_millis(),
        content_type: "application/xml".into(),
        header: XoevHeader {
            standard: Some("xgewerbeanzeige".into()),
            ..Default::default()
        },
        service_key: None,
        destination: None,
        parts: Vec::new(),
        path,
        route: connector.map(|c| ("gewerbe".to_string(), c.to_string())),
        enqueue: connector.map(|c| envelope(id, c)),
        traceparent: None,
    }
}

/// The message's trace context is kept with it, and every envelope made from the record
/// (replay, recovery) carries it on: one application stays one trace.
pub async fn the_trace_context_is_kept(s: &Subject) {
    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut m = new_message(None, Some("c1"));
    m.traceparent = Some(TP.into());
    let id = m.id;
    s.ledger.admit(m).await.unwrap();
    let without = new_message(None, Some("c1"));
    let without_id = without.id;
    s.ledger.admit(without).await.unwrap();
    let record = s.ledger.get(id).await.unwrap().unwrap().message;
    assert_eq!(record.traceparent.as_deref(), Some(TP));
    assert_eq!(
        record.envelope("gewerbe", "c1").traceparent.as_deref(),
        Some(TP)
    );
    let listed = s.ledger.list(&MessageFilter::default()).await.unwrap();
    let listed = listed.iter().find(|r| r.id == id).unwrap();
    assert_eq!(listed.traceparent.as_deref(), Some(TP));
    let plain = s.ledger.get(without_id).await.unwrap().unwrap().message;
    assert_eq!(plain.traceparent, None, "tracing was off for this one");
}

async fn state(s: &Subject, id: MessageId) -> State {
    s.ledger.get(id).await.unwrap().unwrap().message.state
}

pub async fn admission_and_dedupe(s: &Subject) {
    let m = new_message(Some("sub-1"), Some("c1"));
    let id = m.id;
    assert_eq!(s.ledger.admit(m).await.unwrap(), Admission::Created(id));
    let again = new_message(Some("sub-1"), Some("c1"));
    assert_eq!(
        s.ledger.admit(again).await.unwrap(),
        Admission::Duplicate(id),
        "same source + transport id"
    );
    assert_eq!(
        s.ledger
            .find_by_transport("formserver", "sub-1")
            .await
            .unwrap(),
        Some(id)
    );
    let d = s.ledger.get(id).await.unwrap().unwrap();
    let states: Vec<State> = d.history.iter().map(|h| h.state).collect();
    assert_eq!(states, [State::Received, State::Validated, State::Routed]);
    assert_eq!(
        s.ledger.verify(id).await.unwrap(),
        ChainVerdict::Intact { entries: 3 }
    );
    assert_eq!(
        s.ledger
            .list(&MessageFilter::default())
            .await
            .unwrap()
            .len(),
        1,
        "nothing added by the repeat"
    );
    let mut other_source = new_message(Some("sub-1"), Some("c1"));
    other_source.source = "portal".into();
    assert!(
        matches!(
            s.ledger.admit(other_source).await.unwrap(),
            Admission::Created(_)
        ),
        "unique per source only"
    );
}

pub async fn the_state_machine_is_enforced(s: &Subject) {
    let m = new_message(None, None);
    let id = m.id;
    s.ledger.admit(m).await.unwrap();
    let err = s
        .ledger
        .transition(id, Transition::new(State::Delivered, "test", "x"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LedgerError::TransitionNotAllowed {
            from: State::Unrouted,
            to: State::Delivered,
            ..
        }
    ));
    // All or nothing: the second step is not allowed, so the first is not written either.
    let err = s
        .ledger
        .transitions(
            id,
            vec![
                Transition::new(State::Replayed, "test", "x"),
                Transition::new(State::Delivered, "test", "y"),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::TransitionNotAllowed { .. }));
    assert_eq!(state(s, id).await, State::Unrouted);
    assert_eq!(
        s.ledger.verify(id).await.unwrap(),
        ChainVerdict::Intact { entries: 3 }
    );
    assert!(matches!(
        s.ledger
            .transition(MessageId::new(), Transition::new(State::Dead, "t", "x"))
            .await,
        Err(LedgerError::NotFound(_))
    ));
}

pub async fn lease_settle_and_dead_letters(s: &Subject) {
    let a = new_message(None, Some("lease"));
    let b = new_message(None, Some("lease"));
    let ida = a.id;
    s.ledger.admit(a).await.unwrap();
    s.ledger.admit(b).await.unwrap();
    let mut consumer = s.queue.consume("lease").await.unwrap();
    let mut batch = consumer.next_batch(10, "worker:lease").await.unwrap();
    // (In the cluster the second may still be on its way through the outbox relay.)
    while batch.len() < 2 {
        let more = tokio::time::timeout(
            Duration::from_secs(5),
            consumer.next_batch(10 - batch.len(), "worker:lease"),
        )
        .await
        .expect("both admitted messages are delivered")
        .unwrap();
        batch.extend(more);
    }
    assert_eq!(batch.len(), 2);
    assert!(batch.iter().all(|d| d.attempt == 1));
    assert_eq!(
        state(s, ida).await,
        State::Delivering,
        "taking a delivery records it"
    );
    let depth = s.queue.depth().await.unwrap();
    assert_eq!(
        (
            depth[0].ready,
            depth[0].delayed,
            depth[0].leased,
            depth[0].dead
        ),
        (0, 0, 2, 0)
    );

    let second = batch.pop().unwrap();
    let first = batch.pop().unwrap();
    let (first_id, second_id) = (first.envelope.message_id, second.envelope.message_id);
    // Nothing leased and nothing dead counts as zero, not as missing.
    // (In the cluster the entry reaches RabbitMQ through the outbox relay, a moment after the
    // admission committed: wait for it, within bounds.)
    let quiet = new_message(None, Some("quiet"));
    s.ledger.admit(quiet).await.unwrap();
    let mut q = None;
    for _ in 0..100 {
        let depth = s.queue.depth().await.unwrap();
        q = depth.into_iter().find(|d| d.connector == "quiet");
        if q.as_ref().is_some_and(|q| q.ready > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let q = q.expect("the quiet connector's queue is listed");
    assert_eq!((q.ready, q.delayed, q.leased, q.dead), (1, 0, 0, 0));
    first
        .settle(
            Outcome::Ack,
            Transition::new(State::Delivered, "worker:lease", "ok").attempt(1),
        )
        .await
        .unwrap();
    second
        .settle(
            Outcome::Dead("refused".into()),
            Transition::new(State::Dead, "worker:lease", "refused").attempt(1),
        )
        .await
        .unwrap();
    assert_eq!(state(s, first_id).await, State::Delivered);
    assert_eq!(state(s, second_id).await, State::Dead);
    let depth = s.queue.depth().await.unwrap();
    assert_eq!((depth[0].ready, depth[0].leased, depth[0].dead), (0, 0, 1));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), consumer.next_batch(10, "w"))
            .await
            .is_err(),
        "nothing due: dead letters are not delivered"
    );

    // Replay: the ledger transition re-enqueues.
    let rec = s.ledger.get(second_id).await.unwrap().unwrap().message;
    s.ledger
        .transitions(
            second_id,
            vec![
                Transition::new(State::Replayed, "operator:test", "fixed"),
                Transition::new(State::Routed, "operator:test", "again")
                    .enqueue(rec.envelope("gewerbe", "lease")),
            ],
        )
        .await
        .unwrap();
    let again = consumer.next_batch(10, "worker:lease").await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 1, "a replay starts counting anew");
}

pub async fn retries_are_delayed(s: &Subject) {
    let m = new_message(None, Some("retry"));
    s.ledger.admit(m).await.unwrap();
    let mut consumer = s.queue.consume("retry").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    d.settle(
        Outcome::RetryAfter(Duration::from_millis(700)),
        Transition::new(State::Retrying, "w", "503").attempt(1),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not before its time: {:?}",
        started.elapsed()
    );
    assert_eq!(d.attempt, 2);
    assert!(d.first_attempt_at <= now_millis() - 500);
    d.release().await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    assert_eq!(d.attempt, 2, "a released delivery is not counted");
}

pub async fn expired_leases_come_back(s: &Subject) {
    let m = new_message(None, Some("expiry"));
    let id = m.id;
    s.ledger.admit(m).await.unwrap();
    let mut crashed = s.queue.consume("expiry").await.unwrap();
    let lost = crashed.next_batch(1, "w1").await.unwrap().pop().unwrap();
    // The first worker never settles: it died, and with it its consumer (RabbitMQ gives the
    // delivery back when the consumer's channel is gone; the embedded queue when the lease's
    // visibility timeout has passed). Another worker gets it.
    drop(crashed);
    let mut other = s.queue.consume("expiry").await.unwrap();
    let d = tokio::time::timeout(
        s.visibility_timeout * 5 + Duration::from_secs(2),
        other.next_batch(1, "w2"),
    )
    .await
    .expect("the entry comes back after its lease expired")
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(d.attempt, 2);
    d.settle(
        Outcome::Ack,
        Transition::new(State::Delivered, "w2", "ok").attempt(2),
    )
    .await
    .unwrap();
    // The first worker's late settlement is refused by the ledger (already delivered).
    assert!(
        lost.settle(
            Outcome::Ack,
            Transition::new(State::Delivered, "w1", "late").attempt(1)
        )
        .await
        .is_err()
    );
    let h = s.ledger.get(id).await.unwrap().unwrap().history;
    let states: Vec<State> = h.iter().map(|e| e.state).collect();
    assert_eq!(
        &states[3..],
        [State::Delivering, State::Delivering, State::Delivered]
    );
}

pub async fn stale_entries_are_dropped(s: &Subject) {
    let m = new_message(None, Some("stale"));
    let id = m.id;
    s.ledger.admit(m).await.unwrap();
    let mut consumer = s.queue.consume("stale").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    // The outcome is recorded, but the process dies before the queue entry is settled.
    s.ledger
        .transition(id, Transition::new(State::Delivered, "w", "ok"))
        .await
        .unwrap();
    d.release().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(400), consumer.next_batch(1, "w"))
            .await
            .is_err()
    );
    let depth = s.queue.depth().await.unwrap();
    assert!(
        depth
            .iter()
            .all(|q| q.connector != "stale" || (q.ready + q.leased + q.dead) == 0),
        "{depth:?}"
    );
    assert_eq!(state(s, id).await, State::Delivered);
}

pub async fn the_inbound_journal_remembers_open_work(s: &Subject) {
    s.ledger
        .inbound_claim("fit", "sub-1", r#"{"case":"c1"}"#)
        .await
        .unwrap();
    s.ledger.inbound_claim("fit", "sub-2", "{}").await.unwrap();
    s.ledger
        .inbound_claim("other", "sub-1", "{}")
        .await
        .unwrap();
    s.ledger
        .inbound_claim("fit", "sub-1", r#"{"case":"c1","tags":1}"#)
        .await
        .unwrap();
    let open = s.ledger.inbound_open("fit").await.unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].transport_id, "sub-1");
    assert_eq!(
        open[0].note, r#"{"case":"c1","tags":1}"#,
        "a second claim updates the note"
    );
    s.ledger.inbound_done("fit", "sub-1").await.unwrap();
    s.ledger.inbound_done("fit", "sub-1").await.unwrap();
    let open = s.ledger.inbound_open("fit").await.unwrap();
    assert_eq!(
        open.iter()
            .map(|c| c.transport_id.as_str())
            .collect::<Vec<_>>(),
        ["sub-2"]
    );
    assert_eq!(s.ledger.inbound_open("other").await.unwrap().len(), 1);
}

pub async fn one_replica_holds_a_poller_lease(s: &Subject) {
    let ttl = Duration::from_millis(400);
    let l = &s.ledger;
    assert!(l.lease_poller("xta:a", "replica-1", ttl).await.unwrap());
    assert!(
        !l.lease_poller("xta:a", "replica-2", ttl).await.unwrap(),
        "held by replica-1"
    );
    assert!(
        l.lease_poller("xta:b", "replica-2", ttl).await.unwrap(),
        "leases are per poller"
    );
    assert!(
        l.lease_poller("xta:a", "replica-1", ttl).await.unwrap(),
        "the holder renews"
    );
    // replica-1 stops renewing (died): after the ttl, replica-2 takes over.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(l.lease_poller("xta:a", "replica-2", ttl).await.unwrap());
    assert!(!l.lease_poller("xta:a", "replica-1", ttl).await.unwrap());
    // Released on shutdown: free at once, and only the holder can release.
    l.release_poller("xta:a", "replica-1").await.unwrap();
    assert!(!l.lease_poller("xta:a", "replica-3", ttl).await.unwrap());
    l.release_poller("xta:a", "replica-2").await.unwrap();
    assert!(l.lease_poller("xta:a", "replica-3", ttl).await.unwrap());
}

/// The admin API's listing: every filter narrows, counts agree with listings, and the
/// cursor pages through everything exactly once, oldest first.
pub async fn list_filters_and_pages(s: &Subject) {
    let l = &s.ledger;
    let t0 = now_millis();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut m = new_message(None, Some(if i % 2 == 0 { "even" } else { "odd" }));
        m.received_at = t0 - (5 - i) * 60_000;
        if i == 4 {
            m.tenant = "beispielheim".into();
            m.header.standard = Some("xdomea".into());
        }
        ids.push(m.id);
        l.admit(m).await.unwrap();
    }
    let list = |f: MessageFilter| async move {
        let ids: Vec<MessageId> = l.list(&f).await.unwrap().iter().map(|m| m.id).collect();
        assert_eq!(l.count(&f).await.unwrap(), ids.len() as u64, "{f:?}");
        ids
    };
    assert_eq!(list(MessageFilter::default()).await, ids);
    let standard = MessageFilter {
        standard: Some("xdomea".into()),
        ..Default::default()
    };
    assert_eq!(list(standard).await, [ids[4]]);
    let odd = MessageFilter {
        connector: Some("odd".into()),
        ..Default::default()
    };
    assert_eq!(list(odd).await, [ids[1], ids[3]]);
    // received_at of ids[i] is t0 - (5 - i) minutes: from inclusive, to exclusive.
    let window = MessageFilter {
        received_from: Some(t0 - 4 * 60_000),
        received_to: Some(t0 - 2 * 60_000),
        ..Default::default()
    };
    assert_eq!(list(window).await, [ids[1], ids[2]]);
    let tenant_and_state = MessageFilter {
        tenant: Some("musterstadt".into()),
        states: vec![State::Routed],
        // Admission sets updated_at = received_at.
        updated_after: Some(t0 - 3 * 60_000),
        ..Default::default()
    };
    assert_eq!(list(tenant_and_state).await, ids[2..4]);

    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = l
            .list(&MessageFilter {
                after: cursor,
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        cursor = page.last().map(|m| m.id);
        paged.extend(page.iter().map(|m| m.id));
    }
    assert_eq!(paged, ids, "pages in order, none twice, none missed");
}

/// An operator closes a dead letter by hand (`resolved`), and purges a message: both are
/// audited transitions, and a resolved message can only be purged afterwards.
pub async fn resolve_and_purge_are_audited(s: &Subject) {
    let l = &s.ledger;
    let m = new_message(None, Some("c"));
    let id = m.id;
    l.admit(m).await.unwrap();
    l.transition(id, Transition::new(State::Dead, "worker:c", "refused"))
        .await
        .unwrap();
    let from = l
        .transition(
            id,
            Transition::new(State::Resolved, "operator:anna", "handed over on paper"),
        )
        .await
        .unwrap();
    assert_eq!(from, State::Dead);
    assert!(matches!(
        l.transition(id, Transition::new(State::Replayed, "operator:anna", "x"))
            .await,
        Err(LedgerError::TransitionNotAllowed {
            from: State::Resolved,
            ..
        })
    ));
    l.transition(
        id,
        Transition::new(
            State::Purged,
            "operator:anna",
            "payload deleted by an operator",
        ),
    )
    .await
    .unwrap();
    let d = l.get(id).await.unwrap().unwrap();
    let tail: Vec<(State, &str)> = d
        .history
        .iter()
        .skip(3)
        .map(|h| (h.state, h.actor.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            (State::Dead, "worker:c"),
            (State::Resolved, "operator:anna"),
            (State::Purged, "operator:anna")
        ]
    );
    assert_eq!(
        l.verify(id).await.unwrap(),
        ChainVerdict::Intact { entries: 6 }
    );
    // A message that is still on its way cannot be closed by hand.
    let busy = new_message(None, Some("c"));
    let busy_id = busy.id;
    l.admit(busy).await.unwrap();
    assert!(matches!(
        l.transition(
            busy_id,
            Transition::new(State::Resolved, "operator:anna", "x")
        )
        .await,
        Err(LedgerError::TransitionNotAllowed {
            from: State::Routed,
            ..
        })
    ));
}
