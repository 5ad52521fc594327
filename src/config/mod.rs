//! Configuration: one TOML file, a `conf.d/` directory with one file per tenant, and
//! `AMTSBOTE__…` environment overrides (double underscore between keys, e.g.
//! `AMTSBOTE__SERVER__LISTEN=0.0.0.0:8470`).
//!
//! Every struct denies unknown keys, so a typo is an error at start-up (and in
//! `amtsbote check`), not a silently ignored setting. Every field has a default that works on
//! one machine; `amtsbote run` with no file at all runs on these defaults.
//! `docs/configuration.md` documents each key; keep the two in step.

pub mod admin;
pub mod cluster;
mod load;
pub mod telemetry;

pub use load::{ConfigError, Loaded, load};
pub use telemetry::{OtlpProtocol, TelemetryConfig};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub intake: IntakeConfig,
    pub queue: QueueConfig,
    pub log: LogConfig,
    /// Traces (OpenTelemetry): where they go, sampling, the trace UI link.
    pub telemetry: TelemetryConfig,
    /// Authorities (municipalities) served by this installation, keyed by tenant id.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Inbound doors shared by all tenants (e.g. one form server posting for many).
    pub sources: BTreeMap<String, SourceConfig>,
    /// Fachverfahren targets shared by all tenants.
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// Routes for all tenants, tried after each tenant's own routes. First match wins.
    pub routes: Vec<RouteConfig>,
    /// Mapping files (XÖV → the JSON a Fachverfahren expects), keyed by mapping id; routes
    /// name them.
    pub mappings: BTreeMap<String, MappingConfig>,
    /// XSD schema packs in addition to the bundled ones (XBau 2.6, xdomea 3.0, XWasser 1.0),
    /// keyed by pack name. A configured pack replaces a bundled one for the same namespace.
    pub schema_packs: BTreeMap<String, SchemaPackConfig>,
    /// The admin API and the console: tokens and the trace link.
    pub admin: admin::AdminConfig,
}

impl Config {
    /// Every source, global ones first: (configuration key, id, source, owning tenant).
    pub fn all_sources(
        &self,
    ) -> impl Iterator<Item = (String, &String, &SourceConfig, Option<&String>)> {
        let global = self
            .sources
            .iter()
            .map(|(id, s)| (format!("sources.{id}"), id, s, None));
        let own = self.tenants.iter().flat_map(|(t, tc)| {
            tc.sources
                .iter()
                .map(move |(id, s)| (format!("tenants.{t}.sources.{id}"), id, s, Some(t)))
        });
        global.chain(own)
    }

    /// Every connector, global ones first: (configuration key, id, connector).
    pub fn all_connectors(&self) -> impl Iterator<Item = (String, &String, &ConnectorConfig)> {
        let global = self
            .connectors
            .iter()
            .map(|(id, c)| (format!("connectors.{id}"), id, c));
        let own = self.tenants.iter().flat_map(|(t, tc)| {
            tc.connectors
                .iter()
                .map(move |(id, c)| (format!("tenants.{t}.connectors.{id}"), id, c))
        });
        global.chain(own)
    }
}

/// A declarative mapping file (see docs/mapping.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingConfig {
    /// The mapping file (TOML); code lists it names are relative to it.
    pub file: PathBuf,
}

/// An XSD schema pack: a folder with the standard's schemas and an OASIS catalog that maps
/// the URLs they import to files in the folder. Nothing outside the folder is ever read.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaPackConfig {
    /// Target namespace of the standard, e.g. `http://www.xleitstelle.de/xbeteiligung/13`.
    pub namespace: String,
    /// The folder holding the schemas.
    pub dir: PathBuf,
    /// The entry schema, relative to `dir`; it must reach every message type.
    pub entry: PathBuf,
    /// The catalog, relative to `dir`. Default: `catalog.xml` if present.
    #[serde(default)]
    pub catalog: Option<PathBuf>,
}

