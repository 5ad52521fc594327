//! `amtsbote bench cluster`: the HTTP intake → file connector path on the cluster backend
//! (PostgreSQL ledger with its outbox, RabbitMQ quorum queues), beside raw lapin
//! publish-with-confirm + consume-with-ack of the same payloads, in the same run.

use super::bench_support::{bench_config, max_load, ms, percentile, wait_delivered};
use crate::broker;
use crate::cluster::rabbit::raw_roundtrip;
use crate::config::cluster::{PostgresConfig, RabbitConfig};
use crate::config::{Backend, SecretRef};
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::time::Duration;

pub struct ClusterArgs {
    pub messages: usize,
    pub size: usize,
    pub clients: usize,
    pub concurrency: usize,
    pub pg_url: String,
    pub amqp_url: String,
}

/// A schema of its own in the given database, dropped afterwards.
async fn scratch_schema(pg_url: &str, name: &str, create: bool) -> Result<()> {
    let (client, conn) = tokio_postgres::connect(pg_url, tokio_postgres::NoTls)
        .await
        .context("cannot connect to PostgreSQL (--pg-url)")?;
    let task = tokio::spawn(conn);
    let sql = if create {
        format!("CREATE SCHEMA {name}")
    } else {
        format!("DROP SCHEMA IF EXISTS {name} CASCADE")
    };
    client.batch_execute(&sql).await?;
    drop(client);
    let _ = task.await;
    Ok(())
}

fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> Result<SecretRef> {
    let path = dir.join(name);
    std::fs::write(&path, value)?;
    Ok(SecretRef {
        file: Some(path),
        env: None,
    })
}

pub async fn run(args: ClusterArgs) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("amtsbote-bench-")
        .tempdir_in(".")?;
    let payload = super::bench_support::message(args.size);
    println!(
        "amtsbote bench cluster — {} messages of {} bytes, {} cores",
        args.messages,
        payload.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // Baseline: raw lapin on the same RabbitMQ, same payload size.
    let raw = raw_roundtrip(&args.amqp_url, args.messages, payload.len())
        .await
        .context("raw lapin baseline")?;
    let raw_rate = args.messages as f64 / raw.elapsed.as_secs_f64();

    // amtsbote on the cluster backend, in a scratch schema and under a scratch prefix.
    let scope = format!("bench{}", uuid::Uuid::new_v4().simple());
    scratch_schema(&args.pg_url, &scope, true).await?;
    let sep = if args.pg_url.contains('?') { '&' } else { '?' };
    let mut config = bench_config(dir.path(), args.concurrency)?;
    config.storage.backend = Backend::Cluster;
    config.storage.postgres = Some(PostgresConfig {
        url: secret_file(
            dir.path(),
            "pg.url",
            &format!("{}{sep}options=-csearch_path%3D{scope}", args.pg_url),
        )?,
        pool_size: 16,
        statement_timeout: Duration::from_secs(30),
    });
    config.storage.rabbitmq = Some(RabbitConfig {
        url: secret_file(dir.path(), "amqp.url", &args.amqp_url)?,
        fallback_urls: Vec::new(),
        prefix: scope.clone(),
        confirm_timeout: Duration::from_secs(10),
    });
    let running = broker::start(&config).await?;
    let url = format!("http://{}/api/v1/tenants/bench/messages", running.addr);
    let load = max_load(&url, &payload, args.clients, args.messages).await?;
    wait_delivered(&running.stores, args.messages).await?;
    let delivered_secs = load.started.elapsed().as_secs_f64();
    running.stop().await;
    scratch_schema(&args.pg_url, &scope, false).await?;

    let n = args.messages as f64;
    let delivered_rate = n / delivered_secs;
    println!();
    println!("{:<62} {:>10} {:>10} {:>10}", "", "msg/s", "p50", "p99");
    println!(
        "{:<62} {:>10.0} {:>10} {:>10}",
        "baseline: raw lapin, publish with confirm + consume with ack", raw_rate, "", ""
    );
    println!(
        "{:<62} {:>10.0} {:>10} {:>10}",
        "baseline: raw lapin, publish with confirm only",
        n / raw.publish_elapsed.as_secs_f64(),
        "",
        ""
    );
    println!(
        "{:<62} {:>10.0} {:>10} {:>10}",
        format!("amtsbote intake (request → 202), {} clients", args.clients),
        n / load.intake_secs,
        ms(percentile(&load.latencies, 0.5)),
        ms(percentile(&load.latencies, 0.99))
    );
    println!(
        "{:<62} {:>10.0} {:>10} {:>10}",
        "amtsbote intake → PostgreSQL → RabbitMQ → file connector", delivered_rate, "", ""
    );
    println!();
    println!(
        "ratio delivered / raw lapin round trip: {:.2} (design target ≥ 0.7)",
        delivered_rate / raw_rate
    );
    Ok(ExitCode::SUCCESS)
}
