//! Fuzz target: JOSE parsing at the FIT-Connect edge — JWE header inspection and decryption
//! with a fixed test key, JWS header peeking and verification, on mutated compact input.
#![no_main]

use std::sync::OnceLock;

use amtsbote_fit_connect::jose::jwe::{DecryptOptions, decrypt, inspect};
use amtsbote_fit_connect::jose::jws::{peek_header, verify};
use amtsbote_fit_connect::jose::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

/// A throwaway 4096-bit key generated for fuzzing only (`fuzz/keys/`); the seed JWEs are
/// encrypted to it so that mutations reach the key unwrap and content decryption.
fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(include_bytes!("../keys/fuzz-test-key.pem"), Some("fuzz".into()))
            .expect("the checked-in fuzz test key parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    let _ = inspect(data);
    let opts = DecryptOptions {
        max_plaintext_bytes: 1 << 20,
    };
    let _ = decrypt(data, std::slice::from_ref(key), &opts);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = peek_header(text);
        let _ = verify(text, &key.public_key());
    }
});
