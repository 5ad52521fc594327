//! The payload store: where message bodies and attachments live (claim check), encrypted at
//! rest. The ledger and the queue only ever hold ids, sizes and hashes.
//!
//! Payloads are personal data. Nothing here logs or returns their content in errors.

#[cfg(test)]
pub mod conformance;
mod incoming;
pub mod local;
pub mod s3;
pub mod sealed;

use crate::message::MessageId;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::time::SystemTime;

pub use local::LocalStore;
pub use s3::S3Store;

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("payload part `{part}` of message {id} is not in the store")]
    NotFound { id: MessageId, part: String },
    #[error(
        "payload part `{part}` of message {id} failed its integrity check (wrong key or modified file)"
    )]
    Integrity { id: MessageId, part: String },
    #[error("payload store I/O failed for message {id}: {reason}")]
    Io { id: MessageId, reason: String },
    #[error("reading the incoming data for message {id} failed: {reason}")]
    Source { id: MessageId, reason: String },
    #[error("message {id} is larger than the limit of {limit} bytes")]
    TooLarge { id: MessageId, limit: u64 },
    /// The store as a whole cannot be used (not reachable, refused the credentials, listing
    /// failed); not about one message.
    #[error("the payload store is not usable: {reason}")]
    Unavailable { reason: String },
}

/// What [`PayloadStore::put`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
}

/// A stream of plaintext chunks coming in.
pub type ByteStream<'a> = BoxStream<'a, Result<Bytes, std::io::Error>>;

#[async_trait]
pub trait PayloadStore: Send + Sync {
    /// Stores one part, streaming, and returns once it is durable. At most `limit` bytes are
    /// accepted; more is [`PayloadError::TooLarge`] and nothing is kept.
    async fn put(
        &self,
        id: MessageId,
        part: &str,
        data: ByteStream<'_>,
        limit: u64,
    ) -> Result<Stored, PayloadError>;

    /// Reads one part back as a stream of plaintext chunks.
    async fn get(
        &self,
        id: MessageId,
        part: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, PayloadError>>, PayloadError>;

    /// Deletes every part of a message. Deleting what is not there is not an error.
    async fn delete(&self, id: MessageId) -> Result<(), PayloadError>;

    /// Messages that have something in the store, one entry per stored object (a part, or
    /// what an interrupted put left), with when it was written. For the orphan sweep, which
    /// deletes what belongs to no message in the ledger.
    async fn stored_messages(&self) -> Result<Vec<(MessageId, SystemTime)>, PayloadError>;

    /// Whether the store can be used right now, for readiness: cheap, touches no payload.
    async fn check(&self) -> Result<(), PayloadError>;
}

/// Stores bytes already in memory.
pub async fn put_bytes(
    store: &dyn PayloadStore,
    id: MessageId,
    part: &str,
    data: Bytes,
) -> Result<Stored, PayloadError> {
    let limit = data.len() as u64;
    let stream = futures::stream::once(async move { Ok(data) });
    store.put(id, part, Box::pin(stream), limit).await
}

/// Reads a whole part into memory (documents to map; not for large attachments).
pub async fn get_bytes(
    store: &dyn PayloadStore,
    id: MessageId,
    part: &str,
) -> Result<Vec<u8>, PayloadError> {
    use futures::TryStreamExt;
    let mut stream = store.get(id, part).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.try_next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
