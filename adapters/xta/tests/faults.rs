//! What goes wrong, and how it arrives at the caller: refused certificates, permission faults
//! that are permanent for the account, the per-message faults (size, duplicate and unknown
//! MessageIDs, schema violations), and transient trouble (technical faults, downtime) — each as
//! the typed error an inbound adapter decides on.

mod common;

use std::time::Duration;

use amtsbote_xta::client::XtaError;
use amtsbote_xta::fault::{ErrorCode, ExceptionKind, SoapCode, SoapFault};
use amtsbote_xta::mtom::Received;
use amtsbote_xta::soap::Envelope;
use amtsbote_xta::wsdl::{NS_OSCI, NS_SOAP11, NS_SOAP12, NS_WSA, Operation};
use amtsbote_xta::xml::XmlLimits;
use amtsbote_xta::{Content, PartyIdentifier};
use common::*;

fn assert_fault(error: &XtaError, kind: ExceptionKind, code: ErrorCode) {
    assert_eq!(error.exception(), Some(kind), "{error}");
    assert_eq!(error.error_code(), Some(code), "{error}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let world = world().await;
    let client = client(&world.sandbox, &certificates().foreign, Some(READER));
    let error = client.get_status_list(10).await.unwrap_err();
    assert!(
        matches!(error, XtaError::ClientCertificateRefused { ref alert, .. } if alert == "UnknownCA"),
        "{error:?}"
    );
    assert!(error.is_permanent_for_account());
    assert!(!error.is_transient());
    assert_eq!(world.sandbox.control.requests_served(), 0);
}

#[tokio::test]
async fn an_expired_certificate_is_refused_in_the_handshake() {
    let world = world().await;
    let client = client(&world.sandbox, &certificates().expired, Some(READER));
    let error = client.check_account_active().await.unwrap_err();
    assert!(
        matches!(error, XtaError::ClientCertificateRefused { ref alert, .. } if alert == "CertificateExpired"),
        "{error:?}"
    );
    assert!(error.is_permanent_for_account());
    assert!(
        error
            .to_string()
            .contains("refused the TLS client certificate")
    );
}

#[tokio::test]
async fn no_certificate_at_all_is_refused_in_the_handshake() {
    let world = world().await;
    let mut config = config(&world.sandbox, &certificates().reader, Some(READER));
    config.identity = None;
    let error = amtsbote_xta::XtaClient::new(config)
        .unwrap()
        .check_account_active()
        .await
        .unwrap_err();
    assert!(error.is_permanent_for_account(), "{error:?}");
}

#[tokio::test]
async fn permission_faults_are_permanent_for_the_account() {
    let world = world().await;
    let id = send(&world, READER).await;

    // A valid certificate without account: 9012.
    let stranger = client(&world.sandbox, &certificates().stranger, None);
    let error = stranger.check_account_active().await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::PermissionDenied,
        ErrorCode::ACCOUNT_UNKNOWN,
    );
    assert!(error.is_permanent_for_account() && !error.is_transient());

    // Another account reading this reader's mailbox: 9014 ...
    let intruder = world.other.with_author(PartyIdentifier::xoev(READER));
    let error = intruder.get_status_list(10).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::PermissionDenied,
        ErrorCode::IDENTITY_MISMATCH,
    );
    assert!(error.is_permanent_for_account());
    // ... and its own mailbox does not contain the message: 9070, about the message only.
    let error = world.other.get_message(&id).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::InvalidMessageId,
        ErrorCode::UNKNOWN_MESSAGE_ID,
    );
    assert!(!error.is_permanent_for_account());
    let error = world.other.close(None, &[id.as_str()]).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::InvalidMessageId,
        ErrorCode::UNKNOWN_MESSAGE_ID,
    );
    assert!(!world.sandbox.control.mailbox(READER)[0].closed);

    // Sending in someone else's name: 9014.
    let mut forged = message("urn:x:forged", OTHER);
    forged.metadata.author = PartyIdentifier::xoev(READER);
    let error = world.sender.send_message(&forged).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::PermissionDenied,
        ErrorCode::IDENTITY_MISMATCH,
    );

    // A locked account: 9011, until unlocked.
    assert!(world.sandbox.control.set_account_active("reader", false));
    let error = world.reader.get_status_list(10).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::PermissionDenied,
        ErrorCode::ACCOUNT_LOCKED,
    );
    assert!(error.is_permanent_for_account());
    world.sandbox.control.set_account_active("reader", true);
    world.reader.check_account_active().await.unwrap();
}

