//! The payload store on a local directory (embedded deployment).
//!
//! Layout: `<dir>/<shard>/<message id>.<part>`, where the shard is the last two hex digits of
//! the message id (its random end, so shards fill evenly). A part is written to a temporary
//! name and renamed; `put` returns only when file and name are durable. Durability comes from
//! a [`SyncGroup`], so concurrent puts share one flush of the file system. A file that was
//! renamed but not yet flushed when the machine crashed is not referenced by the ledger (intake
//! writes the ledger row after `put` returns) and is removed by the orphan sweep.

use super::incoming::{Incoming, SealedPieces};
use super::sealed::{CHUNK, HEADER, Opener, PayloadKey, TAG, open_all, seal_all};
use super::{ByteStream, PayloadError, PayloadStore, Stored};
use crate::message::MessageId;
use crate::sync_group::{self, SyncGroup};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[derive(Clone)]
pub struct LocalStore {
    dir: PathBuf,
    key: PayloadKey,
    sync: Arc<OnceLock<SyncGroup>>,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>, key: PayloadKey) -> Self {
        LocalStore {
            dir: dir.into(),
            key,
            sync: Arc::default(),
        }
    }

    /// Made on first use: it needs the directory and a running Tokio runtime.
    fn sync_group(&self) -> &SyncGroup {
        self.sync.get_or_init(|| SyncGroup::for_dir(&self.dir))
    }

    fn shard(&self, id: MessageId) -> PathBuf {
        let s = id.to_string();
        self.dir.join(&s[s.len() - 2..])
    }

    fn path(&self, id: MessageId, part: &str) -> PathBuf {
        self.shard(id).join(format!("{id}.{part}"))
    }

    /// Ids of messages that have parts in the store (for the orphan sweep).
    pub fn stored_ids(&self) -> std::io::Result<Vec<(MessageId, SystemTime)>> {
        let mut out = Vec::new();
        let Ok(shards) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for shard in shards {
            let shard = shard?;
            if !shard.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(shard.path())? {
                let f = f?;
                let name = f.file_name();
                let name = name.to_string_lossy();
                if let Some(id) = name
                    .trim_start_matches('.')
                    .split('.')
                    .next()
                    .and_then(|s| s.parse().ok())
                {
                    out.push((id, f.metadata()?.modified()?));
                }
            }
        }
        Ok(out)
    }
}

/// Creates (or truncates) a file readable by the broker's user only (see [`crate::at_rest`]).
fn private_create() -> std::fs::OpenOptions {
    let mut opts = crate::at_rest::private_file_options();
    opts.write(true).create(true).truncate(true);
    opts
}

fn io_err(id: MessageId, e: impl std::fmt::Display) -> PayloadError {
    PayloadError::Io {
        id,
        reason: e.to_string(),
    }
}

/// Parts up to this size are sealed in memory and written in one blocking call; larger ones
/// are streamed. Most XÖV documents and many attachments are far below it.
const IN_MEMORY: usize = 1024 * 1024;

