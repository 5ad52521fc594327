//! Data at rest, before anything is stored: the data directory and every file the broker
//! writes into it are private to the broker's user (directories 0700, files 0600, whatever the
//! process umask), and the payload key comes from a provisioned secret — a key file outside
//! the data directory or the `AMTSBOTE_PAYLOAD_KEY` environment variable — never from a file
//! generated beside the ciphertext it protects. [`crate::backend`] calls this before it opens
//! the stores; `amtsbote check` reports the same problems without starting.

use crate::config::StorageConfig;
use crate::payload::sealed::PayloadKey;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Mode of the data directory and every directory below it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the broker writes (database, journals, payloads, temporary files, keys).
pub const FILE_MODE: u32 = 0o600;
/// The environment variable that may hold the payload key (64 hex digits) instead of a file.
pub const PAYLOAD_KEY_ENV: &str = "AMTSBOTE_PAYLOAD_KEY";
/// Where earlier versions generated the key: inside the data directory.
const LEGACY_KEY_FILE: &str = "payload.key";

/// Makes files the process creates without an explicit mode private too (a second line of
/// defence behind the explicit modes; `amtsbote run` calls it first thing).
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only changes the process's file creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Creates `dir` (and missing parents) as a private directory.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Options that create a file readable and writable by the broker's user only.
pub fn private_file_options() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts
}

/// Writes `data` to `path` (created or truncated) readable and writable by the broker's user
/// only: payloads, keys and secrets the broker or its sandboxes write.
pub fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = private_file_options();
    opts.write(true).create(true).truncate(true);
    opts.open(path)?.write_all(data)
}

/// Creates the data directory private, or tightens an existing one: an installation made by an
/// earlier version (or under a loose umask) has a 0755 directory and 0644 files, which every
/// local user could copy. Tightening is chosen over refusing because the files are the
/// broker's own and nothing but the broker needs to read them. Only when the directory itself
/// was loose is the whole tree walked (once: afterwards it is 0700); otherwise only the files
/// directly in it (database, its journals, the lock), so a start stays cheap with many payloads.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    create_private_dir(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        let meta = std::fs::metadata(dir)
            .with_context(|| format!("cannot read the data directory {}", dir.display()))?;
        let mut tightened = 0usize;
        tighten(dir, &meta, &mut tightened)?;
        let deep = is_loose(&meta);
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            if meta.is_dir() && deep {
                tighten_tree(&path, &mut tightened)?;
            } else {
                tighten(&path, &meta, &mut tightened)?;
            }
        }
        if tightened > 0 {
            tracing::warn!(
                data_dir = %dir.display(),
                tightened,
                "the data directory or files in it were readable by other users; made them private (directories 0700, files 0600)"
            );
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_loose(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o077 != 0
}

/// Sets a directory to [`DIR_MODE`] and a regular file to [`FILE_MODE`] if either is looser;
/// symbolic links and other file types are left alone (not the broker's to change).
#[cfg(unix)]
fn tighten(path: &Path, meta: &std::fs::Metadata, count: &mut usize) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if meta.is_dir() {
        DIR_MODE
    } else if meta.is_file() {
        FILE_MODE
    } else {
        return Ok(());
    };
    if is_loose(meta) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(
            || {
                format!(
                    "{} is readable by other users and cannot be made private; run `chmod -R go-rwx` on the data directory as its owner",
                    path.display()
                )
            },
        )?;
        *count += 1;
    }
    Ok(())
}

#[cfg(unix)]
fn tighten_tree(dir: &Path, count: &mut usize) -> Result<()> {
    tighten(dir, &std::fs::symlink_metadata(dir)?, count)?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            tighten_tree(&path, count)?;
        } else {
            tighten(&path, &meta, count)?;
        }
    }
    Ok(())
}

