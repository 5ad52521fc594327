//! Cluster mode under faults: broker replicas killed with `kill -9`, RabbitMQ restarted, a
//! RabbitMQ cluster node killed, PostgreSQL restarted — while applications stream in and
//! deliveries are under way. Afterwards every accepted message is delivered, and a
//! Fachverfahren that honours `Idempotency-Key` has exactly one case per message.
//!
//! The tests that restart a service start a private one (own ports, own directory) so that
//! the other tests, which share the services of `scripts/services.sh`, are not disturbed.
//! Figures the tests print are collected in docs/RELIABILITY.md.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use rand::Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the form server knows: transport id → message id once intake said 2xx.
type Accepted = Arc<Mutex<BTreeMap<String, String>>>;

/// A form server behind a load balancer: posts every transport id until one of the replicas
/// accepts it, moving to the next replica when one does not answer. Returns when all are
/// accepted or `stop` is set.
async fn send_until_accepted(
    bases: Vec<String>,
    ids: Vec<String>,
    pace: Duration,
    accepted: Accepted,
    stop: Arc<AtomicBool>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut next = 0usize;
    for tid in ids {
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let base = &bases[next % bases.len()];
            next += 1;
            let resp = client
                .post(format!("{base}/api/v1/tenants/cottbus/messages"))
                .bearer_auth(TOKEN)
                .header("Content-Type", "application/xml")
                .header("X-Transport-Id", &tid)
                .body(gewerbe_xml())
                .send()
                .await;
            if let Ok(r) = resp
                && r.status().is_success()
                && let Ok(v) = r.json::<serde_json::Value>().await
            {
                record(&accepted, &tid, v["id"].as_str().unwrap());
                tokio::time::sleep(pace).await;
                break;
            }
            // Refused (storage down, 503) or no answer (killed): try again, elsewhere.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Notes an accepted transport id; a second, different message id for it is an error.
fn record(accepted: &Accepted, tid: &str, id: &str) {
    let mut acc = accepted.lock().unwrap();
    if let Some(prev) = acc.insert(tid.to_string(), id.to_string()) {
        assert_eq!(prev, id, "transport id {tid} got two message ids");
    }
}

/// Starts `senders` form servers over `total` transport ids, each pausing `pace` after an
/// accepted message (so that the flow lasts through a fault); returns their handles.
fn start_senders(
    bases: Vec<String>,
    total: usize,
    senders: usize,
    pace: Duration,
    accepted: &Accepted,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let all: Vec<String> = (0..total).map(|i| format!("form-{i:04}")).collect();
    (0..senders)
        .map(|s| {
            let mine: Vec<String> = all.iter().skip(s).step_by(senders).cloned().collect();
            tokio::spawn(send_until_accepted(
                bases.clone(),
                mine,
                pace,
                accepted.clone(),
                stop.clone(),
            ))
        })
        .collect()
}

/// Waits until every accepted message is delivered exactly once (see
/// [`Broker::assert_delivered_once`]). Returns (requests, raw duplicates).
async fn assert_all_delivered_once(
    b: &Broker,
    accepted: &Accepted,
    total: usize,
    secs: u64,
) -> (u32, u32) {
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(
        accepted.len(),
        total,
        "every message was eventually accepted"
    );
    b.assert_delivered_once(&accepted, secs, 10).await
}

fn script(args: &[&str], env: &[(&str, String)]) -> String {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(args[0]))
        .args(&args[1..])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("script runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A private PostgreSQL and RabbitMQ (ports `pg_port`, `amqp_port`) that a test may restart.
struct PrivateServices {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    pg: String,
    amqp: String,
}

impl PrivateServices {
    fn start(pg_port: u16, amqp_port: u16) -> PrivateServices {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("AMTSBOTE_SERVICES_PG_PORT", pg_port.to_string()),
            ("AMTSBOTE_SERVICES_AMQP_PORT", amqp_port.to_string()),
        ];
        let s = PrivateServices {
            pg: format!("postgres://amtsbote@127.0.0.1:{pg_port}/amtsbote"),
            amqp: format!("amqp://guest:guest@127.0.0.1:{amqp_port}/%2f"),
            dir,
            env,
        };
        s.run("start");
        s
    }

    fn svc_dir(&self) -> String {
        self.dir.path().join("svc").display().to_string()
    }

    fn run(&self, action: &str) {
        script(&["scripts/services.sh", action, &self.svc_dir()], &self.env);
    }

    fn storage(&self) -> Storage {
        Storage::ClusterOn {
            pg: self.pg.clone(),
            amqp: vec![self.amqp.clone()],
        }
    }
}

impl Drop for PrivateServices {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services.sh"))
            .args(["stop", &self.svc_dir()])
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output();
    }
}

const KILLS: usize = 20;

/// Pause of each form server after an accepted message in the service-fault tests: 200
/// messages take several seconds, so the fault lands mid-flow and most messages are accepted
/// while the service is away or coming back.
const PACE: Duration = Duration::from_millis(60);

#[tokio::test(flavor = "multi_thread")]
async fn one_of_two_replicas_killed_20_times_loses_nothing_and_delivers_once() {
    let mut a = Broker::start_with(
        Backend::Cluster,
        Behaviour {
            fail_every: 4,
            fail_attempts: 1,
            ..Default::default()
        },
        "",
    )
    .await;
    let mut b = a.spawn_replica("replica-b").await;
    let total = 400;
    let accepted: Accepted = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let senders = start_senders(
        vec![a.base(), b.base()],
        total,
        4,
        Duration::ZERO,
        &accepted,
        &stop,
    );
    let mut rng = rand::rng();
    let (mut kills_a, mut kills_b) = (0, 0);
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..800))).await;
        if rng.random_bool(0.5) {
            a.kill9();
            kills_a += 1;
            a.spawn().await;
        } else {
            b.kill9();
            kills_b += 1;
            b.spawn().await;
        }
    }
    let during = accepted.lock().unwrap().len();
    for s in senders {
        tokio::time::timeout(Duration::from_secs(120), s)
            .await
            .expect("senders finish once both replicas run")
            .unwrap();
    }
    let (requests, duplicates) = assert_all_delivered_once(&a, &accepted, total, 120).await;
    println!(
        "cluster kill -9 x{KILLS} (replica a {kills_a}, b {kills_b}): {total} messages ({during} accepted while killing), \
         {total} cases, {requests} requests, {duplicates} duplicate deliveries absorbed by Idempotency-Key, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// What [`flow_through_a_fault`] saw.
struct FaultRun {
    requests: u32,
    duplicates: u32,
    /// How long the fault itself took (e.g. the service's restart).
    fault: Duration,
    total: Duration,
}

/// Sends `total` messages through the broker at a pace, makes `fault` happen once a quarter
/// is accepted, then waits until every accepted message is delivered exactly once.
async fn flow_through_a_fault(b: &Broker, total: usize, fault: impl FnOnce()) -> FaultRun {
    let accepted: Accepted = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let senders = start_senders(vec![b.base()], total, 2, PACE, &accepted, &stop);
    while accepted.lock().unwrap().len() < total / 4 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at = Instant::now();
    fault();
    let fault = at.elapsed();
    for s in senders {
        tokio::time::timeout(Duration::from_secs(120), s)
            .await
            .expect("senders finish")
            .unwrap();
    }
    let (requests, duplicates) = assert_all_delivered_once(b, &accepted, total, 120).await;
    FaultRun {
        requests,
        duplicates,
        fault,
        total: started.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rabbitmq_restarted_mid_flow_loses_nothing_and_the_broker_reconnects() {
    let svc = PrivateServices::start(58432, 58720);
    let b = Broker::start_with(svc.storage(), Behaviour::default(), "").await;
    let total = 200;
    let run = flow_through_a_fault(&b, total, || svc.run("restart-rabbit")).await;
    let log = b.log();
    assert!(
        log.contains("the connection was lost; reconnecting") && log.contains("consuming again"),
        "the broker says it lost RabbitMQ and consumes again:\n{log}"
    );
    println!(
        "RabbitMQ restarted mid-flow ({:.1} s down): {total} messages, {total} cases, {} requests, \
         {} duplicates absorbed, {:.1} s",
        run.fault.as_secs_f64(),
        run.requests,
        run.duplicates,
        run.total.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_flow_the_broker_recovers_by_itself() {
    let svc = PrivateServices::start(58532, 58820);
    let b = Broker::start_with(svc.storage(), Behaviour::default(), "").await;
    let total = 200;
    let run = flow_through_a_fault(&b, total, || svc.run("restart-pg")).await;
    println!(
        "PostgreSQL restarted mid-flow ({:.1} s down): {total} messages, {total} cases, {} requests, \
         {} duplicates absorbed, {:.1} s",
        run.fault.as_secs_f64(),
        run.requests,
        run.duplicates,
        run.total.as_secs_f64()
    );
}

/// A three-node RabbitMQ cluster (quorum queues replicated on all three); the node the broker
/// is connected to is killed mid-flow.
struct RabbitCluster {
    dir: tempfile::TempDir,
    base: u16,
    urls: Vec<String>,
}

impl RabbitCluster {
    fn start(base: u16) -> RabbitCluster {
        let dir = tempfile::tempdir().unwrap();
        let out = script(
            &[
                "scripts/rabbit-cluster.sh",
                "start",
                &dir.path().join("rc").display().to_string(),
                &base.to_string(),
            ],
            &[],
        );
        let urls = out.lines().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(urls.len(), 3, "three node URLs: {out}");
        RabbitCluster { dir, base, urls }
    }

    /// Every queue with its number of members and of members online, as node `node` sees it.
    fn members(&self, node: u8) -> Vec<(String, usize, usize)> {
        let out = script(
            &[
                "scripts/rabbit-cluster.sh",
                "members",
                &self.dir.path().join("rc").display().to_string(),
                &node.to_string(),
            ],
            &[],
        );
        out.lines()
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((
                    f.next()?.to_string(),
                    f.next()?.parse().ok()?,
                    f.next()?.parse().ok()?,
                ))
            })
            .collect()
    }

    fn kill(&self, node: u8) {
        script(
            &[
                "scripts/rabbit-cluster.sh",
                "kill",
                &self.dir.path().join("rc").display().to_string(),
                &node.to_string(),
            ],
            &[],
        );
    }
}

impl Drop for RabbitCluster {
    fn drop(&mut self) {
        let _ =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/rabbit-cluster.sh"))
                .args([
                    "stop",
                    &self.dir.path().join("rc").display().to_string(),
                    &self.base.to_string(),
                ])
                .output();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rabbitmq_cluster_node_killed_mid_flow_loses_nothing() {
    let rc = RabbitCluster::start(57100);
    let pg = std::env::var("AMTSBOTE_TEST_PG_URL").expect(
        "AMTSBOTE_TEST_PG_URL is not set: run `eval \"$(scripts/services.sh start)\"` first",
    );
    let b = Broker::start_with(
        Storage::ClusterOn {
            pg,
            amqp: rc.urls.clone(),
        },
        Behaviour::default(),
        "",
    )
    .await;
    // The broker declared its queues on a cluster of three: each has a member on every node,
    // so one node may go.
    let queues = rc.members(1);
    assert!(
        queues.len() >= 4 && queues.iter().all(|(_, members, _)| *members == 3),
        "every quorum queue has three members: {queues:?}"
    );
    let total = 200;
    // Node 1 is the one the broker connected to (first URL).
    let run = flow_through_a_fault(&b, total, || rc.kill(1)).await;
    let log = b.log();
    assert!(
        log.contains("the connection was lost; reconnecting") && log.contains("fallback_urls"),
        "the broker moved to another node:\n{log}"
    );
    println!(
        "RabbitMQ 3-node cluster, node 1 killed mid-flow: {total} messages, {total} cases, {} requests, \
         {} duplicates absorbed, {:.1} s",
        run.requests,
        run.duplicates,
        run.total.as_secs_f64()
    );
}

/// Payloads on S3-compatible object storage (the test server of `scripts/services.sh`): a
/// message with an attachment goes through intake, RabbitMQ and the http connector, and its
/// parts live in the bucket — encrypted — not in the local directory.
#[tokio::test(flavor = "multi_thread")]
async fn payloads_in_s3_go_through_the_cluster() {
    let endpoint = std::env::var("AMTSBOTE_TEST_S3_ENDPOINT").expect(
        "AMTSBOTE_TEST_S3_ENDPOINT is not set: run `eval \"$(scripts/services.sh start)\"` first",
    );
    let bucket = format!("amtsbote-e2e-{}", uuid::Uuid::new_v4().simple());
    let http = reqwest::Client::new();
    // The test server takes unsigned requests to create a bucket.
    let r = http
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    let extra = format!(
        r#"
[storage.s3]
bucket = "{bucket}"
endpoint = "{endpoint}"
prefix = "e2e"
access_key_id = {{ file = "s3.id" }}
secret_access_key = {{ file = "s3.secret" }}
allow_http = true
"#
    );
    // `[storage.s3]` belongs after the cluster storage section: start_with appends `extra` at
    // the end of the file, where TOML allows a sub-table of [storage].
    let dir_files = |d: &Path| {
        std::fs::write(d.join("s3.id"), "testing").unwrap();
        std::fs::write(d.join("s3.secret"), "testing").unwrap();
    };
    let b =
        Broker::start_with_files(Backend::Cluster, Behaviour::default(), &extra, dir_files).await;
    let secret_marker = b"Musterstrasse 12, 03046 Cottbus";
    let mut document = gewerbe_xml();
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(std::mem::take(&mut document))
                .mime_str("application/xml")
                .unwrap(),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(secret_marker.repeat(1000)).file_name("scan.pdf"),
        );
    let (status, body) = b.post_form("cottbus", form).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "delivered", 30).await;
    assert_eq!(
        b.payload_files(),
        0,
        "nothing in the local payload directory"
    );

    // The bucket holds the message's parts, and none of them in clear text.
    let listing = http
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix=e2e"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.contains(&id) && k.ends_with("attachment-1")),
        "{keys:?}"
    );
    for k in &keys {
        let bytes = http
            .get(format!("{endpoint}/{bucket}/{k}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            !bytes
                .windows(secret_marker.len())
                .any(|w| w == secret_marker.as_slice()),
            "{k} is stored in clear text"
        );
    }
    // The Fachverfahren got the attachment back, decrypted.
    assert!(b.received().iter().any(|r| r.key == id));
}
