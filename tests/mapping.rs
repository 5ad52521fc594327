//! End-to-end: declarative mappings at delivery — the Fachverfahren gets exactly the JSON its
//! API expects; a message the mapping cannot serve, or a mapping that misses the API's
//! contract, ends as a permanent failure with a readable cause; the file connector writes the
//! mapped document beside the original; `mapping test` and `check` show mapping errors.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use std::process::Command;

const MAPPINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mappings");

fn contract(name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(&format!(
        "examples/mappings/{name}.target.schema.json"
    )))
    .unwrap()
}

fn behaviour() -> Behaviour {
    Behaviour {
        contracts: vec![("bauaufsicht".into(), contract("xbau-bauantrag"))],
        ..Default::default()
    }
}

fn routes(mapping_file: &str) -> String {
    format!(
        r#"
[mappings.bauantrag]
file = "{mapping_file}"

[mappings.akte]
file = "{MAPPINGS}/xdomea-aussonderung-dms.toml"

[connectors.bauaufsicht]
kind = "http"
url = "{{FV}}/bauaufsicht/api/v2/antraege"
timeout = "5s"
retry = {{ initial_delay = "100ms", max_attempts = 2 }}

[[routes]]
name = "bauantrag"
standard = "xbau"
mapping = "bauantrag"
connector = "bauaufsicht"

[[tenants.beispielheim.routes]]
name = "akte"
standard = "xdomea"
mapping = "akte"
connector = "e-akte"
"#
    )
}

async fn start(mapping_file: &str) -> Broker {
    Broker::start(behaviour(), &routes(mapping_file)).await
}

fn bauantrag() -> Vec<u8> {
    fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fachverfahren_gets_exactly_the_mapped_json() {
    let b = start(&format!("{MAPPINGS}/xbau-bauantrag.toml")).await;
    let (status, body) = b
        .post("cottbus", bauantrag(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let m = b
        .wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert!(
        m["last_reason"]
            .as_str()
            .unwrap()
            .contains("as mapped by bauantrag"),
        "{m:#}"
    );
    let got = b.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].content_type, "application/json");
    let expected: serde_json::Value =
        serde_json::from_slice(&fixture("examples/mappings/xbau-bauantrag.expected.json")).unwrap();
    assert_eq!(
        got[0].json.as_ref().unwrap(),
        &expected,
        "the golden output of the pack"
    );
}

/// A copy of the XBau pack (with its code lists) whose text `edit` changed; its file.
fn edited_pack(dir: &std::path::Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    std::fs::create_dir(dir.join("codelists")).unwrap();
    for f in std::fs::read_dir(format!("{MAPPINGS}/codelists"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(f.path(), dir.join("codelists").join(f.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(format!("{MAPPINGS}/xbau-bauantrag.toml")).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed the pack");
    let file = dir.join("bauantrag.toml");
    std::fs::write(&file, edited).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_mapping_cannot_serve_is_dead_with_the_exact_cause() {
    // This Fachverfahren also needs the applicant's file number, which the message lacks.
    let dir = tempfile::tempdir().unwrap();
    let file = edited_pack(dir.path(), |t| {
        format!(
            "{t}\n[[field]]\ntarget = \"vorgang.aktenzeichen\"\npath = \"//aktenzeichenDesAntragstellers\"\nrequired = true\n"
        )
    });
    let b = start(file.to_str().unwrap()).await;
    let (status, body) = b
        .post("cottbus", bauantrag(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let m = b.wait_state(body["id"].as_str().unwrap(), "dead", 20).await;
    let reason = m["last_reason"].as_str().unwrap();
    assert!(reason.contains("mapping `bauantrag` failed"), "{reason}");
    assert!(
        reason.contains("bauantrag.toml:")
            && reason.contains("field \"vorgang.aktenzeichen\": required value missing at //aktenzeichenDesAntragstellers"),
        "{reason}"
    );
    assert_eq!(
        m["attempts"], 1,
        "not retried: the same message fails the same way"
    );
    assert!(b.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_that_misses_the_api_contract_shows_the_fachverfahrens_reason() {
    // A copy of the pack that forgets the Vorgang's Verfahrensart, which the API requires.
    let dir = tempfile::tempdir().unwrap();
    let file = edited_pack(dir.path(), |t| {
        t.replace(
            "target = \"vorgang.verfahrensart\"",
            "target = \"vorgang.verfahren_art\"",
        )
    });
    let b = start(file.to_str().unwrap()).await;
    let (_, body) = b
        .post("cottbus", bauantrag(), "application/xml", None)
        .await;
    let m = b.wait_state(body["id"].as_str().unwrap(), "dead", 20).await;
    let reason = m["last_reason"].as_str().unwrap();
    assert!(
        reason.contains("422") && reason.contains("verfahrensart"),
        "{reason}"
    );
    assert_eq!(m["attempts"], 1, "a 422 is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_connector_writes_the_mapped_document_beside_the_original() {
    let b = start(&format!("{MAPPINGS}/xbau-bauantrag.toml")).await;
    let (_, body) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            xdomea_xml(),
            "application/xml",
            None,
        )
        .await;
    let id = body["id"].as_str().unwrap();
    b.wait_state(id, "delivered", 20).await;
    let folder = b.dir.path().join("drop").join(id);
    let mapped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("mapped.json")).unwrap()).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(&fixture(
        "examples/mappings/xdomea-aussonderung-dms.expected.json",
    ))
    .unwrap();
    assert_eq!(mapped, expected);
    assert_eq!(
        std::fs::read(folder.join("document.xml")).unwrap(),
        xdomea_xml()
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["part"] == "mapped:akte" && f["path"] == "mapped.json")
    );
}

fn amtsbote(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_amtsbote"))
        .args(args)
        .env_remove("AMTSBOTE_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

#[test]
fn mapping_test_prints_the_json_or_the_exact_errors() {
    let o = amtsbote(&[
        "mapping",
        "test",
        "examples/mappings/xgewerbeanzeige-gewerberegister.toml",
        "examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let expected: serde_json::Value = serde_json::from_slice(&fixture(
        "examples/mappings/xgewerbeanzeige-gewerberegister.expected.json",
    ))
    .unwrap();
    assert_eq!(out, expected);

    // The wrong message for the mapping: required fields missing, named with file and line.
    let o = amtsbote(&[
        "mapping",
        "test",
        "examples/mappings/xgewerbeanzeige-gewerberegister.toml",
        "examples/messages/xdomea-4.0-aussonderung-0503.xml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("xgewerbeanzeige-gewerberegister.toml:")
            && err.contains("required value missing"),
        "{err}"
    );
}

#[test]
fn check_compiles_mappings_and_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[mapping]\nname = \"x\"\n\n[[field]]\ntarget = \"a\"\npath = \"//a[\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("amtsbote.toml"),
        "[mappings.bad]\nfile = \"bad.toml\"\n\n[connectors.c]\nkind = \"file\"\ndirectory = \"out\"\n\n[[routes]]\nmapping = \"missing\"\nconnector = \"c\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_amtsbote"))
        .args(["--config", "amtsbote.toml", "check"])
        .current_dir(dir.path())
        .env_remove("AMTSBOTE_CONFIG")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`mappings.bad.file`") && err.contains("bad.toml:6"),
        "{err}"
    );
    assert!(
        err.contains("`routes[0].mapping`: no mapping `missing`"),
        "{err}"
    );
}
