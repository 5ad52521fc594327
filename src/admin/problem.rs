//! Errors of the admin API as RFC 9457 problem documents (`application/problem+json`): what
//! went wrong, for which message id, and what to do. Built only from the broker's own words
//! and ids — never payload content.

use crate::ledger::LedgerError;
use crate::message::MessageId;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:amtsbote:problem:<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The message the problem is about, if it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:amtsbote:problem:{kind}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            message_id: None,
        }
    }

    pub fn about(mut self, id: MessageId) -> Problem {
        self.message_id = Some(id);
        self
    }

    pub fn unauthorized(detail: &str) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: String) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed for this role",
            detail,
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is not valid",
            detail,
        )
    }

    pub fn not_found(id: MessageId) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "No such message",
            format!("message {id} is not in the ledger; check the id (GET /admin/api/v1/messages lists them)"),
        )
        .about(id)
    }

    /// The message is in a state that does not allow the action.
    pub fn conflict(id: MessageId, detail: String) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "wrong-state",
            "The message's state does not allow this",
            detail,
        )
        .about(id)
    }

    /// The ledger or the payload store failed; the request can be repeated.
    pub fn unavailable(detail: String) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage-unavailable",
            "Storage is unavailable",
            format!("{detail}; nothing was changed by this request, try again"),
        )
    }
}

impl From<LedgerError> for Problem {
    fn from(e: LedgerError) -> Problem {
        match e {
            LedgerError::NotFound(id) => Problem::not_found(id),
            LedgerError::TransitionNotAllowed { id, from, to } => Problem::conflict(
                id,
                format!("message {id} is {from}; the ledger does not allow {from} -> {to}"),
            ),
            LedgerError::ChainBroken { id, .. } => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "chain-broken",
                "The message's history was modified",
                e.to_string(),
            )
            .about(id),
            LedgerError::Storage(_) => Problem::unavailable(e.to_string()),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(&self)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            "application/problem+json".parse().expect("valid header"),
        );
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                r#"Bearer realm="amtsbote admin""#.parse().expect("valid header"),
            );
        }
        resp
    }
}
