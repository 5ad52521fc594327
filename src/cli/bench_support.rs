//! What the bench suites share: the test message, the benchmark configuration, a load
//! generator posting to intake, waiting for deliveries, percentiles. Each suite (`bench.rs`
//! dispatches to them) takes these from here rather than from another suite.

use crate::config::{
    Config, ConnectorConfig, RetryConfig, RouteConfig, SecretRef, SourceConfig, TenantConfig,
};
use crate::message::State;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A well-formed XGewerbeanzeige 2.2 message padded to `size` bytes with a comment.
pub fn message(size: usize) -> Vec<u8> {
    let base = include_str!("../../examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml");
    let mut s = base.to_string();
    if s.len() + 7 < size {
        let pad = "x".repeat(size - s.len() - 7);
        s.push_str(&format!("<!--{pad}-->"));
    }
    s.into_bytes()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub fn bench_config(dir: &std::path::Path, concurrency: usize) -> Result<Config> {
    std::fs::write(dir.join("token"), "bench-token")?;
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse()?;
    c.storage.data_dir = dir.join("data");
    // Scratch data in a temporary directory: an ephemeral key.
    c.storage.payload_key_file = Some(crate::at_rest::ephemeral_key_file(dir)?);
    c.queue.poll_interval = Duration::from_millis(100);
    c.log.level = "error".into();
    c.tenants.insert(
        "bench".into(),
        TenantConfig {
            name: "Benchmark".into(),
            ..Default::default()
        },
    );
    c.sources.insert(
        "load".into(),
        SourceConfig::Http {
            token: SecretRef {
                file: Some(dir.join("token")),
                env: None,
            },
            tenants: vec!["*".into()],
        },
    );
    c.connectors.insert(
        "drop".into(),
        ConnectorConfig::File {
            directory: dir.join("drop"),
            concurrency,
            retry: RetryConfig::default(),
        },
    );
    c.routes.push(RouteConfig {
        connector: "drop".into(),
        test_messages: crate::config::TestMessages::Include,
        ..Default::default()
    });
    Ok(c)
}

/// Removes a finished phase's data and flushes the file system, so that write-back of one
/// phase does not slow the next.
pub async fn settle_disk(dir: &std::path::Path) -> Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let _ = std::fs::remove_dir_all(&dir);
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: bytes::Bytes,
    tid: String,
) -> Result<Duration> {
    let s = Instant::now();
    let resp = client
        .post(url)
        .bearer_auth("bench-token")
        .header("Content-Type", "application/xml")
        .header("X-Transport-Id", tid)
        .body(body)
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().as_u16() == 202,
        "intake answered {}",
        resp.status()
    );
    Ok(s.elapsed())
}

pub async fn wait_delivered(stores: &crate::backend::Stores, n: usize) -> Result<()> {
    loop {
        let done = stores
            .ledger
            .count_by_state()
            .await?
            .iter()
            .filter(|c| c.state == State::Delivered)
            .map(|c| c.count as usize)
            .sum::<usize>();
        if done >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a max-load run measured.
pub struct Load {
    pub started: Instant,
    /// From the first request until the last `202`.
    pub intake_secs: f64,
    /// Request → `202`, sorted.
    pub latencies: Vec<Duration>,
}

/// Posts `total` copies of `payload` to `url` from `clients` concurrent HTTP clients, each
/// with its own transport id, as fast as intake answers.
pub async fn max_load(url: &str, payload: &[u8], clients: usize, total: usize) -> Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let body = bytes::Bytes::from(payload.to_vec());
    let url = Arc::new(url.to_string());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (client, url, body, next) = (client.clone(), url.clone(), body.clone(), next.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(lat);
                }
                lat.push(post(&client, &url, body.clone(), format!("max-{i}")).await?);
            }
        });
    }
    let mut latencies = Vec::with_capacity(total);
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r.context("load client")??);
    }
    let intake_secs = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(Load {
        started,
        intake_secs,
        latencies,
    })
}
