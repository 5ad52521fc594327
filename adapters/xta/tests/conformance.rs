//! Schema conformance, offline: every SOAP message that the client and the sandbox put on the
//! wire in a full session — all implemented operations, requests and answers, MTOM and inline,
//! XTA faults and plain SOAP faults — validates against the XTA schemas shipped in
//! `schemas/` (XTA-Webservice v3/v4, OSCI 2.02, OSCI MessageMetaData 2.02, WS-Addressing,
//! SOAP 1.2), with amtsbote-xoev's libxml2 validator.
//!
//! Two checks per message, after MTOM packages are turned back into one document (XOP parts
//! inlined as base64, the form the XSDs describe):
//! 1. the whole envelope against the SOAP 1.2 schema, whose lax `Header`/`Body` wildcards
//!    validate every element the other schemas declare;
//! 2. every header block, body element and fault detail entry on its own, strictly, against
//!    the schema of its namespace — so that an element the schemas do not declare at all (which
//!    a lax wildcard would let pass) fails too.

mod common;

use std::collections::HashSet;
use std::path::Path;

use amtsbote_xoev::validate::{SchemaPack, Validation, Validator};
use amtsbote_xta::PartyIdentifier;
use amtsbote_xta::client::XtaError;
use amtsbote_xta::management::ServiceQuery;
use amtsbote_xta::metadata::{KeyCode, ProcessRef, Property, ReceiptRequests};
use amtsbote_xta::msgbox::{ListForm, MsgSelector, StatusListRequest};
use amtsbote_xta::mtom::{ContentEncoding, Received, inline_xop};
use amtsbote_xta::sandbox::RecordedExchange;
use amtsbote_xta::wsdl::{NS_OSCI, NS_OSCIMETA, NS_SOAP12, NS_WSA, NS_XTA, Operation};
use amtsbote_xta::xml::{Element, XmlLimits, parse};
use common::*;

fn validator() -> Validator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let pack = |name: &str, namespace: &str, entry: &str| SchemaPack {
        name: name.into(),
        namespace: namespace.into(),
        entry: entry.into(),
        dir: dir.clone(),
        catalog: Some("catalog.xml".into()),
    };
    Validator::from_packs(&[
        pack("soap-1.2", NS_SOAP12, "entry-soap-envelope.xsd"),
        pack("xta-211", NS_XTA, "entry-xta.xsd"),
        pack("osci-2.02", NS_OSCI, "OSCI2_02.xsd"),
        pack(
            "oscimeta-2.02",
            NS_OSCIMETA,
            "OSCI_MessageMetaData_V2.02.xsd",
        ),
        pack("ws-addressing", NS_WSA, "ws-addr.xsd"),
    ])
    .expect("the XTA schemas compile")
}

/// A message whose metadata uses every optional part.
fn rich_message(id: &str) -> amtsbote_xta::client::OutgoingMessage {
    let mut m = message(id, READER);
    let md = &mut m.metadata;
    md.test_msg = true;
    md.delivery.origin = Some("2026-05-04T08:15:00+02:00".into());
    md.delivery.obsolete_after = Some("2026-12-31".into());
    md.delivery.service_quality = Some("standard".into());
    md.delivery.receipt_requests = Some(ReceiptRequests {
        delivery: true,
        fetch: true,
        receipt_to: Some("https://example.org/receipts".into()),
        ..Default::default()
    });
    md.sender = Some(PartyIdentifier::xoev("dvdv:sender-node"));
    md.reply_to = Some(PartyIdentifier::xoev(SENDER));
    md.other_readers = vec![PartyIdentifier::xoev(OTHER)];
    md.cc_readers = vec![PartyIdentifier::xoev(READER_2)];
    md.in_reply_to = vec!["urn:de:xta:messageid:earlier".into()];
    md.process_ref = Some(ProcessRef {
        requester: Some("AZ 12-34/2026".into()),
        responder: None,
    });
    md.properties = vec![Property {
        key: KeyCode::new("Aktenzeichen", "urn:example:properties", "1"),
        value: "12-34".into(),
    }];
    m.container.message.id = Some("1".into());
    m.container.message.lang = Some("de".into());
    m.container.message.size = Some(m.container.message.data.len() as u64);
    m
}

