//! The plan: everything a start builds from a configuration before anything runs — routing
//! table, schema packs, connectors, sources with their keys and certificates, mappings, admin
//! tokens. The broker starts from a plan; `amtsbote check` ([`check`]) builds one too, so that
//! it finds exactly what a start would trip over.

mod check;

pub use check::{CheckReport, check};

use crate::config::{Config, ConfigError, MAX_JSON_DEPTH_BOUND};
use crate::connectors::{self, ConnectorHandle};
use crate::inbound::http::HttpSources;
use crate::inbound::{fit_connect, xta};
use crate::routing::Router;
use crate::worker::Mappings;
use amtsbote_xoev::Mapping;
use amtsbote_xoev::validate::{SchemaPack, Validator};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Everything startup builds from a configuration, before anything runs.
pub struct Plan {
    pub router: Router,
    /// Bundled and configured XSD schema packs, compiled.
    pub validator: Arc<Validator>,
    pub connectors: BTreeMap<String, ConnectorHandle>,
    pub sources: HttpSources,
    /// FIT-Connect destinations, keys loaded.
    pub fit_connect: Vec<Arc<fit_connect::Destination>>,
    /// XTA accounts (mailboxes), client certificates opened.
    pub xta: Vec<Arc<xta::Account>>,
    /// Compiled mapping files by id.
    pub mappings: Mappings,
    /// Bearer tokens of the admin API, read.
    pub admin_tokens: crate::admin::auth::Tokens,
}

/// Compiles every configured mapping file; errors name the file and line.
fn mappings(config: &Config) -> Result<Mappings, Vec<ConfigError>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (id, m) in &config.mappings {
        match Mapping::from_file(&m.file) {
            Ok(mapping) => {
                out.insert(id.clone(), Arc::new(mapping));
            }
            Err(e) => errors.push(ConfigError::new(
                None,
                Some(format!("mappings.{id}.file")),
                e.to_string(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(Arc::new(out))
    } else {
        Err(errors)
    }
}

pub fn plan(config: &Config) -> Result<Plan, Vec<ConfigError>> {
    let mut errors = config.server.errors();
    for (key, ids) in [
        ("tenants", config.tenants.keys().collect::<Vec<_>>()),
        ("connectors", config.connectors.keys().collect()),
        ("sources", config.sources.keys().collect()),
    ] {
        for id in ids {
            if !valid_id(id) {
                errors.push(ConfigError::new(None, Some(format!("{key}.{id}")),
                    "ids are lower-case letters, digits, `-` and `_` (at most 63), starting with a letter or digit"));
            }
        }
    }
    for (id, t) in &config.tenants {
        for cid in t.connectors.keys().chain(t.sources.keys()) {
            if !valid_id(cid) {
                errors.push(ConfigError::new(
                    None,
                    Some(format!("tenants.{id}.{cid}")),
                    "invalid id",
                ));
            }
        }
        if t.name.trim().is_empty() {
            errors.push(ConfigError::new(
                None,
                Some(format!("tenants.{id}.name")),
                "a tenant needs a name",
            ));
        }
        if let Some(ags) = &t.ags
            && !(ags.len() == 8 && ags.bytes().all(|b| b.is_ascii_digit()))
        {
            errors.push(ConfigError::new(
                None,
                Some(format!("tenants.{id}.ags")),
                "an Amtlicher Gemeindeschlüssel has 8 digits",
            ));
        }
    }
    if config.intake.max_document_bytes > config.intake.max_message_bytes {
        errors.push(ConfigError::new(
            None,
            Some("intake.max_document_bytes".into()),
            "must not exceed intake.max_message_bytes",
        ));
    }
    let intake = &config.intake;
    if intake.max_part_bytes == 0 {
        errors.push(ConfigError::new(
            None,
            Some("intake.max_part_bytes".into()),
            "must be at least 1",
        ));
    }
    if intake.max_parts == 0 {
        errors.push(ConfigError::new(
            None,
            Some("intake.max_parts".into()),
            "must be at least 1 (the document is a part)",
        ));
    }
    if !(1..=MAX_JSON_DEPTH_BOUND).contains(&intake.max_json_depth) {
        errors.push(ConfigError::new(
            None,
            Some("intake.max_json_depth".into()),
            format!("must be between 1 and {MAX_JSON_DEPTH_BOUND} (the JSON parser's own bound)"),
        ));
    }
    let router = Router::compile(config).map_err(|e| errors.extend(e)).ok();
    let validator = schema_packs(config).map_err(|e| errors.push(e)).ok();
    let connectors = connectors::build(config).map_err(|e| errors.extend(e)).ok();
    let sources = HttpSources::build(config)
        .map_err(|e| errors.extend(e))
        .ok();
    let fit_connect = fit_connect::build(config)
        .map_err(|e| errors.extend(e))
        .ok();
    let xta = xta::build(config).map_err(|e| errors.extend(e)).ok();
    let mappings = mappings(config).map_err(|e| errors.extend(e)).ok();
    let admin_tokens = crate::admin::auth::Tokens::build(&config.admin)
        .map_err(|e| errors.extend(e))
        .ok();
    match (
        router,
        validator,
        connectors,
        sources,
        fit_connect,
        xta,
        mappings,
        admin_tokens,
    ) {
        (
            Some(router),
            Some(validator),
            Some(connectors),
            Some(sources),
            Some(fit_connect),
            Some(xta),
            Some(mappings),
            Some(admin_tokens),
        ) if errors.is_empty() => Ok(Plan {
            router,
            validator,
            connectors,
            sources,
            fit_connect,
            xta,
            mappings,
            admin_tokens,
        }),
        _ => Err(errors),
    }
}

/// Compiles the bundled schema packs and the configured ones.
fn schema_packs(config: &Config) -> Result<Arc<Validator>, ConfigError> {
    let packs: Vec<SchemaPack> = config
        .schema_packs
        .iter()
        .map(|(name, p)| SchemaPack {
            name: name.clone(),
            namespace: p.namespace.clone(),
            entry: p.entry.clone(),
            dir: p.dir.clone(),
            catalog: p.catalog.clone(),
        })
        .collect();
    Validator::with_packs(&packs)
        .map(Arc::new)
        .map_err(|e| ConfigError::new(None, Some("schema_packs".into()), e.to_string()))
}

/// Configuration problems as one error, a line each.
pub fn invalid(errors: Vec<ConfigError>) -> anyhow::Error {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    anyhow::anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}
