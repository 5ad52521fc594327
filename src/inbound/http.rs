//! HTTP intake: form servers and online services POST applications to
//! `POST /api/v1/tenants/{tenant}/messages`.
//!
//! The body is the document itself (XML or JSON, by `Content-Type`), or `multipart/form-data`
//! with one `document` part and any number of `attachment` parts (streamed to the payload
//! store as they arrive). Optional headers: `X-Transport-Id` (the sender's id for this
//! submission: a repeat is answered with the first message's id and changes nothing) and
//! `X-Service-Key` (LeiKa Leistungsschlüssel). Each source authenticates with its own bearer
//! token.
//!
//! Answers: 202 with the message id once the message is durable; 200 for a repeated transport
//! id; 422 when the document violates its XSD schema (the message is kept as `rejected`, the
//! problem document lists every violation with line, column and path); errors as RFC 7807
//! problem documents — 400 malformed (with the parser's reason), 401 for every authentication
//! failure (no token, unknown token, a source not allowed for this tenant, or an unknown
//! tenant: one status and byte-identical body for all, so tenants cannot be enumerated), 413
//! too large (also: more than `intake.max_parts` multipart parts, an attachment over
//! `intake.max_part_bytes`), 415 neither XML nor JSON, 503 storage trouble (nothing kept; send
//! again). A document that is not UTF-8, a JSON string with a lone surrogate escape and JSON
//! nested deeper than `intake.max_json_depth` are 400s of their own type, naming the rule.
//!
//! The `Authorization` scheme is matched case-insensitively (RFC 7235); spaces between scheme
//! and token are tolerated. Tokens are compared in constant time against every source's token
//! hash, whether or not the tenant exists.

use crate::config::{Config, ConfigError, SourceConfig};
use crate::intake::{Accepted, DocumentLimits, Draft, Intake, IntakeError, Origin};
use crate::payload::ByteStream;
use crate::secrets;
use crate::telemetry::auth_failures::Endpoint;
use crate::telemetry::events::{AuthFailed, IntakeRefused};
use crate::telemetry::spans;
use amtsbote_listener::RemoteAddr;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use tracing::Instrument;

/// Which tenants a source may post for.
#[derive(Debug, Clone)]
enum Scope {
    All,
    Only(BTreeSet<String>),
}

#[derive(Debug, Clone)]
struct Source {
    id: String,
    scope: Scope,
}

/// The HTTP sources with the SHA-256 of their token (so the table holds no tokens).
#[derive(Debug, Clone, Default)]
pub struct HttpSources {
    by_token: Vec<([u8; 32], Source)>,
}

/// Why a request was not authenticated: for the log only; the answer is the same for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthFailure {
    NoToken,
    UnknownToken,
    UnknownTenant,
    NotAllowed,
}

impl AuthFailure {
    fn describe(self) -> &'static str {
        match self {
            AuthFailure::NoToken => "no `Authorization: Bearer` token",
            AuthFailure::UnknownToken => "unknown token",
            AuthFailure::UnknownTenant => "unknown tenant",
            AuthFailure::NotAllowed => "source may not post for this tenant",
        }
    }
}

/// The token of an `Authorization` header with the `Bearer` scheme in any casing, with any
/// number of spaces (or tabs) between scheme and token.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let value = value.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_matches([' ', '\t']);
    (!token.is_empty()).then_some(token)
}

