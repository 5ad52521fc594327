//! The payload store on S3-compatible object storage (cluster deployment): AWS S3, MinIO,
//! Ceph RGW, … through the `object_store` crate.
//!
//! Layout: `<prefix>/<message id>/<part name>`, one object per part, in the same sealed
//! format as the local store ([`super::sealed`]): payloads are encrypted with the payload key
//! before they leave the broker, so the object store never sees plaintext, and the message id
//! and part name are bound into every chunk (an object copied to another key does not open).
//!
//! Small parts are sealed in memory and written with one PUT. Larger ones are sealed chunk by
//! chunk and written with a multipart upload, so memory stays bounded (about
//! `PART_SIZE * (1 + PARTS_IN_FLIGHT)` per put) whatever the attachment size. A put that fails
//! or exceeds its limit aborts its multipart upload, so nothing is kept; a put whose future is
//! dropped (the sender hung up) aborts it in the background. Uploads cut off by a crash stay
//! invisible (never completed) and are removed by the bucket's lifecycle rule for incomplete
//! multipart uploads (see docs/configuration.md).
//!
//! An object becomes visible only when its PUT or its multipart upload completes, and S3
//! acknowledges those only once durable, so `put` returning means durable.

use super::incoming::{Incoming, SealedPieces};
use super::sealed::{CHUNK, HEADER, Opener, PayloadKey, TAG, seal_all};
use super::{ByteStream, PayloadError, PayloadStore, Stored};
use crate::config::cluster::S3Config;
use crate::message::MessageId;
use crate::secrets::{self, Secret};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Size of one part of a multipart upload. S3 requires at least 5 MiB for every part but the
/// last; more would only cost memory.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts uploaded at the same time by one put (back pressure on the incoming stream beyond).
const PARTS_IN_FLIGHT: usize = 2;

/// How long `connect` waits for the bucket before it gives up with an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One sealed chunk as stored: plaintext chunk plus tag.
const FRAME: usize = CHUNK + TAG;

#[derive(Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    bucket: String,
    /// Key prefix inside the bucket; the root when empty.
    prefix: Path,
    key: PayloadKey,
    /// Values that must never appear in an error (the credentials), replaced before any
    /// error text leaves this module.
    scrub: Arc<Vec<Secret>>,
}

impl std::fmt::Debug for S3Store {
    // Not derived: the client holds the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix.as_ref())
            .finish_non_exhaustive()
    }
}

fn unavailable(reason: impl Into<String>) -> PayloadError {
    PayloadError::Unavailable {
        reason: reason.into(),
    }
}

impl S3Store {
    /// Opens the bucket of `cfg` and checks that it is reachable with the configured
    /// credentials (one listing request), so that a wrong endpoint, bucket or key fails at
    /// start with a clear error instead of at the first message.
    pub async fn connect(cfg: &S3Config, key: PayloadKey) -> Result<S3Store, PayloadError> {
        let access_key_id = secrets::read(&cfg.access_key_id)
            .map_err(|e| unavailable(format!("storage.s3.access_key_id: {e}")))?;
        let secret_access_key = secrets::read(&cfg.secret_access_key)
            .map_err(|e| unavailable(format!("storage.s3.secret_access_key: {e}")))?;
        if cfg.bucket.trim().is_empty() {
            return Err(unavailable("storage.s3.bucket is empty: name the bucket"));
        }
        let endpoint = cfg
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        if let Some(e) = endpoint
            && e.starts_with("http://")
            && !cfg.allow_http
        {
            return Err(unavailable(format!(
                "storage.s3.endpoint {e} is plain http: use https, or set storage.s3.allow_http = true \
                 for a store on this host or a trusted network"
            )));
        }
        let prefix = cfg.prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            Path::default()
        } else {
            Path::parse(prefix).map_err(|e| {
                unavailable(format!(
                    "storage.s3.prefix `{}` is not a valid key prefix: {e}",
                    cfg.prefix
                ))
            })?
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(access_key_id.expose())
            .with_secret_access_key(secret_access_key.expose())
            .with_allow_http(cfg.allow_http)
            .with_virtual_hosted_style_request(!cfg.path_style)
            .with_client_options(ClientOptions::new().with_allow_http(cfg.allow_http))
            // Transient errors (5xx, throttling, connection loss) are retried inside a request
            // for up to a minute; beyond that the caller (intake, worker) decides.
            .with_retry(RetryConfig {
                max_retries: 5,
                retry_timeout: Duration::from_secs(60),
                ..RetryConfig::default()
            });
        if let Some(e) = endpoint {
            builder = builder.with_endpoint(e);
        }
        let scrub = Arc::new(vec![access_key_id, secret_access_key]);
        let s3 = builder.build().map_err(|e| {
            unavailable(format!(
                "storage.s3 is not a usable configuration: {}",
                scrubbed(&scrub, &e)
            ))
        })?;
        let store = S3Store {
            store: Arc::new(s3),
            bucket: cfg.bucket.clone(),
            prefix,
            key,
            scrub,
        };
        store.check_reachable(endpoint.unwrap_or("AWS S3")).await?;
        Ok(store)
    }

