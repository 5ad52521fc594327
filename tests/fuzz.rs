//! The fuzz targets (`fuzz/`, bodies in `amtsbote::fuzz`) as a plain stable test, for CI: every
//! checked-in seed of `fuzz/corpus/<target>/` and a bounded number of seeded mutations of them
//! (bit flips, byte changes, cuts, repeats, splices, dictionary tokens from `fuzz/dict/`) go
//! through the target's body. A panic anywhere is a failure; the input is written to
//! `target/fuzz-findings/` for `cargo fuzz run <target> <file>`. The long, coverage-guided
//! campaigns are libFuzzer's (`scripts/fuzz.sh`, docs/RELIABILITY.md "Fuzzing").
//!
//! `AMTSBOTE_FUZZ_MUTATIONS` sets the mutations per target (default 20,000); the sequence is
//! the same on every run, so a failure repeats.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use amtsbote::fuzz::{self, Outcome};
use amtsbote_fit_connect::jose::keys::PrivateKey;

const DEFAULT_MUTATIONS: usize = 20_000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// A small deterministic generator (xorshift64*): the same mutations on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The seeds of one target, sorted by file name (a stable order for the generator).
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("seed readable"))
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// The tokens of a libFuzzer dictionary (`name="value"` lines, `\xNN`, `\"` and `\\` escapes).
fn dictionary(name: &str) -> Vec<Vec<u8>> {
    let path = fuzz_dir().join("dict").join(format!("{name}.dict"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut tokens = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || !line.ends_with('"') {
            continue;
        }
        let Some(start) = line.find('"') else {
            continue;
        };
        let quoted = &line.as_bytes()[start + 1..line.len() - 1];
        let mut token = Vec::new();
        let mut i = 0;
        while i < quoted.len() {
            match (quoted[i], quoted.get(i + 1)) {
                (b'\\', Some(b'x')) if i + 4 <= quoted.len() => {
                    let hex = std::str::from_utf8(&quoted[i + 2..i + 4]).expect("ASCII escape");
                    token.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                    i += 4;
                }
                (b'\\', Some(&c)) => {
                    token.push(c);
                    i += 2;
                }
                (c, _) => {
                    token.push(c);
                    i += 1;
                }
            }
        }
        tokens.push(token);
    }
    assert!(!tokens.is_empty(), "no tokens in {}", path.display());
    tokens
}

/// Bytes that tend to matter to the parsers here: delimiters, quotes, NUL, invalid UTF-8.
const INTERESTING: &[u8] = b"\0\xff\xc3\xed<>/&;\"'=.-\r\n:{}[]\\ ";

/// One to four mutations of `input`, drawing on `others` (for splices) and `tokens`.
fn mutate(
    rng: &mut Rng,
    input: &[u8],
    others: &[(String, Vec<u8>)],
    tokens: &[Vec<u8>],
) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        let at = if len == 0 { 0 } else { rng.below(len) };
        match rng.below(9) {
            0 if len > 0 => data[at] ^= 1 << rng.below(8),
            1 if len > 0 => data[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 => data.truncate(at),
            3 if len > 0 => {
                let end = at + rng.below((len - at).min(64) + 1);
                data.drain(at..end);
            }
            4 if len > 0 => {
                // Repeat a short piece many times: deep nesting, long runs, many parts.
                let end = (at + 1 + rng.below(16)).min(len);
                let piece = data[at..end].to_vec();
                let times = 1 + rng.below(200);
                let repeated = piece.repeat(times);
                data.splice(at..at, repeated);
            }
            5 | 6 => {
                let token = &tokens[rng.below(tokens.len())];
                data.splice(at..at, token.iter().copied());
            }
            7 => {
                let (_, other) = &others[rng.below(others.len())];
                let from = if other.is_empty() {
                    0
                } else {
                    rng.below(other.len())
                };
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                let token = &tokens[rng.below(tokens.len())];
                let end = (at + token.len()).min(len);
                data.splice(at..end, token.iter().copied());
            }
            _ => data.push(INTERESTING[rng.below(INTERESTING.len())]),
        }
    }
    data
}

