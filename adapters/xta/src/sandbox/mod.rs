//! A sandbox XTA server: the three ports of XTA.wsdl over HTTPS with mutual TLS, in process
//! and in memory. Tests, the demo and `amtsbote sandbox` run it so that XTA clients — ours or
//! any other XTA v3 client — can send, list, fetch and close messages without a provider's
//! test system. Paths, actions and envelopes follow the WSDL; paths are configurable
//! ([`PortPaths`]): by default the sandbox answers on the Governikus layout
//! (`/MB_XTA-WS/XTA210msgBoxPort.svc`, …) and on the WSDL-named layout
//! (`/services/XTAService/MsgBoxPort`, …) alike, so that clients configured for either reach
//! it.
//!
//! **Accounts** ([`AccountConfig`]) are bound to client certificates (SHA-256 fingerprint or
//! subject CN; the certificate must be issued by the sandbox's client CA, be valid, and carry
//! clientAuth — otherwise the TLS handshake fails) and to the party identifiers
//! (`prefix:kennung`) they may act as. Each identifier of an account is a **mailbox**.
//! `sendMessage` puts a message into the mailbox of its reader (`Destinations/Reader`; other
//! and cc readers are informational, as in the XSD); `getStatusList` lists the
//! mailboxes of the caller (only the one named in the `oscimeta:Author` header, if sent) with
//! paging (`maxListItems`, `MsgBoxRequestID`, `ItemsPending`/`NoMessageAvailable`);
//! `getMessage` fetches without removing; `close` with `LastMsgReceived` marks messages fetched
//! — a message not closed stays listed and can be fetched again. `createMessageId` issues ids,
//! `getTransportReport` reports delivery, fetch and close, `lookupService` answers from the
//! accounts' identifiers and booked services.
//!
//! **Faults** use the XTA error numbers: unknown certificate 9012, locked account 9011,
//! service not booked 9013, Author not the account's 9014, missing parameter 9020, unknown
//! reader 9022, container over the size limit 9023 (40 MiB, configurable), duplicate MessageID
//! 9024, malformed requests (not well-formed, wrong structure, XML payload not well-formed)
//! 9050, unknown or foreign MessageID 9070, `sendMessageSync` 9080, `cancelMessage` 9101.
//! Faults are sent with HTTP 500, as JAX-WS/CXF and WCF services answer every fault
//! (*unverified* for XTA servers in particular; SOAP 1.2 would allow 400 for sender faults, and
//! our client reads faults with either status).
//!
//! **Fault injection** ([`SandboxControl`]): answer 503 for a while, answer
//! `XTAWSTechnicalProblemException` 9030 to the next N requests, change the answer encoding
//! (MTOM or inline base64), lower the size limit, lock accounts, record every exchange.

mod local;
mod ports;
mod server;
mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::Endpoints;
use crate::container::ContentContainer;
use crate::metadata::{MessageMetaData, PartyIdentifier};
use crate::mtom::ContentEncoding;
use crate::pki::ClientCertificate;
use crate::wsdl::{Operation, Port};

pub use crate::pki::SandboxTls;
pub use local::{LocalAccount, LocalClient, LocalSandbox, local_sandbox};
pub use store::MailboxEntry;

/// How an account recognises its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateMatch {
    /// SHA-256 fingerprint of the DER certificate (hex, case and `:` ignored).
    Sha256(String),
    /// The subject's common name.
    SubjectCn(String),
}

/// An XTA account of the sandbox.
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Name (for logs and [`SandboxControl::set_account_active`]).
    pub name: String,
    /// The client certificate that identifies the account.
    pub certificate: CertificateMatch,
    /// The identities the account may act as (author of sent messages, reader of mailboxes);
    /// each is a mailbox.
    pub identifiers: Vec<PartyIdentifier>,
    /// A locked account (`false`) gets `PermissionDeniedException` 9011.
    pub active: bool,
    /// Service URIs the account has booked (sending and being found by `lookupService`);
    /// empty: all.
    pub services: Vec<String>,
}

impl AccountConfig {
    /// An active account for a generated client certificate, acting as `identifiers`.
    pub fn for_certificate(
        name: impl Into<String>,
        certificate: &ClientCertificate,
        identifiers: Vec<PartyIdentifier>,
    ) -> Self {
        AccountConfig {
            name: name.into(),
            certificate: CertificateMatch::Sha256(certificate.fingerprint_sha256.clone()),
            identifiers,
            active: true,
            services: Vec::new(),
        }
    }
}

