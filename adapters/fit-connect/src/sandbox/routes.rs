//! The sandbox's HTTP surface. Paths come from [`crate::client::api::V1_PATHS`], the same
//! templates the client uses.
//!
//! Status codes: 201 for announce, 204 for an attachment upload and for a posted event, 200
//! otherwise (including submit); 401 without a valid token, 403 for another client's submission
//! or the wrong role, 404 for unknown ids and for submissions not (or no longer) in state
//! `submitted`/`forwarded`, 409 for a transition the state machine does not allow, 415 for a
//! wrong `Content-Type`, 422 for content that is refused (missing attachments, bad SETs), 503
//! while down.
//!
//! Checked against FITKO's published OpenAPI (as reproduced in generated clients and live-tested
//! client code): the list shows only `submitted` submissions and takes `destinationId`, `offset`,
//! `limit` (≤ 500, default 100); fetch and attachment download answer 404 outside
//! `submitted`/`forwarded`; the event log takes `offset`/`limit` and answers `{"eventLog": [..]}`;
//! posting an event answers 204, 409 for an invalid state transition, 422 for an incorrect SET;
//! announce 201, upload 204, submit 200 (the last three live-verified on API v2). *Unverified*:
//! problem type names other than `destination-not-found` / `destination-state-invalid`, and
//! that v1 refuses a metadata JWE without `cty: application/json` (v2 does). The token
//! endpoint answers OAuth2 error JSON (RFC 6749 §5.2), as a real authorization server does.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::problem::ApiProblem;
use super::store::{CaseRecord, SubmissionRecord, SubmissionState, TokenRecord};
use super::{CallbackDelivery, Role, Shared, lock};
use crate::callback::{CallbackSigner, HEADER_AUTHENTICATION, HEADER_TIMESTAMP};
use crate::client::api::V1_PATHS;
use crate::events::{self, Event, SetClaims, SetSubject};
use crate::jose::jwe;
use crate::wire::{
    CALLBACK_TYPE_NEW_SUBMISSIONS, CONTENT_TYPE_JOSE, CallbackNotification, CreateSubmission,
    Destination, EventLog, Jwks, OAuthError, Submission, SubmissionList, SubmitSubmission,
    TokenResponse,
};

type Shr = State<Arc<Shared>>;
type ApiResult = Result<Response, ApiProblem>;

pub(crate) fn router(shared: Arc<Shared>, max_body: usize) -> Router {
    let p = &V1_PATHS;
    Router::new()
        .route("/token", post(token))
        .route(p.jwks, get(jwks))
        .route(p.destination, get(destination))
        .route(p.destination_key, get(destination_key))
        .route(p.submissions, post(create_submission).get(list_submissions))
        .route(p.submission, get(fetch_submission).put(submit_submission))
        .route(p.attachment, get(fetch_attachment).put(upload_attachment))
        .route(p.case_events, get(event_log).post(post_event))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            fault_injection,
        ))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(shared)
}

async fn fault_injection(State(s): Shr, request: Request, next: Next) -> Response {
    let down = {
        let mut until = lock(&s.down_until);
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    };
    if down {
        s.unavailable_answers.fetch_add(1, Ordering::Relaxed);
        let mut r = ApiProblem::unavailable().into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    next.run(request).await
}

async fn not_found() -> ApiProblem {
    ApiProblem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no such resource",
    )
}

async fn method_not_allowed() -> ApiProblem {
    ApiProblem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support the method",
    )
}

// ---- authentication ------------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(OAuthError {
            error: error.into(),
            error_description: Some(description.into()),
        }),
    )
        .into_response()
}