/// One session that uses every implemented operation and provokes the faults.
async fn session(world: &World, encoding: ContentEncoding) {
    world.sandbox.control.set_response_encoding(encoding);
    let sender = with_encoding(&world.sender, encoding);
    let reader = with_encoding(&world.reader, encoding);
    let other = with_encoding(&world.other, encoding);

    reader.check_account_active().await.unwrap();
    sender
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
    let first = sender.create_message_id().await.unwrap();
    sender.send_message(&rich_message(&first)).await.unwrap();
    let second = sender.create_message_id().await.unwrap();
    sender
        .send_message(&message(&second, READER))
        .await
        .unwrap();

    let page = reader.get_status_list(1).await.unwrap();
    let iterator = page.request_id().unwrap().to_string();
    reader.get_next_status_list(&iterator).await.unwrap();
    reader.get_next_status_list(&iterator).await.unwrap(); // NoMessageAvailable
    reader
        .get_status_list_with(&StatusListRequest {
            max_list_items: Some(10),
            list_form: Some(ListForm::MsgAttributes),
            selector: Some(MsgSelector {
                message_ids: vec![first.clone(), second.clone()],
                relates_to: vec!["urn:de:xta:messageid:earlier".into()],
                entry_time_from: Some("2000-01-01T00:00:00Z".into()),
                entry_time_to: Some("2100-01-01T00:00:00Z".into()),
                new_entry: Some(false),
            }),
        })
        .await
        .unwrap();
    reader.get_message(&first).await.unwrap();
    reader.get_transport_report(&first).await.unwrap();
    reader
        .close(Some(&iterator), &[first.as_str(), second.as_str()])
        .await
        .unwrap();
    sender.get_transport_report(&first).await.unwrap();

    // Faults.
    let expect_fault = |r: Result<_, XtaError>| {
        let e = r.unwrap_err();
        assert!(
            matches!(e, XtaError::Fault { .. } | XtaError::SoapFault { .. }),
            "{e:?}"
        );
    };
    expect_fault(reader.get_message("urn:x:unknown").await.map(|_| ()));
    expect_fault(
        other
            .with_author(PartyIdentifier::xoev(READER))
            .get_status_list(5)
            .await
            .map(|_| ()),
    );
    expect_fault(sender.send_message(&message(&first, READER)).await);
    world.sandbox.control.fail_next_requests(1);
    expect_fault(reader.check_account_active().await);
    world.sandbox.control.set_max_message_bytes(1000);
    expect_fault(sender.send_message(&message("urn:x:big", READER)).await);
    world
        .sandbox
        .control
        .set_max_message_bytes(amtsbote_xta::sandbox::DEFAULT_MAX_MESSAGE_BYTES);
    let mut stranger = with_encoding(
        &client(&world.sandbox, &certificates().stranger, None),
        encoding,
    );
    expect_fault(stranger.check_account_active().await);
    // The MsgBox action at the management port: a plain SOAP fault with a subcode.
    let mut config = reader.config().clone();
    config.endpoints.msg_box = config.endpoints.management.clone();
    stranger = amtsbote_xta::XtaClient::new(config).unwrap();
    expect_fault(stranger.get_status_list(1).await.map(|_| ()));
}

#[tokio::test]
async fn every_message_on_the_wire_conforms_to_the_xta_schemas() {
    let validator = validator();
    let world = world().await;
    let mut seen_operations = HashSet::new();
    let mut validated = 0;
    for encoding in [ContentEncoding::Mtom, ContentEncoding::Inline] {
        world.sandbox.control.start_recording();
        session(&world, encoding).await;
        let recording = world.sandbox.control.take_recording();
        assert!(recording.len() >= 20, "{}", recording.len());
        for exchange in &recording {
            if let Some(op) = exchange.operation {
                seen_operations.insert(op);
            }
            validated += check_exchange(&validator, exchange);
        }
    }
    for op in [
        Operation::CheckAccountActive,
        Operation::CreateMessageId,
        Operation::LookupService,
        Operation::GetTransportReport,
        Operation::SendMessage,
        Operation::GetStatusList,
        Operation::GetNextStatusList,
        Operation::GetMessage,
        Operation::Close,
    ] {
        assert!(seen_operations.contains(&op), "{op} not exercised");
    }
    assert!(validated > 150, "only {validated} documents validated");
}

/// Validates request and answer of one exchange; returns how many documents were validated.
fn check_exchange(validator: &Validator, exchange: &RecordedExchange) -> usize {
    let mut count = 0;
    for (what, content_type, body) in [
        (
            "request",
            &exchange.request_content_type,
            &exchange.request_body,
        ),
        (
            "response",
            &exchange.response_content_type,
            &exchange.response_body,
        ),
    ] {
        let context = format!("{:?} {what}", exchange.operation);
        let received = Received::from_http(content_type, body.clone()).unwrap();
        let xml = inline_xop(&received).unwrap();
        assert!(
            !String::from_utf8_lossy(&xml).contains("xop:Include"),
            "{context}: XOP left after inlining"
        );
        expect_valid(validator, &xml, &format!("{context}, whole envelope"));
        count += 1;
        for (name, doc) in standalone_parts(&xml) {
            expect_valid(validator, &doc, &format!("{context}, {name}"));
            count += 1;
        }
    }
    count
}

