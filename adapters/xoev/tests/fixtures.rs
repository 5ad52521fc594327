//! Every real XÖV message in the shared fixtures, sniffed and checked field by field.
//!
//! The expected values were read off the files by hand (and cross-checked with a separate
//! script), not copied from the sniffer's output. A fixture that is not in the table fails
//! the test, so new fixtures get expectations when they are added.

use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::PathBuf;

use amtsbote_xoev::{HeaderDialect, Limits, Sniffed, inspect, sniff, sniff_reader};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/xoev");

/// The folders whose `*.xml` files are XÖV messages.
const MESSAGE_DIRS: &[&str] = &[
    "xgewerbeanzeige",
    "xdomea/3.0.0/examples",
    "xdomea/4.0.0",
    "xwasser-1.0/examples",
];

struct Expected {
    file: &'static str,
    standard: (&'static str, &'static str),
    root: &'static str,
    message_type: &'static str,
    author: Option<&'static str>,
    reader: Option<&'static str>,
    test: bool,
    dialect: HeaderDialect,
}

impl Expected {
    /// Whether the header's nachrichtentyp code disagrees with the root element suffix
    /// (which must then be reported as a warning).
    fn type_mismatch(&self) -> bool {
        !self.root.ends_with(self.message_type)
    }
}

use HeaderDialect::{G2gUnqualified, XInneres, Xdomea4, XdomeaKopf3};

const fn xga(
    file: &'static str,
    version: &'static str,
    root: &'static str,
    message_type: &'static str,
    reader: &'static str,
) -> Expected {
    Expected {
        file,
        standard: ("xgewerbeanzeige", version),
        root,
        message_type,
        author: Some("meldid:12052000"),
        reader: Some(reader),
        test: true,
        dialect: XInneres,
    }
}

const fn xdomea3(file: &'static str, root: &'static str, message_type: &'static str) -> Expected {
    Expected {
        file,
        standard: ("xdomea", "3.0.0"),
        root,
        message_type,
        author: Some("absbehoerdenkennungpraefixcode:LATh"),
        reader: Some("empbehoerdenkennungpraefixcode:LATh"),
        test: false,
        dialect: XdomeaKopf3,
    }
}

const fn xwasser(
    file: &'static str,
    root: &'static str,
    message_type: &'static str,
    author: Option<&'static str>,
    reader: Option<&'static str>,
) -> Expected {
    Expected {
        file,
        standard: ("xwasser", "1.0.0"),
        root,
        message_type,
        author,
        reader,
        test: true,
        dialect: G2gUnqualified,
    }
}

const QUITTUNG: &str = "administration.quittung.0020";
const VORGANG: &str = "vorgang.transportieren.2010";

