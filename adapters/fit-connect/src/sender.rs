//! The sender side, as an online service does it: read the destination and its public
//! encryption key (RSA-4096, `wrapKey`), announce the submission with its attachment ids,
//! encrypt and upload every attachment, encrypt the metadata (with the SHA-512 hashes of data and
//! attachments) and the data, submit. Used by the demo, by `amtsbote sandbox submit`, and by
//! tests — which is why [`Fault`] can break a submission on purpose (wrong hash, wrong key,
//! corrupted JWE, schema violation, …) to see that the subscriber rejects it correctly.

use bytes::Bytes;
use serde_json::{Value, json};
use thiserror::Error;

use crate::client::{ClientError, SubmissionClient};
use crate::jose::{EncryptOptions, JoseError, KeyUse, PublicKey, jwe};
use crate::verification::sha512_hex;
use crate::wire::{CreateSubmission, ServiceType, SubmitSubmission};

/// An attachment to send.
#[derive(Clone)]
pub struct OutgoingAttachment {
    /// The plaintext.
    pub content: Vec<u8>,
    /// MIME type, e.g. `application/pdf`.
    pub mime_type: String,
    /// `form`, `attachment` or `report`.
    pub purpose: String,
    /// Original file name.
    pub filename: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl std::fmt::Debug for OutgoingAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingAttachment")
            .field("len", &self.content.len())
            .field("mime_type", &self.mime_type)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl OutgoingAttachment {
    /// A citizen-uploaded attachment (`purpose: attachment`).
    pub fn new(content: Vec<u8>, mime_type: impl Into<String>, filename: Option<String>) -> Self {
        OutgoingAttachment {
            content,
            mime_type: mime_type.into(),
            purpose: "attachment".into(),
            filename,
            description: None,
        }
    }
}

/// What the online service submits.
#[derive(Clone)]
pub struct Application {
    /// Destination (Zustellpunkt).
    pub destination_id: String,
    /// Service (LeiKa identifier and name).
    pub service_type: ServiceType,
    /// The data (Fachdaten), e.g. an XÖV message.
    pub data: Vec<u8>,
    /// `application/xml` or `application/json`.
    pub data_mime_type: String,
    /// The data's schema URI.
    pub data_schema_uri: String,
    /// Attachments.
    pub attachments: Vec<OutgoingAttachment>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("destination_id", &self.destination_id)
            .field("service_type", &self.service_type)
            .field("data_len", &self.data.len())
            .field("attachments", &self.attachments)
            .finish_non_exhaustive()
    }
}

/// A deliberate defect, for tests of the subscriber's verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The metadata states a wrong hash for the data → `hash-mismatch` at `data`.
    WrongDataHash,
    /// The metadata states a wrong hash for attachment *n* → `hash-mismatch` at `attachment:<id>`.
    WrongAttachmentHash(usize),
    /// Everything is encrypted for another key (but names the destination's kid) →
    /// `encryption-issue` at `metadata`.
    WrongKey,
    /// The metadata JWE's ciphertext is altered → `encryption-issue` at `metadata`.
    CorruptMetadata,
    /// The data JWE's ciphertext is altered → `encryption-issue` at `data`.
    CorruptData,
    /// Attachment *n*'s JWE ciphertext is altered → `encryption-issue` at `attachment:<id>`.
    CorruptAttachment(usize),
    /// The metadata violates the metadata schema (`hash.type: md5`) → `schema-violation`.
    MetadataSchemaViolation,
    /// Attachment *n* is uploaded but not described in the metadata → `attachments-mismatch`.
    AttachmentMissingFromMetadata(usize),
    /// The metadata names another service than the one announced → `service-mismatch`.
    ServiceMismatch,
}

/// How to send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Compress every JWE (`zip: DEF`), as some senders do.
    pub compress: bool,
    /// Break the submission on purpose.
    pub fault: Option<Fault>,
    /// How the JWE headers name the destination's key.
    pub kid: KidStyle,
}

/// How a sender names the encryption key in the JWE `kid`. FIT-Connect's SDKs use the kid the
/// destination published; senders built on general JOSE libraries often use the key's RFC 7638
/// thumbprint, or no kid at all. A subscriber must read all three.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KidStyle {
    /// The destination's published `kid`.
    #[default]
    Destination,
    /// The RFC 7638 SHA-256 thumbprint of the destination's public key.
    Thumbprint,
    /// No `kid` header.
    Omitted,
}

/// What was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSubmission {
    /// Destination.
    pub destination_id: String,
    /// Submission id.
    pub submission_id: String,
    /// Case id.
    pub case_id: String,
    /// Attachment ids, in the order of [`Application::attachments`].
    pub attachment_ids: Vec<String>,
}

