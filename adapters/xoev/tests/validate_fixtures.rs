//! Every real XÖV message in the shared fixtures and every sample message in `examples/`,
//! validated against the bundled schema packs, with the expected verdict written down
//! per file (checked by hand with `xmllint --noout --schema`, and again below whenever
//! xmllint is installed).
//!
//! What the verdicts show:
//! - xdomea 3.0.0 examples and XWasser examples are valid, except the two XWasser
//!   monitoring plans (`monitoring_plan_minimal.xml` and `monitoring_plan_maximal.xml`),
//!   which do not match the published XWasser 1.0 XSD (an element out of order and two
//!   code list versions that the schema fixes to other values).
//! - XGewerbeanzeige messages (valid and `*-invalid-xsd*` alike) are `UnknownSchema`: the
//!   XGewerbeanzeige schemas are not among the fixtures, so no pack is bundled for them.
//! - The XBau 2.6 Bauanträge in `examples/messages/` are valid; their invalid variant in
//!   `tests/data/` fails with exactly the four errors it was built with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use amtsbote_xoev::validate::{SchemaViolation, Validation, Validator};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/xoev");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/messages");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");

const XWASSER_NS: &str = "https://gitlab.opencode.de/akdb/xoev/xwasser/-/raw/main/V1_0_0";

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| Validator::bundled().expect("bundled packs compile"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Valid(&'static str),
    Invalid(&'static str),
    Unknown(&'static str),
}
use Verdict::{Invalid, Unknown, Valid};

const XGA21: &str = "http://www.xgewerbeanzeige.de/spezifikation/2.1";
const XGA22: &str = "http://www.xgewerbeanzeige.de/spezifikation/2.2";

/// (file below the fixtures or examples folder, verdict). A message file missing here
/// fails `every_message_has_a_verdict`.
const FIXTURE_VERDICTS: &[(&str, Verdict)] = &[
    ("xgewerbeanzeige/xgwa2.1-invalid-sch.xml", Unknown(XGA21)),
    ("xgewerbeanzeige/xgwa2.1-invalid-xsd.xml", Unknown(XGA21)),
    ("xgewerbeanzeige/xgwa2.1-valid.xml", Unknown(XGA21)),
    ("xgewerbeanzeige/xgwa2.2-invalid.xml", Unknown(XGA22)),
    ("xgewerbeanzeige/xgwa2.2-valid.xml", Unknown(XGA22)),
    (
        "xdomea/3.0.0/examples/xx_Aussonderung.Anbieteverzeichnis.0501.xml",
        Valid("xdomea-3.0.0"),
    ),
    (
        "xdomea/3.0.0/examples/xx_Aussonderung.AnbietungEmpfangBestaetigen.0504.xml",
        Valid("xdomea-3.0.0"),
    ),
    (
        "xdomea/3.0.0/examples/xx_Aussonderung.Aussonderung.0503.xml",
        Valid("xdomea-3.0.0"),
    ),
    (
        "xdomea/3.0.0/examples/xx_Aussonderung.Bewertungsverzeichnis.0502.xml",
        Valid("xdomea-3.0.0"),
    ),
    // No xdomea 4.0 pack is bundled.
    (
        "xdomea/4.0.0/518c7c31-d1a0-11ef-accb-005056871b7c_0503_1.xml",
        Unknown("urn:xoev-de:xdomea:schema:4.0.0"),
    ),
    (
        "xwasser-1.0/examples/administration_receipt.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/administration_receipt_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/monitoring_plan_builder_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/monitoring_plan_maximal.xml",
        Invalid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/monitoring_plan_maximal_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/monitoring_plan_minimal.xml",
        Invalid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/monitoring_plan_minimal_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/olb_report_minimal.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/olb_report_minimal_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/olb_report_signature_builder_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/quality_report_builder_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/quality_report_maximal.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/quality_report_maximal_test_result.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/quality_report_minimal.xml",
        Valid("xwasser-1.0"),
    ),
    (
        "xwasser-1.0/examples/quality_report_minimal_test_result.xml",
        Valid("xwasser-1.0"),
    ),
];

const EXAMPLE_VERDICTS: &[(&str, Verdict)] = &[
    (
        "xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml",
        Valid("xbau-2.6"),
    ),
    (
        "xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml",
        Valid("xbau-2.6"),
    ),
    (
        "xdomea-4.0-aussonderung-0503.xml",
        Unknown("urn:xoev-de:xdomea:schema:4.0.0"),
    ),
    ("xgewerbeanzeige-2.2-gewerbemeldung.xml", Unknown(XGA22)),
    ("xwasser-1.0-pruefbericht.xml", Valid("xwasser-1.0")),
];

fn verdict_of(result: &Validation) -> Verdict {
    // Leak the pack name: tests only, a handful of strings.
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    match result {
        Validation::Valid { pack } => Valid(leak(pack)),
        Validation::Invalid { pack, .. } => Invalid(leak(pack)),
        Validation::UnknownSchema { namespace } => {
            Unknown(leak(namespace.as_deref().unwrap_or("")))
        }
    }
}

fn check(dir: &str, table: &[(&str, Verdict)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, expected) in table {
        let path = Path::new(dir).join(file);
        let xml = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let result = validator()
            .validate(&xml)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = verdict_of(&result);
        if got != *expected {
            failures.push(format!("{file}: expected {expected:?}, got {result:#?}"));
        }
    }
    failures
}

#[test]
fn shared_fixtures_get_their_verdicts() {
    let failures = check(FIXTURES, FIXTURE_VERDICTS);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn sample_messages_get_their_verdicts() {
    let failures = check(EXAMPLES, EXAMPLE_VERDICTS);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_message_has_a_verdict() {
    fn xml_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // Schema folders hold XSDs only; code lists are not messages.
                if !matches!(
                    path.file_name().and_then(|n| n.to_str()),
                    Some("xsd" | "codelists")
                ) {
                    xml_files(&path, base, out);
                }
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    for (dir, table) in [(FIXTURES, FIXTURE_VERDICTS), (EXAMPLES, EXAMPLE_VERDICTS)] {
        let mut files = Vec::new();
        xml_files(Path::new(dir), Path::new(dir), &mut files);
        for file in files {
            assert!(
                table.iter().any(|(f, _)| *f == file),
                "{file} in {dir} has no expected verdict"
            );
        }
    }
}

fn invalid(path: &Path) -> (String, Vec<SchemaViolation>, usize) {
    let xml = std::fs::read(path).unwrap();
    match validator().validate(&xml).unwrap() {
        Validation::Invalid {
            pack,
            errors,
            omitted,
        } => (pack, errors, omitted),
        other => panic!("{}: expected Invalid, got {other:?}", path.display()),
    }
}

/// The real-world invalid XWasser message fails with exactly the errors xmllint reports.
#[test]
fn xwasser_monitoring_plan_minimal_fails_precisely() {
    let (pack, errors, omitted) =
        invalid(&Path::new(FIXTURES).join("xwasser-1.0/examples/monitoring_plan_minimal.xml"));
    assert_eq!(pack, "xwasser-1.0");
    assert_eq!(omitted, 0);
    let plan =
        "/xwas:vorgang.transportieren.2010/xwas:vorgang/xwas:vorgangType/xwas:untersuchungsplan";
    let expected = [
        (
            74,
            11,
            format!("{plan}/xwas:terminplan/xwas:probennahmestelleKategorie"),
            format!(
                "Element '{{{XWASSER_NS}}}probennahmestelleKategorie': This element is not expected. \
                 Expected is one of ( {{{XWASSER_NS}}}datumZeitraum, {{{XWASSER_NS}}}untersuchungDurch )."
            ),
        ),
        (
            101,
            11,
            format!("{plan}/xwas:anlageNachTrinkwV/xwas:artAnlage/@listVersionID"),
            format!(
                "Element '{{{XWASSER_NS}}}artAnlage', attribute 'listVersionID': The value \
                 '(value not shown)' does not match the fixed value constraint '2'."
            ),
        ),
        (
            119,
            11,
            format!("{plan}/xwas:probennahmestelle/xwas:kategorieProbennahmestelle/@listVersionID"),
            format!(
                "Element '{{{XWASSER_NS}}}kategorieProbennahmestelle', attribute 'listVersionID': \
                 The value '(value not shown)' does not match the fixed value constraint '3'."
            ),
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, (line, column, path, message)) in errors.iter().zip(expected) {
        assert_eq!((error.at.line, error.at.column), (line, column), "{error}");
        assert_eq!(error.path, path);
        assert_eq!(error.message, message);
    }
}

/// The XSD-invalid Bauantrag fails with its four deliberate errors, each with line,
/// column and path, and no value from the document in any text.
#[test]
fn invalid_bauantrag_fails_with_its_four_errors() {
    let (pack, errors, _) =
        invalid(&Path::new(DATA).join("xbau-2.6-baugenehmigung-antrag-invalid.xml"));
    assert_eq!(pack, "xbau-2.6");
    let root = "/xbau:baugenehmigung.antrag.0200";
    let uuid = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";
    let expected = [
        (
            14,
            7,
            format!("{root}/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID"),
            format!(
                "Element 'nachrichtenUUID': [facet 'pattern'] The value '(value not shown)' is not accepted by the pattern '{uuid}'."
            ),
        ),
        (
            20,
            5,
            format!("{root}/nachrichtenkopf.g2g/leser"),
            "Element 'leser': Missing child element(s). Expected is ( name ).".to_owned(),
        ),
        (
            39,
            7,
            format!("{root}/xbau:antragsteller/natuerlichePerson/id"),
            format!(
                "Element 'id': [facet 'pattern'] The value '(value not shown)' is not accepted by the pattern '{uuid}'."
            ),
        ),
        (
            132,
            9,
            format!(
                "{root}/xbau:bauvorhaben/xbau:gegenstand/xbau:bauordnungsrechtlicheKlassifikation/xbau:hoeheNachMBO"
            ),
            "Element '{http://www.xleitstelle.de/xbau/2/6}hoeheNachMBO': '(value not shown)' is not a valid value of the atomic type '{http://www.xleitstelle.de/xbau/kernmodul/1/3/0}Dezimal.XBau'.".to_owned(),
        ),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, (line, column, path, message)) in errors.iter().zip(expected) {
        assert_eq!((error.at.line, error.at.column), (line, column), "{error}");
        assert_eq!(error.path, path);
        assert_eq!(error.message, message);
        let shown = format!("{error} {error:?}");
        for secret in ["Erika", "Mustermann", "1964", "Antrag-2026-0815", "6,80"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }
}

/// Our verdicts agree with xmllint's on every file (Debian package libxml2-utils, which
/// scripts/test.sh installs). xmllint runs with --nonet and the packs' catalogs.
#[test]
fn verdicts_agree_with_xmllint() {
    assert!(
        Command::new("xmllint").arg("--version").output().is_ok(),
        "xmllint is missing: apt-get install libxml2-utils (scripts/test.sh does)"
    );
    let entries: &[(&str, &str)] = &[
        ("xbau-2.6", "entry.xsd"),
        ("xdomea-3.0.0", "xsd/xdomea.xsd"),
        ("xwasser-1.0", "xsd/V1_0_0/xwasser.xsd"),
    ];
    let mut files: Vec<(PathBuf, Verdict)> = Vec::new();
    files.extend(
        FIXTURE_VERDICTS
            .iter()
            .map(|(f, v)| (Path::new(FIXTURES).join(f), *v)),
    );
    files.extend(
        EXAMPLE_VERDICTS
            .iter()
            .map(|(f, v)| (Path::new(EXAMPLES).join(f), *v)),
    );
    files.push((
        Path::new(DATA).join("xbau-2.6-baugenehmigung-antrag-invalid.xml"),
        Invalid("xbau-2.6"),
    ));
    for (file, verdict) in files {
        let (Valid(pack) | Invalid(pack)) = verdict else {
            continue;
        };
        let (_, entry) = entries.iter().find(|(p, _)| *p == pack).unwrap();
        let dir = Path::new(SCHEMAS).join(pack);
        let output = Command::new("xmllint")
            .args(["--noout", "--nonet", "--schema"])
            .arg(dir.join(entry))
            .arg(&file)
            .env("XML_CATALOG_FILES", dir.join("catalog.xml"))
            .output()
            .unwrap();
        assert_eq!(
            output.status.success(),
            matches!(verdict, Valid(_)),
            "{}: xmllint says {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