/// The HTTP listener and what it tolerates from clients (see `amtsbote_listener::Limits`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the HTTP listener (intake, health, metrics).
    pub listen: SocketAddr,
    /// Time a client has for a complete request head (request line and headers), counted from
    /// the connection's start or, on a kept-alive connection, from the previous answer.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves for this long, while the broker is not working on
    /// one of its requests, is closed (idle keep-alive, clients that stop reading).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Time a request body may take beyond what `body_min_rate` earns it; a slower body is
    /// answered 408 and nothing of it is accepted.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Bytes per second: every `body_min_rate` bytes received extend the body's deadline by
    /// one second, so large documents on ordinary links are not cut off (0: no extension).
    pub body_min_rate: u64,
    /// Connections served at once; further ones wait in the listen backlog until one ends.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let limits = amtsbote_listener::Limits::default();
        ServerConfig {
            listen: "127.0.0.1:8470".parse().expect("valid default address"),
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            body_read_timeout: limits.body_read_timeout,
            body_min_rate: limits.body_min_rate,
            max_connections: limits.max_connections,
        }
    }
}

impl ServerConfig {
    /// The listener's limits.
    pub fn limits(&self) -> amtsbote_listener::Limits {
        amtsbote_listener::Limits {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            body_read_timeout: self.body_read_timeout,
            body_min_rate: self.body_min_rate,
            max_connections: self.max_connections,
            ..Default::default()
        }
    }

    /// What `amtsbote check` and the start refuse: limits that would disable a protection or
    /// cannot be served.
    pub fn errors(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (key, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("body_read_timeout", self.body_read_timeout),
        ] {
            if value.is_zero() {
                errors.push(ConfigError::new(
                    None,
                    Some(format!("server.{key}")),
                    "must be longer than 0 s (e.g. \"10s\"); a zero timeout would close every connection",
                ));
            } else if value > MAX_SERVER_TIMEOUT {
                errors.push(ConfigError::new(
                    None,
                    Some(format!("server.{key}")),
                    "must be at most 1 h; longer lets idle or slow clients hold connections for good",
                ));
            }
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            errors.push(ConfigError::new(
                None,
                Some("server.max_connections".into()),
                format!("must be between 1 and {MAX_CONNECTIONS}; each connection holds a file descriptor"),
            ));
        }
        errors
    }
}

/// Upper bound of the listener timeouts.
const MAX_SERVER_TIMEOUT: Duration = Duration::from_secs(3600);
/// Upper bound of `server.max_connections` (well above any descriptor limit one grants).
const MAX_CONNECTIONS: usize = 1_000_000;

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite ledger and queue, local payload directory.
    #[default]
    Embedded,
    /// PostgreSQL ledger (`[storage.postgres]`), RabbitMQ queues (`[storage.rabbitmq]`),
    /// payloads on S3-compatible storage (`[storage.s3]`) or, without it, in
    /// `<data_dir>/payloads` (which all replicas must then share). Several replicas may run.
    Cluster,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub backend: Backend,
    /// Where the embedded database and payloads live.
    pub data_dir: PathBuf,
    /// File with the 256-bit payload encryption key (64 hex digits), made by `amtsbote keys
    /// payload`. Must lie outside `data_dir` and be readable by the broker's user only. Without
    /// it the key comes from the environment variable `AMTSBOTE_PAYLOAD_KEY`; without either
    /// the broker does not start (see [`crate::at_rest`]).
    pub payload_key_file: Option<PathBuf>,
    /// Delete payloads this long after a message was delivered or rejected (Löschfrist).
    /// The ledger row stays as audit trail, in state `purged`.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Cluster backend: the ledger's database.
    pub postgres: Option<cluster::PostgresConfig>,
    /// Cluster backend: the queues' broker.
    pub rabbitmq: Option<cluster::RabbitConfig>,
    /// Cluster backend: payloads on S3-compatible object storage instead of
    /// `<data_dir>/payloads`.
    pub s3: Option<cluster::S3Config>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Embedded,
            data_dir: PathBuf::from("./amtsbote-data"),
            payload_key_file: None,
            retention: Duration::from_secs(30 * 24 * 3600),
            postgres: None,
            rabbitmq: None,
            s3: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// Largest accepted request (document plus attachments), in bytes. Larger: 413.
    pub max_message_bytes: u64,
    /// Largest main document (XML/JSON), in bytes; it is parsed in memory.
    pub max_document_bytes: u64,
    /// Largest single attachment, in bytes (any transport). Larger: 413.
    pub max_part_bytes: u64,
    /// Most parts of a multipart request (the document and its attachments). More: 413.
    pub max_parts: usize,
    /// Deepest nesting of arrays and objects in a JSON document. Deeper: 400. At most 128,
    /// the JSON parser's own bound.
    pub max_json_depth: usize,
}

