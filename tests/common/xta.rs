//! A sandbox XTA server in the test process over mutual TLS: a test CA, accounts bound to
//! client certificates (written as PKCS#12 files for the broker), expired and foreign
//! certificates, and the broker configuration for a mailbox.
#![allow(dead_code)]

use amtsbote::sandbox::xta::{SAMPLE_AUTHOR, sample_message};
use amtsbote_xta::PartyIdentifier;
use amtsbote_xta::pki::{ClientCertificate, ClientValidity, KeyKind, TestPki};
use amtsbote_xta::sandbox::{
    AccountConfig, MailboxEntry, RunningSandbox, Sandbox, SandboxConfig, SandboxControl,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "xta-Kennwort-7";
/// Mailbox of the tenant `cottbus`.
pub const COTTBUS: &str = "ags:12052000";
/// Mailbox of the tenant `beispielheim`.
pub const BEISPIELHEIM: &str = "ags:09999001";

pub struct Xta {
    pub dir: tempfile::TempDir,
    pub pki: TestPki,
    pub sandbox: RunningSandbox,
}

impl Xta {
    /// A sandbox with one account per `(name, mailbox)`; each gets `<name>.p12` (valid) and
    /// `<name>-expired.p12`; `foreign.p12` is issued by another CA under the first name.
    pub async fn start(accounts: &[(&str, &str)]) -> Xta {
        Self::start_with(accounts, |_| {}).await
    }

    /// As [`Xta::start`], after `configure` changed the sandbox configuration (port paths).
    pub async fn start_with(
        accounts: &[(&str, &str)],
        configure: impl FnOnce(&mut SandboxConfig),
    ) -> Xta {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate().unwrap();
        let mut configs = Vec::new();
        for (name, mailbox) in accounts {
            let cert = issue(&pki, name, ClientValidity::days(30));
            cert.write_to(dir.path()).unwrap();
            issue(&pki, &format!("{name}-expired"), ClientValidity::expired())
                .write_to(dir.path())
                .unwrap();
            configs.push(AccountConfig::for_certificate(
                *name,
                &cert,
                vec![PartyIdentifier::xoev(*mailbox)],
            ));
        }
        let foreign = TestPki::generate().unwrap();
        let mut f = issue(&foreign, accounts[0].0, ClientValidity::days(30));
        f.common_name = "foreign".into();
        f.write_to(dir.path()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).unwrap();
        std::fs::write(dir.path().join("p12.password"), PASSWORD).unwrap();
        let mut config = SandboxConfig::new(pki.sandbox_tls().unwrap(), configs);
        configure(&mut config);
        let sandbox = Sandbox::new(config)
            .unwrap()
            .spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Xta { dir, pki, sandbox }
    }

    pub fn control(&self) -> &SandboxControl {
        &self.sandbox.control
    }

    /// `[tenants.<tenant>.sources.<source>]` reading `mailbox` with `<cert>.p12`, plus
    /// `extra` lines (e.g. `max_list_items = 2`, a `[…filter]` table must come last).
    pub fn source(
        &self,
        tenant: &str,
        source: &str,
        cert: &str,
        mailbox: &str,
        extra: &str,
    ) -> String {
        format!(
            r#"
[tenants.{tenant}.sources.{source}]
kind = "xta"
endpoint = "{endpoint}"
client_certificate = "{p12}"
client_certificate_password = {{ file = "{password}" }}
ca_certificate = "{ca}"
reader = "{mailbox}"
poll_interval = "200ms"
{extra}
"#,
            endpoint = self.sandbox.base_url,
            p12 = self.path(&format!("{cert}.p12")).display(),
            password = self.path("p12.password").display(),
            ca = self.path("ca.pem").display(),
        )
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Puts an XÖV document with attachments into `mailbox`; returns its XTA MessageID.
    pub fn deliver(
        &self,
        xml: &[u8],
        mailbox: &str,
        attachments: Vec<(&str, &str, Vec<u8>)>,
    ) -> String {
        let attachments = attachments
            .into_iter()
            .map(|(n, t, d)| (n.to_string(), t.to_string(), d))
            .collect();
        let (metadata, container) =
            sample_message(xml, SAMPLE_AUTHOR, mailbox, attachments).unwrap();
        let id = metadata.message_id.clone();
        self.control().deliver(metadata, container).unwrap();
        id
    }

    pub fn entry(&self, mailbox: &str, message_id: &str) -> MailboxEntry {
        self.control()
            .mailbox(mailbox)
            .into_iter()
            .find(|e| e.message_id == message_id)
            .expect("in the mailbox")
    }

    /// Waits until the message is closed at the server.
    pub async fn wait_closed(&self, mailbox: &str, message_id: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.entry(mailbox, message_id).closed {
            assert!(
                Instant::now() < deadline,
                "{message_id} not closed after {secs} s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the server has answered `n` more requests (poll rounds happened), so that
    /// "still not fetched" is asserted after real rounds, not after some wall-clock time.
    pub async fn wait_requests(&self, n: u64, secs: u64) {
        let start = self.control().requests_served();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.control().requests_served() < start + n {
            assert!(Instant::now() < deadline, "the broker stopped polling");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn issue(pki: &TestPki, name: &str, validity: ClientValidity) -> ClientCertificate {
    pki.issue_client(name, PASSWORD, KeyKind::EcP256, validity)
        .unwrap()
}