#[tokio::test]
async fn a_service_not_booked_is_refused() {
    let world = world_with(|config| {
        config.accounts[0].services = vec!["urn:xoev-de:xbau:standard:xbau_2.6".into()];
    })
    .await;
    let error = world
        .sender
        .send_message(&message("urn:x:1", READER))
        .await
        .unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::PermissionDenied,
        ErrorCode::SERVICE_NOT_BOOKED,
    );
}

#[tokio::test]
async fn messages_over_the_size_limit_get_9023() {
    let world = world().await;
    world.sandbox.control.set_max_message_bytes(64 * 1024);
    let error = world
        .sender
        .send_message(&message("urn:x:big", READER))
        .await
        .unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::MESSAGE_TOO_LARGE,
    );
    assert!(!error.is_transient() && !error.is_permanent_for_account());
    // Beyond what the server reads at all: the same fault, without reading the body.
    let mut huge = message("urn:x:huge", READER);
    huge.container.attachments[0].data = tricky_bytes(2 * 1024 * 1024).into();
    let error = world.sender.send_message(&huge).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::MESSAGE_TOO_LARGE,
    );
    assert!(world.sandbox.control.mailbox(READER).is_empty());
}

#[tokio::test]
async fn duplicate_and_unknown_message_ids() {
    let world = world().await;
    let id = send(&world, READER).await;
    let error = world
        .sender
        .send_message(&message(&id, READER))
        .await
        .unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::DUPLICATE_MESSAGE_ID,
    );
    for error in [
        world.reader.get_message("urn:x:unknown").await.unwrap_err(),
        world
            .reader
            .close(None, &["urn:x:unknown"])
            .await
            .unwrap_err(),
        world
            .reader
            .get_transport_report("urn:x:unknown")
            .await
            .unwrap_err(),
    ] {
        assert_fault(
            &error,
            ExceptionKind::InvalidMessageId,
            ErrorCode::UNKNOWN_MESSAGE_ID,
        );
        assert!(!error.is_transient());
    }
    let error = world
        .sender
        .send_message(&message("urn:x:2", "ags:00000000"))
        .await
        .unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::INVALID_PARAMETER_COMBINATION,
    );
}

#[tokio::test]
async fn a_payload_that_is_not_well_formed_xml_is_a_schema_violation() {
    let world = world().await;
    let mut broken = message("urn:x:broken", READER);
    broken.container.message = Content::new(&b"<a><b></a>"[..], "text/xml");
    let error = world.sender.send_message(&broken).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::MessageSchemaViolation,
        ErrorCode::SCHEMA_VIOLATION,
    );
    // The fault names the problem, not the content.
    assert!(!error.to_string().contains("<a>"));
}

