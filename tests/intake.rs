//! End-to-end: HTTP intake refuses bad requests with the right status and a reason, and keeps
//! nothing of them.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;

async fn assert_nothing_stored(b: &Broker) {
    // Discarded parts are removed before the answer is sent.
    assert_eq!(b.list(&[]).len(), 0, "no ledger row");
    assert_eq!(b.payload_files(), 0, "no payload file");
    assert!(b.received().is_empty(), "nothing delivered");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_xml_is_refused_with_the_parsers_reason() {
    let b = Broker::start(Behaviour::default(), "").await;
    let bad = b"<?xml version=\"1.0\"?><antrag><name>Erika Mustermann</nme></antrag>".to_vec();
    let (status, body) = b.post("cottbus", bad, "application/xml", Some("t1")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "urn:amtsbote:problem:malformed");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("line 1"), "position given: {detail}");
    assert!(
        !detail.contains("Mustermann"),
        "no content echoed: {detail}"
    );
    assert!(!b.log().contains("Mustermann"), "no content logged");
    // The same transport id can be sent again, corrected.
    let (status, _) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("t1"))
        .await;
    assert_eq!(status, 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_and_broken_documents_leave_nothing_behind() {
    let b = Broker::start(Behaviour::default(), "").await;
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#.to_vec(), "application/xml", 400, "malformed"),
        (b"{\"name\": \"x\",".to_vec(), "application/json", 400, "malformed"),
        (b"%PDF-1.4".to_vec(), "application/pdf", 415, "unsupported-media-type"),
        (b"hello".to_vec(), "text/plain", 415, "unsupported-media-type"),
        (Vec::new(), "application/xml", 400, "malformed"),
        (vec![b'<'; 1_500_000], "application/xml", 413, "too-large"),
    ];
    for (body, ct, want, kind) in cases {
        let (status, problem) = b.post("cottbus", body, ct, None).await;
        assert_eq!(status, want, "{ct}: {problem}");
        assert_eq!(
            problem["type"],
            format!("urn:amtsbote:problem:{kind}"),
            "{problem}"
        );
        assert_eq!(problem["status"], want);
    }
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_multipart_attachments_are_refused_and_removed() {
    let b = Broker::start(Behaviour::default(), "").await;
    let form = reqwest::multipart::Form::new()
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![7u8; 900_000]).file_name("a.bin"),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![8u8; 900_000]).file_name("b.bin"),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![9u8; 900_000]).file_name("c.bin"),
        )
        .part(
            "document",
            reqwest::multipart::Part::bytes(gewerbe_xml())
                .mime_str("application/xml")
                .unwrap(),
        );
    let (status, _) = b.post_form("cottbus", form).await;
    assert_eq!(status, 413);
    assert_nothing_stored(&b).await;

    // The same without a declared length (chunked): refused once the limit is crossed, and
    // the client still sending gets the answer rather than a broken pipe.
    let chunks = (0..30).map(|_| Ok::<_, std::io::Error>(vec![b' '; 100_000]));
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/xml")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_nothing_stored(&b).await;

    // A multipart body without a document.
    let form = reqwest::multipart::Form::new()
        .part("attachment", reqwest::multipart::Part::bytes(vec![1u8; 10]));
    let (status, _) = b.post_form("cottbus", form).await;
    assert_eq!(status, 400);
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_tenants_and_authorisation() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (status, body) = b
        .post_as(
            "wrong-token",
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .header("Content-Type", "application/xml")
        .body(gewerbe_xml())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "no token");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");

    let (status, body) = b
        .post("nowhere", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 404, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nowhere"));

    // beispielheim's own portal may post for beispielheim only.
    let (status, body) = b
        .post_as(
            OTHER_TOKEN,
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 202);
    let rows = b.list(&[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["source"], "own-portal");
    // A transport id it used for its own tenant does not open a door to another tenant.
    let (status, _) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            gewerbe_xml(),
            "application/xml",
            Some("t-9"),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = b
        .post_as(
            OTHER_TOKEN,
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            Some("t-9"),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        !b.log().contains(TOKEN) && !b.log().contains(OTHER_TOKEN),
        "tokens never logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (_, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    b.wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    b.post("cottbus", b"<broken".to_vec(), "application/xml", None)
        .await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/healthz", b.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", b.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Counters are bumped just after the ledger commit the test waits for: scrape until they
    // show (bounded), then assert with the whole exposition in the message.
    let wanted = [
        r#"amtsbote_messages_received_total{tenant="cottbus",source="formserver"} 1"#,
        r#"amtsbote_delivery_attempts_total{connector="gewerberegister",outcome="delivered"} 1"#,
        r#"amtsbote_intake_refused_total{source="formserver",reason="malformed"} 1"#,
    ];
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = client
            .get(format!("{}/metrics", b.base()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if wanted.iter().all(|w| metrics.contains(w)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for line in wanted {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    // Gauges are read at scrape time; an empty queue reads 0.
    for line in [
        r#"amtsbote_queue_entries{connector="e-akte",status="ready"} 0"#,
        r#"amtsbote_queue_entries{connector="gewerberegister",status="leased"} 0"#,
        r#"amtsbote_messages{tenant="cottbus",connector="gewerberegister",state="delivered"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
}
