//! The handlers of the admin API (`/admin/api/v1/…`). Each one authenticates through
//! [`Caller`], reads or changes the ledger through its trait, and answers JSON or a
//! [`Problem`]. The `#[utoipa::path]` on each is its entry in the OpenAPI document.

use super::auth::Caller;
use super::problem::Problem;
use super::{Admin, trace_id};
use crate::ledger::{MessageDetail, MessageFilter, MessageRecord, StateCount, Transition};
use crate::message::{MessageId, Millis, State, now_millis};
use crate::replay::{ReplayError, replay};
use crate::retention::{PurgeError, purge as purge_payload};
use crate::telemetry::events::OperatorActed;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Shared};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

/// Listing pages hold at most this many messages.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 50;
/// Longest reason an operator may give (it goes into the permanent history).
const MAX_REASON_CHARS: usize = 500;
/// States of messages still on their way: not yet delivered, not waiting for an operator.
const WAITING: [State; 6] = [
    State::Received,
    State::Validated,
    State::Routed,
    State::Delivering,
    State::Retrying,
    State::Replayed,
];

type AdminState = Shared<Arc<Admin>>;

// ---------------------------------------------------------------------------------------
// Overview

/// What the console's first page shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    /// Messages per tenant, connector and state.
    pub states: Vec<StateCount>,
    /// The oldest message still on its way (received, routed, delivering, retrying, …).
    pub oldest_waiting: Option<Oldest>,
    /// The oldest message waiting for an operator (dead or unrouted).
    pub oldest_attention: Option<Oldest>,
    pub last_hour: Throughput,
    /// When this overview was computed (RFC 3339).
    pub at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Oldest {
    pub id: MessageId,
    pub tenant: String,
    pub connector: Option<String>,
    pub state: State,
    /// RFC 3339.
    pub received_at: String,
    pub age_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Throughput {
    /// Messages received in the last hour.
    pub received: u64,
    /// Messages delivered in the last hour (and still in the state delivered).
    pub delivered: u64,
}

#[utoipa::path(get, path = "/admin/api/v1/overview", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counts, oldest waiting messages, throughput", body = Overview),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn overview(Shared(admin): AdminState, _: Caller) -> Result<Json<Overview>, Problem> {
    let ledger = &admin.records.ledger;
    let now = now_millis();
    let hour_ago = now - 3_600_000;
    let oldest = |states: Vec<State>| {
        let filter = MessageFilter {
            states,
            limit: 1,
            ..Default::default()
        };
        async move {
            Ok::<_, Problem>(ledger.list(&filter).await?.pop().map(|m| Oldest {
                id: m.id,
                tenant: m.tenant,
                connector: m.connector,
                state: m.state,
                received_at: crate::message::format_millis(m.received_at),
                age_seconds: (now - m.received_at) / 1000,
            }))
        }
    };
    Ok(Json(Overview {
        states: ledger.count_by_state().await?,
        oldest_waiting: oldest(WAITING.to_vec()).await?,
        oldest_attention: oldest(vec![State::Dead, State::Unrouted]).await?,
        last_hour: Throughput {
            received: ledger
                .count(&MessageFilter {
                    received_from: Some(hour_ago),
                    ..Default::default()
                })
                .await?,
            delivered: ledger
                .count(&MessageFilter {
                    states: vec![State::Delivered],
                    updated_after: Some(hour_ago),
                    ..Default::default()
                })
                .await?,
        },
        at: crate::message::format_millis(now),
    }))
}

// ---------------------------------------------------------------------------------------
// Listing and detail

