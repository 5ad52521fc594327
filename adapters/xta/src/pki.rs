//! Test certificates for the sandbox and its clients, made with OpenSSL: a CA, a server
//! certificate for `localhost`/`127.0.0.1`/`::1`, and client certificates as PKCS#12 files —
//! also deliberately expired ones. `amtsbote sandbox` and the tests call this; nothing here is
//! meant for production keys.
//!
//! ```no_run
//! # fn main() -> Result<(), amtsbote_xta::pki::PkiError> {
//! use amtsbote_xta::pki::{ClientValidity, KeyKind, TestPki};
//! let pki = TestPki::load_or_generate("sandbox-pki".as_ref())?;
//! let tenant = pki.issue_client("tenant-a", "changeit", KeyKind::Rsa2048, ClientValidity::days(365))?;
//! tenant.write_to("sandbox-pki".as_ref())?; // sandbox-pki/tenant-a.p12 (+ .pem)
//! # Ok(()) }
//! ```
//!
//! Files written by [`TestPki::write_to`]: `ca.pem`, `ca.key`, `server.pem` (certificate and
//! CA), `server.key`; keys are readable by the owner only. [`crate::sandbox::local_sandbox`]
//! does all of it for a list of accounts and returns a ready sandbox configuration:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use amtsbote_xta::PartyIdentifier;
//! use amtsbote_xta::sandbox::{LocalAccount, local_sandbox};
//! use amtsbote_xta::sandbox::Sandbox;
//! let local = local_sandbox(
//!     "sandbox-pki".as_ref(),
//!     &[LocalAccount { name: "tenant-a".into(), identifiers: vec![PartyIdentifier::xoev("ags:12052000")] }],
//!     "changeit",
//! )?;
//! let running = Sandbox::new(local.config)?.spawn("127.0.0.1:8443".parse()?).await?;
//! println!("MsgBoxPort: {}  client: {}  CA: {}", running.endpoints.msg_box,
//!          local.clients[0].pkcs12.display(), local.ca_pem.display());
//! # Ok(()) }
//! ```

use std::path::Path;

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

use crate::client::ClientIdentity;

/// The server's TLS material (PEM).
#[derive(Clone)]
pub struct SandboxTls {
    /// Server certificate followed by its chain.
    pub certificate_chain_pem: Vec<u8>,
    /// The server's private key (PKCS#8, SEC1 or PKCS#1).
    pub private_key_pem: Vec<u8>,
    /// CA certificate(s) client certificates must be issued by.
    pub client_ca_pem: Vec<u8>,
}

impl std::fmt::Debug for SandboxTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxTls").finish_non_exhaustive()
    }
}

/// Creating, reading or writing test certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// OpenSSL refused.
    #[error("creating test certificates failed: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    /// An existing PKCS#12 file does not open with the password given.
    #[error("{path}: cannot open the PKCS#12 file with the password given")]
    Pkcs12 {
        /// The file.
        path: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Key algorithm of a generated certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 (fast to generate; good for tests).
    EcP256,
    /// RSA 2048 (what XTA providers usually issue).
    Rsa2048,
}

/// Validity of a client certificate relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientValidity {
    /// Valid from this many days ago.
    pub from_days_ago: i64,
    /// Valid until this many days from now (negative: already expired).
    pub until_days_from_now: i64,
}

impl ClientValidity {
    /// Valid from yesterday for `days` days.
    pub fn days(days: i64) -> Self {
        ClientValidity {
            from_days_ago: 1,
            until_days_from_now: days,
        }
    }

    /// Expired yesterday (valid for the 30 days before).
    pub fn expired() -> Self {
        ClientValidity {
            from_days_ago: 31,
            until_days_from_now: -1,
        }
    }
}

/// A client certificate as an XTA provider hands it out: PKCS#12 with key and chain.
#[derive(Clone)]
pub struct ClientCertificate {
    /// The certificate's common name (also the file name stem).
    pub common_name: String,
    /// The PKCS#12 file (key, certificate, CA), encrypted with the password given.
    pub pkcs12_der: Vec<u8>,
    /// The certificate alone (PEM).
    pub certificate_pem: Vec<u8>,
    /// SHA-256 fingerprint of the certificate (lower-case hex), for binding sandbox accounts.
    pub fingerprint_sha256: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("common_name", &self.common_name)
            .field("sha256", &self.fingerprint_sha256)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Opens the PKCS#12 as a client identity.
    pub fn identity(&self, password: &str) -> Result<ClientIdentity, crate::client::IdentityError> {
        ClientIdentity::from_pkcs12_der(&self.pkcs12_der, password)
    }

