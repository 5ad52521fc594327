//! End-to-end: `amtsbote check` finds what a start would trip over and says where; every
//! subcommand has help.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn amtsbote(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_amtsbote"));
    c.current_dir(dir).args(args).env_remove("AMTSBOTE_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("formserver.token"), TOKEN).unwrap();
    std::fs::write(dir.path().join("other.token"), OTHER_TOKEN).unwrap();
    std::fs::write(
        dir.path().join("amtsbote.toml"),
        config_text(dir.path(), free_port(), "http://127.0.0.1:9", ""),
    )
    .unwrap();
    dir
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_valid_configuration_checks_out() {
    let dir = setup();
    let o = amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 tenant(s), 2 source(s), 2 connector(s), 3 route(s)"),
        "{out}"
    );
}

#[test]
fn no_configuration_means_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let o = amtsbote(dir.path(), &["check"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn unknown_keys_are_errors_with_file_and_line() {
    let dir = setup();
    let path = dir.path().join("amtsbote.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("poll_interval", "pol_interval");
    std::fs::write(&path, text).unwrap();
    let o = amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("amtsbote.toml") && e.contains("line 9") && e.contains("pol_interval"),
        "{e}"
    );
}

#[test]
fn routes_tokens_and_tenant_files_are_checked() {
    let dir = setup();
    let path = dir.path().join("amtsbote.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("connector = \"e-akte\"", "connector = \"e-akten\"");
    std::fs::write(&path, text).unwrap();
    std::fs::remove_file(dir.path().join("other.token")).unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(
        dir.path().join("conf.d/musterhausen.toml"),
        "[tenants.musterhausen]\nname = \"Musterhausen\"\nags = \"123\"\n",
    )
    .unwrap();
    let o = amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("`routes[1].connector`: no global connector `e-akten`"),
        "{e}"
    );
    assert!(
        e.contains("`tenants.beispielheim.sources.own-portal.token`") && e.contains("other.token"),
        "{e}"
    );
    assert!(e.contains("`tenants.musterhausen.ags`"), "{e}");
    assert!(e.contains("3 problem(s)"), "{e}");
}

#[test]
fn environment_overrides_apply_and_are_checked() {
    let dir = setup();
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[(
            "AMTSBOTE__CONNECTORS__GEWERBEREGISTER__URL",
            "ftp://example.org/x",
        )],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("connectors.gewerberegister"),
        "{}",
        stderr(&o)
    );
    // Numbers come as strings and are read as numbers where a field wants one …
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[("AMTSBOTE__CONNECTORS__GEWERBEREGISTER__CONCURRENCY", "0")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`connectors.gewerberegister.concurrency`: must be at least 1"),
        "{}",
        stderr(&o)
    );
    // … and stay strings where a field wants text: an AGS keeps its leading zero.
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[("AMTSBOTE__TENANTS__COTTBUS__AGS", "09162000")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[("AMTSBOTE__STORAGE__BOGUS", "1")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["demo", "--help"],
        vec!["check", "--help"],
        vec!["messages", "--help"],
        vec!["messages", "list", "--help"],
        vec!["messages", "show", "--help"],
        vec!["replay", "--help"],
        vec!["sandbox", "fachverfahren", "--help"],
    ] {
        let o = amtsbote(dir.path(), &args, &[]);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}

#[test]
fn the_demo_delivers_every_sample() {
    let dir = tempfile::tempdir().unwrap();
    let o = amtsbote(dir.path(), &["demo"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(
        out.contains("8 of 8 message(s) delivered") && out.matches("accepted").count() >= 2,
        "{out}"
    );
    assert!(
        out.matches("XTA closed").count() == 2
            && out.contains("XTA: 2 of 2 message(s) taken from the mailbox and closed"),
        "{out}"
    );
    assert!(out.contains("retrying"), "the demo shows a retry: {out}");
}

#[test]
fn the_cluster_backend_needs_its_sections_and_the_embedded_one_refuses_them() {
    let dir = setup();
    let path = dir.path().join("amtsbote.toml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[storage]\n",
        "[storage.rabbitmq]\nurl = { file = \"missing.url\" }\n\n[storage]\nbackend = \"cluster\"\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let o = amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("storage.postgres") && e.contains("cluster backend needs"),
        "{e}"
    );
    assert!(
        e.contains("storage.rabbitmq.url") && e.contains("missing.url"),
        "{e}"
    );

    // The embedded backend with a cluster section: a mistake worth saying.
    let dir = setup();
    let path = dir.path().join("amtsbote.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\n[storage.postgres]\nurl = {{ env = \"PG_URL\" }}\n"),
    )
    .unwrap();
    let o = amtsbote(dir.path(), &["--config", "amtsbote.toml", "check"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("storage.postgres") && e.contains("only used by the cluster backend"),
        "{e}"
    );
}

#[test]
fn intake_limits_are_checked() {
    let dir = setup();
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[
            ("AMTSBOTE__INTAKE__MAX_JSON_DEPTH", "500"),
            ("AMTSBOTE__INTAKE__MAX_PARTS", "0"),
            ("AMTSBOTE__INTAKE__MAX_PART_BYTES", "0"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("`intake.max_json_depth`: must be between 1 and 128"),
        "{e}"
    );
    assert!(e.contains("`intake.max_parts`"), "{e}");
    assert!(e.contains("`intake.max_part_bytes`"), "{e}");
    assert!(e.contains("3 problem(s)"), "{e}");
    let o = amtsbote(
        dir.path(),
        &["--config", "amtsbote.toml", "check"],
        &[
            ("AMTSBOTE__INTAKE__MAX_JSON_DEPTH", "16"),
            ("AMTSBOTE__INTAKE__MAX_PARTS", "10"),
            ("AMTSBOTE__INTAKE__MAX_PART_BYTES", "1000"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}
