//! The deployment files shipped in `deploy/` are checked by the tools that will read them.

use std::process::Command;

#[test]
fn the_systemd_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/systemd/amtsbote.service"
    ))
    .unwrap()
    .replace("/usr/local/bin/amtsbote", env!("CARGO_BIN_EXE_amtsbote"));
    let path = dir.path().join("amtsbote.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed by scripts/test.sh (package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Lines about the machine's own units are not ours to judge.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("amtsbote.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}