async fn token(State(s): Shr, Form(form): Form<TokenForm>) -> Response {
    if form.grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let (Some(id), Some(secret)) = (form.client_id, form.client_secret) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_id and client_secret are required (client_secret_post)",
        );
    };
    let Some(client) = s.clients.get(&id) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client");
    };
    if !client.credentials.secret_matches(&secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "bad client secret",
        );
    }
    let lifetime = *lock(&s.token_lifetime);
    let value = format!("sandbox-{}-{}", uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    lock(&s.tokens).insert(
        value.clone(),
        TokenRecord {
            client_id: id,
            expires_at: Instant::now() + lifetime,
        },
    );
    s.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let scope = match &client.role {
        Role::Sender => "send:region:DE".to_string(),
        Role::Subscriber(d) => d
            .iter()
            .map(|d| format!("subscribe:destination:{d}"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    Json(TokenResponse {
        access_token: value,
        token_type: "Bearer".into(),
        expires_in: Some(lifetime.as_secs().max(1)),
        scope: Some(scope),
    })
    .into_response()
}

struct Caller {
    client_id: String,
    role: Role,
}

impl Caller {
    fn destinations(&self) -> Option<&HashSet<String>> {
        match &self.role {
            Role::Subscriber(d) => Some(d),
            Role::Sender => None,
        }
    }

    fn require_subscriber(&self) -> Result<&HashSet<String>, ApiProblem> {
        self.destinations()
            .ok_or_else(|| ApiProblem::forbidden("this operation needs a subscriber client"))
    }

    fn require_sender(&self) -> Result<(), ApiProblem> {
        match self.role {
            Role::Sender => Ok(()),
            Role::Subscriber(_) => Err(ApiProblem::forbidden(
                "this operation needs a sender client",
            )),
        }
    }
}

fn authenticate(s: &Shared, headers: &HeaderMap) -> Result<Caller, ApiProblem> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| ApiProblem::unauthorized("a bearer token is required"))?;
    let mut tokens = lock(&s.tokens);
    let Some(record) = tokens.get(value.trim()) else {
        return Err(ApiProblem::unauthorized("the token is unknown or expired"));
    };
    if Instant::now() >= record.expires_at {
        tokens.remove(value.trim());
        return Err(ApiProblem::unauthorized("the token has expired"));
    }
    let client = s
        .clients
        .get(&record.client_id)
        .ok_or_else(|| ApiProblem::unauthorized("the client no longer exists"))?;
    Ok(Caller {
        client_id: record.client_id.clone(),
        role: client.role.clone(),
    })
}

fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiProblem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiProblem::unsupported_media_type(expected))
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiProblem> {
    serde_json::from_slice(body).map_err(|e| {
        ApiProblem::bad_request(format!(
            "request body does not match the schema (line {} column {})",
            e.line(),
            e.column()
        ))
    })
}

fn json_response<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

// ---- keys and destinations -----------------------------------------------------------------

async fn jwks(State(s): Shr) -> Response {
    let mut key = s.own_key.public_jwk();
    key.alg = Some("PS512".into());
    key.key_use = Some("sig".into());
    key.key_ops = Some(vec!["verify".into()]);
    json_response(StatusCode::OK, &Jwks { keys: vec![key] })
}

fn destination_or_404<'a>(s: &'a Shared, id: &str) -> Result<&'a super::Destination, ApiProblem> {
    s.destinations.get(id).ok_or_else(|| {
        ApiProblem::new(
            StatusCode::NOT_FOUND,
            "destination-not-found",
            "Destination not found",
            format!("no destination {id}"),
        )
    })
}

async fn destination(State(s): Shr, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    authenticate(&s, &headers)?;
    let d = &destination_or_404(&s, &id)?.config;
    Ok(json_response(
        StatusCode::OK,
        &Destination {
            destination_id: d.destination_id.clone(),
            status: d.status.clone(),
            services: d.services.clone(),
            encryption_kid: d.encryption_key.kid.clone().unwrap_or_default(),
            metadata_versions: d.metadata_versions.clone(),
            reply_channels: None,
        },
    ))
}

async fn destination_key(
    State(s): Shr,
    headers: HeaderMap,
    Path((id, kid)): Path<(String, String)>,
) -> ApiResult {
    authenticate(&s, &headers)?;
    let d = &destination_or_404(&s, &id)?.config;
    let key = [&d.encryption_key, &d.signing_key]
        .into_iter()
        .find(|k| k.kid.as_deref() == Some(kid.as_str()))
        .ok_or_else(|| {
            ApiProblem::new(
                StatusCode::NOT_FOUND,
                "key-not-found",
                "Key not found",
                format!("destination {id} has no key {kid}"),
            )
        })?;
    Ok(json_response(StatusCode::OK, &key.to_public()))
}

