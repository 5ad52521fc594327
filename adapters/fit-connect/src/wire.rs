//! The JSON shapes of the FIT-Connect Submission API v1, shared by the [`client`](crate::client)
//! and the [`sandbox`](crate::sandbox) so both speak the same wire format. Field names follow
//! FITKO's v1 API as documented in `PROTOCOLS.md`; shapes marked *unverified* there are marked
//! here too. Deserialization ignores unknown fields (the real API adds fields over time).
//!
//! Identifiers are kept as `String`: they are UUIDs on the real API, but a subscriber must not
//! fail to list its submissions because one id is oddly formatted.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jose::Jwk;

/// OAuth2 token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds (FIT-Connect: about 1800).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Granted scopes (informational; we never request any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// OAuth2 error response (RFC 6749 §5.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthError {
    /// Error code (`invalid_client`, …).
    pub error: String,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The kind of administrative service (v1 `serviceType`; v2 calls it `publicService`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServiceType {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// LeiKa Leistungsschlüssel URN, `urn:de:fim:leika:leistung:<14 digits>`.
    pub identifier: String,
}

/// A submission as the list endpoint and the callback name it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRef {
    /// The destination (Zustellpunkt).
    pub destination_id: String,
    /// The submission.
    pub submission_id: String,
    /// The case (Vorgang) the submission belongs to; its event log is keyed by this.
    pub case_id: String,
}

/// `POST /v1/submissions` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubmission {
    /// Target destination.
    pub destination_id: String,
    /// Attachment ids (UUIDs chosen by the sender) that will be uploaded before submit.
    #[serde(default)]
    pub announced_attachments: Vec<String>,
    /// The service.
    pub service_type: ServiceType,
    /// Existing case to add this submission to (*unverified* in v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
}

/// `PUT /v1/submissions/{id}` request: the encrypted metadata and data.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitSubmission {
    /// Metadata JWE.
    pub encrypted_metadata: String,
    /// Data (Fachdaten) JWE; optional in v1 (a submission may carry attachments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_data: Option<String>,
}

/// `GET /v1/submissions` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionList {
    /// Entries on this page.
    pub count: u64,
    /// Offset of this page.
    pub offset: u64,
    /// Entries in total.
    pub total_count: u64,
    /// The page.
    pub submissions: Vec<SubmissionRef>,
}

/// `GET /v1/submissions/{id}` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    /// Destination.
    pub destination_id: String,
    /// Submission.
    pub submission_id: String,
    /// Case.
    pub case_id: String,
    /// Service type as the sender announced it (compare with the metadata: `service-mismatch`).
    pub service_type: ServiceType,
    /// Ids of the attachments the sender announced (and uploaded).
    #[serde(default)]
    pub attachments: Vec<String>,
    /// Metadata JWE.
    #[serde(default)]
    pub encrypted_metadata: Option<String>,
    /// Data JWE.
    #[serde(default)]
    pub encrypted_data: Option<String>,
}

/// `GET /v1/cases/{caseId}/events` response: the case's SETs in order (paged with `offset` and
/// `limit`, at most 500 per page).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLog {
    /// Compact JWS strings.
    pub event_log: Vec<String>,
}

/// A data schema a destination accepts for a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionSchema {
    /// Schema URI (XSD namespace/URL or JSON Schema `$id`).
    pub schema_uri: String,
    /// `application/xml` or `application/json`.
    pub mime_type: String,
}

/// A service a destination accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DestinationService {
    /// LeiKa URN.
    pub identifier: String,
    /// Accepted data schemas.
    #[serde(default)]
    pub submission_schemas: Vec<SubmissionSchema>,
    /// Regions (AGS/ARS keys) served.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// `GET /v1/destinations/{id}` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// Destination id.
    pub destination_id: String,
    /// `created`, `active`, `inactive`, `archived`; only `active` accepts submissions.
    pub status: String,
    /// Services accepted.
    #[serde(default)]
    pub services: Vec<DestinationService>,
    /// kid of the public encryption key (`GET …/keys/{kid}`).
    pub encryption_kid: String,
    /// Metadata schema versions the destination understands (e.g. `1.0.0`).
    #[serde(default)]
    pub metadata_versions: Vec<String>,
    /// Reply channels offered (shape not interpreted here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_channels: Option<Value>,
}

/// A JSON Web Key Set (`/.well-known/jwks.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwks {
    /// Public keys.
    pub keys: Vec<Jwk>,
}

/// An RFC 7807 problem document (`application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProblemDocument {
    /// Problem type URI, e.g. `https://schema.fitko.de/fit-connect/submission-api/problems/…`.
    #[serde(rename = "type", default = "about_blank")]
    pub problem_type: String,
    /// Short summary.
    #[serde(default)]
    pub title: String,
    /// HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The occurrence's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

fn about_blank() -> String {
    "about:blank".to_string()
}

/// Prefix of the Submission API's own problem type URIs.
pub const SUBMISSION_API_PROBLEM_PREFIX: &str =
    "https://schema.fitko.de/fit-connect/submission-api/problems/";

/// The callback body's `type`.
pub const CALLBACK_TYPE_NEW_SUBMISSIONS: &str =
    "https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions";

/// Body of a callback `POST` to the subscriber.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallbackNotification {
    /// [`CALLBACK_TYPE_NEW_SUBMISSIONS`].
    #[serde(rename = "type")]
    pub notification_type: String,
    /// The new submissions.
    pub submissions: Vec<SubmissionRef>,
}

/// Media type of compact JOSE bodies.
pub const CONTENT_TYPE_JOSE: &str = "application/jose";
/// Media type of problem documents.
pub const CONTENT_TYPE_PROBLEM: &str = "application/problem+json";
