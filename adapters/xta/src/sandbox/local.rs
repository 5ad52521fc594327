//! A sandbox on this machine in one call: the test PKI, a client certificate per account,
//! and the configuration binding each account to its certificate (what `amtsbote sandbox`
//! and the demo start).

use std::path::Path;

use super::{AccountConfig, SandboxConfig};
use crate::PartyIdentifier;
use crate::pki::{ClientCertificate, ClientValidity, KeyKind, PkiError, TestPki};

/// An account of a local sandbox: its name (also the certificate's CN and file name) and
/// the identities (`prefix:kennung`) it acts as.
#[derive(Debug, Clone)]
pub struct LocalAccount {
    /// Account name.
    pub name: String,
    /// Identities; each is a mailbox.
    pub identifiers: Vec<PartyIdentifier>,
}

/// A client of a local sandbox: where its PKCS#12 file is.
#[derive(Debug, Clone)]
pub struct LocalClient {
    /// Account name.
    pub account: String,
    /// `<dir>/<account>.p12`.
    pub pkcs12: std::path::PathBuf,
    /// The certificate.
    pub certificate: ClientCertificate,
}

/// What [`local_sandbox`] prepared.
#[derive(Debug, Clone)]
pub struct LocalSandbox {
    /// Sandbox configuration with TLS and the accounts bound to their certificates.
    pub config: SandboxConfig,
    /// `<dir>/ca.pem`: the trust anchor clients need for the server certificate.
    pub ca_pem: std::path::PathBuf,
    /// One client per account.
    pub clients: Vec<LocalClient>,
}

/// Everything `amtsbote sandbox` needs in one call: loads the test PKI from `dir` or creates
/// it there, issues a PKCS#12 client certificate (RSA 2048, one year, protected by
/// `password`) for each account that has none in `dir` yet — existing ones are reused, so
/// configured clients keep working across restarts — and binds each account to its
/// certificate's fingerprint.
pub fn local_sandbox(
    dir: &Path,
    accounts: &[LocalAccount],
    password: &str,
) -> Result<LocalSandbox, PkiError> {
    let pki = TestPki::load_or_generate(dir)?;
    let mut clients = Vec::new();
    let mut configs = Vec::new();
    for account in accounts {
        let pkcs12 = dir.join(format!("{}.p12", account.name));
        let certificate = if pkcs12.exists() {
            ClientCertificate::load(dir, &account.name, password)?
        } else {
            let c = pki.issue_client(
                &account.name,
                password,
                KeyKind::Rsa2048,
                ClientValidity::days(365),
            )?;
            c.write_to(dir)?;
            c
        };
        configs.push(AccountConfig::for_certificate(
            account.name.clone(),
            &certificate,
            account.identifiers.clone(),
        ));
        clients.push(LocalClient {
            account: account.name.clone(),
            pkcs12,
            certificate,
        });
    }
    Ok(LocalSandbox {
        config: SandboxConfig::new(pki.sandbox_tls()?, configs),
        ca_pem: dir.join("ca.pem"),
        clients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_sandbox_from_files_serves_clients_configured_from_files() {
        use crate::client::{ClientConfig, ClientIdentity, TrustAnchors, XtaClient};
        let dir = tempfile::tempdir().unwrap();
        let accounts = [LocalAccount {
            name: "tenant-a".into(),
            identifiers: vec![PartyIdentifier::xoev("ags:12052000")],
        }];
        let local = local_sandbox(dir.path(), &accounts, "pw").unwrap();
        let again = local_sandbox(dir.path(), &accounts, "pw").unwrap();
        assert_eq!(
            local.clients[0].certificate.fingerprint_sha256,
            again.clients[0].certificate.fingerprint_sha256,
            "reused, not reissued"
        );
        assert!(local_sandbox(dir.path(), &accounts, "other").is_err());
        let running = crate::sandbox::Sandbox::new(again.config)
            .unwrap()
            .spawn("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut config = ClientConfig::new(running.endpoints.clone());
        config.identity =
            Some(ClientIdentity::from_pkcs12_file(&local.clients[0].pkcs12, "pw").unwrap());
        config.trust = Some(TrustAnchors::from_pem_file(&local.ca_pem).unwrap());
        config.builtin_roots = false;
        let client = XtaClient::new(config).unwrap();
        client.check_account_active().await.unwrap();
        let identity = client.config().identity.as_ref().unwrap();
        let year = time::OffsetDateTime::now_utc().unix_timestamp() + 360 * 86_400;
        assert!(identity.expires_at_unix() > year);
        running.shutdown().await;
    }
}
