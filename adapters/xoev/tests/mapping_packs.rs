//! The mapping packs shipped in `examples/mappings/`: each mapping, applied to its sample
//! message, gives exactly the golden output next to it; and a message without a required
//! element fails with the precise error a municipality would see (file, line, field,
//! path), without any content from the message.
//!
//! To regenerate a golden file after a deliberate change:
//! `cargo run -p amtsbote-xoev --example map -- examples/mappings/<name>.toml <message>
//! > examples/mappings/<name>.expected.json` — and read the diff.

use std::path::{Path, PathBuf};

use amtsbote_xoev::validate::Validator;
use amtsbote_xoev::{ApplyError, Mapping, Problem, inspect};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mapping(name: &str) -> Mapping {
    let file = root()
        .join("examples/mappings")
        .join(format!("{name}.toml"));
    Mapping::from_file(&file).unwrap_or_else(|e| panic!("{e}"))
}

fn message(name: &str) -> String {
    std::fs::read_to_string(root().join("examples/messages").join(name)).unwrap()
}

fn expected(name: &str) -> serde_json::Value {
    let file = root()
        .join("examples/mappings")
        .join(format!("{name}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// The 1-based line of `target = "<target>"` in a pack's mapping file.
fn line_of_target(name: &str, target: &str) -> usize {
    let file = root()
        .join("examples/mappings")
        .join(format!("{name}.toml"));
    let text = std::fs::read_to_string(file).unwrap();
    let needle = format!("target = \"{target}\"");
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            line.trim_start().starts_with(&needle) || line.contains(&format!("{{ {needle}"))
        })
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "{target} appears {} times in {name}.toml",
        lines.len()
    );
    lines[0]
}

fn golden(pack: &str, message_file: &str, expected_file: &str) {
    let mapping = mapping(pack);
    let output = mapping
        .render(message(message_file).as_bytes())
        .unwrap_or_else(|e| panic!("{pack} on {message_file}:\n{e}"));
    assert!(output.warnings().is_empty(), "{:?}", output.warnings());
    assert!(mapping.matches_message_type(output.sniffed()));
    let actual = output.to_json();
    let expected = expected(expected_file);
    assert!(
        actual == expected,
        "{pack} on {message_file} differs from {expected_file}.expected.json; got:\n{}",
        output.to_pretty_string()
    );
    // What is delivered is the same document, in mapping order.
    let delivered: serde_json::Value = serde_json::from_slice(&output.to_bytes()).unwrap();
    assert_eq!(delivered, expected);
}

/// Applies `pack` to `xml`, expecting exactly one error.
fn single_error(pack: &str, xml: &str) -> amtsbote_xoev::FieldError {
    match mapping(pack).apply(xml.as_bytes()) {
        Err(ApplyError::Fields { errors, omitted: 0 }) if errors.len() == 1 => errors[0].clone(),
        other => panic!("expected one field error, got {other:?}"),
    }
}

fn pack_file(name: &str) -> String {
    root()
        .join("examples/mappings")
        .join(format!("{name}.toml"))
        .display()
        .to_string()
}

#[test]
fn xgewerbeanzeige_gewerbeanmeldung_to_gewerberegister() {
    golden(
        "xgewerbeanzeige-gewerberegister",
        "xgewerbeanzeige-2.2-gewerbemeldung.xml",
        "xgewerbeanzeige-gewerberegister",
    );
}

#[test]
fn xbau_bauantrag_to_bauaufsicht() {
    golden(
        "xbau-bauantrag",
        "xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml",
        "xbau-bauantrag",
    );
    golden(
        "xbau-bauantrag",
        "xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml",
        "xbau-bauantrag.einfamilienhaus",
    );
}

#[test]
fn xdomea_aussonderung_to_dms_import() {
    golden(
        "xdomea-aussonderung-dms",
        "xdomea-4.0-aussonderung-0503.xml",
        "xdomea-aussonderung-dms",
    );
}

#[test]
fn gewerbeanmeldung_without_start_date_names_file_line_field_and_path() {
    let pack = "xgewerbeanzeige-gewerberegister";
    let xml = message("xgewerbeanzeige-2.2-gewerbemeldung.xml")
        .replace("<xga:gueltigAb>2016-08-01</xga:gueltigAb>", "");
    let error = single_error(pack, &xml);
    assert_eq!(
        error.to_string(),
        format!(
            "{}:{}: field \"beginn\": required value missing at //anmeldung/gueltigAb",
            pack_file(pack),
            line_of_target(pack, "beginn")
        )
    );
    assert_eq!(error.problem, Problem::Missing);
}

#[test]
fn gewerbeanmeldung_person_without_family_name_names_the_person() {
    let pack = "xgewerbeanzeige-gewerberegister";
    let xml = message("xgewerbeanzeige-2.2-gewerbemeldung.xml")
        .replace("<xga:familienname>Pick</xga:familienname>", "");
    let error = single_error(pack, &xml);
    assert_eq!(error.target, "personen[1].familienname");
    assert_eq!(error.path, "(//gewerbe/beteiligtePerson)[1]/familienname");
    assert_eq!(error.line, line_of_target(pack, "familienname"));
    assert!(!error.to_string().contains("Pick"));
}

