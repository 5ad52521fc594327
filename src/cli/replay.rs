//! `amtsbote replay`: send dead or unrouted messages round again.

use crate::backend;
use crate::ledger::MessageFilter;
use crate::message::{MessageId, State};
use crate::replay::{ReplayError, replay};
use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::process::ExitCode;

#[derive(ClapArgs)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["id", "dead", "unrouted"])))]
pub struct Args {
    /// The message to replay.
    id: Option<MessageId>,
    /// Replay all dead messages (with --connector: of that connector only).
    #[arg(long)]
    dead: bool,
    /// Replay all unrouted messages (after adding a route).
    #[arg(long)]
    unrouted: bool,
    /// With --dead or --unrouted: only messages of this connector.
    #[arg(long)]
    connector: Option<String>,
    /// With --dead or --unrouted: only this tenant's messages.
    #[arg(long)]
    tenant: Option<String>,
    /// Also replay a delivered message (the Fachverfahren lost it).
    #[arg(long)]
    force: bool,
    /// Who is replaying, for the audit trail.
    #[arg(long, default_value = "cli", env = "USER")]
    actor: String,
}

pub async fn run(config_path: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config_path)?;
    let plan = crate::plan::plan(&config).map_err(crate::plan::invalid)?;
    let stores = backend::open_existing(&config).await?;
    let actor = format!("operator:{}", args.actor);
    let code = if let Some(id) = args.id {
        match replay(
            &stores,
            &plan.router,
            &plan.validator,
            id,
            &actor,
            args.force,
        )
        .await
        {
            Ok(target) => {
                println!(
                    "{id} replayed: route {} to connector {}",
                    target.route, target.connector
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    } else {
        let state = if args.dead {
            State::Dead
        } else {
            State::Unrouted
        };
        let filter = MessageFilter {
            states: vec![state],
            tenant: args.tenant.clone(),
            connector: args.connector.clone(),
            ..Default::default()
        };
        let ids: Vec<MessageId> = stores
            .ledger
            .list(&filter)
            .await?
            .into_iter()
            .map(|m| m.id)
            .collect();
        let bar = ProgressBar::new(ids.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} replayed {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let (mut ok, mut failed) = (0usize, Vec::new());
        for id in ids {
            match replay(&stores, &plan.router, &plan.validator, id, &actor, false).await {
                Ok(_) => ok += 1,
                Err(
                    e @ (ReplayError::NoRoute(_)
                    | ReplayError::NotReplayable { .. }
                    | ReplayError::Refused { .. }),
                ) => failed.push(e.to_string()),
                Err(e) => {
                    bar.abandon();
                    return Err(e.into());
                }
            }
            bar.inc(1);
        }
        bar.finish_with_message(format!("({} not replayed)", failed.len()));
        for f in &failed {
            eprintln!("  {f}");
        }
        println!("{ok} message(s) replayed, {} not", failed.len());
        if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    };
    stores.close();
    Ok(code)
}