/// The JSON parser (serde_json) refuses deeper documents by itself; a higher setting would
/// not be honoured.
pub const MAX_JSON_DEPTH_BOUND: usize = 128;

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            max_message_bytes: 256 * 1024 * 1024,
            max_document_bytes: 32 * 1024 * 1024,
            max_part_bytes: 64 * 1024 * 1024,
            max_parts: 100,
            max_json_depth: 64,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// How long a worker holds a message before it is given to another worker. Must exceed
    /// every connector's timeout.
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// How often idle workers look for due retries.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `amtsbote=debug,info`. `RUST_LOG` wins if set.
    pub level: String,
    /// A client whose requests keep failing authentication gets one summary line per this
    /// interval (after a line for its first failure), never one line per request.
    #[serde(with = "humantime_serde")]
    pub auth_failure_summary: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
            auth_failure_summary: crate::telemetry::auth_failures::SUMMARY_INTERVAL,
        }
    }
}

/// One authority (municipality, district office, …).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    /// Amtlicher Gemeindeschlüssel (official 8-digit municipality key), if any. Given as a
    /// number (e.g. through an environment override) it is zero-padded to 8 digits.
    #[serde(default, deserialize_with = "ags")]
    pub ags: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// This tenant's routes, tried before the global ones.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// This tenant's deletion period for payloads; `storage.retention` when absent.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
}

fn ags<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ags {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Ags>::deserialize(d)?.map(|a| match a {
        Ags::Text(t) => t,
        Ags::Number(n) => format!("{n:08}"),
    }))
}

/// Where a secret comes from. Secrets never live in the configuration file itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Read from this file (surrounding whitespace is trimmed).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Read from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceConfig {
    /// Form servers POST applications to `/api/v1/tenants/{tenant}/messages`.
    Http {
        /// The bearer token this source authenticates with.
        token: SecretRef,
        /// Tenants this source may post for (`*` = all). Only for global sources; a tenant's
        /// own source posts for that tenant only.
        #[serde(default)]
        tenants: Vec<String>,
    },
    /// A FIT-Connect destination (Zustellpunkt) of the tenant: the broker is its subscriber,
    /// fetches its submissions and answers the sender with accept or reject. Only as a
    /// tenant's own source.
    #[serde(rename = "fit-connect")]
    FitConnect(Box<FitConnectSource>),
    /// An XTA 2 mailbox (reader identity) of the tenant at an XTA server: the broker polls it,
    /// fetches what the filter lets through and closes each message once it is stored. Only
    /// as a tenant's own source.
    Xta(Box<XtaSource>),
}

/// An XTA 2 account and the mailbox read with it (XTA-Webservice v3/v4). The client
/// certificate identifies the account; its password comes from a file or the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XtaSource {
    /// Base URL of the XTA server, e.g. `https://xta.example.de`; the three ports are under it
    /// at the Governikus MultiMessenger paths (`/MB_XTA-WS/XTA210msgBoxPort.svc`, …) unless
    /// the `*_url` keys name them.
    pub endpoint: String,
    /// URL of the MsgBoxPort, if the provider's path differs from the default: a full URL, or
    /// a path (`/services/XTAService/MsgBoxPort`) on the endpoint's host.
    #[serde(default)]
    pub msg_box_url: Option<String>,
    /// URL of the ManagementPort, if the provider's path differs from the default: a full URL,
    /// or a path (`/services/XTAService/ManagementPort`) on the endpoint's host.
    #[serde(default)]
    pub management_url: Option<String>,
    /// The account's client certificate: a PKCS#12 file (`.p12`/`.pfx`) as the XTA provider
    /// issued it.
    pub client_certificate: PathBuf,
    /// The PKCS#12 file's password.
    pub client_certificate_password: SecretRef,
    /// PEM file with the CA certificate(s) the server's TLS certificate is checked against.
    /// Given: only these are trusted; absent: the public web PKI roots.
    #[serde(default)]
    pub ca_certificate: Option<PathBuf>,
    /// The mailbox read: the reader identity as `prefix:kennung` (DVDV prefix and authority
    /// key, e.g. `ags:12052000`, `psw:11007007`). Sent as `oscimeta:Author`.
    pub reader: String,
    /// How often the mailbox is looked at.
    #[serde(default = "xta_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Entries per status list page (`maxListItems`); further pages with `getNextStatusList`.
    #[serde(default = "xta_max_list_items")]
    pub max_list_items: u32,
    /// Messages of this mailbox fetched and taken in at once.
    #[serde(default = "xta_concurrency")]
    pub concurrency: usize,
    /// Which messages this source takes; the rest stays in the mailbox for whoever can.
    #[serde(default)]
    pub filter: XtaFilter,
}

