//! Reading a mailbox end to end over mutual TLS on 127.0.0.1: a sender hands messages to the
//! sandbox through the SendPort, the reader lists, fetches and closes them through the
//! MsgBoxPort — the loop amtsbote's inbound adapter runs — in MTOM and inline-base64 variants,
//! with paging, and with the management operations around it.

mod common;

use amtsbote_xta::ErrorCode;
use amtsbote_xta::PartyIdentifier;
use amtsbote_xta::management::{Availability, ReportStatus, ServiceQuery};
use amtsbote_xta::msgbox::{
    ListForm, MsgBoxState, MsgSelector, REASON_NO_MATCH, REASON_REQUEST_ID_INVALID,
    StatusListRequest,
};
use amtsbote_xta::mtom::ContentEncoding;
use common::*;

#[tokio::test]
async fn send_list_fetch_and_close_with_attachments() {
    let world = world().await;
    world.reader.check_account_active().await.unwrap();
    let id = world.sender.create_message_id().await.unwrap();
    assert!(id.starts_with("urn:de:xta:messageid:"));
    let sent = message(&id, READER);
    world.sender.send_message(&sent).await.unwrap();

    // Listed with its metadata, nothing pending beyond it.
    let list = world.reader.get_status_list(10).await.unwrap();
    assert_eq!(list.messages.len(), 1);
    assert_eq!(list.items_pending(), 0);
    let listed = &list.messages[0];
    assert_eq!(listed.message_id, id);
    assert_eq!(listed.author.value, SENDER);
    assert_eq!(listed.reader.value, READER);
    assert_eq!(listed.qualifier, sent.metadata.qualifier);
    assert_eq!(listed.msg_size, Some(sent.container.content_bytes()));
    assert!(listed.delivery.delivery.is_some());

    // Fetched with content and attachments intact, as often as needed until closed.
    for round in 1..=2 {
        let fetched = world.reader.get_message(&id).await.unwrap();
        assert_eq!(fetched.container, sent.container, "round {round}");
        let metadata = fetched.metadata.expect("MessageMetaData header");
        assert_eq!(metadata.message_id, id);
        assert!(metadata.delivery.initial_fetch.is_some());
        let still = world.reader.get_status_list(10).await.unwrap();
        assert_eq!(still.messages.len(), 1, "not closed, so still listed");
    }

    // Close: gone from the list, no longer fetchable, reported green to the sender.
    world
        .reader
        .close(list.request_id(), &[id.as_str()])
        .await
        .unwrap();
    let after = world.reader.get_status_list(10).await.unwrap();
    assert!(after.messages.is_empty());
    assert!(matches!(
        after.response.unwrap().state,
        MsgBoxState::NoMessageAvailable { ref reason } if reason == REASON_NO_MATCH
    ));
    let gone = world.reader.get_message(&id).await.unwrap_err();
    assert_eq!(gone.error_code(), Some(ErrorCode::UNKNOWN_MESSAGE_ID));
    // A repeated close (its answer got lost, say) is harmless.
    world.reader.close(None, &[id.as_str()]).await.unwrap();

    let report = world.sender.get_transport_report(&id).await.unwrap();
    assert_eq!(report.status, ReportStatus::Green);
    let codes: Vec<_> = report.infos.iter().map(|r| r.code.code.as_str()).collect();
    assert_eq!(codes, ["DELIVERED", "FETCHED", "CLOSED"]);
    let entry = &world.sandbox.control.mailbox(READER)[0];
    assert!(entry.closed);
    assert_eq!(entry.fetch_count, 2);
}

