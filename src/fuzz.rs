//! Fuzz bodies: what each fuzz target in `fuzz/` does with one input, on the parsers at the
//! public edge — before intake (multipart bodies, XÖV documents), inside the transport adapters
//! (XTA answers, FIT-Connect JWE/JWS) and at startup (mapping paths). Every input must end in
//! a value or an error, never a panic, a hang or unbounded memory.
//!
//! Not API. The same bodies run twice: under libFuzzer (`scripts/fuzz.sh`, long campaigns with
//! coverage feedback) and as a plain stable test (`tests/fuzz.rs`: the checked-in corpus plus
//! seeded mutations, in CI). Each returns whether the input got through to the end of the
//! parser ([`Outcome::Accepted`]), so that the test can tell a corpus that reaches the code
//! from one that is refused at the first byte.

use amtsbote_fit_connect::jose::jwe::{self, DecryptOptions, StreamDecryptor};
use amtsbote_fit_connect::jose::jws;
use amtsbote_fit_connect::jose::keys::PrivateKey;
use bytes::Bytes;

use crate::config::IntakeConfig;
use crate::inbound::http::read_form;
use crate::intake::{DocumentLimits, check_document};

/// How far one input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed (decrypted, decoded) to the end.
    Accepted,
    /// Refused with an error.
    Refused,
}

impl Outcome {
    fn of(accepted: bool) -> Outcome {
        if accepted {
            Outcome::Accepted
        } else {
            Outcome::Refused
        }
    }
}

/// Splits `first line = a header value (Content-Type), rest = body`, the input layout of the
/// targets whose parser also reads a header.
fn header_and_body(data: &[u8]) -> Option<(&str, Bytes)> {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let header = std::str::from_utf8(&data[..split]).ok()?;
    let body = Bytes::copy_from_slice(data.get(split + 1..).unwrap_or_default());
    Some((header.trim_end_matches('\r'), body))
}

/// The document limits a broker with the default `[intake]` settings uses (as `broker.rs`
/// builds them).
fn default_limits() -> DocumentLimits {
    let intake = IntakeConfig::default();
    DocumentLimits {
        max_document_bytes: intake.max_document_bytes,
        max_message_bytes: intake.max_message_bytes,
        max_part_bytes: intake.max_part_bytes,
        max_parts: intake.max_parts,
        max_json_depth: intake.max_json_depth,
        xml: amtsbote_xoev::Limits {
            max_bytes: intake.max_document_bytes as usize,
            ..Default::default()
        },
    }
}

/// `xoev_sniff`: the XÖV sniffer and header inspection intake runs on every XML document.
pub fn xoev_sniff(data: &[u8]) -> Outcome {
    let limits = amtsbote_xoev::Limits::default();
    let sniffed = amtsbote_xoev::sniff(data, &limits).is_ok();
    let inspected = amtsbote_xoev::inspect(data, &limits).is_ok();
    Outcome::of(sniffed && inspected)
}

/// `mapping_path`: the path expressions of XÖV mapping files.
pub fn mapping_path(data: &[u8]) -> Outcome {
    let Ok(text) = std::str::from_utf8(data) else {
        return Outcome::Refused;
    };
    Outcome::of(amtsbote_xoev::fuzz_parse_mapping_path(text).is_ok())
}

/// `xta_soap`: what the XTA client makes of an HTTP answer (SOAP or MTOM by Content-Type, the
/// envelope, a fault, every operation's decoder). Input: the Content-Type line, then the body.
pub fn xta_soap(data: &[u8]) -> Outcome {
    let Some((content_type, body)) = header_and_body(data) else {
        return Outcome::Refused;
    };
    let decoded = amtsbote_xta::client::interpret_any_answer(200, Some(content_type), body);
    Outcome::of(decoded > 0)
}

/// `jose`: FIT-Connect's JOSE parsing — JWE header inspection, decryption with `key` (one
/// shot, and streamed in pieces, which must agree), JWS header peeking and verification.
pub fn jose(data: &[u8], key: &PrivateKey) -> Outcome {
    let _ = jwe::inspect(data);
    let keys = std::slice::from_ref(key);
    let opts = DecryptOptions {
        max_plaintext_bytes: 1 << 20,
    };
    let whole = jwe::decrypt(data, keys, &opts);
    // The client decrypts submissions as they stream in: cut the input where the network
    // might, and the result must be the same as in one piece.
    let mut streamed = Vec::new();
    let mut decryptor = StreamDecryptor::new(keys, opts);
    let step = 1 + data.len() / 7;
    let fed = data
        .chunks(step)
        .try_for_each(|chunk| decryptor.update(chunk, &mut streamed));
    let streamed = fed.and_then(|()| decryptor.finish(&mut streamed).map(|_| streamed));
    match (&whole, &streamed) {
        (Ok(w), Ok(s)) => assert_eq!(w.plaintext, *s, "streamed decryption differs"),
        (Err(_), Err(_)) => {}
        (w, s) => panic!(
            "one-shot and streamed decryption disagree: {:?} vs {:?}",
            w.as_ref().err(),
            s.as_ref().err()
        ),
    }
    let mut verified = false;
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = jws::peek_header(text);
        verified = jws::verify(text, &key.public_key()).is_ok();
    }
    Outcome::of(whole.is_ok() || verified)
}

/// `multipart`: an HTTP intake `multipart/form-data` body as `POST .../messages` reads it, and
/// the document check intake runs on its `document` part. Input: the Content-Type line, then
/// the body.
pub fn multipart(data: &[u8]) -> Outcome {
    let Some((content_type, body)) = header_and_body(data) else {
        return Outcome::Refused;
    };
    let limits = default_limits();
    let Ok(form) = read_form(content_type, body, &limits) else {
        return Outcome::Refused;
    };
    let Some((declared, document)) = &form.document else {
        return Outcome::Refused;
    };
    Outcome::of(check_document(declared.as_deref(), document, &limits).is_ok())
}