/// Applied to the status list before anything is downloaded. Each list allows values
/// (`*`/`?` wildcards, case-insensitive); an empty list allows everything. A message is
/// taken when all three allow it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XtaFilter {
    /// DVDV service URIs (`Qualifier/Service`), e.g. `urn:xoev-de:xdomea:schema:xdomea_3.0.0`.
    pub services: Vec<String>,
    /// Business scenario codes (`Qualifier/BusinessScenario`), e.g. `XDOMEA_DATA`.
    pub business_scenarios: Vec<String>,
    /// Message type codes (`Qualifier/MessageType/code`), e.g. `0401`.
    pub message_types: Vec<String>,
}

fn xta_poll_interval() -> Duration {
    Duration::from_secs(30)
}
fn xta_max_list_items() -> u32 {
    50
}
fn xta_concurrency() -> usize {
    4
}

/// A FIT-Connect destination. Keys and secrets come from files or the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConnectSource {
    /// The destination id (UUID) from the Self-Service-Portal.
    pub destination_id: String,
    /// Base URL of the Submission API. Default: FITKO's test environment.
    #[serde(default = "fitko_submission_api")]
    pub submission_api: String,
    /// OAuth2 token endpoint. Default: FITKO's test environment.
    #[serde(default = "fitko_token_url")]
    pub token_url: String,
    /// The subscriber API client bound to this destination.
    pub client_id: String,
    pub client_secret: SecretRef,
    /// Private key(s) that decrypt submissions (JWK or PEM, RSA-4096). Several during a key
    /// change: the one whose `kid` a submission names is used.
    pub decryption_keys: Vec<SecretRef>,
    /// Private signing key (JWK with `kid`, RSA-4096, PS512) for accept/reject events.
    pub signing_key: SecretRef,
    /// Secret of the callback registered for this destination; without it callbacks for
    /// this destination are refused (polling still runs).
    #[serde(default)]
    pub callback_secret: Option<SecretRef>,
    /// How often to look for new submissions (callbacks make it sooner).
    #[serde(default = "fitko_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Submissions of this destination fetched and checked at once.
    #[serde(default = "fitko_concurrency")]
    pub concurrency: usize,
    /// When to answer the sender with `accept-submission`: `intake` (default: once the
    /// submission is stored and checked) or `delivery` (once the Fachverfahren took it; a
    /// message that ends `dead` is then answered with `reject-submission`).
    #[serde(default)]
    pub accept: AcceptMode,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AcceptMode {
    #[default]
    Intake,
    Delivery,
}

fn fitko_submission_api() -> String {
    "https://submission-api-testing.fit-connect.fitko.dev".into()
}
fn fitko_token_url() -> String {
    "https://auth-testing.fit-connect.fitko.dev/token".into()
}
fn fitko_poll_interval() -> Duration {
    Duration::from_secs(60)
}
fn fitko_concurrency() -> usize {
    8
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Delay before the second attempt.
    #[serde(with = "humantime_serde")]
    pub initial_delay: Duration,
    /// Upper bound of one delay (jitter included).
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Growth per attempt.
    pub factor: f32,
    /// Randomise delays so that many retries do not hit the Fachverfahren at once.
    pub jitter: bool,
    /// Attempts in total, the first included; then the message is dead.
    pub max_attempts: u32,
    /// Give up (dead) when the next attempt would start this long after the first.
    #[serde(with = "humantime_serde")]
    pub max_total: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            // Quick at first (a blip), then every 15 minutes for a day (a maintenance
            // window, a Fachverfahren down overnight), then dead for an operator.
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(900),
            factor: 2.0,
            jitter: true,
            max_attempts: 200,
            max_total: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum AuthConfig {
    Bearer {
        token: SecretRef,
    },
    Basic {
        username: String,
        password: SecretRef,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ConnectorConfig {
    /// POST each message to a Fachverfahren's REST endpoint.
    Http {
        url: String,
        #[serde(default)]
        auth: Option<AuthConfig>,
        /// Per attempt.
        #[serde(default = "default_http_timeout", with = "humantime_serde")]
        timeout: Duration,
        /// Deliveries in flight at once.
        #[serde(default = "default_concurrency")]
        concurrency: usize,
        #[serde(default)]
        retry: RetryConfig,
    },
    /// Write each message into a drop folder that a Fachverfahren imports from.
    File {
        directory: PathBuf,
        #[serde(default = "default_file_concurrency")]
        concurrency: usize,
        #[serde(default)]
        retry: RetryConfig,
    },
}

fn default_http_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_concurrency() -> usize {
    8
}
fn default_file_concurrency() -> usize {
    2
}

impl ConnectorConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Http { .. } => "http",
            ConnectorConfig::File { .. } => "file",
        }
    }

    pub fn concurrency(&self) -> usize {
        match self {
            ConnectorConfig::Http { concurrency, .. }
            | ConnectorConfig::File { concurrency, .. } => *concurrency,
        }
    }

    pub fn retry(&self) -> &RetryConfig {
        match self {
            ConnectorConfig::Http { retry, .. } | ConnectorConfig::File { retry, .. } => retry,
        }
    }
}

