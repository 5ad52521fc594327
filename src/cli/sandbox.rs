//! `amtsbote sandbox`: local stand-ins for outside systems, for trying a route before going
//! live.

use crate::sandbox::fachverfahren::{Behaviour, SampleFachverfahren};
use crate::sandbox::fit_connect::{SandboxInfo, Setup, sender_client};
use crate::sandbox::xta;
use amtsbote_fit_connect::sender::{Application, OutgoingAttachment, SendOptions, send};
use amtsbote_fit_connect::wire::ServiceType;
use clap::Subcommand;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// A sample Fachverfahren that accepts and records deliveries (see `/_sandbox/received`).
    Fachverfahren {
        #[arg(long, default_value = "127.0.0.1:8471")]
        listen: SocketAddr,
        /// One in N messages gets 503 on its first attempt (0 = never).
        #[arg(long, default_value_t = 0)]
        fail_every: u32,
        /// An API contract: `PREFIX=SCHEMA.json` — JSON delivered to an endpoint starting with
        /// PREFIX must satisfy the JSON Schema, else 422 (repeatable), e.g.
        /// `gewerberegister=examples/mappings/xgewerbeanzeige-gewerberegister.target.schema.json`.
        #[arg(long)]
        contract: Vec<String>,
    },
    /// A local FIT-Connect Zustelldienst (Submission API v1 with token endpoint) for one
    /// destination. Keys and credentials are kept in --dir (made on first start); prints the
    /// broker configuration for the destination.
    FitConnect {
        #[arg(long, default_value = "127.0.0.1:8472")]
        listen: SocketAddr,
        /// Where keys, client secrets and sandbox.json are kept.
        #[arg(long, default_value = "fit-connect-sandbox")]
        dir: PathBuf,
        /// The broker's callback URL, e.g. http://127.0.0.1:8470/callbacks/fit-connect.
        #[arg(long)]
        callback_url: Option<String>,
    },
    /// A local XTA 2 server (XTA-Webservice v3/v4 over mutual TLS) with mailboxes. The test
    /// CA, the server certificate and one PKCS#12 client certificate per account are kept in
    /// --certs (made if missing, reused after); prints the broker configuration per mailbox.
    Xta {
        #[arg(long, default_value = "127.0.0.1:8473")]
        listen: SocketAddr,
        /// Where the CA, certificates, `p12.password` and `sandbox-xta.json` are kept.
        #[arg(long, default_value = "xta-sandbox")]
        certs: PathBuf,
        /// An account and its mailboxes: `name=prefix:kennung[,prefix:kennung…]`
        /// (repeatable). Default: `demo=ags:12052000`. An account `sender`
        /// (`ags:09162000`) is always there for `sandbox xta-send`.
        #[arg(long)]
        account: Vec<String>,
        /// XÖV documents put into the first mailbox at start (repeatable).
        #[arg(long)]
        seed: Vec<PathBuf>,
        /// Path of the ManagementPort, e.g. `/xta/management` (as your XTA provider's).
        /// The Governikus (`/MB_XTA-WS/XTA210managementPort.svc`) and WSDL-named
        /// (`/services/XTAService/ManagementPort`) paths are always answered too.
        #[arg(long)]
        management_path: Option<String>,
        /// Path of the SendPort (default layouts answered too, see --management-path).
        #[arg(long)]
        send_path: Option<String>,
        /// Path of the MsgBoxPort (default layouts answered too, see --management-path).
        #[arg(long)]
        msg_box_path: Option<String>,
    },
    /// Send an XÖV message to a mailbox of a running XTA sandbox, as an author's Fachverfahren
    /// does (createMessageId, sendMessage, as account `sender`, over mutual TLS).
    XtaSend {
        /// The sandbox's --certs directory.
        #[arg(long, default_value = "xta-sandbox")]
        certs: PathBuf,
        /// The reader (mailbox), `prefix:kennung`.
        #[arg(long, default_value = "ags:12052000")]
        to: String,
        /// The XÖV document (the message content).
        #[arg(long)]
        message: PathBuf,
        /// Further content parts (repeatable), e.g. PDFs.
        #[arg(long)]
        attachment: Vec<PathBuf>,
    },
    /// Submit an application to a running FIT-Connect sandbox, exactly as an online service
    /// does: fetch the destination's key, encrypt metadata, data and attachments, submit.
    Submit {
        /// The sandbox directory (its sandbox.json says where and as whom to submit).
        #[arg(long, default_value = "fit-connect-sandbox")]
        dir: PathBuf,
        /// The application's data (Fachdaten), XML or JSON.
        #[arg(long)]
        data: PathBuf,
        /// Attachments (repeatable), e.g. PDFs.
        #[arg(long)]
        attachment: Vec<PathBuf>,
        /// LeiKa Leistungsschlüssel of the service (14 digits).
        #[arg(long, default_value = "99050012104000")]
        service: String,
        /// Name of the service.
        #[arg(long, default_value = "Gewerbeanmeldung")]
        service_name: String,
        /// Schema URI of the data (e.g. the XÖV namespace).
        #[arg(long, default_value = "urn:example:schema")]
        schema_uri: String,
    },
}

