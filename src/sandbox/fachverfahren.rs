//! A sample Fachverfahren: an HTTP server that accepts deliveries the way a back-office
//! system's REST API would, and records what it received.
//!
//! It honours `Idempotency-Key`: a repeated key gets the first answer again and does not
//! create a second case — but every raw request is counted, so tests can report how many
//! duplicates reached it. Fault injection shows the broker's retry path: a share of messages
//! gets `503` on its first attempt(s), and `/_sandbox/mode` switches the whole server to
//! refusing (`400`) or unavailable (`503`).
//!
//! An endpoint can be given a JSON Schema (its API contract, e.g. the `*.target.schema.json`
//! of a mapping pack): a JSON document that misses a required field is answered `422` with the
//! schema's reason, as a real Fachverfahren would — so a broken mapping shows up as a
//! permanent delivery failure with a readable cause.
//!
//! Endpoints: `POST /<anything>` delivery; `GET /_sandbox/received` what arrived (JSON);
//! `POST /_sandbox/mode` `{"reject": bool, "unavailable": bool}`.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How the sample Fachverfahren misbehaves.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Behaviour {
    /// One in `fail_every` messages (the 1st, the `fail_every + 1`th, … to arrive) gets `503`
    /// on its first `fail_attempts` attempts. 0 = never.
    pub fail_every: u32,
    pub fail_attempts: u32,
    /// Refuse everything with `400` (a permanent failure).
    pub reject: bool,
    /// Answer everything with `503`.
    pub unavailable: bool,
    /// API contracts: a JSON document delivered to an endpoint whose path starts with the
    /// first element must satisfy the JSON Schema (second element), else `422`.
    #[serde(skip)]
    pub contracts: Vec<(String, serde_json::Value)>,
}

/// One delivered message as the Fachverfahren saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    pub key: String,
    /// Arrival order of the first request with this key, from 0.
    pub ordinal: usize,
    pub endpoint: String,
    /// Every request with this key, including refused and repeated ones.
    pub requests: u32,
    /// Requests after the first success (what a Fachverfahren without idempotency would have
    /// turned into duplicate cases).
    pub duplicates: u32,
    /// The case number this Fachverfahren assigned, once accepted.
    pub reference: Option<String>,
    pub tenant: Option<String>,
    pub content_type: String,
    pub size: usize,
    pub sha256: String,
    /// The JSON document of the accepted request, if it was JSON.
    pub json: Option<serde_json::Value>,
}

