//! Reading the configuration: the main file, `conf.d/*.toml` beside it (one tenant each),
//! then environment overrides. Each file is first parsed on its own so that an error can name
//! the file and line; the merge happens with the `config` crate.

use super::{AuthConfig, Config, ConnectorConfig, SecretRef, SourceConfig, TenantConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A configuration problem: where (file, key) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub key: Option<String>,
    pub reason: String,
}

impl ConfigError {
    pub fn new(file: Option<&Path>, key: Option<String>, reason: impl Into<String>) -> Self {
        ConfigError {
            file: file.map(Path::to_path_buf),
            key,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: ", file.display())?,
            None => write!(f, "configuration: ")?,
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The files read, main file first; empty when running on defaults.
    pub files: Vec<PathBuf>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Parses one file on its own, for precise errors.
fn parse_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(Some(path), None, format!("cannot read: {e}")))?;
    toml::from_str::<Config>(&text).map_err(|e| {
        let line = e.span().map(|s| line_of(&text, s.start));
        let reason = e.message().to_string();
        let reason = match line {
            Some(l) => format!("line {l}: {reason}"),
            None => reason,
        };
        ConfigError::new(Some(path), None, reason)
    })
}

/// The tenant files of `conf.d/` beside the main file, sorted by name.
fn tenant_files(main: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let dir = main.parent().unwrap_or(Path::new(".")).join("conf.d");
    let mut files = Vec::new();
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            for e in entries {
                let e = e.map_err(|e| ConfigError::new(Some(&dir), None, e.to_string()))?;
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ConfigError::new(
                Some(&dir),
                None,
                format!("cannot read: {e}"),
            ));
        }
    }
    files.sort();
    Ok(files)
}

/// What a `conf.d` file may hold: exactly one `[tenants.<id>]` table and nothing else, so
/// that a tenant can be added or removed by adding or removing one file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    tenants: BTreeMap<String, TenantConfig>,
}

/// Parses a `conf.d` file into its one tenant, in one pass over the text.
fn parse_tenant_file(path: &Path) -> Result<(String, TenantConfig), ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(Some(path), None, format!("cannot read: {e}")))?;
    let only_one = || {
        ConfigError::new(
            Some(path),
            None,
            "a conf.d file must contain exactly one [tenants.<id>] table and nothing else",
        )
    };
    match toml::from_str::<TenantFile>(&text) {
        Ok(file) if file.tenants.len() == 1 => {
            Ok(file.tenants.into_iter().next().expect("one tenant"))
        }
        Ok(_) => Err(only_one()),
        // Not a tenant file: name the error a main file would get (a key's file and line),
        // or, if it is a valid main file, say what a conf.d file may hold.
        Err(_) => match parse_file(path) {
            Err(e) => Err(e),
            Ok(_) => Err(only_one()),
        },
    }
}

/// Tenant ids (lower case) that an `AMTSBOTE__TENANTS__<ID>__…` environment override names.
fn overridden_tenants() -> BTreeSet<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| {
            let k = k.to_str()?.to_ascii_lowercase();
            let rest = k.strip_prefix("amtsbote__tenants__")?;
            Some(rest.split("__").next()?.to_string())
        })
        .collect()
}

