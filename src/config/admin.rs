//! Configuration of the admin API and the console (`[admin]`): who may look at messages and
//! who may change them. (The link to a message's trace is `telemetry.trace_ui`.)

use super::SecretRef;
use serde::Deserialize;

/// `[admin]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer tokens for the admin API and the console (`[[admin.tokens]]`). Without any, every
    /// admin request is refused with 401.
    pub tokens: Vec<AdminTokenConfig>,
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
