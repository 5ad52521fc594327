//! Verifying a received submission before intake: decrypt metadata and data, validate the
//! metadata against FITKO's metadata JSON Schema (bundled, v1.0.0), check the SHA-512 hashes the
//! metadata states for data and attachments, check that announced, described and uploaded
//! attachments are the same set, and — where the Zustelldienst's submit event carries them —
//! that the authentication tags match. Every failure becomes a [`Problem`] with the right type
//! and `instance`, ready for `reject-submission`; success yields the authentication tags for
//! `accept-submission`.
//!
//! Attachments are decrypted by the caller beforehand, streamed to its payload store
//! ([`decrypt_attachment`], or the client's `decrypt_attachment_into`), and passed in as
//! [`AttachmentResult`]s (hash and tag only), so nothing large is held here.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::OnceLock;

use openssl::sha::Sha512;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::events::{self, AuthenticationTags, Event, Problem, ProblemInstance, ProblemType};
use crate::jose::{DecryptOptions, JoseError, PrivateKey, PublicKey, StreamDecryptor, jwe, jws};
use crate::wire::{Submission, SubmissionSchema};

/// `$id` of the bundled metadata schema.
pub const METADATA_SCHEMA_V1_0_0: &str =
    "https://schema.fitko.de/fit-connect/metadata/1.0.0/metadata.schema.json";
const METADATA_SCHEMA_PREFIX: &str = "https://schema.fitko.de/fit-connect/metadata/";
const METADATA_SCHEMA_TEXT: &str = include_str!("../schemas/metadata.schema.v1.0.0.json");

/// The FIT-Connect metadata schema, compiled once.
pub struct MetadataSchema {
    validator: jsonschema::Validator,
}

impl MetadataSchema {
    /// The bundled v1.0.0 schema (formats such as `uuid`, `uri`, `email` are checked).
    pub fn v1_0_0() -> &'static MetadataSchema {
        static SCHEMA: OnceLock<MetadataSchema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let schema: Value =
                serde_json::from_str(METADATA_SCHEMA_TEXT).expect("bundled schema is JSON");
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .expect("bundled schema compiles");
            MetadataSchema { validator }
        })
    }

    /// Validates `metadata`; on failure returns the violations as "instance path: schema
    /// keyword path" — locations only, never the offending values (they may be personal data).
    pub fn validate(&self, metadata: &Value) -> Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(metadata)
            .map(|e| {
                let at = e.instance_path.to_string();
                format!(
                    "{} violates {}",
                    if at.is_empty() { "/".to_string() } else { at },
                    e.schema_path
                )
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A `Write` adapter that hashes (SHA-512) and counts what passes through.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha512,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha512::new(),
            bytes: 0,
        }
    }

    /// Hex digest and byte count; returns the inner writer.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finish()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// hex(SHA-512(bytes)), as FIT-Connect metadata states hashes.
pub fn sha512_hex(bytes: &[u8]) -> String {
    let mut h = Sha512::new();
    h.update(bytes);
    hex::encode(h.finish())
}

/// An attachment that was decrypted (and stored) by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    /// Attachment id.
    pub attachment_id: String,
    /// hex(SHA-512) of the plaintext.
    pub sha512_hex: String,
    /// Authentication tag of its JWE.
    pub authentication_tag: String,
    /// Plaintext size.
    pub size: u64,
}

/// The outcome of decrypting one attachment.
#[derive(Debug)]
pub struct AttachmentResult {
    /// Attachment id.
    pub attachment_id: String,
    /// Decrypted, or why not.
    pub outcome: Result<ReceivedAttachment, JoseError>,
}

/// Decrypts one attachment JWE from `reader` into `writer`, hashing the plaintext on the way.
/// On error, discard what reached `writer`.
pub fn decrypt_attachment<R: Read, W: Write>(
    attachment_id: &str,
    mut reader: R,
    writer: W,
    keys: &[PrivateKey],
    opts: &DecryptOptions,
) -> AttachmentResult {
    let outcome = (|| {
        let mut out = HashingWriter::new(writer);
        let mut d = StreamDecryptor::new(keys, *opts);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            d.update(&buf[..n], &mut out)?;
        }
        let info = d.finish(&mut out)?;
        out.flush()?;
        let (_, sha512_hex, size) = out.finish();
        Ok(ReceivedAttachment {
            attachment_id: attachment_id.to_string(),
            sha512_hex,
            authentication_tag: info.authentication_tag,
            size,
        })
    })();
    AttachmentResult {
        attachment_id: attachment_id.to_string(),
        outcome,
    }
}

