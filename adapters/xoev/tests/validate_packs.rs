//! Operator-configured schema packs and the validator's promises: nothing is fetched from
//! the network, nothing outside a pack is read, error texts carry line, column and path
//! but no document content, hostile documents never reach libxml2, limits hold, and
//! one validator serves many threads.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use amtsbote_xoev::validate::{MAX_VIOLATIONS, SchemaPack, ValidateError, Validation, Validator};
use amtsbote_xoev::{Limits, SniffError};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/messages");

/// A small pack in the style of an XÖV standard: the message schema imports a type
/// library by absolute URL, which the catalog maps to a file in the pack.
const MESSAGE_XSD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="urn:example:types"
           targetNamespace="urn:example:antrag" elementFormDefault="unqualified">
  <xs:import namespace="urn:example:types" schemaLocation="https://schemas.example.org/types/1.0/types.xsd"/>
  <xs:element name="antrag.0100">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="name" type="xs:string"/>
        <xs:element name="geburtsdatum" type="xs:date"/>
        <xs:element name="plz" type="t:PLZ"/>
        <xs:element name="anrede" type="t:Anrede" minOccurs="0"/>
        <xs:element name="anzahl" type="xs:int" minOccurs="0" maxOccurs="unbounded"/>
        <xs:element name="anlage" type="xs:base64Binary" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="kennung" type="t:PLZ"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"#;

const TYPES_XSD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:example:types">
  <xs:simpleType name="PLZ">
    <xs:restriction base="xs:string"><xs:pattern value="[0-9]{5}"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="Anrede">
    <xs:restriction base="xs:token">
      <xs:enumeration value="Frau"/><xs:enumeration value="Herr"/><xs:enumeration value="divers"/>
    </xs:restriction>
  </xs:simpleType>
</xs:schema>
"#;

const CATALOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <uri name="https://schemas.example.org/types/1.0/types.xsd" uri="lib/types.xsd"/>
</catalog>
"#;

/// Writes a pack folder and returns it with its configuration.
fn write_pack(message_xsd: &str, catalog: Option<&str>) -> (tempfile::TempDir, SchemaPack) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("xsd")).unwrap();
    std::fs::create_dir_all(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("xsd/antrag.xsd"), message_xsd).unwrap();
    std::fs::write(dir.path().join("lib/types.xsd"), TYPES_XSD).unwrap();
    if let Some(catalog) = catalog {
        std::fs::write(dir.path().join("catalog.xml"), catalog).unwrap();
    }
    let pack = SchemaPack {
        name: "example-1.0".into(),
        namespace: "urn:example:antrag".into(),
        entry: "xsd/antrag.xsd".into(),
        dir: dir.path().to_owned(),
        catalog: None,
    };
    (dir, pack)
}

fn example_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<(tempfile::TempDir, Validator)> = OnceLock::new();
    &VALIDATOR
        .get_or_init(|| {
            let (dir, pack) = write_pack(MESSAGE_XSD, Some(CATALOG));
            let validator = Validator::from_packs(&[pack]).expect("example pack compiles");
            (dir, validator)
        })
        .1
}

fn antrag(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<a:antrag.0100 xmlns:a=\"urn:example:antrag\">\n{body}\n</a:antrag.0100>\n"
    )
}

const VALID_BODY: &str = "  <name>Erika Mustermann</name>\n  <geburtsdatum>1964-08-12</geburtsdatum>\n  <plz>51147</plz>";

#[test]
fn configured_pack_resolves_imports_through_its_catalog() {
    let validator = example_validator();
    assert!(validator.knows("urn:example:antrag"));
    assert!(!validator.knows("http://www.xleitstelle.de/xbau/2/6"));
    assert_eq!(
        validator.validate(antrag(VALID_BODY).as_bytes()).unwrap(),
        Validation::Valid {
            pack: "example-1.0".into()
        }
    );
}

