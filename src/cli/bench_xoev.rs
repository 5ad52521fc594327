//! `amtsbote bench xoev`: the XÖV stages of intake and delivery — sniff, validate, map — in
//! messages/s and MB/s, beside `xmllint --noout --schema` validating the same files in the
//! same run.
//!
//! Sniffing and mapping use the XGewerbeanzeige 2.2 Gewerbeanmeldung. XGewerbeanzeige ships
//! no XSD in amtsbote's schema packs, so validation (ours and xmllint's) runs on the XBau 2.6
//! Bauantrag, the standard whose pack is bundled. Single-threaded, like xmllint. Run from the
//! repository root: xmllint reads the schema pack from adapters/xoev/schemas.

use amtsbote_xoev::validate::{Validation, Validator};
use amtsbote_xoev::{Limits, Mapping, inspect, sniff};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

const GEWERBE: &[u8] =
    include_bytes!("../../examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml");
const BAUANTRAG: &[u8] =
    include_bytes!("../../examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml");

struct Figure {
    label: String,
    per_second: f64,
    mb_per_second: f64,
}

fn measure(label: &str, size: usize, n: usize, mut f: impl FnMut()) -> Figure {
    for _ in 0..n.min(50) {
        f(); // warm up
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    let secs = t.elapsed().as_secs_f64();
    Figure {
        label: label.into(),
        per_second: n as f64 / secs,
        mb_per_second: (n * size) as f64 / secs / 1e6,
    }
}

/// xmllint over `n` copies of the Bauantrag, one process, offline with the pack's catalog.
fn xmllint(dir: &Path, n: usize) -> Result<Figure> {
    let pack = Path::new("adapters/xoev/schemas/xbau-2.6");
    anyhow::ensure!(
        pack.join("entry.xsd").is_file(),
        "run from the repository root (adapters/xoev/schemas/xbau-2.6 not found)"
    );
    let files: Vec<_> = (0..n)
        .map(|i| {
            let p = dir.join(format!("bauantrag-{i}.xml"));
            std::fs::write(&p, BAUANTRAG).map(|_| p)
        })
        .collect::<std::io::Result<_>>()?;
    let t = Instant::now();
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(pack.join("entry.xsd"))
        .args(&files)
        .env("XML_CATALOG_FILES", pack.join("catalog.xml"))
        .output()
        .context("xmllint (Debian package libxml2-utils)")?;
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let valid = stderr.matches(" validates").count();
    anyhow::ensure!(
        valid == n,
        "xmllint validated {valid} of {n} files: {}",
        stderr.lines().next().unwrap_or("")
    );
    Ok(Figure {
        label: "xmllint --noout --schema (XBau 2.6 Bauantrag, incl. schema compile)".into(),
        per_second: n as f64 / secs,
        mb_per_second: (n * BAUANTRAG.len()) as f64 / secs / 1e6,
    })
}

pub fn run(n: usize) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("amtsbote-bench-xoev-")
        .tempdir()?;
    let mappings = super::samples::write_mappings(dir.path())?;
    let mapping = Mapping::from_file(mappings.join("xgewerbeanzeige-gewerberegister.toml"))?;
    let validator = Validator::bundled()?;
    let limits = Limits::default();
    assert!(matches!(
        validator.validate(BAUANTRAG)?,
        Validation::Valid { .. }
    ));

    println!("amtsbote bench xoev — {n} iterations per stage, one thread");
    println!(
        "messages: XGewerbeanzeige 2.2 Gewerbeanmeldung ({} bytes), XBau 2.6 Bauantrag ({} bytes)",
        GEWERBE.len(),
        BAUANTRAG.len()
    );
    let compile = Instant::now();
    let fresh = Validator::bundled()?;
    let compile_ms = compile.elapsed().as_secs_f64() * 1000.0;
    drop(fresh);
    let figures = vec![
        measure("sniff header (XGewerbeanzeige)", GEWERBE.len(), n, || {
            sniff(GEWERBE, &limits).expect("sniffs");
        }),
        measure(
            "inspect: well-formed + header (XGewerbeanzeige)",
            GEWERBE.len(),
            n,
            || {
                inspect(GEWERBE, &limits).expect("inspects");
            },
        ),
        measure(
            "map → Gewerberegister JSON (XGewerbeanzeige)",
            GEWERBE.len(),
            n,
            || {
                mapping.render(GEWERBE).expect("maps");
            },
        ),
        measure("inspect (XBau Bauantrag)", BAUANTRAG.len(), n, || {
            inspect(BAUANTRAG, &limits).expect("inspects");
        }),
        measure(
            "validate against XSD (XBau Bauantrag)",
            BAUANTRAG.len(),
            n,
            || {
                validator.validate(BAUANTRAG).expect("validates");
            },
        ),
        xmllint(dir.path(), n)?,
    ];
    println!();
    println!("{:<72} {:>10} {:>9}", "stage", "msg/s", "MB/s");
    for f in &figures {
        println!(
            "{:<72} {:>10.0} {:>9.1}",
            f.label, f.per_second, f.mb_per_second
        );
    }
    println!();
    println!(
        "compiling the bundled schema packs once: {compile_ms:.0} ms (xmllint compiles its schema in every run above)"
    );
    println!(
        "validation: amtsbote / xmllint = {:.2}",
        figures[4].per_second / figures[5].per_second
    );
    Ok(ExitCode::SUCCESS)
}
