//! `amtsbote bench xta`: messages per second from a sandbox XTA server's mailbox to
//! delivered (fetched, stored, routed, written by the file connector, closed at the server),
//! beside two figures from the same run on the same machine:
//!
//! - the XTA transport alone: a client listing, fetching and closing the same messages with
//!   the same parallelism and nothing else (what the sandbox server and TLS allow);
//! - HTTP intake of the same messages to delivered (the broker's other door, see
//!   `amtsbote bench intake`).
//!
//! The sandbox runs in this process, so server and broker share the cores: the figures are a
//! lower bound for a broker talking to a real XTA server elsewhere.

use crate::broker;
use crate::config::{SourceConfig, TenantConfig};
use crate::sandbox::xta::{SAMPLE_AUTHOR, Setup, sample_message};
use amtsbote_xta::XtaClient;
use amtsbote_xta::client::{ClientConfig, ClientIdentity, TrustAnchors};
use amtsbote_xta::sandbox::RunningSandbox;
use amtsbote_xta::{MessageMetaData, PartyIdentifier};
use anyhow::{Context, Result};
use futures::StreamExt;
use serde::Deserialize;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAILBOX: &str = "ags:00000001";
/// Messages fetched at once, by the broker (its `concurrency`) and by the bare client: the
/// default-ish setting, and one that lets intake group more commits.
const CONCURRENCY: [usize; 2] = [8, 32];
const PAGE: u32 = 100;

/// Puts `n` copies of the payload into the mailbox.
fn seed(server: &RunningSandbox, payload: &[u8], n: usize) -> Result<()> {
    for _ in 0..n {
        let (metadata, container) = sample_message(payload, SAMPLE_AUTHOR, MAILBOX, Vec::new())?;
        server.control.deliver(metadata, container)?;
    }
    Ok(())
}

fn open_messages(server: &RunningSandbox) -> usize {
    server
        .control
        .mailbox(MAILBOX)
        .iter()
        .filter(|e| !e.closed)
        .count()
}

