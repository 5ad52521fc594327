//! The world the integration tests run in: a test PKI, a sandbox XTA server on 127.0.0.1 with
//! mutual TLS, and clients for three accounts — a sender (authority `ags:09162000`), a reader
//! (mailbox `ags:12052000`, plus a second mailbox `ags:12052001`) and another reader
//! (`ags:05315000`) that must not see the first reader's mail.

#![allow(dead_code)]

use std::sync::OnceLock;

use amtsbote_xta::client::{ClientConfig, OutgoingMessage, TrustAnchors};
use amtsbote_xta::metadata::{BusinessScenario, KeyCode, MessageType, Qualifier};
use amtsbote_xta::mtom::ContentEncoding;
use amtsbote_xta::pki::{ClientCertificate, ClientValidity, KeyKind, TestPki};
use amtsbote_xta::sandbox::{AccountConfig, RunningSandbox, Sandbox, SandboxConfig};
use amtsbote_xta::{Content, ContentContainer, MessageMetaData, PartyIdentifier, XtaClient};

pub const PASSWORD: &str = "sandbox-Kennwort";
pub const SENDER: &str = "ags:09162000";
pub const READER: &str = "ags:12052000";
pub const READER_2: &str = "ags:12052001";
pub const OTHER: &str = "ags:05315000";
pub const SERVICE: &str = "urn:xoev-de:xdomea:schema:xdomea_3.0.0";

/// Certificates are issued once per test binary (key generation is the slow part).
pub struct Certificates {
    pub pki: TestPki,
    pub sender: ClientCertificate,
    pub reader: ClientCertificate,
    pub other: ClientCertificate,
    /// Issued by the sandbox CA, but no account is bound to it.
    pub stranger: ClientCertificate,
    /// The reader's name, but expired.
    pub expired: ClientCertificate,
    /// From another CA.
    pub foreign: ClientCertificate,
}

pub fn certificates() -> &'static Certificates {
    static CERTS: OnceLock<Certificates> = OnceLock::new();
    CERTS.get_or_init(|| {
        let pki = TestPki::generate().unwrap();
        let issue = |name: &str, validity| {
            pki.issue_client(name, PASSWORD, KeyKind::EcP256, validity)
                .unwrap()
        };
        let sender = issue("sender", ClientValidity::days(30));
        // One RSA certificate, as XTA providers issue them.
        let reader = pki
            .issue_client(
                "reader",
                PASSWORD,
                KeyKind::Rsa2048,
                ClientValidity::days(30),
            )
            .unwrap();
        let other = issue("other", ClientValidity::days(30));
        let stranger = issue("stranger", ClientValidity::days(30));
        let expired = issue("reader-expired", ClientValidity::expired());
        let foreign = TestPki::generate()
            .unwrap()
            .issue_client(
                "reader",
                PASSWORD,
                KeyKind::EcP256,
                ClientValidity::days(30),
            )
            .unwrap();
        Certificates {
            pki,
            sender,
            reader,
            other,
            stranger,
            expired,
            foreign,
        }
    })
}

pub struct World {
    pub sandbox: RunningSandbox,
    pub sender: XtaClient,
    pub reader: XtaClient,
    pub other: XtaClient,
}

pub async fn world() -> World {
    world_with(|_| {}).await
}

pub async fn world_with(configure: impl FnOnce(&mut SandboxConfig)) -> World {
    let certs = certificates();
    let accounts = vec![
        AccountConfig::for_certificate(
            "sender",
            &certs.sender,
            vec![PartyIdentifier::xoev(SENDER)],
        ),
        AccountConfig::for_certificate(
            "reader",
            &certs.reader,
            vec![
                PartyIdentifier::xoev(READER),
                PartyIdentifier::xoev(READER_2),
            ],
        ),
        AccountConfig::for_certificate("other", &certs.other, vec![PartyIdentifier::xoev(OTHER)]),
    ];
    let mut config = SandboxConfig::new(certs.pki.sandbox_tls().unwrap(), accounts);
    configure(&mut config);
    let sandbox = Sandbox::new(config)
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    World {
        sender: client(&sandbox, &certs.sender, None),
        reader: client(&sandbox, &certs.reader, Some(READER)),
        other: client(&sandbox, &certs.other, Some(OTHER)),
        sandbox,
    }
}

pub fn config(
    sandbox: &RunningSandbox,
    cert: &ClientCertificate,
    author: Option<&str>,
) -> ClientConfig {
    let mut config = ClientConfig::new(sandbox.endpoints.clone());
    config.identity = Some(cert.identity(PASSWORD).unwrap());
    config.trust = Some(TrustAnchors::from_pem(&certificates().pki.ca_pem()).unwrap());
    config.builtin_roots = false;
    config.author = author.map(PartyIdentifier::xoev);
    config
}

pub fn client(
    sandbox: &RunningSandbox,
    cert: &ClientCertificate,
    author: Option<&str>,
) -> XtaClient {
    XtaClient::new(config(sandbox, cert, author)).unwrap()
}

pub fn with_encoding(client: &XtaClient, encoding: ContentEncoding) -> XtaClient {
    let mut config = client.config().clone();
    config.encoding = encoding;
    XtaClient::new(config).unwrap()
}

pub fn qualifier() -> Qualifier {
    Qualifier {
        subject: Some("Abgabe".into()),
        service: SERVICE.into(),
        business_scenario: BusinessScenario::Defined(KeyCode::new(
            "XDOMEA_DATA",
            "urn:de:dataport:codeliste:business.scenario",
            "1",
        )),
        message_type: MessageType {
            code: KeyCode::new("0401", "urn:xoev-de:xdomea:codeliste:nachrichtentyp", "3.0"),
            payload_schema: "urn:xoev-de:xdomea:schema:3.0.0".into(),
        },
    }
}

/// A binary attachment whose bytes look like MIME syntax, to catch packaging mistakes.
pub fn tricky_bytes(len: usize) -> Vec<u8> {
    let pattern = b"\r\n--uuid:boundary\r\nContent-Type: x\r\n\r\n\x00\xff<xop:Include/>&amp;";
    pattern.iter().copied().cycle().take(len).collect()
}

pub fn message(message_id: &str, reader: &str) -> OutgoingMessage {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xdomea:Abgabe.Abgabe.0401 xmlns:xdomea=\"urn:xoev-de:xdomea:schema:3.0.0\"><id>{message_id}</id></xdomea:Abgabe.Abgabe.0401>"
    );
    OutgoingMessage {
        metadata: MessageMetaData::new(
            message_id,
            PartyIdentifier::xoev(SENDER),
            PartyIdentifier::xoev(reader),
            qualifier(),
        ),
        container: ContentContainer::new(
            Content::new(xml.into_bytes(), "text/xml")
                .with_filename("abgabe.xml")
                .with_encoding("UTF-8"),
        )
        .with_attachment(
            Content::new(tricky_bytes(70_000), "application/pdf")
                .with_filename("anlage.pdf")
                .with_description("Anlage"),
        )
        .with_attachment(Content::new(&b"Hallo"[..], "text/plain").with_encoding("UTF-8")),
    }
}

/// Sends a message from the sender to `reader` with a server-issued MessageID.
pub async fn send(world: &World, reader: &str) -> String {
    let id = world.sender.create_message_id().await.unwrap();
    world
        .sender
        .send_message(&message(&id, reader))
        .await
        .unwrap();
    id
}