// ---- sender API ----------------------------------------------------------------------------

async fn create_submission(State(s): Shr, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    caller.require_sender()?;
    require_content_type(&headers, "application/json")?;
    let request: CreateSubmission = parse_json(&body)?;
    let d = &destination_or_404(&s, &request.destination_id)?.config;
    if d.status != "active" {
        return Err(ApiProblem::unprocessable(
            "destination-state-invalid",
            "Destination not active",
            format!("destination {} is {}", d.destination_id, d.status),
        ));
    }
    if !d.services.is_empty()
        && !d
            .services
            .iter()
            .any(|svc| svc.identifier == request.service_type.identifier)
    {
        return Err(ApiProblem::unprocessable(
            "service-type-not-supported",
            "Service not offered by destination",
            format!(
                "destination {} does not accept service {}",
                d.destination_id, request.service_type.identifier
            ),
        ));
    }
    let mut seen = HashSet::new();
    for a in &request.announced_attachments {
        if uuid::Uuid::parse_str(a).is_err() || !seen.insert(a.as_str()) {
            return Err(ApiProblem::bad_request(format!(
                "announcedAttachments must be distinct UUIDs ({a:?} is not)"
            )));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut store = lock(&s.store);
    let case_id = match request.case_id {
        Some(case_id) => {
            let case = store.cases.get_mut(&case_id).ok_or_else(|| {
                ApiProblem::new(
                    StatusCode::NOT_FOUND,
                    "case-not-found",
                    "Case not found",
                    format!("no case {case_id}"),
                )
            })?;
            if case.destination_id != d.destination_id || case.sender_client != caller.client_id {
                return Err(ApiProblem::forbidden(format!(
                    "case {case_id} belongs to another destination or sender"
                )));
            }
            case.submissions.push(id.clone());
            case_id
        }
        None => {
            let case_id = uuid::Uuid::new_v4().to_string();
            store.cases.insert(
                case_id.clone(),
                CaseRecord {
                    destination_id: d.destination_id.clone(),
                    sender_client: caller.client_id.clone(),
                    submissions: vec![id.clone()],
                    events: Vec::new(),
                    seen_jti: HashSet::new(),
                },
            );
            case_id
        }
    };
    let record = SubmissionRecord {
        id: id.clone(),
        case_id,
        destination_id: d.destination_id.clone(),
        sender_client: caller.client_id,
        service_type: request.service_type,
        announced: request.announced_attachments,
        attachments: Default::default(),
        encrypted_metadata: None,
        encrypted_data: None,
        state: SubmissionState::Incomplete,
    };
    let reference = record.reference();
    store.order.push(id.clone());
    store.submissions.insert(id, record);
    Ok(json_response(StatusCode::CREATED, &reference))
}

fn own_incomplete<'a>(
    store: &'a mut super::store::Store,
    caller: &Caller,
    id: &str,
) -> Result<&'a mut SubmissionRecord, ApiProblem> {
    let record = store
        .submissions
        .get_mut(id)
        .filter(|r| r.sender_client == caller.client_id)
        .ok_or_else(|| ApiProblem::submission_not_found(id))?;
    if record.state != SubmissionState::Incomplete {
        return Err(ApiProblem::conflict(
            "submission-state-invalid",
            format!("submission {id} is already submitted"),
        ));
    }
    Ok(record)
}

fn check_jwe(what: &str, body: &[u8]) -> Result<jwe::JweHeader, ApiProblem> {
    jwe::inspect(body).map_err(|e| {
        ApiProblem::unprocessable(
            "invalid-jwe",
            "Not an acceptable JWE",
            format!("{what} is not an acceptable compact JWE: {e}"),
        )
    })
}

