//! RSA keys for FIT-Connect: loading from JWK (the Self-Service-Portal's format) or PEM
//! (PKCS#8 private keys, SPKI public keys), the RSA-4096 rule for destination keys, `key_ops`
//! checks, and generation of the two key pairs a destination needs (`amtsbote keys generate`).
//!
//! A destination has an *encryption* key pair (public half: `key_ops: [wrapKey]`, `alg:
//! RSA-OAEP-256`; the sender encrypts with it) and a *signing* key pair (public half:
//! `key_ops: [verify]`, `alg: PS512`; the Zustelldienst verifies our SETs with it). The private
//! halves stay with the subscriber. `Debug` of a private key prints its kid and size only.

use std::fmt;

use openssl::bn::{BigNum, BigNumRef};
use openssl::hash::{MessageDigest, hash};
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::{Rsa, RsaPrivateKeyBuilder};
use serde::{Deserialize, Serialize};

use super::{JoseError, b64, b64_decode};

/// Minimum RSA modulus size FIT-Connect demands for destination keys.
pub const MIN_DESTINATION_KEY_BITS: u32 = 4096;

/// A JSON Web Key (RFC 7517) restricted to what FIT-Connect uses: RSA keys. Private members are
/// present only in private JWKs; `Debug` redacts them.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    /// Key type; always `RSA` here.
    pub kty: String,
    /// Key id, as referenced by `kid` in JOSE headers and by the destination's `encryptionKid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm (`RSA-OAEP-256` or `PS512`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Public key use (`enc` or `sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Permitted operations (`wrapKey`, `unwrapKey`, `sign`, `verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// Modulus, base64url.
    pub n: String,
    /// Public exponent, base64url.
    pub e: String,
    /// Private exponent (private keys only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// First prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// Second prime factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// First factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// Second factor CRT exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// First CRT coefficient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// Certificate chain (FIT-Connect production keys carry one; not validated here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.key_use)
            .field("key_ops", &self.key_ops)
            .field("private", &self.d.is_some())
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses a JWK from JSON text.
    pub fn from_json(text: &str) -> Result<Self, JoseError> {
        // serde_json's error would quote the offending input; keep only the position.
        serde_json::from_str(text).map_err(|e| {
            JoseError::Key(format!(
                "not a JWK (JSON error at line {} column {})",
                e.line(),
                e.column()
            ))
        })
    }

    /// Serializes the JWK as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a JWK always serializes")
    }

    /// When the key's certificate (the first of `x5c`, RFC 7517: standard base64 DER)
    /// expires, in seconds since 1970; `None` without a certificate. The chain is not
    /// validated here: this is for telling operators in time, not for trusting the key.
    pub fn certificate_expires_at(&self) -> Result<Option<i64>, JoseError> {
        certificate_expires_at(self.x5c.as_deref())
    }

    /// Whether this JWK carries private key members.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }

    /// The public half of this JWK (private members removed, `unwrapKey`/`sign` removed from
    /// `key_ops` and replaced by their public counterparts).
    pub fn to_public(&self) -> Jwk {
        let key_ops = self.key_ops.as_ref().map(|ops| {
            let mut public: Vec<String> = Vec::new();
            for op in ops {
                let mapped = match op.as_str() {
                    "unwrapKey" => "wrapKey",
                    "decrypt" => "encrypt",
                    "sign" => "verify",
                    other => other,
                };
                if !public.iter().any(|p| p == mapped) {
                    public.push(mapped.to_string());
                }
            }
            public
        });
        Jwk {
            kty: self.kty.clone(),
            kid: self.kid.clone(),
            alg: self.alg.clone(),
            key_use: self.key_use.clone(),
            key_ops,
            n: self.n.clone(),
            e: self.e.clone(),
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            x5c: self.x5c.clone(),
        }
    }

    /// RFC 7638 thumbprint (SHA-256 over the canonical `{e, kty, n}`), base64url. A sensible
    /// `kid` for keys loaded from PEM.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"e":"{}","kty":"{}","n":"{}"}}"#,
            self.e, self.kty, self.n
        );
        b64(hash(MessageDigest::sha256(), canonical.as_bytes()).expect("sha256 is available"))
    }

    fn require_rsa(&self) -> Result<(), JoseError> {
        if self.kty != "RSA" {
            return Err(JoseError::Key(format!(
                "kty {:?} is not supported, only RSA",
                self.kty
            )));
        }
        Ok(())
    }

    fn has_op(&self, op: &str) -> bool {
        self.key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|o| o == op))
    }
}