/// Saves an input that made a body panic, for `cargo fuzz run <target> <file>`.
fn keep_finding(target: &str, data: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("fuzz-findings")
        .join(target);
    std::fs::create_dir_all(&dir).expect("findings directory");
    let path = dir.join(format!("input-{:016x}", fnv(data)));
    std::fs::write(&path, data).expect("finding written");
    path
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a run over one target saw.
#[derive(Debug, Default)]
struct Tally {
    seeds_accepted: usize,
    mutants_accepted: usize,
    mutants_refused: usize,
}

/// Runs `body` over the seeds of `target` and `AMTSBOTE_FUZZ_MUTATIONS` mutations of them.
fn run(target: &str, dict: &str, body: impl Fn(&[u8]) -> Outcome) -> Tally {
    let seeds = seeds(target);
    let tokens = dictionary(dict);
    let mutations = std::env::var("AMTSBOTE_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MUTATIONS);
    let guarded = |what: &str, data: &[u8]| {
        catch_unwind(AssertUnwindSafe(|| body(data))).unwrap_or_else(|_| {
            let path = keep_finding(target, data);
            panic!(
                "fuzz target `{target}` panicked on {what}; input saved to {}",
                path.display()
            )
        })
    };
    let mut tally = Tally::default();
    for (name, seed) in &seeds {
        if guarded(&format!("seed {name}"), seed) == Outcome::Accepted {
            tally.seeds_accepted += 1;
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ fnv(target.as_bytes()));
    for i in 0..mutations {
        let (name, seed) = &seeds[i % seeds.len()];
        let input = mutate(&mut rng, seed, &seeds, &tokens);
        match guarded(&format!("mutation {i} of seed {name}"), &input) {
            Outcome::Accepted => tally.mutants_accepted += 1,
            Outcome::Refused => tally.mutants_refused += 1,
        }
    }
    eprintln!(
        "{target}: {} seeds, {mutations} mutations, {tally:?}",
        seeds.len()
    );
    tally
}

/// The corpus reaches the end of the parser (not only its first check), and the mutations
/// both get through and get refused: otherwise the run would prove nothing.
fn assert_reaches_the_parser(target: &str, tally: &Tally) {
    assert!(
        tally.seeds_accepted > 0,
        "no seed of `{target}` is accepted: the corpus does not reach the parser"
    );
    assert!(
        tally.mutants_refused > 0,
        "no mutation of `{target}` is refused: the mutator does not mutate"
    );
}

#[test]
fn xoev_sniff_survives_mutated_documents() {
    let tally = run("xoev_sniff", "xml", fuzz::xoev_sniff);
    assert_reaches_the_parser("xoev_sniff", &tally);
}

#[test]
fn mapping_path_survives_mutated_expressions() {
    let tally = run("mapping_path", "path", fuzz::mapping_path);
    assert_reaches_the_parser("mapping_path", &tally);
}

#[test]
fn xta_answers_survive_mutation() {
    let tally = run("xta_soap", "xml", fuzz::xta_soap);
    assert_reaches_the_parser("xta_soap", &tally);
}

#[test]
fn jose_survives_mutated_jwe_and_jws() {
    let pem = std::fs::read(fuzz_dir().join("keys").join("fuzz-test-key.pem")).expect("test key");
    let key = PrivateKey::from_pem(&pem, Some("fuzz".into())).expect("the fuzz test key parses");
    let tally = run("jose", "jose", |data| fuzz::jose(data, &key));
    assert_reaches_the_parser("jose", &tally);
}

#[test]
fn multipart_intake_survives_mutated_bodies() {
    let tally = run("multipart", "multipart", fuzz::multipart);
    assert_reaches_the_parser("multipart", &tally);
}
