//! Interoperability with an independent JOSE implementation, Python's `jwcrypto`: it encrypts,
//! we decrypt (with and without `zip: DEF`); we encrypt, it decrypts; we sign a SET, it
//! verifies; it signs PS512, we verify. These tests FAIL (not skip) when python3 or jwcrypto is
//! missing: `pip install jwcrypto`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use amtsbote_fit_connect::events::{self, AuthenticationTags, SetSubject};
use amtsbote_fit_connect::jose::{DecryptOptions, EncryptOptions, decrypt, encrypt, jws};
use common::*;

/// Runs a Python snippet with `input` on stdin; panics with a clear message if it fails.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required for the interop tests (and jwcrypto: pip install jwcrypto)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python/jwcrypto failed (is jwcrypto installed? pip install jwcrypto):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const PY_ENCRYPT: &str = r#"
import sys, json
from jwcrypto import jwk, jwe
req = json.load(sys.stdin)
key = jwk.JWK(**req["key"])
header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": req.get("cty", "application/json")}
mode = req.get("kid", "destination")
if mode == "destination":
    header["kid"] = req["key"]["kid"]
elif mode == "thumbprint":
    header["kid"] = key.thumbprint()  # RFC 7638, SHA-256, computed by jwcrypto
if req["zip"]:
    header["zip"] = "DEF"
token = jwe.JWE(req["plaintext"].encode(), protected=json.dumps(header))
token.add_recipient(key)
print(token.serialize(compact=True))
"#;

const PY_DECRYPT: &str = r#"
import sys, json
from jwcrypto import jwk, jwe
req = json.load(sys.stdin)
key = jwk.JWK(**req["key"])
token = jwe.JWE()
token.deserialize(req["compact"], key=key)
print(json.dumps({"plaintext": token.payload.decode(), "header": json.loads(token.objects["protected"])}))
"#;

const PY_VERIFY: &str = r#"
import sys, json
from jwcrypto import jwk, jws
req = json.load(sys.stdin)
key = jwk.JWK(**req["key"])
token = jws.JWS()
token.deserialize(req["compact"])
token.verify(key, alg="PS512")
print(json.dumps({"header": json.loads(token.objects["protected"]), "claims": json.loads(token.payload)}))
"#;

const PY_SIGN: &str = r#"
import sys, json
from jwcrypto import jwk, jws
req = json.load(sys.stdin)
key = jwk.JWK(**req["key"])
token = jws.JWS(req["payload"].encode())
token.add_signature(key, alg="PS512", protected=json.dumps({"alg": "PS512", "kid": req["key"]["kid"], "typ": "secevent+jwt"}))
print(token.serialize(compact=True))
"#;

fn key_json(jwk: &amtsbote_fit_connect::jose::Jwk) -> serde_json::Value {
    let mut v = serde_json::to_value(jwk).unwrap();
    // jwcrypto enforces key_ops against the operation; give it what each script does.
    v.as_object_mut().unwrap().remove("key_ops");
    v
}

const TEXT: &str = "{\"antrag\":\"Gewerbeanmeldung\",\"name\":\"Erika Mustermann\",\"ü\":\"ß\"}";

#[test]
fn jwcrypto_encrypts_we_decrypt() {
    for zip in [false, true] {
        let req =
            serde_json::json!({"key": key_json(&public_jwk(ENC)), "plaintext": TEXT, "zip": zip});
        let compact = python(PY_ENCRYPT, &req.to_string());
        let d = decrypt(
            compact.as_bytes(),
            &[private(ENC)],
            &DecryptOptions::default(),
        )
        .unwrap_or_else(|e| panic!("zip={zip}: {e}"));
        assert_eq!(String::from_utf8(d.plaintext).unwrap(), TEXT);
        assert_eq!(d.info.header.zip.is_some(), zip);
        assert_eq!(d.info.header.cty.as_deref(), Some("application/json"));
        assert_eq!(
            d.info.authentication_tag,
            compact.rsplit('.').next().unwrap()
        );
    }
}

/// Senders built on general JOSE libraries name the key by its RFC 7638 thumbprint, or not at
/// all; the destination holds its keys under its own kids (and here a second, unrelated key
/// first), and must still pick the right one.
#[test]
fn jwcrypto_thumbprint_kid_and_no_kid_decrypt() {
    let keys = [private(SIG).with_kid("unrelated"), private(ENC)];
    for (kid, zip, cty) in [
        ("thumbprint", false, "application/json"),
        ("thumbprint", true, "application/xml"),
        ("none", false, "text/plain; charset=utf-8"),
        ("none", true, "application/json"),
    ] {
        let req = serde_json::json!({"key": key_json(&public_jwk(ENC)), "plaintext": TEXT,
            "zip": zip, "kid": kid, "cty": cty});
        let compact = python(PY_ENCRYPT, &req.to_string());
        let d = decrypt(compact.as_bytes(), &keys, &DecryptOptions::default())
            .unwrap_or_else(|e| panic!("kid={kid} zip={zip}: {e}"));
        assert_eq!(String::from_utf8(d.plaintext).unwrap(), TEXT, "kid={kid}");
        assert_eq!(d.info.header.cty.as_deref(), Some(cty));
        match kid {
            "thumbprint" => assert_eq!(
                d.info.header.kid.as_deref(),
                Some(public_jwk(ENC).thumbprint().as_str())
            ),
            _ => assert_eq!(d.info.header.kid, None),
        }
    }
}

