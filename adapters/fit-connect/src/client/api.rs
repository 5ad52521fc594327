//! Where things are on the Submission API, per API version — the only place that knows paths.
//! The sandbox mounts its routes from the same templates, so client and sandbox cannot drift.
//!
//! v2 (`/submission-api/v2/…`, `publicService` instead of `serviceType`, metadata 2.x) is to be
//! added as another [`ApiVersion`] variant with its own [`Paths`] and wire types; nothing in the
//! v1 code paths needs to change for that.

/// A Submission API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ApiVersion {
    /// API v1 (`/v1/…`).
    #[default]
    V1,
}

/// Route templates (axum syntax: `{name}` placeholders) of one API version.
#[derive(Debug, Clone, Copy)]
pub struct Paths {
    /// List (subscriber) / create (sender) submissions.
    pub submissions: &'static str,
    /// One submission: fetch (subscriber) / submit (sender).
    pub submission: &'static str,
    /// One attachment: download (subscriber) / upload (sender).
    pub attachment: &'static str,
    /// A case's event log: read / post a SET.
    pub case_events: &'static str,
    /// Destination information.
    pub destination: &'static str,
    /// A destination's public key by kid.
    pub destination_key: &'static str,
    /// The Zustelldienst's own public signing keys.
    pub jwks: &'static str,
}

/// API v1 paths (from FITKO's documentation, see PROTOCOLS.md).
pub const V1_PATHS: Paths = Paths {
    submissions: "/v1/submissions",
    submission: "/v1/submissions/{submissionId}",
    attachment: "/v1/submissions/{submissionId}/attachments/{attachmentId}",
    case_events: "/v1/cases/{caseId}/events",
    destination: "/v1/destinations/{destinationId}",
    destination_key: "/v1/destinations/{destinationId}/keys/{kid}",
    jwks: "/.well-known/jwks.json",
};

impl ApiVersion {
    /// The route templates of this version.
    pub fn paths(self) -> &'static Paths {
        match self {
            ApiVersion::V1 => &V1_PATHS,
        }
    }
}

/// Fills `{name}` placeholders with percent-encoded values.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), &encode_segment(value));
    }
    out
}

fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_encodes() {
        assert_eq!(
            fill(
                V1_PATHS.attachment,
                &[("submissionId", "a b"), ("attachmentId", "x/y")]
            ),
            "/v1/submissions/a%20b/attachments/x%2Fy"
        );
    }
}
