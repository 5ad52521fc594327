//! `amtsbote bench`: throughput and latency of the embedded broker (HTTP intake → queue →
//! file connector, durable before 202), printed beside a baseline measured in the same run on
//! the same disk: plain SQLite (WAL, `synchronous = FULL`) inserting and committing the same
//! payloads.
//!
//! Figures, not assertions: the machine is shared and noisy. `docs/BENCHMARKS.md` records runs.

use super::bench_support::{
    bench_config, max_load, message, ms, percentile, post, settle_disk, wait_delivered,
};
use crate::broker;
use crate::ledger::MessageFilter;
use crate::message::State;
use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(ClapArgs)]
pub struct Args {
    /// What to measure: the intake → delivery path (`intake`), the XÖV stages (`xoev`), the
    /// FIT-Connect subscriber (`fit-connect`), the XTA mailbox reader beside HTTP intake of
    /// the same messages (`xta`), the intake → delivery path on PostgreSQL and RabbitMQ
    /// (`cluster`), an installation for every municipality of Germany: loading, checking,
    /// starting and routing (`config`).
    #[arg(value_enum, default_value = "intake")]
    suite: Suite,
    /// Messages for the max-load run (`xoev`: iterations per stage).
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Size of each message in bytes.
    #[arg(long, default_value_t = 20 * 1024)]
    size: usize,
    /// Concurrent HTTP clients in the max-load run.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Messages per second in the fixed-rate run.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Length of the fixed-rate run in seconds.
    #[arg(long, default_value_t = 10)]
    rate_seconds: u64,
    /// Deliveries in flight at once (the file connector's concurrency).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Directory for the benchmark's data (default: a temporary directory on the same disk as
    /// the current directory).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// `cluster`: PostgreSQL URL of a database to bench in (a scratch schema is made and
    /// dropped), e.g. `postgres://amtsbote@127.0.0.1:55432/amtsbote`.
    #[arg(long)]
    pg_url: Option<String>,
    /// `cluster`: RabbitMQ URL, e.g. `amqp://guest:guest@127.0.0.1:56720/%2f`.
    #[arg(long)]
    amqp_url: Option<String>,
    /// `config`: municipalities in the generated configuration.
    #[arg(long, default_value_t = super::bench_config::GERMAN_MUNICIPALITIES)]
    tenants: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Suite {
    Intake,
    Xoev,
    FitConnect,
    /// HTTP intake → file connector on PostgreSQL + RabbitMQ, beside raw lapin.
    Cluster,
    Xta,
    /// A generated configuration of `--tenants` municipalities.
    Config,
}

/// (count, sum) of a histogram from the process's metrics text.
fn histogram(text: &str, name: &str) -> (f64, f64) {
    let value = |suffix: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}_{suffix} ")))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (value("count"), value("sum"))
}

/// What the durability machinery did between two metric snapshots.
fn durability_report(before: &str, after: &str) -> String {
    let delta = |name: &str| {
        let (c0, s0) = histogram(before, name);
        let (c1, s1) = histogram(after, name);
        (c1 - c0, s1 - s0)
    };
    let (commits, commit_secs) = delta("amtsbote_db_commit_duration_seconds");
    let (_, jobs) = delta("amtsbote_db_group_jobs");
    let (flushes, flush_secs) = delta("amtsbote_fs_flush_duration_seconds");
    let per = |sum: f64, n: f64| if n > 0.0 { sum / n } else { 0.0 };
    format!(
        "database: {commits:.0} group commits, {:.1} jobs and {:.2} ms each; file system: {flushes:.0} flushes, {:.2} ms each",
        per(jobs, commits),
        per(commit_secs, commits) * 1000.0,
        per(flush_secs, flushes) * 1000.0
    )
}

