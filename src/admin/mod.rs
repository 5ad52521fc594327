//! The admin API and the console: what operators at the IT service provider use to see every
//! message's path through the broker and to fix what is stuck without a database shell.
//!
//! Sits beside intake on the broker's HTTP listener (`server.listen`). It reads the ledger and
//! changes messages only through the doors everyone else uses: [`crate::replay`] for replays,
//! [`crate::retention::purge`] for purges and the ledger's state machine for resolving, with
//! `operator:<token name>` as the actor in the history.
//!
//! - `/admin/api/v1/…`: JSON, bearer tokens with the roles viewer and operator ([`auth`]),
//!   errors as problem documents ([`problem`]); its OpenAPI document is generated from the
//!   handlers below, so it cannot drift from them.
//! - `/console/`: a web UI (static files in the binary) on top of that API ([`console`]).

pub mod api;
pub mod auth;
pub mod console;
pub mod problem;

use crate::backend::Records;
use crate::config::TelemetryConfig;
use crate::ledger::MessageRecord;
use crate::routing::Router;
use amtsbote_xoev::validate::Validator;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the admin API works with.
pub struct Admin {
    /// The ledger and the payloads (never closed from here).
    pub records: Records,
    /// The routing table and schema packs replays route and validate with, as intake does.
    pub router: Router,
    pub validator: Arc<Validator>,
    pub tokens: auth::Tokens,
    /// `[telemetry]`: where the link to a message's trace points (`trace_ui`).
    pub telemetry: TelemetryConfig,
}

/// The trace a message belongs to (W3C trace id), from the trace context intake stored.
pub fn trace_id(m: &MessageRecord) -> Option<String> {
    crate::telemetry::trace::trace_id(m.traceparent.as_deref()?).map(str::to_owned)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "amtsbote admin API",
        description = "Messages, their history, replay, resolve and purge. Authenticate with \
                       `Authorization: Bearer <token>` (`[[admin.tokens]]`); writes need the \
                       role operator. Errors are problem documents (application/problem+json)."
    ),
    modifiers(&BearerAuth),
    tags((name = "admin", description = "Operators' view of the ledger"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route of the admin API, each with its OpenAPI description: one list, so the
/// document serves exactly what is routed.
fn api() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::overview))
        .routes(routes!(api::list_messages))
        .routes(routes!(api::get_message))
        .routes(routes!(api::replay_one))
        .routes(routes!(api::replay_many))
        .routes(routes!(api::resolve))
        .routes(routes!(api::purge))
        .routes(routes!(api::me))
        .routes(routes!(api::openapi_document))
}

/// The OpenAPI document of the admin API.
pub fn openapi() -> &'static utoipa::openapi::OpenApi {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| api().into_openapi())
}

/// The admin API and the console, to merge into the broker's listener.
pub fn router(admin: Admin) -> axum::Router {
    let (api, _) = api().with_state(Arc::new(admin)).split_for_parts();
    api.merge(console::router())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_bearer_scheme_on_every_data_route() {
        let doc = serde_json::to_value(openapi()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let secured = op["security"][0].get("bearer").is_some();
                assert_eq!(secured, !path.ends_with("openapi.json"), "{method} {path}");
            }
        }
    }
}
