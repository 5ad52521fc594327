//! Opening the configured backend: the ledger, the queue and the payload store, as the
//! deployment table in DESIGN.md chooses them — embedded (SQLite + local directory) or cluster
//! (PostgreSQL + RabbitMQ + S3 or a shared payload directory).

use crate::cluster::{PgLedger, RabbitQueue};
use crate::config::{Backend, Config};
use crate::embedded::{Database, SqliteLedger, SqliteQueue};
use crate::ledger::Ledger;
use crate::payload::s3::S3Store;
use crate::payload::sealed::PayloadKey;
use crate::payload::{LocalStore, PayloadStore};
use crate::queue::Queue;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The opened stores. Cheap to clone.
#[derive(Clone)]
pub struct Stores {
    pub ledger: Arc<dyn Ledger>,
    pub queue: Arc<dyn Queue>,
    pub payloads: Arc<dyn PayloadStore>,
    pub embedded: Option<Embedded>,
    pub cluster: Option<Cluster>,
}

/// Handles only the cluster backend has (the outbox relay).
#[derive(Clone)]
pub struct Cluster {
    pub ledger: PgLedger,
    pub queue: RabbitQueue,
}

/// Handles only the embedded backend has (lease recovery, orphan sweep, closing).
#[derive(Clone)]
pub struct Embedded {
    pub db: Database,
    pub queue: SqliteQueue,
    pub store: LocalStore,
}

/// How the payload key is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Generate a key file if there is none (first start of the embedded broker).
    CreateIfMissing,
    /// The key must exist (tools that only read).
    MustExist,
}

/// Reads the payload key, or creates it with a warning.
pub fn payload_key(path: &Path, policy: KeyPolicy) -> Result<PayloadKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => PayloadKey::from_hex(&text)
            .map_err(|e| anyhow::anyhow!("payload key file {}: {e}", path.display())),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && policy == KeyPolicy::CreateIfMissing =>
        {
            let key = PayloadKey::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            write_private(path, &key.to_hex())?;
            tracing::warn!(
                path = %path.display(),
                "generated a new payload encryption key; back it up — without it stored payloads cannot be read. \
                 In production, provision storage.payload_key_file yourself"
            );
            Ok(key)
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot read payload key file {}: {e}",
            path.display()
        )),
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Opens the stores of `config`.
pub async fn open(config: &Config, key_policy: KeyPolicy) -> Result<Stores> {
    match config.storage.backend {
        Backend::Embedded => {
            let dir = &config.storage.data_dir;
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create data directory {}", dir.display()))?;
            let key = payload_key(&config.storage.key_file(), key_policy)?;
            let db = Database::open(&dir.join("amtsbote.db"))
                .with_context(|| format!("cannot open the database in {}", dir.display()))?;
            let queue = SqliteQueue::new(
                db.clone(),
                config.queue.visibility_timeout,
                config.queue.poll_interval,
            );
            let store = LocalStore::new(dir.join("payloads"), key);
            Ok(Stores {
                ledger: Arc::new(SqliteLedger::new(db.clone())),
                queue: Arc::new(queue.clone()),
                payloads: Arc::new(store.clone()),
                embedded: Some(Embedded { db, queue, store }),
                cluster: None,
            })
        }
        Backend::Cluster => open_cluster(config, key_policy).await,
    }
}

async fn open_cluster(config: &Config, key_policy: KeyPolicy) -> Result<Stores> {
    let storage = &config.storage;
    let pg = storage
        .postgres
        .as_ref()
        .context("the cluster backend needs [storage.postgres]")?;
    let rabbit = storage
        .rabbitmq
        .as_ref()
        .context("the cluster backend needs [storage.rabbitmq]")?;
    let key = payload_key(&storage.key_file(), key_policy)?;
    let ledger = PgLedger::connect(pg)
        .await
        .context("cannot open the ledger on PostgreSQL")?;
    // Topology and prefetch for every connector the configuration names.
    let mut prefetch = HashMap::new();
    for (_, id, c) in config.all_connectors() {
        let n = c.concurrency().max(1);
        prefetch.insert(id.clone(), u16::try_from(n).unwrap_or(u16::MAX));
    }
    let connectors: Vec<String> = prefetch.keys().cloned().collect();
    let queue = RabbitQueue::connect(rabbit, Arc::new(ledger.clone()), prefetch, &connectors)
        .await
        .context("cannot open the queues on RabbitMQ")?;
    Ok(Stores {
        ledger: Arc::new(ledger.clone()),
        queue: Arc::new(queue.clone()),
        payloads: cluster_payloads(config, key).await?,
        embedded: None,
        cluster: Some(Cluster { ledger, queue }),
    })
}

/// The cluster's payload store: S3 when configured, else `<data_dir>/payloads`, which every
/// replica must share (one machine, or a shared file system).
async fn cluster_payloads(config: &Config, key: PayloadKey) -> Result<Arc<dyn PayloadStore>> {
    if let Some(s3) = &config.storage.s3 {
        let store = S3Store::connect(s3, key)
            .await
            .context("cannot open the payload store on S3")?;
        return Ok(Arc::new(store));
    }
    let dir = &config.storage.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    Ok(Arc::new(LocalStore::new(dir.join("payloads"), key)))
}

/// What the operator tools (`messages`, `replay`) work on: the ledger and the payloads. They
/// need no queue — a replay's queue entry is written with its ledger transition (the embedded
/// queue table, or the cluster ledger's outbox that the running brokers publish).
#[derive(Clone)]
pub struct Records {
    pub ledger: Arc<dyn Ledger>,
    pub payloads: Arc<dyn PayloadStore>,
    db: Option<Database>,
}

impl Records {
    pub fn close(&self) {
        if let Some(db) = &self.db {
            db.close();
        }
    }
}

/// Opens the records of an installation that has run before, for tools that look at or change
/// existing messages: refuses to create a new, empty data directory (a wrong `--config`
/// should be an error, not an empty list).
pub async fn open_existing(config: &Config) -> Result<Records> {
    match config.storage.backend {
        Backend::Embedded => {
            let db = config.storage.data_dir.join("amtsbote.db");
            if !db.is_file() {
                anyhow::bail!(
                    "no amtsbote data in {} (no amtsbote.db); is --config (or AMTSBOTE_CONFIG) the broker's configuration?",
                    config.storage.data_dir.display()
                );
            }
            let stores = open(config, KeyPolicy::MustExist).await?;
            Ok(Records {
                ledger: stores.ledger,
                payloads: stores.payloads,
                db: stores.embedded.map(|e| e.db),
            })
        }
        Backend::Cluster => {
            let storage = &config.storage;
            let pg = storage
                .postgres
                .as_ref()
                .context("the cluster backend needs [storage.postgres]")?;
            let key = payload_key(&storage.key_file(), KeyPolicy::MustExist)?;
            let ledger = PgLedger::connect(pg)
                .await
                .context("cannot open the ledger on PostgreSQL")?;
            Ok(Records {
                ledger: Arc::new(ledger),
                payloads: cluster_payloads(config, key).await?,
                db: None,
            })
        }
    }
}

impl Stores {
    pub fn close(&self) {
        if let Some(e) = &self.embedded {
            e.db.close();
        }
    }
}
