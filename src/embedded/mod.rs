//! The embedded deployment: ledger and queue in one SQLite file, payloads in a local
//! directory. Zero setup; what `amtsbote run` uses without configuration.

pub mod db;
pub mod ledger;
pub mod queue;

pub use db::Database;
pub use ledger::SqliteLedger;
pub use queue::SqliteQueue;

#[cfg(test)]
mod tests {
    //! The embedded backend against the shared suite, plus what only SQLite can show.
    use super::*;
    use crate::conformance::{self, Subject};
    use crate::ledger::ChainVerdict;
    use std::sync::Arc;
    use std::time::Duration;

    fn subject(dir: &tempfile::TempDir) -> (Subject, Database) {
        let db = Database::open(&dir.path().join("t.db")).unwrap();
        let visibility = Duration::from_millis(300);
        let subject = Subject {
            ledger: Arc::new(SqliteLedger::new(db.clone())),
            queue: Arc::new(SqliteQueue::new(
                db.clone(),
                visibility,
                Duration::from_millis(50),
            )),
            visibility_timeout: visibility,
        };
        (subject, db)
    }

    macro_rules! suite {
        ($($name:ident),*) => {$(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let (s, _db) = subject(&dir);
                conformance::$name(&s).await;
            }
        )*};
    }

    suite!(
        admission_and_dedupe,
        one_replica_holds_a_poller_lease,
        the_state_machine_is_enforced,
        lease_settle_and_dead_letters,
        retries_are_delayed,
        expired_leases_come_back,
        stale_entries_are_dropped,
        the_inbound_journal_remembers_open_work,
        list_filters_and_pages,
        resolve_and_purge_are_audited,
        the_trace_context_is_kept
    );

    #[tokio::test(flavor = "multi_thread")]
    async fn tampering_with_the_history_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (s, db) = subject(&dir);
        let m = conformance::new_message(None, Some("c"));
        let id = m.id;
        s.ledger.admit(m).await.unwrap();
        // The history is append-only for SQL too.
        let refused = db
            .write(move |c| {
                c.execute(
                    "UPDATE history SET reason = 'x' WHERE message_id = ?1",
                    [id.to_string()],
                )
                .map_err(db::DbFailure::from)
            })
            .await;
        assert!(refused.is_err(), "the trigger refuses updates");
        // Someone drops the trigger and rewrites a reason: the chain shows it.
        db.write(move |c| {
            c.execute_batch("DROP TRIGGER history_is_append_only_update")?;
            c.execute(
                "UPDATE history SET reason = 'edited' WHERE message_id = ?1 AND seq = 2",
                [id.to_string()],
            )
            .map_err(db::DbFailure::from)
        })
        .await
        .unwrap();
        assert_eq!(
            s.ledger.verify(id).await.unwrap(),
            ChainVerdict::Broken { seq: 2 }
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn leases_of_a_dead_process_are_released_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let (s, db) = subject(&dir);
        s.ledger
            .admit(conformance::new_message(None, Some("c")))
            .await
            .unwrap();
        let mut consumer = s.queue.consume("c").await.unwrap();
        let _held = consumer.next_batch(1, "w").await.unwrap();
        let queue = SqliteQueue::new(
            db.clone(),
            Duration::from_secs(3600),
            Duration::from_millis(50),
        );
        assert_eq!(queue.release_all_leases().await.unwrap(), 1);
        let d = tokio::time::timeout(Duration::from_secs(2), consumer.next_batch(1, "w"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d[0].attempt, 2, "the interrupted attempt counts");
    }
}
