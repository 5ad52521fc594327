//! Schema packs: the XSD files of one XÖV standard version, with the catalog that maps
//! the URLs they import to files in the pack.
//!
//! A pack comes either from the crate itself (the bundled packs, compiled into the
//! binary, see [`super::bundled`]) or from a folder an operator configures
//! ([`SchemaPack`]). Both end up as a [`Resolver`]: the one object that decides which
//! bytes libxml2 gets for a URL while the pack compiles. It only ever answers with files
//! of its own pack.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ValidateError;
use super::bundled;
use super::catalog::{Catalog, normalize};
use super::libxml2::PACK_SCHEME;

/// Largest single file a pack may contain (the largest XÖV schema file we know of,
/// XWasser's baukasten, is about 0.6 MB).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A schema pack in a folder, as an operator configures it: which namespace it
/// validates, where its files are and which file is the entry schema.
///
/// ```toml
/// [[xoev.schema_packs]]
/// name = "xbeteiligung-1.3"
/// namespace = "http://www.xleitstelle.de/xbeteiligung/13"
/// dir = "/etc/amtsbote/schemas/xbeteiligung-1.3"
/// entry = "xbeteiligung.xsd"
/// ```
///
/// The entry schema must declare `namespace` as its target namespace and must reach
/// every message type (via `xs:include`/`xs:import`); write a small entry file that
/// includes all message schemas if the standard ships none. URLs the schemas import are
/// mapped to files in `dir` by an OASIS catalog (`catalog.xml` in `dir` unless `catalog`
/// names another file). Nothing outside `dir` is ever read, nothing is downloaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaPack {
    /// Name shown in results and errors, e.g. `xbau-2.6`: ASCII letters, digits, `.`,
    /// `-` and `_`, at most 64 characters.
    pub name: String,
    /// The target namespace the pack validates: messages whose root element is in this
    /// namespace are validated against it (exact match).
    pub namespace: String,
    /// The entry schema, relative to `dir`.
    pub entry: PathBuf,
    /// The folder holding the pack's files.
    pub dir: PathBuf,
    /// The OASIS XML catalog, relative to `dir`. Default: `catalog.xml` if it exists,
    /// otherwise no catalog (then every import must be a relative path inside `dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PathBuf>,
}

/// A pack ready to compile.
pub(crate) struct PreparedPack {
    pub name: String,
    pub namespace: String,
    /// Pack path of the entry schema.
    pub entry: String,
    pub resolver: Resolver,
}

impl SchemaPack {
    /// Checks the configuration and reads the catalog.
    pub(crate) fn prepare(&self) -> Result<PreparedPack, ValidateError> {
        let config = |reason: String| ValidateError::PackConfig {
            pack: self.name.clone(),
            reason,
        };
        check_name(&self.name).map_err(config)?;
        if self.namespace.trim().is_empty() {
            return Err(config("the namespace is empty".into()));
        }
        let root = fs::canonicalize(&self.dir).map_err(|e| {
            config(format!(
                "cannot open the folder {}: {e}",
                self.dir.display()
            ))
        })?;
        let files = Files::Directory { root };
        let entry = pack_path(&self.entry).map_err(|()| {
            config(format!(
                "entry {} must be a relative path inside the pack folder",
                self.entry.display()
            ))
        })?;
        files.read(&entry).map_err(|e| {
            config(format!(
                "cannot read the entry schema {}: {e}",
                self.dir.join(&self.entry).display()
            ))
        })?;
        let catalog_path = match &self.catalog {
            Some(path) => Some(pack_path(path).map_err(|()| {
                config(format!(
                    "catalog {} must be a relative path inside the pack folder",
                    path.display()
                ))
            })?),
            None => files
                .exists("catalog.xml")
                .then(|| "catalog.xml".to_owned()),
        };
        let catalog = match catalog_path {
            Some(path) => {
                let xml = files
                    .read(&path)
                    .map_err(|e| config(format!("cannot read the catalog {path}: {e}")))?;
                let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
                Catalog::parse(&xml, dir)
                    .map_err(|reason| config(format!("catalog {path}: {reason}")))?
            }
            None => Catalog::default(),
        };
        Ok(PreparedPack {
            name: self.name.clone(),
            namespace: self.namespace.trim().to_owned(),
            entry,
            resolver: Resolver {
                pack: self.name.clone(),
                files,
                catalog,
            },
        })
    }
}

/// Pack names become part of virtual URLs and appear in logs: keep them plain.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if plain {
        Ok(())
    } else {
        Err("a pack name consists of 1 to 64 ASCII letters, digits, '.', '-' or '_'".into())
    }
}

