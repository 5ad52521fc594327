//! Retention per tenant: a tenant's own deletion period (`tenants.<id>.retention`) overrides
//! `storage.retention`; payloads are deleted after delivery plus the period, and each deletion
//! is recorded in the message's history (actor `retention`) and counted.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use std::time::Duration;

/// Whether the payload store directory holds a part of message `id` (`<shard>/<id>.<part>`).
fn stored(b: &Broker, id: &str) -> bool {
    let Ok(shards) = std::fs::read_dir(b.data_dir().join("payloads")) else {
        return false;
    };
    shards.flatten().any(|shard| {
        std::fs::read_dir(shard.path())
            .map(|files| {
                files
                    .flatten()
                    .any(|f| f.file_name().to_string_lossy().starts_with(id))
            })
            .unwrap_or(false)
    })
}

async fn a_tenant_period_purges_its_payloads_and_keeps_the_others(backend: Backend) {
    // `kurzfrist` keeps payloads for one second; `cottbus` has the default (30 days).
    let extra = r#"
[tenants.kurzfrist]
name = "Amt Kurzfrist"
retention = "1s"
"#;
    let mut b = Broker::start_with(backend, Behaviour::default(), extra).await;
    let mut ids = Vec::new();
    for (tenant, tid) in [("kurzfrist", "k-1"), ("cottbus", "c-1")] {
        let (status, body) = b
            .post(tenant, gewerbe_xml(), "application/xml", Some(tid))
            .await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        b.wait_state(&id, "delivered", 20).await;
        ids.push(id);
    }
    let (short, default) = (&ids[0], &ids[1]);
    // The broker purges at start and every 10 minutes: past the short period, a restart
    // runs a round now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(b.terminate().success());
    b.spawn().await;

    let purged = b.wait_state(short, "purged", 20).await;
    let last = purged["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["state"], "purged", "{purged:#}");
    assert_eq!(last["actor"], "retention");
    assert_eq!(
        last["reason"],
        "payload deleted after the retention period of 1s"
    );
    assert_eq!(
        purged["chain"]["Intact"]["entries"], 6,
        "the purge is part of the audit trail: {purged:#}"
    );
    let kept = b.show(default);
    assert_eq!(kept["state"], "delivered", "{kept:#}");
    // Only the short-period tenant's payload is gone from the store.
    assert!(!stored(&b, short), "the purged payload is deleted");
    assert!(stored(&b, default), "the other tenant's payload is kept");

    let text = reqwest::get(format!("{}/metrics", b.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("amtsbote_messages_purged_total{tenant=\"kurzfrist\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("amtsbote_messages_purged_total{tenant=\"cottbus\"}"),
        "{text}"
    );
}

common::on_both_backends!(a_tenant_period_purges_its_payloads_and_keeps_the_others);
