//! The embedded database: one SQLite file (WAL) holding the ledger and the queue, so that a
//! ledger row and its queue entry commit in one transaction.
//!
//! All writes go through a single writer thread that commits in groups: it takes every job
//! that is waiting, runs each inside its own savepoint, and makes them durable with one
//! commit (one fsync). Callers are answered only after that commit. Under load this turns
//! thousands of small transactions into a few large ones without weakening durability: a
//! caller that got `Ok` has its data on disk (`synchronous = FULL`).
//!
//! Reads use a small pool of separate connections, which WAL lets run beside the writer.

use rusqlite::{Connection, OpenFlags};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Notify, oneshot};

/// Most jobs one commit takes; bounds the latency a single group can add.
const MAX_GROUP: usize = 512;

/// Schema version this code writes; bump with a new entry in [`MIGRATIONS`].
const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
];

/// A storage failure, as text (SQLite's message; never contains payload content because no
/// payload content is stored in SQLite).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct DbFailure(pub String);

impl From<rusqlite::Error> for DbFailure {
    fn from(e: rusqlite::Error) -> Self {
        DbFailure(e.to_string())
    }
}

type Reply = Box<dyn FnOnce(Result<(), DbFailure>) + Send>;

enum Outcome {
    Commit(Reply),
    Rollback,
}

type Job = Box<dyn FnOnce(&Connection) -> Outcome + Send>;

/// Handle to the embedded database; cheap to clone.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    wakeups: Mutex<HashMap<String, Arc<Notify>>>,
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk before the caller hears about it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        // Written by a newer amtsbote: its tables may mean things this version does not know.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the database has schema version {version}, this amtsbote knows up to {}; run the newer amtsbote",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

impl Database {
    /// Opens (and creates or migrates) the database file and starts its writer thread.
    pub fn open(path: &Path) -> Result<Database, DbFailure> {
        if let Some(dir) = path.parent() {
            crate::at_rest::create_private_dir(dir)
                .map_err(|e| DbFailure(format!("cannot create {}: {e}", dir.display())))?;
        }
        // SQLite would create the file 0644 whatever the umask, and gives its -wal, -shm and
        // -journal files the database file's mode: an empty private file first makes them all
        // private (an empty file is a valid, empty database).
        match crate::at_rest::private_file_options()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(DbFailure(format!("cannot create {}: {e}", path.display()))),
        }
        let mut conn = open_connection(path)?;
        migrate(&mut conn)?;
        // Checkpoints run on their own thread, not inside the writer's commits.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("amtsbote-db-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| DbFailure(format!("cannot start the database writer: {e}")))?;
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            writer: Mutex::new(Some(tx)),
            readers: Mutex::new(Vec::new()),
            wakeups: Mutex::new(HashMap::new()),
        });
        let checkpointer = open_connection(path)?;
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("amtsbote-db-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, weak))
            .map_err(|e| DbFailure(format!("cannot start the database checkpointer: {e}")))?;
        Ok(Database { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's next group commit and returns its result once committed.
    /// If `f` fails, its changes are rolled back and the others in the group are unaffected.
    /// If the returned future is dropped before `f` ran, `f` does not run.
    pub async fn write<R, E, F>(&self, f: F) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<DbFailure> + Send + 'static,
        F: FnOnce(&Connection) -> Result<R, E> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, E>>();
        let job: Job = Box::new(move |conn| {
            // The caller has gone (its future was dropped: a client hung up, a worker shut
            // down): do not do work nobody will act on.
            if tx.is_closed() {
                return Outcome::Rollback;
            }
            match f(conn) {
                Ok(value) => Outcome::Commit(Box::new(move |committed| {
                    let _ = tx.send(committed.map(|()| value).map_err(E::from));
                })),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    Outcome::Rollback
                }
            }
        });
        let sender = self.inner.writer.lock().expect("writer lock").clone();
        let Some(sender) = sender else {
            return Err(E::from(DbFailure("the database is closed".into())));
        };
        sender
            .send(job)
            .map_err(|_| E::from(DbFailure("the database writer has stopped".into())))?;
        rx.await
            .unwrap_or_else(|_| Err(E::from(DbFailure("the database writer has stopped".into()))))
    }

    /// Runs a read on a pooled connection on the blocking thread pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R, DbFailure>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().expect("reader pool").pop();
            let conn = match conn {
                Some(c) => c,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn).map_err(DbFailure::from);
            inner.readers.lock().expect("reader pool").push(conn);
            result
        })
        .await
        .map_err(|e| DbFailure(format!("read task failed: {e}")))?
    }

    /// The wake-up signal for a connector's consumers; publishing to that queue fires it.
    pub fn wakeup(&self, connector: &str) -> Arc<Notify> {
        self.inner
            .wakeups
            .lock()
            .expect("wakeups")
            .entry(connector.to_string())
            .or_default()
            .clone()
    }

    /// Stops accepting writes; the writer thread finishes what is queued and exits.
    pub fn close(&self) {
        self.inner.writer.lock().expect("writer lock").take();
    }
}

