//! End-to-end: messages through the real binary into the sample Fachverfahren and the drop
//! folder — delivery, deduplication, retries, dead letters and replay, unrouted messages.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use sha2::{Digest, Sha256};

async fn an_application_is_delivered_once_with_its_audit_trail(backend: Backend) {
    let b = Broker::start_with(backend, Behaviour::default(), "").await;
    let xml = gewerbe_xml();
    let (status, body) = b
        .post("cottbus", xml.clone(), "application/xml", Some("fc-1"))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();

    let m = b.wait_state(&id, "delivered", 20).await;
    assert_eq!(m["tenant"], "cottbus");
    assert_eq!(m["header"]["standard"], "xgewerbeanzeige");
    assert_eq!(m["header"]["message_type"], "0500");
    assert_eq!(m["connector"], "gewerberegister");
    assert_eq!(m["chain"]["Intact"]["entries"], 5, "{m:#}");
    let states: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["received", "validated", "routed", "delivering", "delivered"]
    );

    let got = b.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].key, id, "the message id is the idempotency key");
    assert_eq!(
        got[0].sha256,
        hex::encode(Sha256::digest(&xml)),
        "delivered byte for byte"
    );
    assert_eq!(got[0].requests, 1);
    assert_eq!(got[0].tenant.as_deref(), Some("cottbus"));
    assert!(
        m["history"][4]["reason"]
            .as_str()
            .unwrap()
            .contains(got[0].reference.as_deref().unwrap())
    );
}

async fn a_repeated_transport_id_returns_the_first_id_and_changes_nothing(backend: Backend) {
    let b = Broker::start_with(backend, Behaviour::default(), "").await;
    let (s1, first) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("sub-42"))
        .await;
    let (s2, again) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("sub-42"))
        .await;
    assert_eq!((s1, s2), (202, 200));
    assert_eq!(first["id"], again["id"]);
    assert_eq!(again["duplicate"], true);
    let id = first["id"].as_str().unwrap();
    b.wait_state(id, "delivered", 20).await;
    let (s3, late) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("sub-42"))
        .await;
    assert_eq!((s3, late["state"].as_str()), (200, Some("delivered")));
    assert_eq!(b.list(&[]).len(), 1, "one message in the ledger");
    assert_eq!(b.received().len(), 1, "one delivery");
    // Without a transport id there is nothing to dedupe on: two messages.
    b.post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    b.post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(b.list(&[]).len(), 3);
}

async fn transient_failures_are_retried_until_delivered(backend: Backend) {
    let b = Broker::start_with(
        backend,
        Behaviour {
            fail_every: 1,
            fail_attempts: 2,
            ..Default::default()
        },
        "",
    )
    .await;
    let (_, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    let id = body["id"].as_str().unwrap();
    let m = b.wait_state(id, "delivered", 20).await;
    assert_eq!(m["attempts"], 3);
    let retries: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["state"] == "retrying")
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert_eq!(retries.len(), 2, "{m:#}");
    assert!(retries[0].contains("503"), "{}", retries[0]);
    assert_eq!(b.received()[0].requests, 3);
}

