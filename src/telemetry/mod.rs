//! What the broker says about itself: structured logs (text or JSON), Prometheus metrics,
//! and the typed internal events that feed both.
//!
//! Every log line and metric about a message is emitted from [`events`], in one place, so it
//! can be reviewed for personal data: ids, tenants, standards, sizes and hashes only.

pub mod auth_failures;
pub mod events;
pub mod metrics;
pub mod untrusted;

use crate::config::{LogConfig, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber. Logs go to stderr; `RUST_LOG` overrides the level.
pub fn init_logging(cfg: &LogConfig) {
    auth_failures::init(cfg.auth_failure_summary);
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only on a terminal: in a file or a journal, escape codes are noise.
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
