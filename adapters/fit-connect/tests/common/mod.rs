//! Test keys (fixtures, see fixtures/keys/README.md) shared by the integration tests.
#![allow(dead_code)]

use amtsbote_fit_connect::jose::{Jwk, PrivateKey, PublicKey};

pub fn jwk(name: &str) -> Jwk {
    let path = format!(
        "{}/tests/fixtures/keys/{name}.jwk.json",
        env!("CARGO_MANIFEST_DIR")
    );
    Jwk::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn private(name: &str) -> PrivateKey {
    PrivateKey::from_jwk(&jwk(name)).unwrap()
}

/// The public half with public key_ops (wrapKey / verify).
pub fn public_jwk(name: &str) -> Jwk {
    jwk(name).to_public()
}

pub fn public(name: &str) -> PublicKey {
    PublicKey::from_jwk(&public_jwk(name)).unwrap()
}

pub const ENC: &str = "destination-encryption";
pub const SIG: &str = "destination-signing";
pub const ZD: &str = "zustelldienst-signing";
pub const SMALL: &str = "rsa2048";
