//! Test harness for end-to-end tests: a real `amtsbote` binary with a configuration file in a
//! temporary directory, a sample Fachverfahren in the test process, and helpers to post
//! messages and ask the CLI what the ledger says.
#![allow(dead_code)]

pub mod admin;
pub mod fit_connect;

/// Runs each named `async fn(Backend)` test on both deployments, as `embedded::<name>` and
/// `cluster::<name>`: the same behaviour is promised on one machine (SQLite) and in a cluster
/// (PostgreSQL + RabbitMQ).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Backend::Embedded).await
                }
            )*
        }
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Backend::Cluster).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_backends;

use amtsbote::sandbox::fachverfahren::{Behaviour, Received, SampleFachverfahren};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-formserver";
pub const OTHER_TOKEN: &str = "test-token-other";

pub fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn gewerbe_xml() -> Vec<u8> {
    fixture("examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml")
}

pub fn xdomea_xml() -> Vec<u8> {
    fixture("examples/messages/xdomea-4.0-aussonderung-0503.xml")
}

pub fn xwasser_xml() -> Vec<u8> {
    fixture("examples/messages/xwasser-1.0-pruefbericht.xml")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Broker {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
    pub fv: SampleFachverfahren,
    /// Extra environment for the broker process (e.g. a failpoint).
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    client: reqwest::Client,
}

/// Which deployment a test runs against (DESIGN.md, "Two deployments, one code path").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite ledger and queue, local payload directory.
    Embedded,
    /// PostgreSQL ledger, RabbitMQ queues (the services `scripts/services.sh` starts), payloads
    /// in the local directory.
    Cluster,
}

fn required_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: cluster-mode tests need the services of scripts/services.sh \
             (run `eval \"$(scripts/services.sh start)\"` first; scripts/test.sh does this)"
        )
    })
}

/// A fresh PostgreSQL schema and RabbitMQ name prefix for one test, so tests sharing the
/// services never see each other's messages. Returns the `[storage]` section.
pub fn cluster_storage(dir: &Path) -> String {
    let pg = required_env("AMTSBOTE_TEST_PG_URL");
    let amqp = required_env("AMTSBOTE_TEST_AMQP_URL");
    cluster_storage_on(dir, &pg, &[amqp])
}

/// As [`cluster_storage`], on the given PostgreSQL and RabbitMQ (first URL, then fallbacks).
pub fn cluster_storage_on(dir: &Path, pg: &str, amqp: &[String]) -> String {
    let scope = format!("t{}", uuid::Uuid::new_v4().simple());
    let out = Command::new("psql")
        .arg(pg)
        .args(["-qc", &format!("CREATE SCHEMA {scope}")])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "cannot create schema {scope}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sep = if pg.contains('?') { '&' } else { '?' };
    std::fs::write(
        dir.join("pg.url"),
        format!("{pg}{sep}options=-csearch_path%3D{scope}"),
    )
    .unwrap();
    let mut fallbacks = Vec::new();
    for (i, url) in amqp.iter().enumerate() {
        let name = format!("amqp{i}.url");
        std::fs::write(dir.join(&name), url).unwrap();
        if i > 0 {
            fallbacks.push(format!("{{ file = \"{name}\" }}"));
        }
    }
    format!(
        r#"[storage]
backend = "cluster"
data_dir = "data"
payload_key_file = "{key}"

[storage.postgres]
url = {{ file = "pg.url" }}
pool_size = 8

[storage.rabbitmq]
url = {{ file = "amqp0.url" }}
fallback_urls = [{}]
prefix = "{scope}"
"#,
        fallbacks.join(", "),
        key = provide_payload_key(dir),
    )
}

/// The payload key a test's broker is configured with, provisioned as an operator would: a
/// 0600 file outside the data directory (`<dir>/payload.key`, beside the configuration). Made
/// once per directory, so a restarted broker or a replica gets the same key. Returns the name
/// for `storage.payload_key_file`, relative to the configuration file.
pub fn provide_payload_key(dir: &Path) -> &'static str {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join("payload.key");
    if !path.exists() {
        let key = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(key.as_bytes()))
            .unwrap();
    }
    "payload.key"
}

/// Where a test's broker keeps its state.
#[derive(Debug, Clone)]
pub enum Storage {
    Embedded,
    /// The shared test services (environment).
    Cluster,
    /// Given services: a PostgreSQL URL and RabbitMQ node URLs.
    ClusterOn {
        pg: String,
        amqp: Vec<String>,
    },
}

impl From<Backend> for Storage {
    fn from(b: Backend) -> Storage {
        match b {
            Backend::Embedded => Storage::Embedded,
            Backend::Cluster => Storage::Cluster,
        }
    }
}

