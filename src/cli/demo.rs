//! `amtsbote demo`: the whole flow on one machine in a minute.
//!
//! Starts a broker on embedded defaults in a temporary directory, a sample Fachverfahren that
//! answers `503` to the first attempt of some messages (so retries show), and sends the sample
//! applications from `examples/messages/` (compiled in) through HTTP intake — one with a PDF
//! attachment, one twice to show deduplication. Bauanträge arrive over a sandbox FIT-Connect
//! Zustelldienst, and an xdomea Aussonderung and a Gewerbeanmeldung wait in the XTA 2 mailbox
//! of Cottbus at a sandbox XTA server (mutual TLS, certificates made on the spot). Then it
//! waits and prints what happened.

use crate::broker;
use crate::config::{
    Config, ConnectorConfig, RetryConfig, RouteConfig, SecretRef, SourceConfig, TenantConfig,
    TestMessages,
};
use crate::ledger::MessageFilter;
use crate::message::{MessageId, State};
use crate::sandbox::fachverfahren::{Behaviour, SampleFachverfahren};
use crate::sandbox::fit_connect::{SandboxInfo, Setup, sender_client};
use crate::sandbox::xta;
use amtsbote_fit_connect::sandbox::RunningSandbox;
use amtsbote_fit_connect::sender::{self, Application, OutgoingAttachment, SendOptions};
use amtsbote_fit_connect::wire::ServiceType;
use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(ClapArgs)]
pub struct Args {
    /// Keep the broker and the sample Fachverfahren running after the demo (Ctrl-C to stop).
    #[arg(long)]
    keep_running: bool,
    /// Show the broker's log lines.
    #[arg(long, short)]
    verbose: bool,
    /// Give up waiting for deliveries after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// A sample application to send.
struct Sample {
    tenant: &'static str,
    file: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    attachment: Option<(&'static str, &'static [u8])>,
}

const SAMPLES: &[Sample] = &[
    Sample {
        tenant: "cottbus",
        file: "xgewerbeanzeige-2.2-gewerbemeldung.xml",
        content_type: "application/xml",
        body: include_bytes!("../../examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml"),
        attachment: None,
    },
    Sample {
        tenant: "cottbus",
        file: "hundesteuer-anmeldung.json",
        content_type: "application/json",
        body: include_bytes!("../../examples/messages/hundesteuer-anmeldung.json"),
        attachment: Some((
            "versicherungsnachweis.pdf",
            include_bytes!("../../examples/messages/versicherungsnachweis.pdf"),
        )),
    },
    Sample {
        tenant: "gesundheitsamt",
        file: "xwasser-1.0-pruefbericht.xml",
        content_type: "application/xml",
        body: include_bytes!("../../examples/messages/xwasser-1.0-pruefbericht.xml"),
        attachment: None,
    },
    Sample {
        tenant: "landesarchiv",
        file: "xdomea-4.0-aussonderung-0503.xml",
        content_type: "application/xml",
        body: include_bytes!("../../examples/messages/xdomea-4.0-aussonderung-0503.xml"),
        attachment: None,
    },
];

/// The API contracts of the sample Fachverfahren's endpoints: the mapping packs' targets.
fn contracts() -> Result<Vec<(String, serde_json::Value)>> {
    Ok(vec![
        (
            "gewerberegister".into(),
            serde_json::from_str(include_str!(
                "../../examples/mappings/xgewerbeanzeige-gewerberegister.target.schema.json"
            ))?,
        ),
        (
            "bauaufsicht".into(),
            serde_json::from_str(include_str!(
                "../../examples/mappings/xbau-bauantrag.target.schema.json"
            ))?,
        ),
    ])
}

/// Writes the mapping packs into the demo directory and declares them.
fn add_mappings(c: &mut Config, dir: &std::path::Path) -> Result<()> {
    let mappings = super::samples::write_mappings(dir)?;
    for (id, file) in [
        ("gewerberegister", "xgewerbeanzeige-gewerberegister.toml"),
        ("bauantrag", "xbau-bauantrag.toml"),
        ("aussonderung-dms", "xdomea-aussonderung-dms.toml"),
    ] {
        c.mappings.insert(
            id.into(),
            crate::config::MappingConfig {
                file: mappings.join(file),
            },
        );
    }
    for route in &mut c.routes {
        route.mapping = match route.name.as_deref() {
            Some("gewerbeanmeldung") => Some("gewerberegister".into()),
            Some("aussonderung") => Some("aussonderung-dms".into()),
            _ => None,
        };
    }
    Ok(())
}

/// The FIT-Connect part of the demo: Bauanträge submitted by an online building-permit portal
/// through a sandbox Zustelldienst to the destination of the Cottbus building authority.
const BAUANTRAEGE: &[(&str, &[u8])] = &[
    (
        "xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml",
        include_bytes!(
            "../../examples/messages/xbau-2.6-baugenehmigung-antrag-einfamilienhaus.xml"
        ),
    ),
    (
        "xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml",
        include_bytes!(
            "../../examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml"
        ),
    ),
];

/// Published demo keys (see examples/fit-connect/demo-keys/README.md), so the demo need not
/// spend seconds generating RSA-4096 keys.
const DEMO_KEYS: &[(&str, &str)] = &[
    (
        "encryption.private.jwk.json",
        include_str!("../../examples/fit-connect/demo-keys/destination-encryption.jwk.json"),
    ),
    (
        "signing.private.jwk.json",
        include_str!("../../examples/fit-connect/demo-keys/destination-signing.jwk.json"),
    ),
    (
        "zustelldienst.private.jwk.json",
        include_str!("../../examples/fit-connect/demo-keys/zustelldienst-signing.jwk.json"),
    ),
];

pub(super) async fn start_zustelldienst(dir: &std::path::Path) -> Result<(Setup, RunningSandbox)> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in DEMO_KEYS {
        std::fs::write(dir.join(name), text)?;
    }
    let setup = Setup::load_or_create(dir)?;
    let running = setup.start("127.0.0.1:0".parse()?, None).await?;
    Ok((setup, running))
}