/// Stands in for a missing token, so a request without one costs the same work.
const DUMMY_TOKEN: &str = "amtsbote-no-token-presented";

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl HttpSources {
    /// Reads every HTTP source's token. Errors name the key and where the token was looked for.
    pub fn build(config: &Config) -> Result<HttpSources, Vec<ConfigError>> {
        let mut out = HttpSources::default();
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, id, s, tenant) in config.all_sources() {
            if !seen.insert(id.clone()) {
                errors.push(ConfigError::new(
                    None,
                    Some(key),
                    format!("source id `{id}` is used twice"),
                ));
                continue;
            }
            let SourceConfig::Http { token, tenants } = s else {
                continue;
            };
            let scope = match (&tenant, tenants.is_empty()) {
                (Some(t), true) => Scope::Only(BTreeSet::from([t.to_string()])),
                (Some(_), false) => {
                    errors.push(ConfigError::new(
                        None,
                        Some(format!("{key}.tenants")),
                        "a tenant's own source posts for that tenant only; remove `tenants`",
                    ));
                    continue;
                }
                (None, _) if tenants.iter().any(|t| t == "*") => Scope::All,
                (None, true) => {
                    errors.push(ConfigError::new(
                        None,
                        Some(format!("{key}.tenants")),
                        "a global source must list the tenants it may post for (or \"*\")",
                    ));
                    continue;
                }
                (None, false) => {
                    for t in tenants {
                        if !config.tenants.contains_key(t) {
                            errors.push(ConfigError::new(
                                None,
                                Some(format!("{key}.tenants")),
                                format!("unknown tenant `{t}`"),
                            ));
                        }
                    }
                    Scope::Only(tenants.iter().cloned().collect())
                }
            };
            match secrets::read(token) {
                Ok(secret) => {
                    let h = token_hash(secret.expose());
                    if out.by_token.iter().any(|(known, _)| *known == h) {
                        errors.push(ConfigError::new(
                            None,
                            Some(format!("{key}.token")),
                            "two sources share the same token; each source needs its own",
                        ));
                    }
                    out.by_token.push((
                        h,
                        Source {
                            id: id.clone(),
                            scope,
                        },
                    ));
                }
                Err(reason) => {
                    errors.push(ConfigError::new(None, Some(format!("{key}.token")), reason))
                }
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The source whose token was presented, if it may post for `tenant` and the tenant is
    /// `known`. The presented token's hash is compared in constant time with every source's,
    /// whatever the tenant, and a missing token is replaced by a dummy, so the work done does
    /// not tell which tenants exist or which tokens are close.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        tenant: &str,
        known: bool,
    ) -> Result<&Source, (AuthFailure, Option<&Source>)> {
        let presented = bearer_token(headers);
        let h = token_hash(presented.unwrap_or(DUMMY_TOKEN));
        // Index + 1 of the matching source; 0 for none.
        let mut found: u64 = 0;
        for (i, (known_hash, _)) in self.by_token.iter().enumerate() {
            found.conditional_assign(&(i as u64 + 1), known_hash.ct_eq(&h));
        }
        let source = match (presented, found) {
            (None, _) => return Err((AuthFailure::NoToken, None)),
            (Some(_), 0) => return Err((AuthFailure::UnknownToken, None)),
            (Some(_), i) => &self.by_token[(i - 1) as usize].1,
        };
        if !known {
            return Err((AuthFailure::UnknownTenant, Some(source)));
        }
        let allowed = match &source.scope {
            Scope::All => true,
            Scope::Only(ts) => ts.contains(tenant),
        };
        if !allowed {
            return Err((AuthFailure::NotAllowed, Some(source)));
        }
        Ok(source)
    }
}

/// Shared state of the intake endpoint.
pub struct HttpIntake {
    pub intake: Arc<Intake>,
    pub sources: HttpSources,
}

/// An RFC 7807 problem document.
fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": format!("urn:amtsbote:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/problem+json".parse().expect("valid header"),
    );
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Bearer".parse().expect("valid header"),
        );
    }
    resp
}

/// A refusal: logged as an internal event and answered as a problem document.
fn refuse(
    tenant: &str,
    source: &str,
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: &str,
) -> Response {
    IntakeRefused {
        tenant,
        source,
        status: status.as_u16(),
        kind,
        detail,
    }
    .emit();
    problem(status, kind, title, detail)
}

/// The one answer to every authentication failure (no token, unknown token, unknown tenant,
/// source not allowed for the tenant): the same status and the same bytes, so that neither
/// tenants nor tokens can be probed. The log says which it was, never echoing the token, and
/// summarises repeated failures per client (see [`crate::telemetry::auth_failures`]).
fn unauthorized(
    client: Option<IpAddr>,
    tenant: &str,
    source: Option<&Source>,
    why: AuthFailure,
) -> Response {
    AuthFailed {
        endpoint: Endpoint::Intake,
        client,
        tenant,
        source: source.map_or("-", |s| s.id.as_str()),
        kind: why.describe(),
        detail: why.describe(),
    }
    .emit();
    problem(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        "send `Authorization: Bearer <token>` with the token of a source allowed to post for this tenant",
    )
}

