//! `amtsbote check`'s work: build everything a start would build, and look at the files and
//! directories it would use.

use crate::config::{ConfigError, Loaded, StorageConfig, TenantConfig};
use std::fmt;

/// What a valid configuration contains.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub files: usize,
    pub tenants: usize,
    pub sources: usize,
    pub connectors: usize,
    pub routes: usize,
    pub mappings: usize,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} file(s), {} tenant(s), {} source(s), {} connector(s), {} route(s), {} mapping(s)",
            self.files, self.tenants, self.sources, self.connectors, self.routes, self.mappings
        )
    }
}

pub fn check(loaded: &Loaded) -> Result<CheckReport, Vec<ConfigError>> {
    let c = &loaded.config;
    let mut errors = match super::plan(c) {
        Ok(_) => Vec::new(),
        Err(e) => e,
    };
    // The payload key: provisioned, readable, well-formed, private, not inside the data.
    if let Err(reason) = crate::at_rest::payload_key(&c.storage) {
        errors.push(ConfigError::new(
            None,
            Some("storage.payload_key_file".into()),
            reason,
        ));
    }
    errors.extend(check_backend(&c.storage));
    errors.extend(c.telemetry.problems());
    let data_dir = &c.storage.data_dir;
    if data_dir.exists() && !data_dir.is_dir() {
        errors.push(ConfigError::new(
            None,
            Some("storage.data_dir".into()),
            format!("{} is not a directory", data_dir.display()),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let tenant_count = |f: fn(&TenantConfig) -> usize| c.tenants.values().map(f).sum::<usize>();
    Ok(CheckReport {
        files: loaded.files.len(),
        tenants: c.tenants.len(),
        sources: c.sources.len() + tenant_count(|t| t.sources.len()),
        connectors: c.connectors.len() + tenant_count(|t| t.connectors.len()),
        routes: c.routes.len() + tenant_count(|t| t.routes.len()),
        mappings: c.mappings.len(),
    })
}

/// The backend's sections: present when the backend needs them, absent when it does not, and
/// every secret readable (not connected to: `check` works offline).
fn check_backend(s: &StorageConfig) -> Vec<ConfigError> {
    use crate::config::Backend;
    let mut errors = Vec::new();
    let mut err = |key: &str, reason: String| {
        errors.push(ConfigError::new(None, Some(key.to_string()), reason))
    };
    match s.backend {
        Backend::Embedded => {
            for (present, key) in [
                (s.postgres.is_some(), "storage.postgres"),
                (s.rabbitmq.is_some(), "storage.rabbitmq"),
                (s.s3.is_some(), "storage.s3"),
            ] {
                if present {
                    err(
                        key,
                        "only used by the cluster backend; set `storage.backend = \"cluster\"` or remove the section".into(),
                    );
                }
            }
        }
        Backend::Cluster => {
            match &s.postgres {
                None => err(
                    "storage.postgres",
                    "the cluster backend needs `[storage.postgres]` with `url = { file = … }` or `{ env = … }`".into(),
                ),
                Some(pg) => {
                    if let Err(e) = crate::secrets::read(&pg.url) {
                        err("storage.postgres.url", e);
                    }
                }
            }
            match &s.rabbitmq {
                None => err(
                    "storage.rabbitmq",
                    "the cluster backend needs `[storage.rabbitmq]` with `url = { file = … }` or `{ env = … }`".into(),
                ),
                Some(r) => {
                    if let Err(e) = crate::secrets::read(&r.url) {
                        err("storage.rabbitmq.url", e);
                    }
                    for (i, u) in r.fallback_urls.iter().enumerate() {
                        if let Err(e) = crate::secrets::read(u) {
                            err(&format!("storage.rabbitmq.fallback_urls[{i}]"), e);
                        }
                    }
                }
            }
            if let Some(s3) = &s.s3 {
                for (r, key) in [
                    (&s3.access_key_id, "storage.s3.access_key_id"),
                    (&s3.secret_access_key, "storage.s3.secret_access_key"),
                ] {
                    if let Err(e) = crate::secrets::read(r) {
                        err(key, e);
                    }
                }
            }
        }
    }
    errors
}
