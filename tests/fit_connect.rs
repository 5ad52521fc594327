//! End-to-end: the broker as FIT-Connect subscriber of a sandbox Zustelldienst — encrypted
//! submissions fetched, verified, delivered and accepted; broken ones rejected with the exact
//! problems and kept as `rejected`; crash between intake and answer; callbacks; token expiry
//! and an unavailable Zustelldienst.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use amtsbote_fit_connect::callback::{CallbackSecret, CallbackSigner};
use amtsbote_fit_connect::events::{Event, ProblemType};
use amtsbote_fit_connect::sender::{Fault, KidStyle, SendOptions};
use common::fit_connect::FitConnect;
use common::*;
use std::time::{Duration, Instant};

/// Routes for the Bauanträge that arrive over FIT-Connect.
fn routes(fc: &FitConnect, poll: &str) -> String {
    format!(
        r#"
[[tenants.cottbus.routes]]
name = "bauantrag-online"
destination = "{dest}"
standard = "xbau"
service_key = "99010003001000"
test_messages = "include"
connector = "gewerberegister"

{source}"#,
        dest = fc.setup.destination_id,
        source = fc.source("cottbus", "bauportal", poll)
    )
}

fn bauantrag() -> Vec<u8> {
    fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml")
}

fn pdf() -> Vec<u8> {
    fixture("examples/messages/versicherungsnachweis.pdf")
}

async fn message_for(b: &Broker, submission_id: &str, secs: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(m) = b
            .list(&[])
            .into_iter()
            .find(|m| m["transport_id"] == submission_id)
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "submission {submission_id} not received:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_answered(fc: &FitConnect, submission_id: &str, state: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while fc.state(submission_id) != state {
        assert!(
            Instant::now() < deadline,
            "submission {submission_id} is {}, not {state}",
            fc.state(submission_id)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submission_is_verified_delivered_and_accepted() {
    let fc = FitConnect::start(None).await;
    let b = Broker::start(Behaviour::default(), &routes(&fc, "1s")).await;
    let sent = fc
        .submit(
            bauantrag(),
            "application/xml",
            vec![
                ("lageplan.pdf", pdf()),
                ("statik.pdf", b"%PDF-1.4 statik".to_vec()),
            ],
            None,
        )
        .await;
    let m = message_for(&b, &sent.submission_id, 20).await;
    let id = m["id"].as_str().unwrap();
    let m = b.wait_state(id, "delivered", 20).await;
    assert_eq!(m["source"], "bauportal");
    assert_eq!(m["destination"], fc.setup.destination_id);
    assert_eq!(m["service_key"], "99010003001000");
    assert_eq!(m["header"]["standard"], "xbau");
    let mut parts: Vec<(&str, &str)> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["filename"].as_str().unwrap_or("(document)"),
                p["content_type"].as_str().unwrap(),
            )
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            ("(document)", "application/xml"),
            ("fit-connect-metadata.json", "application/json"),
            ("lageplan.pdf", "application/pdf"),
            ("statik.pdf", "application/pdf")
        ],
        "named as the metadata describes them"
    );

    wait_answered(&fc, &sent.submission_id, "accepted", 20).await;
    let answers = fc.answers(&sent.case_id);
    assert_eq!(answers.len(), 1, "answered exactly once: {answers:?}");
    let Event::Accept {
        authentication_tags,
    } = &answers[0]
    else {
        panic!("{answers:?}")
    };
    assert_eq!(authentication_tags.attachments.len(), 2);
    // What the Fachverfahren got is the decrypted Bauantrag, with the attachments.
    let got = b.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].content_type.starts_with("multipart/form-data"));
    assert!(!b.log().contains("Mustermann"));
}