/// Writes the FIT-Connect source of the demo into the configuration.
fn add_fit_connect(
    c: &mut Config,
    setup: &Setup,
    running: &RunningSandbox,
    fv: &SampleFachverfahren,
) -> Result<()> {
    let toml = setup
        .source_toml("cottbus", "bauportal", running)
        .replace("poll_interval = \"10s\"", "poll_interval = \"500ms\"");
    // The same text the sandbox prints for operators, read as the broker reads it.
    let table: toml::Table = toml::from_str(&toml)?;
    let source = crate::config::SourceConfig::deserialize(
        table["tenants"]["cottbus"]["sources"]["bauportal"].clone(),
    )?;
    let cottbus = c.tenants.get_mut("cottbus").expect("demo tenant");
    cottbus.sources.insert("bauportal".into(), source);
    cottbus.connectors.insert(
        "bauaufsicht".into(),
        ConnectorConfig::Http {
            url: fv.url("bauaufsicht/api/v2/antraege"),
            auth: None,
            timeout: Duration::from_secs(10),
            concurrency: 4,
            retry: RetryConfig {
                initial_delay: Duration::from_millis(300),
                ..Default::default()
            },
        },
    );
    cottbus.routes.push(RouteConfig {
        name: Some("bauantrag-online".into()),
        destination: Some(setup.destination_id.clone()),
        standard: Some("xbau".into()),
        test_messages: TestMessages::Include,
        mapping: Some("bauantrag".into()),
        connector: "bauaufsicht".into(),
        ..Default::default()
    });
    Ok(())
}

/// The XTA part of the demo: what waits in the XTA mailbox of Cottbus (reader
/// `ags:12052000`) at a sandbox XTA server, as the Kreis's Fachverfahren sent it.
const XTA_MAILBOX: &str = "ags:12052000";
const XTA_MESSAGES: &[(&str, &[u8], bool)] = &[
    (
        "xdomea-4.0-aussonderung-0503.xml",
        include_bytes!("../../examples/messages/xdomea-4.0-aussonderung-0503.xml"),
        true,
    ),
    (
        "xgewerbeanzeige-2.2-gewerbemeldung.xml",
        include_bytes!("../../examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml"),
        false,
    ),
];

