//! End-to-end: data at rest. The real binary keeps its data directory and every file in it
//! private whatever the umask it was started under, takes its payload key only from a
//! provisioned file or the environment (never one made up beside the data), says how to make
//! one when there is none, and `amtsbote check` refuses a key other users could read.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEY_LINE: &str = "payload_key_file = \"payload.key\"\n";

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

/// Every directory and file below `dir` (itself included) with its mode.
fn tree(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = vec![(dir.to_path_buf(), true, mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(tree(&path));
        } else {
            out.push((path.clone(), false, mode(&path)));
        }
    }
    out
}

/// Entries of `tree(dir)` that are not private: directories must be 0700, files 0600.
fn loose(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|(_, is_dir, m)| *m != if *is_dir { 0o700 } else { 0o600 })
        .map(|(p, _, m)| format!("{} {m:04o}", p.display()))
        .collect()
}

/// The binary with `args` in `dir`, without any payload key from the test's environment.
fn amtsbote(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_amtsbote"));
    c.current_dir(dir)
        .args(args)
        .env_remove("AMTSBOTE_CONFIG")
        .env_remove("AMTSBOTE_PAYLOAD_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs `c` and expects it to end by itself within `secs` (a broker that starts instead of
/// refusing would run forever: it is killed and the test fails).
fn finishes(mut c: Command, secs: u64) -> Output {
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {secs} s:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A configuration directory as the tests' brokers use, with the key file the harness made
/// (`payload.key`, 0600, outside `data/`).
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("formserver.token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("other.token"), OTHER_TOKEN).unwrap();
    let text = config_text(dir.path(), free_port(), "http://127.0.0.1:9", "");
    assert!(text.contains(KEY_LINE), "{text}");
    std::fs::write(dir.path().join("amtsbote.toml"), text).unwrap();
    dir
}

/// The configuration of `setup` without `storage.payload_key_file` and without the key file.
fn setup_without_key() -> tempfile::TempDir {
    let dir = setup();
    let path = dir.path().join("amtsbote.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(KEY_LINE, "");
    std::fs::write(&path, text).unwrap();
    std::fs::remove_file(dir.path().join("payload.key")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_under_umask_000_keeps_its_data_private() {
    // The broker inherits the umask; 000 would make everything it creates world-readable
    // unless it sets the modes itself. (This test binary's own files do not matter.)
    // SAFETY: umask only changes this process's file creation mask.
    unsafe {
        libc::umask(0);
    }
    let mut b = Broker::start(Behaviour::default(), "").await;
    let mut ids = Vec::new();
    for (body, ct, tid) in [
        (gewerbe_xml(), "application/xml", "at-rest-1"),
        (xdomea_xml(), "application/xml", "at-rest-2"),
    ] {
        let (status, body) = b.post("cottbus", body, ct, Some(tid)).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(br#"{"hund":"Bello"}"#.to_vec())
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 tiny".to_vec())
                .file_name("a.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (status, body) = b.post_form("cottbus", form).await;
    assert_eq!(status, 202, "{body}");
    ids.push(body["id"].as_str().unwrap().to_string());
    for id in &ids {
        b.wait_state(id, "delivered", 30).await;
    }

    let data = b.data_dir();
    let names: Vec<String> = tree(&data)
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "amtsbote.db",
        "amtsbote.db-wal",
        "amtsbote.db-shm",
        "broker.lock",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    assert!(b.payload_files() >= 4, "{names:?}");
    assert_eq!(loose(&data), Vec::<String>::new(), "while running");

    assert!(b.terminate().success(), "{}", b.log());
    assert_eq!(loose(&data), Vec::<String>::new(), "after a clean stop");
}

#[test]
fn run_without_a_key_fails_and_says_how_to_make_one() {
    let dir = setup_without_key();
    let o = finishes(
        amtsbote(dir.path(), &["--config", "amtsbote.toml", "run"], &[]),
        30,
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("no payload key")
            && e.contains("`amtsbote keys payload --out ")
            && e.contains("storage.payload_key_file")
            && e.contains("AMTSBOTE_PAYLOAD_KEY"),
        "{e}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "a refused start leaves no data directory behind"
    );
}

#[test]
fn a_key_left_in_the_data_directory_is_refused_with_the_migration_step() {
    // How earlier versions kept it: generated into the data directory on first start.
    let dir = setup_without_key();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("payload.key"), "ab".repeat(32)).unwrap();
    for args in [&["check"][..], &["run"][..]] {
        let mut all = vec!["--config", "amtsbote.toml"];
        all.extend_from_slice(args);
        let o = finishes(amtsbote(dir.path(), &all, &[]), 30);
        assert!(!o.status.success(), "{args:?}");
        let e = stderr(&o);
        assert!(
            e.contains("lies inside the data directory")
                && e.contains(&format!("mv {}", data.join("payload.key").display()))
                && e.contains("storage.payload_key_file"),
            "{args:?}: {e}"
        );
        assert!(!e.contains(&"ab".repeat(32)), "no key material in errors");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_payload_writes_a_private_key_that_run_accepts_and_never_overwrites() {
    // SAFETY: umask only changes this process's file creation mask (inherited by the CLI).
    unsafe {
        libc::umask(0);
    }
    let mut printed = String::new();
    let mut b = Broker::start_with_files(Backend::Embedded, Behaviour::default(), "", |dir| {
        // Made by the CLI before the harness would make one: the broker uses this file.
        let o = finishes(
            amtsbote(dir, &["keys", "payload", "--out", "payload.key"], &[]),
            30,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        printed = String::from_utf8_lossy(&o.stdout).into_owned();
    })
    .await;
    let key_file = b.dir.path().join("payload.key");
    assert_eq!(mode(&key_file), 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64, "256 bits as hex");
    assert!(
        printed.contains(&format!("payload_key_file = \"{}\"", key_file.display())),
        "{printed}"
    );

    // The broker runs on it: a message goes in encrypted and comes out byte for byte.
    let xml = gewerbe_xml();
    let (status, body) = b
        .post("cottbus", xml.clone(), "application/xml", Some("k-1"))
        .await;
    assert_eq!(status, 202, "{body}");
    b.wait_state(body["id"].as_str().unwrap(), "delivered", 30)
        .await;
    assert_eq!(b.received()[0].sha256, hex::encode(Sha256::digest(&xml)));
    b.kill9();

    let o = finishes(
        amtsbote(
            b.dir.path(),
            &["keys", "payload", "--out", "payload.key"],
            &[],
        ),
        30,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not overwriting"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_payload_key_can_come_from_the_environment() {
    let mut b = Broker::start(Behaviour::default(), "").await;
    b.kill9();
    let key = std::fs::read_to_string(b.dir.path().join("payload.key")).unwrap();
    let text = std::fs::read_to_string(&b.config)
        .unwrap()
        .replace(KEY_LINE, "");
    std::fs::write(&b.config, text).unwrap();
    std::fs::remove_file(b.dir.path().join("payload.key")).unwrap();

    let check = |env: &[(&str, &str)]| {
        finishes(
            amtsbote(b.dir.path(), &["--config", "amtsbote.toml", "check"], env),
            30,
        )
    };
    assert!(
        check(&[("AMTSBOTE_PAYLOAD_KEY", key.trim())])
            .status
            .success()
    );
    let bad = check(&[("AMTSBOTE_PAYLOAD_KEY", "not-a-key-0123")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("environment variable AMTSBOTE_PAYLOAD_KEY")
            && !stderr(&bad).contains("not-a-key-0123"),
        "{}",
        stderr(&bad)
    );

    b.env = vec![("AMTSBOTE_PAYLOAD_KEY".into(), key.trim().into())];
    b.spawn().await;
    let xml = gewerbe_xml();
    let (status, body) = b
        .post("cottbus", xml.clone(), "application/xml", Some("env-1"))
        .await;
    assert_eq!(status, 202, "{body}");
    // Delivered byte for byte: stored and read back with the key from the environment.
    let deadline = Instant::now() + Duration::from_secs(30);
    while b
        .received()
        .first()
        .and_then(|r| r.reference.clone())
        .is_none()
    {
        assert!(Instant::now() < deadline, "not delivered:\n{}", b.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(b.received()[0].key, body["id"].as_str().unwrap());
    assert_eq!(b.received()[0].sha256, hex::encode(Sha256::digest(&xml)));
}

#[test]
fn check_flags_a_key_file_other_users_can_read() {
    let dir = setup();
    let key_file = dir.path().join("payload.key");
    let check = || {
        finishes(
            amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]),
            30,
        )
    };
    assert!(check().status.success(), "{}", stderr(&check()));

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = check();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("`storage.payload_key_file`")
            && e.contains("mode 0644")
            && e.contains("every user")
            && e.contains(&format!("chmod 600 {}", key_file.display())),
        "{e}"
    );
    // The broker refuses it as well.
    let run = finishes(
        amtsbote(dir.path(), &["--config", "amtsbote.toml", "run"], &[]),
        30,
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("mode 0644"), "{}", stderr(&run));

    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key_file, "0123").unwrap();
    let e = stderr(&check());
    assert!(
        e.contains(&format!("payload key file {}", key_file.display())),
        "{e}"
    );

    std::fs::remove_file(&key_file).unwrap();
    let e = stderr(&check());
    assert!(
        e.contains("does not exist")
            && e.contains(&format!(
                "amtsbote keys payload --out {}",
                key_file.display()
            )),
        "{e}"
    );
}
