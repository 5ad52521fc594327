//! `amtsbote run`: the broker, until SIGTERM or SIGINT.

use crate::broker;
use crate::telemetry;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    // Behind the explicit modes of every file the broker writes: whatever else is created
    // (file connector drop folders included) is private too.
    crate::at_rest::restrict_umask();
    let config = super::load_config(config_path)?;
    if let Some(e) = config.telemetry.problems().into_iter().next() {
        anyhow::bail!("{e}");
    }
    let traces = telemetry::init(&config.log, &config.telemetry, crate::replica::replica_id())?;
    if config_path.is_none() {
        tracing::info!("no configuration file given: running on embedded defaults");
    }
    let running = broker::start(&config).await?;
    let shutdown = running.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: no new requests or deliveries; finishing those in flight");
        shutdown.cancel();
    });
    running.wait().await;
    // The last spans (the deliveries that just finished) are sent before the process ends.
    traces.shutdown().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