/// The bare transport: list, fetch and close everything, `concurrency` at a time.
async fn drain(client: &XtaClient, concurrency: usize) -> Result<usize> {
    let mut taken = 0;
    loop {
        let page = client.get_status_list(PAGE).await?;
        if page.messages.is_empty() {
            return Ok(taken);
        }
        let results: Vec<Result<()>> = futures::stream::iter(page.messages)
            .map(|m: MessageMetaData| async move {
                let fetched = client.get_message(&m.message_id).await?;
                anyhow::ensure!(fetched.container.content_bytes() > 0);
                client.close(None, &[&m.message_id]).await?;
                Ok(())
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for r in results {
            r?;
            taken += 1;
        }
    }
}

pub async fn run(n: usize, size: usize, clients: usize) -> Result<ExitCode> {
    crate::telemetry::init_logging(&crate::config::LogConfig {
        level: "error".into(),
        ..Default::default()
    });
    let dir = tempfile::Builder::new()
        .prefix("amtsbote-bench-xta-")
        .tempdir_in(".")?;
    let payload = super::bench_support::message(size);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "amtsbote bench xta — {n} messages of {} bytes, {cores} cores",
        payload.len()
    );
    let setup = Setup::load_or_create(&dir.path().join("xta"), &[format!("bench={MAILBOX}")])?;

    let password = std::fs::read_to_string(setup.dir.join(crate::sandbox::xta::PASSWORD_FILE))?;
    let mut config = ClientConfig::new(amtsbote_xta::client::Endpoints::from_base(
        "https://127.0.0.1",
    ));
    config.identity = Some(ClientIdentity::from_pkcs12_file(
        setup.pkcs12("bench").context("bench account")?,
        password.trim(),
    )?);
    config.trust = Some(TrustAnchors::from_pem_file(&setup.local.ca_pem)?);
    config.builtin_roots = false;
    config.author = Some(PartyIdentifier::xoev(MAILBOX));
    // (concurrency, transport alone s, broker s)
    let mut runs = Vec::new();
    for concurrency in CONCURRENCY {
        // A fresh server each time: its mailbox scans grow with what it holds.
        let server = setup.start("127.0.0.1:0".parse()?).await?;
        config.endpoints = server.endpoints.clone();
        let client = XtaClient::new(config.clone())?;
        // 1. The XTA transport alone.
        seed(&server, &payload, n)?;
        let started = Instant::now();
        let drained = drain(&client, concurrency).await?;
        let transport_secs = started.elapsed().as_secs_f64();
        anyhow::ensure!(drained == n, "the bare client took {drained} of {n}");

        // 2. The broker reading the mailbox, started once everything waits.
        seed(&server, &payload, n)?;
        let xta_dir = dir.path().join(format!("broker-xta-{concurrency}"));
        std::fs::create_dir_all(&xta_dir)?;
        let mut c = super::bench_support::bench_config(&xta_dir, 64)?;
        let toml = setup
            .source_toml("bench", "postfach", "bench", MAILBOX, &server)
            .replace(
                "poll_interval = \"5s\"",
                &format!(
                    "poll_interval = \"200ms\"\nmax_list_items = {PAGE}\nconcurrency = {concurrency}"
                ),
            );
        let table: toml::Table = toml::from_str(&toml)?;
        let source =
            SourceConfig::deserialize(table["tenants"]["bench"]["sources"]["postfach"].clone())?;
        c.tenants.insert(
            "bench".into(),
            TenantConfig {
                name: "Benchmark".into(),
                sources: [("postfach".to_string(), source)].into(),
                ..Default::default()
            },
        );
        let started = Instant::now();
        let running = broker::start(&c).await?;
        super::bench_support::wait_delivered(&running.stores, n).await?;
        while open_messages(&server) > 0 {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(1800),
                "messages still open after 30 minutes"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let xta_secs = started.elapsed().as_secs_f64();
        running.stop().await;
        super::bench_support::settle_disk(&xta_dir).await?;
        runs.push((concurrency, transport_secs, xta_secs));
        server.shutdown().await;
    }

    // 3. The same messages through HTTP intake.
    let http_dir = dir.path().join("broker-http");
    std::fs::create_dir_all(&http_dir)?;
    let running = broker::start(&super::bench_support::bench_config(&http_dir, 64)?).await?;
    let url = Arc::new(format!(
        "http://{}/api/v1/tenants/bench/messages",
        running.addr
    ));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let body = bytes::Bytes::from(payload.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, url, body, next) = (http.clone(), url.clone(), body.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(());
                }
                super::bench_support::post(&http, &url, body.clone(), format!("http-{i}")).await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("load client")??;
    }
    super::bench_support::wait_delivered(&running.stores, n).await?;
    let http_secs = started.elapsed().as_secs_f64();
    running.stop().await;
    super::bench_support::settle_disk(&http_dir).await?;

    let rate = |secs: f64| n as f64 / secs;
    println!();
    println!("{:<74} {:>10}", "", "msg/s");
    for (concurrency, transport_secs, _) in &runs {
        println!(
            "{:<74} {:>10.0}",
            format!("XTA transport alone: list + getMessage + close, {concurrency} at a time"),
            rate(*transport_secs)
        );
    }
    for (concurrency, _, xta_secs) in &runs {
        println!(
            "{:<74} {:>10.0}",
            format!(
                "amtsbote XTA mailbox → file connector delivered + closed (concurrency {concurrency})"
            ),
            rate(*xta_secs)
        );
    }
    println!(
        "{:<74} {:>10.0}",
        format!("amtsbote HTTP intake → file connector delivered ({clients} clients)"),
        rate(http_secs)
    );
    println!();
    for (concurrency, transport_secs, xta_secs) in &runs {
        println!(
            "concurrency {concurrency}: ratio XTA / HTTP {:.2}, XTA / transport alone {:.2}  (XTA {xta_secs:.1} s, HTTP {http_secs:.1} s for {n} messages)",
            rate(*xta_secs) / rate(http_secs),
            rate(*xta_secs) / rate(*transport_secs)
        );
    }
    Ok(ExitCode::SUCCESS)
}
