//! The file connector: a drop folder for Fachverfahren that import files.
//!
//! Each message becomes one folder `<directory>/<message id>/` holding the document (under
//! the sender's file name where the transport carries one, e.g. XTA `Message/@filename`,
//! narrowed to a safe name; otherwise `document.xml` or `document.json`), its attachments under `attachments/`, and
//! `manifest.json` describing them (ids, standard, hashes, sizes). The folder is written under
//! a temporary name (starting with `.`, which importers should ignore), made durable, renamed
//! into place and the rename made durable, so an importer never sees a half-written message,
//! not even after a power cut. Durability comes from a [`SyncGroup`]: concurrent deliveries
//! share flushes. A folder that already exists is a message delivered before (e.g. before a
//! crash): delivering again changes nothing.

use super::{Connector, DeliveryError, Parts, Receipt};
use crate::message::{Envelope, format_millis};
use crate::payload::get_bytes;
use crate::sync_group::{self, SyncGroup};
use async_trait::async_trait;
use futures::TryStreamExt;
use serde::Serialize;
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;

pub struct FileConnector {
    directory: PathBuf,
    sync: OnceLock<SyncGroup>,
}

impl FileConnector {
    pub fn new(directory: &Path) -> Result<Self, String> {
        if directory.as_os_str().is_empty() {
            return Err("directory must not be empty".into());
        }
        Ok(FileConnector {
            directory: directory.to_path_buf(),
            sync: OnceLock::new(),
        })
    }

    /// Makes everything written into the drop folder so far durable. The group is made on
    /// first use, when the directory exists.
    async fn sync(&self) -> Result<(), DeliveryError> {
        self.sync
            .get_or_init(|| SyncGroup::for_dir(&self.directory))
            .sync()
            .await
            .map_err(|e| io("cannot sync", &self.directory, e))
    }
}

#[derive(Serialize)]
struct Manifest<'a> {
    message_id: String,
    tenant: &'a str,
    source: &'a str,
    transport_id: Option<&'a str>,
    received_at: String,
    standard: Option<&'a str>,
    version: Option<&'a str>,
    message_type: Option<&'a str>,
    root: Option<&'a str>,
    service_key: Option<&'a str>,
    files: Vec<ManifestFile>,
}

#[derive(Serialize)]
struct ManifestFile {
    part: String,
    path: String,
    content_type: String,
    filename: Option<String>,
    size: u64,
    sha256: String,
}

/// A file name safe on any file system: letters, digits, `.`, `-`, `_`; at most 100 chars.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        "file".into()
    } else {
        trimmed.to_string()
    }
}

/// Names the folder uses itself; a document may not take them.
const RESERVED: [&str; 4] = ["manifest.json", "mapped.xml", "mapped.json", "attachments"];

/// Where the main document goes in the folder: the sender's file name made safe, unless
/// nothing of it survives or it would take a name the folder needs (compared ignoring case,
/// for case-insensitive file systems); then `document.xml` / `document.json`.
fn document_name(part: &crate::message::Part) -> String {
    let own = part.filename.as_deref().and_then(|f| {
        let name = safe_name(f);
        let usable = name != "file" && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&name));
        usable.then_some(name)
    });
    match own {
        Some(name) => name,
        None if part.content_type.contains("json") => "document.json".into(),
        None => "document.xml".into(),
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> DeliveryError {
    // Every file-system failure is worth retrying: a full disk or an unmounted share heals.
    DeliveryError::transient(format!("{what} {}: {e}", path.display()))
}

impl FileConnector {
    async fn write_part(
        &self,
        parts: &Parts<'_>,
        part: &crate::message::Part,
        path: &Path,
    ) -> Result<(), DeliveryError> {
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| io("cannot create", path, e))?;
        let mut stream = parts.stream(part).await?;
        while let Some(chunk) = stream.try_next().await? {
            file.write_all(&chunk)
                .await
                .map_err(|e| io("cannot write", path, e))?;
        }
        if !sync_group::COVERS_FILE_DATA {
            file.sync_all()
                .await
                .map_err(|e| io("cannot sync", path, e))?;
        }
        file.flush().await.map_err(|e| io("cannot write", path, e))
    }

    fn manifest<'a>(env: &'a Envelope, files: Vec<ManifestFile>) -> Manifest<'a> {
        Manifest {
            message_id: env.message_id.to_string(),
            tenant: &env.tenant,
            source: &env.source,
            transport_id: env.transport_id.as_deref(),
            received_at: format_millis(env.received_at),
            standard: env.header.standard.as_deref(),
            version: env.header.version.as_deref(),
            message_type: env.header.message_type.as_deref(),
            root: env.header.root.as_deref(),
            service_key: env.service_key.as_deref(),
            files,
        }
    }
}