/// HTTP paths of the three ports (defaults: [`Port::default_path`], *unverified*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPaths {
    /// ManagementPort path.
    pub management: String,
    /// SendPort path.
    pub send: String,
    /// MsgBoxPort path.
    pub msg_box: String,
}

impl Default for PortPaths {
    fn default() -> Self {
        PortPaths {
            management: Port::Management.default_path().into(),
            send: Port::Send.default_path().into(),
            msg_box: Port::MsgBox.default_path().into(),
        }
    }
}

impl PortPaths {
    /// The layout named after the WSDL's service and ports: `/services/XTAService/ManagementPort`,
    /// `/services/XTAService/SendXtaPort`, `/services/XTAService/MsgBoxPort`.
    pub fn xta_service() -> Self {
        PortPaths {
            management: Port::Management.service_path(),
            send: Port::Send.service_path(),
            msg_box: Port::MsgBox.service_path(),
        }
    }

    fn port(&self, path: &str) -> Option<Port> {
        Port::ALL.into_iter().find(|p| self.path(*p) == path)
    }

    fn path(&self, port: Port) -> &str {
        match port {
            Port::Management => &self.management,
            Port::Send => &self.send,
            Port::MsgBox => &self.msg_box,
        }
    }
}

/// The XSD's limit for a content container: 40 MB, taken as 40 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 40 * 1024 * 1024;

/// Sandbox configuration.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// TLS material.
    pub tls: SandboxTls,
    /// The accounts.
    pub accounts: Vec<AccountConfig>,
    /// Port paths; the URLs of [`RunningSandbox::endpoints`].
    pub paths: PortPaths,
    /// Further path layouts answered as well (default: [`PortPaths::xta_service`]).
    pub also_paths: Vec<PortPaths>,
    /// Largest content container accepted by `sendMessage` (message + attachments).
    pub max_message_bytes: u64,
    /// How answers are packaged.
    pub response_encoding: ContentEncoding,
    /// How long an unused status-list iterator (`MsgBoxRequestID`) stays valid.
    pub iterator_lifetime: Duration,
    /// `sendMessage` only accepts MessageIDs issued by `createMessageId` to the same account.
    pub require_issued_message_ids: bool,
    /// `sendMessage` refuses (9050) a message whose content type names XML if it is not
    /// well-formed.
    pub check_xml_payloads: bool,
    /// Most connections served at once.
    pub max_connections: usize,
}

