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
    pub ledger: SqliteLedger,
    pub queue: SqliteQueue,
    pub store: LocalStore,
}

impl Embedded {
    /// Start-up of the process that owns the database (it holds the data directory's lock):
    /// queue and poller leases found belong to a process that is gone, so they are freed at
    /// once instead of after their timeouts. Returns how many of each.
    pub async fn recover_leases(&self) -> Result<(u64, u64)> {
        let deliveries = self
            .queue
            .release_all_leases()
            .await
            .context("cannot recover queue leases")?;
        let pollers = self
            .ledger
            .release_all_poller_leases()
            .await
            .context("cannot recover poller leases")?;
        Ok((deliveries, pollers))
    }
}

/// One embedded broker per data directory (its SQLite queue leases assume it): the lock on
/// `broker.lock`, held while the returned file is open. Cluster replicas share everything
/// through PostgreSQL and RabbitMQ, and may share the directory: no lock.
pub fn lock_data_dir(config: &Config) -> Result<Option<std::fs::File>> {
    if config.storage.backend != Backend::Embedded {
        return Ok(None);
    }
    let dir = &config.storage.data_dir;
    let lock_path = dir.join("broker.lock");
    let lock = crate::at_rest::private_file_options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    if lock.try_lock().is_err() {
        anyhow::bail!("another amtsbote broker is running on {}", dir.display());
    }
    Ok(Some(lock))
}

/// The payload key, from where the configuration provisions it (see [`crate::at_rest`]).
pub fn payload_key(config: &Config) -> Result<PayloadKey> {
    crate::at_rest::payload_key(&config.storage).map_err(anyhow::Error::msg)
}

/// Opens the stores of `config`.
pub async fn open(config: &Config) -> Result<Stores> {
    match config.storage.backend {
        Backend::Embedded => {
            let dir = &config.storage.data_dir;
            let key = payload_key(config)?;
            crate::at_rest::prepare_data_dir(dir)?;
            let db = Database::open(&dir.join("amtsbote.db"))
                .with_context(|| format!("cannot open the database in {}", dir.display()))?;
            let queue = SqliteQueue::new(
                db.clone(),
                config.queue.visibility_timeout,
                config.queue.poll_interval,
            );
            let store = LocalStore::new(dir.join("payloads"), key);
            let ledger = SqliteLedger::new(db.clone());
            Ok(Stores {
                ledger: Arc::new(ledger.clone()),
                queue: Arc::new(queue.clone()),
                payloads: Arc::new(store.clone()),
                embedded: Some(Embedded {
                    db,
                    ledger,
                    queue,
                    store,
                }),
                cluster: None,
            })
        }
        Backend::Cluster => open_cluster(config).await,
    }
}

async fn open_cluster(config: &Config) -> Result<Stores> {
    let storage = &config.storage;
    let pg = storage
        .postgres
        .as_ref()
        .context("the cluster backend needs [storage.postgres]")?;
    let rabbit = storage
        .rabbitmq
        .as_ref()
        .context("the cluster backend needs [storage.rabbitmq]")?;
    let key = payload_key(config)?;
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
    crate::at_rest::prepare_data_dir(dir)?;
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
            let stores = open(config).await?;
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
            let key = payload_key(config)?;
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
    /// The ledger and payloads of a running broker, for the admin API (which must not close
    /// them: the broker does on shutdown).
    pub fn records(&self) -> Records {
        Records {
            ledger: self.ledger.clone(),
            payloads: self.payloads.clone(),
            db: None,
        }
    }

    pub fn close(&self) {
        if let Some(e) = &self.embedded {
            e.db.close();
        }
    }
}