/// Loads the configuration. `None` means: no file, defaults plus environment overrides.
pub fn load(main: Option<&Path>) -> Result<Loaded, Vec<ConfigError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    if let Some(main) = main {
        if !main.is_file() {
            return Err(vec![ConfigError::new(
                Some(main),
                None,
                "no such configuration file",
            )]);
        }
        files.push(main.to_path_buf());
        match tenant_files(main) {
            Ok(t) => files.extend(t),
            Err(e) => errors.push(e),
        }
    }
    // Tenant files are parsed one by one (for errors naming file and line) and, as a rule,
    // taken over as parsed: merging thousands of files through the `config` crate is
    // quadratic. Only a tenant that the main file also defines, that two files define, or that
    // an environment override names goes through the crate's merge, which gives the same
    // result for them.
    let overridden = overridden_tenants();
    let mut seen = BTreeMap::new();
    let mut direct = Vec::new();
    let mut merged_files = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            match parse_tenant_file(f) {
                Ok((id, tenant)) => {
                    *seen.entry(id.clone()).or_insert(0) += 1;
                    direct.push((f, id, tenant));
                }
                Err(e) => errors.push(e),
            }
            continue;
        }
        match parse_file(f) {
            Ok(c) => {
                for id in c.tenants.into_keys() {
                    *seen.entry(id).or_insert(0) += 1;
                }
                merged_files.push(f);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut taken = Vec::new();
    for (f, id, tenant) in direct {
        if seen[&id] > 1 || overridden.contains(&id.to_ascii_lowercase()) {
            merged_files.push(f);
        } else {
            taken.push((id, tenant));
        }
    }
    // The crate merges in file order (later files win), as before.
    merged_files.sort_by_key(|f| files.iter().position(|x| x == *f));

    let mut builder = config::Config::builder();
    for f in merged_files {
        builder =
            builder.add_source(config::File::from(f.as_path()).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("AMTSBOTE")
            .prefix_separator("__")
            .separator("__")
            // Numbers must become numbers here: values inside tagged tables (connectors) cannot
            // be converted later. Text fields that look like numbers lose leading zeros; the
            // AGS field puts them back (see `TenantConfig::ags`).
            .try_parsing(true),
    );
    let merged = builder
        .build()
        .and_then(|c| c.try_deserialize::<Config>())
        .map_err(|e| {
            vec![ConfigError::new(
                None,
                None,
                format!("{e} (after merging files and AMTSBOTE__ environment overrides)"),
            )]
        })?;

    let mut config = merged;
    config.tenants.extend(taken);
    if let Some(main) = main {
        let base = main.parent().map(Path::to_path_buf).unwrap_or_default();
        resolve_paths(&mut config, &base);
    }
    Ok(Loaded { config, files })
}

/// Relative paths in a file are relative to the directory of the main configuration file,
/// so a configuration works whatever directory the broker is started from.
fn resolve_paths(c: &mut Config, base: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    let fix_secret = |s: &mut SecretRef| {
        if let Some(f) = s.file.as_mut() {
            fix(f);
        }
    };
    fix(&mut c.storage.data_dir);
    for pack in c.schema_packs.values_mut() {
        fix(&mut pack.dir);
    }
    for mapping in c.mappings.values_mut() {
        fix(&mut mapping.file);
    }
    if let Some(k) = c.storage.payload_key_file.as_mut() {
        fix(k);
    }
    if let Some(pg) = c.storage.postgres.as_mut() {
        fix_secret(&mut pg.url);
    }
    if let Some(r) = c.storage.rabbitmq.as_mut() {
        fix_secret(&mut r.url);
        r.fallback_urls.iter_mut().for_each(&fix_secret);
    }
    for t in c.admin.tokens.iter_mut() {
        fix_secret(&mut t.token);
    }
    if let Some(s3) = c.storage.s3.as_mut() {
        fix_secret(&mut s3.access_key_id);
        fix_secret(&mut s3.secret_access_key);
    }

    let sources = c
        .sources
        .values_mut()
        .chain(c.tenants.values_mut().flat_map(|t| t.sources.values_mut()));
    for s in sources {
        match s {
            SourceConfig::Http { token, .. } => fix_secret(token),
            SourceConfig::FitConnect(f) => {
                fix_secret(&mut f.client_secret);
                fix_secret(&mut f.signing_key);
                f.decryption_keys.iter_mut().for_each(&fix_secret);
                if let Some(c) = f.callback_secret.as_mut() {
                    fix_secret(c);
                }
            }
            SourceConfig::Xta(x) => {
                fix(&mut x.client_certificate);
                fix_secret(&mut x.client_certificate_password);
                if let Some(ca) = x.ca_certificate.as_mut() {
                    fix(ca);
                }
            }
        }
    }
    let connectors = c.connectors.values_mut().chain(
        c.tenants
            .values_mut()
            .flat_map(|t| t.connectors.values_mut()),
    );
    for conn in connectors {
        match conn {
            ConnectorConfig::Http { auth, .. } => match auth {
                Some(AuthConfig::Bearer { token }) => fix_secret(token),
                Some(AuthConfig::Basic { password, .. }) => fix_secret(password),
                None => {}
            },
            ConnectorConfig::File { directory, .. } => fix(directory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn no_file_means_defaults() {
        let l = load(None).unwrap();
        assert!(l.files.is_empty());
        assert_eq!(l.config.server.listen.port(), 8470);
        assert!(l.config.tenants.is_empty());
    }

    #[test]
    fn unknown_keys_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "amtsbote.toml",
            "[server]\nlisten = \"127.0.0.1:1\"\n\n[storage]\ndata_dri = \"x\"\n",
        );
        let errs = load(Some(&main)).unwrap_err();
        let text = errs[0].to_string();
        assert!(text.contains("amtsbote.toml"), "{text}");
        assert!(text.contains("line 5"), "{text}");
        assert!(text.contains("data_dri"), "{text}");
    }

    #[test]
    fn tenant_files_merge_and_paths_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "amtsbote.toml",
            "[storage]\ndata_dir = \"data\"\n[connectors.dms]\nkind = \"file\"\ndirectory = \"drop\"\n",
        );
        write(
            dir.path(),
            "conf.d/musterstadt.toml",
            "[tenants.musterstadt]\nname = \"Musterstadt\"\nags = \"09162000\"\n[[tenants.musterstadt.routes]]\nconnector = \"dms\"\n",
        );
        write(
            dir.path(),
            "conf.d/beispielheim.toml",
            "[tenants.beispielheim]\nname = \"Beispielheim\"\n",
        );
        let l = load(Some(&main)).unwrap();
        assert_eq!(l.files.len(), 3);
        assert_eq!(l.config.tenants.len(), 2);
        assert_eq!(l.config.tenants["musterstadt"].routes.len(), 1);
        assert_eq!(l.config.storage.data_dir, dir.path().join("data"));
        match &l.config.connectors["dms"] {
            ConnectorConfig::File { directory, .. } => {
                assert_eq!(directory, &dir.path().join("drop"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tenant_file_holds_one_tenant_only() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(dir.path(), "amtsbote.toml", "");
        write(
            dir.path(),
            "conf.d/x.toml",
            "[tenants.a]\nname = \"A\"\n[tenants.b]\nname = \"B\"\n",
        );
        let errs = load(Some(&main)).unwrap_err();
        assert!(errs[0].to_string().contains("exactly one"), "{}", errs[0]);
        // Not even a section that merely repeats a default.
        write(
            dir.path(),
            "conf.d/x.toml",
            "[tenants.a]\nname = \"A\"\n[mappings.m]\nfile = \"m.toml\"\n",
        );
        assert!(load(Some(&main)).is_err());
        write(
            dir.path(),
            "conf.d/x.toml",
            "[tenants.a]\nname = \"A\"\n[server]\n",
        );
        assert!(load(Some(&main)).is_err());
        write(dir.path(), "conf.d/x.toml", "[tenants.a]\nname = \"A\"\n");
        assert!(load(Some(&main)).is_ok());
    }
}