    async fn check_reachable(&self, endpoint: &str) -> Result<(), PayloadError> {
        let bucket = &self.bucket;
        // The first page of a listing: needs the bucket, the credentials and the list
        // permission the orphan sweep needs anyway, and reads at most one page.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, async {
            self.store.list(self.list_root()).next().await.transpose()
        })
        .await
        .map_err(|_| {
            unavailable(format!(
                "bucket `{bucket}` at {endpoint} did not answer within {}s: check storage.s3.endpoint \
                 and that the object store is running and reachable",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?;
        match first {
            Ok(_) => Ok(()),
            Err(e) => {
                let text = scrubbed(&self.scrub, &e);
                let hint = match &e {
                    object_store::Error::NotFound { .. } => {
                        "the bucket does not exist: create it, or correct storage.s3.bucket"
                    }
                    object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. } => {
                        "the store refused the credentials: check storage.s3.access_key_id and \
                         secret_access_key, and that they may list, read, write and delete in the bucket"
                    }
                    _ if text.contains("NoSuchBucket") => {
                        "the bucket does not exist: create it, or correct storage.s3.bucket"
                    }
                    _ if text.contains("InvalidAccessKeyId")
                        || text.contains("SignatureDoesNotMatch")
                        || text.contains("AccessDenied") =>
                    {
                        "the store refused the credentials: check storage.s3.access_key_id and \
                         secret_access_key, and that they may list, read, write and delete in the bucket"
                    }
                    _ => {
                        "check storage.s3.endpoint, region and path_style, and that the store is reachable"
                    }
                };
                Err(unavailable(format!(
                    "cannot open bucket `{bucket}` at {endpoint}: {hint} ({text})"
                )))
            }
        }
    }

    fn list_root(&self) -> Option<&Path> {
        (!self.prefix.as_ref().is_empty()).then_some(&self.prefix)
    }

    fn message_dir(&self, id: MessageId) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    /// `<prefix>/<message id>/<part name>`; the part name is one path segment (a `/` in it is
    /// percent-encoded, so it cannot reach into another message).
    fn path(&self, id: MessageId, part: &str) -> Path {
        self.message_dir(id).join(part)
    }

    fn io(&self, id: MessageId, e: &object_store::Error) -> PayloadError {
        PayloadError::Io {
            id,
            reason: scrubbed(&self.scrub, e),
        }
    }

    /// Streams a large part into a multipart upload: `pieces` seals what was read already and
    /// the rest.
    async fn put_multipart(
        &self,
        id: MessageId,
        part: &str,
        mut pieces: SealedPieces<'_>,
        header: Vec<u8>,
    ) -> Result<Stored, PayloadError> {
        let path = self.path(id, part);
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| self.io(id, &e))?;
        let mut guard = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)));
        let writer = guard.0.as_mut().expect("set above");
        let written: Result<(), PayloadError> = async {
            writer.put(Bytes::from(header));
            while let Some(piece) = pieces.next().await? {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| self.io(id, &e))?;
                writer.put(Bytes::from(piece));
            }
            // All parts uploaded before completing: `finish` would not abort on a failed part.
            writer
                .wait_for_capacity(0)
                .await
                .map_err(|e| self.io(id, &e))
        }
        .await;
        let writer = guard.0.take().expect("set above");
        match written {
            // `finish` aborts the upload itself when completing fails.
            Ok(()) => {
                writer.finish().await.map_err(|e| self.io(id, &e))?;
                Ok(pieces.stored())
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(
                        message_id = %id,
                        part,
                        error = %scrubbed(&self.scrub, &abort),
                        "could not abort the multipart upload of a failed put; the bucket's lifecycle rule removes it"
                    );
                }
                Err(e)
            }
        }
    }
}

