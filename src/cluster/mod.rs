//! The cluster backend: what an IT service provider runs when one machine is not enough —
//! the ledger on PostgreSQL, the queues on RabbitMQ, payloads on S3-compatible object
//! storage, several broker replicas sharing them. Chosen by configuration only; the same
//! traits ([`crate::ledger::Ledger`], [`crate::queue::Queue`],
//! [`crate::payload::PayloadStore`]) and the same tests as the embedded backend.

pub mod envelope;
pub mod pg;
pub mod rabbit;

pub use pg::PgLedger;
pub use rabbit::RabbitQueue;

/// The shared test suite of the ledger and queue seams on the whole cluster backend:
/// PostgreSQL ledger, its outbox, the relay, RabbitMQ queues.
#[cfg(test)]
mod conformance_tests {
    use super::pg::tests::TestSchema;
    use super::rabbit::tests::{Cleanup, amqp_url, config, prefix};
    use super::{PgLedger, RabbitQueue};
    use crate::conformance::{self, Subject};
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    struct Rig {
        subject: Subject,
        _schema: TestSchema,
        _cleanup: Cleanup,
        _dir: tempfile::TempDir,
        stop: CancellationToken,
    }

    impl Drop for Rig {
        fn drop(&mut self) {
            self.stop.cancel();
        }
    }

    async fn rig(connectors: &[&str]) -> Rig {
        let schema = TestSchema::new().await;
        let ledger: PgLedger = schema.ledger().await;
        let dir = tempfile::tempdir().unwrap();
        let prefix = prefix();
        let connectors: Vec<String> = connectors.iter().map(|c| c.to_string()).collect();
        let cleanup = Cleanup {
            prefix: prefix.clone(),
            connectors: connectors.clone(),
        };
        let cfg = config(dir.path(), &prefix, &amqp_url(), &[]);
        let prefetch: HashMap<String, u16> = connectors.iter().map(|c| (c.clone(), 4)).collect();
        let queue = RabbitQueue::connect(&cfg, Arc::new(ledger.clone()), prefetch, &connectors)
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let _relay = queue.spawn_relay(Arc::new(ledger.clone()), stop.clone());
        Rig {
            subject: Subject {
                ledger: Arc::new(ledger),
                queue: Arc::new(queue),
                // RabbitMQ has no visibility timeout: a delivery comes back when the
                // consumer that held it is gone.
                visibility_timeout: Duration::from_secs(1),
            },
            _schema: schema,
            _cleanup: cleanup,
            _dir: dir,
            stop,
        }
    }

    macro_rules! suite {
        ($($name:ident: $connectors:expr),* $(,)?) => {$(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let r = rig(&$connectors).await;
                conformance::$name(&r.subject).await;
            }
        )*};
    }

    suite!(
        admission_and_dedupe: ["c1"],
        one_replica_holds_a_poller_lease: ["gewerbe"],
        the_state_machine_is_enforced: ["gewerbe"],
        lease_settle_and_dead_letters: ["lease", "quiet"],
        retries_are_delayed: ["retry"],
        expired_leases_come_back: ["expiry"],
        stale_entries_are_dropped: ["stale"],
        the_inbound_journal_remembers_open_work: ["gewerbe"],
    );
}
