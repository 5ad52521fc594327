//! Interoperability with a second independent JOSE implementation, npm `jose` (panva), driven
//! through `tests/interop-node/jose-cli.mjs`: it encrypts with the destination kid, the RFC 7638
//! thumbprint as kid, and no kid, and we decrypt; we encrypt and sign, it decrypts and verifies.
//! npm `jose` 5 does not implement `zip: DEF`; compression is covered by the jwcrypto tests.
//! These tests FAIL (not skip) when node or the npm package is missing: run `npm ci` in
//! `adapters/fit-connect/tests/interop-node` (scripts/test.sh does).

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use amtsbote_fit_connect::events::{self, AuthenticationTags, SetSubject};
use amtsbote_fit_connect::jose::{DecryptOptions, EncryptOptions, decrypt, encrypt};
use common::*;

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop-node")
}

/// Runs one request through npm `jose`; panics with its stderr if it fails.
fn node(req: serde_json::Value) -> Result<String, String> {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/jose").is_dir(),
        "npm jose is missing: run `npm ci` in {}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("jose-cli.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is required for the npm jose interop tests");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn key_json(jwk: &amtsbote_fit_connect::jose::Jwk) -> serde_json::Value {
    let mut v = serde_json::to_value(jwk).unwrap();
    v.as_object_mut().unwrap().remove("key_ops");
    v
}

const TEXT: &str = "{\"antrag\":\"Gewerbeanmeldung\",\"name\":\"Erika Mustermann\",\"ü\":\"ß\"}";

#[test]
fn node_jose_encrypts_with_each_kid_style_we_decrypt() {
    // The destination holds an unrelated key first, so "try each key" is exercised too.
    let keys = [private(SIG).with_kid("unrelated"), private(ENC)];
    for (kid, cty) in [
        ("destination", "application/json"),
        ("thumbprint", "application/xml"),
        ("none", "text/plain; charset=utf-8"),
    ] {
        let compact = node(
            serde_json::json!({"op": "encrypt", "key": key_json(&public_jwk(ENC)),
            "plaintext": TEXT, "kid": kid, "cty": cty}),
        )
        .unwrap_or_else(|e| panic!("npm jose failed: {e}"));
        let d = decrypt(compact.as_bytes(), &keys, &DecryptOptions::default())
            .unwrap_or_else(|e| panic!("kid={kid}: {e}"));
        assert_eq!(String::from_utf8(d.plaintext).unwrap(), TEXT, "kid={kid}");
        assert_eq!(d.info.header.cty.as_deref(), Some(cty));
        let expected_kid = match kid {
            "destination" => Some("test-enc-1".to_string()),
            "thumbprint" => Some(public_jwk(ENC).thumbprint()),
            _ => None,
        };
        assert_eq!(d.info.header.kid, expected_kid, "kid={kid}");
    }
}

#[test]
fn node_jose_to_a_key_we_do_not_hold_is_refused() {
    let compact = node(
        serde_json::json!({"op": "encrypt", "key": key_json(&public_jwk(ZD)),
        "plaintext": TEXT, "kid": "thumbprint"}),
    )
    .unwrap();
    let err = decrypt(
        compact.as_bytes(),
        &[private(ENC)],
        &DecryptOptions::default(),
    )
    .expect_err("a JWE for another key must not decrypt");
    assert!(!err.to_string().is_empty());
}

#[test]
fn we_encrypt_node_jose_decrypts() {
    let compact = encrypt(
        TEXT.as_bytes(),
        &public(ENC),
        &EncryptOptions {
            cty: Some("application/json".into()),
            compress: false,
            kid_override: None,
            omit_kid: false,
        },
    )
    .unwrap();
    let out: serde_json::Value = serde_json::from_str(
        &node(serde_json::json!({"op": "decrypt", "key": key_json(&jwk(ENC)), "compact": compact}))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(out["plaintext"], TEXT);
    assert_eq!(out["header"]["alg"], "RSA-OAEP-256");
    assert_eq!(out["header"]["enc"], "A256GCM");
    assert_eq!(out["header"]["kid"], "test-enc-1");
}

#[test]
fn node_jose_verifies_our_set_and_refuses_a_forged_one() {
    let subject = SetSubject::new(
        "7a2668ad-3081-407e-9f52-3f6a3a7e7d2b",
        "1b8c7d9e-1111-4222-8333-444455556666",
        "9f8e7d6c-aaaa-4bbb-8ccc-ddddeeeeffff",
    );
    let tags = AuthenticationTags {
        metadata: "bWV0YWRhdGEtdGFn".into(),
        ..Default::default()
    };
    let set = events::accept_submission(&subject, tags, &private(SIG)).unwrap();
    let out: serde_json::Value = serde_json::from_str(
        &node(
            serde_json::json!({"op": "verify", "key": key_json(&public_jwk(SIG)), "compact": set}),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(out["header"]["alg"], "PS512");
    assert_eq!(out["header"]["typ"], "secevent+jwt");
    assert_eq!(
        out["claims"]["sub"],
        "submission:1b8c7d9e-1111-4222-8333-444455556666"
    );

    let forged = events::accept_submission(
        &subject,
        Default::default(),
        &private(ENC).with_kid("test-sig-1"),
    )
    .unwrap();
    let err = node(
        serde_json::json!({"op": "verify", "key": key_json(&public_jwk(SIG)), "compact": forged}),
    )
    .expect_err("npm jose must refuse a SET signed with another key");
    assert!(err.contains("signature"), "{err}");
}
