//! A part on its way into a store: read from its source, counted against the size limit,
//! hashed, and sealed chunk by chunk. Both stores (local files, S3 objects) take it from here
//! and differ only in where the sealed bytes go.

use super::sealed::{CHUNK, PayloadKey, Sealer};
use super::{ByteStream, PayloadError, Stored};
use crate::message::MessageId;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// The plaintext of one part as it arrives.
pub struct Incoming<'a> {
    id: MessageId,
    data: ByteStream<'a>,
    limit: u64,
    size: u64,
    hasher: Sha256,
}

impl<'a> Incoming<'a> {
    pub fn new(id: MessageId, data: ByteStream<'a>, limit: u64) -> Self {
        Incoming {
            id,
            data,
            limit,
            size: 0,
            hasher: Sha256::new(),
        }
    }

    /// The next chunk from the source, counted and hashed; more than the limit in all is
    /// [`PayloadError::TooLarge`].
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, PayloadError> {
        let Some(chunk) = self.data.next().await else {
            return Ok(None);
        };
        let chunk = chunk.map_err(|e| PayloadError::Source {
            id: self.id,
            reason: e.to_string(),
        })?;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(PayloadError::TooLarge {
                id: self.id,
                limit: self.limit,
            });
        }
        self.hasher.update(&chunk);
        Ok(Some(chunk))
    }

    /// Reads until the source ends or more than `threshold` bytes are held: small parts are
    /// then stored in one go, large ones continue with [`SealedPieces`]. The flag says whether
    /// the source has more.
    pub async fn head(&mut self, threshold: usize) -> Result<(BytesMut, bool), PayloadError> {
        let mut head = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            head.extend_from_slice(&chunk);
            if head.len() > threshold {
                return Ok((head, true));
            }
        }
        Ok((head, false))
    }

    /// Size and hash of everything read.
    pub fn stored(self) -> Stored {
        Stored {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        }
    }
}

/// The sealed form of a part whose `head` was read already and whose rest is still coming:
/// handed out piece by piece, so a store writes it without holding the part in memory.
pub struct SealedPieces<'a> {
    incoming: Incoming<'a>,
    sealer: Option<Sealer>,
    pending: BytesMut,
}

impl<'a> SealedPieces<'a> {
    /// Also returns the header, which goes before the first piece.
    pub fn new(
        key: &PayloadKey,
        part: &str,
        head: BytesMut,
        incoming: Incoming<'a>,
    ) -> (Self, Vec<u8>) {
        let (sealer, header) = Sealer::new(key, &incoming.id.to_string(), part);
        let pieces = SealedPieces {
            incoming,
            sealer: Some(sealer),
            pending: head,
        };
        (pieces, header)
    }

    /// The next sealed piece, `None` after the last one.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, PayloadError> {
        loop {
            let Some(sealer) = self.sealer.as_mut() else {
                return Ok(None);
            };
            // Seal a full chunk only when more follows, so the last chunk is sealed as last.
            if self.pending.len() > CHUNK {
                let piece = self.pending.split_to(CHUNK);
                return Ok(Some(sealer.seal(&piece)));
            }
            match self.incoming.next_chunk().await? {
                Some(chunk) => self.pending.extend_from_slice(&chunk),
                None => {
                    let sealer = self.sealer.take().expect("checked above");
                    return Ok(Some(sealer.finish(&std::mem::take(&mut self.pending))));
                }
            }
        }
    }

    /// Size and hash of the plaintext, once [`SealedPieces::next`] returned `None`.
    pub fn stored(self) -> Stored {
        self.incoming.stored()
    }
}
