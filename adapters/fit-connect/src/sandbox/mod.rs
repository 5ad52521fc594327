//! A sandbox Zustelldienst: the FIT-Connect Submission API v1 and a token endpoint, in process,
//! in memory. Tests, the demo and `amtsbote sandbox fit-connect` run it so that senders and
//! subscribers — ours or anyone's — can be exercised without FITKO's test environment: point a
//! client's base URL and token URL at it and it behaves like the real service as far as
//! PROTOCOLS.md and FITKO's public docs describe it (paths, JSON field names, status codes,
//! content types; see [`routes`] for what is *unverified*).
//!
//! It implements: OAuth2 client credentials with configurable token lifetime; destinations
//! with their public keys; the sender API (announce, upload attachments, submit); the
//! subscriber API (list, fetch, attachments, case event log, posting SETs — verified against
//! the destination's registered signing key); the submission state machine ([`SubmissionState`]);
//! HMAC-authenticated callbacks; `/.well-known/jwks.json` with its own key, which signs the
//! `submit-submission` events it writes into each case's log. Clients see only their own
//! destinations' submissions.
//!
//! For tests, [`SandboxControl`] injects faults: take the service down (503) for a while, expire
//! every token now, shorten token lifetimes.

mod problem;
pub mod routes;
mod store;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use store::SubmissionState;

use crate::callback::CallbackSecret;
use crate::client::ClientCredentials;
use crate::jose::{JoseError, Jwk, KeyUse, PrivateKey, PublicKey};
use crate::wire::DestinationService;

/// Where the sandbox calls back when submissions arrive for a destination.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// The subscriber's callback URL.
    pub url: String,
    /// The shared secret for `callback-authentication`.
    pub secret: CallbackSecret,
}

/// A destination (Zustellpunkt) the sandbox serves.
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    /// Destination id (a UUID on the real service).
    pub destination_id: String,
    /// `active` accepts submissions; anything else is refused with `destination-state-invalid`.
    pub status: String,
    /// Public encryption key (must be RSA-4096 with `wrapKey`; its kid is the `encryptionKid`).
    pub encryption_key: Jwk,
    /// Public signing key the subscriber's SETs are verified with (RSA-4096, `verify`).
    pub signing_key: Jwk,
    /// Services accepted; empty accepts any service.
    pub services: Vec<DestinationService>,
    /// Metadata versions announced.
    pub metadata_versions: Vec<String>,
    /// The subscriber API client bound to this destination.
    pub subscriber: ClientCredentials,
    /// Callback, if the subscriber registered one.
    pub callback: Option<CallbackConfig>,
}

impl DestinationConfig {
    /// An active destination accepting any service, metadata 1.0.0, no callback.
    pub fn new(
        destination_id: impl Into<String>,
        encryption_key: Jwk,
        signing_key: Jwk,
        subscriber: ClientCredentials,
    ) -> Self {
        DestinationConfig {
            destination_id: destination_id.into(),
            status: "active".into(),
            encryption_key,
            signing_key,
            services: Vec::new(),
            metadata_versions: vec!["1.0.0".into()],
            subscriber,
            callback: None,
        }
    }
}

/// Sandbox configuration.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Destinations served.
    pub destinations: Vec<DestinationConfig>,
    /// Sender API clients (online services).
    pub senders: Vec<ClientCredentials>,
    /// Lifetime of issued tokens (FITKO: about 30 minutes).
    pub token_lifetime: Duration,
    /// Largest accepted request body (attachments).
    pub max_body_bytes: usize,
    /// The Zustelldienst's own signing key; generated (RSA-4096) when `None`.
    pub signing_key: Option<PrivateKey>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            destinations: Vec::new(),
            senders: Vec::new(),
            token_lifetime: Duration::from_secs(1800),
            max_body_bytes: 512 * 1024 * 1024,
            signing_key: None,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A configured key is unusable.
    #[error("destination {destination_id}: {source}")]
    Key {
        /// The destination.
        destination_id: String,
        /// Why.
        #[source]
        source: JoseError,
    },
    /// Generating the sandbox's own key failed.
    #[error("generating the sandbox signing key failed: {0}")]
    OwnKey(#[source] JoseError),
    /// Two configurations contradict each other.
    #[error("invalid sandbox configuration: {0}")]
    Config(String),
    /// Binding the listener failed.
    #[error("binding the sandbox listener failed")]
    Bind(#[source] std::io::Error),
}

pub(crate) struct Destination {
    pub config: DestinationConfig,
    pub signing_key: PublicKey,
}

#[derive(Debug, Clone)]
pub(crate) enum Role {
    Sender,
    Subscriber(HashSet<String>),
}

pub(crate) struct Client {
    pub credentials: ClientCredentials,
    pub role: Role,
}

/// One callback the sandbox tried to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackDelivery {
    /// Destination.
    pub destination_id: String,
    /// Submission announced.
    pub submission_id: String,
    /// HTTP status of the last attempt (None: connection failed).
    pub status: Option<u16>,
    /// Attempts made.
    pub attempts: u32,
}