/// Filters of a message listing. All are optional and combine with AND.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Tenant id.
    pub tenant: Option<String>,
    /// One or more states, comma-separated, e.g. `dead,unrouted`.
    pub state: Option<String>,
    /// Connector id.
    pub connector: Option<String>,
    /// Standard key from the Nachrichtenkopf, e.g. `xgewerbeanzeige`.
    pub standard: Option<String>,
    /// Received at or after this time (RFC 3339, e.g. `2026-12-01T00:00:00Z`).
    pub received_from: Option<String>,
    /// Received before this time (RFC 3339).
    pub received_to: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of a bulk replay: as a listing's, without paging; at least one must be given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub tenant: Option<String>,
    /// States, default `dead` and `unrouted`.
    #[serde(default)]
    pub states: Vec<State>,
    pub connector: Option<String>,
    pub standard: Option<String>,
    /// RFC 3339.
    pub received_from: Option<String>,
    /// RFC 3339.
    pub received_to: Option<String>,
}

/// One page of messages, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<MessageRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<MessageId>,
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<Millis>, Problem> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = OffsetDateTime::parse(v, &Rfc3339).map_err(|_| {
        Problem::bad_request(format!(
            "`{name}` is not an RFC 3339 time; write it as e.g. 2026-12-01T08:00:00Z"
        ))
    })?;
    Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as Millis))
}

fn parse_states(value: &str) -> Result<Vec<State>, Problem> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<State>().map_err(|_| {
                let known: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
                Problem::bad_request(format!(
                    "`state` names an unknown state; known states are {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

impl ListQuery {
    fn filter(&self) -> Result<MessageFilter, Problem> {
        let limit = match self.limit.as_deref().filter(|l| !l.is_empty()) {
            None => DEFAULT_PAGE,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    Problem::bad_request(format!("`limit` must be a number from 1 to {MAX_PAGE}"))
                })?,
        };
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(c.parse::<MessageId>().map_err(|_| {
                Problem::bad_request(
                    "`cursor` is not a message id; pass the `next_cursor` of the previous page",
                )
            })?),
        };
        Ok(MessageFilter {
            states: parse_states(self.state.as_deref().unwrap_or(""))?,
            tenant: nonempty(&self.tenant),
            connector: nonempty(&self.connector),
            standard: nonempty(&self.standard),
            received_from: parse_time("received_from", self.received_from.as_deref())?,
            received_to: parse_time("received_to", self.received_to.as_deref())?,
            after,
            limit,
            ..Default::default()
        })
    }
}

#[utoipa::path(get, path = "/admin/api/v1/messages", tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of matching messages, oldest first", body = MessagePage),
        (status = 400, description = "A filter is not valid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_messages(
    Shared(admin): AdminState,
    _: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<MessagePage>, Problem> {
    let filter = q.filter()?;
    let messages = admin.records.ledger.list(&filter).await?;
    let next_cursor = if messages.len() == filter.limit {
        messages.last().map(|m| m.id)
    } else {
        None
    };
    Ok(Json(MessagePage {
        messages,
        next_cursor,
    }))
}

/// A message with its full history and its trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    #[serde(flatten)]
    pub detail: MessageDetail,
    /// W3C trace id of the message's trace, when tracing recorded one.
    pub trace_id: Option<String>,
    /// The trace in the configured trace UI (`[telemetry] trace_ui`).
    pub trace_url: Option<String>,
}

fn parse_id(raw: &str) -> Result<MessageId, Problem> {
    raw.parse().map_err(|_| {
        Problem::bad_request(
            "the path does not name a message id (a UUID as intake and the listing show it)",
        )
    })
}

#[utoipa::path(get, path = "/admin/api/v1/messages/{id}", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message, its full history and trace", body = MessageView),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_message(
    Shared(admin): AdminState,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, Problem> {
    let id = parse_id(&id)?;
    let detail = admin
        .records
        .ledger
        .get(id)
        .await?
        .ok_or_else(|| Problem::not_found(id))?;
    let trace_id = trace_id(&detail.message);
    let trace_url = trace_id
        .as_deref()
        .and_then(|t| admin.telemetry.trace_url(t));
    Ok(Json(MessageView {
        detail,
        trace_id,
        trace_url,
    }))
}

// ---------------------------------------------------------------------------------------
// Changes

/// A JSON body, or the default when the body is empty; parse errors as problems.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(format!(
            "the request body is not the expected JSON: {}",
            // serde's message names the field and position, never the value.
            e
        ))
    })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayOne {
    /// Also replay a delivered message (the Fachverfahren lost it).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Replayed {
    pub id: MessageId,
    pub route: String,
    pub connector: String,
}