/// Senders built on general JOSE libraries name the key by its RFC 7638 thumbprint or not at
/// all (with zip: DEF, too); such submissions are decrypted, delivered and accepted like any.
#[tokio::test(flavor = "multi_thread")]
async fn submissions_naming_the_key_by_thumbprint_or_not_at_all_are_accepted() {
    let fc = FitConnect::start(None).await;
    let b = Broker::start(Behaviour::default(), &routes(&fc, "1s")).await;
    let mut sent = Vec::new();
    for (kid, compress) in [(KidStyle::Thumbprint, false), (KidStyle::Omitted, true)] {
        sent.push(
            fc.submit_with(
                bauantrag(),
                "application/xml",
                vec![("lageplan.pdf", pdf())],
                SendOptions {
                    kid,
                    compress,
                    ..Default::default()
                },
            )
            .await,
        );
    }
    for s in &sent {
        let m = message_for(&b, &s.submission_id, 20).await;
        b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
            .await;
        wait_answered(&fc, &s.submission_id, "accepted", 20).await;
    }
    assert_eq!(b.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_submissions_are_rejected_with_the_exact_problems() {
    let fc = FitConnect::start(None).await;
    let b = Broker::start(Behaviour::default(), &routes(&fc, "1s")).await;
    let invalid_xsd = String::from_utf8(fixture(
        "adapters/xoev/tests/data/xbau-2.6-baugenehmigung-antrag-invalid.xml",
    ))
    .unwrap();
    let cases: Vec<(Option<Fault>, Vec<u8>, ProblemType, &str)> = vec![
        (
            Some(Fault::WrongDataHash),
            bauantrag(),
            ProblemType::HashMismatch,
            "data",
        ),
        (
            Some(Fault::WrongKey),
            bauantrag(),
            ProblemType::EncryptionIssue,
            "metadata",
        ),
        (
            Some(Fault::CorruptData),
            bauantrag(),
            ProblemType::EncryptionIssue,
            "data",
        ),
        (
            Some(Fault::MetadataSchemaViolation),
            bauantrag(),
            ProblemType::SchemaViolation,
            "metadata",
        ),
        (
            Some(Fault::CorruptAttachment(0)),
            bauantrag(),
            ProblemType::EncryptionIssue,
            "attachment:",
        ),
        (
            None,
            invalid_xsd.into_bytes(),
            ProblemType::SchemaViolation,
            "data",
        ),
    ];
    let mut sent = Vec::new();
    for (fault, data, expected, instance) in cases {
        let s = fc
            .submit(data, "application/xml", vec![("anlage.pdf", pdf())], fault)
            .await;
        sent.push((s, expected, instance));
    }
    for (s, expected, instance) in &sent {
        wait_answered(&fc, &s.submission_id, "rejected", 30).await;
        let problems = fc.problems(&s.case_id);
        assert!(
            problems
                .iter()
                .any(|p| p.problem_type == *expected && p.instance.starts_with(instance)),
            "{expected:?} at {instance} expected: {problems:?}"
        );
        let m = message_for(&b, &s.submission_id, 5).await;
        assert_eq!(m["state"], "rejected", "{m:#}");
        assert!(b.payload_files() > 0);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.received().is_empty(), "nothing delivered");
    // The XSD violation names elements, never values.
    let xsd = &sent[5];
    let text = format!("{:?}", fc.problems(&xsd.0.case_id));
    assert!(
        text.contains("nachrichtenUUID") && !text.contains("Erika"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_intake_and_answer_is_recovered_once() {
    let fc = FitConnect::start(None).await;
    let mut b = Broker::start(Behaviour::default(), &routes(&fc, "1s")).await;
    b.kill9();
    b.env.push((
        "FAILPOINTS".into(),
        "fit-connect-before-answer=return".into(),
    ));
    b.spawn().await;
    let sent = fc
        .submit(
            bauantrag(),
            "application/xml",
            vec![("anlage.pdf", pdf())],
            None,
        )
        .await;
    let status = b.wait_exit(30).await;
    assert!(!status.success(), "the failpoint aborted the broker");
    assert_eq!(
        fc.state(&sent.submission_id),
        "forwarded",
        "fetched, not yet answered"
    );
    b.env.clear();
    b.spawn().await;
    wait_answered(&fc, &sent.submission_id, "accepted", 30).await;
    let m = message_for(&b, &sent.submission_id, 5).await;
    b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    assert_eq!(b.list(&[]).len(), 1, "received once");
    assert_eq!(fc.answers(&sent.case_id).len(), 1, "accepted once");
    // One case at the Fachverfahren. (A delivery may have been under way when the broker
    // died; its repeat carries the same idempotency key and creates no second case.)
    let got = b.received();
    assert_eq!(got.len(), 1, "one message reached the Fachverfahren");
    assert!(got[0].reference.is_some());
    assert_eq!(
        got[0].requests,
        1 + got[0].duplicates,
        "no refused attempts, only repeats"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_wake_the_poller_and_forged_or_replayed_ones_are_refused() {
    let port = free_port();
    let fc = FitConnect::start(Some(format!(
        "http://127.0.0.1:{port}/callbacks/fit-connect"
    )))
    .await;
    // Polling only every 10 minutes: only the callback can bring the submission in quickly.
    let b = Broker::start_on(port, Behaviour::default(), &routes(&fc, "10m")).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // the first poll has passed

    let sent = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    // Polling is 10 minutes away: only the callback can have brought it in.
    message_for(&b, &sent.submission_id, 15).await;
    assert!(!fc.running.control.callback_deliveries().is_empty());

    // Forged and stale callbacks are refused and counted.
    let body = format!(
        r#"{{"type":"https://schema.fitko.de/fit-connect/submission-api/callbacks/new-submissions","submissions":[{{"destinationId":"{}","submissionId":"x","caseId":"y"}}]}}"#,
        fc.setup.destination_id
    );
    let client = reqwest::Client::new();
    let url = format!("{}/callbacks/fit-connect", b.base());
    let wrong =
        CallbackSigner::new(CallbackSecret::new(b"not the secret".to_vec())).sign(body.as_bytes());
    let stale = CallbackSigner::new(CallbackSecret::new(
        fc.setup.callback_secret.as_bytes().to_vec(),
    ))
    .sign_at(
        body.as_bytes(),
        std::time::SystemTime::now() - Duration::from_secs(600),
    );
    for h in [wrong, stale] {
        let r = client
            .post(&url)
            .header("callback-authentication", h.authentication.clone())
            .header("callback-timestamp", h.timestamp.clone())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // An authentic callback is accepted once; the same request again (a replay within the
    // 5-minute window) is refused.
    let genuine = CallbackSigner::new(CallbackSecret::new(
        fc.setup.callback_secret.as_bytes().to_vec(),
    ))
    .sign(body.as_bytes());
    for expected in [204, 401, 401] {
        let r = client
            .post(&url)
            .header("callback-authentication", genuine.authentication.clone())
            .header("callback-timestamp", genuine.timestamp.clone())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }
    let metrics = client
        .get(format!("{}/metrics", b.base()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"amtsbote_fit_connect_callbacks_total{outcome="not authentic"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"amtsbote_fit_connect_callbacks_total{outcome="replayed"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"amtsbote_fit_connect_callbacks_total{outcome="accepted"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_expiry_and_an_absent_zustelldienst_lose_nothing() {
    let fc = FitConnect::start(None).await;
    let b = Broker::start(Behaviour::default(), &routes(&fc, "1s")).await;
    let first = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    wait_answered(&fc, &first.submission_id, "accepted", 20).await;
    let tokens = fc.running.control.tokens_issued();

    fc.running.control.expire_tokens();
    let second = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    wait_answered(&fc, &second.submission_id, "accepted", 20).await;
    assert!(
        fc.running.control.tokens_issued() > tokens + 1,
        "the broker fetched a new token"
    );

    let third = fc
        .submit(bauantrag(), "application/xml", vec![("a.pdf", pdf())], None)
        .await;
    fc.running.control.go_down_for(Duration::from_secs(4));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        fc.running.control.unavailable_answers() > 0,
        "the broker tried while it was down"
    );
    wait_answered(&fc, &third.submission_id, "accepted", 30).await;
    for s in [&first, &second, &third] {
        let m = message_for(&b, &s.submission_id, 5).await;
        b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_after_delivery_turns_a_refusal_into_a_rejection() {
    let fc = FitConnect::start(None).await;
    let extra = routes(&fc, "1s").replace(
        "poll_interval = \"1s\"",
        "poll_interval = \"1s\"\naccept = \"delivery\"",
    );
    let b = Broker::start(
        Behaviour {
            reject: true,
            ..Default::default()
        },
        &extra,
    )
    .await;
    let refused = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    let m = message_for(&b, &refused.submission_id, 20).await;
    b.wait_state(m["id"].as_str().unwrap(), "dead", 20).await;
    wait_answered(&fc, &refused.submission_id, "rejected", 20).await;

    // Accepted only once the Fachverfahren took it.
    b.fv.set_behaviour(Behaviour::default());
    let taken = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    let m = message_for(&b, &taken.submission_id, 20).await;
    b.wait_state(m["id"].as_str().unwrap(), "delivered", 20)
        .await;
    wait_answered(&fc, &taken.submission_id, "accepted", 20).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn accept_after_delivery_accepts_what_an_operator_resolved_by_hand() {
    let fc = FitConnect::start(None).await;
    // No route takes the submission: it waits, unrouted and unanswered, for an operator.
    let extra = routes(&fc, "1s")
        .replace(
            "poll_interval = \"1s\"",
            "poll_interval = \"1s\"\naccept = \"delivery\"",
        )
        .replace("99010003001000", "99999999999999");
    let b = Broker::start_with_files(
        Backend::Embedded,
        Behaviour::default(),
        &format!("{extra}{}", common::admin::ADMIN_CONFIG),
        common::admin::write_tokens,
    )
    .await;
    let sent = fc
        .submit(bauantrag(), "application/xml", vec![], None)
        .await;
    let m = message_for(&b, &sent.submission_id, 20).await;
    let id = m["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "unrouted", 20).await;
    // The operator entered it into the Fachverfahren by hand and says so.
    let resolved = common::admin::post(
        &b,
        &format!("/admin/api/v1/messages/{id}/resolve"),
        common::admin::OPERATOR_TOKEN,
        serde_json::json!({ "reason": "entered into the Fachverfahren by hand" }),
    )
    .await;
    assert_eq!(resolved.status, 200, "{}", resolved.body);
    wait_answered(&fc, &sent.submission_id, "accepted", 20).await;
}
