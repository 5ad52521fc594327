//! Configuration of the admin API and the console (`[admin]`): who may look at messages and
//! who may change them, and where the trace of a message can be seen.

use super::SecretRef;
use serde::Deserialize;

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer tokens for the admin API and the console (`[[admin.tokens]]`). Without any, every
    /// admin request is refused with 401.
    pub tokens: Vec<AdminTokenConfig>,
    /// Link to a message's trace in the trace UI (Jaeger, Tempo); `{trace_id}` is replaced
    /// by the message's trace id, e.g. `http://localhost:16686/trace/{trace_id}`.
    pub trace_url: Option<String>,
}

/// `[[admin.tokens]]`: one person or tool with access to the admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTokenConfig {
    /// Who holds the token; recorded as `operator:<name>` in the history of what they change.
    pub name: String,
    /// What the holder may do.
    pub role: AdminRole,
    /// The token itself, from a file or an environment variable (at least 16 characters).
    pub token: SecretRef,
}

/// What a token holder may do in the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Read: overview, message lists and details.
    Viewer,
    /// Read, and replay, resolve and purge messages.
    Operator,
}

impl AdminRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Viewer => "viewer",
            AdminRole::Operator => "operator",
        }
    }
}