/// What [`verify_submission`] needs.
pub struct SubmissionInput<'a> {
    /// The submission as fetched (`GET /v1/submissions/{id}`).
    pub submission: &'a Submission,
    /// The destination's decryption keys.
    pub keys: &'a [PrivateKey],
    /// One entry per attachment the caller fetched and decrypted (normally every id in
    /// `submission.attachments`).
    pub attachments: Vec<AttachmentResult>,
    /// Tags from the Zustelldienst's `submit-submission` event, if it carries them.
    pub submit_event_tags: Option<&'a AuthenticationTags>,
    /// Limits for metadata and data decryption.
    pub decrypt_options: DecryptOptions,
}

/// How an attachment is described in the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentDescription {
    /// Attachment id.
    pub attachment_id: String,
    /// MIME type.
    pub mime_type: String,
    /// `form`, `attachment` or `report`.
    pub purpose: String,
    /// Original file name.
    #[serde(default)]
    pub filename: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A submission that passed every check.
#[derive(Clone)]
pub struct VerifiedSubmission {
    /// The decrypted metadata.
    pub metadata: Value,
    /// The decrypted data (Fachdaten), if any.
    pub data: Option<Vec<u8>>,
    /// The data's schema reference from the metadata.
    pub data_schema: Option<SubmissionSchema>,
    /// LeiKa identifier from the metadata's `publicServiceType` (or the submission's).
    pub service_identifier: String,
    /// Attachments as the metadata describes them.
    pub attachments: Vec<AttachmentDescription>,
    /// The tags for `accept-submission`.
    pub authentication_tags: AuthenticationTags,
}

impl std::fmt::Debug for VerifiedSubmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedSubmission")
            .field("data_len", &self.data.as_ref().map(Vec::len))
            .field("data_schema", &self.data_schema)
            .field("service_identifier", &self.service_identifier)
            .field("attachments", &self.attachments.len())
            .finish_non_exhaustive()
    }
}

/// A submission that failed; `problems` go into `reject-submission`.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// At least one problem.
    pub problems: Vec<Problem>,
}

fn problem(t: ProblemType, at: ProblemInstance, detail: impl Into<String>) -> Problem {
    Problem::new(t, at, detail)
}

fn jose_detail(what: &str, e: &JoseError) -> String {
    format!("{what} could not be decrypted: {e}")
}

