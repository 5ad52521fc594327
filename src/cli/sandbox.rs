//! `amtsbote sandbox`: local stand-ins for outside systems, for trying a route before going
//! live.

use crate::sandbox::fachverfahren::{Behaviour, SampleFachverfahren};
use crate::sandbox::fit_connect::{SandboxInfo, Setup, sender_client};
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

pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
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
