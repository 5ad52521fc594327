//! A local FIT-Connect Zustelldienst for one destination, set up from a directory: what
//! `amtsbote sandbox fit-connect` runs, what the demo uses, and what a municipality connects
//! a new online service to in development.
//!
//! The directory holds the destination's key pair (made on first use, like
//! `amtsbote keys generate` would), the secrets of the subscriber and sender clients, and a
//! `sandbox.json` telling senders where to find it. The matching broker configuration is
//! printed by [`Setup::source_toml`].

use amtsbote_fit_connect::callback::CallbackSecret;
use amtsbote_fit_connect::client::{ClientConfig, ClientCredentials, SubmissionClient};
use amtsbote_fit_connect::jose::{Jwk, PrivateKey, generate_destination_keys};
use amtsbote_fit_connect::sandbox::{
    CallbackConfig, DestinationConfig, RunningSandbox, Sandbox, SandboxConfig,
};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What a sender needs to submit to a running sandbox (`sandbox.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub submission_api: String,
    pub token_url: String,
    pub destination_id: String,
    pub sender_client_id: String,
    pub sender_client_secret: String,
}

/// Keys and credentials of one sandbox destination, kept in a directory.
pub struct Setup {
    pub dir: PathBuf,
    pub destination_id: String,
    pub encryption: Jwk,
    pub signing: Jwk,
    pub subscriber_id: String,
    pub subscriber_secret: String,
    pub sender_id: String,
    pub sender_secret: String,
    pub callback_secret: String,
    /// The Zustelldienst's own signing key, if one is given (else the sandbox makes one).
    pub zustelldienst_key: Option<PrivateKey>,
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    crate::at_rest::write_private(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads `name` from `dir`, or writes `make()` there first.
fn read_or_make(dir: &Path, name: &str, make: impl FnOnce() -> Result<String>) -> Result<String> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = make()?;
            write_private(&path, &text)?;
            Ok(text)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Setup {
    /// Loads the setup from `dir`, making what is missing (RSA-4096 keys take a few seconds).
    pub fn load_or_create(dir: &Path) -> Result<Setup> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Absolute, so the broker configuration printed for it works from any directory.
        let dir = &std::fs::canonicalize(dir)?;
        let mut generated = None;
        let mut key = |name: &str,
                       pick: fn(&amtsbote_fit_connect::jose::GeneratedKeys) -> &Jwk|
         -> Result<Jwk> {
            let text = read_or_make(dir, name, || {
                if generated.is_none() {
                    generated = Some(generate_destination_keys().context("cannot generate keys")?);
                }
                Ok(pick(generated.as_ref().expect("generated above")).to_json())
            })?;
            Jwk::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(name).display()))
        };
        let encryption = key("encryption.private.jwk.json", |g| &g.encryption.private)?;
        let signing = key("signing.private.jwk.json", |g| &g.signing.private)?;
        let zustelldienst_key =
            match std::fs::read_to_string(dir.join("zustelldienst.private.jwk.json")) {
                Ok(text) => Some(
                    PrivateKey::from_jwk_json(&text)
                        .map_err(|e| anyhow::anyhow!("zustelldienst key: {e}"))?,
                ),
                Err(_) => None,
            };
        Ok(Setup {
            destination_id: read_or_make(dir, "destination-id", || {
                Ok(uuid::Uuid::new_v4().to_string())
            })?,
            subscriber_id: read_or_make(dir, "subscriber-client-id", || Ok(random()))?,
            subscriber_secret: read_or_make(dir, "subscriber-client.secret", || Ok(random()))?,
            sender_id: read_or_make(dir, "sender-client-id", || Ok(random()))?,
            sender_secret: read_or_make(dir, "sender-client.secret", || Ok(random()))?,
            callback_secret: read_or_make(dir, "callback.secret", || Ok(random()))?,
            dir: dir.to_path_buf(),
            encryption,
            signing,
            zustelldienst_key,
        })
    }

    /// Starts the sandbox on `listen`; callbacks go to `callback_url` if given.
    pub async fn start(
        &self,
        listen: SocketAddr,
        callback_url: Option<String>,
    ) -> Result<RunningSandbox> {
        let mut destination = DestinationConfig::new(
            &self.destination_id,
            self.encryption.to_public(),
            self.signing.to_public(),
            ClientCredentials::new(&self.subscriber_id, &self.subscriber_secret),
        );
        destination.callback = callback_url.map(|url| CallbackConfig {
            url,
            secret: CallbackSecret::new(self.callback_secret.as_bytes().to_vec()),
        });
        let sandbox = Sandbox::new(SandboxConfig {
            destinations: vec![destination],
            senders: vec![ClientCredentials::new(&self.sender_id, &self.sender_secret)],
            signing_key: self.zustelldienst_key.clone(),
            ..Default::default()
        })?;
        let running = sandbox.spawn(listen).await?;
        let info = SandboxInfo {
            submission_api: running.base_url.clone(),
            token_url: running.token_url.clone(),
            destination_id: self.destination_id.clone(),
            sender_client_id: self.sender_id.clone(),
            sender_client_secret: self.sender_secret.clone(),
        };
        write_private(
            &self.dir.join("sandbox.json"),
            &serde_json::to_string_pretty(&info)?,
        )?;
        Ok(running)
    }

    /// The broker configuration of this destination as a tenant's source.
    pub fn source_toml(&self, tenant: &str, source: &str, running: &RunningSandbox) -> String {
        let d = self.dir.display();
        format!(
            r#"[tenants.{tenant}.sources.{source}]
kind = "fit-connect"
destination_id = "{dest}"
submission_api = "{api}"
token_url = "{token}"
client_id = "{client}"
client_secret = {{ file = "{d}/subscriber-client.secret" }}
decryption_keys = [{{ file = "{d}/encryption.private.jwk.json" }}]
signing_key = {{ file = "{d}/signing.private.jwk.json" }}
callback_secret = {{ file = "{d}/callback.secret" }}
poll_interval = "10s"
"#,
            dest = self.destination_id,
            api = running.base_url,
            token = running.token_url,
            client = self.subscriber_id,
        )
    }
}

/// A sender client for a sandbox described by `sandbox.json`.
pub fn sender_client(info: &SandboxInfo) -> Result<SubmissionClient> {
    let credentials = ClientCredentials::new(&info.sender_client_id, &info.sender_client_secret);
    Ok(SubmissionClient::new(ClientConfig::new(
        &info.submission_api,
        &info.token_url,
        credentials,
    ))?)
}