/// Runs every check and returns either the verified submission or all problems found.
pub fn verify_submission(input: SubmissionInput<'_>) -> Result<VerifiedSubmission, Rejection> {
    let reject = |problems: Vec<Problem>| Err(Rejection { problems });
    let sub = input.submission;

    // Metadata: without it nothing else can be checked.
    let Some(encrypted_metadata) = sub.encrypted_metadata.as_deref() else {
        return reject(vec![problem(
            ProblemType::SyntaxViolation,
            ProblemInstance::Metadata,
            "the submission carries no encryptedMetadata",
        )]);
    };
    let metadata_jwe = match jwe::decrypt(
        encrypted_metadata.as_bytes(),
        input.keys,
        &input.decrypt_options,
    ) {
        Ok(d) => d,
        Err(e) => {
            return reject(vec![problem(
                ProblemType::EncryptionIssue,
                ProblemInstance::Metadata,
                jose_detail("metadata", &e),
            )]);
        }
    };
    let metadata: Value = match serde_json::from_slice(&metadata_jwe.plaintext) {
        Ok(v) => v,
        Err(e) => {
            return reject(vec![problem(
                ProblemType::SyntaxViolation,
                ProblemInstance::Metadata,
                format!(
                    "metadata is not JSON (line {} column {})",
                    e.line(),
                    e.column()
                ),
            )]);
        }
    };
    if let Some(schema) = metadata.get("$schema") {
        let schema = schema.as_str().unwrap_or_default();
        if schema != METADATA_SCHEMA_V1_0_0 {
            let t = if schema.starts_with(METADATA_SCHEMA_PREFIX) {
                ProblemType::UnsupportedSchema
            } else {
                ProblemType::SchemaViolation
            };
            return reject(vec![problem(
                t,
                ProblemInstance::Metadata,
                format!(
                    "metadata $schema {schema:?} is not supported (supported: {METADATA_SCHEMA_V1_0_0})"
                ),
            )]);
        }
    }
    if let Err(violations) = MetadataSchema::v1_0_0().validate(&metadata) {
        return reject(vec![problem(
            ProblemType::SchemaViolation,
            ProblemInstance::Metadata,
            format!(
                "metadata violates the metadata schema 1.0.0: {}",
                violations.join("; ")
            ),
        )]);
    }
    // Schema-valid from here on: the structure below is guaranteed where it is required.
    let mut problems = Vec::new();
    let content = &metadata["contentStructure"];

    let service_identifier = match metadata
        .pointer("/publicServiceType/identifier")
        .and_then(Value::as_str)
    {
        Some(id) if id != sub.service_type.identifier => {
            problems.push(problem(
                ProblemType::ServiceMismatch,
                ProblemInstance::Metadata,
                format!(
                    "metadata names service {id}, the submission was announced for {}",
                    sub.service_type.identifier
                ),
            ));
            id.to_string()
        }
        Some(id) => id.to_string(),
        None => sub.service_type.identifier.clone(),
    };

    // Data.
    let data_description = content.get("data");
    let data_schema = data_description
        .and_then(|d| d.get("submissionSchema"))
        .and_then(|s| serde_json::from_value::<SubmissionSchema>(s.clone()).ok());
    let mut data = None;
    let mut data_tag = None;
    match (sub.encrypted_data.as_deref(), data_description) {
        (Some(encrypted), description) => {
            match jwe::decrypt(encrypted.as_bytes(), input.keys, &input.decrypt_options) {
                Err(e) => problems.push(problem(
                    ProblemType::EncryptionIssue,
                    ProblemInstance::Data,
                    jose_detail("data", &e),
                )),
                Ok(d) => {
                    data_tag = Some(d.info.authentication_tag.clone());
                    match description {
                        None => problems.push(problem(
                            ProblemType::MissingSchema,
                            ProblemInstance::Data,
                            "the submission carries data, but the metadata describes none (contentStructure.data)",
                        )),
                        Some(desc) => {
                            let stated = desc["hash"]["content"].as_str().unwrap_or_default();
                            let actual = sha512_hex(&d.plaintext);
                            if !stated.eq_ignore_ascii_case(&actual) {
                                problems.push(problem(
                                    ProblemType::HashMismatch,
                                    ProblemInstance::Data,
                                    "the SHA-512 hash of the decrypted data does not match contentStructure.data.hash",
                                ));
                            }
                        }
                    }
                    data = Some(d.plaintext);
                }
            }
        }
        (None, Some(_)) => problems.push(problem(
            ProblemType::HashMismatch,
            ProblemInstance::Data,
            "the metadata describes data (contentStructure.data), but the submission carries none",
        )),
        (None, None) => {}
    }

    // Attachments: announced (Zustelldienst), described (metadata), received (caller).
    let described: Vec<AttachmentDescription> = content["attachments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| serde_json::from_value(v.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    let announced: BTreeSet<&str> = sub.attachments.iter().map(String::as_str).collect();
    let described_ids: BTreeSet<&str> =
        described.iter().map(|d| d.attachment_id.as_str()).collect();
    let received_ids: BTreeSet<&str> = input
        .attachments
        .iter()
        .map(|a| a.attachment_id.as_str())
        .collect();
    if announced != described_ids || announced != received_ids {
        let all: BTreeSet<&str> = announced
            .iter()
            .chain(&described_ids)
            .chain(&received_ids)
            .copied()
            .collect();
        let odd: Vec<String> = all
            .into_iter()
            .filter(|id| {
                !(announced.contains(id) && described_ids.contains(id) && received_ids.contains(id))
            })
            .map(|id| {
                format!(
                    "{id} (announced: {}, in metadata: {}, received: {})",
                    yes(announced.contains(id)),
                    yes(described_ids.contains(id)),
                    yes(received_ids.contains(id))
                )
            })
            .collect();
        problems.push(problem(
            ProblemType::AttachmentsMismatch,
            ProblemInstance::Metadata,
            format!(
                "announced, described and received attachments differ: {}",
                odd.join(", ")
            ),
        ));
    }
    let mut attachment_tags = std::collections::BTreeMap::new();
    for result in &input.attachments {
        let at = ProblemInstance::Attachment(result.attachment_id.clone());
        match &result.outcome {
            Err(e) => problems.push(problem(
                ProblemType::EncryptionIssue,
                at,
                jose_detail("attachment", e),
            )),
            Ok(received) => {
                attachment_tags.insert(
                    received.attachment_id.clone(),
                    received.authentication_tag.clone(),
                );
                if let Some(desc) = content["attachments"].as_array().and_then(|a| {
                    a.iter()
                        .find(|d| d["attachmentId"] == received.attachment_id.as_str())
                }) {
                    let stated = desc["hash"]["content"].as_str().unwrap_or_default();
                    if !stated.eq_ignore_ascii_case(&received.sha512_hex) {
                        problems.push(problem(
                            ProblemType::HashMismatch,
                            at,
                            "the SHA-512 hash of the decrypted attachment does not match its hash in the metadata",
                        ));
                    }
                }
            }
        }
    }

    let tags = AuthenticationTags {
        metadata: metadata_jwe.info.authentication_tag.clone(),
        data: data_tag,
        attachments: attachment_tags,
    };
    if let Some(expected) = input.submit_event_tags {
        if expected.metadata != tags.metadata {
            problems.push(problem(
                ProblemType::IncorrectAuthenticationTag,
                ProblemInstance::Metadata,
                "the metadata JWE's tag differs from the tag in the submit event",
            ));
        }
        if expected.data.is_some() && tags.data.is_some() && expected.data != tags.data {
            problems.push(problem(
                ProblemType::IncorrectAuthenticationTag,
                ProblemInstance::Data,
                "the data JWE's tag differs from the tag in the submit event",
            ));
        }
        for (id, tag) in &tags.attachments {
            if expected.attachments.get(id).is_some_and(|t| t != tag) {
                problems.push(problem(
                    ProblemType::IncorrectAuthenticationTag,
                    ProblemInstance::Attachment(id.clone()),
                    "the attachment JWE's tag differs from the tag in the submit event",
                ));
            }
        }
    }

    if !problems.is_empty() {
        return reject(problems);
    }
    Ok(VerifiedSubmission {
        metadata,
        data,
        data_schema,
        service_identifier,
        attachments: described,
        authentication_tags: tags,
    })
}

/// Finds the Zustelldienst's `submit-submission` event for `submission_id` in a case's event
/// log, verified with the Zustelldienst's own keys (`/.well-known/jwks.json`), and returns the
/// authentication tags it carries (if any) for [`SubmissionInput::submit_event_tags`]. SETs
/// signed by other keys (the subscriber's own answers) are skipped. A missing submit event, or
/// one that does not verify, is an `invalid-event-log` problem (`instance: metadata`; the
/// instance FITKO expects here is *unverified*).
pub fn submit_event_tags(
    event_log: &[String],
    zustelldienst_keys: &[PublicKey],
    submission_id: &str,
) -> Result<Option<AuthenticationTags>, Problem> {
    let invalid = |detail: String| {
        problem(
            ProblemType::InvalidEventLog,
            ProblemInstance::Metadata,
            detail,
        )
    };
    for token in event_log {
        let Ok(header) = jws::peek_header(token) else {
            continue;
        };
        let Some(key) = zustelldienst_keys
            .iter()
            .find(|k| k.kid().is_some() && k.kid() == header.kid.as_deref())
        else {
            continue;
        };
        let set = events::verify_set(token, key).map_err(|e| {
            invalid(format!(
                "an event signed with the Zustelldienst's key {:?} does not verify: {e}",
                header.kid
            ))
        })?;
        if set.claims.submission_id() != Some(submission_id) {
            continue;
        }
        if let Event::Submit {
            authentication_tags,
        } = set.event
        {
            return Ok(authentication_tags);
        }
    }
    Err(invalid(format!(
        "the case's event log holds no verifiable submit-submission event for submission {submission_id}"
    )))
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_schema_accepts_minimal_and_reports_paths_only() {
        let ok = serde_json::json!({"contentStructure": {"attachments": []}});
        MetadataSchema::v1_0_0().validate(&ok).unwrap();
        let bad = serde_json::json!({"contentStructure": {"attachments": [{
            "attachmentId": "not-a-uuid-but-long-enough-to-pass-length",
            "hash": {"type": "sha512", "content": "Max Mustermann"},
            "mimeType": "application/pdf", "purpose": "attachment"}]}});
        let errs = MetadataSchema::v1_0_0().validate(&bad).unwrap_err();
        let joined = errs.join("\n");
        assert!(
            joined.contains("/contentStructure/attachments/0/hash/content"),
            "{joined}"
        );
        assert!(!joined.contains("Mustermann"), "{joined}");
    }

    #[test]
    fn sha512_hex_known_value() {
        assert_eq!(
            sha512_hex(b"abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
    }
}