/// Copies committed pages from the WAL into the database file every so often, without
/// blocking the writer (PASSIVE), so that the WAL stays small and commits stay cheap. Stops
/// when the database is dropped.
fn checkpoint_loop(conn: Connection, db: std::sync::Weak<Inner>) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if db
            .upgrade()
            .is_none_or(|d| d.writer.lock().map(|w| w.is_none()).unwrap_or(true))
        {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            return;
        }
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "database: checkpoint failed; will retry");
        }
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&conn, group);
    }
}

fn run_group(conn: &Connection, group: Vec<Job>) {
    let started = std::time::Instant::now();
    let m = crate::telemetry::metrics::metrics();
    m.db_group_jobs.observe(group.len() as f64);
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // The jobs cannot run: answer each with the failure by running it against nothing.
        // Dropping a job drops its reply channel, which the caller sees as a failure.
        tracing::error!(error = %e, "database: cannot begin a transaction");
        drop(group);
        return;
    }
    let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
    for job in group {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "database: cannot open a savepoint");
            continue;
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(conn)));
        match outcome {
            Ok(Outcome::Commit(reply)) => {
                let _ = conn.execute_batch("RELEASE job");
                replies.push(reply);
            }
            Ok(Outcome::Rollback) | Err(_) => {
                let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            }
        }
    }
    let committed = conn.execute_batch("COMMIT").map_err(DbFailure::from);
    m.db_commit_seconds.observe(started.elapsed().as_secs_f64());
    if committed.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for reply in replies {
        reply(committed.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_job_does_not_spoil_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (x INTEGER PRIMARY KEY)")
                .map_err(DbFailure::from)
        })
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |c| {
                    c.execute("INSERT INTO t VALUES (?1)", [i])?;
                    if i % 5 == 0 {
                        return Err(DbFailure("refused".into()));
                    }
                    Ok(i)
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 40);
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(n, 40, "rolled-back jobs leave nothing behind");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_whose_caller_left_is_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (x)")
                .map_err(DbFailure::from)
        })
        .await
        .unwrap();
        // Keep the writer busy, then give up on a second write before it runs.
        let busy = db.clone();
        let slow = tokio::spawn(async move {
            busy.write(|_| {
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok::<_, DbFailure>(())
            })
            .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let gave_up = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            db.write(|c| {
                c.execute_batch("INSERT INTO t VALUES (1)")
                    .map_err(DbFailure::from)
            }),
        )
        .await;
        assert!(gave_up.is_err());
        slow.await.unwrap().unwrap();
        let n: i64 = db
            .read(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn reopening_keeps_committed_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let db = Database::open(&path).unwrap();
            db.write(|c| {
                c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (7)")
                    .map_err(DbFailure::from)
            })
            .await
            .unwrap();
            db.close();
        }
        let db = Database::open(&path).unwrap();
        let x: i64 = db
            .read(|c| c.query_row("SELECT x FROM t", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(x, 7);
    }
}