    /// Reads `<common_name>.p12` from `dir` (as written by [`write_to`](Self::write_to)).
    pub fn load(dir: &Path, common_name: &str, password: &str) -> Result<Self, PkiError> {
        let path = dir.join(format!("{common_name}.p12"));
        let der = std::fs::read(&path).map_err(|source| io(&path, source))?;
        let cert = Pkcs12::from_der(&der)
            .and_then(|p| p.parse2(password))
            .ok()
            .and_then(|p| p.cert)
            .ok_or_else(|| PkiError::Pkcs12 {
                path: path.display().to_string(),
            })?;
        Ok(ClientCertificate {
            common_name: common_name.to_string(),
            pkcs12_der: der,
            certificate_pem: cert.to_pem()?,
            fingerprint_sha256: crate::client::fingerprint(&cert),
        })
    }

    /// Writes `<common_name>.p12` and `<common_name>.pem` into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        write_private(
            &dir.join(format!("{}.p12", self.common_name)),
            &self.pkcs12_der,
        )?;
        let pem = dir.join(format!("{}.pem", self.common_name));
        std::fs::write(&pem, &self.certificate_pem).map_err(|source| io(&pem, source))
    }
}

/// A test CA with a server certificate.
pub struct TestPki {
    ca_key: PKey<Private>,
    ca_cert: X509,
    server_key: PKey<Private>,
    server_cert: X509,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("ca", &crate::client::subject_of(&self.ca_cert))
            .finish_non_exhaustive()
    }
}

impl TestPki {
    /// A new CA (`amtsbote sandbox CA <random>`, 10 years) and a server certificate for `localhost`,
    /// `127.0.0.1` and `::1` (2 years), both ECDSA P-256.
    pub fn generate() -> Result<Self, PkiError> {
        let ca_key = new_key(KeyKind::EcP256)?;
        // A distinct name per CA, so that certificates of another test CA are "unknown CA"
        // rather than "bad signature" to a verifier.
        let ca_name = format!(
            "amtsbote sandbox CA {}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut b = builder(&ca_name, &ca_key, -1, 3650)?;
        let ca_subject = name(&ca_name)?;
        b.set_issuer_name(&ca_subject)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&ca_key, MessageDigest::sha256())?;
        let ca_cert = b.build();

        let server_key = new_key(KeyKind::EcP256)?;
        let mut b = builder("localhost", &server_key, -1, 730)?;
        b.set_issuer_name(ca_cert.subject_name())?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .ip("::1")
            .build(&b.x509v3_context(Some(&ca_cert), None))?;
        b.append_extension(san)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&ca_cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&ca_cert), None))?;
        b.append_extension(aki)?;
        b.sign(&ca_key, MessageDigest::sha256())?;
        let server_cert = b.build();

        Ok(TestPki {
            ca_key,
            ca_cert,
            server_key,
            server_cert,
        })
    }

    /// Issues a client certificate (`CN=<common_name>, O=amtsbote sandbox`, extended key usage
    /// clientAuth) and packs it as PKCS#12 with `password`.
    pub fn issue_client(
        &self,
        common_name: &str,
        password: &str,
        key: KeyKind,
        validity: ClientValidity,
    ) -> Result<ClientCertificate, PkiError> {
        let client_key = new_key(key)?;
        let mut b = builder(
            common_name,
            &client_key,
            -validity.from_days_ago,
            validity.until_days_from_now,
        )?;
        b.set_issuer_name(self.ca_cert.subject_name())?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&self.ca_cert), None))?;
        b.append_extension(aki)?;
        b.sign(&self.ca_key, MessageDigest::sha256())?;
        let cert = b.build();
        let mut chain = Stack::new()?;
        chain.push(self.ca_cert.clone())?;
        let pkcs12 = Pkcs12::builder()
            .name(common_name)
            .pkey(&client_key)
            .cert(&cert)
            .ca(chain)
            .build2(password)?;
        Ok(ClientCertificate {
            common_name: common_name.to_string(),
            pkcs12_der: pkcs12.to_der()?,
            certificate_pem: cert.to_pem()?,
            fingerprint_sha256: crate::client::fingerprint(&cert),
        })
    }

    /// The CA certificate (PEM): trust anchor for clients, and the CA the sandbox requires
    /// client certificates to be issued by.
    pub fn ca_pem(&self) -> Vec<u8> {
        self.ca_cert.to_pem().unwrap_or_default()
    }

    /// The server's TLS material for [`crate::sandbox::SandboxConfig`].
    pub fn sandbox_tls(&self) -> Result<SandboxTls, PkiError> {
        let mut chain = self.server_cert.to_pem()?;
        chain.extend(self.ca_cert.to_pem()?);
        Ok(SandboxTls {
            certificate_chain_pem: chain,
            private_key_pem: self.server_key.private_key_to_pem_pkcs8()?,
            client_ca_pem: self.ca_cert.to_pem()?,
        })
    }

    /// Writes `ca.pem`, `ca.key`, `server.pem` (with the CA) and `server.key` into `dir`.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        let tls = self.sandbox_tls()?;
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, self.ca_pem()).map_err(|source| io(&ca, source))?;
        write_private(
            &dir.join("ca.key"),
            &self.ca_key.private_key_to_pem_pkcs8()?,
        )?;
        let server = dir.join("server.pem");
        std::fs::write(&server, &tls.certificate_chain_pem)
            .map_err(|source| io(&server, source))?;
        write_private(&dir.join("server.key"), &tls.private_key_pem)
    }

    /// Reads what [`write_to`](Self::write_to) wrote.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| io(&path, source))
        };
        let ca_cert = X509::from_pem(&read("ca.pem")?)?;
        let ca_key = PKey::private_key_from_pem(&read("ca.key")?)?;
        let server_cert = X509::from_pem(&read("server.pem")?)?;
        let server_key = PKey::private_key_from_pem(&read("server.key")?)?;
        Ok(TestPki {
            ca_key,
            ca_cert,
            server_key,
            server_cert,
        })
    }

    /// [`load`](Self::load) if `dir/ca.pem` exists, otherwise [`generate`](Self::generate) and
    /// [`write_to`](Self::write_to) — so that clients configured once keep working across
    /// sandbox restarts.
    pub fn load_or_generate(dir: &Path) -> Result<Self, PkiError> {
        if dir.join("ca.pem").exists() {
            return Self::load(dir);
        }
        let pki = Self::generate()?;
        pki.write_to(dir)?;
        Ok(pki)
    }
}

