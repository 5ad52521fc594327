//! The sandbox's memory: submissions with their state machine, cases with their event logs,
//! issued tokens. In memory only — a sandbox restart forgets everything, which is what tests
//! want. Attachments are held as `Bytes` (sized for tests and demos, not for production load).
//!
//! Submission states (the transitions the real Zustelldienst documents):
//! `incomplete` (announced; attachments being uploaded) → `submitted` (metadata and data in;
//! visible to the subscriber) → `forwarded` (the subscriber fetched it) → `accepted` or
//! `rejected` (the subscriber's SET arrived). Only `submitted` ones are listed; `submitted` and
//! `forwarded` ones can be fetched.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;

use crate::events::AuthenticationTags;
use crate::wire::{ServiceType, SubmissionRef};

/// Where a submission is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubmissionState {
    /// Announced, attachments may be uploaded.
    Incomplete,
    /// Submitted; waiting for the subscriber.
    Submitted,
    /// Fetched by the subscriber.
    Forwarded,
    /// The subscriber accepted it.
    Accepted,
    /// The subscriber rejected it.
    Rejected,
}

impl SubmissionState {
    /// Fetchable by the subscriber (`submitted` or `forwarded`).
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            SubmissionState::Submitted | SubmissionState::Forwarded
        )
    }
}

pub(crate) struct SubmissionRecord {
    pub id: String,
    pub case_id: String,
    pub destination_id: String,
    pub sender_client: String,
    pub service_type: ServiceType,
    pub announced: Vec<String>,
    pub attachments: HashMap<String, Bytes>,
    pub encrypted_metadata: Option<String>,
    pub encrypted_data: Option<String>,
    pub state: SubmissionState,
}

impl SubmissionRecord {
    pub fn reference(&self) -> SubmissionRef {
        SubmissionRef {
            destination_id: self.destination_id.clone(),
            submission_id: self.id.clone(),
            case_id: self.case_id.clone(),
        }
    }

    /// The 5th segments of the JWEs as submitted.
    pub fn authentication_tags(&self) -> AuthenticationTags {
        let tag = |jwe: &str| {
            jwe.trim_end()
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let mut attachments = BTreeMap::new();
        for (id, body) in &self.attachments {
            let text = String::from_utf8_lossy(body);
            attachments.insert(id.clone(), tag(&text));
        }
        AuthenticationTags {
            metadata: self
                .encrypted_metadata
                .as_deref()
                .map(tag)
                .unwrap_or_default(),
            data: self.encrypted_data.as_deref().map(tag),
            attachments,
        }
    }
}

pub(crate) struct CaseRecord {
    pub destination_id: String,
    pub sender_client: String,
    pub submissions: Vec<String>,
    pub events: Vec<String>,
    pub seen_jti: HashSet<String>,
}

#[derive(Default)]
pub(crate) struct Store {
    pub submissions: HashMap<String, SubmissionRecord>,
    /// Submission ids in arrival order (for stable paging).
    pub order: Vec<String>,
    pub cases: HashMap<String, CaseRecord>,
}

pub(crate) struct TokenRecord {
    pub client_id: String,
    pub expires_at: Instant,
}
