//! The RabbitMQ queue against a real RabbitMQ (`AMTSBOTE_TEST_AMQP_URL`; these tests fail
//! without it — `scripts/services.sh start` prints it). Each test works under its own name
//! prefix and deletes its exchanges and queues at the end, also when it fails, so tests can
//! share one server. The ledger side is the embedded SQLite ledger: the records the queue
//! makes work with any [`Ledger`].

use super::*;
use crate::config::SecretRef;
use crate::conformance::{envelope, new_message};
use crate::embedded::{Database, SqliteLedger};
use crate::ledger::OutboxEntry;
use std::path::Path;
use tokio::net::{TcpListener, TcpStream};

pub(crate) fn amqp_url() -> String {
    std::env::var("AMTSBOTE_TEST_AMQP_URL").expect(
        "AMTSBOTE_TEST_AMQP_URL is not set: start RabbitMQ with `scripts/services.sh start` and export what it prints (scripts/test.sh does both)",
    )
}

fn secret_file(dir: &Path, name: &str, value: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    SecretRef {
        file: Some(path),
        env: None,
    }
}

pub(crate) fn config(dir: &Path, prefix: &str, url: &str, fallbacks: &[String]) -> RabbitConfig {
    RabbitConfig {
        url: secret_file(dir, "url", url),
        fallback_urls: fallbacks
            .iter()
            .enumerate()
            .map(|(i, u)| secret_file(dir, &format!("fallback{i}"), u))
            .collect(),
        prefix: prefix.to_string(),
        confirm_timeout: Duration::from_secs(5),
    }
}

/// Deletes a test's exchanges and queues when dropped, also after a failed assertion.
pub(crate) struct Cleanup {
    pub(crate) prefix: String,
    pub(crate) connectors: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (prefix, connectors) = (self.prefix.clone(), self.connectors.clone());
        // Drop cannot await, and the test's runtime may be shutting down: use a runtime of
        // our own on a thread of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(delete_topology(&prefix, &connectors));
        })
        .join();
    }
}

async fn delete_topology(prefix: &str, connectors: &[String]) {
    let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await else {
        return;
    };
    let t = Topology::full(&Names::new(prefix), connectors);
    for q in &t.queues {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.name.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for e in &t.exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete(e.name.as_str().into(), Default::default())
                .await;
        }
    }
    let _ = conn.close(200, "done".into()).await;
}

struct Rig {
    dir: tempfile::TempDir,
    prefix: String,
    ledger: Arc<dyn Ledger>,
    queue: RabbitQueue,
    _cleanup: Cleanup,
}

pub(crate) fn prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn ledger(dir: &Path) -> Arc<dyn Ledger> {
    Arc::new(SqliteLedger::new(
        Database::open(&dir.join("t.db")).unwrap(),
    ))
}

async fn rig(connectors: &[&str]) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let prefix = prefix();
    let connectors: Vec<String> = connectors.iter().map(|c| c.to_string()).collect();
    let cleanup = Cleanup {
        prefix: prefix.clone(),
        connectors: connectors.clone(),
    };
    let ledger = ledger(dir.path());
    let cfg = config(dir.path(), &prefix, &amqp_url(), &[]);
    let prefetch = connectors.iter().map(|c| (c.clone(), 4)).collect();
    let queue = RabbitQueue::connect(&cfg, ledger.clone(), prefetch, &connectors)
        .await
        .unwrap();
    Rig {
        dir,
        prefix,
        ledger,
        queue,
        _cleanup: cleanup,
    }
}

/// Admits a routed message to the ledger and publishes its envelope, as the outbox relay
/// would.
async fn admitted(rig: &Rig, connector: &str) -> MessageId {
    let m = new_message(None, Some(connector));
    let id = m.id;
    rig.ledger.admit(m).await.unwrap();
    rig.queue.publish(&envelope(id, connector)).await.unwrap();
    id
}

async fn state(ledger: &Arc<dyn Ledger>, id: MessageId) -> State {
    ledger.get(id).await.unwrap().unwrap().message.state
}

async fn depth_of(queue: &RabbitQueue, connector: &str) -> QueueDepth {
    queue
        .depth()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.connector == connector)
        .unwrap()
}