#[test]
fn error_texts_have_position_and_path_but_no_values() {
    let secrets = [
        "Erika O'Brien-Müller",
        "12.08.1964",
        "5114x",
        "Gnädige Frau",
        "4711",
        "Geheimstraße 1",
    ];
    let doc = antrag(&format!(
        "  <name>x</name>\n  <geburtsdatum>{}</geburtsdatum>\n  <plz>{}</plz>\n  <anrede>{}</anrede>\n  <anzahl>{}</anzahl><anzahl>{}</anzahl>",
        secrets[0], secrets[2], secrets[3], "7", secrets[5],
    ))
    .replace("<a:antrag.0100 ", &format!("<a:antrag.0100 kennung=\"{}\" ", secrets[1]));
    let Validation::Invalid { errors, .. } = example_validator().validate(doc.as_bytes()).unwrap()
    else {
        panic!("expected Invalid");
    };
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = format!("{texts:#?} {errors:?}");
    for secret in secrets {
        assert!(!all.contains(secret), "{secret:?} leaked:\n{all}");
    }
    assert!(!all.contains("O'Brien") && !all.contains("Brien"), "{all}");

    let root = "/a:antrag.0100";
    let expect = [
        (
            2,
            1,
            format!("{root}/@kennung"),
            "Element 'antrag.0100' attribute",
        ),
        (
            4,
            3,
            format!("{root}/geburtsdatum"),
            "is not a valid value of the atomic type 'xs:date'",
        ),
        (
            5,
            3,
            format!("{root}/plz"),
            "is not accepted by the pattern '[0-9]{5}'",
        ),
        (
            6,
            3,
            format!("{root}/anrede"),
            "is not an element of the set {'Frau', 'Herr', 'divers'}",
        ),
        (
            7,
            21,
            format!("{root}/anzahl[2]"),
            "is not a valid value of the atomic type 'xs:int'",
        ),
    ];
    assert_eq!(errors.len(), expect.len(), "{texts:#?}");
    for (error, (line, column, path, fragment)) in errors.iter().zip(&expect) {
        assert_eq!(
            (error.at.line, error.at.column),
            (*line, *column),
            "{error}"
        );
        assert_eq!(&error.path, path, "{error}");
        if !fragment.starts_with("Element 'antrag.0100' attribute") {
            assert!(error.message.contains(fragment), "{error}");
        }
        assert!(error.message.contains("(value not shown)"), "{error}");
    }
    assert!(
        errors[0].message.contains("attribute 'kennung'"),
        "{}",
        errors[0]
    );
    assert_eq!(
        texts[1],
        format!(
            "line 4, column 3, {root}/geburtsdatum: Element 'geburtsdatum': '(value not shown)' is not a valid value of the atomic type 'xs:date'."
        )
    );
}

/// A schema that imports from a server must fail to compile with a clear message, and
/// the server must never see a connection.
#[test]
fn imports_are_never_fetched() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/x.xsd", listener.local_addr().unwrap());
    for location in [
        url.as_str(),
        "http://127.0.0.1:1/x.xsd",
        "file:///etc/hostname",
    ] {
        let xsd = MESSAGE_XSD.replace("https://schemas.example.org/types/1.0/types.xsd", location);
        let (_dir, pack) = write_pack(&xsd, None);
        match Validator::from_packs(&[pack]) {
            Err(ValidateError::NotInPack { pack, urls }) => {
                assert_eq!(pack, "example-1.0");
                assert!(urls.iter().any(|u| u == location), "{urls:?}");
                let err = ValidateError::NotInPack { pack, urls };
                assert!(err.to_string().contains("never downloaded"), "{err}");
            }
            other => panic!("{location}: expected NotInPack, got {other:?}"),
        }
    }
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the schema server was contacted: {other:?}"),
    }
}