fn bn(member: &Option<String>, what: &'static str) -> Result<BigNum, JoseError> {
    let text = member
        .as_ref()
        .ok_or_else(|| JoseError::Key(format!("JWK member {what} missing")))?;
    let bytes = b64_decode(text, what)
        .map_err(|_| JoseError::Key(format!("JWK member {what} is not base64url")))?;
    Ok(BigNum::from_slice(&bytes)?)
}

fn bn_b64(n: &BigNumRef) -> String {
    b64(n.to_vec())
}

/// What a key is for; decides which `key_ops` must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Content key wrapping (JWE, RSA-OAEP-256).
    Encryption,
    /// Signatures (JWS, PS512).
    Signing,
}

/// An RSA public key with its JWK attributes.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) pkey: PKey<Public>,
    kid: Option<String>,
    jwk: Jwk,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("bits", &self.bits())
            .finish()
    }
}

impl PublicKey {
    /// Loads a public key from a JWK (private members, if any, are ignored).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        jwk.require_rsa()?;
        let n = bn(&Some(jwk.n.clone()), "n")?;
        let e = bn(&Some(jwk.e.clone()), "e")?;
        let rsa = Rsa::from_public_components(n, e)?;
        Ok(PublicKey {
            pkey: PKey::from_rsa(rsa)?,
            kid: jwk.kid.clone(),
            jwk: jwk.to_public(),
        })
    }

    /// Loads a public key from JWK JSON text.
    pub fn from_jwk_json(text: &str) -> Result<Self, JoseError> {
        Self::from_jwk(&Jwk::from_json(text)?)
    }

    /// Loads an SPKI PEM public key (`BEGIN PUBLIC KEY`). Without `kid`, the RFC 7638
    /// thumbprint becomes the kid.
    pub fn from_pem(pem: &[u8], kid: Option<String>) -> Result<Self, JoseError> {
        let pkey = PKey::public_key_from_pem(pem)
            .map_err(|_| JoseError::Key("not an SPKI PEM public key".into()))?;
        let rsa = pkey
            .rsa()
            .map_err(|_| JoseError::Key("PEM key is not RSA".into()))?;
        let mut jwk = Jwk {
            kty: "RSA".into(),
            kid: None,
            alg: None,
            key_use: None,
            key_ops: None,
            n: bn_b64(rsa.n()),
            e: bn_b64(rsa.e()),
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            x5c: None,
        };
        let kid = kid.unwrap_or_else(|| jwk.thumbprint());
        jwk.kid = Some(kid.clone());
        Ok(PublicKey {
            pkey,
            kid: Some(kid),
            jwk,
        })
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.pkey.bits()
    }

    /// The public JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The SPKI PEM encoding.
    pub fn to_pem(&self) -> Result<Vec<u8>, JoseError> {
        Ok(self.pkey.public_key_to_pem()?)
    }

    /// Checks the rules for a destination key: RSA with at least 4096 bits, and — where the
    /// JWK states `key_ops` — the operation the use needs (`wrapKey` resp. `verify`).
    pub fn check_destination_key(&self, key_use: KeyUse) -> Result<(), JoseError> {
        check_bits(self.bits())?;
        let op = match key_use {
            KeyUse::Encryption => "wrapKey",
            KeyUse::Signing => "verify",
        };
        if !self.jwk.has_op(op) {
            return Err(JoseError::Key(format!(
                "key_ops of key {:?} do not permit {op}",
                self.kid
            )));
        }
        Ok(())
    }
}

/// The `notAfter` of the first certificate of an `x5c` chain, in seconds since 1970.
fn certificate_expires_at(x5c: Option<&[String]>) -> Result<Option<i64>, JoseError> {
    use base64::Engine as _;
    let Some(first) = x5c.and_then(|c| c.first()) else {
        return Ok(None);
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(first)
        .map_err(|_| JoseError::Key("x5c[0] is not standard base64".into()))?;
    let cert = openssl::x509::X509::from_der(&der)
        .map_err(|_| JoseError::Key("x5c[0] is not a DER X.509 certificate".into()))?;
    let diff = openssl::asn1::Asn1Time::from_unix(0)
        .and_then(|epoch| epoch.diff(cert.not_after()))
        .map_err(|_| JoseError::Key("x5c[0] has an unreadable notAfter".into()))?;
    Ok(Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs)))
}