fn refuse_intake(tenant: &str, source: &str, e: &IntakeError) -> Response {
    let (status, kind, title) = match e {
        IntakeError::UnknownTenant(_) => {
            // Answered exactly like any other authentication failure (see [`unauthorized`]).
            return unauthorized(None, tenant, None, AuthFailure::UnknownTenant);
        }
        IntakeError::Malformed { .. } => {
            (StatusCode::BAD_REQUEST, "malformed", "Malformed document")
        }
        IntakeError::InvalidUtf8 { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid-utf8",
            "Document is not UTF-8",
        ),
        IntakeError::LoneSurrogate { .. } => (
            StatusCode::BAD_REQUEST,
            "lone-surrogate",
            "Lone surrogate in a JSON string",
        ),
        IntakeError::TooDeep { .. } => (
            StatusCode::BAD_REQUEST,
            "too-deep",
            "JSON document nested too deep",
        ),
        IntakeError::TooManyParts { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-parts",
            "Too many multipart parts",
        ),
        IntakeError::PartTooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "part-too-large",
            "Attachment too large",
        ),
        IntakeError::MissingDocument => {
            (StatusCode::BAD_REQUEST, "missing-document", "No document")
        }
        IntakeError::Incomplete(_) => (StatusCode::BAD_REQUEST, "incomplete", "Incomplete request"),
        IntakeError::Unsupported(_) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported document type",
        ),
        IntakeError::TooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Message too large",
        ),
        IntakeError::Storage(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage",
            "Temporarily unable to store messages",
        ),
    };
    refuse(tenant, source, status, kind, title, &e.to_string())
}

fn accepted(a: &Accepted) -> Response {
    if let Some(r) = &a.rejection {
        // Kept (state `rejected`, nothing delivered); the sender must correct and resend.
        let violations: Vec<_> = r
            .violations
            .iter()
            .map(|v| json!({ "line": v.at.line, "column": v.at.column, "path": v.path, "message": v.message }))
            .collect();
        let body = json!({
            "type": "urn:amtsbote:problem:schema-violation",
            "title": "The document violates its schema",
            "status": 422,
            "detail": r.reason,
            "id": a.id.to_string(),
            "state": a.state.as_str(),
            "violations": violations,
            "omitted": r.omitted,
        });
        let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/problem+json".parse().expect("valid header"),
        );
        return resp;
    }
    let status = if a.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = json!({
        "id": a.id.to_string(),
        "state": a.state.as_str(),
        "connector": a.connector,
        "duplicate": a.duplicate,
    });
    (status, Json(body)).into_response()
}

/// Header value as text, if present and printable; at most `max` characters.
fn header_text(headers: &HeaderMap, name: &str, max: usize) -> Result<Option<String>, String> {
    let Some(v) = headers.get(name) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| format!("{name} must be printable ASCII"))?
        .trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > max {
        return Err(format!("{name} is longer than {max} characters"));
    }
    Ok(Some(s.to_string()))
}

