//! End-to-end: `kill -9` of the broker at random moments while applications stream in and
//! deliveries are under way. After a restart every accepted message is delivered, and a
//! Fachverfahren that honours `Idempotency-Key` has exactly one case per message.
//!
//! Several senders post concurrently, so every kill cuts requests off in flight: some were
//! made durable but never answered, some never got that far. A sender retries a cut-off
//! request with the same `X-Transport-Id` after the restart (intake's dedupe answers with the
//! first message id), as a form server would. The test prints lost messages (must be 0),
//! requests in flight at the kills, and raw redeliveries to the Fachverfahren.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 12;
const SENDERS: usize = 6;

/// Requests under way right now, and those a kill cut off (no answer).
#[derive(Default)]
struct Flight {
    now: std::sync::atomic::AtomicUsize,
    cut_off: std::sync::atomic::AtomicUsize,
}

/// What the form server knows: transport id → message id once intake said 2xx.
type Accepted = Arc<Mutex<BTreeMap<String, String>>>;

/// Sends messages with the given transport ids, like a form server that retries until it gets
/// an answer; returns when `stop` is set or all are accepted.
async fn send_all(
    base: String,
    ids: Vec<String>,
    accepted: Accepted,
    stop: Arc<std::sync::atomic::AtomicBool>,
    flight: Arc<Flight>,
) {
    use std::sync::atomic::Ordering::SeqCst;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for tid in ids {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if accepted.lock().unwrap().contains_key(&tid) {
            continue;
        }
        flight.now.fetch_add(1, SeqCst);
        let resp = client
            .post(format!("{base}/api/v1/tenants/cottbus/messages"))
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/xml")
            .header("X-Transport-Id", &tid)
            .body(gewerbe_xml())
            .send()
            .await;
        let body = match resp {
            Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
            _ => None,
        };
        flight.now.fetch_sub(1, SeqCst);
        match body {
            Some(v) => {
                let id = v["id"].as_str().unwrap().to_string();
                let mut acc = accepted.lock().unwrap();
                if let Some(prev) = acc.insert(tid.clone(), id.clone()) {
                    assert_eq!(prev, id, "transport id {tid} got two message ids");
                }
            }
            None => {
                // The broker is gone (or died while answering): not known as accepted,
                // retried in the next round.
                flight.cut_off.fetch_add(1, SeqCst);
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_flow_loses_nothing_and_delivers_once() {
    let mut b = Broker::start(
        Behaviour {
            fail_every: 4,
            fail_attempts: 1,
            ..Default::default()
        },
        "",
    )
    .await;
    let accepted: Accepted = Arc::default();
    let total = 240;
    let all: Vec<String> = (0..total).map(|i| format!("form-{i:04}")).collect();
    let mut rng = rand::rng();
    let started = Instant::now();
    let flight = Arc::new(Flight::default());
    let mut in_flight_at_kills = 0;
    for round in 0..ROUNDS {
        if round > 0 {
            b.spawn().await;
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pending: Vec<String> = {
            let acc = accepted.lock().unwrap();
            all.iter()
                .filter(|t| !acc.contains_key(*t))
                .cloned()
                .collect()
        };
        let mut tasks = Vec::new();
        for s in 0..SENDERS {
            let mine: Vec<String> = pending.iter().skip(s).step_by(SENDERS).cloned().collect();
            tasks.push(tokio::spawn(send_all(
                b.base(),
                mine,
                accepted.clone(),
                stop.clone(),
                flight.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..700))).await;
        in_flight_at_kills += flight.now.load(std::sync::atomic::Ordering::SeqCst);
        b.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
    }
    // Last start: send what is left, then let everything drain.
    b.spawn().await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    send_all(
        b.base(),
        all.clone(),
        accepted.clone(),
        stop,
        flight.clone(),
    )
    .await;
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(
        accepted.len(),
        total,
        "every message was eventually accepted"
    );

    assert!(
        in_flight_at_kills > 0,
        "the kills are meant to cut requests off in flight; none were"
    );

    // Panics unless every accepted message is delivered, to the Fachverfahren exactly once as
    // a case: lost is 0 when it returns.
    let (requests, raw_duplicates) = b.assert_delivered_once(&accepted, 90, 20).await;
    println!(
        "kill -9 x{ROUNDS}, {SENDERS} concurrent senders: {total} messages, lost 0, {in_flight_at_kills} requests in flight at the kills, {} cut off without an answer and retried, {total} cases, {requests} requests to the Fachverfahren, {raw_duplicates} raw redeliveries absorbed by Idempotency-Key, {:.1} s",
        flight.cut_off.load(std::sync::atomic::Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_in_flight_work_and_exits_cleanly() {
    let mut b = Broker::start(Behaviour::default(), "").await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        let (status, body) = b
            .post("cottbus", gewerbe_xml(), "application/xml", None)
            .await;
        assert_eq!(status, 202);
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let status = b.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(b.log().contains("stopped"), "{}", b.log());
    b.spawn().await;
    for id in &ids {
        b.wait_state(id, "delivered", 30).await;
    }
    let received = b.received();
    assert_eq!(
        received.iter().filter(|r| r.reference.is_some()).count(),
        20
    );
}