async fn upload_attachment(
    State(s): Shr,
    headers: HeaderMap,
    Path((id, attachment_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    caller.require_sender()?;
    require_content_type(&headers, CONTENT_TYPE_JOSE)?;
    check_jwe("the attachment", &body)?;
    let mut store = lock(&s.store);
    let record = own_incomplete(&mut store, &caller, &id)?;
    if !record.announced.contains(&attachment_id) {
        return Err(ApiProblem::unprocessable(
            "attachment-not-announced",
            "Attachment not announced",
            format!("attachment {attachment_id} was not announced for submission {id}"),
        ));
    }
    record.attachments.insert(attachment_id, body);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn submit_submission(
    State(s): Shr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    caller.require_sender()?;
    require_content_type(&headers, "application/json")?;
    let request: SubmitSubmission = parse_json(&body)?;
    let metadata_header = check_jwe("encryptedMetadata", request.encrypted_metadata.as_bytes())?;
    if metadata_header.cty.as_deref() != Some("application/json") {
        return Err(ApiProblem::unprocessable(
            "invalid-jwe",
            "Not an acceptable JWE",
            "the metadata JWE must carry cty: application/json",
        ));
    }
    if let Some(data) = &request.encrypted_data {
        check_jwe("encryptedData", data.as_bytes())?;
    }
    let (reference, tags) = {
        let mut store = lock(&s.store);
        let record = own_incomplete(&mut store, &caller, &id)?;
        let missing: Vec<&String> = record
            .announced
            .iter()
            .filter(|a| !record.attachments.contains_key(*a))
            .collect();
        if !missing.is_empty() {
            return Err(ApiProblem::unprocessable(
                "missing-attachments",
                "Announced attachments missing",
                format!(
                    "upload every announced attachment before submitting; missing: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        record.encrypted_metadata = Some(request.encrypted_metadata);
        record.encrypted_data = request.encrypted_data;
        record.state = SubmissionState::Submitted;
        (record.reference(), record.authentication_tags())
    };
    // The Zustelldienst records the submission in the case log with its own signature.
    let issuer = s.issuer.read().unwrap_or_else(|p| p.into_inner()).clone();
    let claims = SetClaims::new(
        &SetSubject::new(issuer, &reference.submission_id, &reference.case_id),
        &Event::Submit {
            authentication_tags: Some(tags),
        },
    );
    let set = events::sign_set(&claims, &s.own_key).map_err(|_| {
        ApiProblem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal error",
            "signing the submit event failed",
        )
    })?;
    if let Some(case) = lock(&s.store).cases.get_mut(&reference.case_id) {
        case.events.push(set);
    }
    send_callback(s.clone(), reference.clone());
    Ok(json_response(StatusCode::OK, &reference))
}

fn send_callback(s: Arc<Shared>, reference: crate::wire::SubmissionRef) {
    let Some(callback) = s
        .destinations
        .get(&reference.destination_id)
        .and_then(|d| d.config.callback.clone())
    else {
        return;
    };
    tokio::spawn(async move {
        let body = serde_json::to_vec(&CallbackNotification {
            notification_type: CALLBACK_TYPE_NEW_SUBMISSIONS.into(),
            submissions: vec![reference.clone()],
        })
        .expect("callback serializes");
        let signer = CallbackSigner::new(callback.secret.clone());
        let mut attempts = 0;
        let mut status = None;
        while attempts < 3 {
            attempts += 1;
            let h = signer.sign(&body);
            let result = s
                .http
                .post(&callback.url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(HEADER_AUTHENTICATION, h.authentication)
                .header(HEADER_TIMESTAMP, h.timestamp)
                .body(body.clone())
                .send()
                .await;
            status = result.as_ref().ok().map(|r| r.status().as_u16());
            if status.is_some_and(|c| (200..300).contains(&c)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500 * attempts as u64)).await;
        }
        lock(&s.callbacks).push(CallbackDelivery {
            destination_id: reference.destination_id,
            submission_id: reference.submission_id,
            status,
            attempts,
        });
    });
}

// ---- subscriber API ------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    offset: Option<u64>,
    limit: Option<u64>,
    destination_id: Option<String>,
}

async fn list_submissions(
    State(s): Shr,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    let mine = caller.require_subscriber()?;
    let Ok(Query(q)) = query else {
        return Err(ApiProblem::bad_request(
            "offset and limit must be non-negative integers",
        ));
    };
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiProblem::bad_request("limit must be between 1 and 500"));
    }
    if let Some(d) = &q.destination_id
        && !mine.contains(d)
    {
        return Err(ApiProblem::forbidden(format!(
            "destination {d} is not bound to this client"
        )));
    }
    let store = lock(&s.store);
    let visible: Vec<_> = store
        .order
        .iter()
        .filter_map(|id| store.submissions.get(id))
        .filter(|r| r.state == SubmissionState::Submitted)
        .filter(|r| mine.contains(&r.destination_id))
        .filter(|r| {
            q.destination_id
                .as_ref()
                .is_none_or(|d| *d == r.destination_id)
        })
        .collect();
    let page: Vec<_> = visible
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|r| r.reference())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &SubmissionList {
            count: page.len() as u64,
            offset,
            total_count: visible.len() as u64,
            submissions: page,
        },
    ))
}