/// How much of a refused request body is still read (and thrown away) before answering, so
/// that a client still sending sees the problem document instead of a broken pipe. Bodies
/// larger than this, or slower than [`DRAIN_TIME`], get the answer and a closed connection.
const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and discards the rest of a body stream, within [`DRAIN_BYTES`] and [`DRAIN_TIME`].
async fn drain<S, E>(stream: &mut S)
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let read = async {
        let mut left = DRAIN_BYTES;
        while let Some(Ok(chunk)) = stream.next().await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// Reads and discards the remaining parts of a refused multipart body, within the same bounds.
async fn drain_multipart(multipart: &mut Multipart) {
    let read = async {
        let mut left = DRAIN_BYTES;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                left = left.saturating_sub(chunk.len() as u64);
                if left == 0 {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// Reads a body stream into memory up to `limit` bytes.
async fn read_limited<S, E>(stream: &mut S, limit: u64) -> Result<Bytes, IntakeError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| IntakeError::Incomplete(e.to_string()))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(IntakeError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Where the parts of a multipart body go: the message's [`Draft`] in the broker, an in-memory
/// [`Form`] in [`read_form`] (the entry the fuzz target `multipart` uses), so that both run the
/// same [`read_multipart`].
trait PartSink {
    fn set_document(
        &mut self,
        content_type: Option<String>,
        body: Bytes,
    ) -> Result<(), IntakeError>;

    async fn attach(
        &mut self,
        filename: Option<String>,
        content_type: Option<String>,
        data: ByteStream<'_>,
    ) -> Result<(), IntakeError>;
}

impl PartSink for Draft {
    fn set_document(
        &mut self,
        content_type: Option<String>,
        body: Bytes,
    ) -> Result<(), IntakeError> {
        Draft::set_document(self, content_type, body)
    }

    async fn attach(
        &mut self,
        filename: Option<String>,
        content_type: Option<String>,
        data: ByteStream<'_>,
    ) -> Result<(), IntakeError> {
        Draft::attach(self, filename, content_type, data).await
    }
}

/// A multipart body read into memory by [`read_form`]: what a draft would have been given.
#[derive(Debug)]
pub struct Form {
    /// The `document` part: its declared content type and its bytes.
    pub document: Option<(Option<String>, Bytes)>,
    /// The `attachment` parts: file name, content type, size in bytes.
    pub attachments: Vec<(Option<String>, Option<String>, u64)>,
    limits: DocumentLimits,
    stored_bytes: u64,
}

impl PartSink for Form {
    fn set_document(
        &mut self,
        content_type: Option<String>,
        body: Bytes,
    ) -> Result<(), IntakeError> {
        self.document = Some((content_type, body));
        Ok(())
    }

    /// Reads the attachment within the same bounds the payload store is given by a draft.
    async fn attach(
        &mut self,
        filename: Option<String>,
        content_type: Option<String>,
        mut data: ByteStream<'_>,
    ) -> Result<(), IntakeError> {
        let limits = &self.limits;
        let left = limits.max_message_bytes.saturating_sub(self.stored_bytes);
        let budget = left.min(limits.max_part_bytes);
        let mut size = 0u64;
        while let Some(chunk) = data.next().await {
            size += chunk
                .map_err(|e| IntakeError::Incomplete(e.to_string()))?
                .len() as u64;
            if size > budget {
                return Err(if limits.max_part_bytes < left {
                    IntakeError::PartTooLarge {
                        part: self.attachments.len() + 1,
                        limit: limits.max_part_bytes,
                    }
                } else {
                    IntakeError::TooLarge {
                        limit: limits.max_message_bytes,
                    }
                });
            }
        }
        self.stored_bytes += size;
        self.attachments.push((filename, content_type, size));
        Ok(())
    }
}

/// Reads a `multipart/form-data` body the way `POST .../messages` does (axum's extractor, then
/// [`read_multipart`]), into memory, without a server or a payload store. Not API: the entry of
/// the fuzz target `multipart` (crate `fuzz/`) and of its stable run in `tests/fuzz.rs`.
#[doc(hidden)]
pub fn read_form(
    content_type: &str,
    body: Bytes,
    limits: &DocumentLimits,
) -> Result<Form, IntakeError> {
    let request = Request::builder()
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .map_err(|e| IntakeError::Incomplete(e.to_string()))?;
    let mut form = Form {
        document: None,
        attachments: Vec::new(),
        limits: limits.clone(),
        stored_bytes: 0,
    };
    futures::executor::block_on(async {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|e| IntakeError::Incomplete(e.body_text()))?;
        read_multipart(&mut form, &mut multipart, limits).await
    })?;
    Ok(form)
}

/// Fills a draft from a multipart body: at most `limits.max_parts` parts, counted before a
/// part is read, so that a request with thousands of parts stores at most that many.
async fn read_multipart(
    draft: &mut impl PartSink,
    multipart: &mut Multipart,
    limits: &DocumentLimits,
) -> Result<(), IntakeError> {
    let mut document = false;
    let mut parts = 0usize;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| IntakeError::Incomplete(e.body_text()))?
    {
        parts += 1;
        if parts > limits.max_parts {
            return Err(IntakeError::TooManyParts {
                limit: limits.max_parts,
            });
        }
        let name = field.name().unwrap_or("").to_string();
        let content_type = field.content_type().map(str::to_string);
        match name.as_str() {
            "document" if !document => {
                document = true;
                let mut field = field;
                let body = read_limited(&mut field, limits.max_document_bytes).await?;
                draft.set_document(content_type, body)?;
            }
            "document" => {
                return Err(IntakeError::Incomplete(
                    "more than one `document` part".into(),
                ));
            }
            "attachment" => {
                let filename = field.file_name().map(str::to_string);
                let stream = field.map_err(std::io::Error::other);
                draft
                    .attach(filename, content_type, Box::pin(stream))
                    .await?;
            }
            other => {
                return Err(IntakeError::Incomplete(format!(
                    "unknown part `{other}`: send one `document` and any number of `attachment` parts"
                )));
            }
        }
    }
    if !document {
        return Err(IntakeError::MissingDocument);
    }
    Ok(())
}

/// `POST /api/v1/tenants/{tenant}/messages`
pub async fn post_message(
    State(state): State<Arc<HttpIntake>>,
    Path(tenant): Path<String>,
    request: Request<Body>,
) -> Response {
    let headers = request.headers().clone();
    let client = request
        .extensions()
        .get::<RemoteAddr>()
        .map(|RemoteAddr(addr)| addr.ip());
    // Authentication (token, tenant, the source's scope) before anything else: a source must
    // not learn about another tenant, not even whether it exists or through a repeated
    // transport id.
    let known = state.intake.serves(&tenant);
    let source = match state.sources.authenticate(&headers, &tenant, known) {
        Ok(source) => source.clone(),
        Err((why, source)) => return unauthorized(client, &tenant, source, why),
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // Authenticated: from here on the request is an application's first span.
    let span = spans::http_receive(&tenant, &source.id, declared_length);
    let response = receive(state, tenant, source, headers, declared_length, request)
        .instrument(span.clone())
        .await;
    spans::record_http_status(&span, response.status().as_u16());
    response
}

/// Reads an authenticated request into intake and answers it.
async fn receive(
    state: Arc<HttpIntake>,
    tenant: String,
    source: Source,
    headers: HeaderMap,
    declared_length: Option<u64>,
    request: Request<Body>,
) -> Response {
    let limits = state.intake.limits().clone();
    let (transport_id, service_key) = match (
        header_text(&headers, "x-transport-id", 256),
        header_text(&headers, "x-service-key", 64),
    ) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => {
            return refuse(
                &tenant,
                &source.id,
                StatusCode::BAD_REQUEST,
                "bad-header",
                "Bad header",
                &e,
            );
        }
    };
    let origin = Origin {
        tenant: tenant.clone(),
        source: source.id.clone(),
        transport_id,
        service_key,
        destination: None,
    };
    let draft = match state.intake.open(origin).await {
        Ok(Ok(draft)) => draft,
        Ok(Err(dup)) => return accepted(&dup),
        Err(e) => return refuse_intake(&tenant, &source.id, &e),
    };
    if let Some(len) = declared_length
        && len > limits.max_message_bytes
    {
        draft.discard().await;
        if len <= DRAIN_BYTES {
            drain(&mut request.into_body().into_data_stream()).await;
        }
        let e = IntakeError::TooLarge {
            limit: limits.max_message_bytes,
        };
        return refuse_intake(&tenant, &source.id, &e);
    }
    let mut draft = draft;
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    let filled = if is_multipart {
        match Multipart::from_request(request, &()).await {
            Ok(mut mp) => {
                let filled = read_multipart(&mut draft, &mut mp, &limits).await;
                if filled.is_err() {
                    drain_multipart(&mut mp).await;
                }
                filled
            }
            Err(e) => Err(IntakeError::Incomplete(e.body_text())),
        }
    } else {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = request.into_body().into_data_stream();
        match read_limited(
            &mut body,
            limits.max_document_bytes.min(limits.max_message_bytes),
        )
        .await
        {
            Ok(bytes) => draft.set_document(content_type, bytes),
            Err(e) => {
                drain(&mut body).await;
                Err(e)
            }
        }
    };
    if let Err(e) = filled {
        draft.discard().await;
        return refuse_intake(&tenant, &source.id, &e);
    }
    match draft.commit().await {
        Ok(a) => accepted(&a),
        Err(e) => refuse_intake(&tenant, &source.id, &e),
    }
}