pub(crate) struct Shared {
    pub destinations: HashMap<String, Destination>,
    pub clients: HashMap<String, Client>,
    pub store: Mutex<store::Store>,
    pub tokens: Mutex<HashMap<String, store::TokenRecord>>,
    pub token_lifetime: Mutex<Duration>,
    pub down_until: Mutex<Option<Instant>>,
    pub own_key: PrivateKey,
    pub issuer: RwLock<String>,
    pub callbacks: Mutex<Vec<CallbackDelivery>>,
    pub http: reqwest::Client,
    pub unavailable_answers: AtomicU64,
    pub tokens_issued: AtomicU64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking handler must not take the whole sandbox down with a poisoned lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A configured sandbox, not yet serving.
#[derive(Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
    max_body_bytes: usize,
}

impl Sandbox {
    /// Checks the configuration (keys RSA-4096 with the right `key_ops`, client ids unique per
    /// role) and builds the sandbox.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let mut destinations = HashMap::new();
        let mut clients: HashMap<String, Client> = HashMap::new();
        for d in config.destinations {
            let key_err = |source| SandboxError::Key {
                destination_id: d.destination_id.clone(),
                source,
            };
            let enc = PublicKey::from_jwk(&d.encryption_key).map_err(key_err)?;
            enc.check_destination_key(KeyUse::Encryption)
                .map_err(key_err)?;
            if enc.kid().is_none() {
                return Err(SandboxError::Config(format!(
                    "destination {}: the encryption key needs a kid",
                    d.destination_id
                )));
            }
            let sig = PublicKey::from_jwk(&d.signing_key).map_err(key_err)?;
            sig.check_destination_key(KeyUse::Signing)
                .map_err(key_err)?;
            match clients.get_mut(&d.subscriber.client_id) {
                Some(Client {
                    role: Role::Subscriber(set),
                    ..
                }) => {
                    set.insert(d.destination_id.clone());
                }
                Some(_) => {
                    return Err(SandboxError::Config(format!(
                        "client {} is configured as sender and subscriber",
                        d.subscriber.client_id
                    )));
                }
                None => {
                    clients.insert(
                        d.subscriber.client_id.clone(),
                        Client {
                            credentials: d.subscriber.clone(),
                            role: Role::Subscriber(HashSet::from([d.destination_id.clone()])),
                        },
                    );
                }
            }
            destinations.insert(
                d.destination_id.clone(),
                Destination {
                    config: d,
                    signing_key: sig,
                },
            );
        }
        for s in config.senders {
            if clients.contains_key(&s.client_id) {
                return Err(SandboxError::Config(format!(
                    "client {} is configured twice",
                    s.client_id
                )));
            }
            clients.insert(
                s.client_id.clone(),
                Client {
                    credentials: s,
                    role: Role::Sender,
                },
            );
        }
        let own_key = match config.signing_key {
            Some(k) => k,
            None => {
                let pair = crate::jose::keys::generate_key_pair(
                    4096,
                    &format!("sandbox-zustelldienst-{}", uuid::Uuid::new_v4()),
                    KeyUse::Signing,
                )
                .map_err(SandboxError::OwnKey)?;
                PrivateKey::from_jwk(&pair.private).map_err(SandboxError::OwnKey)?
            }
        };
        if own_key.kid().is_none() {
            return Err(SandboxError::Config(
                "the sandbox signing key needs a kid".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SandboxError::Config(format!("HTTP client for callbacks: {e}")))?;
        Ok(Sandbox {
            shared: Arc::new(Shared {
                destinations,
                clients,
                store: Mutex::new(store::Store::default()),
                tokens: Mutex::new(HashMap::new()),
                token_lifetime: Mutex::new(config.token_lifetime),
                down_until: Mutex::new(None),
                own_key,
                issuer: RwLock::new("urn:amtsbote:sandbox-zustelldienst".into()),
                callbacks: Mutex::new(Vec::new()),
                http,
                unavailable_answers: AtomicU64::new(0),
                tokens_issued: AtomicU64::new(0),
            }),
            max_body_bytes: config.max_body_bytes,
        })
    }

    /// The axum router (token endpoint at `/token`, Submission API under `/v1`).
    pub fn router(&self) -> Router {
        routes::router(self.shared.clone(), self.max_body_bytes)
    }

    /// Fault injection and inspection.
    pub fn control(&self) -> SandboxControl {
        SandboxControl {
            shared: self.shared.clone(),
        }
    }

    /// Serves on `addr` (port 0 for any free port) in a background task.
    pub async fn spawn(self, addr: SocketAddr) -> Result<RunningSandbox, SandboxError> {
        let listener = TcpListener::bind(addr).await.map_err(SandboxError::Bind)?;
        let local = listener.local_addr().map_err(SandboxError::Bind)?;
        let base_url = format!("http://{local}");
        *self
            .shared
            .issuer
            .write()
            .unwrap_or_else(|p| p.into_inner()) = base_url.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let router = self.router();
        // The same hardened edge as the broker's, stopped gracefully by `rx`.
        let task = tokio::spawn(amtsbote_listener::serve(
            listener,
            amtsbote_listener::Limits::default(),
            router,
            async {
                let _ = rx.await;
            },
        ));
        tracing::info!(%base_url, "sandbox Zustelldienst listening");
        Ok(RunningSandbox {
            token_url: format!("{base_url}/token"),
            base_url,
            addr: local,
            control: self.control(),
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A serving sandbox. Dropping it stops the server.
pub struct RunningSandbox {
    /// Submission API base URL (`http://127.0.0.1:<port>`).
    pub base_url: String,
    /// Token endpoint URL.
    pub token_url: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// Fault injection.
    pub control: SandboxControl,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Fault injection and inspection for tests.
#[derive(Clone)]
pub struct SandboxControl {
    shared: Arc<Shared>,
}

impl SandboxControl {
    /// Answer every request with 503 for `duration`.
    pub fn go_down_for(&self, duration: Duration) {
        *lock(&self.shared.down_until) = Some(Instant::now() + duration);
    }

    /// End a downtime now.
    pub fn come_back(&self) {
        *lock(&self.shared.down_until) = None;
    }

    /// Invalidate every issued token now (clients get 401 and must fetch a new one).
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *lock(&self.shared.token_lifetime) = lifetime;
    }

    /// State of a submission.
    pub fn submission_state(&self, submission_id: &str) -> Option<SubmissionState> {
        lock(&self.shared.store)
            .submissions
            .get(submission_id)
            .map(|s| s.state)
    }

    /// The case event log (compact SETs) of a case.
    pub fn case_events(&self, case_id: &str) -> Vec<String> {
        lock(&self.shared.store)
            .cases
            .get(case_id)
            .map(|c| c.events.clone())
            .unwrap_or_default()
    }

    /// Callbacks attempted so far.
    pub fn callback_deliveries(&self) -> Vec<CallbackDelivery> {
        lock(&self.shared.callbacks).clone()
    }

    /// How many requests were answered 503 by fault injection.
    pub fn unavailable_answers(&self) -> u64 {
        self.shared.unavailable_answers.load(Ordering::Relaxed)
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.tokens_issued.load(Ordering::Relaxed)
    }

    /// The sandbox's own public signing key (as in `/.well-known/jwks.json`).
    pub fn zustelldienst_key(&self) -> PublicKey {
        self.shared.own_key.public_key()
    }
}