/// Reads the payload key from where the configuration provisions it. Every error says what to
/// do; none contains key material.
pub fn payload_key(storage: &StorageConfig) -> Result<PayloadKey, String> {
    let env = std::env::var(PAYLOAD_KEY_ENV).ok();
    // Absolute paths in the messages: the commands they suggest work from any directory.
    let data_dir = absolute(&storage.data_dir);
    match (storage.payload_key_file.as_deref().map(absolute), env) {
        (Some(file), Some(_)) => Err(format!(
            "the payload key is given twice: storage.payload_key_file ({}) and the environment variable {PAYLOAD_KEY_ENV}; keep one",
            file.display()
        )),
        (Some(file), None) => key_from_file(&file, &data_dir),
        (None, Some(text)) => PayloadKey::from_hex(&text)
            .map_err(|reason| format!("environment variable {PAYLOAD_KEY_ENV}: {reason}")),
        (None, None) => Err(missing_key(&data_dir)),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn missing_key(data_dir: &Path) -> String {
    let legacy = data_dir.join(LEGACY_KEY_FILE);
    if legacy.exists() {
        // An installation of an earlier version: its key lies beside the data. Accepting it
        // silently would keep the weakness; generating a new one would lose every payload.
        let target = "/etc/amtsbote/payload.key";
        format!(
            "the payload key {} lies inside the data directory, beside the payloads it encrypts (earlier versions put it there); \
             move it out and point the configuration at it: `mv {} {target}` (owned by the broker's user, mode 0600), \
             then set `storage.payload_key_file = \"{target}\"` (keep the same key: without it the stored payloads cannot be read)",
            legacy.display(),
            legacy.display(),
        )
    } else {
        format!(
            "no payload key: create one with `amtsbote keys payload --out /etc/amtsbote/payload.key` and set \
             `storage.payload_key_file = \"/etc/amtsbote/payload.key\"` (outside the data directory {}), \
             or put 64 hex digits into the environment variable {PAYLOAD_KEY_ENV}",
            data_dir.display()
        )
    }
}

fn key_from_file(file: &Path, data_dir: &Path) -> Result<PayloadKey, String> {
    if inside(file, data_dir) {
        return Err(format!(
            "storage.payload_key_file {} lies inside the data directory {}: a copy or backup of the data would carry its key; \
             move the key elsewhere (e.g. /etc/amtsbote/payload.key) and change storage.payload_key_file",
            file.display(),
            data_dir.display()
        ));
    }
    let meta = std::fs::metadata(file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "payload key file {} does not exist; create it with `amtsbote keys payload --out {}`",
                file.display(),
                file.display()
            )
        } else {
            format!("cannot read payload key file {}: {e}", file.display())
        }
    })?;
    if !meta.is_file() {
        return Err(format!("payload key file {} is not a file", file.display()));
    }
    mode_problem(file, &meta).map_or(Ok(()), Err)?;
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!(
            "cannot read payload key file {}: {e}; it must be readable by the broker's user",
            file.display()
        )
    })?;
    PayloadKey::from_hex(&text)
        .map_err(|reason| format!("payload key file {}: {reason}", file.display()))
}

/// Other users must not be able to read the key. Readable by the file's group is accepted only
/// when that group is the broker's own (a Kubernetes Secret mounted with `fsGroup`, or
/// `chown root:amtsbote` + `chmod 0440` as the operator guide shows).
#[cfg(unix)]
fn mode_problem(file: &Path, meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mode = meta.permissions().mode() & 0o777;
    // SAFETY: getegid cannot fail and touches no memory.
    let own_group = meta.gid() == unsafe { libc::getegid() };
    let who = other_readers(mode, own_group)?;
    Some(format!(
        "payload key file {} has mode {mode:04o}: {who} can read or change it; run `chmod 600 {}` (owned by the broker's user)",
        file.display(),
        file.display()
    ))
}

/// Who besides the broker's user may read (or change) a key file with `mode`.
#[cfg(unix)]
fn other_readers(mode: u32, own_group: bool) -> Option<&'static str> {
    if mode & 0o007 != 0 {
        Some("every user on the machine")
    } else if mode & 0o070 != 0 && !own_group {
        Some("the members of its group")
    } else {
        None
    }
}

#[cfg(not(unix))]
fn mode_problem(_: &Path, _: &std::fs::Metadata) -> Option<String> {
    None
}

/// Whether `path` lies inside `dir`, comparing absolute, lexically normalised paths (neither
/// needs to exist yet).
fn inside(path: &Path, dir: &Path) -> bool {
    fn normal(p: &Path) -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut out = PathBuf::new();
        for c in abs.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    }
    normal(path).starts_with(normal(dir))
}

