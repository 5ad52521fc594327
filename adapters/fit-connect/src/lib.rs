//! # amtsbote-fit-connect
//!
//! FIT-Connect (API v1) for Rust, written for the subscriber side — the authority's system that
//! receives encrypted applications (submissions) from online services through the federal
//! *Zustelldienst* (delivery service) — and complete enough to test both sides locally.
//!
//! | module | what it is for |
//! |---|---|
//! | [`jose`] | JWE (RSA-OAEP-256 + A256GCM, `zip: DEF`), PS512 JWS, JWK/PEM keys, key generation — over OpenSSL |
//! | [`client`] | Submission API client: OAuth2 client credentials, token cache, retries, RFC 7807 problems |
//! | [`wire`] | the JSON shapes of the Submission API v1 (shared by client and sandbox) |
//! | [`callback`] | `callback-authentication` HMAC verification (and production, for the sandbox) |
//! | [`events`] | Security Event Tokens: accept/reject-submission, the problem catalogue |
//! | [`verification`] | metadata schema, hashes, attachment sets → problems for `reject-submission` |
//! | [`sender`] | what an online service does: encrypt and submit (also deliberately broken) |
//! | [`sandbox`] | an in-process Zustelldienst speaking the v1 wire protocol, with fault injection |
//!
//! The crate does not depend on the broker; the broker wires it in. Facts taken from FITKO's
//! documentation are marked in the docs; anything *unverified* against FITKO's published API
//! is said so where it is defined.

pub mod callback;
pub mod client;
pub mod events;
pub mod jose;
pub mod sandbox;
pub mod sender;
pub mod verification;
pub mod wire;
