//! Wiring: builds every part of the broker from a configuration, runs it, and shuts it down
//! in order — stop taking requests, stop taking work, let deliveries in flight finish, close
//! the stores.

use crate::backend::{self, Stores};
use crate::config::Config;
use crate::inbound::http::HttpIntake;
use crate::inbound::{fit_connect, xta};
use crate::intake::{DocumentLimits, Intake};
use crate::plan::{invalid, plan};
use crate::telemetry::auth_failures;
use crate::worker::{self, WorkerContext};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long deliveries in flight may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// A running broker.
pub struct Running {
    pub addr: SocketAddr,
    pub stores: Stores,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
    _lock: Option<std::fs::File>,
}

impl Running {
    /// Signals shutdown and waits until everything has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
        self.stores.close();
    }

    /// Waits until the broker stops (after `shutdown` is cancelled elsewhere).
    pub async fn wait(self) {
        let _ = self.task.await;
        self.stores.close();
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Descriptors the broker needs besides its connections: databases, payload files, outgoing
/// HTTP, the queue.
const DESCRIPTOR_RESERVE: u64 = 256;

/// Raises the soft descriptor limit to the hard one (each connection holds a descriptor; the
/// usual soft default of 1,024 falls to a thousand idle clients) and says what it is.
fn descriptor_limit(max_connections: usize) {
    match amtsbote_listener::raise_fd_limit() {
        Ok(limit) => {
            tracing::info!(
                soft = limit.soft,
                hard = limit.hard,
                before = limit.before,
                "file descriptor limit"
            );
            if limit.soft < max_connections as u64 + DESCRIPTOR_RESERVE {
                tracing::warn!(
                    limit = limit.soft,
                    max_connections,
                    "the file descriptor limit is below server.max_connections + {DESCRIPTOR_RESERVE}; \
                     raise LimitNOFILE (systemd) or ulimits.nofile (containers), or lower server.max_connections"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the file descriptor limit"),
    }
}

/// Builds and starts the broker: HTTP listener, workers, maintenance.
pub async fn start(config: &Config) -> Result<Running> {
    let plan = plan(config).map_err(invalid)?;
    descriptor_limit(config.server.max_connections);
    let data_dir = &config.storage.data_dir;
    // The key first: a start without one must not leave an empty data directory behind.
    backend::payload_key(config)?;
    crate::at_rest::prepare_data_dir(data_dir)?;
    let lock = backend::lock_data_dir(config)?;
    let stores = backend::open(config).await?;
    if let Some(e) = &stores.embedded {
        let (deliveries, pollers) = e.recover_leases().await?;
        if deliveries > 0 {
            tracing::info!(
                released = deliveries,
                "recovered messages a previous run was delivering; they are attempted again"
            );
        }
        if pollers > 0 {
            tracing::info!(
                released = pollers,
                "released the poller leases of a previous run"
            );
        }
    }

    let limits = DocumentLimits {
        max_document_bytes: config.intake.max_document_bytes,
        max_message_bytes: config.intake.max_message_bytes,
        max_part_bytes: config.intake.max_part_bytes,
        max_parts: config.intake.max_parts,
        max_json_depth: config.intake.max_json_depth,
        xml: amtsbote_xoev::Limits {
            max_bytes: config.intake.max_document_bytes as usize,
            ..Default::default()
        },
    };
    // Replays from the admin API route with the same table as intake.
    let (admin_router, admin_validator) = (plan.router.clone(), plan.validator.clone());
    let intake = Arc::new(Intake::new(
        stores.ledger.clone(),
        stores.payloads.clone(),
        plan.router,
        config.tenants.keys().cloned().collect(),
        limits,
        plan.validator,
    ));
    let http = Arc::new(HttpIntake {
        intake: intake.clone(),
        sources: plan.sources,
    });

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();

    let mut tasks = tokio::task::JoinSet::new();
    let connector_ids: Vec<String> = plan.connectors.keys().cloned().collect();
    let app = crate::server::router(
        http,
        stores.clone(),
        connector_ids,
        plan.fit_connect.clone(),
    )
    .merge(crate::admin::router(crate::admin::Admin {
        records: stores.records(),
        router: admin_router,
        validator: admin_validator,
        tokens: plan.admin_tokens,
        telemetry: config.telemetry.clone(),
    }));
    let stop_http = shutdown.clone();
    let limits = config.server.limits();
    tasks.spawn(async move {
        amtsbote_listener::serve(
            listener,
            limits,
            app,
            async move { stop_http.cancelled().await },
        )
        .await;
    });
    let ctx = WorkerContext {
        ledger: stores.ledger.clone(),
        queue: stores.queue.clone(),
        store: stores.payloads.clone(),
        mappings: plan.mappings.clone(),
    };
    for handle in plan.connectors.into_values() {
        tracing::info!(connector = %handle.id, kind = handle.kind, concurrency = handle.concurrency, "starting workers");
        tasks.spawn(worker::run(
            ctx.clone(),
            handle,
            shutdown.clone(),
            SHUTDOWN_GRACE,
        ));
    }
    for destination in plan.fit_connect {
        tracing::info!(source = %destination.source, destination = %destination.destination_id,
            tenant = %destination.tenant, "starting FIT-Connect subscriber");
        let adapter = fit_connect::Adapter {
            destination,
            intake: intake.clone(),
            ledger: stores.ledger.clone(),
        };
        tasks.spawn(adapter.run(shutdown.clone()));
    }
    for account in plan.xta {
        tracing::info!(source = %account.source, reader = %account.reader,
            tenant = %account.tenant, "starting XTA mailbox poller");
        let adapter = xta::Adapter {
            account,
            intake: intake.clone(),
            ledger: stores.ledger.clone(),
        };
        tasks.spawn(adapter.run(shutdown.clone()));
    }
    if let Some(c) = &stores.cluster {
        // The outbox relay: publishes what the ledger committed to RabbitMQ, on every replica
        // (claims keep them from publishing the same entry at the same time).
        let relay = c
            .queue
            .spawn_relay(Arc::new(c.ledger.clone()), shutdown.clone());
        tasks.spawn(async move {
            let _ = relay.await;
        });
    }
    tasks.spawn(maintenance(
        stores.clone(),
        intake,
        crate::retention::Retention::from_config(config),
        shutdown.clone(),
    ));

    tracing::info!(%addr, tenants = config.tenants.len(), data_dir = %data_dir.display(), "amtsbote is running");
    let task = tokio::spawn(async move { while tasks.join_next().await.is_some() {} });
    Ok(Running {
        addr,
        stores,
        shutdown,
        task,
        _lock: lock,
    })
}

/// Background upkeep: purging payloads after the retention period,
/// removing payload files no ledger row refers to (left by a crash during intake), and
/// writing the periodic summaries of failed authentications.
async fn maintenance(
    stores: Stores,
    intake: Arc<Intake>,
    retention: crate::retention::Retention,
    shutdown: CancellationToken,
) {
    let mut purge = tokio::time::interval(Duration::from_secs(600));
    let mut orphans = tokio::time::interval(Duration::from_secs(300));
    let mut auth_summaries =
        tokio::time::interval((auth_failures::interval() / 4).max(Duration::from_millis(250)));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = auth_summaries.tick() => auth_failures::log_due_summaries(),
            _ = purge.tick() => crate::retention::purge_expired(&stores, &retention).await,
            _ = orphans.tick() => sweep_orphans(&stores, &intake).await,
        }
    }
}

/// Removes stored parts whose message never made it into the ledger (crash during intake, or
/// a sender that hung up mid-request). Only parts older than a minute are looked at, so that
/// an intake in progress is never touched — in a cluster an hour, because another replica's
/// intake in progress is not known here, and no intake takes that long.
async fn sweep_orphans(stores: &Stores, intake: &Intake) {
    let Ok(found) = stores.payloads.stored_messages().await else {
        return;
    };
    let grace = if stores.cluster.is_some() {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(60)
    };
    let cutoff = std::time::SystemTime::now() - grace;
    // One entry per stored object: a message counts by its newest.
    let mut newest: BTreeMap<crate::message::MessageId, std::time::SystemTime> = BTreeMap::new();
    for (id, modified) in found {
        let t = newest.entry(id).or_insert(modified);
        *t = (*t).max(modified);
    }
    let mut removed = 0;
    for (id, modified) in newest {
        if modified > cutoff || intake.is_receiving(id) {
            continue;
        }
        if let Ok(None) = stores.ledger.get(id).await
            && stores.payloads.delete(id).await.is_ok()
        {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(
            removed,
            "removed payloads of messages that were never admitted (interrupted intake)"
        );
    }
}