/// Waits (up to 5 s) until the connector's depth satisfies `ok`: RabbitMQ moves dead
/// letters and acks asynchronously.
async fn eventually_depth(queue: &RabbitQueue, connector: &str, ok: impl Fn(&QueueDepth) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = depth_of(queue, connector).await;
        if ok(&d) {
            return;
        }
        assert!(Instant::now() < deadline, "depth never got there: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn nothing_comes(consumer: &mut Box<dyn Consumer>, within: Duration) {
    let got = tokio::time::timeout(within, consumer.next_batch(10, "w")).await;
    assert!(got.is_err(), "expected nothing, got {:?}", got.unwrap());
}

fn done(actor: &str, attempt: u32) -> Transition {
    Transition::new(State::Delivered, actor, "ok").attempt(attempt)
}

#[tokio::test(flavor = "multi_thread")]
async fn topology_is_declared_idempotently() {
    let rig = rig(&["gewerberegister"]).await;
    // A second replica (or a restart) declares the same objects again without complaint.
    let cfg = config(rig.dir.path(), &rig.prefix, &amqp_url(), &[]);
    let again = RabbitQueue::connect(
        &cfg,
        rig.ledger.clone(),
        HashMap::new(),
        &["gewerberegister".to_string()],
    )
    .await
    .unwrap();
    let d = depth_of(&again, "gewerberegister").await;
    assert_eq!((d.ready, d.leased, d.dead), (0, 0, 0));
    let tiers = again.retry_depth().await.unwrap();
    assert_eq!(tiers.len(), RETRY_TIERS.len());
    assert!(tiers.iter().all(|(_, n)| *n == 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_consume_and_ack() {
    let rig = rig(&["c"]).await;
    let id = admitted(&rig, "c").await;
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let mut batch = consumer.next_batch(10, "worker:c").await.unwrap();
    assert_eq!(batch.len(), 1);
    let d = batch.pop().unwrap();
    assert_eq!(d.envelope.message_id, id);
    let mut expected = envelope(id, "c");
    expected.received_at = d.envelope.received_at;
    assert_eq!(d.envelope, expected);
    assert_eq!(d.attempt, 1);
    assert!(d.first_attempt_at > 0);
    assert_eq!(state(&rig.ledger, id).await, State::Delivering);
    let depth = depth_of(&rig.queue, "c").await;
    assert_eq!((depth.ready, depth.leased, depth.dead), (0, 1, 0));

    d.settle(Outcome::Ack, done("worker:c", 1)).await.unwrap();
    assert_eq!(state(&rig.ledger, id).await, State::Delivered);
    assert_eq!(depth_of(&rig.queue, "c").await.leased, 0);
    nothing_comes(&mut consumer, Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_takes_what_is_there_up_to_max() {
    let rig = rig(&["c"]).await;
    for _ in 0..3 {
        admitted(&rig, "c").await;
    }
    let mut consumer = rig.queue.consume("c").await.unwrap();
    // Give the broker a moment to push all three (prefetch 4).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = consumer.next_batch(2, "w").await.unwrap();
    assert_eq!(first.len(), 2);
    let second = consumer.next_batch(2, "w").await.unwrap();
    assert_eq!(second.len(), 1);
    for d in first.into_iter().chain(second) {
        d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_comes_back_after_its_tier_and_release_does_not_count() {
    let rig = rig(&["c"]).await;
    let id = admitted(&rig, "c").await;
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    let first_attempt_at = d.first_attempt_at;
    d.settle(
        Outcome::RetryAfter(Duration::from_millis(700)),
        Transition::new(State::Retrying, "w", "503").attempt(1),
    )
    .await
    .unwrap();
    assert_eq!(state(&rig.ledger, id).await, State::Retrying);
    let started = Instant::now();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    // 700 ms rounds up to the 1 s tier.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "came back too early: {:?}",
        started.elapsed()
    );
    assert_eq!(d.envelope.message_id, id);
    assert_eq!(d.attempt, 2);
    assert_eq!(d.first_attempt_at, first_attempt_at, "kept across retries");

    d.release().await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(5), consumer.next_batch(1, "w"))
        .await
        .expect("a released delivery is due at once")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(d.attempt, 2, "a released delivery is not counted");
    d.settle(Outcome::Ack, done("w", 2)).await.unwrap();
    assert_eq!(state(&rig.ledger, id).await, State::Delivered);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_go_to_the_dead_queue() {
    let rig = rig(&["c"]).await;
    let id = admitted(&rig, "c").await;
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    d.settle(
        Outcome::Dead("refused".into()),
        Transition::new(State::Dead, "w", "refused").attempt(1),
    )
    .await
    .unwrap();
    assert_eq!(state(&rig.ledger, id).await, State::Dead);
    eventually_depth(&rig.queue, "c", |d| {
        (d.ready, d.leased, d.dead) == (0, 0, 1)
    })
    .await;
    nothing_comes(&mut consumer, Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_copies_are_dropped() {
    let rig = rig(&["c"]).await;
    let id = admitted(&rig, "c").await;
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
    // The outbox relay published it a second time (its confirm was lost).
    rig.queue.publish(&envelope(id, "c")).await.unwrap();
    nothing_comes(&mut consumer, Duration::from_millis(600)).await;
    eventually_depth(&rig.queue, "c", |d| (d.ready, d.leased) == (0, 0)).await;
    assert_eq!(state(&rig.ledger, id).await, State::Delivered);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_channel_gives_its_deliveries_to_another_consumer() {
    let rig = rig(&["c"]).await;
    let id = admitted(&rig, "c").await;
    let mut crashed = rig.queue.consume("c").await.unwrap();
    let lost = crashed.next_batch(1, "w1").await.unwrap().pop().unwrap();
    let mut other = rig.queue.consume("c").await.unwrap();
    // The first worker goes away without settling: its channel closes.
    drop(crashed);
    drop(lost);
    let d = tokio::time::timeout(Duration::from_secs(4), other.next_batch(1, "w2"))
        .await
        .expect("the delivery comes back on channel loss")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(d.envelope.message_id, id);
    assert_eq!(d.attempt, 2, "the interrupted attempt counts");
    d.settle(Outcome::Ack, done("w2", 2)).await.unwrap();
    let h = rig.ledger.get(id).await.unwrap().unwrap().history;
    let states: Vec<State> = h.iter().map(|e| e.state).collect();
    assert_eq!(
        &states[3..],
        [State::Delivering, State::Delivering, State::Delivered]
    );
}

/// An in-memory outbox: entries with claim expiry, and what was marked done.
#[derive(Default)]
struct FakeOutbox {
    entries: StdMutex<Vec<(OutboxEntry, Option<Instant>)>>,
    done: StdMutex<Vec<i64>>,
    claims: AtomicU64,
}

#[async_trait]
impl Outbox for FakeOutbox {
    async fn outbox_claim(
        &self,
        limit: usize,
        claim_for: Duration,
    ) -> Result<Vec<OutboxEntry>, LedgerError> {
        self.claims.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap();
        Ok(entries
            .iter_mut()
            .filter(|(_, until)| until.is_none_or(|u| u <= now))
            .take(limit)
            .map(|(e, until)| {
                *until = Some(now + claim_for);
                e.clone()
            })
            .collect())
    }

    async fn outbox_done(&self, seqs: &[i64]) -> Result<(), LedgerError> {
        self.entries
            .lock()
            .unwrap()
            .retain(|(e, _)| !seqs.contains(&e.seq));
        self.done.lock().unwrap().extend_from_slice(seqs);
        Ok(())
    }

    async fn outbox_wait(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_publishes_the_outbox_and_removes_only_what_was_confirmed() {
    let rig = rig(&["c"]).await;
    let outbox = Arc::new(FakeOutbox::default());
    let mut ids = Vec::new();
    for seq in 1..=3 {
        let m = new_message(None, Some("c"));
        ids.push(m.id);
        rig.ledger.admit(m.clone()).await.unwrap();
        outbox.entries.lock().unwrap().push((
            OutboxEntry {
                seq,
                envelope: envelope(m.id, "c"),
            },
            None,
        ));
    }
    // An entry that cannot be published (no valid queue name for its connector).
    let unpublishable = envelope(MessageId::new(), &"x".repeat(300));
    outbox.entries.lock().unwrap().push((
        OutboxEntry {
            seq: 4,
            envelope: unpublishable,
        },
        None,
    ));
    let shutdown = CancellationToken::new();
    let relay = rig.queue.spawn_relay_with(
        outbox.clone(),
        shutdown.clone(),
        RelaySettings {
            batch: 10,
            claim_for: Duration::from_millis(300),
            poll: Duration::from_millis(50),
        },
    );
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let batch = tokio::time::timeout(Duration::from_secs(5), consumer.next_batch(10, "w"))
            .await
            .expect("the relay publishes the outbox")
            .unwrap();
        for d in batch {
            got.push(d.envelope.message_id);
            d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
        }
    }
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
    let deadline = Instant::now() + Duration::from_secs(5);
    while outbox.done.lock().unwrap().len() < 3 {
        assert!(Instant::now() < deadline, "confirmed entries are removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The failed entry stays, and is tried again once its claim expired.
    let claims = outbox.claims.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(outbox.claims.load(Ordering::SeqCst) > claims);
    let left: Vec<i64> = outbox
        .entries
        .lock()
        .unwrap()
        .iter()
        .map(|(e, _)| e.seq)
        .collect();
    assert_eq!(left, [4]);
    let mut done = outbox.done.lock().unwrap().clone();
    done.sort();
    assert_eq!(done, [1, 2, 3]);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .expect("the relay stops on shutdown")
        .unwrap();
}

/// A TCP proxy in front of RabbitMQ whose connections the test can cut, as a RabbitMQ
/// restart or a network failure would: the client sees its connection drop.
struct Proxy {
    port: u16,
    links: Arc<StdMutex<Vec<tokio::task::AbortHandle>>>,
    /// While set, new connections are closed at once (RabbitMQ is "down").
    refusing: Arc<std::sync::atomic::AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let links: Arc<StdMutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let tracked = links.clone();
        let refusing: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let down = refusing.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if down.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(link.abort_handle());
            }
        });
        Proxy {
            port,
            links,
            refusing,
            accept,
        }
    }

    /// RabbitMQ goes down (`true`: connections are cut and new ones refused) or comes back.
    fn down(&self, down: bool) {
        self.refusing.store(down, Ordering::SeqCst);
        if down {
            self.cut();
        }
    }

    /// Drops every connection through the proxy; new ones are still accepted.
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The AMQP URL with its host and port replaced.
fn via(url: &str, port: u16) -> String {
    let mut u = reqwest::Url::parse(url).unwrap();
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(port)).unwrap();
    u.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_resume_after_the_connection_drops_and_fallbacks_are_used() {
    let url = amqp_url();
    let parsed = reqwest::Url::parse(&url).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5672)
    );
    let proxy = Proxy::start(upstream).await;
    // `url` points at a port nobody listens on: the fallback is used.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = prefix();
    let _cleanup = Cleanup {
        prefix: prefix.clone(),
        connectors: vec!["c".into()],
    };
    let ledger = ledger(dir.path());
    let cfg = config(
        dir.path(),
        &prefix,
        &via(&url, closed_port),
        &[via(&url, proxy.port)],
    );
    let queue = RabbitQueue::connect(&cfg, ledger.clone(), HashMap::new(), &["c".to_string()])
        .await
        .unwrap();
    let mut consumer = queue.consume("c").await.unwrap();
    let waiting = tokio::spawn(async move {
        let batch = consumer.next_batch(1, "w").await;
        (consumer, batch)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let opened = queue.inner.generation.load(Ordering::SeqCst);
    proxy.cut();

    let m = new_message(None, Some("c"));
    let id = m.id;
    ledger.admit(m).await.unwrap();
    // The publisher notices the lost connection and reconnects (the relay retries the same
    // way when the first try hits the connection while it goes down).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match queue.publish(&envelope(id, "c")).await {
            Ok(()) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "publishing never recovered: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let (_consumer, batch) = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the consumer resumes by itself")
        .unwrap();
    let d = batch.unwrap().pop().unwrap();
    assert_eq!(d.envelope.message_id, id);
    d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
    assert_eq!(state(&ledger, id).await, State::Delivered);
    assert!(
        queue.inner.generation.load(Ordering::SeqCst) >= opened + 2,
        "both connections were opened again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_roundtrip_moves_every_message() {
    let r = raw_roundtrip(&amqp_url(), 200, 512).await.unwrap();
    assert_eq!((r.messages, r.payload_size), (200, 512));
    assert!(r.publish_elapsed <= r.elapsed);
}

/// Runs `rabbitmqctl` against the test node of `scripts/services.sh` (its node name and ports
/// follow from the AMQP port; the node's files live under `AMTSBOTE_TEST_SERVICES`).
async fn rabbitmqctl(args: &[&str]) -> String {
    let dir = std::env::var("AMTSBOTE_TEST_SERVICES").expect(
        "AMTSBOTE_TEST_SERVICES is not set: start the services with `scripts/services.sh start` and export what it prints",
    );
    let rabbit = format!("{dir}/rabbitmq");
    let bin = if Path::new("/usr/lib/rabbitmq/bin/rabbitmqctl").exists() {
        "/usr/lib/rabbitmq/bin/rabbitmqctl"
    } else {
        "rabbitmqctl"
    };
    // services.sh names the node after its AMQP port and puts distribution and the port
    // mapper on the next two ports.
    let amqp_port: u16 = std::env::var("AMTSBOTE_TEST_AMQP_URL")
        .ok()
        .and_then(|u| {
            let rest = u.rsplit_once(':')?.1;
            rest.split('/').next()?.parse().ok()
        })
        .expect("AMTSBOTE_TEST_AMQP_URL names a port");
    let node = format!("amtsbote-test-{amqp_port}@localhost");
    let out = tokio::process::Command::new(bin)
        .args(["-n", &node, "-q"])
        .args(args)
        .env("RABBITMQ_NODENAME", &node)
        .env("ERL_EPMD_PORT", (amqp_port + 2).to_string())
        .env("RABBITMQ_DIST_PORT", (amqp_port + 1).to_string())
        .env("RABBITMQ_MNESIA_BASE", format!("{rabbit}/mnesia"))
        .env("RABBITMQ_LOG_BASE", format!("{rabbit}/log"))
        .env("RABBITMQ_CONFIG_FILE", format!("{rabbit}/rabbitmq"))
        .env(
            "RABBITMQ_ENABLED_PLUGINS_FILE",
            format!("{rabbit}/enabled_plugins"),
        )
        .env("HOME", &rabbit)
        .output()
        .await
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn consumers_resume_after_rabbitmq_closes_the_connection() {
    let rig = rig(&["c"]).await;
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let waiting = tokio::spawn(async move {
        let batch = consumer.next_batch(1, "w").await;
        (consumer, batch)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let opened = rig.queue.inner.generation.load(Ordering::SeqCst);
    // The server closes this test's connections (their names carry the test's prefix), as a
    // node that shuts down does.
    let listed = rabbitmqctl(&["list_connections", "pid", "client_properties"]).await;
    let ours = format!("amtsbote {} pid", rig.prefix);
    let pids: Vec<&str> = listed
        .lines()
        .filter(|l| l.contains(&ours))
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(
        pids.len(),
        2,
        "publishing and consuming connection: {listed}"
    );
    for pid in pids {
        rabbitmqctl(&[
            "close_connection",
            pid,
            "amtsbote test: closed by the server",
        ])
        .await;
    }

    let m = new_message(None, Some("c"));
    let id = m.id;
    rig.ledger.admit(m).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match rig.queue.publish(&envelope(id, "c")).await {
            Ok(()) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "publishing never recovered: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let (_consumer, batch) = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the consumer resumes by itself")
        .unwrap();
    let d = batch.unwrap().pop().unwrap();
    assert_eq!(d.envelope.message_id, id);
    d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
    assert!(rig.queue.inner.generation.load(Ordering::SeqCst) >= opened + 2);
}

/// The shared queue suite on RabbitMQ. The SQLite ledger has no outbox, so this ledger
/// publishes what a committed transition enqueues right after the commit (the PostgreSQL
/// ledger's outbox and relay do this durably).
mod conformance_suite {
    use super::*;
    use crate::conformance::{self, Subject};
    use crate::ledger::{
        Admission, ChainVerdict, InboundClaim, InboundSummary, MessageDetail, MessageFilter,
        MessageRecord, NewMessage, StateCount,
    };
    use std::sync::OnceLock;

    struct PublishingLedger {
        inner: Arc<dyn Ledger>,
        queue: OnceLock<RabbitQueue>,
    }

    impl PublishingLedger {
        async fn publish(&self, envelope: &Envelope) -> Result<(), LedgerError> {
            let queue = self.queue.get().expect("set after connect");
            queue
                .publish(envelope)
                .await
                .map_err(|e| LedgerError::Storage(e.to_string()))
        }
    }

    #[async_trait]
    impl Ledger for PublishingLedger {
        async fn admit(&self, message: NewMessage) -> Result<Admission, LedgerError> {
            let enqueue = message.enqueue.clone();
            let admission = self.inner.admit(message).await?;
            if let (Admission::Created(_), Some(envelope)) = (admission, enqueue) {
                self.publish(&envelope).await?;
            }
            Ok(admission)
        }

        async fn find_by_transport(
            &self,
            source: &str,
            transport_id: &str,
        ) -> Result<Option<MessageId>, LedgerError> {
            self.inner.find_by_transport(source, transport_id).await
        }

        async fn transitions(
            &self,
            id: MessageId,
            ts: Vec<Transition>,
        ) -> Result<State, LedgerError> {
            let enqueue: Vec<Envelope> = ts.iter().filter_map(|t| t.enqueue.clone()).collect();
            let before = self.inner.transitions(id, ts).await?;
            for envelope in &enqueue {
                self.publish(envelope).await?;
            }
            Ok(before)
        }

        async fn get(&self, id: MessageId) -> Result<Option<MessageDetail>, LedgerError> {
            self.inner.get(id).await
        }

        async fn list(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>, LedgerError> {
            self.inner.list(filter).await
        }

        async fn count(&self, filter: &MessageFilter) -> Result<u64, LedgerError> {
            self.inner.count(filter).await
        }

        async fn count_by_state(&self) -> Result<Vec<StateCount>, LedgerError> {
            self.inner.count_by_state().await
        }

        async fn verify(&self, id: MessageId) -> Result<ChainVerdict, LedgerError> {
            self.inner.verify(id).await
        }

        async fn inbound_claim(
            &self,
            source: &str,
            transport_id: &str,
            note: &str,
        ) -> Result<(), LedgerError> {
            self.inner.inbound_claim(source, transport_id, note).await
        }

        async fn inbound_open(&self, source: &str) -> Result<Vec<InboundClaim>, LedgerError> {
            self.inner.inbound_open(source).await
        }

        async fn inbound_summary(&self) -> Result<Vec<InboundSummary>, LedgerError> {
            self.inner.inbound_summary().await
        }

        async fn inbound_done(&self, source: &str, transport_id: &str) -> Result<(), LedgerError> {
            self.inner.inbound_done(source, transport_id).await
        }

        async fn lease_poller(
            &self,
            name: &str,
            holder: &str,
            ttl: Duration,
        ) -> Result<bool, LedgerError> {
            self.inner.lease_poller(name, holder, ttl).await
        }

        async fn release_poller(&self, name: &str, holder: &str) -> Result<(), LedgerError> {
            self.inner.release_poller(name, holder).await
        }
    }

    async fn subject(dir: &Path, connectors: &[&str]) -> (Subject, Cleanup) {
        let prefix = prefix();
        let connectors: Vec<String> = connectors.iter().map(|c| c.to_string()).collect();
        let cleanup = Cleanup {
            prefix: prefix.clone(),
            connectors: connectors.clone(),
        };
        let ledger = Arc::new(PublishingLedger {
            inner: ledger(dir),
            queue: OnceLock::new(),
        });
        let cfg = config(dir, &prefix, &amqp_url(), &[]);
        let queue = RabbitQueue::connect(&cfg, ledger.clone(), HashMap::new(), &connectors)
            .await
            .unwrap();
        let _ = ledger.queue.set(queue.clone());
        let subject = Subject {
            ledger,
            queue: Arc::new(queue),
            // RabbitMQ has no visibility timeout: deliveries come back on channel loss.
            visibility_timeout: Duration::from_secs(1),
        };
        (subject, cleanup)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lease_settle_and_dead_letters() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _cleanup) = subject(dir.path(), &["lease", "quiet"]).await;
        conformance::lease_settle_and_dead_letters(&s).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn retries_are_delayed() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _cleanup) = subject(dir.path(), &["retry"]).await;
        conformance::retries_are_delayed(&s).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn stale_entries_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _cleanup) = subject(dir.path(), &["stale"]).await;
        conformance::stale_entries_are_dropped(&s).await;
    }
}

#[test]
fn bad_urls_are_reported_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["foo:s3cret-pw", "http://guest:s3cret-pw@127.0.0.1:5672/"] {
        let r = secret_file(dir.path(), "url", bad);
        let err = parse_url("storage.rabbitmq.url", &r)
            .unwrap_err()
            .to_string();
        assert!(err.contains("storage.rabbitmq.url"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    let ok = secret_file(dir.path(), "url", "amqp://guest:guest@127.0.0.1:5672/%2f");
    assert!(parse_url("storage.rabbitmq.url", &ok).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_queue_is_an_error_and_declared_again() {
    let rig = rig(&["c"]).await;
    let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_delete(
        rig.queue.names().work_queue("c").as_str().into(),
        QueueDeleteOptions::default(),
    )
    .await
    .unwrap();
    let m = new_message(None, Some("c"));
    let id = m.id;
    rig.ledger.admit(m).await.unwrap();
    // Unroutable: the publish is not confirmed as delivered to a queue.
    let err = rig.queue.publish(&envelope(id, "c")).await.unwrap_err();
    assert!(
        err.to_string().contains("no queue for connector c"),
        "{err}"
    );
    rig.queue.publish(&envelope(id, "c")).await.unwrap();
    let mut consumer = rig.queue.consume("c").await.unwrap();
    let d = consumer.next_batch(1, "w").await.unwrap().pop().unwrap();
    assert_eq!(d.envelope.message_id, id);
    d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_keeps_the_outbox_while_rabbitmq_is_down_and_catches_up() {
    let url = amqp_url();
    let parsed = reqwest::Url::parse(&url).unwrap();
    let upstream = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(5672)
    );
    let proxy = Proxy::start(upstream).await;
    let dir = tempfile::tempdir().unwrap();
    let prefix = prefix();
    let _cleanup = Cleanup {
        prefix: prefix.clone(),
        connectors: vec!["c".into()],
    };
    let ledger = ledger(dir.path());
    let cfg = config(dir.path(), &prefix, &via(&url, proxy.port), &[]);
    let queue = RabbitQueue::connect(&cfg, ledger.clone(), HashMap::new(), &["c".to_string()])
        .await
        .unwrap();
    let mut consumer = queue.consume("c").await.unwrap();

    proxy.down(true);
    let m = new_message(None, Some("c"));
    let id = m.id;
    ledger.admit(m).await.unwrap();
    let outbox = Arc::new(FakeOutbox::default());
    outbox.entries.lock().unwrap().push((
        OutboxEntry {
            seq: 7,
            envelope: envelope(id, "c"),
        },
        None,
    ));
    let shutdown = CancellationToken::new();
    let relay = queue.spawn_relay_with(
        outbox.clone(),
        shutdown.clone(),
        RelaySettings {
            batch: 10,
            claim_for: Duration::from_millis(200),
            poll: Duration::from_millis(50),
        },
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(outbox.done.lock().unwrap().is_empty(), "nothing confirmed");
    assert_eq!(outbox.entries.lock().unwrap().len(), 1, "the entry stays");

    proxy.down(false);
    let d = tokio::time::timeout(Duration::from_secs(30), consumer.next_batch(1, "w"))
        .await
        .expect("published once RabbitMQ is back, and consumed")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(d.envelope.message_id, id);
    d.settle(Outcome::Ack, done("w", 1)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while outbox.done.lock().unwrap().as_slice() != [7] {
        assert!(Instant::now() < deadline, "the confirmed entry is removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    relay.await.unwrap();
}