impl SandboxConfig {
    /// Defaults: 40 MiB, MTOM answers, 10 minute iterators, XML payload check on.
    pub fn new(tls: SandboxTls, accounts: Vec<AccountConfig>) -> Self {
        SandboxConfig {
            tls,
            accounts,
            paths: PortPaths::default(),
            also_paths: vec![PortPaths::xta_service()],
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            response_encoding: ContentEncoding::Mtom,
            iterator_lifetime: Duration::from_secs(600),
            require_issued_message_ids: false,
            check_xml_payloads: true,
            max_connections: 256,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The TLS material is unusable.
    #[error("sandbox TLS configuration: {0}")]
    Tls(String),
    /// Two configurations contradict each other.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    /// Binding the listener failed.
    #[error("binding the sandbox listener failed")]
    Bind(#[source] std::io::Error),
    /// A message handed to [`SandboxControl::deliver`] was refused.
    #[error("the sandbox refused the message: {0}")]
    Refused(String),
}

/// One request and its answer, as recorded by [`SandboxControl::start_recording`].
#[derive(Debug, Clone)]
pub struct RecordedExchange {
    /// The operation (if the request named a known one).
    pub operation: Option<Operation>,
    /// Request `Content-Type`.
    pub request_content_type: String,
    /// Request body.
    pub request_body: Bytes,
    /// HTTP status of the answer.
    pub status: u16,
    /// Answer `Content-Type`.
    pub response_content_type: String,
    /// Answer body.
    pub response_body: Bytes,
}

pub(crate) struct Account {
    pub config: AccountConfig,
    pub active: bool,
}

pub(crate) struct Shared {
    pub accounts: Vec<Mutex<Account>>,
    /// The primary layout first, then the others answered as well.
    pub paths: Vec<PortPaths>,
    pub iterator_lifetime: Duration,
    pub require_issued_message_ids: bool,
    pub check_xml_payloads: bool,
    pub store: Mutex<store::Store>,
    pub max_message_bytes: AtomicU64,
    pub response_encoding: Mutex<ContentEncoding>,
    pub down_until: Mutex<Option<Instant>>,
    pub technical_faults: AtomicU64,
    pub recording: Mutex<Option<Vec<RecordedExchange>>>,
    pub requests: AtomicU64,
    pub server_identity: Mutex<String>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the whole sandbox down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// The port served at `path`, in any layout.
    pub fn port_at(&self, path: &str) -> Option<Port> {
        self.paths.iter().find_map(|p| p.port(path))
    }

    /// The account of a peer certificate: index, or `None` if no account claims it.
    pub fn account_for(&self, peer: &server::Peer) -> Option<usize> {
        self.accounts.iter().position(|a| {
            let a = lock(a);
            match &a.config.certificate {
                CertificateMatch::Sha256(hex) => {
                    normalize_fingerprint(hex) == peer.fingerprint_sha256
                }
                CertificateMatch::SubjectCn(cn) => peer.subject_cn.as_deref() == Some(cn),
            }
        })
    }

    /// Whether some account holds the identifier (i.e. the mailbox exists).
    pub fn mailbox_exists(&self, identifier: &str) -> bool {
        self.accounts.iter().any(|a| {
            lock(a)
                .config
                .identifiers
                .iter()
                .any(|i| i.value == identifier)
        })
    }
}

/// Every path is absolute, and no path leads to two different ports.
fn check_paths(layouts: &[PortPaths]) -> Result<(), SandboxError> {
    let mut seen: HashMap<&str, Port> = HashMap::new();
    for layout in layouts {
        for port in Port::ALL {
            let path = layout.path(port);
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(SandboxError::Config(format!(
                    "the {port} path `{path}` must start with `/` and carry no query or fragment"
                )));
            }
            if let Some(other) = seen.insert(path, port)
                && other != port
            {
                return Err(SandboxError::Config(format!(
                    "the path `{path}` is given to both the {other} and the {port}"
                )));
            }
        }
    }
    Ok(())
}

fn normalize_fingerprint(hex: &str) -> String {
    hex.chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A configured sandbox, not yet serving.
pub struct Sandbox {
    shared: Arc<Shared>,
    tls: Arc<rustls::ServerConfig>,
    max_connections: usize,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("accounts", &self.shared.accounts.len())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Checks the configuration (TLS material usable, certificate bindings and identifiers
    /// unique) and builds the sandbox.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let mut seen_certs = HashMap::new();
        let mut seen_ids = HashMap::new();
        for a in &config.accounts {
            let key = match &a.certificate {
                CertificateMatch::Sha256(h) => format!("sha256:{}", normalize_fingerprint(h)),
                CertificateMatch::SubjectCn(cn) => format!("cn:{cn}"),
            };
            if let Some(other) = seen_certs.insert(key, a.name.clone()) {
                return Err(SandboxError::Config(format!(
                    "accounts {other} and {} are bound to the same certificate",
                    a.name
                )));
            }
            if a.identifiers.is_empty() {
                return Err(SandboxError::Config(format!(
                    "account {} has no identifier",
                    a.name
                )));
            }
            for id in &a.identifiers {
                if let Some(other) = seen_ids.insert(id.value.clone(), a.name.clone()) {
                    return Err(SandboxError::Config(format!(
                        "identifier {} belongs to accounts {other} and {}",
                        id.value, a.name
                    )));
                }
            }
        }
        let mut paths = vec![config.paths];
        paths.extend(config.also_paths);
        check_paths(&paths)?;
        let tls = server::tls_config(&config.tls)?;
        let accounts = config
            .accounts
            .into_iter()
            .map(|c| {
                Mutex::new(Account {
                    active: c.active,
                    config: c,
                })
            })
            .collect();
        Ok(Sandbox {
            shared: Arc::new(Shared {
                accounts,
                paths,
                iterator_lifetime: config.iterator_lifetime,
                require_issued_message_ids: config.require_issued_message_ids,
                check_xml_payloads: config.check_xml_payloads,
                store: Mutex::new(store::Store::default()),
                max_message_bytes: AtomicU64::new(config.max_message_bytes),
                response_encoding: Mutex::new(config.response_encoding),
                down_until: Mutex::new(None),
                technical_faults: AtomicU64::new(0),
                recording: Mutex::new(None),
                requests: AtomicU64::new(0),
                server_identity: Mutex::new("amtsbote-sandbox-xta".into()),
            }),
            tls: Arc::new(tls),
            max_connections: config.max_connections.max(1),
        })
    }

    /// Fault injection and inspection (also before serving, e.g. to seed mailboxes).
    pub fn control(&self) -> SandboxControl {
        SandboxControl {
            shared: self.shared.clone(),
        }
    }

    /// Serves on `addr` (port 0 for any free port) in a background task.
    pub async fn spawn(self, addr: SocketAddr) -> Result<RunningSandbox, SandboxError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(SandboxError::Bind)?;
        let local = listener.local_addr().map_err(SandboxError::Bind)?;
        let host = if local.ip().is_loopback() {
            match local {
                SocketAddr::V4(_) => "127.0.0.1".to_string(),
                SocketAddr::V6(_) => "[::1]".to_string(),
            }
        } else {
            local.ip().to_string()
        };
        let base_url = format!("https://{host}:{}", local.port());
        *lock(&self.shared.server_identity) = base_url.clone();
        let primary = &self.shared.paths[0];
        let endpoints = Endpoints {
            management: format!("{base_url}{}", primary.management),
            send: format!("{base_url}{}", primary.send),
            msg_box: format!("{base_url}{}", primary.msg_box),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(
            listener,
            self.tls.clone(),
            self.shared.clone(),
            self.max_connections,
            shutdown_rx,
        ));
        tracing::info!(%base_url, "sandbox XTA server listening");
        Ok(RunningSandbox {
            base_url,
            endpoints,
            addr: local,
            control: self.control(),
            shutdown,
            task: Some(task),
        })
    }
}

/// A serving sandbox. Dropping it stops the server.
pub struct RunningSandbox {
    /// `https://127.0.0.1:<port>`.
    pub base_url: String,
    /// The three port URLs, for [`crate::client::ClientConfig`].
    pub endpoints: Endpoints,
    /// Bound address.
    pub addr: SocketAddr,
    /// Fault injection and inspection.
    pub control: SandboxControl,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RunningSandbox {
    /// Stops accepting, lets open requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Fault injection and inspection for tests, the demo and the CLI.
#[derive(Clone)]
pub struct SandboxControl {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SandboxControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxControl").finish_non_exhaustive()
    }
}

impl SandboxControl {
    /// Answer every request with HTTP 503 for `duration`.
    pub fn go_down_for(&self, duration: Duration) {
        *lock(&self.shared.down_until) = Some(Instant::now() + duration);
    }

    /// End a downtime now.
    pub fn come_back(&self) {
        *lock(&self.shared.down_until) = None;
    }

    /// Answer the next `n` requests with `XTAWSTechnicalProblemException` 9030.
    pub fn fail_next_requests(&self, n: u64) {
        self.shared.technical_faults.store(n, Ordering::SeqCst);
    }

    /// Package answers as MTOM or with inline base64 from now on.
    pub fn set_response_encoding(&self, encoding: ContentEncoding) {
        *lock(&self.shared.response_encoding) = encoding;
    }

    /// Change the size limit for `sendMessage` containers.
    pub fn set_max_message_bytes(&self, bytes: u64) {
        self.shared.max_message_bytes.store(bytes, Ordering::SeqCst);
    }

    /// Lock (`false`) or unlock an account. Returns `false` if there is no such account.
    pub fn set_account_active(&self, name: &str, active: bool) -> bool {
        for a in &self.shared.accounts {
            let mut a = lock(a);
            if a.config.name == name {
                a.active = active;
                return true;
            }
        }
        false
    }

    /// Puts a message straight into its reader's mailbox, as if an author had sent it (to seed
    /// the demo). The same checks as `sendMessage` apply except the sender's permissions.
    pub fn deliver(
        &self,
        metadata: MessageMetaData,
        container: ContentContainer,
    ) -> Result<(), SandboxError> {
        ports::deliver(&self.shared, None, metadata, container)
            .map_err(|refusal| SandboxError::Refused(refusal.to_string()))
    }

    /// The mailbox of `identifier`, oldest first, closed messages included.
    pub fn mailbox(&self, identifier: &str) -> Vec<MailboxEntry> {
        lock(&self.shared.store).mailbox(identifier)
    }

    /// Requests received so far.
    pub fn requests_served(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Record every exchange from now on (bodies included; for conformance tests).
    pub fn start_recording(&self) {
        *lock(&self.shared.recording) = Some(Vec::new());
    }

    /// The exchanges recorded since [`start_recording`](Self::start_recording); recording
    /// stops.
    pub fn take_recording(&self) -> Vec<RecordedExchange> {
        lock(&self.shared.recording).take().unwrap_or_default()
    }
}
