//! Compact JWS (RFC 7515) with `PS512` (RSASSA-PSS, SHA-512, MGF1-SHA-512, salt = 64 bytes), the
//! only signature algorithm FIT-Connect uses for Security Event Tokens. Verification refuses
//! every other `alg` — in particular `none` and HMAC algorithms — before touching the signature.

use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::{PrivateKey, PublicKey};
use super::{JoseError, b64, b64_decode};

/// The signature algorithm of FIT-Connect SETs.
pub const ALG_PS512: &str = "PS512";

/// The protected header of a JWS.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JwsHeader {
    /// Signature algorithm (`PS512`).
    pub alg: String,
    /// Key id of the signing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Token type (`secevent+jwt` for SETs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// Other header parameters.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A JWS whose signature verified.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: JwsHeader,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Reads the header of a compact JWS without verifying anything (to pick the key by `kid`).
pub fn peek_header(compact: &str) -> Result<JwsHeader, JoseError> {
    let first = compact
        .split('.')
        .next()
        .ok_or(JoseError::Malformed("JWS"))?;
    let json = b64_decode(first, "JWS header (base64url)")?;
    serde_json::from_slice(&json).map_err(|_| JoseError::Malformed("JWS header (JSON)"))
}

/// Signs `payload` with PS512; `header.alg` is forced to `PS512` and `kid` defaults to the key's.
pub fn sign(mut header: JwsHeader, payload: &[u8], key: &PrivateKey) -> Result<String, JoseError> {
    header.alg = ALG_PS512.to_string();
    if header.kid.is_none() {
        header.kid = key.kid().map(str::to_string);
    }
    let signing_input = format!(
        "{}.{}",
        b64(serde_json::to_vec(&header).expect("header serializes")),
        b64(payload)
    );
    let mut signer = Signer::new(MessageDigest::sha512(), &key.pkey)?;
    signer.set_rsa_padding(Padding::PKCS1_PSS)?;
    signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
    signer.set_rsa_mgf1_md(MessageDigest::sha512())?;
    signer.update(signing_input.as_bytes())?;
    let signature = signer.sign_to_vec()?;
    Ok(format!("{signing_input}.{}", b64(signature)))
}

/// Verifies a compact PS512 JWS with `key`. Any `alg` other than PS512 is refused.
pub fn verify(compact: &str, key: &PublicKey) -> Result<VerifiedJws, JoseError> {
    let compact = compact.trim();
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() != 3 {
        return Err(JoseError::Malformed(
            "JWS compact serialization needs 3 segments",
        ));
    }
    let header_json = b64_decode(parts[0], "JWS header (base64url)")?;
    let header: JwsHeader = serde_json::from_slice(&header_json)
        .map_err(|_| JoseError::Malformed("JWS header (JSON)"))?;
    if header.alg != ALG_PS512 {
        return Err(JoseError::UnsupportedAlgorithm {
            field: "alg",
            value: header.alg,
        });
    }
    if header.other.contains_key("crit") {
        return Err(JoseError::BadHeader(
            "crit names extensions this implementation does not understand".into(),
        ));
    }
    let signature = b64_decode(parts[2], "JWS signature (base64url)")?;
    let mut verifier = Verifier::new(MessageDigest::sha512(), &key.pkey)?;
    verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
    verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
    verifier.set_rsa_mgf1_md(MessageDigest::sha512())?;
    let signing_input_len = parts[0].len() + 1 + parts[1].len();
    verifier.update(&compact.as_bytes()[..signing_input_len])?;
    if !verifier.verify(&signature).unwrap_or(false) {
        return Err(JoseError::BadSignature);
    }
    let payload = b64_decode(parts[1], "JWS payload (base64url)")?;
    Ok(VerifiedJws { header, payload })
}
