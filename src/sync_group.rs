//! Group sync: many writers of new files wait on one flush of the file system, instead of
//! one `fsync` each.
//!
//! Per-file `fsync` costs a journal commit each, which caps a disk at a few thousand files per
//! second however many writers there are. Here a writer writes its file, then calls
//! [`SyncGroup::sync`]; a background task takes every waiting writer, makes the file system
//! durable once (`syncfs(2)` on Linux: file data, new directory entries and renames alike),
//! and answers them all. A writer is answered only by a flush that started after it asked, so
//! "synced" always means "on disk". Elsewhere it falls back to `sync_all` per call.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, oneshot};

type Waiter = oneshot::Sender<Result<(), String>>;

/// Flushes the file system holding one directory, for all writers at once.
#[derive(Clone)]
pub struct SyncGroup {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    waiting: Mutex<Vec<Waiter>>,
    wake: Notify,
    /// Flushes started so far.
    flushes: AtomicU64,
}

impl SyncGroup {
    /// The group for the file system holding `dir`: one per file system in the process, so
    /// that the payload store and a drop folder on the same disk share flushes. Falls back to
    /// a group of its own when `dir` cannot be looked at yet.
    pub fn for_dir(dir: &Path) -> SyncGroup {
        use std::collections::HashMap;
        use std::sync::{LazyLock, Weak};
        // Keyed by runtime too: the flushing task lives on the runtime that made the group,
        // and dies with it. A group shared with another runtime (tests run each in a runtime
        // of its own, in parallel) would leave that runtime's writers waiting forever.
        type Key = (u64, Option<tokio::runtime::Id>);
        static GROUPS: LazyLock<Mutex<HashMap<Key, Weak<Inner>>>> = LazyLock::new(Default::default);
        let Some(device) = device_of(dir) else {
            return SyncGroup::new(dir);
        };
        let device = (
            device,
            tokio::runtime::Handle::try_current().ok().map(|h| h.id()),
        );
        let mut groups = GROUPS.lock().expect("sync groups");
        if let Some(inner) = groups.get(&device).and_then(Weak::upgrade) {
            return SyncGroup { inner };
        }
        let group = SyncGroup::new(dir);
        groups.insert(device, Arc::downgrade(&group.inner));
        group
    }

    /// A group for the file system of `dir` (which must exist when `sync` is first called).
    /// Needs a Tokio runtime: the flushing task runs on it.
    pub fn new(dir: &Path) -> SyncGroup {
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            waiting: Mutex::new(Vec::new()),
            wake: Notify::new(),
            flushes: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let batch = std::mem::take(&mut *inner.waiting.lock().expect("sync waiters"));
                if batch.is_empty() {
                    // Wake up now and then to notice when the group was dropped.
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(1),
                        inner.wake.notified(),
                    )
                    .await;
                    continue;
                }
                let dir = inner.dir.clone();
                inner.flushes.fetch_add(1, Ordering::Relaxed);
                drop(inner);
                let started = std::time::Instant::now();
                let result = tokio::task::spawn_blocking(move || flush(&dir))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                crate::telemetry::metrics::metrics()
                    .fs_flush_seconds
                    .observe(started.elapsed().as_secs_f64());
                for w in batch {
                    let _ = w.send(result.clone());
                }
            }
        });
        SyncGroup { inner }
    }

    /// How many flushes this group started.
    pub fn flushes(&self) -> u64 {
        self.inner.flushes.load(Ordering::Relaxed)
    }

    /// Returns once everything written to this file system before the call is durable.
    pub async fn sync(&self) -> std::io::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.inner.waiting.lock().expect("sync waiters").push(tx);
        self.inner.wake.notify_one();
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(std::io::Error::other(e)),
            Err(_) => Err(std::io::Error::other("the sync task stopped")),
        }
    }
}

#[cfg(unix)]
fn device_of(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| m.dev())
}

#[cfg(not(unix))]
fn device_of(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
fn flush(dir: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which stays open for the call.
    let rc = unsafe { libc::syncfs(f.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn flush(dir: &Path) -> std::io::Result<()> {
    // Without syncfs: flush the directory itself; callers also sync their files.
    std::fs::File::open(dir)?.sync_all()
}

/// Whether [`SyncGroup::sync`] covers file contents too (else writers sync each file).
pub const COVERS_FILE_DATA: bool = cfg!(target_os = "linux");

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn many_waiters_are_answered() {
        let dir = tempfile::tempdir().unwrap();
        let group = SyncGroup::new(dir.path());
        let mut tasks = Vec::new();
        for i in 0..50 {
            let g = group.clone();
            let p = dir.path().join(format!("f{i}"));
            tasks.push(tokio::spawn(async move {
                tokio::fs::write(&p, b"data").await.unwrap();
                g.sync().await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let flushes = group.flushes();
        assert!((1..=50).contains(&flushes), "{flushes} flushes");
    }

    /// On one thread the flushing task runs only when the writers wait: all of them asked
    /// before it ran, so one flush answers them all.
    #[tokio::test(flavor = "current_thread")]
    async fn writers_waiting_together_share_one_flush() {
        let dir = tempfile::tempdir().unwrap();
        let group = SyncGroup::new(dir.path());
        let waits: Vec<_> = (0..50).map(|_| group.sync()).collect();
        for r in futures::future::join_all(waits).await {
            r.unwrap();
        }
        assert_eq!(group.flushes(), 1);
        // A writer asking after that flush started is not answered by it: a flush of its own.
        group.sync().await.unwrap();
        assert_eq!(group.flushes(), 2);
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_error() {
        let group = SyncGroup::new(Path::new("/nonexistent/amtsbote"));
        assert!(group.sync().await.is_err());
    }
}