/// Relative references may not leave the pack folder either.
#[test]
fn nothing_outside_the_pack_is_read() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("types.xsd"), TYPES_XSD).unwrap();
    let (dir, pack) = write_pack(MESSAGE_XSD, None);
    // A relative path climbing out of the pack, and a symbolic link pointing out of it.
    let climbing = MESSAGE_XSD.replace(
        "https://schemas.example.org/types/1.0/types.xsd",
        "../../outside/types.xsd",
    );
    std::fs::write(dir.path().join("xsd/antrag.xsd"), &climbing).unwrap();
    // RFC 3986 resolution stops `..` at the pack root, so this names a pack file that
    // does not exist.
    match Validator::from_packs(std::slice::from_ref(&pack)) {
        Err(ValidateError::PackUnreadable { path, .. }) => assert_eq!(path, "outside/types.xsd"),
        other => panic!("relative path out of the pack: {other:?}"),
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            outside.path().join("types.xsd"),
            dir.path().join("xsd/link.xsd"),
        )
        .unwrap();
        let linked = MESSAGE_XSD.replace(
            "https://schemas.example.org/types/1.0/types.xsd",
            "link.xsd",
        );
        std::fs::write(dir.path().join("xsd/antrag.xsd"), linked).unwrap();
        match Validator::from_packs(&[pack]) {
            Err(ValidateError::PackUnreadable { path, .. }) => assert_eq!(path, "xsd/link.xsd"),
            other => panic!("symbolic link out of the pack: {other:?}"),
        }
    }
}

#[test]
fn pack_configuration_errors_are_clear() {
    let (dir, pack) = write_pack(MESSAGE_XSD, Some(CATALOG));
    let with = |change: &dyn Fn(&mut SchemaPack)| {
        let mut pack = pack.clone();
        change(&mut pack);
        Validator::from_packs(&[pack]).unwrap_err().to_string()
    };
    let missing = with(&|p| p.dir = dir.path().join("nope"));
    assert!(missing.contains("cannot open the folder"), "{missing}");
    let outside = with(&|p| p.entry = "../antrag.xsd".into());
    assert!(
        outside.contains("must be a relative path inside"),
        "{outside}"
    );
    let no_entry = with(&|p| p.entry = "xsd/missing.xsd".into());
    assert!(
        no_entry.contains("cannot read the entry schema"),
        "{no_entry}"
    );
    let wrong_ns = with(&|p| p.namespace = "urn:example:other".into());
    assert!(
        wrong_ns.contains("has the target namespace urn:example:antrag"),
        "{wrong_ns}"
    );
    let bad_name = with(&|p| p.name = "my pack".into());
    assert!(bad_name.contains("ASCII letters"), "{bad_name}");
    std::fs::write(dir.path().join("bad-catalog.xml"), "<catalog/>").unwrap();
    let bad_catalog = with(&|p| p.catalog = Some("bad-catalog.xml".into()));
    assert!(
        bad_catalog.contains("catalog bad-catalog.xml"),
        "{bad_catalog}"
    );

    let mut second = pack.clone();
    second.name = "example-copy".into();
    let twice = Validator::from_packs(&[pack.clone(), second])
        .unwrap_err()
        .to_string();
    assert!(twice.contains("already validates the namespace"), "{twice}");
}

#[test]
fn unknown_config_keys_are_refused() {
    let result: Result<SchemaPack, _> = serde_json::from_str(
        r#"{"name": "n", "namespace": "urn:x", "entry": "e.xsd", "dir": "/d", "catalgo": "c.xml"}"#,
    );
    assert!(result.is_err());
}

