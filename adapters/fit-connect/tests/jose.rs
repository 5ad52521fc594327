//! JOSE behaviour: JWE round trips (plain, zip:DEF, push-fed in odd chunk sizes), every kind of
//! tampering mapped to its error, PS512, key loading and the RSA-4096 rule.

mod common;

use amtsbote_fit_connect::jose::{
    DecryptOptions, EncryptOptions, JoseError, Jwk, KeyUse, PrivateKey, PublicKey, StreamDecryptor,
    decrypt, encrypt, generate_destination_keys, jwe, jws,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;

fn opts() -> DecryptOptions {
    DecryptOptions::default()
}

const SECRET_TEXT: &str = "Antrag von Erika Mustermann, geboren 12.08.1964";

#[test]
fn round_trip_with_header_fields() {
    let key = private(ENC);
    let compact = encrypt(
        SECRET_TEXT.as_bytes(),
        &public(ENC),
        &EncryptOptions {
            cty: Some("application/json".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(compact.split('.').count(), 5);
    let d = decrypt(compact.as_bytes(), std::slice::from_ref(&key), &opts()).unwrap();
    assert_eq!(d.plaintext, SECRET_TEXT.as_bytes());
    assert_eq!(d.info.header.alg, "RSA-OAEP-256");
    assert_eq!(d.info.header.enc, "A256GCM");
    assert_eq!(d.info.header.kid.as_deref(), Some("test-enc-1"));
    assert_eq!(d.info.header.cty.as_deref(), Some("application/json"));
    assert_eq!(d.info.header.zip, None);
    assert_eq!(
        d.info.authentication_tag,
        compact.rsplit('.').next().unwrap()
    );
    assert_eq!(
        jwe::authentication_tag(&compact).unwrap(),
        d.info.authentication_tag
    );
}

#[test]
fn round_trip_with_deflate() {
    let key = private(ENC);
    let text = SECRET_TEXT.repeat(1000);
    let compact = encrypt(
        text.as_bytes(),
        &public(ENC),
        &EncryptOptions {
            compress: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        compact.len() < text.len() / 4,
        "DEFLATE should shrink repetitive text"
    );
    let d = decrypt(compact.as_bytes(), &[key], &opts()).unwrap();
    assert_eq!(d.info.header.zip.as_deref(), Some("DEF"));
    assert_eq!(d.plaintext, text.as_bytes());
}

#[test]
fn empty_plaintext_round_trips() {
    for compress in [false, true] {
        let compact = encrypt(
            b"",
            &public(ENC),
            &EncryptOptions {
                compress,
                ..Default::default()
            },
        )
        .unwrap();
        let d = decrypt(compact.as_bytes(), &[private(ENC)], &opts()).unwrap();
        assert!(d.plaintext.is_empty());
    }
}

#[test]
fn push_decryption_is_independent_of_chunking() {
    let key = private(ENC);
    let text: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for compress in [false, true] {
        let compact = encrypt(
            &text,
            &public(ENC),
            &EncryptOptions {
                compress,
                ..Default::default()
            },
        )
        .unwrap();
        for chunk in [1usize, 2, 3, 5, 7, 64, 1000, 65_537] {
            let mut out = Vec::new();
            let mut d = StreamDecryptor::new(std::slice::from_ref(&key), opts());
            for piece in compact.as_bytes().chunks(chunk) {
                d.update(piece, &mut out).unwrap();
            }
            let info = d.finish(&mut out).unwrap();
            assert_eq!(out, text, "chunk size {chunk}, compress {compress}");
            assert_eq!(info.plaintext_len, text.len() as u64);
        }
    }
}

#[test]
fn zip_bomb_is_refused() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let compact = encrypt(
        &zeros,
        &public(ENC),
        &EncryptOptions {
            compress: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(compact.len() < 100_000);
    let err = decrypt(
        compact.as_bytes(),
        &[private(ENC)],
        &DecryptOptions {
            max_plaintext_bytes: 1024 * 1024,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, JoseError::TooLarge { limit } if limit == 1024 * 1024),
        "{err:?}"
    );
}

fn sample() -> String {
    encrypt(
        SECRET_TEXT.as_bytes(),
        &public(ENC),
        &EncryptOptions::default(),
    )
    .unwrap()
}

fn with_segment(compact: &str, i: usize, f: impl Fn(&str) -> String) -> String {
    let mut parts: Vec<String> = compact.split('.').map(str::to_string).collect();
    parts[i] = f(&parts[i]);
    parts.join(".")
}

/// Flips one bit of the decoded segment and re-encodes it (always valid base64url).
fn flip(segment: &str) -> String {
    let mut bytes = URL_SAFE_NO_PAD.decode(segment).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decrypt_err(compact: &str) -> JoseError {
    decrypt(compact.as_bytes(), &[private(ENC)], &opts()).unwrap_err()
}

#[test]
fn tampering_with_each_segment_gives_the_right_error() {
    let good = sample();
    // Header: a valid header with one changed field → AAD differs → tag check fails.
    let header = with_segment(&good, 0, |h| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        v["cty"] = "text/plain".into();
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    });
    assert!(matches!(decrypt_err(&header), JoseError::TagMismatch));
    // Header bytes flipped into invalid JSON.
    let header = with_segment(&good, 0, flip);
    assert!(matches!(
        decrypt_err(&header),
        JoseError::Malformed(_) | JoseError::TagMismatch | JoseError::BadHeader(_)
    ));
    // Encrypted key → OAEP fails.
    assert!(matches!(
        decrypt_err(&with_segment(&good, 1, flip)),
        JoseError::KeyUnwrap
    ));
    // IV, ciphertext, tag → GCM authentication fails.
    for i in [2, 3, 4] {
        let e = decrypt_err(&with_segment(&good, i, flip));
        assert!(matches!(e, JoseError::TagMismatch), "segment {i}: {e:?}");
    }
    // Truncated IV / tag → length error.
    let short_iv = with_segment(&good, 2, |s| s[..8].to_string());
    assert!(matches!(
        decrypt_err(&short_iv),
        JoseError::InvalidLength { .. }
    ));
    // Not base64url.
    let garbage = with_segment(&good, 3, |s| format!("{}!!", &s[..4]));
    assert!(matches!(decrypt_err(&garbage), JoseError::Malformed(_)));
    // Segment count.
    let four: Vec<&str> = good.split('.').take(4).collect();
    assert!(matches!(
        decrypt_err(&four.join(".")),
        JoseError::Malformed(_)
    ));
    assert!(matches!(
        decrypt_err(&format!("{good}.x")),
        JoseError::Malformed(_)
    ));
}

#[test]
fn errors_do_not_leak_plaintext_or_keys() {
    let good = sample();
    let e = decrypt_err(&with_segment(&good, 3, flip));
    let text = format!("{e} {e:?}");
    assert!(!text.contains("Mustermann"));
    let key = private(ENC);
    let d_member = jwk(ENC).d.unwrap();
    assert!(!format!("{key:?} {:?}", jwk(ENC)).contains(&d_member[..20]));
}

#[test]
fn wrong_key_and_wrong_kid() {
    let good = sample();
    // A different key carrying the expected kid → unwrap fails.
    let impostor = private(SIG).with_kid("test-enc-1");
    let e = decrypt(good.as_bytes(), &[impostor], &opts()).unwrap_err();
    assert!(matches!(e, JoseError::KeyUnwrap), "{e:?}");
    // The right key under another kid → the kid names nothing held, so every key is tried.
    let renamed = private(ENC).with_kid("other");
    let d = decrypt(good.as_bytes(), &[renamed], &opts()).unwrap();
    assert_eq!(d.plaintext, SECRET_TEXT.as_bytes());
    // A kid that names nothing, and no held key fits → unknown kid, naming what is held.
    let stranger = private(SIG).with_kid("other");
    let e = decrypt(good.as_bytes(), &[stranger], &opts()).unwrap_err();
    match e {
        JoseError::UnknownKid { kid, held } => {
            assert_eq!(kid, "test-enc-1");
            assert_eq!(held, vec!["other".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    // Several keys: the one named by kid is used.
    let d = decrypt(good.as_bytes(), &[private(SIG), private(ENC)], &opts()).unwrap();
    assert_eq!(d.plaintext, SECRET_TEXT.as_bytes());
}

/// A JWE for the ENC key whose header carries `kid`.
fn encrypt_with_kid(kid: &str) -> String {
    let opts = EncryptOptions {
        kid_override: Some(kid.to_string()),
        omit_kid: false,
        ..Default::default()
    };
    encrypt(SECRET_TEXT.as_bytes(), &public(ENC), &opts).unwrap()
}

#[test]
fn key_chosen_by_thumbprint_when_the_kid_is_one() {
    let thumbprint = private(ENC).public_jwk().thumbprint();
    let compact = encrypt_with_kid(&thumbprint);
    // The held keys carry their own kids; the header names the thumbprint of one of them.
    let keys = [private(SIG).with_kid("sig"), private(ENC).with_kid("enc")];
    let d = decrypt(compact.as_bytes(), &keys, &opts()).unwrap();
    assert_eq!(d.plaintext, SECRET_TEXT.as_bytes());
    assert_eq!(d.info.header.kid.as_deref(), Some(thumbprint.as_str()));
}

#[test]
fn unsupported_algorithms_are_refused() {
    let good = sample();
    for (field, value) in [("alg", "RSA1_5"), ("enc", "A128CBC-HS256"), ("zip", "GZIP")] {
        let bad = with_segment(&good, 0, |h| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
            v[field] = value.into();
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
        });
        match decrypt_err(&bad) {
            JoseError::UnsupportedAlgorithm { field: f, value: v } => {
                assert_eq!((f, v.as_str()), (field, value));
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    let crit = with_segment(&good, 0, |h| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
        v["crit"] = serde_json::json!(["exp"]);
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap())
    });
    assert!(matches!(decrypt_err(&crit), JoseError::BadHeader(_)));
}

#[test]
fn inspect_checks_structure_without_key() {
    let good = sample();
    assert_eq!(
        jwe::inspect(good.as_bytes()).unwrap().kid.as_deref(),
        Some("test-enc-1")
    );
    assert!(jwe::inspect(b"a.b.c").is_err());
    assert!(jwe::inspect(b"not a jwe at all").is_err());
}

#[test]
fn ps512_sign_and_verify() {
    let key = private(SIG);
    let header = jws::JwsHeader {
        alg: String::new(),
        kid: None,
        typ: Some("secevent+jwt".into()),
        cty: None,
        other: Default::default(),
    };
    let token = jws::sign(header, b"{\"hello\":1}", &key).unwrap();
    let v = jws::verify(&token, &public(SIG)).unwrap();
    assert_eq!(v.payload, b"{\"hello\":1}");
    assert_eq!(v.header.alg, "PS512");
    assert_eq!(v.header.kid.as_deref(), Some("test-sig-1"));
    // Another key.
    assert!(matches!(
        jws::verify(&token, &public(ENC)),
        Err(JoseError::BadSignature)
    ));
    // Tampered payload.
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(b"{\"hello\":2}"),
        parts[2]
    );
    assert!(matches!(
        jws::verify(&forged, &public(SIG)),
        Err(JoseError::BadSignature)
    ));
    // alg: none and HS512 are refused before any signature check.
    for alg in ["none", "HS512", "RS512"] {
        let h = URL_SAFE_NO_PAD.encode(format!("{{\"alg\":\"{alg}\"}}"));
        let t = format!("{h}.{}.{}", parts[1], parts[2]);
        assert!(matches!(
            jws::verify(&t, &public(SIG)),
            Err(JoseError::UnsupportedAlgorithm { .. })
        ));
    }
}

#[test]
fn jwk_and_pem_loading() {
    let key = private(ENC);
    assert_eq!(key.bits(), 4096);
    assert_eq!(key.kid(), Some("test-enc-1"));
    // PKCS#8 round trip, kid given.
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(String::from_utf8_lossy(&pem).contains("BEGIN PRIVATE KEY"));
    let from_pem = PrivateKey::from_pem(&pem, Some("test-enc-1".into())).unwrap();
    let compact = sample();
    decrypt(compact.as_bytes(), &[from_pem], &opts()).unwrap();
    // Without kid, the RFC 7638 thumbprint is the kid.
    let anonymous = PrivateKey::from_pem(&pem, None).unwrap();
    assert_eq!(anonymous.kid().unwrap(), jwk(ENC).thumbprint());
    // SPKI public key.
    let spki = public(ENC).to_pem().unwrap();
    assert!(String::from_utf8_lossy(&spki).contains("BEGIN PUBLIC KEY"));
    let p = PublicKey::from_pem(&spki, Some("x".into())).unwrap();
    assert_eq!(p.jwk().n, jwk(ENC).n);
    // Public JWK from a private JWK maps key_ops.
    assert_eq!(public_jwk(ENC).key_ops, Some(vec!["wrapKey".to_string()]));
    assert_eq!(public_jwk(SIG).key_ops, Some(vec!["verify".to_string()]));
    assert!(public_jwk(ENC).d.is_none());
    // Garbage.
    assert!(
        PrivateKey::from_pem(
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            None
        )
        .is_err()
    );
    assert!(Jwk::from_json("{\"kty\":\"EC\"}").is_err());
    let mut ec = jwk(ENC);
    ec.kty = "EC".into();
    assert!(PublicKey::from_jwk(&ec).is_err());
    // Inconsistent private key (p from another key) is refused.
    let mut broken = jwk(ENC);
    broken.p = jwk(SIG).p;
    assert!(PrivateKey::from_jwk(&broken).is_err());
}

#[test]
fn rsa_2048_is_refused_for_destinations() {
    let small = public(SMALL);
    assert_eq!(small.bits(), 2048);
    let e = small.check_destination_key(KeyUse::Encryption).unwrap_err();
    assert!(e.to_string().contains("4096"), "{e}");
    assert!(
        private(SMALL)
            .check_destination_key(KeyUse::Encryption)
            .is_err()
    );
    public(ENC)
        .check_destination_key(KeyUse::Encryption)
        .unwrap();
    private(ENC)
        .check_destination_key(KeyUse::Encryption)
        .unwrap();
    // key_ops are enforced: the signing key cannot be used to wrap keys.
    assert!(
        public(SIG)
            .check_destination_key(KeyUse::Encryption)
            .is_err()
    );
    assert!(public(ENC).check_destination_key(KeyUse::Signing).is_err());
    public(SIG).check_destination_key(KeyUse::Signing).unwrap();
}

#[test]
fn generated_destination_keys_work_and_carry_the_right_attributes() {
    let keys = generate_destination_keys().unwrap();
    let enc = &keys.encryption;
    assert_eq!(enc.public.alg.as_deref(), Some("RSA-OAEP-256"));
    assert_eq!(enc.public.key_use.as_deref(), Some("enc"));
    assert_eq!(enc.public.key_ops, Some(vec!["wrapKey".to_string()]));
    assert_eq!(enc.private.key_ops, Some(vec!["unwrapKey".to_string()]));
    assert!(enc.public.d.is_none() && enc.private.d.is_some());
    assert_eq!(enc.public.kid, enc.private.kid);
    let sig = &keys.signing;
    assert_eq!(sig.public.alg.as_deref(), Some("PS512"));
    assert_eq!(sig.public.key_ops, Some(vec!["verify".to_string()]));
    assert_eq!(sig.private.key_ops, Some(vec!["sign".to_string()]));

    let enc_pub = PublicKey::from_jwk(&enc.public).unwrap();
    enc_pub.check_destination_key(KeyUse::Encryption).unwrap();
    let enc_priv = PrivateKey::from_jwk(&enc.private).unwrap();
    enc_priv.check_destination_key(KeyUse::Encryption).unwrap();
    let c = encrypt(b"x", &enc_pub, &EncryptOptions::default()).unwrap();
    assert_eq!(
        decrypt(c.as_bytes(), &[enc_priv], &opts())
            .unwrap()
            .plaintext,
        b"x"
    );

    let sig_priv = PrivateKey::from_jwk(&sig.private).unwrap();
    sig_priv.check_destination_key(KeyUse::Signing).unwrap();
    let sig_pub = PublicKey::from_jwk(&sig.public).unwrap();
    sig_pub.check_destination_key(KeyUse::Signing).unwrap();
    let t = jws::sign(
        jws::JwsHeader {
            alg: String::new(),
            kid: None,
            typ: None,
            cty: None,
            other: Default::default(),
        },
        b"p",
        &sig_priv,
    )
    .unwrap();
    jws::verify(&t, &sig_pub).unwrap();
    // Debug output of generated pairs shows no private members.
    assert!(!format!("{keys:?}").contains(enc.private.d.as_deref().unwrap()));
}
