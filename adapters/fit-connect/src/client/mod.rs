//! The Submission API client: what a subscriber (and, for tests and the demo, a sender) does
//! over HTTP. One [`SubmissionClient`] per API client of the Self-Service-Portal.
//!
//! - Authentication: OAuth2 client credentials, token cached and refreshed before expiry; a
//!   401 drops the token and the request is repeated once with a fresh one.
//! - Resilience: per-request timeout; retries with exponential backoff and jitter (`backon`) on
//!   5xx answers and connection failures only — a 4xx is the caller's to handle.
//! - Errors: RFC 7807 problem documents become [`ClientError::Problem`].
//! - Large attachments are streamed ([`SubmissionClient::attachment_stream`],
//!   [`SubmissionClient::fetch_attachment`]), never buffered whole.
//!
//! HTTP stack: `reqwest` with **rustls** (no system OpenSSL needed for TLS; OpenSSL is used for
//! the cryptography only). Paths come from [`api`], so a v2 client is an [`ApiVersion`] away.

pub mod api;
mod auth;
mod error;

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub use api::{ApiVersion, Paths};
pub use auth::ClientCredentials;
pub use error::ClientError;

use crate::jose::{DecryptOptions, Jwk, PrivateKey, StreamDecryptor};
use crate::verification::{AttachmentResult, ReceivedAttachment};
use crate::wire::{
    CONTENT_TYPE_JOSE, CreateSubmission, Destination, EventLog, Jwks, ProblemDocument, Submission,
    SubmissionList, SubmissionRef, SubmitSubmission,
};

/// FITKO's test environment token URL.
pub const TESTING_TOKEN_URL: &str = "https://auth-testing.fit-connect.fitko.dev/token";
/// FITKO's test environment Submission API.
pub const TESTING_SUBMISSION_API: &str = "https://submission-api-testing.fit-connect.fitko.dev";

/// Retry policy for transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First delay.
    pub min_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Configuration of a [`SubmissionClient`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL of the Submission API, without version (e.g. [`TESTING_SUBMISSION_API`]).
    pub submission_api_url: String,
    /// OAuth token endpoint.
    pub token_url: String,
    /// Client id and secret.
    pub credentials: ClientCredentials,
    /// API version.
    pub api_version: ApiVersion,
    /// Time allowed from sending a request until its response headers arrive. Attachment
    /// uploads and downloads are exempt (they may legitimately take long); they are bounded by
    /// `connect_timeout` and `read_timeout` instead.
    pub request_timeout: Duration,
    /// Longest pause between two chunks of a response body.
    pub read_timeout: Duration,
    /// Connection establishment timeout.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Refresh the token this long before it expires.
    pub refresh_margin: Duration,
}

impl ClientConfig {
    /// A configuration with defaults (30 s requests, 10 s connect, 60 s refresh margin).
    pub fn new(
        submission_api_url: impl Into<String>,
        token_url: impl Into<String>,
        credentials: ClientCredentials,
    ) -> Self {
        ClientConfig {
            submission_api_url: submission_api_url.into().trim_end_matches('/').to_string(),
            token_url: token_url.into(),
            credentials,
            api_version: ApiVersion::V1,
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            refresh_margin: Duration::from_secs(60),
        }
    }

    /// FITKO's test environment.
    pub fn testing(credentials: ClientCredentials) -> Self {
        Self::new(TESTING_SUBMISSION_API, TESTING_TOKEN_URL, credentials)
    }
}

/// One page request.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Entries to skip.
    pub offset: u64,
    /// Entries per page (the API caps it; 100 is safe).
    pub limit: u64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 100,
        }
    }
}

/// A Submission API client. Cheap to share (`Arc` it); all methods take `&self`.
pub struct SubmissionClient {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: auth::TokenCache,
}

impl std::fmt::Debug for SubmissionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmissionClient")
            .field("submission_api_url", &self.config.submission_api_url)
            .field("client_id", &self.config.credentials.client_id)
            .finish_non_exhaustive()
    }
}

const OP_DOWNLOAD: &str = "download attachment";
const OP_UPLOAD: &str = "upload attachment";

enum Body {
    None,
    Json(Bytes),
    Jose(Bytes),
}