async fn attempts_are_bounded_then_dead(backend: Backend) {
    let b = Broker::start_with(
        backend,
        Behaviour {
            unavailable: true,
            ..Default::default()
        },
        "",
    )
    .await;
    let (_, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    let id = body["id"].as_str().unwrap();
    let m = b.wait_state(id, "dead", 30).await;
    assert_eq!(m["attempts"], 5, "max_attempts = 5");
    assert!(
        m["last_reason"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 5 attempts"),
        "{m:#}"
    );
}

async fn a_refused_delivery_is_dead_until_replayed(backend: Backend) {
    let b = Broker::start_with(
        backend,
        Behaviour {
            reject: true,
            ..Default::default()
        },
        "",
    )
    .await;
    let (_, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    let id = body["id"].as_str().unwrap();
    let m = b.wait_state(id, "dead", 20).await;
    assert_eq!(m["attempts"], 1, "a 400 is not retried");
    let reason = m["last_reason"].as_str().unwrap();
    assert!(
        reason.contains("400") && reason.contains("required field missing"),
        "{reason}"
    );
    let dead = b.list(&["--state", "dead"]);
    assert_eq!(dead.len(), 1);

    // The Fachverfahren is fixed; the operator replays.
    b.fv.set_behaviour(Behaviour::default());
    let out = b.cli(&["replay", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = b.wait_state(id, "delivered", 20).await;
    let states: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        &states[3..],
        [
            "delivering",
            "dead",
            "replayed",
            "routed",
            "delivering",
            "delivered"
        ]
    );
    assert!(
        m["history"][6]["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator:")
    );
    assert_eq!(m["chain"]["Intact"]["entries"], 9);

    // Replaying a delivered message needs --force.
    let out = b.cli(&["replay", id]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is delivered"));
    // The Fachverfahren's own words were shown as the reason, but the permanent history
    // does not keep them (they may quote personal data back).
    let m = b.show(id);
    assert!(
        !m["history"].to_string().contains("required field missing"),
        "{m:#}"
    );

    // Forced: the Fachverfahren lost the case; it gets a fresh idempotency key, so it
    // creates a new case instead of answering "seen before".
    let out = b.cli(&["replay", "--force", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while b
        .received()
        .iter()
        .filter(|r| r.reference.is_some())
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "{:?}", b.received());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.wait_state(id, "delivered", 20).await;
}

async fn bulk_replay_of_dead_letters(backend: Backend) {
    let b = Broker::start_with(
        backend,
        Behaviour {
            reject: true,
            ..Default::default()
        },
        "",
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = b
            .post("cottbus", gewerbe_xml(), "application/xml", None)
            .await;
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        b.wait_state(id, "dead", 20).await;
    }
    b.fv.set_behaviour(Behaviour::default());
    let out = b.cli(&["replay", "--dead", "--connector", "gewerberegister"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 message(s) replayed"));
    for id in &ids {
        b.wait_state(id, "delivered", 20).await;
    }
}

async fn unrouted_messages_are_kept_until_a_route_exists(backend: Backend) {
    let mut b = Broker::start_with(backend, Behaviour::default(), "").await;
    // XWasser has no route in the test configuration.
    let (status, body) = b
        .post("beispielheim", xwasser_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 202);
    assert_eq!(body["state"], "unrouted");
    let id = body["id"].as_str().unwrap().to_string();
    let unrouted = b.list(&["--state", "unrouted"]);
    assert_eq!(unrouted.len(), 1);
    assert_eq!(unrouted[0]["header"]["standard"], "xwasser");
    assert!(
        unrouted[0]["last_reason"]
            .as_str()
            .unwrap()
            .contains("test message"),
        "the reason says why: {}",
        unrouted[0]["last_reason"]
    );
    assert!(b.payload_files() > 0, "the payload is kept");

    // Still no route: replay says so and changes nothing.
    let out = b.cli(&["replay", "--unrouted"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("still no route"));

    // The operator adds a route (to the file connector), restarts, and replays.
    let mut text = std::fs::read_to_string(&b.config).unwrap();
    text = text.replace(
        "[tenants.cottbus]",
        "[[routes]]\nstandard = \"xwasser\"\ntest_messages = \"include\"\nconnector = \"e-akte\"\n\n[tenants.cottbus]",
    );
    std::fs::write(&b.config, text).unwrap();
    assert!(b.terminate().success());
    b.spawn().await;
    let out = b.cli(&["replay", "--unrouted"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait_state(&id, "delivered", 20).await;
    assert!(
        b.dir
            .path()
            .join("drop")
            .join(&id)
            .join("manifest.json")
            .exists()
    );
}

async fn the_file_connector_writes_complete_folders(backend: Backend) {
    let b = Broker::start_with(backend, Behaviour::default(), "").await;
    let xml = xdomea_xml();
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(xml.clone())
                .mime_str("application/xml")
                .unwrap(),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(fixture("examples/messages/versicherungsnachweis.pdf"))
                .file_name("Nachweis Müller.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (status, body) = b.post_form("cottbus", form).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    b.wait_state(id, "delivered", 20).await;

    let folder = b.dir.path().join("drop").join(id);
    assert_eq!(std::fs::read(folder.join("document.xml")).unwrap(), xml);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["message_id"], id);
    assert_eq!(manifest["standard"], "xdomea");
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    let pdf = folder.join(files[1]["path"].as_str().unwrap());
    assert_eq!(
        std::fs::read(pdf).unwrap(),
        fixture("examples/messages/versicherungsnachweis.pdf")
    );
    assert_eq!(files[1]["filename"], "Nachweis Müller.pdf");
    // No temporary folders left behind.
    let leftovers: Vec<_> = std::fs::read_dir(b.dir.path().join("drop"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

async fn json_with_attachments_goes_out_as_multipart(backend: Backend) {
    let b = Broker::start_with(backend, Behaviour::default(), "").await;
    let json = fixture("examples/messages/hundesteuer-anmeldung.json");
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(json)
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 tiny".to_vec())
                .file_name("a.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (status, body) = b.post_form("cottbus", form).await;
    assert_eq!(status, 202, "{body}");
    b.wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    let got = b.received();
    assert!(
        got[0].content_type.starts_with("multipart/form-data"),
        "{:?}",
        got[0]
    );
}

common::on_both_backends!(
    an_application_is_delivered_once_with_its_audit_trail,
    a_repeated_transport_id_returns_the_first_id_and_changes_nothing,
    transient_failures_are_retried_until_delivered,
    attempts_are_bounded_then_dead,
    a_refused_delivery_is_dead_until_replayed,
    bulk_replay_of_dead_letters,
    unrouted_messages_are_kept_until_a_route_exists,
    the_file_connector_writes_complete_folders,
    json_with_attachments_goes_out_as_multipart,
);