impl LocalStore {
    /// Writes a sealed part held in memory: temporary name, then renamed (one blocking call).
    async fn write_small(
        &self,
        id: MessageId,
        part: &str,
        sealed: Vec<u8>,
    ) -> Result<(), PayloadError> {
        let (shard, final_path) = (self.shard(id), self.path(id, part));
        let tmp_path = shard.join(format!(".{id}.{part}.tmp"));
        tokio::task::spawn_blocking(move || {
            crate::at_rest::create_private_dir(&shard)?;
            let written = crate::at_rest::write_private(&tmp_path, &sealed).and_then(|()| {
                if !sync_group::COVERS_FILE_DATA {
                    std::fs::File::open(&tmp_path)?.sync_all()?;
                }
                std::fs::rename(&tmp_path, &final_path)
            });
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp_path);
            }
            written
        })
        .await
        .map_err(|e| io_err(id, e))?
        .map_err(|e| io_err(id, e))
    }

    /// Streams a large part to disk: `pieces` seals what was read already and the rest.
    async fn write_streaming(
        &self,
        id: MessageId,
        part: &str,
        mut pieces: SealedPieces<'_>,
        header: Vec<u8>,
    ) -> Result<Stored, PayloadError> {
        let shard = self.shard(id);
        let dir = shard.clone();
        tokio::task::spawn_blocking(move || crate::at_rest::create_private_dir(&dir))
            .await
            .map_err(|e| io_err(id, e))?
            .map_err(|e| io_err(id, e))?;
        let tmp_path = shard.join(format!(".{id}.{part}.tmp"));
        let result = async {
            let mut file = tokio::fs::OpenOptions::from(private_create())
                .open(&tmp_path)
                .await
                .map_err(|e| io_err(id, e))?;
            file.write_all(&header).await.map_err(|e| io_err(id, e))?;
            while let Some(piece) = pieces.next().await? {
                file.write_all(&piece).await.map_err(|e| io_err(id, e))?;
            }
            if !sync_group::COVERS_FILE_DATA {
                file.sync_all().await.map_err(|e| io_err(id, e))?;
            }
            // tokio writes in the background: wait until the data is in the file.
            file.flush().await.map_err(|e| io_err(id, e))?;
            drop(file);
            tokio::fs::rename(&tmp_path, self.path(id, part))
                .await
                .map_err(|e| io_err(id, e))?;
            Ok(pieces.stored())
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp_path).await;
        }
        result
    }
}

#[async_trait]
impl PayloadStore for LocalStore {
    async fn put(
        &self,
        id: MessageId,
        part: &str,
        data: ByteStream<'_>,
        limit: u64,
    ) -> Result<Stored, PayloadError> {
        let mut incoming = Incoming::new(id, data, limit);
        let (head, more) = incoming.head(IN_MEMORY).await?;
        let stored = if more {
            let (pieces, header) = SealedPieces::new(&self.key, part, head, incoming);
            self.write_streaming(id, part, pieces, header).await?
        } else {
            let sealed = seal_all(&self.key, &id.to_string(), part, &head);
            self.write_small(id, part, sealed).await?;
            incoming.stored()
        };
        self.sync_group().sync().await.map_err(|e| io_err(id, e))?;
        Ok(stored)
    }

