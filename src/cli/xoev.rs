//! `amtsbote xoev inspect`: what the broker sees in a message, for an operator looking at
//! one by hand — the sniffed header and the schema validation, exactly as intake does them.

use amtsbote_xoev::validate::Validation;
use amtsbote_xoev::{Limits, inspect};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Sniff the header and validate against the bundled and configured schema packs.
    /// Exit code 0: valid (or no schema known), 1: schema violations, 2: unreadable.
    Inspect {
        message: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config_path: Option<&Path>, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Inspect { message, json } = cmd;
    let config = super::load_config(config_path)?;
    let plan = crate::plan::plan(&config).map_err(crate::plan::invalid)?;
    let bytes = match std::fs::read(&message) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", message.display());
            return Ok(ExitCode::from(2));
        }
    };
    let limits = Limits {
        max_bytes: config.intake.max_document_bytes as usize,
        ..Default::default()
    };
    let sniffed = match inspect(&bytes, &limits) {
        Ok(s) => s,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "readable": false, "error": e.to_string() })
                );
            } else {
                eprintln!("{}: not readable as XML: {e}", message.display());
            }
            return Ok(ExitCode::from(2));
        }
    };
    let validator = plan.validator.clone();
    let validation = tokio::task::spawn_blocking(move || validator.validate(&bytes)).await?;
    let validation = match validation {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}: validation failed: {e}", message.display());
            return Ok(ExitCode::from(2));
        }
    };
    let code = if matches!(validation, Validation::Invalid { .. }) {
        1
    } else {
        0
    };
    if json {
        let out =
            serde_json::json!({ "readable": true, "header": sniffed, "validation": validation });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::from(code));
    }
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("file          {}", message.display());
    match &sniffed.standard {
        Some(s) => println!("standard      {} (key {})", s, s.key),
        None => println!("standard      unknown"),
    }
    println!("namespace     {}", opt(&sniffed.namespace));
    println!("root          {}", sniffed.root);
    println!("message type  {}", opt(&sniffed.message_type));
    println!("message uuid  {}", opt(&sniffed.message_uuid));
    println!("created       {}", opt(&sniffed.created_at));
    println!("header        {}", sniffed.dialect);
    println!(
        "author        {}",
        sniffed
            .author
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or("-".into())
    );
    println!(
        "reader        {}",
        sniffed
            .reader
            .as_ref()
            .map(|a| a.to_string())
            .unwrap_or("-".into())
    );
    println!("test message  {}", if sniffed.test { "yes" } else { "no" });
    println!(
        "product       {} / {}",
        opt(&sniffed.product),
        opt(&sniffed.product_vendor)
    );
    for w in &sniffed.warnings {
        println!("warning       {w}");
    }
    match &validation {
        Validation::Valid { pack } => println!("validation    valid against {pack}"),
        Validation::Invalid {
            pack,
            errors,
            omitted,
        } => {
            println!(
                "validation    INVALID against {pack}: {} error(s)",
                errors.len() + omitted
            );
            for e in errors {
                println!("  {e}");
            }
            if *omitted > 0 {
                println!("  … and {omitted} more");
            }
        }
        Validation::UnknownSchema { namespace } => println!(
            "validation    no schema pack for namespace {} (well-formed only)",
            namespace.as_deref().unwrap_or("(none)")
        ),
    }
    Ok(ExitCode::from(code))
}