#[tokio::test]
async fn mtom_and_inline_base64_in_every_combination() {
    let world = world().await;
    for client_encoding in [ContentEncoding::Mtom, ContentEncoding::Inline] {
        for server_encoding in [ContentEncoding::Mtom, ContentEncoding::Inline] {
            world.sandbox.control.set_response_encoding(server_encoding);
            world.sandbox.control.start_recording();
            let sender = with_encoding(&world.sender, client_encoding);
            let reader = with_encoding(&world.reader, client_encoding);
            let id = sender.create_message_id().await.unwrap();
            let sent = message(&id, READER);
            sender.send_message(&sent).await.unwrap();
            let fetched = reader.get_message(&id).await.unwrap();
            assert_eq!(
                fetched.container, sent.container,
                "client {client_encoding:?}, server {server_encoding:?}"
            );
            reader.close(None, &[id.as_str()]).await.unwrap();

            let recording = world.sandbox.control.take_recording();
            assert_eq!(recording.len(), 4);
            for exchange in &recording {
                let (request_mtom, response_mtom) = (
                    exchange
                        .request_content_type
                        .starts_with("multipart/related"),
                    exchange
                        .response_content_type
                        .starts_with("multipart/related"),
                );
                assert_eq!(request_mtom, client_encoding == ContentEncoding::Mtom);
                assert_eq!(response_mtom, server_encoding == ContentEncoding::Mtom);
            }
            // Inline really is inline: the fetch answer has no XOP reference.
            let fetch = &recording[2].response_body;
            let has_include = fetch.windows(11).any(|w| w == b"xop:Include");
            assert_eq!(has_include, server_encoding == ContentEncoding::Mtom);
        }
    }
}

#[tokio::test]
async fn paging_through_more_messages_than_max_list_items() {
    let world = world().await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(send(&world, READER).await);
    }
    let first = world.reader.get_status_list(3).await.unwrap();
    let listed = |page: &amtsbote_xta::msgbox::StatusList| -> Vec<String> {
        page.messages.iter().map(|m| m.message_id.clone()).collect()
    };
    assert_eq!(listed(&first), ids[0..3]);
    assert_eq!(first.items_pending(), 4);
    let request_id = first.request_id().unwrap().to_string();

    // Closing what was received so far does not disturb the iterator.
    let received: Vec<&str> = ids[0..3].iter().map(String::as_str).collect();
    world.reader.close(None, &received).await.unwrap();

    let second = world
        .reader
        .get_next_status_list(&request_id)
        .await
        .unwrap();
    assert_eq!(listed(&second), ids[3..6]);
    assert_eq!(second.items_pending(), 1);
    let third = world
        .reader
        .get_next_status_list(&request_id)
        .await
        .unwrap();
    assert_eq!(listed(&third), ids[6..7]);
    assert_eq!(third.items_pending(), 0);
    let done = world
        .reader
        .get_next_status_list(&request_id)
        .await
        .unwrap();
    assert!(done.messages.is_empty());
    assert!(matches!(
        done.response.unwrap().state,
        MsgBoxState::NoMessageAvailable { ref reason } if reason == REASON_NO_MATCH
    ));
    let unknown = world
        .reader
        .get_next_status_list("urn:uuid:nope")
        .await
        .unwrap();
    assert!(matches!(
        unknown.response.unwrap().state,
        MsgBoxState::NoMessageAvailable { ref reason } if reason == REASON_REQUEST_ID_INVALID
    ));

    // The whole mailbox in one call: the four not closed, in delivery order.
    let all = world.reader.list_mailbox(3).await.unwrap();
    let all: Vec<_> = all.into_iter().map(|m| m.message_id).collect();
    assert_eq!(all, ids[3..7]);
}

