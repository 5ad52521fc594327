//! End-to-end: XÖV validation at intake by route policy — valid messages go through,
//! schema violations are kept as `rejected` and told to the sender, test messages stay away
//! from production routes, unknown schemas are passed, rejected or parked as configured.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use std::process::Command;

fn bauantrag() -> Vec<u8> {
    fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml")
}

fn test_bauantrag() -> Vec<u8> {
    fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml")
}

fn invalid_bauantrag() -> Vec<u8> {
    fixture("adapters/xoev/tests/data/xbau-2.6-baugenehmigung-antrag-invalid.xml")
}

/// Routes for XBau (production only) to the http connector, and XBau test messages to the
/// file connector (a "test instance").
const XBAU_ROUTES: &str = r#"
[[routes]]
name = "bauantrag"
standard = "xbau"
message_type = "*.antrag.0200"
connector = "gewerberegister"

[[routes]]
name = "bauantrag-test"
standard = "xbau"
test_messages = "only"
connector = "e-akte"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_bauantrag_is_validated_and_delivered() {
    let b = Broker::start(Behaviour::default(), XBAU_ROUTES).await;
    let (status, body) = b
        .post("cottbus", bauantrag(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let m = b.wait_state(id, "delivered", 20).await;
    assert_eq!(m["route"], "bauantrag");
    assert_eq!(m["header"]["standard"], "xbau");
    assert_eq!(m["header"]["version"], "2.6");
    let validated = m["history"][1]["reason"].as_str().unwrap();
    assert!(validated.contains("valid against xbau-2.6"), "{validated}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_violation_is_rejected_kept_and_told_to_the_sender() {
    let b = Broker::start(Behaviour::default(), XBAU_ROUTES).await;
    let mut invalid = invalid_bauantrag();
    // A production message, so it takes the production route.
    let text = String::from_utf8(invalid)
        .unwrap()
        .replacen(" test=\"true\"", "", 1);
    invalid = text.into_bytes();
    let (status, problem) = b
        .post("cottbus", invalid, "application/xml", Some("bau-7"))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:amtsbote:problem:schema-violation");
    assert_eq!(problem["state"], "rejected");
    let violations = problem["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 4, "{problem:#}");
    assert_eq!(violations[1]["line"], 20);
    assert!(
        violations[1]["path"]
            .as_str()
            .unwrap()
            .ends_with("/nachrichtenkopf.g2g/leser")
    );
    let text = problem.to_string();
    assert!(
        !text.contains("Erika") && !text.contains("Mustermann"),
        "no content in errors: {text}"
    );

    let id = problem["id"].as_str().unwrap();
    let m = b.show(id);
    assert_eq!(m["state"], "rejected");
    assert!(
        m["last_reason"]
            .as_str()
            .unwrap()
            .starts_with("schema violation against xbau-2.6 (4 error(s))")
    );
    assert!(b.payload_files() > 0, "the message is kept");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(b.received().is_empty(), "nothing delivered");
    assert!(b.log().contains("message rejected"), "{}", b.log());
    // A rejected message is not replayed.
    let out = b.cli(&["replay", id]);
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn test_messages_only_reach_routes_that_take_them() {
    let b = Broker::start(Behaviour::default(), XBAU_ROUTES).await;
    let (status, body) = b
        .post("cottbus", test_bauantrag(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let m = b.wait_state(id, "delivered", 20).await;
    assert_eq!(m["route"], "bauantrag-test");
    assert_eq!(m["connector"], "e-akte");
    assert!(
        b.received().is_empty(),
        "the production Fachverfahren never saw it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_schemas_are_passed_rejected_or_parked_by_route() {
    // xdomea 4.0 has no bundled schema pack.
    let routes = r#"
[tenants.beispielheim.connectors.archiv]
kind = "file"
directory = "archiv"

[[tenants.beispielheim.routes]]
name = "strict"
standard = "xdomea"
unknown_schema = "reject"
connector = "archiv"

[[tenants.cottbus.routes]]
name = "careful"
standard = "xdomea"
unknown_schema = "park"
connector = "e-akte"
"#;
    let mut b = Broker::start(Behaviour::default(), routes).await;
    let (status, problem) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            xdomea_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no schema pack for namespace urn:xoev-de:xdomea:schema:4.0.0")
    );
    assert_eq!(problem["violations"].as_array().unwrap().len(), 0);

    let (status, body) = b
        .post("cottbus", xdomea_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["state"], "dead");
    let id = body["id"].as_str().unwrap().to_string();
    let m = b.show(&id);
    assert!(
        m["last_reason"]
            .as_str()
            .unwrap()
            .starts_with("parked by route careful"),
        "{m:#}"
    );
    let out = b.cli(&["replay", &id]);
    assert!(
        !out.status.success(),
        "still no schema: the replay is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("parked by route careful"));

    // The operator decides to let xdomea 4.0 through unvalidated, and replays.
    let text = std::fs::read_to_string(&b.config)
        .unwrap()
        .replace("unknown_schema = \"park\"", "unknown_schema = \"pass\"");
    std::fs::write(&b.config, text).unwrap();
    assert!(b.terminate().success());
    b.spawn().await;
    let out = b.cli(&["replay", "--dead"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait_state(&id, "delivered", 20).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_can_be_switched_off_per_route() {
    let routes = r#"
[[routes]]
name = "lenient"
standard = "xbau"
validate = false
test_messages = "include"
connector = "gewerberegister"
"#;
    let b = Broker::start(Behaviour::default(), routes).await;
    let (status, body) = b
        .post("cottbus", invalid_bauantrag(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let m = b
        .wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert!(
        m["history"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("schema validation off for route lenient")
    );
}

fn inspect(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_amtsbote"))
        .args(["xoev", "inspect"])
        .args(args)
        .env_remove("AMTSBOTE_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn xoev_inspect_tells_valid_invalid_and_unreadable_apart() {
    let (code, out, _) =
        inspect(&["examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("valid against xbau-2.6") && out.contains("XBau 2.6"),
        "{out}"
    );
    let (code, out, _) =
        inspect(&["adapters/xoev/tests/data/xbau-2.6-baugenehmigung-antrag-invalid.xml"]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("INVALID against xbau-2.6: 4 error(s)"),
        "{out}"
    );
    let (code, out, _) = inspect(&[
        "--json",
        "examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml",
    ]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["header"]["standard"]["key"], "xgewerbeanzeige");
    assert_eq!(v["validation"]["result"], "unknown_schema");
    let (code, _, err) = inspect(&["examples/messages/versicherungsnachweis.pdf"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, _) = inspect(&["no/such/file.xml"]);
    assert_eq!(code, Some(2));
}
