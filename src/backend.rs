//! Opening the configured backend: the ledger, the queue and the payload store, as the
//! deployment table in DESIGN.md chooses them. Today that is the embedded backend (SQLite +
//! local directory); the cluster backend (PostgreSQL, RabbitMQ, S3) plugs in here.

use crate::config::{Backend, Config};
use crate::embedded::{Database, SqliteLedger, SqliteQueue};
use crate::ledger::Ledger;
use crate::payload::sealed::PayloadKey;
use crate::payload::{LocalStore, PayloadStore};
use crate::queue::Queue;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;

/// The opened stores. Cheap to clone.
#[derive(Clone)]
pub struct Stores {
    pub ledger: Arc<dyn Ledger>,
    pub queue: Arc<dyn Queue>,
    pub payloads: Arc<dyn PayloadStore>,
    pub embedded: Option<Embedded>,
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
pub fn open(config: &Config, key_policy: KeyPolicy) -> Result<Stores> {
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
            })
        }
    }
}

/// Opens the stores of an installation that has run before, for tools that look at or change
/// existing messages: refuses to create a new, empty data directory (a wrong `--config`
/// should be an error, not an empty list).
pub fn open_existing(config: &Config) -> Result<Stores> {
    match config.storage.backend {
        Backend::Embedded => {
            let db = config.storage.data_dir.join("amtsbote.db");
            if !db.is_file() {
                anyhow::bail!(
                    "no amtsbote data in {} (no amtsbote.db); is --config (or AMTSBOTE_CONFIG) the broker's configuration?",
                    config.storage.data_dir.display()
                );
            }
        }
    }
    open(config, KeyPolicy::MustExist)
}

impl Stores {
    pub fn close(&self) {
        if let Some(e) = &self.embedded {
            e.db.close();
        }
    }
}