fn check_bits(bits: u32) -> Result<(), JoseError> {
    if bits < MIN_DESTINATION_KEY_BITS {
        return Err(JoseError::Key(format!(
            "RSA key has {bits} bits; FIT-Connect destinations require at least {MIN_DESTINATION_KEY_BITS}"
        )));
    }
    Ok(())
}

/// An RSA private key with its JWK attributes. `Debug` shows kid and size only.
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) pkey: PKey<Private>,
    kid: Option<String>,
    key_ops: Option<Vec<String>>,
    /// The certificate chain a JWK came with, kept for its expiry.
    x5c: Option<Vec<String>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("kid", &self.kid)
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Loads a private key from a private JWK; checks the key's consistency.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JoseError> {
        jwk.require_rsa()?;
        if !jwk.is_private() {
            return Err(JoseError::Key(
                "JWK has no private members (d missing)".into(),
            ));
        }
        let n = bn(&Some(jwk.n.clone()), "n")?;
        let e = bn(&Some(jwk.e.clone()), "e")?;
        let d = bn(&jwk.d, "d")?;
        let mut builder = RsaPrivateKeyBuilder::new(n, e, d)?;
        if jwk.p.is_some() {
            builder = builder.set_factors(bn(&jwk.p, "p")?, bn(&jwk.q, "q")?)?;
            builder = builder.set_crt_params(
                bn(&jwk.dp, "dp")?,
                bn(&jwk.dq, "dq")?,
                bn(&jwk.qi, "qi")?,
            )?;
        }
        let rsa = builder.build();
        if jwk.p.is_some() && !rsa.check_key().unwrap_or(false) {
            return Err(JoseError::Key("RSA private key is inconsistent".into()));
        }
        Ok(PrivateKey {
            pkey: PKey::from_rsa(rsa)?,
            kid: jwk.kid.clone(),
            key_ops: jwk.key_ops.clone(),
            x5c: jwk.x5c.clone(),
        })
    }

    /// Loads a private key from JWK JSON text.
    pub fn from_jwk_json(text: &str) -> Result<Self, JoseError> {
        Self::from_jwk(&Jwk::from_json(text)?)
    }

    /// Loads a PEM private key (PKCS#8 `BEGIN PRIVATE KEY`, or PKCS#1 `BEGIN RSA PRIVATE KEY`).
    /// Without `kid`, the RFC 7638 thumbprint of the public half becomes the kid.
    pub fn from_pem(pem: &[u8], kid: Option<String>) -> Result<Self, JoseError> {
        let pkey = PKey::private_key_from_pem(pem)
            .map_err(|_| JoseError::Key("not a PEM private key".into()))?;
        let rsa = pkey
            .rsa()
            .map_err(|_| JoseError::Key("PEM key is not RSA".into()))?;
        if !rsa.check_key().unwrap_or(false) {
            return Err(JoseError::Key("RSA private key is inconsistent".into()));
        }
        let mut key = PrivateKey {
            pkey,
            kid: None,
            key_ops: None,
            x5c: None,
        };
        key.kid = Some(kid.unwrap_or_else(|| key.public_jwk().thumbprint()));
        Ok(key)
    }

    /// When the certificate the key came with (JWK `x5c`) expires, in seconds since 1970;
    /// `None` for a key without one (PEM, or a JWK without `x5c`).
    pub fn certificate_expires_at(&self) -> Result<Option<i64>, JoseError> {
        certificate_expires_at(self.x5c.as_deref())
    }

    /// Sets or replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> u32 {
        self.pkey.bits()
    }

    /// Checks the rules for a destination's private key: at least 4096 bits, and the
    /// operation the use needs (`unwrapKey` resp. `sign`) where `key_ops` is stated.
    pub fn check_destination_key(&self, key_use: KeyUse) -> Result<(), JoseError> {
        check_bits(self.bits())?;
        let op = match key_use {
            KeyUse::Encryption => "unwrapKey",
            KeyUse::Signing => "sign",
        };
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|o| o == op)
        {
            return Err(JoseError::Key(format!(
                "key_ops of key {:?} do not permit {op}",
                self.kid
            )));
        }
        Ok(())
    }

    /// The full private JWK (contains secret material: write it to a protected file only).
    pub fn to_private_jwk(
        &self,
        alg: Option<&str>,
        key_use: Option<&str>,
    ) -> Result<Jwk, JoseError> {
        let rsa = self.pkey.rsa()?;
        let opt = |b: Option<&BigNumRef>| b.map(bn_b64);
        Ok(Jwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: alg.map(str::to_string),
            key_use: key_use.map(str::to_string),
            key_ops: self.key_ops.clone(),
            n: bn_b64(rsa.n()),
            e: bn_b64(rsa.e()),
            d: Some(bn_b64(rsa.d())),
            p: opt(rsa.p()),
            q: opt(rsa.q()),
            dp: opt(rsa.dmp1()),
            dq: opt(rsa.dmq1()),
            qi: opt(rsa.iqmp()),
            x5c: None,
        })
    }

    /// The public half as a JWK (kid kept, no alg/use/key_ops).
    pub fn public_jwk(&self) -> Jwk {
        let rsa = self.pkey.rsa().expect("a PrivateKey is always RSA");
        Jwk {
            kty: "RSA".into(),
            kid: self.kid.clone(),
            alg: None,
            key_use: None,
            key_ops: None,
            n: bn_b64(rsa.n()),
            e: bn_b64(rsa.e()),
            d: None,
            p: None,
            q: None,
            dp: None,
            dq: None,
            qi: None,
            x5c: None,
        }
    }

    /// The public half as a [`PublicKey`].
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_jwk(&self.public_jwk()).expect("the public half of a valid key loads")
    }

    /// PKCS#8 PEM encoding (secret material).
    pub fn to_pkcs8_pem(&self) -> Result<Vec<u8>, JoseError> {
        Ok(self.pkey.private_key_to_pem_pkcs8()?)
    }
}

