//! The broker's HTTP listener: intake for form servers, plus liveness, readiness and metrics
//! for the platform running the broker.

use crate::backend::Stores;
use crate::inbound::http::{HttpIntake, post_message};
use crate::telemetry::metrics::metrics;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;

pub fn router(intake: Arc<HttpIntake>, stores: Stores) -> Router {
    let api = Router::new()
        .route("/api/v1/tenants/{tenant}/messages", post(post_message))
        // Intake enforces its own, configured limits while streaming.
        .layer(DefaultBodyLimit::disable())
        .with_state(intake);
    let ops = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .with_state(stores);
    api.merge(ops)
}

/// Ready when the ledger answers.
async fn ready(State(stores): State<Stores>) -> impl IntoResponse {
    match stores.ledger.count_by_state().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "ledger unavailable"),
    }
}

async fn metrics_text() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics().encode(),
    )
}