/// Starts the sandbox XTA server (certificates in `dir`) and fills the mailbox of Cottbus.
/// Returns the XTA MessageIDs with their files.
async fn start_xta(
    dir: &std::path::Path,
) -> Result<(
    xta::Setup,
    amtsbote_xta::sandbox::RunningSandbox,
    Vec<(String, &'static str)>,
)> {
    let setup = xta::Setup::load_or_create(dir, &[format!("cottbus={XTA_MAILBOX}")])?;
    let running = setup.start("127.0.0.1:0".parse()?).await?;
    let mut ids = Vec::new();
    for (file, body, with_pdf) in XTA_MESSAGES {
        let attachments = if *with_pdf {
            vec![(
                "abgabeverzeichnis.pdf".to_string(),
                "application/pdf".to_string(),
                include_bytes!("../../examples/messages/versicherungsnachweis.pdf").to_vec(),
            )]
        } else {
            Vec::new()
        };
        let (metadata, container) =
            xta::sample_message(body, xta::SAMPLE_AUTHOR, XTA_MAILBOX, attachments)?;
        ids.push((metadata.message_id.clone(), *file));
        running.control.deliver(metadata, container)?;
    }
    Ok((setup, running, ids))
}

/// Writes the XTA source of the demo (the text `amtsbote sandbox xta` prints) into the
/// configuration.
fn add_xta(
    c: &mut Config,
    setup: &xta::Setup,
    running: &amtsbote_xta::sandbox::RunningSandbox,
) -> Result<()> {
    let toml = setup
        .source_toml("cottbus", "xta-postfach", "cottbus", XTA_MAILBOX, running)
        .replace("poll_interval = \"5s\"", "poll_interval = \"500ms\"");
    let table: toml::Table = toml::from_str(&toml)?;
    let source = crate::config::SourceConfig::deserialize(
        table["tenants"]["cottbus"]["sources"]["xta-postfach"].clone(),
    )?;
    c.tenants
        .get_mut("cottbus")
        .expect("demo tenant")
        .sources
        .insert("xta-postfach".into(), source);
    Ok(())
}

async fn submit_bauantraege(setup: &Setup) -> Result<Vec<(String, String)>> {
    let info: SandboxInfo =
        serde_json::from_slice(&std::fs::read(setup.dir.join("sandbox.json"))?)?;
    let client = sender_client(&info)?;
    let mut sent = Vec::new();
    for (file, body) in BAUANTRAEGE {
        let app = Application {
            destination_id: setup.destination_id.clone(),
            service_type: ServiceType {
                name: Some("Baugenehmigung".into()),
                identifier: "urn:de:fim:leika:leistung:99010003001000".into(),
            },
            data: body.to_vec(),
            data_mime_type: "application/xml".into(),
            data_schema_uri: "http://www.xleitstelle.de/xbau/2/6".into(),
            attachments: vec![OutgoingAttachment::new(
                include_bytes!("../../examples/messages/versicherungsnachweis.pdf").to_vec(),
                "application/pdf",
                Some("lageplan.pdf".into()),
            )],
        };
        let s = sender::send(&client, &app, &SendOptions::default()).await?;
        println!(
            "  submitted {file:<37} → FIT-Connect submission {}",
            s.submission_id
        );
        sent.push((s.submission_id, s.case_id));
    }
    Ok(sent)
}

fn demo_config(dir: &std::path::Path, fv: &SampleFachverfahren) -> Result<Config> {
    std::fs::write(
        dir.join("formserver.token"),
        uuid::Uuid::new_v4().to_string(),
    )?;
    // An operator token for the console and the admin API (printed with --keep-running).
    std::fs::write(
        dir.join("operator.token"),
        uuid::Uuid::new_v4().simple().to_string(),
    )?;
    let mut c = Config::default();
    c.admin.tokens.push(crate::config::admin::AdminTokenConfig {
        name: "demo".into(),
        role: crate::config::admin::AdminRole::Operator,
        token: SecretRef {
            file: Some(dir.join("operator.token")),
            env: None,
        },
    });
    c.server.listen = "127.0.0.1:0".parse()?;
    c.storage.data_dir = dir.join("data");
    // The demo's data dies with its temporary directory: an ephemeral key is right here only.
    c.storage.payload_key_file = Some(crate::at_rest::ephemeral_key_file(dir)?);
    c.queue.poll_interval = Duration::from_millis(100);
    let tenant = |name: &str, ags: Option<&str>| TenantConfig {
        name: name.into(),
        ags: ags.map(str::to_string),
        ..Default::default()
    };
    c.tenants
        .insert("cottbus".into(), tenant("Stadt Cottbus", Some("12052000")));
    c.tenants.insert(
        "gesundheitsamt".into(),
        tenant("Gesundheitsamt Beispielkreis", None),
    );
    c.tenants.insert(
        "landesarchiv".into(),
        tenant("Landesarchiv Nordrhein-Westfalen", None),
    );
    c.sources.insert(
        "formserver".into(),
        SourceConfig::Http {
            token: SecretRef {
                file: Some(dir.join("formserver.token")),
                env: None,
            },
            tenants: vec!["*".into()],
        },
    );
    let retry = RetryConfig {
        initial_delay: Duration::from_millis(300),
        ..Default::default()
    };
    let http = |endpoint: &str| ConnectorConfig::Http {
        url: fv.url(endpoint),
        auth: None,
        timeout: Duration::from_secs(10),
        concurrency: 4,
        retry: retry.clone(),
    };
    c.connectors.insert(
        "gewerberegister".into(),
        http("gewerberegister/api/v1/meldungen"),
    );
    c.connectors
        .insert("trinkwasser".into(), http("trinkwasser/api/pruefberichte"));
    c.connectors
        .insert("hundesteuer".into(), http("steuer/api/hundesteuer"));
    c.connectors.insert(
        "e-akte".into(),
        ConnectorConfig::File {
            directory: dir.join("e-akte-import"),
            concurrency: 2,
            retry,
        },
    );
    let route =
        |name: &str, standard: &str, message_type: Option<&str>, connector: &str| RouteConfig {
            name: Some(name.into()),
            standard: Some(standard.into()),
            message_type: message_type.map(str::to_string),
            connector: connector.into(),
            // The sample messages from public test suites are marked as test messages, and
            // the sample Fachverfahren is a test instance: let them through.
            test_messages: TestMessages::Include,
            ..Default::default()
        };
    c.routes = vec![
        route(
            "gewerbeanmeldung",
            "xgewerbeanzeige",
            Some("*.gewerbemeldung.0500"),
            "gewerberegister",
        ),
        route("trinkwasser-pruefbericht", "xwasser", None, "trinkwasser"),
        route("aussonderung", "xdomea", None, "e-akte"),
        route("hundesteuer", "json", None, "hundesteuer"),
    ];
    Ok(c)
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    s: &Sample,
    transport_id: &str,
) -> Result<(u16, MessageId)> {
    let url = format!("{base}/api/v1/tenants/{}/messages", s.tenant);
    let req = client
        .post(&url)
        .bearer_auth(token)
        .header("X-Transport-Id", transport_id);
    let req = match s.attachment {
        None => req.header("Content-Type", s.content_type).body(s.body),
        Some((name, bytes)) => {
            let form = reqwest::multipart::Form::new()
                .part(
                    "document",
                    reqwest::multipart::Part::bytes(s.body).mime_str(s.content_type)?,
                )
                .part(
                    "attachment",
                    reqwest::multipart::Part::bytes(bytes)
                        .file_name(name)
                        .mime_str("application/pdf")?,
                );
            req.multipart(form)
        }
    };
    let resp = req
        .send()
        .await
        .with_context(|| format!("sending {}", s.file))?;
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await?;
    let id = body["id"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .with_context(|| format!("{}: intake answered {status}: {body}", s.file))?;
    Ok((status, id))
}

pub async fn run(args: Args) -> Result<ExitCode> {
    let level = if args.verbose { "info" } else { "error" };
    crate::telemetry::init_logging(&crate::config::LogConfig {
        level: level.into(),
        ..Default::default()
    });
    let dir = tempfile::Builder::new()
        .prefix("amtsbote-demo-")
        .tempdir()?;
    let fv = SampleFachverfahren::start(
        "127.0.0.1:0".parse()?,
        Behaviour {
            fail_every: 2,
            fail_attempts: 1,
            contracts: contracts()?,
            ..Default::default()
        },
    )
    .await?;
    let (zustelldienst, sandbox) = start_zustelldienst(&dir.path().join("fit-connect")).await?;
    let mut config = demo_config(dir.path(), &fv)?;
    add_mappings(&mut config, dir.path())?;
    add_fit_connect(&mut config, &zustelldienst, &sandbox, &fv)?;
    let (xta_setup, xta_server, xta_sent) = start_xta(&dir.path().join("xta")).await?;
    add_xta(&mut config, &xta_setup, &xta_server)?;
    let running = broker::start(&config).await?;
    let base = format!("http://{}", running.addr);
    let token = std::fs::read_to_string(dir.path().join("formserver.token"))?;

    println!("amtsbote demo");
    println!(
        "  broker              {base}  (data in {})",
        config.storage.data_dir.display()
    );
    println!(
        "  sample Fachverfahren http://{}  (answers 503 to the first attempt of some messages)",
        fv.addr
    );
    println!(
        "  FIT-Connect sandbox  {}  (Zustelldienst with destination {})",
        sandbox.base_url, zustelldienst.destination_id
    );
    println!(
        "  XTA 2 sandbox        {}  (mutual TLS; mailbox {XTA_MAILBOX} of Cottbus)",
        xta_server.base_url
    );
    println!();
    let client = reqwest::Client::new();
    let mut sent: BTreeMap<MessageId, &Sample> = BTreeMap::new();
    for (i, s) in SAMPLES.iter().enumerate() {
        let (status, id) = send(&client, &base, &token, s, &format!("demo-{i}")).await?;
        println!("  sent {:<42} → {status} {id}", s.file);
        sent.insert(id, s);
    }
    let (status, again) = send(&client, &base, &token, &SAMPLES[0], "demo-0").await?;
    println!(
        "  sent {:<42} → {status} {again} (same transport id: recognised, not stored twice)",
        SAMPLES[0].file
    );
    let submissions = submit_bauantraege(&zustelldienst).await?;
    for (id, file) in &xta_sent {
        println!("  waiting in XTA mailbox {file:<37} → XTA MessageID {id}");
    }
    let closed = |mid: &str| {
        xta_server
            .control
            .mailbox(XTA_MAILBOX)
            .iter()
            .any(|e| e.message_id == mid && e.closed)
    };
    let answered = |sid: &str| {
        sandbox
            .control
            .submission_state(sid)
            .map(|s| format!("{s:?}").to_lowercase())
            .unwrap_or_default()
    };

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let records = loop {
        let all = running
            .stores
            .ledger
            .list(&MessageFilter::default())
            .await?;
        let done = all.iter().all(|m| m.state.is_final())
            && all.len() == sent.len() + submissions.len() + xta_sent.len()
            && xta_sent.iter().all(|(mid, _)| closed(mid))
            && submissions
                .iter()
                .all(|(sid, _)| matches!(answered(sid).as_str(), "accepted" | "rejected"));
        if done || Instant::now() > deadline {
            break all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    println!();
    println!(
        "{:<36}  {:<15} {:<30} {:<24} {:<10} {:>8}  transport",
        "message", "tenant", "standard / type", "route", "state", "attempts"
    );
    for m in &records {
        let transport = match (m.source.as_str(), &m.transport_id) {
            ("bauportal", Some(sid)) => format!("FIT-Connect {}", answered(sid)),
            ("xta-postfach", Some(mid)) if closed(mid) => "XTA closed".into(),
            ("xta-postfach", Some(_)) => "XTA open".into(),
            _ => "HTTP".into(),
        };
        println!(
            "{:<36}  {:<15} {:<30} {:<24} {:<10} {:>8}  {}",
            m.id,
            m.tenant,
            super::messages::kind(&m.header, &m.content_type),
            m.route.as_deref().unwrap_or("-"),
            m.state.as_str(),
            m.attempts,
            transport
        );
    }
    let delivered = records
        .iter()
        .filter(|m| m.state == State::Delivered)
        .count();
    let fv_cases = fv
        .received()
        .iter()
        .filter(|r| r.reference.is_some())
        .count();
    println!();
    println!(
        "{delivered} of {} message(s) delivered; the sample Fachverfahren created {fv_cases} case(s); e-akte drop folder: {}",
        records.len(),
        dir.path().join("e-akte-import").display()
    );
    // One message's audit trail, as `amtsbote messages show <id>` prints it.
    if let Some(m) = records.iter().find(|m| m.attempts > 1).or(records.first())
        && let Some(detail) = running.stores.ledger.get(m.id).await?
    {
        println!();
        println!(
            "history of {} ({}):",
            m.id,
            super::messages::kind(&m.header, &m.content_type)
        );
        for h in &detail.history {
            println!(
                "  {:>2}  {:<10} {:<22} {}",
                h.seq,
                h.state.as_str(),
                h.actor,
                h.reason
            );
        }
    }
    let accepted = submissions
        .iter()
        .filter(|(sid, _)| answered(sid) == "accepted")
        .count();
    let xta_closed = xta_sent.iter().filter(|(mid, _)| closed(mid)).count();
    println!(
        "FIT-Connect: {accepted} of {} submission(s) accepted; XTA: {xta_closed} of {} message(s) taken from the mailbox and closed",
        submissions.len(),
        xta_sent.len()
    );
    let ok = delivered == records.len()
        && records.len() == sent.len() + submissions.len() + xta_sent.len()
        && accepted == submissions.len()
        && xta_closed == xta_sent.len();

    if args.keep_running {
        println!();
        println!(
            "still running — broker {base}, Fachverfahren http://{} — Ctrl-C to stop",
            fv.addr
        );
        println!(
            "  token for the formserver source: {}",
            dir.path().join("formserver.token").display()
        );
        println!(
            "  console {base}/console/ — operator token: {}",
            std::fs::read_to_string(dir.path().join("operator.token"))?.trim()
        );
        tokio::signal::ctrl_c().await?;
    }
    running.stop().await;
    sandbox.shutdown().await;
    xta_server.shutdown().await;
    fv.stop();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