/// The configuration every test starts from: two tenants, a global source, an http
/// connector to the sample Fachverfahren, a file connector, routes by standard.
pub fn config_text(dir: &Path, port: u16, fv_url: &str, extra: &str) -> String {
    config_text_for(&Storage::Embedded, dir, port, fv_url, extra)
}

/// As [`config_text`], on `storage`.
pub fn config_text_for(
    storage: &Storage,
    dir: &Path,
    port: u16,
    fv_url: &str,
    extra: &str,
) -> String {
    let storage = match storage {
        Storage::Embedded => format!(
            "[storage]\ndata_dir = \"data\"\npayload_key_file = \"{}\"\n",
            provide_payload_key(dir)
        ),
        Storage::Cluster => cluster_storage(dir),
        Storage::ClusterOn { pg, amqp } => cluster_storage_on(dir, pg, amqp),
    };
    format!(
        r#"
[server]
listen = "127.0.0.1:{port}"

{storage}
[queue]
poll_interval = "100ms"
visibility_timeout = "30s"

[intake]
max_message_bytes = 2000000
max_document_bytes = 1000000

[log]
level = "info"
# Short, so that a test sees a summary of failed authentications without waiting a minute.
auth_failure_summary = "2s"

[sources.formserver]
kind = "http"
token = {{ file = "formserver.token" }}
tenants = ["*"]

[connectors.gewerberegister]
kind = "http"
url = "{fv_url}/gewerberegister"
timeout = "5s"
concurrency = 4
retry = {{ initial_delay = "100ms", max_delay = "1s", max_attempts = 5 }}

[connectors.e-akte]
kind = "file"
directory = "{drop}"
retry = {{ initial_delay = "100ms", max_delay = "1s" }}

[[routes]]
name = "gewerbe"
standard = "xgewerbeanzeige"
message_type = "*.gewerbemeldung.0500"
test_messages = "include"
connector = "gewerberegister"

[[routes]]
name = "akten"
standard = "xdomea"
connector = "e-akte"

[[routes]]
name = "json"
standard = "json"
connector = "gewerberegister"

[tenants.cottbus]
name = "Stadt Cottbus"
ags = "12052000"

[tenants.beispielheim]
name = "Gemeinde Beispielheim"

[tenants.beispielheim.sources.own-portal]
kind = "http"
token = {{ file = "other.token" }}
{extra}
"#,
        drop = dir.join("drop").display()
    )
}

impl Broker {
    /// Starts the sample Fachverfahren and the broker with the standard configuration plus
    /// `extra` TOML appended.
    pub async fn start(behaviour: Behaviour, extra: &str) -> Broker {
        Self::start_on(free_port(), behaviour, extra).await
    }

    /// As [`Broker::start`], on `storage` (a [`Backend`] or given cluster services).
    pub async fn start_with(
        storage: impl Into<Storage>,
        behaviour: Behaviour,
        extra: &str,
    ) -> Broker {
        Self::start_full(&storage.into(), free_port(), behaviour, extra, |_| {}).await
    }

    /// As [`Broker::start_with`], after `files` wrote what the configuration refers to into
    /// the broker's directory (secrets, keys).
    pub async fn start_with_files(
        storage: impl Into<Storage>,
        behaviour: Behaviour,
        extra: &str,
        files: impl FnOnce(&Path),
    ) -> Broker {
        Self::start_full(&storage.into(), free_port(), behaviour, extra, files).await
    }

    /// As [`Broker::start`], listening on `port`.
    pub async fn start_on(port: u16, behaviour: Behaviour, extra: &str) -> Broker {
        Self::start_full(&Storage::Embedded, port, behaviour, extra, |_| {}).await
    }

    async fn start_full(
        storage: &Storage,
        port: u16,
        behaviour: Behaviour,
        extra: &str,
        files: impl FnOnce(&Path),
    ) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let fv = SampleFachverfahren::start("127.0.0.1:0".parse().unwrap(), behaviour)
            .await
            .unwrap();
        std::fs::write(dir.path().join("formserver.token"), TOKEN).unwrap();
        std::fs::write(dir.path().join("other.token"), OTHER_TOKEN).unwrap();
        let config = dir.path().join("amtsbote.toml");
        std::fs::write(
            &config,
            // `{FV}` in `extra` stands for the sample Fachverfahren's base URL.
            config_text_for(
                storage,
                dir.path(),
                port,
                &format!("http://{}", fv.addr),
                &extra.replace("{FV}", &format!("http://{}", fv.addr)),
            ),
        )
        .unwrap();
        let mut b = Broker {
            dir,
            config,
            port,
            fv,
            env: Vec::new(),
            child: None,
            client: reqwest::Client::new(),
        };
        b.spawn().await;
        b
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Another broker process on the same configuration (a cluster replica), listening on its
    /// own port and logging to its own file; started and ready.
    pub async fn spawn_replica(&self, name: &str) -> Replica {
        let mut r = Replica {
            name: name.to_string(),
            port: free_port(),
            config: self.config.clone(),
            log: self.dir.path().join(format!("{name}.log")),
            env: self.env.clone(),
            child: None,
        };
        r.spawn().await;
        r
    }