#[test]
fn we_encrypt_jwcrypto_decrypts() {
    for compress in [false, true] {
        let compact = encrypt(
            TEXT.as_bytes(),
            &public(ENC),
            &EncryptOptions {
                cty: Some("application/json".into()),
                compress,
                kid_override: None,
                omit_kid: false,
            },
        )
        .unwrap();
        let req = serde_json::json!({"key": key_json(&jwk(ENC)), "compact": compact});
        let out: serde_json::Value =
            serde_json::from_str(&python(PY_DECRYPT, &req.to_string())).unwrap();
        assert_eq!(out["plaintext"], TEXT);
        assert_eq!(out["header"]["alg"], "RSA-OAEP-256");
        assert_eq!(out["header"]["enc"], "A256GCM");
        assert_eq!(out["header"]["kid"], "test-enc-1");
        if compress {
            assert_eq!(out["header"]["zip"], "DEF");
        }
    }
}

#[test]
fn jwcrypto_verifies_our_set() {
    let mut tags = AuthenticationTags {
        metadata: "bWV0YWRhdGEtdGFn".into(),
        data: Some("ZGF0YS10YWc".into()),
        ..Default::default()
    };
    tags.attachments
        .insert("4f1c2e3a-0000-4000-8000-000000000001".into(), "YXR0".into());
    let subject = SetSubject::new(
        "7a2668ad-3081-407e-9f52-3f6a3a7e7d2b",
        "1b8c7d9e-1111-4222-8333-444455556666",
        "9f8e7d6c-aaaa-4bbb-8ccc-ddddeeeeffff",
    );
    let set = events::accept_submission(&subject, tags, &private(SIG)).unwrap();
    let req = serde_json::json!({"key": key_json(&public_jwk(SIG)), "compact": set});
    let out: serde_json::Value =
        serde_json::from_str(&python(PY_VERIFY, &req.to_string())).unwrap();
    assert_eq!(out["header"]["alg"], "PS512");
    assert_eq!(out["header"]["typ"], "secevent+jwt");
    assert_eq!(out["header"]["kid"], "test-sig-1");
    let claims = &out["claims"];
    assert_eq!(claims["iss"], "7a2668ad-3081-407e-9f52-3f6a3a7e7d2b");
    assert_eq!(
        claims["sub"],
        "submission:1b8c7d9e-1111-4222-8333-444455556666"
    );
    assert_eq!(claims["txn"], "case:9f8e7d6c-aaaa-4bbb-8ccc-ddddeeeeffff");
    assert_eq!(claims["$schema"], events::SET_PAYLOAD_SCHEMA);
    let event = &claims["events"][events::EVENT_ACCEPT];
    assert_eq!(event["authenticationTags"]["metadata"], "bWV0YWRhdGEtdGFn");
    assert_eq!(
        event["authenticationTags"]["attachments"]["4f1c2e3a-0000-4000-8000-000000000001"],
        "YXR0"
    );

    // And a SET signed with another key fails jwcrypto's verification too.
    let forged = events::accept_submission(
        &subject,
        Default::default(),
        &private(ENC).with_kid("test-sig-1"),
    )
    .unwrap();
    let req = serde_json::json!({"key": key_json(&public_jwk(SIG)), "compact": forged});
    let status = Command::new("python3")
        .args(["-c", PY_VERIFY])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(req.to_string().as_bytes())
                .unwrap();
            c.wait().unwrap()
        })
        .unwrap();
    assert!(!status.success());
}

#[test]
fn jwcrypto_signs_we_verify() {
    let payload = r#"{"$schema":"x","jti":"j","iss":"i","iat":1,"sub":"submission:s","txn":"case:c","events":{"https://schema.fitko.de/fit-connect/events/submit-submission":{}}}"#;
    let req = serde_json::json!({"key": key_json(&jwk(SIG)), "payload": payload});
    let compact = python(PY_SIGN, &req.to_string());
    let v = jws::verify(&compact, &public(SIG)).unwrap();
    assert_eq!(v.payload, payload.as_bytes());
    let set = events::verify_set(&compact, &public(SIG)).unwrap();
    assert!(matches!(
        set.event,
        events::Event::Submit {
            authentication_tags: None
        }
    ));
}