#[test]
fn bauantrag_without_description_or_parcel_number_is_refused_precisely() {
    let pack = "xbau-bauantrag";
    let original = message("xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml");
    let xml = original.replace(
        "<xbau:bezeichnungDesBauvorhabens>Neubau eines Mehrfamilienhauses mit 12 Eigentumswohnungen und Tiefgarage</xbau:bezeichnungDesBauvorhabens>",
        "",
    );
    assert_eq!(
        single_error(pack, &xml).to_string(),
        format!(
            "{}:{}: field \"vorhaben.bezeichnung\": required value missing at bauvorhaben/bezeichnungDesBauvorhabens",
            pack_file(pack),
            line_of_target(pack, "vorhaben.bezeichnung")
        )
    );

    // The second parcel loses its Gemarkung: the error names the parcel.
    let second = original.rfind("<nummer>5301</nummer>").unwrap();
    let mut xml = original.clone();
    xml.replace_range(second..second + "<nummer>5301</nummer>".len(), "");
    let error = single_error(pack, &xml);
    assert_eq!(error.target, "grundstueck.flurstuecke[2].gemarkung");
    assert_eq!(
        error.path,
        "((bauvorhaben/verortung/baugrundstueck/grundstueck)[1]/flurstueck)[2]/kodierungFlurstueck/gemarkung/nummer"
    );
    assert_eq!(error.line, line_of_target(pack, "gemarkung"));
}

#[test]
fn aussonderung_version_without_file_name_is_refused_precisely() {
    let pack = "xdomea-aussonderung-dms";
    let xml = message("xdomea-4.0-aussonderung-0503.xml").replace(
        "<xdomea:Dateiname>8bcadd35-d27b-11ef-ab6c-005056871b7c.txt</xdomea:Dateiname>",
        "",
    );
    let error = single_error(pack, &xml);
    assert_eq!(
        error.to_string(),
        format!(
            "{}:{}: field \"akten[1].vorgaenge[1].dokumente[1].versionen[1].datei.name\": required value missing at \
             ((((Schriftgutobjekt/Akte)[1]/Akteninhalt/Vorgang)[1]/(DokumentOderDokumentMitSchriftstueck/Dokument | \
             DokumentOderDokumentMitSchriftstueck/DokumentMitSchriftstueck/Dokument))[1]/Version)[1]/Format/Primaerdokument/Dateiname",
            pack_file(pack),
            line_of_target(pack, "datei.name")
        )
    );
}

/// A Bauantrag with attachments (the sample messages have none): valid against the
/// bundled XBau 2.6 schema, and its attachments become the `anlagen` list.
#[test]
fn bauantrag_attachments_become_the_anlagen_list() {
    let anlagen = r#"  <xbau:anlagen>
    <anlage>
      <bezeichnung>Lageplan</bezeichnung>
      <versionsnummer>2</versionsnummer>
      <datum>2026-04-10</datum>
      <anlageart listURI="urn:xoev-de:xbau:codeliste:anlagen" listVersionID="2.0">
        <code>1010</code>
      </anlageart>
      <mimeType listURI="urn:xoev-de:xbau:codeliste:xbau-mimetypes" listVersionID="1.2">
        <code>application/pdf</code>
      </mimeType>
      <anhangOderVerlinkung>
        <anhang>
          <dateiname>lageplan.pdf</dateiname>
        </anhang>
      </anhangOderVerlinkung>
    </anlage>
    <anlage>
      <bezeichnung>Standsicherheitsnachweis</bezeichnung>
      <anhangOderVerlinkung>
        <verlinkung>
          <uriVerlinkung>https://bauportal.example/nachweise/4711</uriVerlinkung>
          <dateiname>statik.pdf</dateiname>
        </verlinkung>
      </anhangOderVerlinkung>
      <xbau:wirdNachgereicht>true</xbau:wirdNachgereicht>
    </anlage>
  </xbau:anlagen>
</xbau:baugenehmigung.antrag.0200>"#;
    let xml = message("xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml")
        .replace("</xbau:baugenehmigung.antrag.0200>", anlagen);
    let validation = Validator::bundled()
        .unwrap()
        .validate(xml.as_bytes())
        .unwrap();
    assert!(validation.is_valid(), "{validation:?}");
    inspect(xml.as_bytes(), &Default::default()).unwrap();

    let out = mapping("xbau-bauantrag").apply(xml.as_bytes()).unwrap();
    assert_eq!(
        out["anlagen"],
        serde_json::json!([
            {
                "bezeichnung": "Lageplan",
                "version": 2,
                "datum": "2026-04-10",
                "artSchluessel": "1010",
                "mimeType": "application/pdf",
                "dateiname": "lageplan.pdf"
            },
            {
                "bezeichnung": "Standsicherheitsnachweis",
                "dateiname": "statik.pdf",
                "uri": "https://bauportal.example/nachweise/4711",
                "nachgereicht": true
            }
        ])
    );
}

#[test]
fn packs_declare_their_message_types() {
    for (pack, message_file) in [
        (
            "xgewerbeanzeige-gewerberegister",
            "xgewerbeanzeige-2.2-gewerbemeldung.xml",
        ),
        (
            "xbau-bauantrag",
            "xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml",
        ),
        (
            "xdomea-aussonderung-dms",
            "xdomea-4.0-aussonderung-0503.xml",
        ),
    ] {
        let mapping = mapping(pack);
        assert!(mapping.message_type().is_some());
        let sniffed = inspect(message(message_file).as_bytes(), &Default::default()).unwrap();
        assert!(mapping.matches_message_type(&sniffed), "{pack}");
        // And a different message is flagged (a warning, not an error).
        let other = if pack == "xdomea-aussonderung-dms" {
            "xgewerbeanzeige-2.2-gewerbemeldung.xml"
        } else {
            "xdomea-4.0-aussonderung-0503.xml"
        };
        let sniffed = inspect(message(other).as_bytes(), &Default::default()).unwrap();
        assert!(
            !mapping.matches_message_type(&sniffed),
            "{pack} accepts {other}"
        );
    }
}
