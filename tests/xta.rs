//! End-to-end: the broker reads XTA 2 mailboxes of a sandbox XTA server over mutual TLS —
//! messages fetched (MTOM and inline base64), routed on their transport order, delivered and
//! closed only after intake; a crash before close leads to one ledger message; refused
//! accounts stop alone; the filter leaves foreign messages untouched; paging.

mod common;
#[path = "common/xta.rs"]
mod xta_common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use amtsbote_xta::mtom::ContentEncoding;
use amtsbote_xta::wsdl::Operation;
use common::*;
use std::time::{Duration, Instant};
use xta_common::{BEISPIELHEIM, COTTBUS, Xta};

/// A route that only matches on what the XTA transport order says.
const XTA_ROUTE: &str = r#"
[[tenants.cottbus.routes]]
name = "xta-gewerbe"
source = "xta-postfach"
destination = "ags:12052000"
reader = "ags:12052000"
author = "ags:09162000"
xta_service = "*xgewerbeanzeige*"
business_scenario = "XGEWERBEANZEIGE_DATA"
test_messages = "include"
connector = "gewerberegister"
"#;

fn pdf() -> Vec<u8> {
    fixture("examples/messages/versicherungsnachweis.pdf")
}

async fn message_for(b: &Broker, transport_id: &str, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(m) = b
            .list(&[])
            .into_iter()
            .find(|m| m["transport_id"] == transport_id)
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "XTA message {transport_id} not received:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_fetched_routed_delivered_and_closed_mtom_and_inline() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = format!(
        "{XTA_ROUTE}{}",
        x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "")
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    let mut sent = Vec::new();
    for encoding in [ContentEncoding::Mtom, ContentEncoding::Inline] {
        x.control().set_response_encoding(encoding);
        let id = x.deliver(
            &gewerbe_xml(),
            COTTBUS,
            vec![
                ("anlage.pdf", "application/pdf", pdf()),
                ("notiz.txt", "text/plain", b"Hallo".to_vec()),
            ],
        );
        x.wait_closed(COTTBUS, &id, 30).await;
        sent.push(id);
    }
    for id in &sent {
        let m = message_for(&b, id, 10).await;
        let m = b
            .wait_state(m["id"].as_str().unwrap(), "delivered", 20)
            .await;
        assert_eq!(m["source"], "xta-postfach");
        assert_eq!(
            m["route"], "xta-gewerbe",
            "routed on the transport order: {m:#}"
        );
        assert_eq!(m["destination"], COTTBUS);
        let xta = &m["header"]["xta"];
        assert_eq!(xta["message_id"], id.as_str());
        assert_eq!(xta["author"], "ags:09162000");
        assert_eq!(xta["reader"], COTTBUS);
        assert_eq!(xta["business_scenario"], "XGEWERBEANZEIGE_DATA");
        assert_eq!(m["header"]["standard"], "xgewerbeanzeige");
        let mut parts: Vec<(String, String, u64)> = m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["filename"].as_str().unwrap_or("(document)").to_string(),
                    p["content_type"].as_str().unwrap().to_string(),
                    p["size"].as_u64().unwrap(),
                )
            })
            .collect();
        parts.sort();
        assert_eq!(
            parts,
            [
                (
                    "anlage.pdf".into(),
                    "application/pdf".into(),
                    pdf().len() as u64
                ),
                ("notiz.txt".into(), "text/plain".into(), 5),
                (
                    "xgewerbeanzeige.xml".into(),
                    "application/xml".into(),
                    gewerbe_xml().len() as u64
                ),
            ],
            "content as document under its own file name, further parts as attachments, byte for byte"
        );
        let entry = x.entry(COTTBUS, id);
        assert!(entry.closed);
        assert_eq!(entry.fetch_count, 1, "fetched once");
    }
    let got = b.received();
    assert_eq!(got.len(), 2, "both reached the Fachverfahren");
    assert!(got.iter().all(|r| r.duplicates == 0));
    assert!(b.log().contains("XTA account active"));
    assert!(!b.log().contains("anlage.pdf"), "no file names in the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_after_intake_before_close_leads_to_one_message() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "");
    let mut b = Broker::start(Behaviour::default(), &extra).await;
    b.kill9();
    b.env
        .push(("FAILPOINTS".into(), "xta-before-close=return".into()));
    b.spawn().await;
    let id = x.deliver(
        &gewerbe_xml(),
        COTTBUS,
        vec![("anlage.pdf", "application/pdf", pdf())],
    );
    let status = b.wait_exit(30).await;
    assert!(!status.success(), "the failpoint aborted the broker");
    let entry = x.entry(COTTBUS, &id);
    assert!(!entry.closed, "taken in, not closed");
    assert_eq!(entry.fetch_count, 1);

    b.env.clear();
    b.spawn().await;
    x.wait_closed(COTTBUS, &id, 30).await;
    let m = message_for(&b, &id, 5).await;
    b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert_eq!(b.list(&[]).len(), 1, "one ledger message");
    let got = b.received();
    assert_eq!(got.len(), 1, "one message reached the Fachverfahren");
    assert_eq!(got[0].requests, 1 + got[0].duplicates);
    // The restart knew the message: it closed it without downloading it again.
    assert_eq!(x.entry(COTTBUS, &id).fetch_count, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    // (Field names may carry colour codes in the log file.)
    let closed_as_repeat = |log: String| {
        log.lines()
            .any(|l| l.contains("stored and closed") && l.contains("repeat") && l.ends_with("true"))
    };
    while !closed_as_repeat(b.log()) {
        assert!(
            Instant::now() < deadline,
            "closed as a repeat:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_accounts_stop_alone_and_a_locked_one_resumes_when_unlocked() {
    let x = Xta::start(&[
        ("cottbus", COTTBUS),
        ("beispielheim", BEISPIELHEIM),
        ("dritte", "ags:09999002"),
    ])
    .await;
    let extra = format!(
        r#"
[tenants.dritte]
name = "Dritte Gemeinde"
{}{}{}"#,
        // An expired certificate, and one from a CA the server does not know.
        x.source("cottbus", "xta-abgelaufen", "cottbus-expired", COTTBUS, ""),
        x.source("dritte", "xta-fremd", "foreign", "ags:09999002", ""),
        x.source("beispielheim", "xta-gut", "beispielheim", BEISPIELHEIM, ""),
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    let stuck = x.deliver(&gewerbe_xml(), COTTBUS, vec![]);
    let fine = x.deliver(&gewerbe_xml(), BEISPIELHEIM, vec![]);
    x.wait_closed(BEISPIELHEIM, &fine, 30).await;
    let m = message_for(&b, &fine, 5).await;
    b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    // Rounds go on for the good account; the refused ones have re-checked meanwhile.
    x.wait_requests(20, 30).await;
    let entry = x.entry(COTTBUS, &stuck);
    assert!(
        !entry.closed && entry.fetch_count == 0,
        "untouched: {entry:?}"
    );
    let log = b.log();
    for source in ["xta-abgelaufen", "xta-fremd"] {
        let alerts = log
            .lines()
            .filter(|l| l.contains("XTA account refused") && l.contains(source))
            .count();
        assert_eq!(
            alerts, 1,
            "one clear line for {source}, not one per re-check:\n{log}"
        );
    }
    assert!(
        log.lines()
            .any(|l| l.contains("xta-abgelaufen")
                && l.contains("refused the TLS client certificate")),
        "{log}"
    );
    let metrics = reqwest::get(format!("{}/metrics", b.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"amtsbote_xta_account_active{tenant="cottbus",source="xta-abgelaufen"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"amtsbote_xta_account_active{tenant="beispielheim",source="xta-gut"} 1"#)
    );

    // The XTA provider locks the good account (PermissionDenied 9011) ...
    assert!(x.control().set_account_active("beispielheim", false));
    let wait_log = |needle: &'static str| {
        let b = &b;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !b
                .log()
                .lines()
                .any(|l| l.contains(needle) && l.contains("xta-gut"))
            {
                assert!(Instant::now() < deadline, "no `{needle}`:\n{}", b.log());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_log("XTA account refused").await;
    assert!(b.log().contains("9011"), "the fault code is named");
    let held = x.deliver(&gewerbe_xml(), BEISPIELHEIM, vec![]);
    x.wait_requests(3, 30).await;
    assert_eq!(x.entry(BEISPIELHEIM, &held).fetch_count, 0);
    // ... and unlocks it: the re-check finds it active, polling resumes.
    assert!(x.control().set_account_active("beispielheim", true));
    wait_log("XTA account usable again").await;
    x.wait_closed(BEISPIELHEIM, &held, 30).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filter_leaves_other_messages_in_the_mailbox_unfetched() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = x.source(
        "cottbus",
        "xta-postfach",
        "cottbus",
        COTTBUS,
        "[tenants.cottbus.sources.xta-postfach.filter]\nbusiness_scenarios = [\"XGEWERBEANZEIGE_DATA\"]\nmessage_types = [\"0500\", \"0501\"]\n",
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    let other = x.deliver(&xdomea_xml(), COTTBUS, vec![]);
    let taken = x.deliver(&gewerbe_xml(), COTTBUS, vec![]);
    x.wait_closed(COTTBUS, &taken, 30).await;
    x.wait_requests(10, 30).await;
    let entry = x.entry(COTTBUS, &other);
    assert!(!entry.closed, "left for whoever can handle it");
    assert_eq!(entry.fetch_count, 0, "never downloaded");
    assert_eq!(b.list(&[]).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn more_messages_than_max_list_items_are_read_page_by_page() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    // All there before the broker starts: the first round sees 7 with pages of 2.
    let ids: Vec<String> = (0..7)
        .map(|_| x.deliver(&gewerbe_xml(), COTTBUS, vec![]))
        .collect();
    x.control().start_recording();
    let extra = x.source(
        "cottbus",
        "xta-postfach",
        "cottbus",
        COTTBUS,
        "max_list_items = 2",
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    for id in &ids {
        x.wait_closed(COTTBUS, id, 60).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.received().len() < 7 {
        assert!(
            Instant::now() < deadline,
            "{} delivered:\n{}",
            b.received().len(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.list(&[]).len(), 7);
    assert!(ids.iter().all(|id| x.entry(COTTBUS, id).fetch_count == 1));
    let next_pages = x
        .control()
        .take_recording()
        .iter()
        .filter(|e| e.operation == Some(Operation::GetNextStatusList))
        .count();
    assert!(
        next_pages >= 3,
        "7 messages in pages of 2 need getNextStatusList: {next_pages}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_names_the_key_and_the_reason_for_xta_sources() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("formserver.token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("other.token"), OTHER_TOKEN).unwrap();
    std::fs::write(dir.path().join("wrong.password"), "nicht-das-Kennwort").unwrap();
    let check = |extra: &str| {
        let config = dir.path().join("amtsbote.toml");
        std::fs::write(
            &config,
            config_text(dir.path(), free_port(), "http://127.0.0.1:9", extra),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_amtsbote"))
            .arg("--config")
            .arg(&config)
            .arg("check")
            .output()
            .unwrap()
    };
    let good = check(&x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, ""));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = x
        .source("cottbus", "xta-postfach", "cottbus", "12052000", "")
        .replace(
            &x.path("p12.password").display().to_string(),
            &dir.path().join("wrong.password").display().to_string(),
        );
    let out = check(&bad);
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tenants.cottbus.sources.xta-postfach.client_certificate")
            && text.contains("wrong password"),
        "{text}"
    );
    assert!(
        text.contains("tenants.cottbus.sources.xta-postfach.reader")
            && text.contains("prefix:kennung"),
        "{text}"
    );
    assert!(!text.contains("nicht-das-Kennwort"), "never the password");
}

/// Kills the sandbox process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_sandbox_makes_certificates_and_takes_messages_the_broker_reads() {
    let certs = tempfile::tempdir().unwrap();
    let port = free_port();
    let _sandbox = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_amtsbote"))
            .args(["sandbox", "xta", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--certs")
            .arg(certs.path())
            .args(["--account", "cottbus=ags:12052000"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !certs.path().join("sandbox-xta.json").exists() {
        assert!(Instant::now() < deadline, "the sandbox did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for file in ["ca.pem", "cottbus.p12", "sender.p12", "p12.password"] {
        assert!(certs.path().join(file).exists(), "{file} written");
    }
    let messages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/messages");
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_amtsbote"))
        .args(["sandbox", "xta-send", "--to", COTTBUS])
        .arg("--certs")
        .arg(certs.path())
        .arg("--message")
        .arg(messages.join("xgewerbeanzeige-2.2-gewerbemeldung.xml"))
        .arg("--attachment")
        .arg(messages.join("versicherungsnachweis.pdf"))
        .output()
        .unwrap();
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let stdout = String::from_utf8_lossy(&sent.stdout);
    let id = stdout
        .split_whitespace()
        .nth(1)
        .expect("sent <id> to mailbox …")
        .to_string();
    let path = |f: &str| certs.path().join(f).display().to_string();
    let extra = format!(
        r#"
[tenants.cottbus.sources.xta-postfach]
kind = "xta"
endpoint = "https://127.0.0.1:{port}"
client_certificate = "{p12}"
client_certificate_password = {{ file = "{password}" }}
ca_certificate = "{ca}"
reader = "{COTTBUS}"
poll_interval = "200ms"
"#,
        p12 = path("cottbus.p12"),
        password = path("p12.password"),
        ca = path("ca.pem"),
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    let m = message_for(&b, &id, 30).await;
    let m = b
        .wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert_eq!(m["parts"].as_array().unwrap().len(), 2);
    assert_eq!(m["header"]["xta"]["author"], "ags:09162000");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_holder_of_the_poller_lease_reads_the_mailbox() {
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "");
    let b = Broker::start(Behaviour::default(), &extra).await;
    let first = x.deliver(&gewerbe_xml(), COTTBUS, vec![]);
    x.wait_closed(COTTBUS, &first, 30).await;
    // Another replica takes the lease (as the cluster ledger would let it after ours expired).
    let db = rusqlite::Connection::open(b.data_dir().join("amtsbote.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let far = i64::MAX / 2;
    let taken = db
        .execute(
            "UPDATE poller_leases SET holder = 'other-replica', until = ?1 WHERE name = 'xta:cottbus:xta-postfach'",
            [far],
        )
        .unwrap();
    assert_eq!(taken, 1, "the broker holds the lease xta:<tenant>:<source>");
    let wait_log = |needle: &'static str| {
        let b = &b;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !b.log().contains(needle) {
                assert!(Instant::now() < deadline, "no `{needle}`:\n{}", b.log());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    wait_log("another replica polls this mailbox").await;
    let second = x.deliver(&gewerbe_xml(), COTTBUS, vec![]);
    let served = x.control().requests_served();
    // Several poll intervals pass (the broker's own log says it keeps standing by).
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        x.control().requests_served(),
        served,
        "no request while standing by"
    );
    assert_eq!(x.entry(COTTBUS, &second).fetch_count, 0);
    // The other replica goes away (its lease expires): this one takes over.
    db.execute(
        "UPDATE poller_leases SET until = 0 WHERE name = 'xta:cottbus:xta-postfach'",
        [],
    )
    .unwrap();
    wait_log("this replica polls the mailbox now").await;
    x.wait_closed(COTTBUS, &second, 30).await;
    assert_eq!(b.list(&[]).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn content_intake_cannot_take_is_kept_as_rejected_and_closed() {
    use amtsbote_xta::{Content, ContentContainer};
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "");
    let b = Broker::start(Behaviour::default(), &extra).await;
    // A ZIP container as the message content: not a document intake can read.
    let (metadata, _) =
        amtsbote::sandbox::xta::sample_message(&xdomea_xml(), "ags:09162000", COTTBUS, Vec::new())
            .unwrap();
    let id = metadata.message_id.clone();
    let zip = b"PK\x03\x04 not really a zip".to_vec();
    x.control()
        .deliver(
            metadata,
            ContentContainer::new(Content::new(zip.clone(), "application/zip")),
        )
        .unwrap();
    x.wait_closed(COTTBUS, &id, 30).await;
    let m = message_for(&b, &id, 10).await;
    let m = b
        .wait_state(m["id"].as_str().unwrap(), "rejected", 10)
        .await;
    let reason = m["last_reason"].as_str().unwrap();
    assert!(
        reason.contains(&id),
        "the reason names the XTA MessageID: {m:#}"
    );
    assert!(
        reason.contains("No report was sent to the author ags:09162000"),
        "the reason says what the sender got and whom to tell: {m:#}"
    );
    // The log says exactly what was done, and claims no report.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.log().contains("no report was sent to the author") {
        assert!(Instant::now() < deadline, "rejection logged:\n{}", b.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = b.log();
    assert!(
        !log.contains("the sender is told"),
        "no false claim:\n{log}"
    );
    assert_eq!(m["parts"][0]["size"], zip.len(), "kept as evidence");
    assert_eq!(
        x.entry(COTTBUS, &id).fetch_count,
        1,
        "not fetched every round"
    );
    assert!(b.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_content_is_delivered_under_its_own_file_name_made_safe() {
    use amtsbote_xta::{Content, ContentContainer};
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "");
    let b = Broker::start(Behaviour::default(), &extra).await;
    let xml = xdomea_xml();
    // (file name the sender gave, what the ledger and manifest keep, the file in the folder)
    let cases = [
        (
            Some("Aussonderung 0503.xml"),
            Some("Aussonderung 0503.xml"),
            "Aussonderung_0503.xml",
        ),
        (
            Some("../../../etc/Aussonderung.xml"),
            Some("Aussonderung.xml"),
            "Aussonderung.xml",
        ),
        (Some("manifest.json"), Some("manifest.json"), "document.xml"),
        (Some(".."), None, "document.xml"),
        (None, None, "document.xml"),
    ];
    for (given, kept, file) in cases {
        let (metadata, _) =
            amtsbote::sandbox::xta::sample_message(&xml, "ags:09162000", COTTBUS, Vec::new())
                .unwrap();
        let transport_id = metadata.message_id.clone();
        let mut content = Content::new(xml.clone(), "application/xml");
        content.filename = given.map(str::to_string);
        x.control()
            .deliver(metadata, ContentContainer::new(content))
            .unwrap();
        x.wait_closed(COTTBUS, &transport_id, 30).await;
        let m = message_for(&b, &transport_id, 10).await;
        let id = m["id"].as_str().unwrap().to_string();
        let m = b.wait_state(&id, "delivered", 20).await;
        assert_eq!(m["parts"][0]["filename"].as_str(), kept, "{given:?}: {m:#}");
        let folder = b.dir.path().join("drop").join(&id);
        assert_eq!(
            std::fs::read(folder.join(file)).unwrap(),
            xml,
            "{given:?}: the document is {file}"
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["message_id"], id.as_str(), "the manifest is ours");
        assert_eq!(manifest["files"][0]["path"], file);
        assert_eq!(manifest["files"][0]["filename"].as_str(), kept);
    }
    // Nothing was written outside the message folders.
    assert!(!b.dir.path().join("etc").exists());
    assert!(
        !b.log().contains("Aussonderung"),
        "no file names in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_broker_reads_a_mailbox_on_the_wsdl_named_port_paths() {
    use amtsbote_xta::sandbox::PortPaths;
    // A server that answers only on `/services/XTAService/…`, as JAX-WS/CXF servers publish it.
    let x = Xta::start_with(&[("cottbus", COTTBUS)], |c| {
        c.paths = PortPaths::xta_service();
        c.also_paths = Vec::new();
    })
    .await;
    let extra = x.source(
        "cottbus",
        "xta-postfach",
        "cottbus",
        COTTBUS,
        "msg_box_url = \"/services/XTAService/MsgBoxPort\"\nmanagement_url = \"/services/XTAService/ManagementPort\"",
    );
    let b = Broker::start(Behaviour::default(), &extra).await;
    let id = x.deliver(&xdomea_xml(), COTTBUS, Vec::new());
    x.wait_closed(COTTBUS, &id, 30).await;
    let m = message_for(&b, &id, 10).await;
    b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert!(b.log().contains("XTA account active"));
}