    async fn get(
        &self,
        id: MessageId,
        part: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, PayloadError>>, PayloadError> {
        let path = self.path(id, part);
        let integrity = {
            let part = part.to_string();
            move || PayloadError::Integrity {
                id,
                part: part.clone(),
            }
        };
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PayloadError::NotFound {
                    id,
                    part: part.to_string(),
                });
            }
            Err(e) => return Err(io_err(id, e)),
        };
        let len = file.metadata().await.map_err(|e| io_err(id, e))?.len();
        if len <= (IN_MEMORY + HEADER + 2 * TAG) as u64 {
            // Small: one read, one decryption.
            let mut sealed = Vec::with_capacity(len as usize);
            let mut file = file;
            file.read_to_end(&mut sealed)
                .await
                .map_err(|e| io_err(id, e))?;
            let plain =
                open_all(&self.key, &id.to_string(), part, &sealed).map_err(|_| integrity())?;
            let chunk: Result<Bytes, PayloadError> = Ok(Bytes::from(plain));
            return Ok(Box::pin(futures::stream::once(async move { chunk })));
        }
        let mut reader = BufReader::with_capacity(CHUNK + TAG, file);
        let mut header = [0u8; HEADER];
        reader
            .read_exact(&mut header)
            .await
            .map_err(|_| integrity())?;
        let opener =
            Opener::new(&self.key, &id.to_string(), part, &header).map_err(|_| integrity())?;
        let state = Some((reader, opener));
        let stream = futures::stream::unfold(state, move |state| {
            let integrity = integrity.clone();
            async move {
                let (mut reader, mut opener) = state?;
                let mut buf = vec![0u8; CHUNK + TAG];
                let mut filled = 0;
                while filled < buf.len() {
                    match reader.read(&mut buf[filled..]).await {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) => return Some((Err(io_err(id, e)), None)),
                    }
                }
                buf.truncate(filled);
                let at_end = match reader.fill_buf().await {
                    Ok(rest) => rest.is_empty(),
                    Err(e) => return Some((Err(io_err(id, e)), None)),
                };
                if at_end {
                    let plain = opener.finish(&buf).map_err(|_| integrity());
                    Some((plain.map(Bytes::from), None))
                } else {
                    match opener.open(&buf) {
                        Ok(plain) => Some((Ok(Bytes::from(plain)), Some((reader, opener)))),
                        Err(_) => Some((Err(integrity()), None)),
                    }
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn delete(&self, id: MessageId) -> Result<(), PayloadError> {
        let shard = self.shard(id);
        let prefix = format!("{id}.");
        let mut entries = match tokio::fs::read_dir(&shard).await {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(id, e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(|e| io_err(id, e))? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Final parts, and the temporary file of an interrupted put.
            if name.starts_with(&prefix) || name.starts_with(&format!(".{prefix}")) {
                tokio::fs::remove_file(entry.path())
                    .await
                    .map_err(|e| io_err(id, e))?;
            }
        }
        // A purge must stay purged after a crash.
        self.sync_group().sync().await.map_err(|e| io_err(id, e))
    }

    async fn check(&self) -> Result<(), PayloadError> {
        // The directory is made on the first put; before that its parent (the data directory)
        // must be there. Only the metadata is read: a probe must not cost a disk write.
        let dir = &self.dir;
        let probe = match tokio::fs::metadata(dir).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match dir.parent() {
                Some(parent) => tokio::fs::metadata(parent).await,
                None => Err(e),
            },
            other => other,
        };
        match probe {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(PayloadError::Unavailable {
                reason: "the payload directory is not a directory".into(),
            }),
            Err(e) => Err(PayloadError::Unavailable {
                reason: format!("the payload directory cannot be read: {e}"),
            }),
        }
    }

    async fn stored_messages(&self) -> Result<Vec<(MessageId, SystemTime)>, PayloadError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.stored_ids())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| PayloadError::Unavailable {
                reason: format!("cannot list the payload directory: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{conformance, get_bytes, put_bytes};

    #[tokio::test]
    async fn stores_encrypted_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path(), PayloadKey::generate());
        let id = MessageId::new();
        let secret = b"<name>Erika Mustermann</name>".repeat(5000);
        let stored = put_bytes(&store, id, "payload", Bytes::from(secret.clone()))
            .await
            .unwrap();
        assert_eq!(stored.size, secret.len() as u64);
        assert_eq!(
            stored.sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&secret))
        );
        let on_disk = std::fs::read(store.path(id, "payload")).unwrap();
        assert!(
            !on_disk.windows(8).any(|w| w == &b"Mustermann"[..8]),
            "encrypted at rest"
        );
        assert_eq!(get_bytes(&store, id, "payload").await.unwrap(), secret);

        let other_key = LocalStore::new(dir.path(), PayloadKey::generate());
        assert!(matches!(
            get_bytes(&other_key, id, "payload").await,
            Err(PayloadError::Integrity { .. })
        ));
        store.delete(id).await.unwrap();
        assert!(matches!(
            get_bytes(&store, id, "payload").await,
            Err(PayloadError::NotFound { .. })
        ));
    }

    /// Large enough for the streaming writer and reader (above `IN_MEMORY`).
    const LARGE: usize = 3 * IN_MEMORY + 12345;

    fn store(dir: &std::path::Path) -> LocalStore {
        LocalStore::new(dir, PayloadKey::generate())
    }

    #[tokio::test]
    async fn conformance_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        conformance::round_trips_at_chunk_boundaries(&s).await;
        conformance::large_parts_stream(&s, LARGE).await;
        conformance::put_again_replaces(&s).await;
    }

    #[tokio::test]
    async fn conformance_nothing_kept_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        conformance::over_the_limit_keeps_nothing(&s, LARGE).await;
        conformance::failed_source_keeps_nothing(&s, LARGE).await;
    }

    #[tokio::test]
    async fn conformance_keys_missing_delete_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        conformance::wrong_key_is_an_integrity_error(&s, &store(dir.path()), LARGE).await;
        conformance::missing_parts(&s).await;
        conformance::delete_removes_every_part(&s).await;
        conformance::concurrent_puts(&s, LARGE).await;
    }
}
