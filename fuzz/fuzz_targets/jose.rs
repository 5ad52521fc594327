//! Fuzz target: JOSE parsing at the FIT-Connect edge — JWE header inspection, decryption with a
//! fixed test key (one shot and streamed, which must agree), JWS header peeking and
//! verification, on mutated compact input. Body: `amtsbote::fuzz::jose`.
#![no_main]

use std::sync::OnceLock;

use amtsbote_fit_connect::jose::keys::PrivateKey;
use libfuzzer_sys::fuzz_target;

/// A throwaway 4096-bit key generated for fuzzing only (`fuzz/keys/`); the seed JWEs are
/// encrypted to it so that mutations reach the key unwrap and content decryption.
fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        PrivateKey::from_pem(
            include_bytes!("../keys/fuzz-test-key.pem"),
            Some("fuzz".into()),
        )
        .expect("the checked-in fuzz test key parses")
    })
}

fuzz_target!(|data: &[u8]| {
    amtsbote::fuzz::jose(data, key());
});