/// Posts a hand-written request with the reader's certificate; returns status and fault.
async fn raw(
    world: &World,
    path_of: Operation,
    content_type: &str,
    body: String,
) -> (u16, SoapFault) {
    let certs = certificates();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .identity(openssl_identity())
        .add_root_certificate(reqwest::Certificate::from_pem(&certs.pki.ca_pem()).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let url = world.sandbox.endpoints.url(path_of.port()).to_string();
    let response = http
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = response.bytes().await.unwrap();
    let received = Received::from_http(&content_type, bytes).unwrap();
    let envelope = Envelope::parse(&received.root, &XmlLimits::default()).unwrap();
    let fault = SoapFault::parse(envelope.fault().expect("a fault")).unwrap();
    (status, fault)
}

/// The reader's key and certificate as a reqwest identity, through OpenSSL.
fn openssl_identity() -> reqwest::Identity {
    let certs = certificates();
    let p12 = openssl::pkcs12::Pkcs12::from_der(&certs.reader.pkcs12_der)
        .unwrap()
        .parse2(PASSWORD)
        .unwrap();
    let mut pem = p12.pkey.unwrap().private_key_to_pem_pkcs8().unwrap();
    pem.extend(p12.cert.unwrap().to_pem().unwrap());
    reqwest::Identity::from_pem(&pem).unwrap()
}

fn envelope(action: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{NS_SOAP12}" xmlns:wsa="{NS_WSA}" xmlns:osci="{NS_OSCI}"><env:Header><wsa:Action>{action}</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID></env:Header><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

#[tokio::test]
async fn malformed_requests_get_schema_violation_faults() {
    let world = world().await;
    let soap = "application/soap+xml; charset=UTF-8";
    let op = Operation::GetStatusList;
    for (body, expected_path) in [
        (
            r#"<osci:MsgBoxStatusListRequest maxListItems="many"/>"#,
            "/Envelope/Body/MsgBoxStatusListRequest/@maxListItems",
        ),
        (
            r#"<osci:MsgBoxStatusListRequest><osci:Unexpected/></osci:MsgBoxStatusListRequest>"#,
            "/Envelope/Body/MsgBoxStatusListRequest/Unexpected",
        ),
        (
            r#"<osci:MsgBoxFetchRequest/>"#,
            "/Envelope/Body/MsgBoxFetchRequest",
        ),
    ] {
        let (status, fault) = raw(&world, op, soap, envelope(op.action(), body)).await;
        assert_eq!(status, 500);
        assert_eq!(fault.code, Some(SoapCode::Sender));
        let xta = fault.xta.expect("XTA detail");
        assert_eq!(xta.kind, ExceptionKind::MessageSchemaViolation);
        assert_eq!(xta.error_code(), Some(ErrorCode::SCHEMA_VIOLATION));
        assert!(fault.reason.contains(expected_path), "{}", fault.reason);
    }

    // Not well-formed at all.
    let (_, fault) = raw(&world, op, soap, envelope(op.action(), "<osci:Oops>")).await;
    assert_eq!(
        fault.xta.unwrap().error_code(),
        Some(ErrorCode::SCHEMA_VIOLATION)
    );

    // A DTD is refused before anything else happens.
    let dtd = format!(
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]>{}"#,
        envelope(op.action(), "")
    );
    let (_, fault) = raw(&world, op, soap, dtd).await;
    assert_eq!(
        fault.xta.unwrap().error_code(),
        Some(ErrorCode::SCHEMA_VIOLATION)
    );

    // SOAP 1.1.
    let soap11 = format!(r#"<s:Envelope xmlns:s="{NS_SOAP11}"><s:Body/></s:Envelope>"#);
    let (_, fault) = raw(&world, op, "text/xml; charset=UTF-8", soap11).await;
    assert_eq!(fault.code, Some(SoapCode::VersionMismatch));

    // An action of another port, and no action at all.
    let wrong = envelope(Operation::SendMessage.action(), "");
    let (_, fault) = raw(&world, op, soap, wrong).await;
    assert_eq!(fault.subcode.as_deref(), Some("wsa:ActionNotSupported"));
    let (_, fault) = raw(&world, op, soap, envelope("", "")).await;
    assert_eq!(
        fault.subcode.as_deref(),
        Some("wsa:MessageAddressingHeaderRequired")
    );

    // Unsupported operations of the WSDL answer with their own faults.
    let sync = Operation::SendMessageSync;
    let (_, fault) = raw(&world, sync, soap, envelope(sync.action(), "")).await;
    assert_eq!(
        fault.xta.unwrap().error_code(),
        Some(ErrorCode::ONLY_ASYNCHRONOUS)
    );
    let cancel = Operation::CancelMessage;
    let body = "<wsa:MessageID>urn:x:1</wsa:MessageID>";
    let (_, fault) = raw(&world, cancel, soap, envelope(cancel.action(), body)).await;
    let xta = fault.xta.unwrap();
    assert_eq!(xta.kind, ExceptionKind::CancelDenied);
    assert_eq!(xta.error_code(), Some(ErrorCode::NOT_BEFORE_NOT_SET));
    let next = Operation::GetNextMessage;
    let body = r#"<osci:MsgBoxGetNextRequest MsgBoxRequestID="1"/>"#;
    let (_, fault) = raw(&world, next, soap, envelope(next.action(), body)).await;
    assert_eq!(fault.subcode.as_deref(), Some("wsa:ActionNotSupported"));
}

#[tokio::test]
async fn message_ids_can_be_required_to_come_from_create_message_id() {
    let world = world_with(|config| config.require_issued_message_ids = true).await;
    let error = world
        .sender
        .send_message(&message("urn:x:self-made", READER))
        .await
        .unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::INVALID_PARAMETER_COMBINATION,
    );
    // Issued to another account does not count either.
    let foreign = world.reader.create_message_id().await.unwrap();
    let error = world
        .sender
        .send_message(&message(&foreign, READER))
        .await
        .unwrap_err();
    assert_eq!(
        error.error_code(),
        Some(ErrorCode::INVALID_PARAMETER_COMBINATION)
    );
    send(&world, READER).await;
}

#[tokio::test]
async fn technical_faults_and_downtime_are_transient() {
    let world = world().await;
    world.sandbox.control.fail_next_requests(2);
    for _ in 0..2 {
        let error = world.reader.get_status_list(10).await.unwrap_err();
        assert_fault(
            &error,
            ExceptionKind::TechnicalProblem,
            ErrorCode::INTERNAL_ERROR,
        );
        assert!(error.is_transient() && !error.is_permanent_for_account());
    }
    world.reader.get_status_list(10).await.unwrap();

    world.sandbox.control.go_down_for(Duration::from_secs(60));
    let error = world.reader.get_status_list(10).await.unwrap_err();
    assert!(
        matches!(error, XtaError::Status { status: 503, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    world.sandbox.control.come_back();
    world.reader.get_status_list(10).await.unwrap();
}

#[tokio::test]
async fn a_wrong_endpoint_and_an_unreachable_server() {
    let world = world().await;
    let mut config = config(&world.sandbox, &certificates().reader, Some(READER));
    config.endpoints.msg_box = format!("{}/nowhere", world.sandbox.base_url);
    let error = amtsbote_xta::XtaClient::new(config)
        .unwrap()
        .get_status_list(1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, XtaError::Status { status: 404, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("endpoint URL"));

    let mut config = config_for_closed_port();
    config.connect_timeout = Duration::from_secs(2);
    let error = amtsbote_xta::XtaClient::new(config)
        .unwrap()
        .check_account_active()
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
}

fn config_for_closed_port() -> amtsbote_xta::ClientConfig {
    // Bind and drop a listener to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    amtsbote_xta::ClientConfig::new(amtsbote_xta::client::Endpoints::from_base(&format!(
        "https://127.0.0.1:{port}"
    )))
}

#[tokio::test]
async fn the_default_limit_is_40_mib() {
    let world = world().await;
    let mut big = message("urn:x:over-40", READER);
    let content = big.container.content_bytes() as usize;
    big.container.attachments[0].data =
        tricky_bytes(40 * 1024 * 1024 - content + 70_000 + 1).into();
    assert_eq!(big.container.content_bytes(), 40 * 1024 * 1024 + 1);
    let started = std::time::Instant::now();
    let error = world.sender.send_message(&big).await.unwrap_err();
    assert_fault(
        &error,
        ExceptionKind::ParameterIsNotValid,
        ErrorCode::MESSAGE_TOO_LARGE,
    );
    eprintln!("40 MiB + 1 byte refused after {:?}", started.elapsed());
}