fn io(path: &Path, source: std::io::Error) -> PkiError {
    PkiError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), PkiError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| io(path, source))?;
    file.write_all(data).map_err(|source| io(path, source))
}

fn new_key(kind: KeyKind) -> Result<PKey<Private>, PkiError> {
    Ok(match kind {
        KeyKind::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        KeyKind::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
    })
}

fn name(common_name: &str) -> Result<openssl::x509::X509Name, PkiError> {
    let mut n = X509NameBuilder::new()?;
    n.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
    n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "amtsbote sandbox")?;
    Ok(n.build())
}

/// A v3 certificate builder with subject, key, random serial and validity (days relative to
/// now; `from_days` negative means in the past).
fn builder(
    common_name: &str,
    key: &PKey<Private>,
    from_days: i64,
    until_days: i64,
) -> Result<X509Builder, PkiError> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = Asn1Integer::from_bn(&serial)?;
    b.set_serial_number(&serial)?;
    let subject = name(common_name)?;
    b.set_subject_name(&subject)?;
    b.set_pubkey(key)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let day = 86_400;
    let not_before = Asn1Time::from_unix(now + from_days * day)?;
    let not_after = Asn1Time::from_unix(now + until_days * day)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_clients_that_open_with_their_password() {
        let pki = TestPki::generate().unwrap();
        let client = pki
            .issue_client(
                "tenant-a",
                "secret",
                KeyKind::EcP256,
                ClientValidity::days(30),
            )
            .unwrap();
        let identity = client.identity("secret").unwrap();
        assert!(identity.subject().contains("CN=tenant-a"));
        assert_eq!(identity.fingerprint_sha256(), client.fingerprint_sha256);
        let err = client.identity("Kennwort-42").unwrap_err().to_string();
        assert!(
            !err.contains("Kennwort-42") && err.contains("mac verify"),
            "{err}"
        );
        let expired = pki
            .issue_client("old", "pw", KeyKind::EcP256, ClientValidity::expired())
            .unwrap();
        let cert = X509::from_pem(&expired.certificate_pem).unwrap();
        assert!(cert.not_after() < Asn1Time::days_from_now(0).unwrap());
    }

    #[test]
    fn writes_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::load_or_generate(dir.path()).unwrap();
        let again = TestPki::load_or_generate(dir.path()).unwrap();
        assert_eq!(pki.ca_pem(), again.ca_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("ca.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
    }
}
