//! Retention (Löschfrist): after a message reached a final state (delivered, rejected, or
//! resolved by an operator), its payload is deleted once the tenant's deletion period has
//! passed. Runs in the broker's maintenance loop; the ledger row stays, and each deletion is
//! recorded in its history as `purged` by actor `retention`, naming the period that applied.
//! [`purge`] is the one way a payload goes, also for an operator's purge in the admin API.

use crate::backend::Stores;
use crate::config::Config;
use crate::ledger::{Ledger, LedgerError, MessageFilter, MessageRecord, Transition};
use crate::message::{MessageId, State};
use crate::payload::PayloadStore;
use crate::telemetry::events::MessagePurged;
use std::collections::BTreeMap;
use std::time::Duration;

/// Messages purged per query and round: a backlog (a long outage, a shortened period) is
/// worked off over several rounds rather than in one long burst of deletions.
const BATCH: usize = 1000;

/// The deletion periods in force: `storage.retention`, and those tenants that set their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub default: Duration,
    pub tenants: BTreeMap<String, Duration>,
}

impl Retention {
    pub fn from_config(config: &Config) -> Retention {
        Retention {
            default: config.storage.retention,
            tenants: config
                .tenants
                .iter()
                .filter_map(|(id, t)| t.retention.map(|r| (id.clone(), r)))
                .collect(),
        }
    }

    /// The period that applies to `tenant`.
    pub fn of(&self, tenant: &str) -> Duration {
        self.tenants.get(tenant).copied().unwrap_or(self.default)
    }
}

/// One round: deletes the payloads of messages that reached a final state longer ago than
/// their tenant's period. Tenants with their own period are queried one by one (there are
/// few); everyone else in one query that leaves them out, so that a tenant keeping payloads
/// longer than the default cannot fill the batch and hold up the others.
pub async fn purge_expired(stores: &Stores, retention: &Retention) {
    let now = crate::message::now_millis();
    let cutoff = |period: Duration| now.saturating_sub(period.as_millis() as i64);
    let mut filters: Vec<MessageFilter> = retention
        .tenants
        .iter()
        .map(|(tenant, period)| MessageFilter {
            tenant: Some(tenant.clone()),
            updated_before: Some(cutoff(*period)),
            ..final_states()
        })
        .collect();
    filters.push(MessageFilter {
        updated_before: Some(cutoff(retention.default)),
        exclude_tenants: retention.tenants.keys().cloned().collect(),
        ..final_states()
    });
    for filter in filters {
        let Ok(expired) = stores.ledger.list(&filter).await else {
            continue;
        };
        for m in expired {
            let period = retention.of(&m.tenant);
            let reason = format!(
                "payload deleted after the retention period of {}",
                humantime::format_duration(period)
            );
            let purged = purge(
                stores.ledger.as_ref(),
                stores.payloads.as_ref(),
                &m,
                "retention",
                reason,
            );
            if purged.await.is_ok() {
                MessagePurged {
                    id: m.id,
                    tenant: &m.tenant,
                    parts: m.parts.len(),
                    retention: period,
                }
                .emit();
            }
        }
    }
}

fn final_states() -> MessageFilter {
    MessageFilter {
        states: vec![State::Delivered, State::Rejected, State::Resolved],
        limit: BATCH,
        ..Default::default()
    }
}

/// Why a payload could not be purged.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(
        "message {id} is {state}; only delivered, rejected, dead, unrouted or resolved messages can be purged"
    )]
    NotPurgeable { id: MessageId, state: State },
    #[error(
        "message {id}: deleting its payload failed ({reason}); nothing was recorded, try again"
    )]
    Payload { id: MessageId, reason: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Deletes a message's stored parts, then records `purged` by `actor`: the one way a payload
/// goes, for the retention sweep and an operator's purge alike. The payload goes first: a
/// crash in between leaves a message without payload that the next purge records.
pub async fn purge(
    ledger: &dyn Ledger,
    payloads: &dyn PayloadStore,
    m: &MessageRecord,
    actor: &str,
    reason: String,
) -> Result<(), PurgeError> {
    if !m.state.can_become(State::Purged) {
        return Err(PurgeError::NotPurgeable {
            id: m.id,
            state: m.state,
        });
    }
    payloads
        .delete(m.id)
        .await
        .map_err(|e| PurgeError::Payload {
            id: m.id,
            reason: e.to_string(),
        })?;
    ledger
        .transition(m.id, Transition::new(State::Purged, actor, reason))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_period_overrides_the_default() {
        let config: Config = toml::from_str(
            r#"
[storage]
retention = "30d"
[tenants.a]
name = "A"
retention = "2h"
[tenants.b]
name = "B"
"#,
        )
        .unwrap();
        let r = Retention::from_config(&config);
        assert_eq!(r.of("a"), Duration::from_secs(7200));
        assert_eq!(r.of("b"), Duration::from_secs(30 * 86_400));
        assert_eq!(r.tenants.len(), 1);
    }
}
