//! `amtsbote messages list|show`: what the ledger knows, for operators.

use crate::backend;
use crate::ledger::{ChainVerdict, MessageFilter};
use crate::message::{MessageId, State, format_millis};
use clap::Subcommand;
use std::path::Path;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// List messages, oldest first.
    List {
        /// Only these states (repeatable), e.g. --state dead --state unrouted.
        #[arg(long)]
        state: Vec<State>,
        /// Only this tenant's messages.
        #[arg(long)]
        tenant: Option<String>,
        /// Only messages routed to this connector.
        #[arg(long)]
        connector: Option<String>,
        /// At most this many (0 = all).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One message with its state history and the check of its hash chain.
    Show {
        /// The message id (as `messages list` or intake's answer shows it).
        id: MessageId,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config_path: Option<&Path>, cmd: Command) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let stores = backend::open_existing(&config).await?;
    match cmd {
        Command::List {
            state,
            tenant,
            connector,
            limit,
            json,
        } => {
            let filter = MessageFilter {
                states: state,
                tenant,
                connector,
                limit,
                ..Default::default()
            };
            let rows = stores.ledger.list(&filter).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<36}  {:<14} {:<34} {:<14} {:<10} {:>3}  updated",
                    "id", "tenant", "standard / type", "connector", "state", "att"
                );
                for m in &rows {
                    println!(
                        "{:<36}  {:<14} {:<34} {:<14} {:<10} {:>3}  {}",
                        m.id,
                        m.tenant,
                        kind(&m.header, &m.content_type),
                        m.connector.as_deref().unwrap_or("-"),
                        m.state.as_str(),
                        m.attempts,
                        format_millis(m.updated_at)
                    );
                }
                println!("{} message(s)", rows.len());
            }
        }
        Command::Show { id, json } => {
            let Some(detail) = stores.ledger.get(id).await? else {
                eprintln!("message {id} is not in the ledger");
                return Ok(ExitCode::from(1));
            };
            let verdict = stores.ledger.verify(id).await?;
            if json {
                let mut v = serde_json::to_value(&detail)?;
                v["chain"] = serde_json::to_value(&verdict)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let m = &detail.message;
                println!("message     {}", m.id);
                println!("tenant      {}", m.tenant);
                println!(
                    "source      {} (transport id {})",
                    m.source,
                    m.transport_id.as_deref().unwrap_or("-")
                );
                println!("received    {}", format_millis(m.received_at));
                println!(
                    "document    {} — {}",
                    m.content_type,
                    kind(&m.header, &m.content_type)
                );
                if let Some(u) = &m.header.message_uuid {
                    println!("xöv uuid    {u}");
                }
                println!("author      {}", m.header.author.as_deref().unwrap_or("-"));
                println!("reader      {}", m.header.reader.as_deref().unwrap_or("-"));
                println!(
                    "parts       {}",
                    m.parts
                        .iter()
                        .map(|p| format!("{} ({} bytes)", p.name, p.size))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(k) = &m.service_key {
                    println!("service key {k}");
                }
                if let Some(d) = &m.destination {
                    println!("destination {d}");
                }
                if let Some(x) = &m.header.xta {
                    println!("xta         MessageID {}", x.message_id);
                    println!(
                        "            {} → {}, service {}, scenario {}, type {}{}",
                        x.author,
                        x.reader,
                        x.service,
                        x.business_scenario,
                        x.message_type,
                        if x.test { ", test message" } else { "" }
                    );
                }
                println!(
                    "route       {} → {}",
                    m.route.as_deref().unwrap_or("-"),
                    m.connector.as_deref().unwrap_or("-")
                );
                println!("state       {} after {} attempt(s)", m.state, m.attempts);
                println!("last reason {}", m.last_reason);
                println!("history");
                for h in &detail.history {
                    println!(
                        "  {:>2}  {}  {:<10} {:<22} {}",
                        h.seq,
                        format_millis(h.at),
                        h.state.as_str(),
                        h.actor,
                        h.reason
                    );
                }
                match verdict {
                    ChainVerdict::Intact { entries } => {
                        println!("hash chain  intact ({entries} entries)")
                    }
                    ChainVerdict::Broken { seq } => println!(
                        "hash chain  BROKEN at entry {seq}: the ledger was modified outside amtsbote"
                    ),
                }
            }
        }
    }
    stores.close();
    Ok(ExitCode::SUCCESS)
}

/// `xgewerbeanzeige 2.2 0500`-style summary of what a message is.
pub fn kind(h: &crate::message::XoevHeader, content_type: &str) -> String {
    match (&h.standard, &h.message_type) {
        (Some(s), Some(t)) => {
            format!("{s} {} {t}", h.version.as_deref().unwrap_or("")).replace("  ", " ")
        }
        (Some(s), None) => s.clone(),
        (None, _) if content_type.contains("json") => "json".into(),
        (None, _) => format!("xml {}", h.root.as_deref().unwrap_or(""))
            .trim()
            .to_string(),
    }
}
