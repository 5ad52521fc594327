//! End-to-end: the console in headless Chromium. The broker runs with a Fachverfahren that
//! refuses everything, so a message goes dead; `tests/console/e2e.mjs` (playwright-core
//! driving the system's Chromium) logs in as a viewer (replay disabled, and refused by the
//! API when forced), then as an operator: finds the dead letter, sees its timeline, fixes the
//! Fachverfahren, replays, and sees the message delivered. Screenshots go to a temporary
//! directory, or to `AMTSBOTE_CONSOLE_SCREENSHOTS` when set (how docs/console.png is made).
//!
//! Needs Debian's `chromium` (or `AMTSBOTE_CHROMIUM`) and `npm ci` in `tests/console`;
//! scripts/test.sh installs both. Without them the test fails — it never skips.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::admin::{self, OPERATOR_TOKEN, VIEWER_TOKEN};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Sender-controlled text that would run if the console rendered it as HTML.
const MARKUP: &str = r#"<img src=x onerror="window.__amtsbote_xss=1">"#;

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("AMTSBOTE_CHROMIUM") {
        return p.into();
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no Chromium found: install Debian's `chromium` (scripts/test.sh does) or set AMTSBOTE_CHROMIUM"
    );
}

fn driver_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_replays_a_dead_letter_in_the_console() {
    let chromium = chromium();
    let driver = driver_dir();
    let b = admin::start(Behaviour {
        reject: true,
        ..Default::default()
    })
    .await;
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some(MARKUP))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    admin::wait_state(&b, &id, "dead", 20).await;

    let shots = tempfile::tempdir().unwrap();
    let shots_dir = std::env::var_os("AMTSBOTE_CONSOLE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| shots.path().to_path_buf());
    let run = Command::new("node")
        .arg("e2e.mjs")
        .current_dir(&driver)
        .env("BASE", b.base())
        .env("FV_BASE", format!("http://{}", b.fv.addr))
        .env("DEAD_ID", &id)
        .env("OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("VIEWER_TOKEN", VIEWER_TOKEN)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOT_DIR", &shots_dir)
        .env("MARKUP", MARKUP)
        .output();
    // The driver runs in a blocking child process; the broker and the sandbox run on.
    let out = tokio::task::spawn_blocking(move || run)
        .await
        .unwrap()
        .expect("node runs (scripts/test.sh installs nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "console e2e failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nbroker log:\n{}",
        b.log()
    );
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");

    // What the browser showed is what the ledger says: delivered after the operator's replay.
    let m = admin::wait_state(&b, &id, "delivered", 5).await;
    let actors: Vec<(&str, &str)> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["state"].as_str().unwrap(), h["actor"].as_str().unwrap()))
        .collect();
    assert!(
        actors.contains(&("replayed", "operator:anna")),
        "{actors:?}"
    );
    assert!(
        !actors.iter().any(|(_, a)| *a == "operator:ben"),
        "the viewer changed nothing: {actors:?}"
    );
    assert_eq!(b.received().len(), 1, "delivered once");
    for shot in [
        "console-dead.png",
        "console-message.png",
        "console-overview.png",
    ] {
        let len = std::fs::metadata(shots_dir.join(shot))
            .map(|m| m.len())
            .ok();
        assert!(len.unwrap_or(0) > 10_000, "{shot}: {len:?}");
    }
}
