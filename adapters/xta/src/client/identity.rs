//! The account's TLS client certificate, from a PKCS#12 file and its password, as XTA
//! providers issue them — and the CA certificates with which the server is verified.
//!
//! TLS stack: `reqwest` with rustls (like the rest of amtsbote). rustls cannot read PKCS#12,
//! so OpenSSL opens the file and hands the key and the certificate chain over as PEM
//! (`reqwest::Identity::from_pem`). Files from older tools encrypted with RC2/3DES need
//! OpenSSL 3's legacy provider; it is loaded on demand when the first attempt fails.
//!
//! The password is used once and not kept; the key material lives only inside the
//! `reqwest::Identity`. `Debug` shows the certificate's subject and expiry, nothing secret.

use std::path::Path;

use openssl::pkcs12::Pkcs12;
use openssl::x509::X509;

use super::error::IdentityError;

/// A client certificate with its private key, ready for the TLS handshake.
#[derive(Clone)]
pub struct ClientIdentity {
    identity: reqwest::Identity,
    subject: String,
    not_after: String,
    expires_at: i64,
    fingerprint: String,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.subject)
            .field("not_after", &self.not_after)
            .field("sha256", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Opens a PKCS#12 file (`.p12`/`.pfx`) with its password.
    pub fn from_pkcs12_file(path: impl AsRef<Path>, password: &str) -> Result<Self, IdentityError> {
        let path = path.as_ref();
        let der = std::fs::read(path).map_err(|source| IdentityError::Read {
            what: "client certificate",
            path: path.display().to_string(),
            source,
        })?;
        Self::open(&der, password, &path.display().to_string())
    }

    /// Opens PKCS#12 bytes with their password.
    pub fn from_pkcs12_der(der: &[u8], password: &str) -> Result<Self, IdentityError> {
        Self::open(der, password, "<memory>")
    }

    fn open(der: &[u8], password: &str, source_name: &str) -> Result<Self, IdentityError> {
        let fail = |reason: String| IdentityError::Pkcs12 {
            source_name: source_name.to_string(),
            reason,
        };
        let parsed = match Pkcs12::from_der(der).and_then(|p| p.parse2(password)) {
            Ok(parsed) => parsed,
            Err(first) => {
                // RC2/3DES-encrypted files (older keytool, Windows exports) need the legacy
                // provider in OpenSSL 3; try once more with it loaded.
                load_legacy_provider();
                Pkcs12::from_der(der)
                    .and_then(|p| p.parse2(password))
                    .map_err(|_| fail(first.to_string()))?
            }
        };
        let incomplete = |missing| IdentityError::Incomplete {
            source_name: source_name.to_string(),
            missing,
        };
        let key = parsed.pkey.ok_or_else(|| incomplete("private key"))?;
        let cert = parsed.cert.ok_or_else(|| incomplete("certificate"))?;
        let mut pem = key
            .private_key_to_pem_pkcs8()
            .map_err(|e| fail(e.to_string()))?;
        pem.extend(cert.to_pem().map_err(|e| fail(e.to_string()))?);
        if let Some(chain) = parsed.ca {
            for c in chain.iter() {
                pem.extend(c.to_pem().map_err(|e| fail(e.to_string()))?);
            }
        }
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| fail(e.to_string()));
        // The PEM holds the private key: wipe it before it is freed.
        pem.iter_mut().for_each(|b| *b = 0);
        Ok(ClientIdentity {
            identity: identity?,
            subject: subject_of(&cert),
            not_after: cert.not_after().to_string(),
            expires_at: unix_time(cert.not_after()),
            fingerprint: fingerprint(&cert),
        })
    }

    /// The certificate's subject (`CN=…, O=…`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The end of the certificate's validity, as OpenSSL prints it (`Jun  1 12:00:00 2027 GMT`).
    pub fn not_after(&self) -> &str {
        &self.not_after
    }

    /// The end of the certificate's validity in seconds since 1970 (for expiry metrics and
    /// alerts before the XTA server starts refusing the handshake).
    pub fn expires_at_unix(&self) -> i64 {
        self.expires_at
    }

    /// SHA-256 fingerprint of the certificate (lower-case hex), as the sandbox binds accounts.
    pub fn fingerprint_sha256(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn reqwest_identity(&self) -> reqwest::Identity {
        self.identity.clone()
    }
}

/// An ASN.1 time in seconds since 1970 (0 if OpenSSL cannot compare it).
fn unix_time(t: &openssl::asn1::Asn1TimeRef) -> i64 {
    openssl::asn1::Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(t))
        .map(|d| i64::from(d.days) * 86_400 + i64::from(d.secs))
        .unwrap_or(0)
}

fn load_legacy_provider() {
    use std::sync::OnceLock;
    static LEGACY: OnceLock<Option<openssl::provider::Provider>> = OnceLock::new();
    LEGACY.get_or_init(|| {
        // Keep the default provider available next to the legacy one.
        openssl::provider::Provider::try_load(None, "legacy", true).ok()
    });
}

/// The subject of a certificate as `CN=…, O=…`.
pub(crate) fn subject_of(cert: &X509) -> String {
    cert.subject_name()
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SHA-256 of the DER encoding, lower-case hex.
pub(crate) fn fingerprint(cert: &X509) -> String {
    cert.to_der()
        .map(|der| sha256_hex(&der))
        .unwrap_or_default()
}

/// SHA-256 of bytes, lower-case hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    openssl::sha::sha256(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// CA certificates (PEM, one or more) that the server's certificate must chain to.
#[derive(Clone)]
pub struct TrustAnchors {
    certs: Vec<reqwest::Certificate>,
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl TrustAnchors {
    /// Reads a PEM file with one or more CA certificates.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, IdentityError> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|source| IdentityError::Read {
            what: "CA certificate",
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&pem, &path.display().to_string())
    }

    /// PEM bytes with one or more CA certificates.
    pub fn from_pem(pem: &[u8]) -> Result<Self, IdentityError> {
        Self::parse(pem, "<memory>")
    }

    fn parse(pem: &[u8], source_name: &str) -> Result<Self, IdentityError> {
        let fail = |reason: String| IdentityError::Ca {
            source_name: source_name.to_string(),
            reason,
        };
        let certs = X509::stack_from_pem(pem).map_err(|e| fail(e.to_string()))?;
        if certs.is_empty() {
            return Err(fail("no certificate in the file".into()));
        }
        let certs = certs
            .iter()
            .map(|c| {
                let der = c.to_der().map_err(|e| fail(e.to_string()))?;
                reqwest::Certificate::from_der(&der).map_err(|e| fail(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustAnchors { certs })
    }

    pub(crate) fn certificates(&self) -> &[reqwest::Certificate] {
        &self.certs
    }
}