/// One routing rule. Every given field must match (`*` and `?` wildcards); absent fields
/// match anything. The first matching rule wins.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Shown in the ledger and the console; default `route-<n>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Tenant id pattern (global routes only).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Source id pattern.
    #[serde(default)]
    pub source: Option<String>,
    /// XÖV standard key, e.g. `xgewerbeanzeige`, `xbau`, `xdomea`; `json` for JSON documents.
    #[serde(default)]
    pub standard: Option<String>,
    /// Standard version pattern, e.g. `2.*`.
    #[serde(default)]
    pub version: Option<String>,
    /// Root element (e.g. `*.gewerbemeldung.0500`) or message type code (e.g. `0500`).
    #[serde(default)]
    pub message_type: Option<String>,
    /// LeiKa Leistungsschlüssel (service key, 14 digits) pattern.
    #[serde(default)]
    pub service_key: Option<String>,
    /// Transport destination pattern: a FIT-Connect destination id, or an XTA reader
    /// (the mailbox, `prefix:kennung`).
    #[serde(default)]
    pub destination: Option<String>,
    /// Reader authority as `prefix:id`, e.g. `psw:11*`: the XÖV header's reader or the XTA
    /// transport's reader (either may match).
    #[serde(default)]
    pub reader: Option<String>,
    /// Author authority as `prefix:id`: the XÖV header's author or the XTA transport's
    /// author (either may match).
    #[serde(default)]
    pub author: Option<String>,
    /// XTA service URI (`Qualifier/Service`) pattern; only XTA messages have one.
    #[serde(default)]
    pub xta_service: Option<String>,
    /// XTA business scenario code pattern, e.g. `XDOMEA_DATA`; only XTA messages have one.
    #[serde(default)]
    pub business_scenario: Option<String>,
    /// Messages marked as test messages (`test` attribute): `exclude` (default: this route
    /// never matches them), `include`, or `only` (e.g. a route to a Fachverfahren's test
    /// instance).
    #[serde(default)]
    pub test_messages: TestMessages,
    /// Validate XML against its XSD schema pack before routing here (default `true`).
    #[serde(default = "default_true")]
    pub validate: bool,
    /// When no schema pack knows the message's namespace: `pass` (default: deliver after the
    /// well-formedness check), `reject` (state `rejected`, sender told), or `park` (state
    /// `dead` until an operator adds a pack or changes the route, then replays).
    #[serde(default)]
    pub unknown_schema: UnknownSchema,
    /// Mapping id: the connector gets the mapped document (e.g. the Fachverfahren's JSON)
    /// instead of the message as it arrived. Mapping failures are permanent delivery errors.
    #[serde(default)]
    pub mapping: Option<String>,
    /// Target connector id.
    pub connector: String,
}

fn default_true() -> bool {
    true
}

impl Default for RouteConfig {
    /// Matches everything, validates when a schema is known, excludes test messages.
    fn default() -> Self {
        RouteConfig {
            name: None,
            tenant: None,
            source: None,
            standard: None,
            version: None,
            message_type: None,
            service_key: None,
            destination: None,
            reader: None,
            author: None,
            xta_service: None,
            business_scenario: None,
            test_messages: TestMessages::Exclude,
            validate: true,
            unknown_schema: UnknownSchema::Pass,
            mapping: None,
            connector: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TestMessages {
    #[default]
    Exclude,
    Include,
    Only,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnknownSchema {
    #[default]
    Pass,
    Reject,
    Park,
}