#[tokio::test]
async fn the_author_header_selects_the_mailbox_and_selectors_filter() {
    let world = world().await;
    let first = send(&world, READER).await;
    let second = send(&world, READER_2).await;
    let both = world.reader.with_author(PartyIdentifier::xoev(READER_2));
    let list = both.get_status_list(10).await.unwrap();
    assert_eq!(list.messages.len(), 1);
    assert_eq!(list.messages[0].message_id, second);
    // Without Author header the account sees all its mailboxes.
    let mut config = world.reader.config().clone();
    config.author = None;
    let any = amtsbote_xta::XtaClient::new(config).unwrap();
    assert_eq!(any.list_mailbox(10).await.unwrap().len(), 2);

    // Selector by MessageID, attribute form, only new entries.
    let request = StatusListRequest {
        max_list_items: Some(5),
        list_form: Some(ListForm::MsgAttributes),
        selector: Some(MsgSelector {
            new_entry: Some(true),
            ..MsgSelector::message(first.clone())
        }),
    };
    let attrs = world.reader.get_status_list_with(&request).await.unwrap();
    assert!(attrs.messages.is_empty());
    assert_eq!(attrs.attributes.len(), 1);
    assert_eq!(attrs.attributes[0].message_id, first);
    assert_eq!(attrs.attributes[0].type_of_business_scenario, "XDOMEA_DATA");
    world.reader.get_message(&first).await.unwrap();
    let again = world.reader.get_status_list_with(&request).await.unwrap();
    assert!(again.attributes.is_empty(), "fetched, so no longer new");
}

