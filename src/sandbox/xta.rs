//! A local XTA server with mailboxes, set up from a directory: what `amtsbote sandbox xta`
//! runs, what the demo, the benchmark and the tests use, and what a municipality points a
//! Fachverfahren or the broker at before it has an XTA provider's test account.
//!
//! The directory holds a test CA (`ca.pem`, `ca.key`), the server certificate for
//! localhost/127.0.0.1, and one PKCS#12 client certificate per account (`<account>.p12`,
//! protected by the password in `p12.password`), made on first use and reused afterwards —
//! see [`amtsbote_xta::sandbox::local_sandbox`]. [`Setup::source_toml`] prints the broker
//! configuration for a mailbox; [`sample_message`] turns an XÖV document into an XTA message
//! as an author's Fachverfahren would send it.

use amtsbote_xta::XtaClient;
use amtsbote_xta::client::{
    ClientConfig, ClientIdentity, Endpoints, OutgoingMessage, TrustAnchors,
};
use amtsbote_xta::metadata::{BusinessScenario, KeyCode, MessageType, Qualifier};
use amtsbote_xta::sandbox::{LocalAccount, LocalSandbox, local_sandbox};
use amtsbote_xta::sandbox::{RunningSandbox, Sandbox};
use amtsbote_xta::{Content, ContentContainer, MessageMetaData, PartyIdentifier};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The author the sandbox's sample messages come from (a Kreis, as `ags:` key).
pub const SAMPLE_AUTHOR: &str = "ags:09162000";

/// Name of the file holding the client certificates' password.
pub const PASSWORD_FILE: &str = "p12.password";

/// The account every local sandbox has for sending sample messages (`amtsbote sandbox
/// xta-send`), acting as [`SAMPLE_AUTHOR`].
pub const SENDER_ACCOUNT: &str = "sender";

/// What a sender needs to reach a running sandbox (`sandbox-xta.json` in its directory).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// Base URL of the running XTA server.
    pub endpoint: String,
}

/// Test PKI and accounts of a local XTA sandbox, kept in a directory.
pub struct Setup {
    pub dir: PathBuf,
    pub local: LocalSandbox,
    pub accounts: Vec<LocalAccount>,
}