    /// Starts the broker process and waits until it is ready.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("broker.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_amtsbote"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            // The key comes from the configuration's file unless a test sets it here.
            .env_remove("AMTSBOTE_PAYLOAD_KEY")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/readyz", self.base()))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("broker exited with {status} during start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "broker not ready after 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// Waits for the process to end by itself (e.g. a failpoint aborted it).
    pub async fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "broker still running after {secs} s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = c.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "broker did not stop within 30 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn post(
        &self,
        tenant: &str,
        body: Vec<u8>,
        content_type: &str,
        transport_id: Option<&str>,
    ) -> (u16, Value) {
        self.post_as(TOKEN, tenant, body, content_type, transport_id)
            .await
    }

    pub async fn post_as(
        &self,
        token: &str,
        tenant: &str,
        body: Vec<u8>,
        content_type: &str,
        transport_id: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("{}/api/v1/tenants/{tenant}/messages", self.base()))
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(body);
        if let Some(t) = transport_id {
            req = req.header("X-Transport-Id", t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Posts a multipart message (`document` and `attachment` parts) as the form server.
    pub async fn post_form(&self, tenant: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1/tenants/{tenant}/messages", self.base()))
            .bearer_auth(TOKEN)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Runs the CLI against this broker's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_amtsbote"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("AMTSBOTE_PAYLOAD_KEY")
            .output()
            .unwrap()
    }

    pub fn show(&self, id: &str) -> Value {
        let out = self.cli(&["messages", "show", id, "--json"]);
        assert!(
            out.status.success(),
            "messages show {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn list(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["messages", "list", "--json", "--limit", "0"];
        args.extend_from_slice(extra);
        let out = self.cli(&args);
        assert!(
            out.status.success(),
            "messages list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until message `id` is in `state` (panics with its history after `secs`).
    pub async fn wait_state(&self, id: &str, state: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.show(id);
            if m["state"] == state {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "message {id} not {state} after {secs} s: {m:#}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.fv.received()
    }

    /// Waits (at most `secs`) until every message in `accepted` (transport id → message id)
    /// is delivered and the ledger holds nothing else, then checks that the Fachverfahren saw
    /// exactly these message ids, one case each, and that the hash chains of the first
    /// `chains` are intact. Returns (requests, raw duplicates absorbed by `Idempotency-Key`).
    pub async fn assert_delivered_once(
        &self,
        accepted: &std::collections::BTreeMap<String, String>,
        secs: u64,
        chains: usize,
    ) -> (u32, u32) {
        let total = accepted.len();
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let rows = self.list(&[]);
            let delivered = rows.iter().filter(|m| m["state"] == "delivered").count();
            if delivered == total && rows.len() == total {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{delivered} of {total} delivered, {} rows; states: {:?}\n{}",
                rows.len(),
                rows.iter()
                    .map(|m| m["state"].as_str().unwrap())
                    .collect::<std::collections::BTreeSet<_>>(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let received = self.received();
        let cases: std::collections::BTreeSet<&str> = received
            .iter()
            .filter_map(|r| r.reference.as_deref())
            .collect();
        let keys: std::collections::BTreeSet<&str> = received
            .iter()
            .filter(|r| r.reference.is_some())
            .map(|r| r.key.as_str())
            .collect();
        let ids: std::collections::BTreeSet<&str> = accepted.values().map(String::as_str).collect();
        assert_eq!(
            keys, ids,
            "every accepted message reached the Fachverfahren, nothing else did"
        );
        assert_eq!(
            cases.len(),
            total,
            "one case per message with Idempotency-Key"
        );
        for id in ids.iter().take(chains) {
            let m = self.show(id);
            assert!(
                m["chain"]["Intact"].is_object(),
                "hash chain intact for {id}"
            );
        }
        (
            received.iter().map(|r| r.requests).sum(),
            received.iter().map(|r| r.duplicates).sum(),
        )
    }

    /// Files under the payload store directory (to check nothing was stored).
    pub fn payload_files(&self) -> usize {
        walk(&self.data_dir().join("payloads"))
    }
}

fn walk(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A further broker process on a [`Broker`]'s configuration (cluster mode).
pub struct Replica {
    pub name: String,
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Replica {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts the process and waits until it is ready.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_amtsbote"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env(
                "AMTSBOTE__SERVER__LISTEN",
                format!("127.0.0.1:{}", self.port),
            )
            // The key comes from the configuration's file unless a test sets it here.
            .env_remove("AMTSBOTE_PAYLOAD_KEY")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base())).send().await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "replica {} exited with {status} during start:\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not ready after 60 s:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}