/// The pending submission `id` of one of the caller's destinations.
fn visible_to_subscriber<'a>(
    store: &'a mut super::store::Store,
    caller: &Caller,
    id: &str,
) -> Result<&'a mut SubmissionRecord, ApiProblem> {
    let mine = caller.require_subscriber()?;
    let record = store
        .submissions
        .get_mut(id)
        .ok_or_else(|| ApiProblem::submission_not_found(id))?;
    if !mine.contains(&record.destination_id) {
        return Err(ApiProblem::forbidden(format!(
            "submission {id} belongs to a destination not bound to this client"
        )));
    }
    if !record.state.is_pending() {
        return Err(ApiProblem::submission_not_found(id));
    }
    Ok(record)
}

async fn fetch_submission(State(s): Shr, headers: HeaderMap, Path(id): Path<String>) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    let mut store = lock(&s.store);
    let record = visible_to_subscriber(&mut store, &caller, &id)?;
    record.state = SubmissionState::Forwarded;
    let mut attachments = record.announced.clone();
    attachments.sort();
    Ok(json_response(
        StatusCode::OK,
        &Submission {
            destination_id: record.destination_id.clone(),
            submission_id: record.id.clone(),
            case_id: record.case_id.clone(),
            service_type: record.service_type.clone(),
            attachments,
            encrypted_metadata: record.encrypted_metadata.clone(),
            encrypted_data: record.encrypted_data.clone(),
        },
    ))
}

async fn fetch_attachment(
    State(s): Shr,
    headers: HeaderMap,
    Path((id, attachment_id)): Path<(String, String)>,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    let body = {
        let mut store = lock(&s.store);
        let record = visible_to_subscriber(&mut store, &caller, &id)?;
        record
            .attachments
            .get(&attachment_id)
            .cloned()
            .ok_or_else(|| {
                ApiProblem::new(
                    StatusCode::NOT_FOUND,
                    "attachment-not-found",
                    "Attachment not found",
                    format!("submission {id} has no attachment {attachment_id}"),
                )
            })?
    };
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_JOSE),
    );
    Ok(r)
}

#[derive(Deserialize)]
struct PageQuery {
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn event_log(
    State(s): Shr,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    let Ok(Query(page)) = query else {
        return Err(ApiProblem::bad_request(
            "offset and limit must be non-negative integers",
        ));
    };
    let offset = page.offset.unwrap_or(0) as usize;
    let limit = page.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiProblem::bad_request("limit must be between 1 and 500"));
    }
    let store = lock(&s.store);
    let case = store.cases.get(&case_id).ok_or_else(|| {
        ApiProblem::new(
            StatusCode::NOT_FOUND,
            "case-not-found",
            "Case not found",
            format!("no case {case_id}"),
        )
    })?;
    let allowed = match &caller.role {
        Role::Subscriber(mine) => mine.contains(&case.destination_id),
        Role::Sender => case.sender_client == caller.client_id,
    };
    if !allowed {
        return Err(ApiProblem::forbidden(format!(
            "case {case_id} is not visible to this client"
        )));
    }
    Ok(json_response(
        StatusCode::OK,
        &EventLog {
            event_log: case
                .events
                .iter()
                .skip(offset)
                .take(limit as usize)
                .cloned()
                .collect(),
        },
    ))
}