#[derive(Default)]
struct Inner {
    behaviour: Behaviour,
    received: BTreeMap<String, Received>,
    cases: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running sample Fachverfahren.
pub struct SampleFachverfahren {
    pub addr: SocketAddr,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl SampleFachverfahren {
    pub async fn start(listen: SocketAddr, behaviour: Behaviour) -> std::io::Result<Self> {
        let inner: Shared = Arc::new(Mutex::new(Inner {
            behaviour,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/_sandbox/received", get(list))
            .route("/_sandbox/mode", post(set_mode))
            .route("/{*endpoint}", post(deliver))
            .layer(axum::extract::DefaultBodyLimit::max(1 << 30))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        // The same edge as the broker's; it runs until the task is aborted.
        let task = tokio::spawn(amtsbote_listener::serve(
            listener,
            amtsbote_listener::Limits::default(),
            app,
            std::future::pending(),
        ));
        Ok(SampleFachverfahren { addr, inner, task })
    }

    pub fn url(&self, endpoint: &str) -> String {
        format!("http://{}/{}", self.addr, endpoint.trim_start_matches('/'))
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner
            .lock()
            .expect("state")
            .received
            .values()
            .cloned()
            .collect()
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        self.inner.lock().expect("state").behaviour = b;
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

fn chosen(ordinal: usize, every: u32) -> bool {
    every > 0 && ordinal.is_multiple_of(every as usize)
}

/// The JSON document of a delivery: the body, or the `document` part of a multipart body.
async fn json_document(headers: &HeaderMap, body: &Bytes) -> Option<serde_json::Value> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(ct).ok()?;
        let body = body.clone();
        let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut mp = multer::Multipart::new(stream, boundary);
        while let Ok(Some(field)) = mp.next_field().await {
            if field.name() == Some("document") {
                let json = field
                    .content_type()
                    .is_some_and(|m| m.essence_str() == "application/json");
                let bytes = field.bytes().await.ok()?;
                return if json {
                    serde_json::from_slice(&bytes).ok()
                } else {
                    None
                };
            }
        }
        None
    } else if ct.starts_with("application/json") {
        serde_json::from_slice(body).ok()
    } else {
        None
    }
}

/// Checks a JSON document against the endpoint's contract; the violations, if any.
fn violations(contract: &serde_json::Value, doc: &serde_json::Value) -> Vec<String> {
    match jsonschema::validator_for(contract) {
        Ok(v) => v
            .iter_errors(doc)
            .map(|e| {
                let at = e.instance_path.to_string();
                format!("{}: {e}", if at.is_empty() { "/".into() } else { at })
            })
            .collect(),
        Err(e) => vec![format!(
            "the sample Fachverfahren's contract is broken: {e}"
        )],
    }
}

async fn deliver(
    State(inner): State<Shared>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let contract = {
        let s = inner.lock().expect("state");
        s.behaviour
            .contracts
            .iter()
            .find(|(prefix, _)| endpoint.starts_with(prefix.trim_start_matches('/')))
            .map(|(_, schema)| schema.clone())
    };
    let document = json_document(&headers, &body).await;
    let refused = match (&contract, &document) {
        (None, _) => Vec::new(),
        (Some(contract), Some(doc)) => violations(contract, doc),
        (Some(_), None) => vec!["expected a JSON document".to_string()],
    };
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let Some(key) = text("idempotency-key") else {
        return (StatusCode::BAD_REQUEST, "Idempotency-Key header missing").into_response();
    };
    let mut s = inner.lock().expect("state");
    let behaviour = s.behaviour.clone();
    let ordinal = s.received.len();
    let entry = s.received.entry(key.clone()).or_insert_with(|| Received {
        key: key.clone(),
        ordinal,
        endpoint: endpoint.clone(),
        requests: 0,
        duplicates: 0,
        reference: None,
        tenant: text("x-amtsbote-tenant"),
        content_type: text("content-type").unwrap_or_default(),
        size: body.len(),
        sha256: hex::encode(Sha256::digest(&body)),
        json: None,
    });
    entry.requests += 1;
    if let Some(reference) = entry.reference.clone() {
        entry.duplicates += 1;
        let mut resp = (
            StatusCode::OK,
            Json(serde_json::json!({ "reference": reference })),
        )
            .into_response();
        resp.headers_mut()
            .insert("idempotent-replayed", "true".parse().expect("valid header"));
        return resp;
    }
    if behaviour.unavailable
        || (chosen(entry.ordinal, behaviour.fail_every)
            && entry.requests <= behaviour.fail_attempts)
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Fachverfahren temporarily unavailable (maintenance)",
        )
            .into_response();
    }
    if !refused.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "error": "the document does not meet the API contract",
                "violations": refused
            })),
        )
            .into_response();
    }
    if behaviour.reject {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "the case could not be created: required field missing" })),
        )
            .into_response();
    }
    s.cases += 1;
    let reference = format!("FV-{:06}", s.cases);
    let entry = s.received.get_mut(&key).expect("inserted above");
    entry.reference = Some(reference.clone());
    entry.content_type = text("content-type").unwrap_or_default();
    entry.size = body.len();
    entry.sha256 = hex::encode(Sha256::digest(&body));
    entry.json = document;
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "reference": reference })),
    )
        .into_response()
}

async fn list(State(inner): State<Shared>) -> Json<Vec<Received>> {
    Json(
        inner
            .lock()
            .expect("state")
            .received
            .values()
            .cloned()
            .collect(),
    )
}

#[derive(Deserialize)]
struct Mode {
    #[serde(default)]
    reject: bool,
    #[serde(default)]
    unavailable: bool,
}

async fn set_mode(State(inner): State<Shared>, Json(mode): Json<Mode>) -> StatusCode {
    let mut s = inner.lock().expect("state");
    s.behaviour.reject = mode.reject;
    s.behaviour.unavailable = mode.unavailable;
    StatusCode::NO_CONTENT
}