/// Baseline: one row with the payload per message, inserted and committed on its own, then
/// the same in groups of 100 (what group commit can reach on this disk).
fn sqlite_baseline(
    dir: &std::path::Path,
    payload: &[u8],
    n: usize,
) -> Result<(f64, f64, Duration)> {
    let path = dir.join("baseline.db");
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch("CREATE TABLE m (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
    let single = n.min(2000);
    let mut lat = Vec::with_capacity(single);
    let t = Instant::now();
    for _ in 0..single {
        let s = Instant::now();
        conn.execute("INSERT INTO m (body) VALUES (?1)", [payload])?;
        lat.push(s.elapsed());
    }
    let per_commit = single as f64 / t.elapsed().as_secs_f64();
    lat.sort();
    let t = Instant::now();
    for chunk in 0..n.div_ceil(100) {
        let tx = conn.unchecked_transaction()?;
        for _ in 0..100.min(n - chunk * 100) {
            tx.execute("INSERT INTO m (body) VALUES (?1)", [payload])?;
        }
        tx.commit()?;
    }
    let grouped = n as f64 / t.elapsed().as_secs_f64();
    Ok((per_commit, grouped, percentile(&lat, 0.99)))
}

/// End-to-end latencies (received → delivered) of delivered messages.
async fn delivery_latencies(stores: &crate::backend::Stores) -> Result<Vec<Duration>> {
    let rows = stores
        .ledger
        .list(&MessageFilter {
            states: vec![State::Delivered],
            ..Default::default()
        })
        .await?;
    let mut v: Vec<Duration> = rows
        .iter()
        .map(|m| Duration::from_millis((m.updated_at - m.received_at).max(0) as u64))
        .collect();
    v.sort();
    Ok(v)
}

pub async fn run(args: Args) -> Result<ExitCode> {
    match args.suite {
        Suite::Intake => intake(args).await,
        Suite::Xoev => {
            tokio::task::spawn_blocking(move || super::bench_xoev::run(args.messages)).await?
        }
        Suite::FitConnect => super::bench_fit_connect::run(args.messages).await,
        Suite::Cluster => {
            let need = |v: &Option<String>, flag: &str| {
                v.clone()
                    .with_context(|| format!("the cluster suite needs {flag}"))
            };
            super::bench_cluster::run(super::bench_cluster::ClusterArgs {
                messages: args.messages,
                size: args.size,
                clients: args.clients,
                concurrency: args.concurrency,
                pg_url: need(&args.pg_url, "--pg-url")?,
                amqp_url: need(&args.amqp_url, "--amqp-url")?,
            })
            .await
        }
        Suite::Xta => super::bench_xta::run(args.messages, args.size, args.clients).await,
        Suite::Config => super::bench_config::run(args.tenants, args.dir).await,
    }
}

async fn intake(args: Args) -> Result<ExitCode> {
    let dir = match &args.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("amtsbote-bench-")
            .tempdir_in(d)?,
        None => tempfile::Builder::new()
            .prefix("amtsbote-bench-")
            .tempdir_in(".")?,
    };
    let payload = message(args.size);
    println!(
        "amtsbote bench — {} messages of {} bytes, {} cores",
        args.messages,
        payload.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("data directory: {}", dir.path().display());

    let base_dir = dir.path().join("baseline");
    std::fs::create_dir_all(&base_dir)?;
    let (per_commit, grouped, base_p99) = {
        let p = payload.clone();
        let d = base_dir.clone();
        let n = args.messages;
        tokio::task::spawn_blocking(move || sqlite_baseline(&d, &p, n)).await??
    };

    // Each phase starts on a quiet disk: what the previous one wrote is flushed first.
    settle_disk(&base_dir).await?;

    // Fixed rate on a fresh broker.
    let rate_dir = dir.path().join("rate");
    std::fs::create_dir_all(&rate_dir)?;
    let running = broker::start(&bench_config(&rate_dir, args.concurrency)?).await?;
    let url = format!("http://{}/api/v1/tenants/bench/messages", running.addr);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let body = bytes::Bytes::from(payload.clone());
    let n_rate = (args.rate as u64 * args.rate_seconds) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n_rate {
        tick.tick().await;
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.spawn(async move { post(&client, &url, body, format!("rate-{i}")).await });
    }
    let mut rate_lat = Vec::with_capacity(n_rate);
    while let Some(r) = tasks.join_next().await {
        rate_lat.push(r??);
    }
    rate_lat.sort();
    wait_delivered(&running.stores, n_rate).await?;
    let rate_e2e = delivery_latencies(&running.stores).await?;
    running.stop().await;
    settle_disk(&rate_dir).await?;

    // Max load on a fresh broker.
    let max_dir = dir.path().join("max");
    std::fs::create_dir_all(&max_dir)?;
    let running = broker::start(&bench_config(&max_dir, args.concurrency)?).await?;
    let url = format!("http://{}/api/v1/tenants/bench/messages", running.addr);
    let metrics_before = crate::telemetry::metrics::metrics().encode();
    let load = max_load(&url, &payload, args.clients, args.messages).await?;
    let (started, intake_secs, max_lat) = (load.started, load.intake_secs, load.latencies);
    wait_delivered(&running.stores, args.messages).await?;
    let delivered_secs = started.elapsed().as_secs_f64();
    let durability = durability_report(
        &metrics_before,
        &crate::telemetry::metrics::metrics().encode(),
    );
    running.stop().await;

    let n = args.messages as f64;
    println!();
    println!("{:<58} {:>14} {:>12} {:>12}", "", "msg/s", "p50", "p99");
    println!(
        "{:<58} {:>14.0} {:>12} {:>12}",
        "baseline: SQLite WAL FULL, insert+commit per message",
        per_commit,
        "",
        ms(base_p99)
    );
    println!(
        "{:<58} {:>14.0} {:>12} {:>12}",
        "baseline: SQLite WAL FULL, 100 inserts per commit", grouped, "", ""
    );
    println!(
        "{:<58} {:>14} {:>12} {:>12}",
        format!("amtsbote intake at {} msg/s (request → 202)", args.rate),
        args.rate,
        ms(percentile(&rate_lat, 0.5)),
        ms(percentile(&rate_lat, 0.99))
    );
    println!(
        "{:<58} {:>14} {:>12} {:>12}",
        format!("amtsbote at {} msg/s, received → delivered", args.rate),
        "",
        ms(percentile(&rate_e2e, 0.5)),
        ms(percentile(&rate_e2e, 0.99))
    );
    println!(
        "{:<58} {:>14.0} {:>12} {:>12}",
        format!("amtsbote intake, max load ({} clients)", args.clients),
        n / intake_secs,
        ms(percentile(&max_lat, 0.5)),
        ms(percentile(&max_lat, 0.99))
    );
    println!(
        "{:<58} {:>14.0} {:>12} {:>12}",
        "amtsbote intake → file connector delivered, max load",
        n / delivered_secs,
        "",
        ""
    );
    println!();
    println!(
        "ratio delivered / baseline per-commit: {:.2}",
        (n / delivered_secs) / per_commit
    );
    println!("max-load run: {durability}");
    Ok(ExitCode::SUCCESS)
}
