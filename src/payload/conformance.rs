//! The shared test suite of the [`PayloadStore`] seam. The local directory store and the S3
//! store run these same functions, so what the trait's docs promise is checked once: round
//! trips at the chunk boundaries, streaming of large parts, the size limit with nothing kept,
//! a failing source with nothing kept, keys, missing parts, delete, and concurrent puts.
//!
//! `large` is a size (bytes) that takes the store's streaming path (for the S3 store: a
//! multipart upload of several parts); each store passes its own.

use super::sealed::CHUNK;
use super::{ByteStream, PayloadError, PayloadStore, get_bytes, put_bytes};
use crate::message::MessageId;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Deterministic, non-repeating-looking test data.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + i / 251) as u8).wrapping_add(seed))
        .collect()
}

/// `data` fed in pieces of `piece` bytes (odd sizes exercise the re-chunking).
pub fn pieces(data: &[u8], piece: usize) -> ByteStream<'static> {
    let items: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(piece.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(items))
}

/// Objects of `id` that the store still holds.
pub async fn remains(store: &dyn PayloadStore, id: MessageId) -> usize {
    store
        .stored_messages()
        .await
        .expect("list the store")
        .iter()
        .filter(|(m, _)| *m == id)
        .count()
}

/// Parts of every size around the chunk boundaries read back exactly, with size and hash of
/// the plaintext.
pub async fn round_trips_at_chunk_boundaries(store: &dyn PayloadStore) {
    for len in [
        0usize,
        1,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        2 * CHUNK + 1,
    ] {
        let id = MessageId::new();
        let d = data(len, 1);
        let stored = store
            .put(id, "attachment-1", pieces(&d, 1000), u64::MAX)
            .await
            .unwrap_or_else(|e| panic!("put of {len} bytes: {e}"));
        assert_eq!(stored.size, len as u64, "size, len {len}");
        assert_eq!(
            stored.sha256,
            hex::encode(Sha256::digest(&d)),
            "hash, len {len}"
        );
        assert_eq!(
            get_bytes(store, id, "attachment-1").await.unwrap(),
            d,
            "len {len}"
        );
    }
}

/// A large part goes in and comes out as a stream, and reads back exactly.
pub async fn large_parts_stream(store: &dyn PayloadStore, large: usize) {
    let id = MessageId::new();
    let d = data(large, 2);
    // Odd piece size: the store must not assume chunk-aligned input.
    let stored = store
        .put(id, "attachment-1", pieces(&d, 100_003), u64::MAX)
        .await
        .unwrap();
    assert_eq!(stored.size, large as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(&d)));
    let mut stream = store.get(id, "attachment-1").await.unwrap();
    let (mut got, mut chunks) = (Vec::with_capacity(large), 0);
    use futures::TryStreamExt;
    while let Some(c) = stream.try_next().await.unwrap() {
        chunks += 1;
        got.extend_from_slice(&c);
    }
    assert!(
        chunks > 1,
        "a large part is read as a stream, not in one piece"
    );
    assert!(got == d, "large part reads back exactly");
}

/// More than `limit` bytes is `TooLarge` and nothing is kept: at once (small) and after the
/// store has started writing (large).
pub async fn over_the_limit_keeps_nothing(store: &dyn PayloadStore, large: usize) {
    for (len, limit) in [(1200usize, 1000u64), (large, large as u64 - 1)] {
        let id = MessageId::new();
        let err = store
            .put(id, "payload", pieces(&data(len, 3), 600), limit)
            .await;
        assert!(
            matches!(err, Err(PayloadError::TooLarge { limit: l, id: i }) if l == limit && i == id),
            "len {len}: {err:?}"
        );
        assert_eq!(remains(store, id).await, 0, "len {len}: nothing kept");
        assert!(matches!(
            get_bytes(store, id, "payload").await,
            Err(PayloadError::NotFound { .. })
        ));
    }
    // Exactly the limit is fine.
    let id = MessageId::new();
    store
        .put(id, "payload", pieces(&data(1000, 3), 300), 1000)
        .await
        .unwrap();
}

