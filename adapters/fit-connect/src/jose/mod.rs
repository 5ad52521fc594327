//! JOSE for FIT-Connect: the cryptography a subscriber needs to read a submission and answer
//! it, done with OpenSSL (constant-time RSA; the `rsa` crate is ruled out by RUSTSEC-2023-0071).
//!
//! - [`jwe`]: compact JWE with `alg: RSA-OAEP-256`, `enc: A256GCM` (and `zip: DEF` on decrypt),
//!   in memory and streaming, so attachments of hundreds of MB never sit whole in memory.
//! - [`jws`]: compact JWS with `PS512`, used for Security Event Tokens (SETs).
//! - [`keys`]: RSA keys from JWK or PEM, the RSA-4096 rule for destinations, key generation for
//!   `amtsbote keys generate`.
//!
//! Nothing here logs, and no error carries key material or plaintext: an error says *what*
//! failed (wrong key, unknown kid, bad header, tag mismatch), never *with which bytes*.

pub mod jwe;
pub mod jws;
pub mod keys;

mod error;

pub use error::JoseError;
pub use jwe::{
    DecryptOptions, Decrypted, EncryptOptions, JweHeader, JweInfo, StreamDecryptor, decrypt,
    decrypt_stream, encrypt, encrypt_stream,
};
pub use jws::{JwsHeader, VerifiedJws, sign, verify};
pub use keys::{
    GeneratedKeyPair, GeneratedKeys, Jwk, KeyUse, PrivateKey, PublicKey, generate_destination_keys,
};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding, as every JOSE segment is encoded (RFC 7515 §2).
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding (no padding, no stray bits); `what` names the segment for the error.
pub(crate) fn b64_decode(text: impl AsRef<[u8]>, what: &'static str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError::Malformed(what))
}
