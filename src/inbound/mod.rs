//! Inbound adapters: the doors messages come in through. Each one hands messages to
//! [`crate::intake`] and acknowledges its transport only after intake made them durable.

pub mod fit_connect;
pub mod http;
pub mod xta;

use crate::config::{Config, ConfigError, SourceConfig};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a polling transport says about itself to [`build_sources`].
pub(crate) struct SourceKind<'a, C, K> {
    /// Its configurations among all sources (`SourceConfig::FitConnect`, …).
    pub select: fn(&SourceConfig) -> Option<&C>,
    /// Refusal when declared outside a tenant, e.g. "a FIT-Connect destination belongs to
    /// one tenant: …".
    pub needs_tenant: &'a str,
    /// What must not be configured twice, the field to name when it is, and why.
    pub identity: fn(&C) -> K,
    pub duplicate: (&'a str, &'a str),
}

/// Builds every source of one transport that reads a tenant's mailbox or destination: each
/// must belong to a tenant and be configured once; `build_one(id, tenant, config, key)` reads
/// its secrets and keys. All problems are collected, each named by its configuration key.
pub(crate) fn build_sources<C, K: Ord, T>(
    config: &Config,
    kind: SourceKind<'_, C, K>,
    build_one: impl Fn(&str, &str, &C, &str) -> Result<T, Vec<ConfigError>>,
) -> Result<Vec<Arc<T>>, Vec<ConfigError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, id, source, tenant) in config.all_sources() {
        let Some(c) = (kind.select)(source) else {
            continue;
        };
        let Some(tenant) = tenant else {
            errors.push(ConfigError::new(None, Some(key), kind.needs_tenant));
            continue;
        };
        if !seen.insert((kind.identity)(c)) {
            let (field, reason) = kind.duplicate;
            errors.push(ConfigError::new(
                None,
                Some(format!("{key}.{field}")),
                reason,
            ));
            continue;
        }
        match build_one(id, tenant, c, &key) {
            Ok(built) => out.push(Arc::new(built)),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