/// One generated key pair: the private JWK (keep secret) and the public JWK (register in the
/// FIT-Connect Self-Service-Portal).
#[derive(Clone)]
pub struct GeneratedKeyPair {
    /// The private JWK, with `key_ops` of the private operation.
    pub private: Jwk,
    /// The public JWK, with `key_ops` of the public operation.
    pub public: Jwk,
}

impl fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

/// The two key pairs a destination needs.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    /// Encryption: public `key_ops: [wrapKey]`, private `[unwrapKey]`, `alg: RSA-OAEP-256`.
    pub encryption: GeneratedKeyPair,
    /// Signing: public `key_ops: [verify]`, private `[sign]`, `alg: PS512`.
    pub signing: GeneratedKeyPair,
}

/// Generates one RSA key pair of `bits` bits with the given kid, alg and private/public ops.
pub fn generate_key_pair(
    bits: u32,
    kid: &str,
    key_use: KeyUse,
) -> Result<GeneratedKeyPair, JoseError> {
    let (alg, use_, private_op, public_op) = match key_use {
        KeyUse::Encryption => ("RSA-OAEP-256", "enc", "unwrapKey", "wrapKey"),
        KeyUse::Signing => ("PS512", "sig", "sign", "verify"),
    };
    let rsa = Rsa::generate(bits)?;
    let key = PrivateKey {
        pkey: PKey::from_rsa(rsa)?,
        kid: Some(kid.to_string()),
        key_ops: Some(vec![private_op.to_string()]),
        x5c: None,
    };
    let private = key.to_private_jwk(Some(alg), Some(use_))?;
    let mut public = private.to_public();
    public.key_ops = Some(vec![public_op.to_string()]);
    Ok(GeneratedKeyPair { private, public })
}

/// Generates a destination's encryption and signing key pairs (RSA-4096, random UUID kids),
/// as `amtsbote keys generate` prints them.
pub fn generate_destination_keys() -> Result<GeneratedKeys, JoseError> {
    Ok(GeneratedKeys {
        encryption: generate_key_pair(
            MIN_DESTINATION_KEY_BITS,
            &uuid::Uuid::new_v4().to_string(),
            KeyUse::Encryption,
        )?,
        signing: generate_key_pair(
            MIN_DESTINATION_KEY_BITS,
            &uuid::Uuid::new_v4().to_string(),
            KeyUse::Signing,
        )?,
    })
}