/// Writes a new random payload key to `path` (mode 0600), refusing to replace an existing
/// file: replacing a key makes every payload stored with it unreadable.
pub fn write_new_key(path: &Path) -> Result<PayloadKey> {
    use std::io::Write;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        create_private_dir(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let key = PayloadKey::generate();
    let mut file = private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::anyhow!(
                    "{} exists; not overwriting a payload key (payloads stored with it could no longer be read)",
                    path.display()
                )
            } else {
                anyhow::anyhow!("cannot create {}: {e}", path.display())
            }
        })?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(key)
}

/// A fresh key in `dir` (outside any data directory below it), for `amtsbote demo` and the
/// benchmarks, whose data lives in a temporary directory and dies with it.
pub fn ephemeral_key_file(dir: &Path) -> Result<PathBuf> {
    let path = dir.join("ephemeral-payload.key");
    write_new_key(&path)?;
    Ok(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_existing_loose_data_dir_is_tightened_throughout() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(dir.join("payloads/ab")).unwrap();
        for (p, m) in [
            ("", 0o755),
            ("payloads", 0o755),
            ("payloads/ab", 0o775),
            ("amtsbote.db", 0o644),
            ("payloads/ab/x.payload", 0o666),
        ] {
            let p = dir.join(p);
            if !p.exists() {
                std::fs::write(&p, b"x").unwrap();
            }
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
        }
        prepare_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("payloads/ab")), 0o700);
        assert_eq!(mode(&dir.join("amtsbote.db")), 0o600);
        assert_eq!(mode(&dir.join("payloads/ab/x.payload")), 0o600);
    }

    /// Files created by the stores themselves (not the harness's), under umask 000: only
    /// explicit modes keep them private. `amtsbote run` narrows the umask too, so the broker
    /// tests alone could not tell.
    #[tokio::test]
    async fn what_the_stores_write_is_private_whatever_the_umask() {
        use crate::payload::{LocalStore, put_bytes};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        // SAFETY: umask only changes the process's file creation mask; restored below.
        let before = unsafe { libc::umask(0) };
        prepare_data_dir(&dir).unwrap();
        let db = crate::embedded::Database::open(&dir.join("amtsbote.db")).unwrap();
        let store = LocalStore::new(dir.join("payloads"), PayloadKey::generate());
        let id = crate::message::MessageId::new();
        for (part, len) in [("payload", 100), ("attachment-1", 3 << 20)] {
            put_bytes(&store, id, part, bytes::Bytes::from(vec![7u8; len]))
                .await
                .unwrap();
        }
        let key = tmp.path().join("keys/payload.key");
        write_new_key(&key).unwrap();
        // SAFETY: as above.
        unsafe { libc::umask(before) };

        let mut seen = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            assert_eq!(mode(&d), 0o700, "{}", d.display());
            for entry in std::fs::read_dir(&d).unwrap() {
                let p = entry.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    assert_eq!(mode(&p), 0o600, "{}", p.display());
                    seen.push(p.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        assert!(seen.iter().any(|n| n == "amtsbote.db-wal"), "{seen:?}");
        assert_eq!(
            seen.iter()
                .filter(|n| n.starts_with(&id.to_string()))
                .count(),
            2,
            "{seen:?}"
        );
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(key.parent().unwrap()), 0o700);
        drop(db);
    }

    #[test]
    fn a_key_file_is_private_to_the_broker_or_its_own_group() {
        for mode in [0o600, 0o400] {
            assert_eq!(other_readers(mode, false), None, "{mode:o}");
        }
        // A Kubernetes Secret with fsGroup, or root:amtsbote 0440.
        assert_eq!(other_readers(0o440, true), None);
        assert_eq!(
            other_readers(0o440, false),
            Some("the members of its group")
        );
        for mode in [0o644, 0o604, 0o602, 0o444] {
            assert_eq!(
                other_readers(mode, true),
                Some("every user on the machine"),
                "{mode:o}"
            );
        }
    }

    #[test]
    fn key_files_inside_the_data_dir_are_refused() {
        let data = Path::new("/var/lib/amtsbote");
        assert!(inside(Path::new("/var/lib/amtsbote/payload.key"), data));
        assert!(inside(Path::new("/var/lib/x/../amtsbote/./k"), data));
        assert!(!inside(Path::new("/etc/amtsbote/payload.key"), data));
        assert!(!inside(Path::new("/var/lib/amtsbote-keys/k"), data));
    }
}
