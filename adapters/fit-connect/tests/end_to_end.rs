//! End to end, in process: the sandbox Zustelldienst, our sender and our subscriber client.
//! What the broker's inbound adapter will do is spelled out in `receive` below: fetch, download
//! and decrypt attachments, read the case log, verify, answer with a SET.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use amtsbote_fit_connect::callback::{
    CallbackSecret, CallbackVerifier, HEADER_AUTHENTICATION, HEADER_TIMESTAMP,
};
use amtsbote_fit_connect::client::{
    ClientConfig, ClientCredentials, ClientError, Page, RetryPolicy, SubmissionClient,
};
use amtsbote_fit_connect::events::{self, Event, ProblemType, SetSubject};
use amtsbote_fit_connect::jose::{DecryptOptions, PrivateKey, PublicKey};
use amtsbote_fit_connect::sandbox::{
    CallbackConfig, DestinationConfig, RunningSandbox, Sandbox, SandboxConfig, SubmissionState,
};
use amtsbote_fit_connect::sender::{
    self, Application, Fault, OutgoingAttachment, SendOptions, SentSubmission,
};
use amtsbote_fit_connect::verification::{
    Rejection, SubmissionInput, VerifiedSubmission, submit_event_tags, verify_submission,
};
use amtsbote_fit_connect::wire::{CallbackNotification, ServiceType, Submission};
use bytes::Bytes;
use common::*;

const DESTINATION: &str = "7a2668ad-3081-407e-9f52-3f6a3a7e7d2b";
const OTHER_DESTINATION: &str = "0c5b1d2e-9f8a-4b7c-8d6e-5f4a3b2c1d0e";
const LEIKA: &str = "urn:de:fim:leika:leistung:99108008252000";

type Received = Arc<Mutex<Vec<(bool, CallbackNotification)>>>;

struct World {
    sandbox: RunningSandbox,
    subscriber: SubmissionClient,
    other_subscriber: SubmissionClient,
    sender: SubmissionClient,
    callbacks: Received,
}

fn client(sandbox: &RunningSandbox, id: &str, secret: &str) -> SubmissionClient {
    let mut config = ClientConfig::new(
        &sandbox.base_url,
        &sandbox.token_url,
        ClientCredentials::new(id, secret),
    );
    config.retry = RetryPolicy {
        max_retries: 30,
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    };
    config.request_timeout = Duration::from_secs(20);
    SubmissionClient::new(config).unwrap()
}