fn expect_valid(validator: &Validator, xml: &[u8], context: &str) {
    match validator.validate(xml) {
        Ok(Validation::Valid { .. }) => {}
        Ok(other) => panic!(
            "{context}: {other:#?}\n{}",
            String::from_utf8_lossy(&xml[..xml.len().min(4000)])
        ),
        Err(e) => panic!("{context}: {e}"),
    }
}

/// Every header block, body element and fault detail entry as a document of its own, with the
/// envelope's namespace declarations copied onto its root.
fn standalone_parts(xml: &[u8]) -> Vec<(String, Vec<u8>)> {
    let root = parse(xml, &XmlLimits::default()).unwrap();
    let start_tag_end = xml[root.offset as usize..]
        .iter()
        .position(|b| *b == b'>')
        .unwrap()
        + root.offset as usize;
    let start_tag = std::str::from_utf8(&xml[root.offset as usize..start_tag_end]).unwrap();
    let declarations: String = start_tag
        .split_whitespace()
        .filter(|a| a.starts_with("xmlns:"))
        .map(|a| format!(" {}", a.trim_end_matches('/')))
        .collect();
    let mut parts: Vec<&Element<'_>> = Vec::new();
    for section in ["Header", "Body"] {
        if let Some(s) = root.child(NS_SOAP12, section) {
            parts.extend(s.elements());
        }
    }
    if let Some(detail) = root
        .child(NS_SOAP12, "Body")
        .and_then(|b| b.child(NS_SOAP12, "Fault"))
        .and_then(|f| f.child(NS_SOAP12, "Detail"))
    {
        parts.extend(detail.elements());
    }
    parts
        .into_iter()
        .map(|el| {
            let raw =
                std::str::from_utf8(&xml[el.offset as usize..el.end_offset as usize]).unwrap();
            let name_end = raw
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap();
            let doc = format!("{}{declarations}{}", &raw[..name_end], &raw[name_end..]);
            (el.local.clone(), doc.into_bytes())
        })
        .collect()
}

/// The check itself is sharp: deviations in the envelope, in a header block, in content and
/// undeclared elements are all caught.
#[test]
fn the_validator_catches_deviations() {
    let validator = validator();
    let envelope = |header: &str, body: &str| {
        format!(
            r#"<env:Envelope xmlns:env="{NS_SOAP12}" xmlns:wsa="{NS_WSA}" xmlns:xta="{NS_XTA}" xmlns:osci="{NS_OSCI}" xmlns:oscimeta="{NS_OSCIMETA}"><env:Header><wsa:Action>urn:a</wsa:Action>{header}</env:Header><env:Body>{body}</env:Body></env:Envelope>"#
        )
    };
    let valid = envelope(
        r#"<oscimeta:Author><oscimeta:Identifier type="xoev">ags:1</oscimeta:Identifier></oscimeta:Author>"#,
        r#"<osci:MsgBoxStatusListRequest maxListItems="5" ListForm="MessageMetaData"/>"#,
    );
    expect_valid(&validator, valid.as_bytes(), "the valid baseline");
    for (header, body, what) in [
        (
            "",
            r#"<osci:MsgBoxStatusListRequest maxListItems="0"/>"#,
            "maxListItems must be positive",
        ),
        (
            r#"<oscimeta:Author><oscimeta:Identifier>ags:1</oscimeta:Identifier></oscimeta:Author>"#,
            "",
            "Identifier needs @type",
        ),
        (
            "",
            r#"<xta:GenericContentContainer><xta:ContentContainer><xta:Message>aGk=</xta:Message></xta:ContentContainer></xta:GenericContentContainer>"#,
            "contentType is mandatory",
        ),
        (
            "",
            r#"<osci:MsgBoxCloseRequest><osci:LastMsgReceived>urn:x</osci:LastMsgReceived></osci:MsgBoxCloseRequest>"#,
            "MsgBoxRequestID is mandatory",
        ),
    ] {
        let doc = envelope(header, body);
        let whole = validator.validate(doc.as_bytes()).unwrap();
        let parts_valid = standalone_parts(doc.as_bytes())
            .iter()
            .all(|(_, d)| validator.validate(d).unwrap().is_valid());
        assert!(!whole.is_valid() && !parts_valid, "{what}: not caught");
    }
    // An element no schema declares passes the lax wildcard, but not the strict part check.
    let undeclared = envelope("", "<xta:NoSuchElement/>");
    assert!(
        validator
            .validate(undeclared.as_bytes())
            .unwrap()
            .is_valid()
    );
    let parts = standalone_parts(undeclared.as_bytes());
    assert!(!validator.validate(&parts[1].1).unwrap().is_valid());
}