/// Aborts a multipart upload whose put was dropped half-way (the future cancelled), so that
/// its parts do not linger until the lifecycle rule. Taken out on every ordinary path.
struct AbortOnDrop(Option<WriteMultipart>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = writer.abort().await;
            });
        }
    }
}

/// The text of an object store error with the credentials blanked out.
fn scrubbed(scrub: &[Secret], e: &dyn std::fmt::Display) -> String {
    let mut text = e.to_string();
    for s in scrub {
        text = text.replace(s.expose(), "…");
    }
    text
}

/// Parts up to this size are sealed in memory and written with one PUT (one request instead
/// of three); larger ones take the multipart upload.
const SINGLE_PUT: usize = PART_SIZE;

#[async_trait]
impl PayloadStore for S3Store {
    async fn put(
        &self,
        id: MessageId,
        part: &str,
        data: ByteStream<'_>,
        limit: u64,
    ) -> Result<Stored, PayloadError> {
        let mut incoming = Incoming::new(id, data, limit);
        let (head, more) = incoming.head(SINGLE_PUT).await?;
        if more {
            let (pieces, header) = SealedPieces::new(&self.key, part, head, incoming);
            return self.put_multipart(id, part, pieces, header).await;
        }
        let sealed = seal_all(&self.key, &id.to_string(), part, &head);
        self.store
            .put(&self.path(id, part), Bytes::from(sealed).into())
            .await
            .map_err(|e| self.io(id, &e))?;
        Ok(incoming.stored())
    }

    async fn get(
        &self,
        id: MessageId,
        part: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, PayloadError>>, PayloadError> {
        let body = match self.store.get(&self.path(id, part)).await {
            Ok(r) => r.into_stream(),
            Err(object_store::Error::NotFound { .. }) => {
                return Err(PayloadError::NotFound {
                    id,
                    part: part.to_string(),
                });
            }
            Err(e) => return Err(self.io(id, &e)),
        };
        let reader = Unsealing {
            body,
            buf: BytesMut::new(),
            opener: None,
            done: false,
            key: self.key.clone(),
            id,
            part: part.to_string(),
            scrub: self.scrub.clone(),
        };
        Ok(Box::pin(futures::stream::unfold(
            reader,
            |mut r| async move { r.next().await.map(|item| (item, r)) },
        )))
    }

    async fn delete(&self, id: MessageId) -> Result<(), PayloadError> {
        let dir = self.message_dir(id);
        // Every object under the message's "directory": its parts, whatever their names.
        let locations = self
            .store
            .list(Some(&dir))
            .map_ok(|meta| meta.location)
            .boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.io(id, &e)),
            }
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), PayloadError> {
        // The same probe as at start: one listing page (bucket, credentials, reachability).
        self.check_reachable("the configured endpoint").await
    }

    async fn stored_messages(&self) -> Result<Vec<(MessageId, SystemTime)>, PayloadError> {
        let skip = self.prefix.parts().count();
        let mut out = Vec::new();
        let mut listing = self.store.list(self.list_root());
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| {
                unavailable(format!(
                    "listing bucket `{}` failed: {}",
                    self.bucket,
                    scrubbed(&self.scrub, &e)
                ))
            })?;
            // Objects that are not `<prefix>/<message id>/<part>` are not ours: left alone.
            let mut parts = meta.location.parts().skip(skip);
            if let (Some(dir), Some(_), None) = (parts.next(), parts.next(), parts.next())
                && let Ok(id) = dir.as_ref().parse::<MessageId>()
            {
                out.push((id, SystemTime::from(meta.last_modified)));
            }
        }
        Ok(out)
    }
}