impl Setup {
    /// Loads the directory's CA and client certificates, creating whatever is missing.
    /// `accounts` are `name=prefix:kennung[,prefix:kennung…]`; the password of the PKCS#12
    /// files is read from `p12.password` (written with a random one on first use).
    pub fn load_or_create(dir: &Path, accounts: &[String]) -> Result<Setup> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let password_file = dir.join(PASSWORD_FILE);
        let password = match std::fs::read_to_string(&password_file) {
            Ok(p) => p.trim().to_string(),
            Err(_) => {
                let p = format!("sandbox-{}", uuid::Uuid::new_v4().simple());
                write_private(&password_file, &p)?;
                p
            }
        };
        let mut parsed = Vec::new();
        for a in accounts {
            let Some((name, ids)) = a.split_once('=') else {
                bail!("account `{a}`: give it as name=prefix:kennung, e.g. cottbus=ags:12052000");
            };
            let identifiers: Vec<PartyIdentifier> = ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PartyIdentifier::xoev)
                .collect();
            if identifiers.is_empty()
                || identifiers
                    .iter()
                    .any(|i| !crate::inbound::xta::valid_reader(&i.value))
            {
                bail!("account `{a}`: identifiers are prefix:kennung, e.g. ags:12052000");
            }
            parsed.push(LocalAccount {
                name: name.trim().to_string(),
                identifiers,
            });
        }
        if !parsed.iter().any(|a| a.name == SENDER_ACCOUNT) {
            parsed.push(LocalAccount {
                name: SENDER_ACCOUNT.into(),
                identifiers: vec![PartyIdentifier::xoev(SAMPLE_AUTHOR)],
            });
        }
        let local = local_sandbox(dir, &parsed, &password).with_context(|| {
            format!(
                "cannot set up the XTA sandbox certificates in {}",
                dir.display()
            )
        })?;
        Ok(Setup {
            dir: dir.to_path_buf(),
            local,
            accounts: parsed,
        })
    }

    /// Starts the XTA server on `addr` and writes `sandbox-xta.json` for senders.
    pub async fn start(&self, addr: SocketAddr) -> Result<RunningSandbox> {
        let sandbox = Sandbox::new(self.local.config.clone())?;
        let running = sandbox.spawn(addr).await?;
        let info = SandboxInfo {
            endpoint: running.base_url.clone(),
        };
        std::fs::write(
            self.dir.join("sandbox-xta.json"),
            serde_json::to_vec_pretty(&info)?,
        )
        .with_context(|| format!("cannot write {}/sandbox-xta.json", self.dir.display()))?;
        Ok(running)
    }

    /// The PKCS#12 file of `account`.
    pub fn pkcs12(&self, account: &str) -> Option<&Path> {
        self.local
            .clients
            .iter()
            .find(|c| c.account == account)
            .map(|c| c.pkcs12.as_path())
    }

    /// Broker configuration for reading `reader` with `account`'s certificate.
    pub fn source_toml(
        &self,
        tenant: &str,
        source: &str,
        account: &str,
        reader: &str,
        running: &RunningSandbox,
    ) -> String {
        let p12 = self
            .pkcs12(account)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        // Port URLs only where the sandbox's first layout is not the broker's default one.
        let defaults = Endpoints::from_base(&running.base_url);
        let mut ports = String::new();
        if running.endpoints.msg_box != defaults.msg_box {
            ports += &format!("msg_box_url = \"{}\"\n", running.endpoints.msg_box);
        }
        if running.endpoints.management != defaults.management {
            ports += &format!("management_url = \"{}\"\n", running.endpoints.management);
        }
        format!(
            r#"[tenants.{tenant}.sources.{source}]
kind = "xta"
endpoint = "{endpoint}"
{ports}client_certificate = "{p12}"
client_certificate_password = {{ file = "{password}" }}
ca_certificate = "{ca}"
reader = "{reader}"
poll_interval = "5s"
"#,
            endpoint = running.base_url,
            password = self.dir.join(PASSWORD_FILE).display(),
            ca = self.local.ca_pem.display(),
        )
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    crate::at_rest::write_private(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A fresh XTA MessageID (as `createMessageId` would issue one).
pub fn new_message_id() -> String {
    format!(
        "urn:de:xta:messageid:amtsbote-sandbox:{}",
        uuid::Uuid::new_v4()
    )
}

/// An XÖV document (and attachments: file name, content type, bytes) as an XTA message from
/// `author` to `reader`. The qualifier follows the document: the service URI and payload
/// schema are its namespace, the business scenario is `<STANDARD>_DATA` and the message type
/// its XÖV message code (sandbox conventions; real services publish theirs in the DVDV).
pub fn sample_message(
    xml: &[u8],
    author: &str,
    reader: &str,
    attachments: Vec<(String, String, Vec<u8>)>,
) -> Result<(MessageMetaData, ContentContainer)> {
    let sniffed = amtsbote_xoev::inspect(xml, &amtsbote_xoev::Limits::default())
        .context("the sample message is not an XÖV document")?;
    let namespace = sniffed.namespace.clone().unwrap_or_default();
    let standard = sniffed
        .standard
        .as_ref()
        .map(|s| s.key.to_string())
        .unwrap_or_else(|| "xoev".into());
    let code = sniffed
        .message_type
        .clone()
        .unwrap_or_else(|| sniffed.root.clone());
    let qualifier = Qualifier {
        subject: None,
        service: namespace.clone(),
        business_scenario: BusinessScenario::Defined(KeyCode::new(
            format!("{}_DATA", standard.to_ascii_uppercase()),
            "urn:de:dataport:codeliste:business.scenario",
            "1",
        )),
        message_type: MessageType {
            code: KeyCode::new(
                code,
                format!("urn:xoev-de:{standard}:codeliste:nachrichtentyp"),
                "1",
            ),
            payload_schema: namespace,
        },
    };
    let metadata = MessageMetaData::new(
        new_message_id(),
        PartyIdentifier::xoev(author),
        PartyIdentifier::xoev(reader),
        qualifier,
    );
    let mut container = ContentContainer::new(
        Content::new(xml.to_vec(), "application/xml")
            .with_filename(format!("{standard}.xml"))
            .with_encoding("UTF-8"),
    );
    for (filename, content_type, data) in attachments {
        container =
            container.with_attachment(Content::new(data, content_type).with_filename(filename));
    }
    Ok((metadata, container))
}

/// Sends an XÖV document (with attachments) to `reader` through a running sandbox in `dir`,
/// the way an author's Fachverfahren does: as the sender account, over mutual TLS,
/// `createMessageId` then `sendMessage`. Returns the MessageID.
pub async fn send_sample(
    dir: &Path,
    reader: &str,
    xml: &[u8],
    attachments: Vec<(String, String, Vec<u8>)>,
) -> Result<String> {
    let info: SandboxInfo = serde_json::from_slice(
        &std::fs::read(dir.join("sandbox-xta.json")).with_context(|| {
            format!(
                "{}/sandbox-xta.json (is the sandbox running?)",
                dir.display()
            )
        })?,
    )?;
    let password = std::fs::read_to_string(dir.join(PASSWORD_FILE))
        .with_context(|| format!("cannot read {}/{PASSWORD_FILE}", dir.display()))?;
    let mut config = ClientConfig::new(Endpoints::from_base(&info.endpoint));
    config.identity = Some(ClientIdentity::from_pkcs12_file(
        dir.join(format!("{SENDER_ACCOUNT}.p12")),
        password.trim(),
    )?);
    config.trust = Some(TrustAnchors::from_pem_file(dir.join("ca.pem"))?);
    config.builtin_roots = false;
    config.author = Some(PartyIdentifier::xoev(SAMPLE_AUTHOR));
    let client = XtaClient::new(config)?;
    let (mut metadata, container) = sample_message(xml, SAMPLE_AUTHOR, reader, attachments)?;
    metadata.message_id = client.create_message_id().await?;
    let id = metadata.message_id.clone();
    client
        .send_message(&OutgoingMessage {
            metadata,
            container,
        })
        .await?;
    Ok(id)
}