/// An incoming stream that breaks off is a `Source` error and nothing is kept.
pub async fn failed_source_keeps_nothing(store: &dyn PayloadStore, large: usize) {
    for len in [100usize, large] {
        let id = MessageId::new();
        let d = Bytes::from(data(len, 4));
        let items: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(d),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "client hung up",
            )),
        ];
        let err = store
            .put(
                id,
                "payload",
                Box::pin(futures::stream::iter(items)),
                u64::MAX,
            )
            .await;
        assert!(
            matches!(err, Err(PayloadError::Source { .. })),
            "len {len}: {err:?}"
        );
        assert_eq!(remains(store, id).await, 0, "len {len}: nothing kept");
    }
}

/// A store with another key over the same storage cannot read the part: an integrity error
/// that names message and part.
pub async fn wrong_key_is_an_integrity_error(
    store: &dyn PayloadStore,
    other_key: &dyn PayloadStore,
    large: usize,
) {
    for len in [100usize, large] {
        let id = MessageId::new();
        put_bytes(store, id, "payload", Bytes::from(data(len, 5)))
            .await
            .unwrap();
        let err = get_bytes(other_key, id, "payload").await.unwrap_err();
        assert!(
            matches!(&err, PayloadError::Integrity { id: i, part } if *i == id && part == "payload"),
            "len {len}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&id.to_string()) && text.contains("payload"));
    }
}

/// Reading what is not there is `NotFound`; deleting it is no error.
pub async fn missing_parts(store: &dyn PayloadStore) {
    let id = MessageId::new();
    assert!(matches!(
        store.get(id, "payload").await.err(),
        Some(PayloadError::NotFound { id: i, part }) if i == id && part == "payload"
    ));
    store.delete(id).await.unwrap();
    put_bytes(store, id, "payload", Bytes::from_static(b"<x/>"))
        .await
        .unwrap();
    assert!(matches!(
        store.get(id, "attachment-1").await.err(),
        Some(PayloadError::NotFound { .. })
    ));
}

/// Delete removes every part of the message and nothing of another message; listing shows
/// what is stored.
pub async fn delete_removes_every_part(store: &dyn PayloadStore) {
    let (id, other) = (MessageId::new(), MessageId::new());
    for (m, part) in [
        (id, "payload"),
        (id, "attachment-1"),
        (id, "attachment-2"),
        (other, "payload"),
    ] {
        put_bytes(store, m, part, Bytes::from(data(3000, 6)))
            .await
            .unwrap();
    }
    assert_eq!(remains(store, id).await, 3);
    store.delete(id).await.unwrap();
    assert_eq!(remains(store, id).await, 0);
    for part in ["payload", "attachment-1", "attachment-2"] {
        assert!(matches!(
            get_bytes(store, id, part).await,
            Err(PayloadError::NotFound { .. })
        ));
    }
    assert_eq!(
        get_bytes(store, other, "payload").await.unwrap(),
        data(3000, 6)
    );
    assert_eq!(remains(store, other).await, 1);
    store.delete(id).await.unwrap();
}

/// A second put of the same part replaces the first.
pub async fn put_again_replaces(store: &dyn PayloadStore) {
    let id = MessageId::new();
    put_bytes(store, id, "payload", Bytes::from_static(b"first version"))
        .await
        .unwrap();
    put_bytes(store, id, "payload", Bytes::from_static(b"second"))
        .await
        .unwrap();
    assert_eq!(
        get_bytes(store, id, "payload").await.unwrap(),
        b"second".to_vec()
    );
    assert_eq!(remains(store, id).await, 1);
}

/// Many puts at once (intake under a burst) each store their own data.
pub async fn concurrent_puts(store: &dyn PayloadStore, large: usize) {
    let ids: Vec<MessageId> = (0..12).map(|_| MessageId::new()).collect();
    let size = |i: usize| {
        if i.is_multiple_of(4) {
            large
        } else {
            10_000 + i * 4099
        }
    };
    let puts = ids.iter().enumerate().map(|(i, id)| {
        let d = data(size(i), i as u8);
        async move {
            store
                .put(*id, "payload", pieces(&d, 65_000), u64::MAX)
                .await
        }
    });
    for (i, r) in futures::future::join_all(puts)
        .await
        .into_iter()
        .enumerate()
    {
        assert_eq!(r.unwrap().size, size(i) as u64);
    }
    for (i, id) in ids.iter().enumerate() {
        assert!(
            get_bytes(store, *id, "payload").await.unwrap() == data(size(i), i as u8),
            "message {i}"
        );
    }
}