/// Reads a sealed object as it arrives and yields plaintext chunk by chunk.
struct Unsealing {
    body: BoxStream<'static, object_store::Result<Bytes>>,
    /// Received, not yet opened.
    buf: BytesMut,
    /// Set once the header has arrived.
    opener: Option<Opener>,
    done: bool,
    key: PayloadKey,
    id: MessageId,
    part: String,
    scrub: Arc<Vec<Secret>>,
}

impl Unsealing {
    fn integrity(&mut self) -> Option<Result<Bytes, PayloadError>> {
        self.done = true;
        Some(Err(PayloadError::Integrity {
            id: self.id,
            part: self.part.clone(),
        }))
    }

    async fn next(&mut self) -> Option<Result<Bytes, PayloadError>> {
        if self.done {
            return None;
        }
        loop {
            match &mut self.opener {
                None if self.buf.len() >= HEADER => {
                    let header = self.buf.split_to(HEADER);
                    match Opener::new(&self.key, &self.id.to_string(), &self.part, &header) {
                        Ok(o) => self.opener = Some(o),
                        Err(_) => return self.integrity(),
                    }
                    continue;
                }
                // A full chunk with more after it is not the last one; the last is opened at
                // the end of the body (it may be a full chunk too).
                Some(opener) if self.buf.len() > FRAME => {
                    let frame = self.buf.split_to(FRAME);
                    return match opener.open(&frame) {
                        Ok(plain) => Some(Ok(Bytes::from(plain))),
                        Err(_) => self.integrity(),
                    };
                }
                _ => {}
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(PayloadError::Io {
                        id: self.id,
                        reason: scrubbed(&self.scrub, &e),
                    }));
                }
                None => {
                    // Shorter than a header: not a sealed part.
                    let Some(opener) = self.opener.take() else {
                        return self.integrity();
                    };
                    self.done = true;
                    let last = std::mem::take(&mut self.buf);
                    return Some(opener.finish(&last).map(Bytes::from).map_err(|_| {
                        PayloadError::Integrity {
                            id: self.id,
                            part: self.part.clone(),
                        }
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The S3 store against the shared suite, plus what only an object store shows (tampered
    //! and swapped objects, aborted uploads, connection errors). Runs against the S3-compatible
    //! server named by `AMTSBOTE_TEST_S3_ENDPOINT` (moto, started by `scripts/services.sh`);
    //! each test makes a bucket of its own.
    use super::*;
    use crate::config::SecretRef;
    use crate::payload::{conformance, get_bytes, put_bytes};

    const ENDPOINT_VAR: &str = "AMTSBOTE_TEST_S3_ENDPOINT";
    const ACCESS_KEY: &str = "AKIATESTAMTSBOTE0001";
    const SECRET_KEY: &str = "test-secret-key-never-printed";

    /// Three multipart parts and a bit.
    const LARGE: usize = 2 * PART_SIZE + 777_777;

    fn endpoint() -> String {
        std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
            panic!(
                "{ENDPOINT_VAR} is not set: start the test S3 server with `scripts/services.sh start` \
                 and export what it prints (scripts/test.sh does both)"
            )
        })
    }

    struct TestBucket {
        name: String,
        dir: tempfile::TempDir,
    }

    impl TestBucket {
        /// A fresh bucket (the test server takes unsigned requests for this).
        async fn new() -> TestBucket {
            let name = format!("amtsbote-test-{}", uuid::Uuid::new_v4().simple());
            let resp = reqwest::Client::new()
                .put(format!("{}/{name}", endpoint()))
                .send()
                .await
                .expect("reach the test S3 server");
            assert!(
                resp.status().is_success(),
                "create bucket: {}",
                resp.status()
            );
            TestBucket {
                name,
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn config(&self, prefix: &str) -> S3Config {
            let secret = |name: &str, value: &str| {
                let f = self.dir.path().join(name);
                std::fs::write(&f, value).unwrap();
                SecretRef {
                    file: Some(f),
                    env: None,
                }
            };
            S3Config {
                bucket: self.name.clone(),
                endpoint: Some(endpoint()),
                region: "eu-central-1".into(),
                prefix: prefix.into(),
                access_key_id: secret("access", ACCESS_KEY),
                secret_access_key: secret("secret", SECRET_KEY),
                allow_http: true,
                path_style: true,
            }
        }

        async fn store(&self, key: PayloadKey) -> S3Store {
            S3Store::connect(&self.config("payloads/"), key)
                .await
                .unwrap()
        }

        /// Multipart uploads begun and neither completed nor aborted (asked with boto3, which
        /// comes with the test server, because object_store has no call for it).
        fn incomplete_uploads(&self) -> usize {
            let script = format!(
                "import boto3\n\
                 c = boto3.client('s3', endpoint_url='{}', region_name='eu-central-1', \
                 aws_access_key_id='x', aws_secret_access_key='y')\n\
                 print(len(c.list_multipart_uploads(Bucket='{}').get('Uploads', [])))",
                endpoint(),
                self.name
            );
            let out = std::process::Command::new("python3")
                .args(["-c", &script])
                .output()
                .expect("run python3");
            assert!(
                out.status.success(),
                "list multipart uploads: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        }
    }

    #[tokio::test]
    async fn conformance_round_trips() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        conformance::round_trips_at_chunk_boundaries(&s).await;
        conformance::large_parts_stream(&s, LARGE).await;
        conformance::put_again_replaces(&s).await;
    }

    #[tokio::test]
    async fn conformance_nothing_kept_on_failure() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        conformance::over_the_limit_keeps_nothing(&s, LARGE).await;
        conformance::failed_source_keeps_nothing(&s, LARGE).await;
        assert_eq!(b.incomplete_uploads(), 0, "multipart uploads were aborted");
    }

    #[tokio::test]
    async fn conformance_keys_missing_delete_concurrency() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        let other = b.store(PayloadKey::generate()).await;
        conformance::wrong_key_is_an_integrity_error(&s, &other, LARGE).await;
        conformance::missing_parts(&s).await;
        conformance::delete_removes_every_part(&s).await;
        conformance::concurrent_puts(&s, LARGE).await;
        assert_eq!(b.incomplete_uploads(), 0);
    }

    #[tokio::test]
    async fn a_put_dropped_half_way_aborts_its_upload() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        let id = MessageId::new();
        // More than one PUT holds, then a sender that stops sending: the multipart upload has
        // begun when the put is given up (as intake does when a client hangs up).
        let begun = futures::stream::iter(vec![Ok(Bytes::from(conformance::data(
            SINGLE_PUT + 1000,
            7,
        )))]);
        let data: ByteStream<'static> = Box::pin(begun.chain(futures::stream::pending()));
        let putter = s.clone();
        let put = tokio::spawn(async move { putter.put(id, "attachment-1", data, u64::MAX).await });
        let mut begun = false;
        for _ in 0..50 {
            begun = b.incomplete_uploads() == 1;
            if begun {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(begun, "the multipart upload began");
        put.abort();
        assert!(put.await.unwrap_err().is_cancelled());
        let mut left = usize::MAX;
        for _ in 0..50 {
            left = b.incomplete_uploads();
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(left, 0, "the dropped put's upload was aborted");
        assert_eq!(conformance::remains(&s, id).await, 0);
    }

    #[tokio::test]
    async fn objects_are_encrypted_and_laid_out_by_message_and_part() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        let id = MessageId::new();
        let secret = b"<name>Erika Mustermann</name>".repeat(5000);
        put_bytes(&s, id, "attachment-1", Bytes::from(secret.clone()))
            .await
            .unwrap();
        let raw = s
            .store
            .get(&Path::from(format!("payloads/{id}/attachment-1")))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(
            !raw.windows(10).any(|w| w == b"Mustermann"),
            "encrypted before it leaves the broker"
        );
        // Objects outside the layout are not taken for messages.
        s.store
            .put(
                &Path::from("payloads/README"),
                Bytes::from_static(b"x").into(),
            )
            .await
            .unwrap();
        s.store
            .put(
                &Path::from("elsewhere/x/y"),
                Bytes::from_static(b"x").into(),
            )
            .await
            .unwrap();
        let listed = s.stored_messages().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, id);
        let age = SystemTime::now()
            .duration_since(listed[0].1)
            .unwrap_or_default();
        assert!(age < Duration::from_secs(600), "written just now: {age:?}");
    }

    #[tokio::test]
    async fn tampered_or_swapped_objects_fail_their_integrity_check() {
        let b = TestBucket::new().await;
        let s = b.store(PayloadKey::generate()).await;
        for len in [5000usize, LARGE] {
            let (id, other) = (MessageId::new(), MessageId::new());
            let content = conformance::data(len, 9);
            put_bytes(&s, id, "payload", Bytes::from(content.clone()))
                .await
                .unwrap();
            let path = s.path(id, "payload");
            let mut raw = s
                .store
                .get(&path)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();

            // The same object under another message: bound to its message id.
            s.store
                .put(&s.path(other, "payload"), Bytes::from(raw.clone()).into())
                .await
                .unwrap();
            let err = get_bytes(&s, other, "payload").await.unwrap_err();
            assert!(
                matches!(&err, PayloadError::Integrity { id: i, part } if *i == other && part == "payload"),
                "{err:?}"
            );

            // One bit flipped in the middle.
            let mid = raw.len() / 2;
            raw[mid] ^= 0x40;
            s.store
                .put(&path, Bytes::from(raw.clone()).into())
                .await
                .unwrap();
            let err = get_bytes(&s, id, "payload").await.unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, PayloadError::Integrity { id: i, part } if *i == id && part == "payload"),
                "{err:?}"
            );
            assert!(text.contains(&id.to_string()) && text.contains("`payload`"));
            assert!(
                !text.contains("Erika") && text.len() < 300,
                "names message and part, not content: {text}"
            );

            // Cut off after the first chunk (for large parts: a whole chunk is fine, the end
            // is missing).
            raw[mid] ^= 0x40;
            raw.truncate((HEADER + FRAME).min(raw.len() - 1));
            s.store.put(&path, Bytes::from(raw).into()).await.unwrap();
            assert!(matches!(
                get_bytes(&s, id, "payload").await,
                Err(PayloadError::Integrity { .. })
            ));
        }
    }

    #[tokio::test]
    async fn connect_names_what_is_wrong_and_never_the_secret() {
        let b = TestBucket::new().await;
        let mut cfg = b.config("");
        cfg.bucket = format!("{}-missing", b.name);
        let err = S3Store::connect(&cfg, PayloadKey::generate())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&cfg.bucket), "{err}");
        assert!(err.contains("does not exist"), "{err}");
        assert!(
            !err.contains(SECRET_KEY) && !err.contains(ACCESS_KEY),
            "{err}"
        );

        let mut cfg = b.config("");
        cfg.allow_http = false;
        let err = S3Store::connect(&cfg, PayloadKey::generate())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_http"), "{err}");

        let mut cfg = b.config("");
        // A loopback port where nothing listens.
        cfg.endpoint = Some("http://127.0.0.1:9".into());
        let err = S3Store::connect(&cfg, PayloadKey::generate())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1:9"), "{err}");
        assert!(
            !err.contains(SECRET_KEY) && !err.contains(ACCESS_KEY),
            "{err}"
        );

        let mut cfg = b.config("");
        cfg.secret_access_key.file = Some(b.dir.path().join("no-such-file"));
        let err = S3Store::connect(&cfg, PayloadKey::generate())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("secret_access_key") && err.contains("no-such-file"),
            "{err}"
        );

        // Without a prefix the layout starts at the bucket's root.
        let s = S3Store::connect(&b.config(""), PayloadKey::generate())
            .await
            .unwrap();
        let id = MessageId::new();
        put_bytes(&s, id, "payload", Bytes::from_static(b"<x/>"))
            .await
            .unwrap();
        s.store
            .head(&Path::from(format!("{id}/payload")))
            .await
            .unwrap();
        assert_eq!(s.stored_messages().await.unwrap().len(), 1);
    }
}
