//! Readiness (`/readyz`): the broker is ready when the three stores a message passes
//! through answer — the ledger, the queue and the payload store. Checked on every probe and
//! every scrape; the outcome goes out through [`ReadinessChecked`] (gauge `amtsbote_ready`,
//! a log line when it changes). Served by [`crate::server`].

use crate::backend::Stores;
use crate::telemetry::events::ReadinessChecked;
use serde::Serialize;
use std::time::Duration;

/// A check that does not answer within this is failed: a load balancer's probe must get an
/// answer well before its own timeout, and a hanging store is not a ready one.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The outcome of one round of checks. Failures are named by store only: the answer goes
/// to whoever can reach the listener, so the broker's error texts (which may name hosts or
/// buckets) stay in the log.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// `ok`, `unavailable` or `timeout` per check.
    pub ledger: &'static str,
    pub queue: &'static str,
    pub payload_store: &'static str,
}

impl Readiness {
    /// The checks that failed, by name.
    pub fn failed(&self) -> Vec<&'static str> {
        [
            ("ledger", self.ledger),
            ("queue", self.queue),
            ("payload_store", self.payload_store),
        ]
        .into_iter()
        .filter(|(_, v)| *v != "ok")
        .map(|(k, _)| k)
        .collect()
    }
}

/// Runs the three checks concurrently.
pub async fn check(stores: &Stores) -> Readiness {
    let (ledger, queue, payload_store) = tokio::join!(
        one("ledger", async {
            stores.ledger.ping().await.map_err(|e| e.to_string())
        }),
        one("queue", async {
            stores
                .queue
                .depth()
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        one("payload_store", async {
            stores.payloads.check().await.map_err(|e| e.to_string())
        }),
    );
    Readiness {
        ready: [ledger, queue, payload_store].iter().all(|v| *v == "ok"),
        ledger,
        queue,
        payload_store,
    }
}

async fn one(
    check: &'static str,
    probe: impl std::future::Future<Output = Result<(), String>>,
) -> &'static str {
    let (verdict, failure) = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => ("ok", None),
        Ok(Err(e)) => ("unavailable", Some(e)),
        Err(_) => (
            "timeout",
            Some(format!(
                "no answer within {} s",
                CHECK_TIMEOUT.as_secs_f32()
            )),
        ),
    };
    ReadinessChecked {
        check,
        failure: failure.as_deref(),
    }
    .emit();
    verdict
}