const EXPECTED: &[Expected] = &[
    xga(
        "xgewerbeanzeige/xgwa2.1-invalid-sch.xml",
        "2.1",
        "lue.gewerbemeldung.0290",
        "0290",
        "xga:000492949",
    ),
    xga(
        "xgewerbeanzeige/xgwa2.1-invalid-xsd.xml",
        "2.1",
        "alg.gewerbemeldung.0300",
        "0300",
        "xga:121499900001",
    ),
    xga(
        "xgewerbeanzeige/xgwa2.1-valid.xml",
        "2.1",
        "sta.gewerbemeldung.0100",
        "0100",
        "xga:491000000000",
    ),
    xga(
        "xgewerbeanzeige/xgwa2.2-invalid.xml",
        "2.2",
        "abh.gewerbemeldung.0500",
        "0500",
        "azr:000100",
    ),
    xga(
        "xgewerbeanzeige/xgwa2.2-valid.xml",
        "2.2",
        "abh.gewerbemeldung.0500",
        "0500",
        "azr:000100",
    ),
    xdomea3(
        "xdomea/3.0.0/examples/xx_Aussonderung.Anbieteverzeichnis.0501.xml",
        "Aussonderung.Anbieteverzeichnis.0501",
        "0501",
    ),
    // The published example carries the Anbieteverzeichnis code 0501 in its header.
    xdomea3(
        "xdomea/3.0.0/examples/xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
        "Aussonderung.AnbietungEmpfangBestaetigen.0504",
        "0501",
    ),
    xdomea3(
        "xdomea/3.0.0/examples/xx_Aussonderung.Aussonderung.0503.xml",
        "Aussonderung.Aussonderung.0503",
        "0503",
    ),
    // And this one the Aussonderung code 0503.
    xdomea3(
        "xdomea/3.0.0/examples/xx_Aussonderung.Bewertungsverzeichnis.0502.xml",
        "Aussonderung.Bewertungsverzeichnis.0502",
        "0503",
    ),
    Expected {
        file: "xdomea/4.0.0/518c7c31-d1a0-11ef-accb-005056871b7c_0503_1.xml",
        standard: ("xdomea", "4.0.0"),
        root: "Aussonderung.Aussonderung.0503",
        message_type: "0503",
        // leser and autor carry only an institution name, no identifier.
        author: None,
        reader: None,
        test: false,
        dialect: Xdomea4,
    },
    // The XWasser examples reuse a header with code 0010 for other message types.
    xwasser(
        "xwasser-1.0/examples/administration_receipt.xml",
        QUITTUNG,
        "0010",
        Some("psw:11113110"),
        Some("psw:01003110"),
    ),
    xwasser(
        "xwasser-1.0/examples/administration_receipt_test_result.xml",
        QUITTUNG,
        "0010",
        Some("psw:11113110"),
        Some("psw:01003110"),
    ),
    // Builder output: empty verzeichnisdienst, kennung and name.
    xwasser(
        "xwasser-1.0/examples/monitoring_plan_builder_test_result.xml",
        VORGANG,
        "2010",
        None,
        None,
    ),
    xwasser(
        "xwasser-1.0/examples/monitoring_plan_maximal.xml",
        VORGANG,
        "2010",
        None,
        None,
    ),
    xwasser(
        "xwasser-1.0/examples/monitoring_plan_maximal_test_result.xml",
        VORGANG,
        "2010",
        None,
        None,
    ),
    xwasser(
        "xwasser-1.0/examples/monitoring_plan_minimal.xml",
        VORGANG,
        "0010",
        Some("gha:090"),
        Some("mp:09000000"),
    ),
    xwasser(
        "xwasser-1.0/examples/monitoring_plan_minimal_test_result.xml",
        VORGANG,
        "0010",
        Some("gha:090"),
        Some("mp:09000000"),
    ),
    xwasser(
        "xwasser-1.0/examples/olb_report_minimal.xml",
        VORGANG,
        "0010",
        Some("gha:090"),
        Some("olb:09000000"),
    ),
    xwasser(
        "xwasser-1.0/examples/olb_report_minimal_test_result.xml",
        VORGANG,
        "0010",
        Some("gha:090"),
        Some("olb:09000000"),
    ),
    xwasser(
        "xwasser-1.0/examples/olb_report_signature_builder_test_result.xml",
        VORGANG,
        "2010",
        None,
        None,
    ),
    xwasser(
        "xwasser-1.0/examples/quality_report_builder_test_result.xml",
        VORGANG,
        "2010",
        Some("wus:1"),
        Some("bwv:1"),
    ),
    xwasser(
        "xwasser-1.0/examples/quality_report_maximal.xml",
        VORGANG,
        "2010",
        Some("wus:1"),
        Some("bwv:1"),
    ),
    xwasser(
        "xwasser-1.0/examples/quality_report_maximal_test_result.xml",
        VORGANG,
        "2010",
        Some("wus:1"),
        Some("bwv:1"),
    ),
    xwasser(
        "xwasser-1.0/examples/quality_report_minimal.xml",
        VORGANG,
        "2010",
        Some("psw:01003110"),
        Some("psw:11113110"),
    ),
    xwasser(
        "xwasser-1.0/examples/quality_report_minimal_test_result.xml",
        VORGANG,
        "2010",
        Some("psw:01003110"),
        Some("psw:11113110"),
    ),
];

