//! `amtsbote bench fit-connect`: submissions per second from a sandbox Zustelldienst to
//! delivered and accepted, beside the crypto bound measured in the same run.
//!
//! The bound: RSA-4096 private-key operations per second on this machine (both cores), divided
//! by the private operations one submission costs the subscriber — one per JWE decrypted
//! (metadata, data, each attachment) and one for the signed answer (SET). Everything else
//! (AES-GCM, hashing, storing, delivering) is what the broker adds on top.

use crate::broker;
use crate::config::{
    Config, ConnectorConfig, RetryConfig, RouteConfig, SourceConfig, TenantConfig, TestMessages,
};
use crate::ledger::MessageFilter;
use crate::message::State;
use crate::sandbox::fit_connect::{SandboxInfo, sender_client};
use amtsbote_fit_connect::jose::{DecryptOptions, EncryptOptions, PrivateKey, PublicKey, jwe};
use amtsbote_fit_connect::sender::{self, Application, OutgoingAttachment, SendOptions};
use amtsbote_fit_connect::wire::ServiceType;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Private-key operations per submission with one attachment: metadata, data, attachment, SET.
const PRIVATE_OPS_PER_SUBMISSION: f64 = 4.0;

/// RSA-4096 private operations per second, on every core at once.
fn rsa_private_ops_per_second(key: &PrivateKey, public: &PublicKey) -> Result<f64> {
    let jwe = jwe::encrypt(b"{}", public, &EncryptOptions::default())?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let per_thread = 60;
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    jwe::decrypt(
                        jwe.as_bytes(),
                        std::slice::from_ref(key),
                        &DecryptOptions::default(),
                    )
                    .expect("decrypts");
                }
            });
        }
    });
    Ok((threads * per_thread) as f64 / t.elapsed().as_secs_f64())
}

pub async fn run(n: usize) -> Result<ExitCode> {
    crate::telemetry::init_logging(&crate::config::LogConfig {
        level: "error".into(),
        ..Default::default()
    });
    let dir = tempfile::Builder::new()
        .prefix("amtsbote-bench-fit-")
        .tempdir()?;
    let (setup, sandbox) =
        super::demo::start_zustelldienst(&dir.path().join("zustelldienst")).await?;
    let key = PrivateKey::from_jwk(&setup.encryption)?;
    let public = PublicKey::from_jwk(&setup.encryption.to_public())?;
    let ops =
        tokio::task::spawn_blocking(move || rsa_private_ops_per_second(&key, &public)).await??;
    let bound = ops / PRIVATE_OPS_PER_SUBMISSION;

    // N submissions of 20 KB XML and a 100 KB attachment wait at the Zustelldienst.
    let info: SandboxInfo =
        serde_json::from_slice(&std::fs::read(setup.dir.join("sandbox.json"))?)?;
    let client = sender_client(&info)?;
    let data = super::bench_support::message(20 * 1024);
    let attachment = vec![0x25u8; 100 * 1024];
    println!("amtsbote bench fit-connect — {n} submissions (20 KB XML + 100 KB attachment)");
    let submitting = Instant::now();
    for _ in 0..n {
        let app = Application {
            destination_id: setup.destination_id.clone(),
            service_type: ServiceType {
                name: Some("Gewerbeanmeldung".into()),
                identifier: "urn:de:fim:leika:leistung:99050012104000".into(),
            },
            data: data.clone(),
            data_mime_type: "application/xml".into(),
            data_schema_uri: "http://www.xgewerbeanzeige.de/spezifikation/2.2".into(),
            attachments: vec![OutgoingAttachment::new(
                attachment.clone(),
                "application/pdf",
                Some("anlage.pdf".into()),
            )],
        };
        sender::send(&client, &app, &SendOptions::default())
            .await
            .context("submitting")?;
    }
    println!(
        "submitted in {:.1} s (sender side, not measured below)",
        submitting.elapsed().as_secs_f64()
    );

    // The broker, started once everything waits: subscriber throughput only.
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse()?;
    c.storage.data_dir = dir.path().join("data");
    // Scratch data in a temporary directory: an ephemeral key.
    c.storage.payload_key_file = Some(crate::at_rest::ephemeral_key_file(dir.path())?);
    c.log.level = "error".into();
    let toml = setup.source_toml("bench", "portal", &sandbox).replace(
        "poll_interval = \"10s\"",
        "poll_interval = \"200ms\"\nconcurrency = 32",
    );
    let table: toml::Table = toml::from_str(&toml)?;
    let source = SourceConfig::deserialize(table["tenants"]["bench"]["sources"]["portal"].clone())?;
    let mut tenant = TenantConfig {
        name: "Benchmark".into(),
        ..Default::default()
    };
    tenant.sources.insert("portal".into(), source);
    c.tenants.insert("bench".into(), tenant);
    c.connectors.insert(
        "drop".into(),
        ConnectorConfig::File {
            directory: dir.path().join("drop"),
            concurrency: 16,
            retry: RetryConfig::default(),
        },
    );
    c.routes.push(RouteConfig {
        connector: "drop".into(),
        test_messages: TestMessages::Include,
        ..Default::default()
    });
    let started = Instant::now();
    let running = broker::start(&c).await?;
    loop {
        let delivered = running
            .stores
            .ledger
            .list(&MessageFilter {
                states: vec![State::Delivered],
                ..Default::default()
            })
            .await?
            .len();
        let open = running.stores.ledger.inbound_open("portal").await?.len();
        if delivered >= n && open == 0 {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "only {delivered} of {n} delivered after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    running.stop().await;
    sandbox.shutdown().await;

    let rate = n as f64 / secs;
    println!();
    println!("{:<66} {:>12}", "", "per second");
    println!(
        "{:<66} {:>12.1}",
        "RSA-4096 private-key operations, all cores", ops
    );
    println!(
        "{:<66} {:>12.1}",
        format!(
            "crypto bound: submissions ({} private operations each)",
            PRIVATE_OPS_PER_SUBMISSION
        ),
        bound
    );
    println!(
        "{:<66} {:>12.1}",
        "amtsbote: fetched, verified, delivered and accepted", rate
    );
    println!();
    println!(
        "ratio to the crypto bound: {:.2}  ({n} submissions in {secs:.1} s)",
        rate / bound
    );
    Ok(ExitCode::SUCCESS)
}