/// A callback receiver as the broker will have it: verify over the raw body, record.
async fn callback_receiver(secret: CallbackSecret) -> (String, Received) {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let received: Received = Arc::default();
    let verifier = CallbackVerifier::new(secret);
    let r = received.clone();
    let app = axum::Router::new().route(
        "/callbacks/fit-connect",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            let verifier = verifier.clone();
            async move {
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let ok = verifier
                    .verify(
                        h(HEADER_AUTHENTICATION).as_deref(),
                        h(HEADER_TIMESTAMP).as_deref(),
                        &body,
                    )
                    .is_ok();
                let note: CallbackNotification = serde_json::from_slice(&body).unwrap();
                r.lock().unwrap().push((ok, note));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/callbacks/fit-connect",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn world() -> World {
    let secret = CallbackSecret::new("callback-geheimnis");
    let (callback_url, callbacks) = callback_receiver(secret.clone()).await;
    let mut main = DestinationConfig::new(
        DESTINATION,
        public_jwk(ENC),
        public_jwk(SIG),
        ClientCredentials::new("subscriber", "subscriber-secret"),
    );
    main.callback = Some(CallbackConfig {
        url: callback_url,
        secret,
    });
    let other = DestinationConfig::new(
        OTHER_DESTINATION,
        public_jwk(ENC),
        public_jwk(SIG),
        ClientCredentials::new("other-subscriber", "other-secret"),
    );
    let sandbox = Sandbox::new(SandboxConfig {
        destinations: vec![main, other],
        senders: vec![ClientCredentials::new("online-service", "sender-secret")],
        signing_key: Some(private(ZD)),
        ..Default::default()
    })
    .unwrap()
    .spawn("127.0.0.1:0".parse().unwrap())
    .await
    .unwrap();
    World {
        subscriber: client(&sandbox, "subscriber", "subscriber-secret"),
        other_subscriber: client(&sandbox, "other-subscriber", "other-secret"),
        sender: client(&sandbox, "online-service", "sender-secret"),
        sandbox,
        callbacks,
    }
}

fn application(destination: &str) -> Application {
    Application {
        destination_id: destination.into(),
        service_type: ServiceType {
            name: Some("Gewerbeanmeldung".into()),
            identifier: LEIKA.into(),
        },
        data: b"<?xml version=\"1.0\"?><antrag><name>Erika Mustermann</name></antrag>".to_vec(),
        data_mime_type: "application/xml".into(),
        data_schema_uri: "urn:xoev-de:xgewerbeanzeige:schema:xgewerbeanzeige_2.3".into(),
        attachments: vec![
            OutgoingAttachment::new(
                b"%PDF-1.4 Personalausweis".repeat(2000),
                "application/pdf",
                Some("ausweis.pdf".into()),
            ),
            OutgoingAttachment::new(
                b"%PDF-1.4 Grundriss".to_vec(),
                "application/pdf",
                Some("grundriss.pdf".into()),
            ),
        ],
    }
}

/// What the broker's inbound adapter does with one submission.
async fn receive(
    client: &SubmissionClient,
    submission_id: &str,
) -> (Submission, Result<VerifiedSubmission, Rejection>) {
    let keys = [private(ENC)];
    let submission = client.get_submission(submission_id).await.unwrap();
    let mut attachments = Vec::new();
    for id in &submission.attachments {
        let mut sink = Vec::new();
        let result = client
            .fetch_attachment(
                submission_id,
                id,
                &keys,
                DecryptOptions::default(),
                &mut sink,
            )
            .await
            .unwrap();
        attachments.push(result);
    }
    // The Zustelldienst's submit event, verified with its published keys.
    let jwks: Vec<PublicKey> = client
        .zustelldienst_keys()
        .await
        .unwrap()
        .keys
        .iter()
        .map(|k| PublicKey::from_jwk(k).unwrap())
        .collect();
    let log = client.event_log(&submission.case_id).await.unwrap();
    let tags = submit_event_tags(&log, &jwks, submission_id)
        .unwrap()
        .expect("the sandbox's submit event carries tags");
    let result = verify_submission(SubmissionInput {
        submission: &submission,
        keys: &keys,
        attachments,
        submit_event_tags: Some(&tags),
        decrypt_options: DecryptOptions::default(),
    });
    (submission, result)
}

/// A raw access token, for requests outside the client.
async fn token(sandbox: &RunningSandbox, id: &str, secret: &str) -> String {
    let r: serde_json::Value = reqwest::Client::new()
        .post(&sandbox.token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["token_type"], "Bearer");
    r["access_token"].as_str().unwrap().to_string()
}

fn subject(s: &Submission) -> SetSubject {
    SetSubject::new(&s.destination_id, &s.submission_id, &s.case_id)
}

async fn send(w: &World, fault: Option<Fault>, compress: bool) -> SentSubmission {
    sender::send(
        &w.sender,
        &application(DESTINATION),
        &SendOptions {
            compress,
            fault,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_fetch_verify_accept_with_two_attachments() {
    let w = world().await;
    let sent = send(&w, None, false).await;
    assert_eq!(
        w.sandbox.control.submission_state(&sent.submission_id),
        Some(SubmissionState::Submitted)
    );

    let list = w
        .subscriber
        .list_submissions(Page::default(), Some(DESTINATION))
        .await
        .unwrap();
    assert_eq!(list.total_count, 1);
    assert_eq!(list.submissions[0].submission_id, sent.submission_id);
    assert_eq!(list.submissions[0].case_id, sent.case_id);

    let (submission, result) = receive(&w.subscriber, &sent.submission_id).await;
    assert_eq!(
        w.sandbox.control.submission_state(&sent.submission_id),
        Some(SubmissionState::Forwarded)
    );
    // Forwarded: no longer listed, still fetchable until answered.
    assert_eq!(
        w.subscriber
            .list_submissions(Page::default(), None)
            .await
            .unwrap()
            .total_count,
        0
    );
    w.subscriber
        .get_submission(&sent.submission_id)
        .await
        .unwrap();
    let verified = result.unwrap_or_else(|r| panic!("{:?}", r.problems));
    assert_eq!(
        verified.data.as_deref(),
        Some(application(DESTINATION).data.as_slice())
    );
    assert_eq!(verified.service_identifier, LEIKA);
    assert_eq!(verified.attachments.len(), 2);
    assert_eq!(verified.authentication_tags.attachments.len(), 2);
    assert_eq!(
        verified.data_schema.unwrap().schema_uri,
        "urn:xoev-de:xgewerbeanzeige:schema:xgewerbeanzeige_2.3"
    );

    let set = events::accept_submission(
        &subject(&submission),
        verified.authentication_tags.clone(),
        &private(SIG),
    )
    .unwrap();
    w.subscriber
        .post_event(&submission.case_id, &set)
        .await
        .unwrap();
    assert_eq!(
        w.sandbox.control.submission_state(&sent.submission_id),
        Some(SubmissionState::Accepted)
    );

    // The case log shows submit (Zustelldienst) then accept (ours) — also to the sender.
    let log = w.sender.event_log(&sent.case_id).await.unwrap();
    assert_eq!(log.len(), 2);
    let accept = events::verify_set(&log[1], &public(SIG)).unwrap();
    assert_eq!(accept.claims.iss, DESTINATION);
    assert_eq!(
        accept.claims.sub,
        format!("submission:{}", sent.submission_id)
    );
    assert_eq!(
        accept.claims.txn.as_deref(),
        Some(format!("case:{}", sent.case_id).as_str())
    );
    assert!(
        matches!(accept.event, Event::Accept { ref authentication_tags } if *authentication_tags == verified.authentication_tags)
    );

    // Accepted submissions can no longer be fetched, and a second answer is refused.
    let e = w
        .subscriber
        .get_submission(&sent.submission_id)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    // The event log pages (offset/limit).
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/cases/{}/events?offset=1&limit=1",
            w.sandbox.base_url, sent.case_id
        ))
        .bearer_auth(token(&w.sandbox, "subscriber", "subscriber-secret").await)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["eventLog"].as_array().unwrap().len(), 1);
    assert_eq!(page["eventLog"][0], log[1].as_str());
    let again = events::accept_submission(
        &subject(&submission),
        verified.authentication_tags,
        &private(SIG),
    )
    .unwrap();
    let e = w
        .subscriber
        .post_event(&submission.case_id, &again)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));

    // The callback arrived with a valid HMAC.
    for _ in 0..50 {
        if !w.callbacks.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let callbacks = w.callbacks.lock().unwrap().clone();
    assert_eq!(callbacks.len(), 1);
    assert!(callbacks[0].0, "callback HMAC must verify");
    assert_eq!(
        callbacks[0].1.submissions[0].submission_id,
        sent.submission_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_submission_is_accepted_too() {
    let w = world().await;
    let sent = send(&w, None, true).await;
    let (_, result) = receive(&w.subscriber, &sent.submission_id).await;
    result.unwrap_or_else(|r| panic!("{:?}", r.problems));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_attachment_streams_through_http_into_a_sink() {
    let w = world().await;
    let mut app = application(DESTINATION);
    let mut x: u32 = 7;
    let big: Vec<u8> = (0..8 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    app.attachments = vec![OutgoingAttachment::new(
        big.clone(),
        "application/octet-stream",
        None,
    )];
    let sent = sender::send(&w.sender, &app, &SendOptions::default())
        .await
        .unwrap();
    // Download into a file, as the broker's payload store would.
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().unwrap());
    let result = w
        .subscriber
        .fetch_attachment(
            &sent.submission_id,
            &sent.attachment_ids[0],
            &[private(ENC)],
            DecryptOptions::default(),
            &mut file,
        )
        .await
        .unwrap();
    let received = result.outcome.unwrap();
    assert_eq!(received.size, big.len() as u64);
    assert_eq!(
        received.sha512_hex,
        amtsbote_fit_connect::verification::sha512_hex(&big)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_submissions_are_rejected_with_the_right_problems() {
    let w = world().await;
    // (fault, expected type, expected instance: None = metadata/data as given, Some(i) = attachment i)
    let cases: Vec<(Fault, ProblemType, &str)> = vec![
        (Fault::WrongDataHash, ProblemType::HashMismatch, "data"),
        (
            Fault::WrongAttachmentHash(1),
            ProblemType::HashMismatch,
            "attachment:1",
        ),
        (
            Fault::CorruptAttachment(0),
            ProblemType::EncryptionIssue,
            "attachment:0",
        ),
        (Fault::CorruptData, ProblemType::EncryptionIssue, "data"),
        (
            Fault::CorruptMetadata,
            ProblemType::EncryptionIssue,
            "metadata",
        ),
        (Fault::WrongKey, ProblemType::EncryptionIssue, "metadata"),
        (
            Fault::MetadataSchemaViolation,
            ProblemType::SchemaViolation,
            "metadata",
        ),
        (
            Fault::AttachmentMissingFromMetadata(0),
            ProblemType::AttachmentsMismatch,
            "metadata",
        ),
        (
            Fault::ServiceMismatch,
            ProblemType::ServiceMismatch,
            "metadata",
        ),
    ];
    for (fault, expected_type, expected_instance) in cases {
        let sent = send(&w, Some(fault), false).await;
        let expected_instance = match expected_instance.strip_prefix("attachment:") {
            Some(i) => format!(
                "attachment:{}",
                sent.attachment_ids[i.parse::<usize>().unwrap()]
            ),
            None => expected_instance.to_string(),
        };
        let (submission, result) = receive(&w.subscriber, &sent.submission_id).await;
        let rejection = match result {
            Ok(_) => panic!("{fault:?} must be rejected"),
            Err(r) => r,
        };
        assert!(
            rejection
                .problems
                .iter()
                .any(|p| p.problem_type == expected_type && p.instance == expected_instance),
            "{fault:?}: expected {expected_type} at {expected_instance}, got {:?}",
            rejection.problems
        );
        for p in &rejection.problems {
            assert!(
                !p.detail.contains("Mustermann"),
                "problem details must not quote content"
            );
        }
        let set = events::reject_submission(
            &subject(&submission),
            rejection.problems.clone(),
            &private(SIG),
        )
        .unwrap();
        w.subscriber
            .post_event(&submission.case_id, &set)
            .await
            .unwrap();
        assert_eq!(
            w.sandbox.control.submission_state(&sent.submission_id),
            Some(SubmissionState::Rejected)
        );
        let log = w.sandbox.control.case_events(&sent.case_id);
        let reject = events::verify_set(log.last().unwrap(), &public(SIG)).unwrap();
        match reject.event {
            Event::Reject { problems } => assert_eq!(problems, rejection.problems),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_mid_run_is_handled_by_refresh() {
    let w = world().await;
    w.subscriber
        .list_submissions(Page::default(), None)
        .await
        .unwrap();
    let issued = w.sandbox.control.tokens_issued();
    // Revoked early: the API answers 401, the client fetches a new token and repeats.
    w.sandbox.control.expire_tokens();
    w.subscriber
        .list_submissions(Page::default(), None)
        .await
        .unwrap();
    assert_eq!(w.sandbox.control.tokens_issued(), issued + 1);
    // Short-lived tokens are refreshed before they expire.
    w.sandbox.control.set_token_lifetime(Duration::from_secs(1));
    w.sandbox.control.expire_tokens();
    let sent = send(&w, None, false).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, result) = receive(&w.subscriber, &sent.submission_id).await;
    result.unwrap_or_else(|r| panic!("{:?}", r.problems));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_down_for_a_while_client_retries_then_succeeds() {
    let w = world().await;
    let sent = send(&w, None, false).await;
    w.sandbox.control.go_down_for(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let list = w
        .subscriber
        .list_submissions(Page::default(), None)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(list.submissions[0].submission_id, sent.submission_id);
    assert!(w.sandbox.control.unavailable_answers() >= 2);

    // With too few retries the transient error surfaces as such.
    let mut config = w.subscriber.config().clone();
    config.retry = RetryPolicy {
        max_retries: 1,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
    };
    let impatient = SubmissionClient::new(config).unwrap();
    impatient
        .list_submissions(Page::default(), None)
        .await
        .unwrap();
    w.sandbox.control.go_down_for(Duration::from_secs(5));
    let e = impatient
        .list_submissions(Page::default(), None)
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.status(), Some(503));
    assert!(e.problem_type().unwrap().ends_with("/service-unavailable"));
    // Also while fetching a token: the token endpoint being down is transient, not a refusal.
    let fresh = SubmissionClient::new(impatient.config().clone()).unwrap();
    let e = fresh
        .list_submissions(Page::default(), None)
        .await
        .unwrap_err();
    assert!(
        e.is_transient() && !matches!(e, ClientError::Auth { .. }),
        "{e}"
    );
    w.sandbox.control.come_back();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_signed_with_the_wrong_key_or_wrong_content_are_refused() {
    let w = world().await;
    let sent = send(&w, None, false).await;
    let (submission, result) = receive(&w.subscriber, &sent.submission_id).await;
    let tags = result.unwrap().authentication_tags;
    let refused = |e: ClientError| {
        assert_eq!(e.status(), Some(422), "{e}");
        assert!(e.problem_type().unwrap().ends_with("/invalid-event"), "{e}");
        assert!(e.is_permanent());
    };
    // Another key claiming the destination's signing kid.
    let impostor: PrivateKey = private(ENC).with_kid("test-sig-1");
    let set = events::accept_submission(&subject(&submission), tags.clone(), &impostor).unwrap();
    refused(
        w.subscriber
            .post_event(&submission.case_id, &set)
            .await
            .unwrap_err(),
    );
    // Right key, wrong tags.
    let mut wrong = tags.clone();
    wrong.metadata = "AAAAAAAAAAAAAAAAAAAAAA".into();
    let set = events::accept_submission(&subject(&submission), wrong, &private(SIG)).unwrap();
    refused(
        w.subscriber
            .post_event(&submission.case_id, &set)
            .await
            .unwrap_err(),
    );
    // Right key, wrong issuer.
    let mut s = subject(&submission);
    s.issuer = OTHER_DESTINATION.into();
    let set = events::accept_submission(&s, tags.clone(), &private(SIG)).unwrap();
    refused(
        w.subscriber
            .post_event(&submission.case_id, &set)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        w.sandbox.control.submission_state(&sent.submission_id),
        Some(SubmissionState::Forwarded)
    );
    // The correct SET still goes through.
    let set = events::accept_submission(&subject(&submission), tags, &private(SIG)).unwrap();
    w.subscriber
        .post_event(&submission.case_id, &set)
        .await
        .unwrap();
    assert_eq!(
        w.sandbox.control.submission_state(&sent.submission_id),
        Some(SubmissionState::Accepted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_see_only_their_destinations() {
    let w = world().await;
    let sent = send(&w, None, false).await;
    let other = &w.other_subscriber;
    assert_eq!(
        other
            .list_submissions(Page::default(), None)
            .await
            .unwrap()
            .total_count,
        0
    );
    let e = other.get_submission(&sent.submission_id).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = other
        .list_submissions(Page::default(), Some(DESTINATION))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = other.event_log(&sent.case_id).await.unwrap_err();
    assert_eq!(e.status(), Some(403));
    // A sender cannot use the subscriber API.
    let e = w
        .sender
        .list_submissions(Page::default(), None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    // Paging.
    let second = send(&w, None, false).await;
    let page = w
        .subscriber
        .list_submissions(
            Page {
                offset: 1,
                limit: 1,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((page.count, page.offset, page.total_count), (1, 1, 2));
    assert_eq!(page.submissions[0].submission_id, second.submission_id);
    assert_eq!(
        w.subscriber
            .list_all_submissions(Some(DESTINATION))
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_api_rules_and_problem_documents() {
    let w = world().await;
    // Unknown destination.
    let mut app = application("00000000-0000-4000-8000-000000000000");
    app.attachments.clear();
    let e = sender::send(&w.sender, &app, &SendOptions::default())
        .await
        .unwrap_err();
    let sender::SendError::Client(e) = e else {
        panic!("{e}")
    };
    assert_eq!(e.status(), Some(404));
    assert!(
        e.problem_type()
            .unwrap()
            .ends_with("/destination-not-found")
    );
    // Submitting before the announced attachments are uploaded.
    let created = w
        .sender
        .create_submission(&amtsbote_fit_connect::wire::CreateSubmission {
            destination_id: DESTINATION.into(),
            announced_attachments: vec![uuid::Uuid::new_v4().to_string()],
            service_type: ServiceType {
                name: None,
                identifier: LEIKA.into(),
            },
            case_id: None,
        })
        .await
        .unwrap();
    let json = amtsbote_fit_connect::jose::EncryptOptions {
        cty: Some("application/json".into()),
        ..Default::default()
    };
    let no_cty =
        amtsbote_fit_connect::jose::encrypt(b"{}", &public(ENC), &Default::default()).unwrap();
    let jwe = amtsbote_fit_connect::jose::encrypt(b"{}", &public(ENC), &json).unwrap();
    // Metadata without cty: application/json is refused.
    let e = w
        .sender
        .submit_submission(
            &created.submission_id,
            &amtsbote_fit_connect::wire::SubmitSubmission {
                encrypted_metadata: no_cty,
                encrypted_data: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.problem_type().unwrap().ends_with("/invalid-jwe"));
    let e = w
        .sender
        .submit_submission(
            &created.submission_id,
            &amtsbote_fit_connect::wire::SubmitSubmission {
                encrypted_metadata: jwe.clone(),
                encrypted_data: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    assert!(e.problem_type().unwrap().ends_with("/missing-attachments"));
    // An attachment that was not announced; a body that is not a JWE.
    let e = w
        .sender
        .upload_attachment(
            &created.submission_id,
            &uuid::Uuid::new_v4().to_string(),
            Bytes::from(jwe),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    let e = w
        .sender
        .upload_attachment(
            &created.submission_id,
            "x",
            Bytes::from_static(b"plain text"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422));
    // Wrong credentials.
    let bad = client(&w.sandbox, "subscriber", "wrong");
    let e = bad
        .list_submissions(Page::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Auth { status: 401, .. }), "{e}");
    assert!(!e.to_string().contains("wrong"));
    // Raw HTTP: no token → 401 problem+json; unknown path → 404 problem+json; wrong media type → 415.
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/v1/submissions", w.sandbox.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = http
        .get(format!("{}/v2/nothing", w.sandbox.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let jwks: serde_json::Value = http
        .get(format!("{}/.well-known/jwks.json", w.sandbox.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "test-zustelldienst-1");
    // Destination info and keys as a sender sees them.
    let d = w.sender.destination(DESTINATION).await.unwrap();
    assert_eq!(d.status, "active");
    assert_eq!(d.encryption_kid, "test-enc-1");
    assert_eq!(d.metadata_versions, vec!["1.0.0".to_string()]);
    let k = w
        .sender
        .destination_key(DESTINATION, "test-sig-1")
        .await
        .unwrap();
    assert_eq!(k.key_ops, Some(vec!["verify".to_string()]));
    assert!(k.d.is_none());
}

#[test]
fn sandbox_refuses_small_destination_keys() {
    let config = SandboxConfig {
        destinations: vec![DestinationConfig::new(
            DESTINATION,
            public_jwk(SMALL),
            public_jwk(SIG),
            ClientCredentials::new("s", "s"),
        )],
        signing_key: Some(private(ZD)),
        ..Default::default()
    };
    let e = Sandbox::new(config).err().unwrap();
    assert!(e.to_string().contains("4096"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_log_without_a_verifiable_submit_event_is_an_invalid_event_log() {
    let w = world().await;
    let sent = send(&w, None, false).await;
    let log = w.subscriber.event_log(&sent.case_id).await.unwrap();
    let genuine = w.sandbox.control.zustelldienst_key();
    assert!(
        submit_event_tags(&log, std::slice::from_ref(&genuine), &sent.submission_id)
            .unwrap()
            .is_some()
    );
    // A key that claims the Zustelldienst's kid but is not its key: the event does not verify.
    let impostor = PublicKey::from_jwk(&{
        let mut k = public_jwk(SIG);
        k.kid = genuine.kid().map(str::to_string);
        k
    })
    .unwrap();
    let p = submit_event_tags(&log, &[impostor], &sent.submission_id).unwrap_err();
    assert_eq!(p.problem_type, ProblemType::InvalidEventLog);
    // No submit event for this submission at all.
    let p =
        submit_event_tags(&[], std::slice::from_ref(&genuine), &sent.submission_id).unwrap_err();
    assert_eq!(p.problem_type, ProblemType::InvalidEventLog);
    let p = submit_event_tags(&log, &[genuine], "another-submission").unwrap_err();
    assert_eq!(p.problem_type, ProblemType::InvalidEventLog);
}