#[tokio::test]
async fn management_operations() {
    let world = world().await;
    let a = world.sender.create_message_id().await.unwrap();
    let b = world.sender.create_message_id().await.unwrap();
    assert_ne!(a, b);
    let answers = world
        .sender
        .lookup_service(&[
            ServiceQuery {
                reader: PartyIdentifier::xoev(READER),
                service: SERVICE.into(),
            },
            ServiceQuery {
                reader: PartyIdentifier::xoev("ags:99999999"),
                service: SERVICE.into(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0].availability, Availability::Available);
    assert_eq!(answers[1].availability, Availability::NotAvailable);

    let id = send(&world, READER).await;
    let report = world.reader.get_transport_report(&id).await.unwrap();
    assert_eq!(report.status, ReportStatus::Open);
    assert_eq!(report.metadata.message_id, id);
    assert_eq!(report.server_identity, world.sandbox.base_url);
}

#[tokio::test]
async fn a_large_message_round_trips() {
    let world = world().await;
    let id = world.sender.create_message_id().await.unwrap();
    let mut big = message(&id, READER);
    big.container.attachments[0].data = tricky_bytes(12 * 1024 * 1024).into();
    world.sender.send_message(&big).await.unwrap();
    for encoding in [ContentEncoding::Mtom, ContentEncoding::Inline] {
        world.sandbox.control.set_response_encoding(encoding);
        let fetched = world.reader.get_message(&id).await.unwrap();
        assert_eq!(fetched.container, big.container, "{encoding:?}");
    }
}

/// The sandbox answers its configured paths and, alongside, the Governikus and the
/// WSDL-named (`/services/XTAService/…`) layouts: a client configured for any of them sends,
/// lists and checks its account; paths it does not serve get 404.
#[tokio::test]
async fn every_port_answers_on_its_configured_and_both_common_paths() {
    use amtsbote_xta::XtaClient;
    use amtsbote_xta::client::Endpoints;
    use amtsbote_xta::sandbox::PortPaths;
    let custom = PortPaths {
        management: "/xta/management".into(),
        send: "/xta/send".into(),
        msg_box: "/xta/msgbox".into(),
    };
    let world = world_with(|c| {
        c.paths = custom.clone();
        c.also_paths = vec![PortPaths::default(), PortPaths::xta_service()];
    })
    .await;
    let base = world.sandbox.base_url.clone();
    assert_eq!(
        world.sandbox.endpoints.msg_box,
        format!("{base}/xta/msgbox"),
        "the first layout is the one announced"
    );
    let certs = certificates();
    let layouts = [
        ("custom", custom),
        ("governikus", PortPaths::default()),
        ("services", PortPaths::xta_service()),
    ];
    for (name, paths) in layouts {
        let endpoints = Endpoints {
            management: format!("{base}{}", paths.management),
            send: format!("{base}{}", paths.send),
            msg_box: format!("{base}{}", paths.msg_box),
        };
        let mut sender = config(&world.sandbox, &certs.sender, None);
        sender.endpoints = endpoints.clone();
        let sender = XtaClient::new(sender).unwrap();
        let mut reader = config(&world.sandbox, &certs.reader, Some(READER));
        reader.endpoints = endpoints;
        let reader = XtaClient::new(reader).unwrap();
        reader
            .check_account_active()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let id = sender.create_message_id().await.unwrap();
        sender
            .send_message(&message(&id, READER))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let list = reader.get_status_list(10).await.unwrap();
        assert!(list.messages.iter().any(|m| m.message_id == id), "{name}");
        reader
            .close(list.request_id(), &[id.as_str()])
            .await
            .unwrap();
    }
    assert_eq!(
        PortPaths::xta_service(),
        PortPaths {
            management: "/services/XTAService/ManagementPort".into(),
            send: "/services/XTAService/SendXtaPort".into(),
            msg_box: "/services/XTAService/MsgBoxPort".into(),
        },
        "named after the WSDL's service and ports"
    );
    // Another path is no port.
    let mut stray = config(&world.sandbox, &certs.reader, Some(READER));
    stray.endpoints.management = format!("{base}/services/XTAService/ManagementPortX");
    let err = XtaClient::new(stray)
        .unwrap()
        .check_account_active()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}

#[test]
fn a_path_given_to_two_ports_is_refused() {
    use amtsbote_xta::sandbox::{PortPaths, Sandbox, SandboxConfig, SandboxError};
    let mut config = SandboxConfig::new(certificates().pki.sandbox_tls().unwrap(), Vec::new());
    config.also_paths = vec![PortPaths {
        management: PortPaths::default().msg_box,
        ..PortPaths::xta_service()
    }];
    let err = Sandbox::new(config).unwrap_err();
    assert!(matches!(err, SandboxError::Config(_)), "{err}");
    assert!(err.to_string().contains("XTA210msgBoxPort.svc"), "{err}");
}

/// curl, not our client, reaches the ManagementPort on the WSDL-named path with a client
/// certificate and a hand-written SOAP 1.2 `checkAccountActive` request.
#[tokio::test]
async fn curl_checks_the_account_on_the_wsdl_named_path() {
    use amtsbote_xta::wsdl::{Operation, Port};
    let world = world().await;
    let certs = certificates();
    let dir = tempfile::tempdir().unwrap();
    certs.reader.write_to(dir.path()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), certs.pki.ca_pem()).unwrap();
    let url = format!(
        "{}{}",
        world.sandbox.base_url,
        Port::Management.service_path()
    );
    let action = Operation::CheckAccountActive.action();
    let envelope = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing"><s:Header><a:Action s:mustUnderstand="1">{action}</a:Action><a:MessageID>urn:uuid:6b1a3c36-5a0e-4d7e-9a39-3f1b0c6d2e11</a:MessageID><a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">{url}</a:To></s:Header><s:Body/></s:Envelope>"#
    );
    let run = |url: String| {
        let dir = dir.path().to_path_buf();
        let envelope = envelope.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new("curl")
                .args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
                .arg(dir.join("ca.pem"))
                .args(["--cert-type", "P12", "--cert"])
                .arg(format!("{}:{PASSWORD}", dir.join("reader.p12").display()))
                .args([
                    "-H",
                    &format!(
                        "Content-Type: application/soap+xml; charset=utf-8; action=\"{action}\""
                    ),
                    "--data-binary",
                    &envelope,
                    &url,
                ])
                .output()
                .expect("curl is installed (scripts/test.sh)")
        })
    };
    let out = run(url).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.ends_with("\n200"), "{text}");
    assert!(
        text.contains(action),
        "the answer names the operation: {text}"
    );
    let out = run(format!(
        "{}/services/XTAService/Nothing",
        world.sandbox.base_url
    ))
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("\n404"));
}
