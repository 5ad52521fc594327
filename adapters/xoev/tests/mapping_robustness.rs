//! Property checks for the mapping engine in the quick-check style, with a fixed-seed
//! generator so failures reproduce (the same approach as `robustness.rs` for the
//! sniffer, without extra dependencies):
//!
//! - the path-expression parser never panics, on token soup and on generated paths, and
//!   whatever it accepts evaluates without panicking against real messages;
//! - `apply` never panics on arbitrary bytes or on mutated real messages, for every
//!   shipped mapping pack, and its errors are ordinary values.

use std::path::{Path, PathBuf};

use amtsbote_xoev::Mapping;

/// xorshift64*: small, deterministic, good enough to drive generation.
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

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn messages() -> Vec<Vec<u8>> {
    [
        "xgewerbeanzeige-2.2-gewerbemeldung.xml",
        "xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml",
        "xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml",
        "xdomea-4.0-aussonderung-0503.xml",
        "xwasser-1.0-pruefbericht.xml",
    ]
    .iter()
    .map(|name| std::fs::read(root().join("examples/messages").join(name)).unwrap())
    .collect()
}

/// Pieces of path expressions, valid and otherwise.
const TOKENS: &[&str] = &[
    "/",
    "//",
    ".",
    "..",
    "*",
    "@",
    "@*",
    "[",
    "]",
    "(",
    ")",
    "|",
    ",",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "'",
    "\"",
    "'x'",
    "\"0500\"",
    "1",
    "2",
    "0",
    "-1",
    "1.5",
    ".5",
    "last()",
    "position()",
    "not(",
    "count(",
    "contains(",
    "starts-with(",
    "text()",
    "node()",
    "and",
    "or",
    "::",
    ":",
    "xga:",
    "p:*",
    "code",
    "person",
    "name",
    "anschrift",
    "nachrichtenkopf",
    "Akte",
    "flurstueck",
    "abh.gewerbemeldung.0500",
    "ü",
    "\u{0}",
    " ",
    "\n",
    "#",
    "$x",
    "{",
    "}",
    "[[",
    "]]",
    "((",
    "))",
];

const NAMES: &[&str] = &[
    "*",
    "code",
    "name",
    "person",
    "natuerlichePerson",
    "anschrift",
    "familienname",
    "kennung",
    "flurstueck",
    "Akte",
    "Vorgang",
    "Dokument",
    "satz",
    "gewerbe",
    "betrieb",
    "xbau:bauvorhaben",
    "nachrichtenkopf.g2g",
    "x:nichts",
];

/// A syntactically plausible path, built from the grammar, so that evaluation is reached.
fn generated_path(rng: &mut Rng, depth: usize) -> String {
    let mut path = String::new();
    match rng.below(4) {
        0 => path.push('/'),
        1 => path.push_str("//"),
        2 if depth < 3 => {
            path = format!("({})[{}]", generated_path(rng, depth + 1), rng.below(4));
            if rng.chance(50) {
                return path;
            }
            path.push('/');
        }
        _ => {}
    }
    let steps = 1 + rng.below(4);
    for i in 0..steps {
        if i > 0 {
            path.push_str(rng.pick(&["/", "//"]));
        }
        match rng.below(10) {
            0 => path.push('.'),
            1 => path.push_str(".."),
            2 => path.push_str(rng.pick(&["@*", "@listURI", "@id", "@test"])),
            3 => path.push_str(rng.pick(&["text()", "node()"])),
            _ => path.push_str(rng.pick(NAMES)),
        }
        if !path.ends_with('.') && !path.ends_with(')') && rng.chance(40) && depth < 3 {
            path.push('[');
            path.push_str(&generated_predicate(rng, depth + 1));
            path.push(']');
        }
    }
    if rng.chance(10) && depth < 3 {
        path.push_str(" | ");
        path.push_str(&generated_path(rng, depth + 1));
    }
    path
}

fn generated_predicate(rng: &mut Rng, depth: usize) -> String {
    match rng.below(8) {
        0 => rng.below(5).to_string(),
        1 => "last()".into(),
        2 => format!("last() - {}", rng.below(3)),
        3 => format!(
            "position() {} {}",
            rng.pick(&["<", ">=", "=", "!="]),
            rng.below(4)
        ),
        4 => format!(
            "{} = '{}'",
            generated_path(rng, depth + 1),
            rng.pick(&["1", "0500", "DVDV", ""])
        ),
        5 => format!("not({})", generated_path(rng, depth + 1)),
        6 => format!(
            "{} and count({}) > {}",
            generated_path(rng, depth + 1),
            generated_path(rng, depth + 1),
            rng.below(3)
        ),
        _ => format!(
            "contains({}, 'e') or starts-with(., 'a')",
            generated_path(rng, depth + 1)
        ),
    }
}

fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping that uses `path` in every position a path can stand.
fn mapping_with(path: &str) -> Result<Mapping, amtsbote_xoev::MappingError> {
    let p = toml_string(path);
    let source = format!(
        "[mapping]\nname = \"fuzz\"\n\n\
         [[field]]\ntarget = \"value\"\npath = {p}\n\n\
         [[field]]\ntarget = \"concat\"\nconcat = [{p}, \".\"]\n\n\
         [[field]]\ntarget = \"conditional\"\nvalue = 1\nwhen = {{ path = {p}, in = [\"1\", \"0500\"] }}\n\n\
         [[field]]\ntarget = \"list\"\neach = {p}\ntransform = [{{ split = \" \" }}, \"upper\"]\n\n\
         [[field]]\ntarget = \"items\"\neach = {p}\n  [[field.fields]]\n  target = \"inner\"\n  path = {p}\n  [[field.fields]]\n  target = \"up\"\n  path = \"..\"\n\n\
         [[field]]\ntarget = \"group\"\npath = {p}\nfields = [{{ target = \"x\", path = {p} }}]\n"
    );
    Mapping::from_toml(&source, "fuzz.toml", ".")
}

#[test]
fn path_parser_and_evaluation_never_panic() {
    let messages = messages();
    let mut rng = Rng(0x5EED_0003);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..3000 {
        let path = if round % 2 == 0 {
            let n = 1 + rng.below(12);
            (0..n).map(|_| rng.pick(TOKENS)).collect::<String>()
        } else {
            generated_path(&mut rng, 0)
        };
        match mapping_with(&path) {
            Ok(mapping) => {
                accepted += 1;
                let message = &messages[rng.below(messages.len())];
                let _ = mapping.apply(message);
            }
            Err(error) => {
                refused += 1;
                // Refusals are ordinary errors that name the mapping file.
                assert!(error.to_string().starts_with("fuzz.toml:"), "{error}");
            }
        }
    }
    // Both sides must be exercised for the test to mean anything.
    assert!(
        accepted > 500 && refused > 500,
        "accepted {accepted}, refused {refused}"
    );
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    const SPLICES: &[&[u8]] = &[
        b"<",
        b">",
        b"/>",
        b"</",
        b"&",
        b"&amp;",
        b"&#x41;",
        b"&e;",
        b"\"",
        b"'",
        b"<![CDATA[x]]>",
        b"<!--c-->",
        b"<!DOCTYPE x>",
        b"<x>",
        b"</x>",
        b"<code>0500</code>",
        b"\xC3",
        b"\xFF",
        b"\0",
        b"  ",
        b"<nummer>1</nummer>",
        b"<xga:gueltigAb>2016-02-30</xga:gueltigAb>",
    ];
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let end = (at + 1 + rng.below(40)).min(out.len());
                out.drain(at.min(end)..end);
            }
            1 => {
                let splice = rng.pick(SPLICES);
                out.splice(at..at, splice.iter().copied());
            }
            2 if at < out.len() => out[at] = rng.next() as u8,
            3 => out.truncate(at),
            _ => {
                // Duplicate a chunk: repeats elements, which exercises repeating groups.
                let start = rng.below(out.len().max(1));
                let end = (start + rng.below(400)).min(out.len());
                let chunk = out[start..end].to_vec();
                out.splice(at..at, chunk);
            }
        }
    }
    out
}

#[test]
fn apply_never_panics_on_mutated_messages() {
    let packs: Vec<Mapping> = [
        "xgewerbeanzeige-gewerberegister",
        "xbau-bauantrag",
        "xdomea-aussonderung-dms",
    ]
    .iter()
    .map(|name| Mapping::from_file(root().join(format!("examples/mappings/{name}.toml"))).unwrap())
    .collect();
    let messages = messages();
    let mut rng = Rng(0xA11_C0FFEE);
    let mut mapped = 0;
    for _ in 0..1500 {
        let message = &messages[rng.below(messages.len())];
        let input = mutate(&mut rng, message);
        for pack in &packs {
            if pack.apply(&input).is_ok() {
                mapped += 1;
            }
        }
    }
    // Many mutations hit text or comments and still map; that is what reaches the
    // transforms with odd values.
    assert!(mapped > 25, "only {mapped} mutated messages mapped");

    for _ in 0..300 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for pack in &packs {
            assert!(pack.apply(&bytes).is_err() || bytes.contains(&b'<'));
        }
    }
}

#[test]
fn deep_and_wide_messages_stay_bounded() {
    let mapping = mapping_with("//a[last()]//b[. = 'x'] | (//a)[1]/..").unwrap();
    // Nesting at the reader's depth limit: evaluation does not recurse over the tree.
    let depth = 250;
    let deep = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    mapping.apply(deep.as_bytes()).unwrap();
    // Beyond the limit, the hardened reader refuses it.
    let too_deep = format!("{}{}", "<a>".repeat(300), "</a>".repeat(300));
    assert!(mapping.apply(too_deep.as_bytes()).is_err());
    // Many siblings under nested ancestors: `//` expands each subtree once.
    let wide = format!("<r>{}</r>", "<a><b>x</b><b>y</b></a>".repeat(20_000));
    let out = mapping.apply(wide.as_bytes()).unwrap();
    // The root (through `..`) and the one `b` below the last `a`.
    assert_eq!(out["list"].as_array().map(Vec::len), Some(2));
}