fn replay_problem(e: ReplayError) -> Problem {
    match e {
        ReplayError::NotFound(id) => Problem::not_found(id),
        ReplayError::NotReplayable { id, .. } => Problem::conflict(id, e.to_string()),
        ReplayError::NoRoute(id) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no-route",
            "No route matches the message",
            e.to_string(),
        )
        .about(id),
        ReplayError::Refused { id, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "replay-refused",
            "The message cannot be replayed",
            e.to_string(),
        )
        .about(id),
        ReplayError::Ledger(l) => l.into(),
    }
}

async fn replay_as(
    admin: &Admin,
    caller: &Caller,
    id: MessageId,
    force: bool,
) -> Result<Replayed, Problem> {
    let actor = caller.actor();
    let target = replay(
        &admin.records,
        &admin.router,
        &admin.validator,
        id,
        &actor,
        force,
    )
    .await
    .map_err(replay_problem)?;
    OperatorActed {
        id,
        actor: &actor,
        action: "replayed",
    }
    .emit();
    Ok(Replayed {
        id,
        route: target.route,
        connector: target.connector,
    })
}

#[utoipa::path(post, path = "/admin/api/v1/messages/{id}/replay", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    request_body(content = Option<ReplayOne>, description = "Optional; `{\"force\": true}` replays a delivered message"),
    responses(
        (status = 200, description = "Routed anew and queued", body = Replayed),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not dead or unrouted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Still no route, or the schema check refuses it", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replay_one(
    Shared(admin): AdminState,
    caller: Caller,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Json<Replayed>, Problem> {
    caller.require_operator("replay")?;
    let id = parse_id(&id)?;
    let b: ReplayOne = body(&raw)?;
    Ok(Json(replay_as(&admin, &caller, id, b.force).await?))
}

/// Which messages to replay: a list of ids, or a selection (e.g. all dead letters of one
/// connector). Exactly one of the two.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayMany {
    #[serde(default)]
    pub ids: Vec<MessageId>,
    pub filter: Option<Selection>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotReplayed {
    pub id: MessageId,
    pub problem: Problem,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReport {
    pub replayed: Vec<Replayed>,
    pub failed: Vec<NotReplayed>,
}

#[utoipa::path(post, path = "/admin/api/v1/messages/replay", tag = "admin",
    security(("bearer" = [])),
    request_body = ReplayMany,
    responses(
        (status = 200, description = "What was replayed and what was not, with why", body = ReplayReport),
        (status = 400, description = "Neither or both of ids and filter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is viewer", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replay_many(
    Shared(admin): AdminState,
    caller: Caller,
    raw: Bytes,
) -> Result<Json<ReplayReport>, Problem> {
    caller.require_operator("replay")?;
    let b: ReplayMany = body(&raw)?;
    let ids = match (b.ids.is_empty(), b.filter) {
        (false, None) => b.ids,
        (true, Some(sel)) => {
            let filter = MessageFilter {
                states: if sel.states.is_empty() {
                    vec![State::Dead, State::Unrouted]
                } else {
                    sel.states
                },
                tenant: nonempty(&sel.tenant),
                connector: nonempty(&sel.connector),
                standard: nonempty(&sel.standard),
                received_from: parse_time("received_from", sel.received_from.as_deref())?,
                received_to: parse_time("received_to", sel.received_to.as_deref())?,
                ..Default::default()
            };
            admin
                .records
                .ledger
                .list(&filter)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect()
        }
        _ => {
            return Err(Problem::bad_request(
                "give either `ids` (a list of message ids) or `filter` (e.g. {\"states\": [\"dead\"], \"connector\": \"…\"}), not both and not neither",
            ));
        }
    };
    let mut report = ReplayReport {
        replayed: Vec::new(),
        failed: Vec::new(),
    };
    for id in ids {
        match replay_as(&admin, &caller, id, false).await {
            Ok(r) => report.replayed.push(r),
            Err(problem) => report.failed.push(NotReplayed { id, problem }),
        }
    }
    Ok(Json(report))
}

/// Why an operator closes a message or deletes its payload (goes into the permanent history:
/// write what was done, never what the message says).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

impl Reason {
    fn checked(&self, action: &str) -> Result<&str, Problem> {
        let r = self.reason.trim();
        if r.is_empty() || r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) {
            return Err(Problem::bad_request(format!(
                "to {action} a message, give a `reason` of 1 to {MAX_REASON_CHARS} characters on one line, \
                 saying what was done (it is kept in the message's history)"
            )));
        }
        Ok(r)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Changed {
    pub id: MessageId,
    /// The state the message was in before.
    pub from: State,
    pub state: State,
}

#[utoipa::path(post, path = "/admin/api/v1/messages/{id}/resolve", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    request_body = Reason,
    responses(
        (status = 200, description = "The message is resolved", body = Changed),
        (status = 400, description = "No reason given", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not dead or unrouted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resolve(
    Shared(admin): AdminState,
    caller: Caller,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Json<Changed>, Problem> {
    caller.require_operator("resolve")?;
    let id = parse_id(&id)?;
    let b: Reason = body(&raw)?;
    let reason = b.checked("resolve")?;
    let actor = caller.actor();
    let from = admin
        .records
        .ledger
        .transition(
            id,
            Transition::new(
                State::Resolved,
                &actor,
                format!("resolved by hand: {reason}"),
            ),
        )
        .await
        .map_err(|e| match e {
            crate::ledger::LedgerError::TransitionNotAllowed { from, .. } => Problem::conflict(
                id,
                format!("message {id} is {from}; only dead or unrouted messages can be resolved"),
            ),
            other => other.into(),
        })?;
    OperatorActed {
        id,
        actor: &actor,
        action: "resolved",
    }
    .emit();
    Ok(Json(Changed {
        id,
        from,
        state: State::Resolved,
    }))
}

#[utoipa::path(post, path = "/admin/api/v1/messages/{id}/purge", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    request_body = Reason,
    responses(
        (status = 200, description = "Payload deleted, `purged` recorded", body = Changed),
        (status = 400, description = "No reason given", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role is viewer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still on its way", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn purge(
    Shared(admin): AdminState,
    caller: Caller,
    Path(id): Path<String>,
    raw: Bytes,
) -> Result<Json<Changed>, Problem> {
    caller.require_operator("purge")?;
    let id = parse_id(&id)?;
    let b: Reason = body(&raw)?;
    let reason = b.checked("purge")?;
    let m = admin
        .records
        .ledger
        .get(id)
        .await?
        .ok_or_else(|| Problem::not_found(id))?
        .message;
    let actor = caller.actor();
    purge_payload(
        admin.records.ledger.as_ref(),
        admin.records.payloads.as_ref(),
        &m,
        &actor,
        format!("payload deleted by an operator: {reason}"),
    )
    .await
    .map_err(|e| match e {
        PurgeError::NotPurgeable { .. } => Problem::conflict(id, e.to_string()),
        PurgeError::Payload { .. } => Problem::unavailable(e.to_string()).about(id),
        PurgeError::Ledger(l) => l.into(),
    })?;
    OperatorActed {
        id,
        actor: &actor,
        action: "purged",
    }
    .emit();
    Ok(Json(Changed {
        id,
        from: m.state,
        state: State::Purged,
    }))
}

// ---------------------------------------------------------------------------------------
// Session and documentation

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The token's name.
    pub name: String,
    /// `viewer` or `operator`.
    pub role: String,
}

#[utoipa::path(get, path = "/admin/api/v1/me", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Whose token this is, and its role", body = Me),
        (status = 401, description = "No or unknown token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        name: caller.name,
        role: caller.role.as_str().into(),
    })
}

/// Served without a token: it describes the API, it holds no data.
#[utoipa::path(get, path = "/admin/api/v1/openapi.json", tag = "admin",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json")))]
pub async fn openapi_document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(super::openapi())
}
