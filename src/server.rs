//! The broker's HTTP listener: intake for form servers, plus liveness, readiness and metrics
//! for the platform running the broker.

use crate::backend::Stores;
use crate::inbound::fit_connect::Destination;
use crate::inbound::http::{HttpIntake, post_message};
use crate::telemetry::auth_failures::Endpoint;
use crate::telemetry::events::AuthFailed;
use crate::telemetry::metrics::{CallbackLabels, DestinationLabels, metrics};
use crate::{gauges, readiness};
use amtsbote_fit_connect::wire::CallbackNotification;
use amtsbote_listener::RemoteAddr;
use axum::Extension;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use std::sync::Arc;

/// What the operations endpoints read.
#[derive(Clone)]
struct Ops {
    stores: Stores,
    /// Configured connectors: their queue gauges read 0 rather than vanish when empty.
    connectors: Arc<Vec<String>>,
    /// FIT-Connect destinations, for their open-submission gauges.
    fit_connect: Arc<Vec<DestinationLabels>>,
}

pub fn router(
    intake: Arc<HttpIntake>,
    stores: Stores,
    connectors: Vec<String>,
    fit_connect: Vec<Arc<Destination>>,
) -> Router {
    let api = Router::new()
        .route("/api/v1/tenants/{tenant}/messages", post(post_message))
        // Intake enforces its own, configured limits while streaming.
        .layer(DefaultBodyLimit::disable())
        .with_state(intake);
    let destination_labels: Vec<DestinationLabels> = fit_connect
        .iter()
        .map(|d| DestinationLabels {
            tenant: d.tenant.clone(),
            source: d.source.clone(),
            destination: d.destination_id.clone(),
        })
        .collect();
    let callbacks = Router::new()
        .route("/callbacks/fit-connect", post(fit_connect_callback))
        .layer(DefaultBodyLimit::max(CALLBACK_LIMIT))
        .with_state(Arc::new(fit_connect));
    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(Ops {
            stores,
            connectors: Arc::new(connectors),
            fit_connect: Arc::new(destination_labels),
        });
    api.merge(callbacks).merge(ops)
}

/// Callbacks carry a few ids; anything larger is not one.
const CALLBACK_LIMIT: usize = 64 * 1024;

/// `POST /callbacks/fit-connect`: the Zustelldienst says new submissions wait. The callback is
/// only a hint — it wakes the destination's poller, which fetches through the API as always —
/// but it is verified (HMAC-SHA512 over the raw body with the destination's callback secret,
/// at most 5 minutes old, not seen before) before it wakes anything. Refusals are logged and
/// counted.
async fn fit_connect_callback(
    State(destinations): State<Arc<Vec<Arc<Destination>>>>,
    client: Option<Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let client = client.map(|Extension(RemoteAddr(addr))| addr.ip());
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let named: Vec<String> = serde_json::from_slice::<CallbackNotification>(&body)
        .map(|n| {
            n.submissions
                .into_iter()
                .map(|s| s.destination_id)
                .collect()
        })
        .unwrap_or_default();
    let mut woken = 0;
    let mut reason = "unknown destination";
    for d in destinations
        .iter()
        .filter(|d| named.contains(&d.destination_id))
    {
        match d.verify_callback(
            header("callback-authentication"),
            header("callback-timestamp"),
            &body,
        ) {
            Ok(()) => {
                d.wake();
                woken += 1;
            }
            Err(e) => {
                AuthFailed {
                    endpoint: Endpoint::FitConnectCallback,
                    client,
                    tenant: &d.tenant,
                    source: &d.source,
                    kind: e.outcome,
                    detail: &format!("destination {}: {}", d.destination_id, e.reason),
                }
                .emit();
                reason = e.outcome;
            }
        }
    }
    let outcome = if woken > 0 { "accepted" } else { reason };
    metrics()
        .callbacks
        .get_or_create(&CallbackLabels {
            outcome: outcome.into(),
        })
        .inc();
    if woken > 0 {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Ready when the ledger, the queue and the payload store answer. The answer names each
/// check's outcome (JSON), never an address or an error text; the log has those.
async fn ready(State(ops): State<Ops>) -> impl IntoResponse {
    let r = readiness::check(&ops.stores).await;
    let status = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(r))
}

/// Counters are kept as things happen; the gauges (messages per state, queue depth) are read
/// from the ledger and the queue at scrape time, so they are never stale.
async fn metrics_text(State(ops): State<Ops>) -> impl IntoResponse {
    gauges::refresh(&ops.stores, &ops.connectors, &ops.fit_connect).await;
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics().encode(),
    )
}