#[async_trait]
impl Connector for FileConnector {
    async fn deliver(&self, parts: &Parts<'_>, _attempt: u32) -> Result<Receipt, DeliveryError> {
        let env = parts.envelope;
        let id = env.message_id.to_string();
        let target = self.directory.join(&id);
        let tmp = self
            .directory
            .join(format!(".{id}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let receipt = Receipt {
            reference: Some(target.display().to_string()),
        };

        // Small parts are read into memory and the folder is written in one blocking call;
        // large attachments are streamed afterwards.
        let mut small: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let mut large = Vec::new();
        let mut files = Vec::new();
        for (i, part) in env.parts.iter().enumerate() {
            let rel = if part.name == crate::message::PAYLOAD_PART {
                document_name(part)
            } else {
                let name = part.filename.as_deref().unwrap_or(&part.name);
                format!("attachments/{i:03}-{}", safe_name(name))
            };
            if part.size <= IN_MEMORY {
                let bytes = get_bytes(parts.store, env.message_id, &part.name).await?;
                small.push((tmp.join(&rel), bytes));
            } else {
                large.push((part, tmp.join(&rel)));
            }
            files.push(ManifestFile {
                part: part.name.clone(),
                path: rel,
                content_type: part.content_type.clone(),
                filename: part.filename.clone(),
                size: part.size,
                sha256: part.sha256.clone(),
            });
        }
        if let Some(m) = parts.mapped {
            // The route's mapping of the document, beside the original.
            let rel = if m.content_type.contains("json") {
                "mapped.json"
            } else {
                "mapped.xml"
            };
            files.push(ManifestFile {
                part: format!("mapped:{}", m.mapping),
                path: rel.to_string(),
                content_type: m.content_type.clone(),
                filename: None,
                size: m.body.len() as u64,
                sha256: hex::encode(sha2::Sha256::digest(&m.body)),
            });
            small.push((tmp.join(rel), m.body.clone()));
        }
        let manifest = serde_json::to_vec_pretty(&Self::manifest(env, files))
            .map_err(|e| DeliveryError::permanent(format!("manifest: {e}")))?;
        small.push((tmp.join("manifest.json"), manifest));

        let (directory, tmp_dir, done) = (self.directory.clone(), tmp.clone(), target.clone());
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            if done.exists() {
                return Ok(false);
            }
            std::fs::create_dir_all(tmp_dir.join("attachments"))?;
            for (path, bytes) in &small {
                std::fs::write(path, bytes)?;
                if !sync_group::COVERS_FILE_DATA {
                    std::fs::File::open(path)?.sync_all()?;
                }
            }
            Ok(true)
        })
        .await
        .map_err(|e| DeliveryError::transient(format!("file connector task failed: {e}")))?;
        match written {
            // Delivered before (e.g. just before a crash): nothing to do.
            Ok(false) => return Ok(receipt),
            Ok(true) => {}
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&tmp).await;
                return Err(io("cannot write into", &directory, e));
            }
        }
        let result = async {
            for (part, path) in large {
                self.write_part(parts, part, &path).await?;
            }
            // Contents first, then the name: an importer must never find a folder whose
            // files are not all there.
            self.sync().await?;
            tokio::fs::rename(&tmp, &target)
                .await
                .map_err(|e| io("cannot rename into", &target, e))?;
            self.sync().await?;
            Ok(receipt)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_dir_all(&tmp).await;
        }
        result
    }
}

/// Parts up to this size are read into memory and written in one go.
const IN_MEMORY: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("Antrag Müller.pdf"), "Antrag_M_ller.pdf");
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("..."), "file");
        assert_eq!(safe_name(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn the_document_keeps_its_name_unless_it_is_unusable() {
        let part = |filename: Option<&str>, content_type: &str| crate::message::Part {
            name: crate::message::PAYLOAD_PART.into(),
            content_type: content_type.into(),
            filename: filename.map(str::to_string),
            size: 1,
            sha256: String::new(),
        };
        let name = |f: Option<&str>| document_name(&part(f, "application/xml"));
        assert_eq!(name(Some("Bauantrag 2026.xml")), "Bauantrag_2026.xml");
        assert_eq!(name(None), "document.xml");
        assert_eq!(
            document_name(&part(None, "application/json")),
            "document.json"
        );
        for taken in [
            "manifest.json",
            "MANIFEST.JSON",
            "mapped.xml",
            "attachments",
            "...",
        ] {
            assert_eq!(name(Some(taken)), "document.xml", "{taken}");
        }
    }
}