impl SubmissionClient {
    /// A client for `config`.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .user_agent(concat!("amtsbote-fit-connect/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ClientError::Transport {
                operation: "building the HTTP client",
                source,
            })?;
        let tokens = auth::TokenCache::new(
            config.token_url.clone(),
            config.credentials.clone(),
            config.refresh_margin,
        );
        Ok(SubmissionClient {
            http,
            config,
            tokens,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn paths(&self) -> &'static Paths {
        self.config.api_version.paths()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.submission_api_url, path)
    }

    /// Sends one request with authentication, retries and problem parsing; returns the
    /// successful response (body unread).
    async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Body,
        authenticated: bool,
    ) -> Result<reqwest::Response, ClientError> {
        // Attachment transfers are long by nature; everything else must answer promptly.
        let bounded = operation != OP_DOWNLOAD && operation != OP_UPLOAD;
        let policy = ExponentialBuilder::default()
            .with_min_delay(self.config.retry.min_delay)
            .with_max_delay(self.config.retry.max_delay)
            .with_max_times(self.config.retry.max_retries)
            .with_jitter();
        let url = self.url(path);
        let attempt = || async {
            let mut reauthenticated = false;
            loop {
                let mut request = self.http.request(method.clone(), &url).query(query);
                request = match &body {
                    Body::None => request,
                    Body::Json(b) => request
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(b.clone()),
                    Body::Jose(b) => request
                        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE_JOSE)
                        .body(b.clone()),
                };
                let token = if authenticated {
                    let t = self.tokens.token(&self.http).await?;
                    request = request.bearer_auth(&t);
                    Some(t)
                } else {
                    None
                };
                let sending = request.send();
                let response = if bounded {
                    tokio::time::timeout(self.config.request_timeout, sending)
                        .await
                        .map_err(|_| ClientError::Timeout { operation })?
                } else {
                    sending.await
                }
                .map_err(|source| ClientError::Transport { operation, source })?;
                let status = response.status();
                if status.is_success() {
                    return Ok(response);
                }
                if status == StatusCode::UNAUTHORIZED
                    && let Some(t) = token
                    && !reauthenticated
                {
                    // Token expired early or was revoked: fetch a new one, once.
                    self.tokens.invalidate(&t).await;
                    reauthenticated = true;
                    continue;
                }
                return Err(error_from(operation, response).await);
            }
        };
        attempt
            .retry(policy)
            .when(ClientError::is_transient)
            .notify(|e, delay| {
                tracing::warn!(
                    operation,
                    retry_in_ms = delay.as_millis() as u64,
                    error = %e,
                    "FIT-Connect request failed transiently; retrying"
                );
            })
            .await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        query: &[(&str, String)],
        authenticated: bool,
    ) -> Result<T, ClientError> {
        let response = self
            .send(
                operation,
                Method::GET,
                path,
                query,
                Body::None,
                authenticated,
            )
            .await?;
        decode(operation, response).await
    }

    // ---- subscriber API -------------------------------------------------------------------

    /// `GET /v1/submissions`: one page of submissions waiting to be fetched (state `submitted`;
    /// a submission already fetched once — `forwarded` — is no longer listed, so a subscriber
    /// must remember what it fetched but has not yet answered), optionally only for one
    /// destination (`destinationId`).
    pub async fn list_submissions(
        &self,
        page: Page,
        destination_id: Option<&str>,
    ) -> Result<SubmissionList, ClientError> {
        let mut query = vec![
            ("offset", page.offset.to_string()),
            ("limit", page.limit.to_string()),
        ];
        if let Some(d) = destination_id {
            query.push(("destinationId", d.to_string()));
        }
        self.json("list submissions", self.paths().submissions, &query, true)
            .await
    }

    /// All pages of [`list_submissions`](Self::list_submissions).
    pub async fn list_all_submissions(
        &self,
        destination_id: Option<&str>,
    ) -> Result<Vec<SubmissionRef>, ClientError> {
        let mut all = Vec::new();
        let mut page = Page::default();
        loop {
            let list = self.list_submissions(page, destination_id).await?;
            let n = list.submissions.len() as u64;
            all.extend(list.submissions);
            page.offset += n;
            if n == 0 || page.offset >= list.total_count {
                return Ok(all);
            }
        }
    }

    /// `GET /v1/submissions/{id}`: the submission with its encrypted metadata and data.
    /// (Fetching marks it `forwarded` at the Zustelldienst.)
    pub async fn get_submission(&self, submission_id: &str) -> Result<Submission, ClientError> {
        let path = api::fill(self.paths().submission, &[("submissionId", submission_id)]);
        self.json("fetch submission", &path, &[], true).await
    }

    /// `GET /v1/submissions/{id}/attachments/{attachmentId}` as a byte stream of the compact
    /// JWE. Retries cover the request; a failure mid-body surfaces as a stream error.
    pub async fn attachment_stream(
        &self,
        submission_id: &str,
        attachment_id: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, ClientError>> + Send + use<>, ClientError> {
        let path = api::fill(
            self.paths().attachment,
            &[
                ("submissionId", submission_id),
                ("attachmentId", attachment_id),
            ],
        );
        let response = self
            .send(OP_DOWNLOAD, Method::GET, &path, &[], Body::None, true)
            .await?;
        Ok(response
            .bytes_stream()
            .map_err(|source| ClientError::Transport {
                operation: OP_DOWNLOAD,
                source,
            }))
    }

    /// Downloads an attachment and decrypts it on the fly into `sink`, hashing the plaintext.
    /// Transport failures are `Err` (retry later); decryption failures are `Ok` with a failed
    /// [`AttachmentResult::outcome`] (report with `reject-submission`). The plaintext in `sink`
    /// is authentic only if the outcome is `Ok`; otherwise discard it.
    pub async fn fetch_attachment<W: AsyncWrite + Unpin>(
        &self,
        submission_id: &str,
        attachment_id: &str,
        keys: &[PrivateKey],
        options: DecryptOptions,
        sink: &mut W,
    ) -> Result<AttachmentResult, ClientError> {
        let mut stream =
            std::pin::pin!(self.attachment_stream(submission_id, attachment_id).await?);
        let mut decryptor = StreamDecryptor::new(keys, options);
        let mut hasher = openssl::sha::Sha512::new();
        let mut size = 0u64;
        let mut plain = Vec::with_capacity(128 * 1024);
        let failed = |e| AttachmentResult {
            attachment_id: attachment_id.to_string(),
            outcome: Err(e),
        };
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            plain.clear();
            if let Err(e) = decryptor.update(&chunk, &mut plain) {
                return Ok(failed(e));
            }
            hasher.update(&plain);
            size += plain.len() as u64;
            sink.write_all(&plain).await.map_err(ClientError::Sink)?;
        }
        plain.clear();
        let info = match decryptor.finish(&mut plain) {
            Ok(info) => info,
            Err(e) => return Ok(failed(e)),
        };
        hasher.update(&plain);
        size += plain.len() as u64;
        sink.write_all(&plain).await.map_err(ClientError::Sink)?;
        sink.flush().await.map_err(ClientError::Sink)?;
        Ok(AttachmentResult {
            attachment_id: attachment_id.to_string(),
            outcome: Ok(ReceivedAttachment {
                attachment_id: attachment_id.to_string(),
                sha512_hex: hex::encode(hasher.finish()),
                authentication_tag: info.authentication_tag,
                size,
            }),
        })
    }

    /// `GET /v1/cases/{caseId}/events`: the case's SETs, oldest first (all pages).
    pub async fn event_log(&self, case_id: &str) -> Result<Vec<String>, ClientError> {
        const OP: &str = "read case event log";
        const LIMIT: usize = 500;
        let path = api::fill(self.paths().case_events, &[("caseId", case_id)]);
        let mut all = Vec::new();
        loop {
            let query = [
                ("offset", all.len().to_string()),
                ("limit", LIMIT.to_string()),
            ];
            let value: serde_json::Value = self.json(OP, &path, &query, true).await?;
            // `{"eventLog": [...]}` as documented; a bare array is tolerated.
            let page = if value.is_array() {
                serde_json::from_value::<Vec<String>>(value)
            } else {
                serde_json::from_value::<EventLog>(value).map(|l| l.event_log)
            }
            .map_err(|_| ClientError::Decode {
                operation: OP,
                reason: "event log is neither {\"eventLog\": [..]} nor an array of SETs".into(),
            })?;
            let n = page.len();
            all.extend(page);
            if n < LIMIT {
                return Ok(all);
            }
        }
    }

    /// `POST /v1/cases/{caseId}/events` with a signed SET (`application/jose`).
    pub async fn post_event(&self, case_id: &str, set: &str) -> Result<(), ClientError> {
        let path = api::fill(self.paths().case_events, &[("caseId", case_id)]);
        self.send(
            "post event",
            Method::POST,
            &path,
            &[],
            Body::Jose(Bytes::copy_from_slice(set.as_bytes())),
            true,
        )
        .await?;
        Ok(())
    }

    // ---- destinations and keys ------------------------------------------------------------

    /// `GET /v1/destinations/{id}`.
    pub async fn destination(&self, destination_id: &str) -> Result<Destination, ClientError> {
        let path = api::fill(
            self.paths().destination,
            &[("destinationId", destination_id)],
        );
        self.json("read destination", &path, &[], true).await
    }

    /// `GET /v1/destinations/{id}/keys/{kid}`: a public JWK of the destination.
    pub async fn destination_key(
        &self,
        destination_id: &str,
        kid: &str,
    ) -> Result<Jwk, ClientError> {
        let path = api::fill(
            self.paths().destination_key,
            &[("destinationId", destination_id), ("kid", kid)],
        );
        self.json("read destination key", &path, &[], true).await
    }

    /// `GET /.well-known/jwks.json`: the Zustelldienst's signing keys (no authentication).
    pub async fn zustelldienst_keys(&self) -> Result<Jwks, ClientError> {
        self.json("read Zustelldienst keys", self.paths().jwks, &[], false)
            .await
    }

    // ---- sender API (online services; used by the sender module and tests) ---------------

    /// `POST /v1/submissions`: announce a submission.
    pub async fn create_submission(
        &self,
        request: &CreateSubmission,
    ) -> Result<SubmissionRef, ClientError> {
        const OP: &str = "announce submission";
        let body = Bytes::from(serde_json::to_vec(request).expect("request serializes"));
        let response = self
            .send(
                OP,
                Method::POST,
                self.paths().submissions,
                &[],
                Body::Json(body),
                true,
            )
            .await?;
        decode(OP, response).await
    }

    /// `PUT /v1/submissions/{id}/attachments/{attachmentId}` with a compact JWE.
    pub async fn upload_attachment(
        &self,
        submission_id: &str,
        attachment_id: &str,
        jwe: Bytes,
    ) -> Result<(), ClientError> {
        let path = api::fill(
            self.paths().attachment,
            &[
                ("submissionId", submission_id),
                ("attachmentId", attachment_id),
            ],
        );
        self.send(OP_UPLOAD, Method::PUT, &path, &[], Body::Jose(jwe), true)
            .await?;
        Ok(())
    }

    /// `PUT /v1/submissions/{id}` with the encrypted metadata and data: submit.
    pub async fn submit_submission(
        &self,
        submission_id: &str,
        request: &SubmitSubmission,
    ) -> Result<(), ClientError> {
        let path = api::fill(self.paths().submission, &[("submissionId", submission_id)]);
        let body = Bytes::from(serde_json::to_vec(request).expect("request serializes"));
        self.send(
            "submit submission",
            Method::PUT,
            &path,
            &[],
            Body::Json(body),
            true,
        )
        .await?;
        Ok(())
    }
}

async fn decode<T: DeserializeOwned>(
    operation: &'static str,
    response: reqwest::Response,
) -> Result<T, ClientError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|source| ClientError::Transport { operation, source })?;
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
        operation,
        // Position only: the body may contain personal data.
        reason: format!(
            "JSON does not match (line {} column {})",
            e.line(),
            e.column()
        ),
    })
}

pub(crate) async fn error_from(
    operation: &'static str,
    response: reqwest::Response,
) -> ClientError {
    let status = response.status().as_u16();
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if is_json
        && let Ok(bytes) = response.bytes().await
        && let Ok(problem) = serde_json::from_slice::<ProblemDocument>(&bytes)
    {
        return ClientError::Problem {
            operation,
            status,
            problem,
        };
    }
    ClientError::Status { operation, status }
}
