//! Every error the sandbox answers is an RFC 7807 problem document (`application/problem+json`)
//! with a type URI under `https://schema.fitko.de/fit-connect/submission-api/problems/`. The
//! names used here are *unverified* against FITKO's list except `destination-not-found` and
//! `destination-state-invalid`, which public client code handles.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::wire::{CONTENT_TYPE_PROBLEM, ProblemDocument, SUBMISSION_API_PROBLEM_PREFIX};

/// A problem the sandbox answers with.
#[derive(Debug)]
pub(crate) struct ApiProblem {
    status: StatusCode,
    name: &'static str,
    title: &'static str,
    detail: String,
}

impl ApiProblem {
    pub(crate) fn new(
        status: StatusCode,
        name: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiProblem {
            status,
            name,
            title,
            detail: detail.into(),
        }
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    pub(crate) fn submission_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "submission-not-found",
            "Submission not found",
            format!("no submission {id} visible to this client"),
        )
    }

    pub(crate) fn conflict(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            name,
            "Conflict with the submission's state",
            detail,
        )
    }

    pub(crate) fn unprocessable(
        name: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, name, title, detail)
    }

    pub(crate) fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("Content-Type must be {expected}"),
        )
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "Service unavailable",
            "the sandbox Zustelldienst is down (fault injection)",
        )
    }
}

impl IntoResponse for ApiProblem {
    fn into_response(self) -> Response {
        let doc = ProblemDocument {
            problem_type: format!("{SUBMISSION_API_PROBLEM_PREFIX}{}", self.name),
            title: self.title.to_string(),
            status: Some(self.status.as_u16()),
            detail: Some(self.detail),
            instance: None,
        };
        let mut response = (
            self.status,
            serde_json::to_vec(&doc).expect("problem serializes"),
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE_PROBLEM),
        );
        response
    }
}
