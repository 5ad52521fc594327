//! Configuration of the cluster backend (`[storage] backend = "cluster"`): PostgreSQL for the
//! ledger, RabbitMQ for the queues, optionally S3-compatible object storage for payloads.
//! Connection strings that carry passwords are secrets (file or environment), never inline.

use super::SecretRef;
use serde::Deserialize;
use std::time::Duration;

/// `[storage.postgres]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// Connection URL (`postgres://user:password@host:port/db`), from a file or variable.
    pub url: SecretRef,
    /// Connections per replica.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// Waiting for a connection or a statement longer than this is a storage error.
    #[serde(default = "default_statement_timeout", with = "humantime_serde")]
    pub statement_timeout: Duration,
}

fn default_pool_size() -> usize {
    16
}

fn default_statement_timeout() -> Duration {
    Duration::from_secs(30)
}

/// `[storage.rabbitmq]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitConfig {
    /// AMQP URL (`amqp://user:password@host:5672/%2f`), from a file or variable.
    pub url: SecretRef,
    /// Further node URLs (same credentials), tried after `url` when it is unreachable.
    #[serde(default)]
    pub fallback_urls: Vec<SecretRef>,
    /// Names of exchanges and queues start with this (`amtsbote.work`, `amtsbote.q.<connector>`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How long a publish may wait for the broker's confirm.
    #[serde(default = "default_confirm_timeout", with = "humantime_serde")]
    pub confirm_timeout: Duration,
}

fn default_prefix() -> String {
    "amtsbote".into()
}

fn default_confirm_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `[storage.s3]`: payloads on S3-compatible object storage instead of the local directory.
/// Payloads stay encrypted with the payload key before they leave the broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// Endpoint URL for non-AWS stores (MinIO, Ceph, …); empty for AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: String,
    pub access_key_id: SecretRef,
    pub secret_access_key: SecretRef,
    /// Allow `http://` endpoints (a store on the same host or a test server).
    #[serde(default)]
    pub allow_http: bool,
    /// Path-style addressing (`endpoint/bucket/key`), as most non-AWS stores need.
    #[serde(default = "default_true")]
    pub path_style: bool,
}

fn default_region() -> String {
    "eu-central-1".into()
}

fn default_true() -> bool {
    true
}
