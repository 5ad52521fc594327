//! Connectors: how a message reaches a Fachverfahren (the authority's back-office system).
//!
//! A connector only delivers and classifies the answer; retries, leases and the ledger are the
//! worker runtime's business. The classification is the contract: [`DeliveryError::Transient`]
//! means "try again later" (the Fachverfahren is down, overloaded, timed out);
//! [`DeliveryError::Permanent`] means "this will never work as is" (the Fachverfahren refused
//! the content) and sends the message to the dead letters for an operator.

pub mod file;
pub mod http;

use crate::config::{Config, ConfigError, ConnectorConfig, RetryConfig};
use crate::message::{Envelope, PAYLOAD_PART, Part};
use crate::payload::{PayloadError, PayloadStore, get_bytes};
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the Fachverfahren answered on success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The Fachverfahren's own reference (e.g. its case number), if it gave one.
    pub reference: Option<String>,
}

/// Why a delivery failed. `reason` is safe to log (status, target, cause); `detail` is what
/// the Fachverfahren said (a response excerpt), recorded in the ledger for the operator but
/// never logged, because a Fachverfahren may echo content back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later; `retry_after` is the target's own hint (e.g. `Retry-After`).
    #[error("{reason}")]
    Transient {
        retry_after: Option<Duration>,
        reason: String,
        detail: Option<String>,
    },
    /// Will not succeed by retrying; needs an operator (fix mapping/target, then replay).
    #[error("{reason}")]
    Permanent {
        reason: String,
        detail: Option<String>,
    },
}

impl DeliveryError {
    pub fn transient(reason: impl Into<String>) -> Self {
        DeliveryError::Transient {
            retry_after: None,
            reason: reason.into(),
            detail: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            reason: reason.into(),
            detail: None,
        }
    }

    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryError::Permanent { .. })
    }

    /// Reason and detail together, for the ledger.
    pub fn for_ledger(&self) -> String {
        match self {
            DeliveryError::Transient { reason, detail, .. }
            | DeliveryError::Permanent { reason, detail } => match detail {
                Some(d) if !d.is_empty() => format!("{reason}: {d}"),
                _ => reason.clone(),
            },
        }
    }
}

impl From<PayloadError> for DeliveryError {
    fn from(e: PayloadError) -> Self {
        match e {
            // A missing or corrupt payload will not heal by waiting.
            PayloadError::NotFound { .. } | PayloadError::Integrity { .. } => {
                DeliveryError::permanent(e.to_string())
            }
            _ => DeliveryError::transient(e.to_string()),
        }
    }
}

/// The document as the route's mapping made it (e.g. the Fachverfahren's JSON).
#[derive(Debug, Clone)]
pub struct Mapped {
    /// Mapping id.
    pub mapping: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Access to the stored parts of the message being delivered.
pub struct Parts<'a> {
    pub envelope: &'a Envelope,
    pub store: &'a dyn PayloadStore,
    /// Set when the route maps the message: connectors deliver this instead of the document.
    pub mapped: Option<&'a Mapped>,
}

impl Parts<'_> {
    /// The main document, whole (documents are bounded by `intake.max_document_bytes`).
    pub async fn document(&self) -> Result<Vec<u8>, PayloadError> {
        get_bytes(self.store, self.envelope.message_id, PAYLOAD_PART).await
    }

    /// One part as a stream (attachments can be large).
    pub async fn stream(
        &self,
        part: &Part,
    ) -> Result<BoxStream<'static, Result<Bytes, PayloadError>>, PayloadError> {
        self.store.get(self.envelope.message_id, &part.name).await
    }
}

#[async_trait]
pub trait Connector: Send + Sync {
    /// Delivers one message. The message id is the idempotency key: delivering the same
    /// message twice must not create two cases in a Fachverfahren that honours it.
    async fn deliver(&self, parts: &Parts<'_>, attempt: u32) -> Result<Receipt, DeliveryError>;
}

/// A built connector with its worker settings.
#[derive(Clone)]
pub struct ConnectorHandle {
    pub id: String,
    pub kind: &'static str,
    pub connector: Arc<dyn Connector>,
    pub concurrency: usize,
    pub retry: RetryConfig,
}

/// Builds every configured connector (global and per tenant). Errors name the key.
pub fn build(config: &Config) -> Result<BTreeMap<String, ConnectorHandle>, Vec<ConfigError>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (key, id, c) in config.all_connectors() {
        if out.contains_key(id) {
            errors.push(ConfigError::new(
                None,
                Some(key),
                format!("connector id `{id}` is used twice"),
            ));
            continue;
        }
        if c.concurrency() == 0 {
            errors.push(ConfigError::new(
                None,
                Some(format!("{key}.concurrency")),
                "must be at least 1",
            ));
        }
        let r = c.retry();
        if r.max_attempts == 0 {
            errors.push(ConfigError::new(
                None,
                Some(format!("{key}.retry.max_attempts")),
                "must be at least 1",
            ));
        }
        if r.factor < 1.0 {
            errors.push(ConfigError::new(
                None,
                Some(format!("{key}.retry.factor")),
                "must be at least 1.0",
            ));
        }
        let built: Result<Arc<dyn Connector>, String> = match c {
            ConnectorConfig::Http {
                url, auth, timeout, ..
            } => {
                if *timeout >= config.queue.visibility_timeout {
                    errors.push(ConfigError::new(None, Some(format!("{key}.timeout")), format!(
                        "must be shorter than queue.visibility_timeout ({}), or a slow delivery is handed to a second worker",
                        humantime::format_duration(config.queue.visibility_timeout))));
                }
                http::HttpConnector::new(url, auth.as_ref(), *timeout).map(|c| Arc::new(c) as _)
            }
            ConnectorConfig::File { directory, .. } => {
                file::FileConnector::new(directory).map(|c| Arc::new(c) as _)
            }
        };
        match built {
            Ok(connector) => {
                out.insert(
                    id.clone(),
                    ConnectorHandle {
                        id: id.clone(),
                        kind: c.kind(),
                        connector,
                        concurrency: c.concurrency().max(1),
                        retry: r.clone(),
                    },
                );
            }
            Err(reason) => errors.push(ConfigError::new(None, Some(key), reason)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