/// Why sending failed.
#[derive(Debug, Error)]
pub enum SendError {
    /// The Submission API refused or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The destination's key is unusable (not RSA-4096, no `wrapKey`).
    #[error("the destination's encryption key is unusable: {0}")]
    Key(#[source] JoseError),
    /// The destination does not accept submissions.
    #[error("destination {destination_id} is {status}, not active")]
    DestinationInactive {
        /// Destination.
        destination_id: String,
        /// Its status.
        status: String,
    },
}

/// Sends `app` through `client` (a sender API client).
pub async fn send(
    client: &SubmissionClient,
    app: &Application,
    options: &SendOptions,
) -> Result<SentSubmission, SendError> {
    let destination = client.destination(&app.destination_id).await?;
    if destination.status != "active" {
        return Err(SendError::DestinationInactive {
            destination_id: destination.destination_id,
            status: destination.status,
        });
    }
    let jwk = client
        .destination_key(&app.destination_id, &destination.encryption_kid)
        .await?;
    let key = PublicKey::from_jwk(&jwk).map_err(SendError::Key)?;
    key.check_destination_key(KeyUse::Encryption)
        .map_err(SendError::Key)?;
    let (key, kid_override) = if options.fault == Some(Fault::WrongKey) {
        // Another key, claiming the destination's kid. 2048 bits: only the key differs, and
        // generation is fast.
        let pair = crate::jose::keys::generate_key_pair(2048, "impostor", KeyUse::Encryption)
            .map_err(SendError::Key)?;
        (
            PublicKey::from_jwk(&pair.public).map_err(SendError::Key)?,
            Some(destination.encryption_kid.clone()),
        )
    } else {
        let kid = match options.kid {
            KidStyle::Thumbprint => Some(jwk.thumbprint()),
            KidStyle::Destination | KidStyle::Omitted => None,
        };
        (key, kid)
    };
    let omit_kid = options.kid == KidStyle::Omitted && options.fault != Some(Fault::WrongKey);
    let encrypt =
        |plaintext: &[u8], cty: Option<&str>, corrupt: bool| -> Result<String, JoseError> {
            let opts = EncryptOptions {
                cty: cty.map(str::to_string),
                compress: options.compress,
                kid_override: kid_override.clone(),
                omit_kid,
            };
            let compact = jwe::encrypt(plaintext, &key, &opts)?;
            Ok(if corrupt {
                corrupt_ciphertext(&compact)
            } else {
                compact
            })
        };

    let attachment_ids: Vec<String> = app
        .attachments
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let created = client
        .create_submission(&CreateSubmission {
            destination_id: app.destination_id.clone(),
            announced_attachments: attachment_ids.clone(),
            service_type: app.service_type.clone(),
            case_id: None,
        })
        .await?;

    let mut described = Vec::new();
    for (i, (attachment, id)) in app.attachments.iter().zip(&attachment_ids).enumerate() {
        let jwe = encrypt(
            &attachment.content,
            Some(&attachment.mime_type),
            options.fault == Some(Fault::CorruptAttachment(i)),
        )
        .map_err(SendError::Key)?;
        client
            .upload_attachment(&created.submission_id, id, Bytes::from(jwe))
            .await?;
        if options.fault == Some(Fault::AttachmentMissingFromMetadata(i)) {
            continue;
        }
        let hash = if options.fault == Some(Fault::WrongAttachmentHash(i)) {
            sha512_hex(b"not the attachment")
        } else {
            sha512_hex(&attachment.content)
        };
        let mut entry = json!({
            "attachmentId": id,
            "hash": {"type": "sha512", "content": hash},
            "mimeType": attachment.mime_type,
            "purpose": attachment.purpose,
        });
        if let Some(f) = &attachment.filename {
            entry["filename"] = Value::from(f.clone());
        }
        if let Some(d) = &attachment.description {
            entry["description"] = Value::from(d.clone());
        }
        described.push(entry);
    }

    let data_hash = if options.fault == Some(Fault::WrongDataHash) {
        sha512_hex(b"not the data")
    } else {
        sha512_hex(&app.data)
    };
    let mut metadata = json!({
        "contentStructure": {
            "data": {
                "hash": {"type": "sha512", "content": data_hash},
                "submissionSchema": {"schemaUri": app.data_schema_uri, "mimeType": app.data_mime_type},
            },
            "attachments": described,
        },
        "publicServiceType": {
            "identifier": app.service_type.identifier,
        },
    });
    if let Some(name) = &app.service_type.name {
        metadata["publicServiceType"]["name"] = Value::from(name.clone());
    }
    match options.fault {
        Some(Fault::MetadataSchemaViolation) => {
            metadata["contentStructure"]["data"]["hash"]["type"] = Value::from("md5");
        }
        Some(Fault::ServiceMismatch) => {
            metadata["publicServiceType"]["identifier"] =
                Value::from("urn:de:fim:leika:leistung:99999999999999");
        }
        _ => {}
    }
    let metadata_bytes = serde_json::to_vec(&metadata).expect("metadata serializes");
    let encrypted_metadata = encrypt(
        &metadata_bytes,
        Some("application/json"),
        options.fault == Some(Fault::CorruptMetadata),
    )
    .map_err(SendError::Key)?;
    let encrypted_data = encrypt(
        &app.data,
        Some(&app.data_mime_type),
        options.fault == Some(Fault::CorruptData),
    )
    .map_err(SendError::Key)?;
    client
        .submit_submission(
            &created.submission_id,
            &SubmitSubmission {
                encrypted_metadata,
                encrypted_data: Some(encrypted_data),
            },
        )
        .await?;
    tracing::info!(
        submission_id = %created.submission_id,
        destination_id = %created.destination_id,
        attachments = attachment_ids.len(),
        "submission sent"
    );
    Ok(SentSubmission {
        destination_id: created.destination_id,
        submission_id: created.submission_id,
        case_id: created.case_id,
        attachment_ids,
    })
}

/// Alters one character in the middle of the ciphertext segment (still valid base64url), so
/// that only the GCM tag check can notice.
pub fn corrupt_ciphertext(compact: &str) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_string).collect();
    if parts.len() == 5 && parts[3].len() >= 4 {
        let mut bytes = parts[3].clone().into_bytes();
        let i = (bytes.len() / 4) * 2; // a full quantum, never the last partial one
        let i = i.min(bytes.len() - 4);
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        parts[3] = String::from_utf8(bytes).expect("base64url is ASCII");
    }
    parts.join(".")
}
