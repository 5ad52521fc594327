//! Property checks in the quick-check style, with a fixed-seed generator so failures
//! reproduce: on arbitrary bytes and on mutated real messages, no entry point panics, the
//! slice and stream variants agree exactly, and whatever `inspect` accepts `sniff`
//! accepts with the same result.
//!
//! (A plain loop instead of proptest keeps the crate free of extra dependencies; the
//! mutations are XML-aware so that they reach deep into the parser, not just the prelude.)

use std::io::BufReader;
use std::path::Path;

use amtsbote_xoev::{Limits, inspect, inspect_reader, sniff, sniff_reader};

/// xorshift64*: small, deterministic, good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Fragments that exercise the interesting paths when spliced into a document.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"/>",
    b"</",
    b"&",
    b"&amp;",
    b"&lt;",
    b"&#x41;",
    b"&#0;",
    b"&e;",
    b"\"",
    b"'",
    b"=",
    b":",
    b"<!DOCTYPE x [<!ENTITY e \"x\">]>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\"?>",
    b"<?pi x?>",
    b"xmlns=\"urn:x\"",
    b"xmlns:p=\"urn:p\"",
    b"p:",
    b"<nachrichtenkopf.g2g>",
    b"</nachrichtenkopf.g2g>",
    b"<leser>",
    b"<kennung>a:b</kennung>",
    b"\x00",
    b"\x01",
    b"\xff",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\xef\xbf\xbf",
    b"\r\n",
    b" ",
    b"test=\"1\"",
    "ü€".as_bytes(),
];

fn mutate(rng: &mut Rng, doc: &[u8]) -> Vec<u8> {
    let mut out = doc.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => out.truncate(at),
            1 if at < out.len() => out[at] = rng.next() as u8,
            2 => {
                let end = (at + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            3 => {
                let token = rng.pick(TOKENS);
                out.splice(at..at, token.iter().copied());
            }
            4 => {
                let end = (at + rng.below(256)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            _ => out.insert(at.min(out.len()), rng.pick(b"<>&;\"'=/ !?[]-")),
        }
    }
    out
}

fn random_document(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(40) {
        if rng.below(3) == 0 {
            out.extend((0..rng.below(8)).map(|_| rng.next() as u8));
        } else {
            out.extend_from_slice(rng.pick(TOKENS));
        }
    }
    out
}

/// The properties every input must satisfy (a panic anywhere fails the test too).
fn check(input: &[u8], limits: &Limits, rng: &mut Rng) {
    let sniffed = sniff(input, limits);
    let inspected = inspect(input, limits);
    // Buffers smaller than 4 bytes cannot show a byte order mark whole; no real reader
    // is that small.
    let capacity = 4 + rng.below(64);
    assert_eq!(
        sniff_reader(BufReader::with_capacity(capacity, input), limits),
        sniffed,
        "sniff_reader disagrees on {input:?}"
    );
    assert_eq!(
        inspect_reader(BufReader::with_capacity(capacity, input), limits),
        inspected,
        "inspect_reader disagrees on {input:?}"
    );
    if let Ok(whole) = &inspected {
        assert_eq!(
            sniffed.as_ref(),
            Ok(whole),
            "inspect accepted what sniff did not: {input:?}"
        );
    }
    if let Err(err) = &inspected {
        assert!(
            err.position().offset <= input.len() as u64,
            "{err:?} for {input:?}"
        );
        assert!(!err.to_string().is_empty());
    }
}

fn fixture_messages() -> Vec<Vec<u8>> {
    let base = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/xoev"
    ));
    let dirs = [
        "xgewerbeanzeige",
        "xdomea/3.0.0/examples",
        "xdomea/4.0.0",
        "xwasser-1.0/examples",
    ];
    let mut docs = Vec::new();
    for dir in dirs {
        let mut paths: Vec<_> = std::fs::read_dir(base.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "xml"))
            .collect();
        paths.sort();
        docs.extend(paths.into_iter().map(|p| std::fs::read(p).unwrap()));
    }
    docs
}

#[test]
fn arbitrary_bytes_never_panic_and_entry_points_agree() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let limits = Limits::default();
    for _ in 0..3000 {
        let input = random_document(&mut rng);
        check(&input, &limits, &mut rng);
    }
}

#[test]
fn mutated_fixtures_never_panic_and_entry_points_agree() {
    let mut rng = Rng(0xFEED_FACE_CAFE_BEEF);
    // Tight limits as well, so that limit checks meet odd input too.
    let tight = Limits {
        max_depth: 8,
        max_attributes: 4,
        max_name_len: 24,
        max_text_len: 64,
        max_bytes: 6000,
    };
    for doc in fixture_messages() {
        check(&doc, &Limits::default(), &mut rng);
        for round in 0..80 {
            let mutated = mutate(&mut rng, &doc);
            let limits = if round % 4 == 0 {
                tight
            } else {
                Limits::default()
            };
            check(&mutated, &limits, &mut rng);
        }
    }
}
