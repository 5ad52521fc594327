//! The one error type of the JOSE layer. Variants name the failure precisely enough to pick a
//! FIT-Connect problem type (`encryption-issue`, `incorrect-authentication-tag`, …) and carry
//! no key material, no plaintext and no ciphertext.

use thiserror::Error;

/// Why a JOSE operation failed. `Display` is safe to log: it never contains key material or
/// payload bytes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The serialization is not well-formed (segment count, base64url, JSON); names the part.
    #[error("malformed JOSE object: {0}")]
    Malformed(&'static str),
    /// The protected header is readable but not acceptable (missing or contradictory fields).
    #[error("unacceptable JOSE header: {0}")]
    BadHeader(String),
    /// `alg`, `enc` or `zip` is not one we support (only RSA-OAEP-256/A256GCM/DEF, PS512).
    #[error("unsupported algorithm: {field} = {value:?}")]
    UnsupportedAlgorithm {
        /// The header field (`alg`, `enc`, `zip`).
        field: &'static str,
        /// The value found (an algorithm name, never secret).
        value: String,
    },
    /// The header names a key id we do not hold.
    #[error("no key with kid {kid:?} (keys held: {held:?})")]
    UnknownKid {
        /// The `kid` from the header.
        kid: String,
        /// The key ids we hold.
        held: Vec<String>,
    },
    /// RSA-OAEP unwrapping the content encryption key failed: the JWE was encrypted for another
    /// key, or the encrypted key segment was altered.
    #[error(
        "the content encryption key could not be unwrapped (wrong key or altered encrypted key)"
    )]
    KeyUnwrap,
    /// AES-GCM authentication failed: ciphertext, IV, header or tag were altered. Any plaintext
    /// already written to a sink must be discarded.
    #[error("authentication tag mismatch: the JWE was altered or is corrupted; discard any output")]
    TagMismatch,
    /// A structural size rule was broken (IV or tag length, oversized header).
    #[error("invalid length of {what}")]
    InvalidLength {
        /// Which part.
        what: &'static str,
    },
    /// The plaintext (after decompression) exceeded the configured limit (zip bomb guard).
    #[error("plaintext exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// `zip: DEF` content did not inflate.
    #[error("compressed content is not valid raw DEFLATE")]
    Decompression,
    /// The JWS signature does not verify with the given key.
    #[error("signature does not verify")]
    BadSignature,
    /// A key could not be parsed or does not meet the rules (size, type, key_ops).
    #[error("unusable key: {0}")]
    Key(String),
    /// OpenSSL reported an internal failure (not an input problem we could classify).
    #[error("cryptographic backend failure")]
    Backend(#[source] openssl::error::ErrorStack),
    /// Reading the input or writing the output failed.
    #[error("I/O error while processing a JOSE object")]
    Io(#[source] std::io::Error),
}

impl From<openssl::error::ErrorStack> for JoseError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        JoseError::Backend(e)
    }
}

impl From<std::io::Error> for JoseError {
    fn from(e: std::io::Error) -> Self {
        JoseError::Io(e)
    }
}