#[test]
fn configured_pack_replaces_the_bundled_one_for_its_namespace() {
    // A copy of the bundled XBau pack, configured as an operator would.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/xbau-2.6")),
        dir.path(),
    );
    let pack = SchemaPack {
        name: "xbau-2.6-local".into(),
        namespace: "http://www.xleitstelle.de/xbau/2/6".into(),
        entry: "entry.xsd".into(),
        dir: dir.path().to_owned(),
        catalog: None,
    };
    let validator = Validator::with_packs(&[pack]).unwrap();
    let names: Vec<&str> = validator.packs().map(|(name, _)| name).collect();
    assert_eq!(names, ["xdomea-3.0.0", "xwasser-1.0", "xbau-2.6-local"]);
    let xml = std::fs::read(
        Path::new(EXAMPLES).join("xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml"),
    )
    .unwrap();
    assert_eq!(
        validator.validate(&xml).unwrap(),
        Validation::Valid {
            pack: "xbau-2.6-local".into()
        }
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn hostile_documents_never_reach_libxml2() {
    let validator = example_validator();
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE a:antrag.0100 [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<a:antrag.0100 xmlns:a="urn:example:antrag"><name>&x;</name></a:antrag.0100>"#;
    match validator.validate(xxe) {
        Err(ValidateError::Refused(SniffError::DoctypeRefused { at })) => assert_eq!(at.line, 2),
        other => panic!("expected DoctypeRefused, got {other:?}"),
    }
    let err = validator.validate(b"{\"name\": \"Erika\"}").unwrap_err();
    assert!(err.is_permanent());
    assert!(!err.to_string().contains("Erika"), "{err}");

    // Over the configured limits: refused by the sniffer, with the limit named.
    let small = example_validator().clone().with_limits(Limits {
        max_bytes: 100,
        ..Limits::default()
    });
    match small.validate(antrag(VALID_BODY).as_bytes()) {
        Err(ValidateError::Refused(SniffError::TooLarge { limit: 100, .. })) => {}
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn unknown_or_missing_namespaces_are_results() {
    let validator = example_validator();
    assert_eq!(
        validator.validate(b"<x/>").unwrap(),
        Validation::UnknownSchema { namespace: None }
    );
    assert_eq!(
        validator.validate(br#"<x xmlns="urn:other"/>"#).unwrap(),
        Validation::UnknownSchema {
            namespace: Some("urn:other".into())
        }
    );
}

/// libxml2 refuses text nodes over 10 MB unless told otherwise; our own limits apply
/// instead, so a message with a large inline attachment validates.
#[test]
fn large_inline_attachments_validate() {
    let attachment = "QUJD".repeat(3 * 1024 * 1024); // 12 MiB of base64
    let doc = antrag(&format!("{VALID_BODY}\n  <anlage>{attachment}</anlage>"));
    assert!(
        example_validator()
            .validate(doc.as_bytes())
            .unwrap()
            .is_valid()
    );
}

#[test]
fn violations_are_capped() {
    let many = "<anzahl>x</anzahl>".repeat(MAX_VIOLATIONS + 50);
    let doc = antrag(&format!("{VALID_BODY}\n  {many}"));
    let Validation::Invalid {
        errors, omitted, ..
    } = example_validator().validate(doc.as_bytes()).unwrap()
    else {
        panic!("expected Invalid");
    };
    assert_eq!(errors.len(), MAX_VIOLATIONS);
    assert_eq!(omitted, 50);
    assert_eq!(errors[99].path, "/a:antrag.0100/anzahl[100]");
}

/// One validator, eight threads validating different messages at once: every result is
/// the one a single thread gets.
#[test]
fn validates_from_many_threads_at_once() {
    let bundled = Arc::new(Validator::bundled().unwrap());
    let files = [
        Path::new(EXAMPLES).join("xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml"),
        Path::new(EXAMPLES).join("xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml"),
        Path::new(DATA).join("xbau-2.6-baugenehmigung-antrag-invalid.xml"),
        Path::new(EXAMPLES).join("xwasser-1.0-pruefbericht.xml"),
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/xoev/xwasser-1.0/examples/monitoring_plan_minimal.xml"
        ))
        .to_owned(),
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/xoev/xdomea/3.0.0/examples/xx_Aussonderung.Aussonderung.0503.xml"
        ))
        .to_owned(),
    ];
    let docs: Arc<Vec<Vec<u8>>> =
        Arc::new(files.iter().map(|f| std::fs::read(f).unwrap()).collect());
    let expected: Arc<Vec<Validation>> =
        Arc::new(docs.iter().map(|d| bundled.validate(d).unwrap()).collect());
    assert_eq!(
        expected.iter().filter(|v| v.is_valid()).count(),
        4,
        "{expected:#?}"
    );
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (bundled, docs, expected, barrier) = (
                Arc::clone(&bundled),
                Arc::clone(&docs),
                Arc::clone(&expected),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                barrier.wait();
                for round in 0..25 {
                    let i = (t + round) % docs.len();
                    assert_eq!(
                        bundled.validate(&docs[i]).unwrap(),
                        expected[i],
                        "thread {t}"
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