/// A configured relative path as a pack path (`/`-separated, normalised, inside).
fn pack_path(path: &Path) -> Result<String, ()> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().ok_or(())?),
            Component::CurDir => {}
            Component::ParentDir => parts.push(".."),
            Component::RootDir | Component::Prefix(_) => return Err(()),
        }
    }
    normalize(&parts.join("/"))
}

/// Where a pack's bytes come from.
pub(crate) enum Files {
    /// Compiled into the binary, below this folder of `schemas/`.
    Bundled { root: &'static str },
    /// A folder on disk (canonical path).
    Directory { root: PathBuf },
}

impl Files {
    /// Reads a pack file. The path must already be normalised (see [`normalize`]).
    pub fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        match self {
            Files::Bundled { root } => bundled::file(&format!("{root}/{path}"))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)),
            Files::Directory { root } => {
                // Resolve symbolic links, then check that we are still inside the pack.
                let full = fs::canonicalize(root.join(path))?;
                if !full.starts_with(root) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "the file is outside the pack folder (symbolic link)",
                    ));
                }
                let mut bytes = Vec::new();
                fs::File::open(&full)?
                    .take(MAX_FILE_BYTES + 1)
                    .read_to_end(&mut bytes)?;
                if bytes.len() as u64 > MAX_FILE_BYTES {
                    return Err(std::io::Error::other(format!(
                        "larger than {MAX_FILE_BYTES} bytes"
                    )));
                }
                Ok(bytes)
            }
        }
    }

    fn exists(&self, path: &str) -> bool {
        match self {
            Files::Bundled { root } => bundled::file(&format!("{root}/{path}")).is_some(),
            Files::Directory { root } => root.join(path).is_file(),
        }
    }
}

/// Decides what a URL means for one pack while it compiles (see `libxml2::load_entity`).
pub(crate) struct Resolver {
    pub pack: String,
    pub files: Files,
    pub catalog: Catalog,
}

impl Resolver {
    /// The pack path for `url`: one of the pack's own virtual URLs (how relative
    /// includes arrive), or a URL its catalog maps. `None` means: refuse.
    pub fn resolve(&self, url: &str) -> Option<String> {
        if let Some(rest) = url.strip_prefix(PACK_SCHEME) {
            let rest = rest.strip_prefix(self.pack.as_str())?.strip_prefix('/')?;
            return normalize(&percent_decode(rest)?).ok();
        }
        self.catalog.resolve(url)
    }

    /// The URL under which libxml2 knows a pack file, e.g.
    /// `amtsbote-pack://xbau-2.6/xsd/xbau-baukasten.xsd`.
    pub fn virtual_url(&self, path: &str) -> String {
        format!("{PACK_SCHEME}{}/{path}", self.pack)
    }

    pub fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        self.files.read(path)
    }
}

/// libxml2 escapes some characters when it builds URLs (a space becomes `%20`).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        Resolver {
            pack: "p-1.0".into(),
            files: Files::Bundled { root: "p-1.0" },
            catalog: Catalog::parse(
                br#"<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
                      <uri name="http://example.org/x.xsd" uri="remote/x"/></catalog>"#,
                "",
            )
            .unwrap(),
        }
    }

    #[test]
    fn resolves_own_urls_and_catalog_urls_only() {
        let r = resolver();
        assert_eq!(
            r.resolve("amtsbote-pack://p-1.0/xsd/a%20b.xsd").as_deref(),
            Some("xsd/a b.xsd")
        );
        assert_eq!(
            r.resolve("http://example.org/x.xsd").as_deref(),
            Some("remote/x")
        );
        for refused in [
            "amtsbote-pack://other/xsd/a.xsd",
            "amtsbote-pack://p-1.0/../other/a.xsd",
            "amtsbote-pack://p-1.0x/a.xsd",
            "http://example.org/y.xsd",
            "/etc/passwd",
            "file:///etc/passwd",
        ] {
            assert_eq!(r.resolve(refused), None, "{refused}");
        }
    }

    #[test]
    fn names_and_paths_are_checked() {
        assert!(check_name("xbau-2.6").is_ok());
        for bad in ["", "a/b", "a b", "ä", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(pack_path(Path::new("./xsd/a.xsd")), Ok("xsd/a.xsd".into()));
        assert_eq!(pack_path(Path::new("../a.xsd")), Err(()));
        assert_eq!(pack_path(Path::new("/etc/a.xsd")), Err(()));
    }
}