fn invalid_set(detail: impl Into<String>) -> ApiProblem {
    ApiProblem::unprocessable("invalid-event", "Security event token refused", detail)
}

async fn post_event(
    State(s): Shr,
    headers: HeaderMap,
    Path(case_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let caller = authenticate(&s, &headers)?;
    let mine = caller.require_subscriber()?.clone();
    require_content_type(&headers, CONTENT_TYPE_JOSE)?;
    let token = std::str::from_utf8(&body)
        .map_err(|_| ApiProblem::bad_request("the SET is not UTF-8"))?
        .trim()
        .to_string();
    let destination_id = {
        let store = lock(&s.store);
        let case = store.cases.get(&case_id).ok_or_else(|| {
            ApiProblem::new(
                StatusCode::NOT_FOUND,
                "case-not-found",
                "Case not found",
                format!("no case {case_id}"),
            )
        })?;
        if !mine.contains(&case.destination_id) {
            return Err(ApiProblem::forbidden(format!(
                "case {case_id} belongs to a destination not bound to this client"
            )));
        }
        case.destination_id.clone()
    };
    let destination = destination_or_404(&s, &destination_id)?;
    // Signature against the destination's registered signing key — the point of the exercise.
    let set = events::verify_set(&token, &destination.signing_key)
        .map_err(|e| invalid_set(format!("SET refused: {e}")))?;
    let claims = &set.claims;
    if claims.iss != destination_id {
        return Err(invalid_set(format!(
            "iss must be the destination id {destination_id}"
        )));
    }
    if claims.case_id() != Some(case_id.as_str()) {
        return Err(invalid_set(format!("txn must be case:{case_id}")));
    }
    if uuid::Uuid::parse_str(&claims.jti).is_err() {
        return Err(invalid_set("jti must be a UUID"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if claims.iat > now + 60 {
        return Err(invalid_set("iat lies in the future"));
    }
    let submission_id = claims.submission_id().unwrap_or_default().to_string();
    let new_state = match &set.event {
        Event::Accept { .. } => SubmissionState::Accepted,
        Event::Reject { .. } => SubmissionState::Rejected,
        other => {
            return Err(invalid_set(format!(
                "subscribers may post accept-submission or reject-submission, not {}",
                other.uri()
            )));
        }
    };
    let mut store = lock(&s.store);
    let record = store
        .submissions
        .get(&submission_id)
        .filter(|r| r.case_id == case_id)
        .ok_or_else(|| invalid_set(format!("sub names no submission of case {case_id}")))?;
    match record.state {
        SubmissionState::Submitted | SubmissionState::Forwarded => {}
        SubmissionState::Incomplete => {
            return Err(ApiProblem::conflict(
                "submission-state-invalid",
                format!("submission {submission_id} was never submitted"),
            ));
        }
        SubmissionState::Accepted | SubmissionState::Rejected => {
            return Err(ApiProblem::conflict(
                "submission-state-invalid",
                format!("submission {submission_id} was already accepted or rejected"),
            ));
        }
    }
    if let Event::Accept {
        authentication_tags,
    } = &set.event
        && *authentication_tags != record.authentication_tags()
    {
        return Err(invalid_set(
            "authenticationTags do not match the JWEs of the submission",
        ));
    }
    let case = store.cases.get_mut(&case_id).expect("case checked above");
    if !case.seen_jti.insert(claims.jti.clone()) {
        return Err(ApiProblem::conflict(
            "event-replayed",
            "a SET with this jti was already posted",
        ));
    }
    case.events.push(token);
    store
        .submissions
        .get_mut(&submission_id)
        .expect("submission checked above")
        .state = new_state;
    Ok(StatusCode::NO_CONTENT.into_response())
}
