//! Gauges read at scrape time (`/metrics`): messages per state, queue depth and oldest entry,
//! FIT-Connect submissions not yet answered, readiness. Read from the ledger and the queue
//! rather than kept in memory, so that they are right after a restart and across replicas.
//! Counters and histograms are kept as things happen, in [`crate::telemetry::events`].
//! Served by [`crate::server`]; below it, above the stores and the metrics registry.

use crate::backend::Stores;
use crate::queue::QueueDepth;
use crate::telemetry::metrics::{
    ConnectorLabels, DestinationLabels, QueueLabels, StateLabels, metrics,
};
use std::collections::HashMap;

/// Sets every scrape-time gauge. A store that does not answer leaves its gauges as they were
/// (and `amtsbote_ready` says so) rather than failing the scrape.
/// `fit_connect` names the configured FIT-Connect destinations (tenant, source, destination
/// id), so that theirs read 0 rather than vanish when nothing is open.
pub async fn refresh(stores: &Stores, connectors: &[String], fit_connect: &[DestinationLabels]) {
    let (_, (), (), ()) = tokio::join!(
        crate::readiness::check(stores),
        messages(stores),
        queue(stores, connectors),
        open_submissions(stores, fit_connect),
    );
}

async fn messages(stores: &Stores) {
    let m = metrics();
    if let Ok(counts) = stores.ledger.count_by_state().await {
        m.messages.clear();
        for c in counts {
            m.messages
                .get_or_create(&StateLabels {
                    tenant: c.tenant,
                    source: c.source,
                    connector: c.connector.unwrap_or_default(),
                    state: c.state.as_str().into(),
                })
                .set(c.count as i64);
        }
    }
}

async fn queue(stores: &Stores, connectors: &[String]) {
    let m = metrics();
    let Ok(mut depths) = stores.queue.depth().await else {
        return;
    };
    // Configured connectors read 0 rather than vanish when empty.
    for c in connectors {
        if !depths.iter().any(|d| &d.connector == c) {
            depths.push(QueueDepth {
                connector: c.clone(),
                ..Default::default()
            });
        }
    }
    m.queue.clear();
    m.queue_oldest_seconds.clear();
    for d in depths {
        for (status, n) in [
            ("ready", d.ready),
            ("delayed", d.delayed),
            ("leased", d.leased),
            ("dead", d.dead),
        ] {
            m.queue
                .get_or_create(&QueueLabels {
                    connector: d.connector.clone(),
                    status: status.into(),
                })
                .set(n as i64);
        }
        m.queue_oldest_seconds
            .get_or_create(&ConnectorLabels {
                connector: d.connector.clone(),
            })
            .set((d.oldest_ms / 1000) as i64);
    }
}

/// FIT-Connect submissions the broker has taken but not yet accepted or rejected at the
/// Zustelldienst (open claims of the inbound journal), and how long the oldest has been
/// waiting since the broker first saw it. The Zustelldienst alerts the destination's
/// technical contact after 3 days and rejects after 14 days (PROTOCOLS.md); a submission the
/// broker cannot see at all shows as failing polls instead.
async fn open_submissions(stores: &Stores, destinations: &[DestinationLabels]) {
    if destinations.is_empty() {
        return;
    }
    let m = metrics();
    let Ok(summary) = stores.ledger.inbound_summary().await else {
        return;
    };
    let now = crate::message::now_millis();
    let summary: HashMap<&str, _> = summary.iter().map(|s| (s.source.as_str(), s)).collect();
    for labels in destinations {
        let (open, age) = summary.get(labels.source.as_str()).map_or((0, 0), |s| {
            (s.open, (now - s.oldest_claimed_at).max(0) / 1000)
        });
        m.fit_connect_open.get_or_create(labels).set(open as i64);
        m.fit_connect_oldest_open_seconds
            .get_or_create(labels)
            .set(age);
    }
}