fn mime_of(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "xml" => "application/xml",
        "json" => "application/json",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn attachments_of(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String, Vec<u8>)>> {
    paths
        .iter()
        .map(|a| {
            let name = a
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".into());
            let data = std::fs::read(a)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.display()))?;
            Ok((name, mime_of(a).to_string(), data))
        })
        .collect()
}

pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Xta {
            listen,
            certs,
            account,
            seed,
            management_path,
            send_path,
            msg_box_path,
        } => {
            let accounts = if account.is_empty() {
                vec!["demo=ags:12052000".to_string()]
            } else {
                account
            };
            let mut setup = xta::Setup::load_or_create(&certs, &accounts)?;
            if management_path.is_some() || send_path.is_some() || msg_box_path.is_some() {
                let config = &mut setup.local.config;
                let defaults = config.paths.clone();
                config.paths = amtsbote_xta::sandbox::PortPaths {
                    management: management_path.unwrap_or(defaults.management.clone()),
                    send: send_path.unwrap_or(defaults.send.clone()),
                    msg_box: msg_box_path.unwrap_or(defaults.msg_box.clone()),
                };
                config.also_paths.insert(0, defaults);
            }
            let running = setup.start(listen).await?;
            let first = setup.accounts[0].identifiers[0].value.clone();
            for file in &seed {
                let xml = std::fs::read(file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let (metadata, container) =
                    xta::sample_message(&xml, xta::SAMPLE_AUTHOR, &first, Vec::new())?;
                running.control.deliver(metadata, container)?;
            }
            println!("XTA 2 sandbox server (XTA-Webservice v3/v4, mutual TLS)");
            println!("  endpoint        {}", running.base_url);
            println!("  ManagementPort  {}", running.endpoints.management);
            println!("  SendXtaPort     {}", running.endpoints.send);
            println!("  MsgBoxPort      {}", running.endpoints.msg_box);
            println!("  CA certificate  {}", setup.local.ca_pem.display());
            println!(
                "  password        in {}/{}",
                certs.display(),
                xta::PASSWORD_FILE
            );
            for a in &setup.accounts {
                let ids: Vec<&str> = a.identifiers.iter().map(|i| i.value.as_str()).collect();
                println!(
                    "  account {:<8} {} (certificate {})",
                    a.name,
                    ids.join(", "),
                    setup
                        .pkcs12(&a.name)
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
            }
            if !seed.is_empty() {
                println!("  {} message(s) waiting in mailbox {first}", seed.len());
            }
            println!();
            println!("Broker configuration per mailbox (put it into the tenant's conf.d file):");
            for a in setup
                .accounts
                .iter()
                .filter(|a| a.name != xta::SENDER_ACCOUNT)
            {
                for id in &a.identifiers {
                    println!();
                    println!(
                        "{}",
                        setup.source_toml("<tenant>", "<source-id>", &a.name, &id.value, &running)
                    );
                }
            }
            println!(
                "Send with: amtsbote sandbox xta-send --certs {} --to {first} --message message.xml --attachment file.pdf",
                certs.display()
            );
            tokio::signal::ctrl_c().await?;
            running.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::XtaSend {
            certs,
            to,
            message,
            attachment,
        } => {
            let xml = std::fs::read(&message)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", message.display()))?;
            let id = xta::send_sample(&certs, &to, &xml, attachments_of(&attachment)?).await?;
            println!("sent {id} to mailbox {to}");
            Ok(ExitCode::SUCCESS)
        }
        Command::FitConnect {
            listen,
            dir,
            callback_url,
        } => {
            let setup = Setup::load_or_create(&dir)?;
            let running = setup.start(listen, callback_url).await?;
            println!("FIT-Connect sandbox Zustelldienst");
            println!("  Submission API   {}", running.base_url);
            println!("  token endpoint   {}", running.token_url);
            println!("  destination      {}", setup.destination_id);
            println!(
                "  sender client    {} (secret in {}/sender-client.secret)",
                setup.sender_id,
                dir.display()
            );
            println!();
            println!(
                "Broker configuration for the destination (put it into the tenant's conf.d file):"
            );
            println!();
            println!("{}", setup.source_toml("<tenant>", "<source-id>", &running));
            println!(
                "Submit with: amtsbote sandbox submit --dir {} --data application.xml --attachment file.pdf",
                dir.display()
            );
            tokio::signal::ctrl_c().await?;
            running.shutdown().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit {
            dir,
            data,
            attachment,
            service,
            service_name,
            schema_uri,
        } => {
            let info: SandboxInfo =
                serde_json::from_slice(&std::fs::read(dir.join("sandbox.json"))?).map_err(|e| {
                    anyhow::anyhow!(
                        "{}/sandbox.json: {e} (is the sandbox running?)",
                        dir.display()
                    )
                })?;
            let client = sender_client(&info)?;
            let mut attachments = Vec::new();
            for a in &attachment {
                let name = a.file_name().map(|n| n.to_string_lossy().into_owned());
                attachments.push(OutgoingAttachment::new(std::fs::read(a)?, mime_of(a), name));
            }
            let app = Application {
                destination_id: info.destination_id.clone(),
                service_type: ServiceType {
                    name: Some(service_name),
                    identifier: format!("urn:de:fim:leika:leistung:{service}"),
                },
                data: std::fs::read(&data)?,
                data_mime_type: mime_of(&data).to_string(),
                data_schema_uri: schema_uri,
                attachments,
            };
            let sent = send(&client, &app, &SendOptions::default()).await?;
            println!(
                "submitted {} (case {}) to destination {}",
                sent.submission_id, sent.case_id, sent.destination_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Fachverfahren {
            listen,
            fail_every,
            contract,
        } => {
            let mut contracts = Vec::new();
            for c in contract {
                let (prefix, file) = c.split_once('=').ok_or_else(|| {
                    anyhow::anyhow!("--contract wants PREFIX=SCHEMA.json, not {c}")
                })?;
                let schema = serde_json::from_slice(&std::fs::read(file)?)
                    .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
                contracts.push((prefix.to_string(), schema));
            }
            let behaviour = Behaviour {
                fail_every,
                fail_attempts: 1,
                contracts,
                ..Default::default()
            };
            let fv = SampleFachverfahren::start(listen, behaviour).await?;
            println!(
                "sample Fachverfahren listening on http://{} (POST any path; GET /_sandbox/received)",
                fv.addr
            );
            tokio::signal::ctrl_c().await?;
            fv.stop();
            Ok(ExitCode::SUCCESS)
        }
    }
}