fn read(file: &str) -> Vec<u8> {
    let path = PathBuf::from(FIXTURES).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sniffed(file: &str) -> Sniffed {
    let bytes = read(file);
    let limits = Limits::default();
    let result = inspect(&bytes, &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
    // All entry points agree: the header part of inspect is sniff, and streaming (with a
    // buffer small enough to split every token) sees the same.
    assert_eq!(
        sniff(&bytes, &limits).as_ref(),
        Ok(&result),
        "{file}: sniff"
    );
    let stream = BufReader::with_capacity(5, &bytes[..]);
    assert_eq!(
        sniff_reader(stream, &limits).as_ref(),
        Ok(&result),
        "{file}: sniff_reader"
    );
    result
}

#[test]
fn table_covers_every_fixture_message() {
    let mut on_disk = BTreeSet::new();
    for dir in MESSAGE_DIRS {
        for entry in std::fs::read_dir(PathBuf::from(FIXTURES).join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".xml") {
                on_disk.insert(format!("{dir}/{name}"));
            }
        }
    }
    let in_table: BTreeSet<String> = EXPECTED.iter().map(|e| e.file.to_owned()).collect();
    assert_eq!(on_disk, in_table);
    assert_eq!(in_table.len(), 25);
}

#[test]
fn every_fixture_sniffs_as_expected() {
    for expected in EXPECTED {
        let file = expected.file;
        let got = sniffed(file);
        let standard = got.standard.as_ref().expect(file);
        assert_eq!(
            (standard.key, standard.version.as_deref()),
            (expected.standard.0, Some(expected.standard.1)),
            "{file}: standard"
        );
        assert_eq!(got.root, expected.root, "{file}: root");
        assert_eq!(
            got.message_type.as_deref(),
            Some(expected.message_type),
            "{file}: type"
        );
        let author = got.author.as_ref().map(ToString::to_string);
        assert_eq!(author.as_deref(), expected.author, "{file}: author");
        let reader = got.reader.as_ref().map(ToString::to_string);
        assert_eq!(reader.as_deref(), expected.reader, "{file}: reader");
        assert_eq!(got.test, expected.test, "{file}: test");
        assert_eq!(got.dialect, expected.dialect, "{file}: dialect");
        let mismatch = got
            .warnings
            .iter()
            .any(|w| w.contains("does not match root"));
        assert_eq!(
            mismatch,
            expected.type_mismatch(),
            "{file}: warnings {:?}",
            got.warnings
        );
    }
}

#[test]
fn xgewerbeanzeige_header_details() {
    let got = sniffed("xgewerbeanzeige/xgwa2.2-valid.xml");
    assert_eq!(
        got.namespace.as_deref(),
        Some("http://www.xgewerbeanzeige.de/spezifikation/2.2")
    );
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    assert_eq!(got.created_at.as_deref(), Some("2019-10-24T00:00:00+02:00"));
    assert_eq!(got.test_attr.as_deref(), Some("100"));
    assert_eq!(got.standard_attr.as_deref(), Some("XGewerbeanzeige"));
    assert_eq!(got.version_attr.as_deref(), Some("2.2"));
    assert_eq!(got.product.as_deref(), Some("XGA-Testsuite"));
    assert_eq!(got.product_vendor.as_deref(), Some("KoSIT"));
    assert_eq!(got.product_version.as_deref(), Some("2019"));
    let author = got.author.unwrap();
    // Prefix lower-cased from "MELDID"; the erreichbarkeit/kennung e-mail is not taken.
    assert_eq!(author.prefix.as_deref(), Some("meldid"));
    assert_eq!(author.id, "12052000");
    assert_eq!(author.name.as_deref(), Some("Gewerbeamt Cottbus"));
    assert_eq!(
        got.reader.unwrap().name.as_deref(),
        Some("Phantasie-Verteilplattform")
    );
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

#[test]
fn xdomea3_kopf_details() {
    let got = sniffed("xdomea/3.0.0/examples/xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml");
    assert_eq!(
        got.message_uuid, None,
        "xdomea 3 has a ProzessID, not a message UUID"
    );
    assert_eq!(got.created_at.as_deref(), Some("2018-07-24T17:21:25"));
    assert_eq!(got.product.as_deref(), Some("LAThDMeACU-Dummy"));
    assert_eq!(got.product_version.as_deref(), Some("20200729"));
    assert_eq!(
        got.author.unwrap().name.as_deref(),
        Some("AbsXdomeaInstitutionName")
    );
    assert_eq!(got.test_attr, None);
    assert_eq!(
        got.warnings,
        ["nachrichtentyp code \"0501\" does not match root element suffix \"0504\""]
    );
}

#[test]
fn xdomea4_details() {
    let got = sniffed("xdomea/4.0.0/518c7c31-d1a0-11ef-accb-005056871b7c_0503_1.xml");
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("95b80307-d19c-11ef-a43a-005056871b7c")
    );
    assert_eq!(got.created_at.as_deref(), Some("2025-01-15T12:00:00.000Z"));
    assert_eq!(got.version_attr.as_deref(), Some("4.0.0"));
    assert_eq!(got.product_vendor.as_deref(), Some("[Softwarehersteller]"));
    assert_eq!(
        got.warnings,
        [
            "autor in the header has no authority identifier",
            "leser in the header has no authority identifier"
        ]
    );
}

#[test]
fn xwasser_details() {
    let got = sniffed("xwasser-1.0/examples/administration_receipt.xml");
    assert_eq!(
        got.message_uuid.as_deref(),
        Some("693c64d6-456f-4d14-abe7-fe9681c74aaf")
    );
    assert_eq!(got.created_at.as_deref(), Some("2024-05-28T09:00:00"));
    assert_eq!(got.test_attr.as_deref(), Some("true"));
    // `H &amp; D GmbH` in the file: unescaped exactly once.
    assert_eq!(got.product_vendor.as_deref(), Some("H & D GmbH"));
    // The example swaps the names: the leser is called "Author".
    let reader = got.reader.unwrap();
    assert_eq!(
        (reader.prefix.as_deref(), reader.id.as_str()),
        (Some("psw"), "01003110")
    );
    assert_eq!(reader.name.as_deref(), Some("Author"));

    let escaped_twice = sniffed("xwasser-1.0/examples/monitoring_plan_minimal.xml");
    assert_eq!(
        escaped_twice.product_vendor.as_deref(),
        Some("H &amp;amp;amp; D GmbH")
    );
}

#[test]
fn results_serialise_for_json_output_and_back() {
    let got = sniffed("xwasser-1.0/examples/quality_report_minimal.xml");
    let json = serde_json::to_value(&got).unwrap();
    assert_eq!(json["standard"]["key"], "xwasser");
    assert_eq!(json["dialect"], "g2g_unqualified");
    assert_eq!(json["reader"]["prefix"], "psw");
    let back: Sniffed = serde_json::from_value(json).unwrap();
    assert_eq!(back, got);
}
