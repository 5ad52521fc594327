//! Errors of the Submission API client, split the way retry decisions need them:
//! [`ClientError::is_transient`] is true for 5xx answers and connection failures (retried with
//! backoff), false for everything the caller must fix or report (4xx problems, bad credentials,
//! undecryptable content). Messages name the operation and status, never secrets or payload.

use thiserror::Error;

use crate::jose::JoseError;
use crate::wire::ProblemDocument;

/// What went wrong talking to the Submission API.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The API answered with an RFC 7807 problem document.
    #[error("{operation}: the Submission API answered {status} with problem {}: {}{}", problem.problem_type, problem.title, problem.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Problem {
        /// What we were doing.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// The problem document.
        problem: ProblemDocument,
    },
    /// The API answered with an error status and no problem document.
    #[error("{operation}: the Submission API answered HTTP {status}")]
    Status {
        /// What we were doing.
        operation: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// The token endpoint refused our client credentials.
    #[error(
        "the OAuth token endpoint refused the client credentials (HTTP {status}, {error}); check client id and secret in the Self-Service-Portal"
    )]
    Auth {
        /// HTTP status.
        status: u16,
        /// OAuth error code.
        error: String,
    },
    /// Connection failure or timeout.
    #[error("{operation}: could not reach the Submission API ({source})")]
    Transport {
        /// What we were doing.
        operation: &'static str,
        /// The underlying error (contains the URL, never credentials).
        #[source]
        source: reqwest::Error,
    },
    /// No response within the configured request timeout.
    #[error("{operation}: no answer from the Submission API within the request timeout")]
    Timeout {
        /// What we were doing.
        operation: &'static str,
    },
    /// The answer did not have the expected shape.
    #[error("{operation}: unexpected answer: {reason}")]
    Decode {
        /// What we were doing.
        operation: &'static str,
        /// What was wrong (no content quoted).
        reason: String,
    },
    /// Key or JOSE failure in a client-side step.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// Writing a download to the caller's sink failed.
    #[error("writing to the output failed")]
    Sink(#[source] std::io::Error),
}

impl ClientError {
    /// Worth retrying later: 5xx answers and connection failures.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Problem { status, .. } | ClientError::Status { status, .. } => {
                *status >= 500
            }
            ClientError::Auth { status, .. } => *status >= 500,
            ClientError::Transport { source, .. } => !source.is_builder() && !source.is_decode(),
            ClientError::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The opposite of [`is_transient`](Self::is_transient).
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }

    /// HTTP status, if the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Problem { status, .. }
            | ClientError::Status { status, .. }
            | ClientError::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem type URI, if the API sent a problem document.
    pub fn problem_type(&self) -> Option<&str> {
        match self {
            ClientError::Problem { problem, .. } => Some(&problem.problem_type),
            _ => None,
        }
    }
}
