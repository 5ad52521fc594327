//! What operators watch: `/metrics` values move as messages flow through the real binary,
//! `/readyz` fails while the ledger cannot be written and recovers, the expiry gauges follow
//! the certificates the configuration names, and the shipped dashboard and alert rules use
//! only metrics the broker exports (and pass Prometheus' own `promtool`).

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One sample of the exposition text: `name{k="v",…} value`.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label `k=\"v\"`");
                    (k.to_string(), v.trim_end_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The value of the one series `name` whose labels include `labels`; 0 when there is none.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(text)
        .into_iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.value)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches several series");
    found.first().copied().unwrap_or(0.0)
}

async fn scrape(b: &Broker) -> String {
    let r = reqwest::get(format!("{}/metrics", b.base())).await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// Scrapes until `ok` holds (metrics are updated by the broker's tasks, not in step with
/// the ledger the test reads), at most 20 s; returns the last scrape.
async fn scrape_until(b: &Broker, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(b).await;
        if ok(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "{what} never held:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_move_as_messages_flow() {
    // A connector whose Fachverfahren is not there: every attempt fails, two are allowed.
    let gone = free_port();
    let extra = format!(
        r#"
[tenants.beispielheim.connectors.archiv]
kind = "http"
url = "http://127.0.0.1:{gone}/archiv"
timeout = "1s"
retry = {{ initial_delay = "50ms", max_delay = "100ms", max_attempts = 2 }}

[[tenants.beispielheim.routes]]
standard = "xdomea"
connector = "archiv"
"#
    );
    // The first message to arrive is refused twice with 503, then taken.
    let b = Broker::start(
        Behaviour {
            fail_every: 2,
            fail_attempts: 2,
            ..Default::default()
        },
        &extra,
    )
    .await;
    let before = scrape(&b).await;
    let cottbus = [("tenant", "cottbus"), ("source", "formserver")];
    assert_eq!(
        value(&before, "amtsbote_messages_received_total", &cottbus),
        0.0
    );
    assert_eq!(
        value(
            &before,
            "amtsbote_queue_entries",
            &[("connector", "gewerberegister"), ("status", "dead")]
        ),
        0.0,
        "configured connectors are there from the start:\n{before}"
    );

    let mut ids = Vec::new();
    for n in 0..2 {
        let (status, body) = b
            .post(
                "cottbus",
                gewerbe_xml(),
                "application/xml",
                Some(&format!("m-{n}")),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        b.wait_state(id, "delivered", 20).await;
    }
    let text = scrape_until(&b, "two deliveries counted", |t| {
        value(
            t,
            "amtsbote_message_delivered_age_seconds_count",
            &[("connector", "gewerberegister")],
        ) == 2.0
    })
    .await;
    assert_eq!(
        value(&text, "amtsbote_messages_received_total", &cottbus),
        2.0
    );
    let attempts = |outcome: &str| {
        value(
            &text,
            "amtsbote_delivery_attempts_total",
            &[("connector", "gewerberegister"), ("outcome", outcome)],
        )
    };
    assert_eq!(attempts("retry"), 2.0, "{text}");
    assert_eq!(attempts("delivered"), 2.0);
    assert_eq!(attempts("dead"), 0.0);
    assert_eq!(
        value(
            &text,
            "amtsbote_messages",
            &[
                ("tenant", "cottbus"),
                ("source", "formserver"),
                ("connector", "gewerberegister"),
                ("state", "delivered")
            ]
        ),
        2.0,
        "{text}"
    );
    assert!(
        value(
            &text,
            "amtsbote_message_delivered_age_seconds_sum",
            &[("connector", "gewerberegister")]
        ) > 0.0
    );
    for stage in ["route", "validate"] {
        assert_eq!(
            value(
                &text,
                "amtsbote_stage_duration_seconds_count",
                &[("stage", stage)]
            ),
            2.0,
            "{stage}"
        );
    }
    assert_eq!(
        value(&text, "amtsbote_intake_duration_seconds_count", &[]),
        2.0
    );

    // A dead letter: the archive's attempts run out.
    let (status, body) = b
        .post("beispielheim", xdomea_xml(), "application/xml", Some("d-1"))
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let dead = b.wait_state(&id, "dead", 20).await;
    let connector = dead["connector"].as_str().unwrap().to_string();
    let text = scrape_until(&b, "the dead letter in the queue gauge", |t| {
        value(
            t,
            "amtsbote_queue_entries",
            &[("connector", &connector), ("status", "dead")],
        ) == 1.0
    })
    .await;
    assert_eq!(
        value(
            &text,
            "amtsbote_delivery_attempts_total",
            &[("connector", &connector), ("outcome", "dead")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "amtsbote_delivery_attempts_total",
            &[("connector", &connector), ("outcome", "retry")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "amtsbote_messages",
            &[
                ("tenant", "beispielheim"),
                ("connector", &connector),
                ("state", "dead")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "amtsbote_message_delivered_age_seconds_count",
            &[("connector", &connector)]
        ),
        0.0,
        "a dead letter is not delivered"
    );
    for check in ["ledger", "queue", "payload_store"] {
        assert_eq!(value(&text, "amtsbote_ready", &[("check", check)]), 1.0);
    }
}

/// A destination id the sandbox does not know, for a source whose polls fail.
const KAPUTT: &str = "0b0e3c55-9d7a-4d36-8a67-3f5a1f5b7c01";

/// FIT-Connect: a submission the broker took but cannot answer yet (it answers after
/// delivery, and the Fachverfahren is away) shows as open with its age; polls are counted as
/// they succeed and fail.
#[tokio::test(flavor = "multi_thread")]
async fn fit_connect_open_submissions_and_polls_are_measured() {
    let fc = common::fit_connect::FitConnect::start(None).await;
    let extra = format!(
        r#"
[[tenants.cottbus.routes]]
destination = "{dest}"
standard = "xbau"
test_messages = "include"
connector = "gewerberegister"

{source}accept = "delivery"

{kaputt}"#,
        dest = fc.setup.destination_id,
        source = fc.source("cottbus", "bauportal", "300ms"),
        kaputt = fc
            .source("cottbus", "kaputt", "300ms")
            .replace(&fc.setup.destination_id, KAPUTT)
            .replace("subscriber-client.secret", "wrong.secret"),
    );
    std::fs::write(fc.dir.path().join("wrong.secret"), "not the secret").unwrap();
    let b = Broker::start(
        Behaviour {
            unavailable: true,
            ..Default::default()
        },
        &extra,
    )
    .await;
    let dest = fc.setup.destination_id.clone();
    let labels = [
        ("tenant", "cottbus"),
        ("source", "bauportal"),
        ("destination", dest.as_str()),
    ];
    let text = scrape_until(&b, "a successful poll", |t| {
        value(
            t,
            "amtsbote_poll_last_success_timestamp_seconds",
            &[("source", "bauportal"), ("transport", "fit-connect")],
        ) > 0.0
    })
    .await;
    assert_eq!(
        value(&text, "amtsbote_fit_connect_open_submissions", &labels),
        0.0,
        "{text}"
    );

    let sent = fc
        .submit(
            fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml"),
            "application/xml",
            vec![],
            None,
        )
        .await;
    scrape_until(&b, "one open submission", |t| {
        value(t, "amtsbote_fit_connect_open_submissions", &labels) == 1.0
    })
    .await;
    assert_eq!(
        fc.state(&sent.submission_id),
        "forwarded",
        "fetched, not answered before delivery"
    );
    // A second destination whose client secret the Zustelldienst refuses: every round fails.
    let failing = [
        ("tenant", "cottbus"),
        ("source", "kaputt"),
        ("destination", KAPUTT),
    ];
    scrape_until(&b, "failed polls counted", |t| {
        value(t, "amtsbote_fit_connect_poll_failures_total", &failing) >= 2.0
    })
    .await;
    assert_eq!(
        value(
            &scrape(&b).await,
            "amtsbote_fit_connect_poll_failures_total",
            &labels
        ),
        0.0,
        "the working destination polls without failures"
    );
    // Still open, and ageing.
    let text = scrape_until(&b, "the open submission ageing", |t| {
        value(
            t,
            "amtsbote_fit_connect_oldest_open_submission_age_seconds",
            &labels,
        ) >= 1.0
    })
    .await;
    assert_eq!(
        value(&text, "amtsbote_fit_connect_open_submissions", &labels),
        1.0
    );
}

async fn readyz(b: &Broker) -> (u16, Value) {
    let r = reqwest::get(format!("{}/readyz", b.base())).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// Polls `/readyz` until it answers `status`, at most 30 s.
async fn readyz_until(b: &Broker, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, body) = readyz(b).await;
        if s == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {s} {body}:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_fails_while_the_ledger_cannot_be_written_and_recovers() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (status, body) = readyz(&b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ledger"], "ok");
    assert_eq!(body["queue"], "ok");
    assert_eq!(body["payload_store"], "ok");

    // Another process holds the database's write lock (a stuck backup tool, a hand-run
    // `sqlite3` session): intake could not record anything.
    let db = rusqlite::Connection::open(b.data_dir().join("amtsbote.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let body = readyz_until(&b, 503).await;
    assert_eq!(body["ready"], false);
    assert_ne!(body["ledger"], "ok", "{body}");
    assert_eq!(body["queue"], "ok", "{body}");
    assert_eq!(body["payload_store"], "ok", "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(b.dir.path().to_str().unwrap()),
        "no paths in the answer: {text}"
    );
    let metrics = scrape(&b).await;
    assert_eq!(
        value(&metrics, "amtsbote_ready", &[("check", "ledger")]),
        0.0
    );

    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let body = readyz_until(&b, 200).await;
    assert_eq!(body["ledger"], "ok");
    let log = b.log();
    assert!(log.contains("not ready"), "{log}");
    assert!(log.contains("ready again"), "{log}");
    // And it takes messages again.
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("after"))
        .await;
    assert_eq!(status, 202, "{body}");
}

/// The PEM body of a certificate is the standard base64 of its DER: what JWK `x5c` holds.
fn x5c_of(pem: &[u8]) -> String {
    String::from_utf8_lossy(pem)
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

#[test]
fn expiry_gauges_follow_the_configured_certificates() {
    use amtsbote::config::Config;
    use amtsbote::telemetry::metrics::metrics;
    use amtsbote_xta::pki::{ClientValidity, KeyKind, TestPki};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pki = TestPki::generate().unwrap();
    // A FIT-Connect decryption key whose certificate runs out in 10 days; the signing key
    // comes without one (nothing to report).
    let cert = pki
        .issue_client(
            "destination-key",
            "pw",
            KeyKind::EcP256,
            ClientValidity::days(10),
        )
        .unwrap();
    let keys = amtsbote_fit_connect::jose::generate_destination_keys().unwrap();
    let mut encryption = keys.encryption.private.clone();
    encryption.x5c = Some(vec![x5c_of(&cert.certificate_pem)]);
    std::fs::write(d.join("enc.jwk.json"), encryption.to_json()).unwrap();
    std::fs::write(d.join("sig.jwk.json"), keys.signing.private.to_json()).unwrap();
    std::fs::write(d.join("client.secret"), "s").unwrap();
    // An XTA client certificate valid for 400 days.
    let xta = pki
        .issue_client(
            "xta-client",
            "pw",
            KeyKind::EcP256,
            ClientValidity::days(400),
        )
        .unwrap();
    xta.write_to(d).unwrap();
    std::fs::write(d.join("p12.password"), "pw").unwrap();
    let p = |name: &str| d.join(name).display().to_string();
    let config: Config = toml::from_str(&format!(
        r#"
[tenants.cottbus]
name = "Stadt Cottbus"

[tenants.cottbus.sources.fit]
kind = "fit-connect"
destination_id = "8e1f1d4e-2e0c-4bfb-9a43-0d1c6c0e9f11"
submission_api = "http://127.0.0.1:1"
token_url = "http://127.0.0.1:1/token"
client_id = "c"
client_secret = {{ file = "{secret}" }}
decryption_keys = [{{ file = "{enc}" }}]
signing_key = {{ file = "{sig}" }}

[tenants.cottbus.sources.postfach]
kind = "xta"
endpoint = "https://127.0.0.1:1"
client_certificate = "{p12}"
client_certificate_password = {{ file = "{pw}" }}
reader = "dvdv:01234567"
"#,
        secret = p("client.secret"),
        enc = p("enc.jwk.json"),
        sig = p("sig.jwk.json"),
        p12 = p("xta-client.p12"),
        pw = p("p12.password"),
    ))
    .unwrap();

    let destinations = amtsbote::inbound::fit_connect::build(&config).unwrap();
    destinations[0].report_expiry();
    let accounts = amtsbote::inbound::xta::build(&config).unwrap();
    accounts[0].report_expiry();

    let text = metrics().encode();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let days = |n: f64| now + n * 86_400.0;
    let gauge = |source: &str, credential: &str| {
        value(
            &text,
            "amtsbote_credential_expiry_timestamp_seconds",
            &[
                ("tenant", "cottbus"),
                ("source", source),
                ("credential", credential),
            ],
        )
    };
    let key = gauge("fit", "decryption_keys[0]");
    assert!(key > days(9.0) && key < days(11.0), "{text}");
    assert_eq!(gauge("fit", "signing_key"), 0.0, "no certificate, no gauge");
    let client = gauge("postfach", "client_certificate");
    assert!(client > days(399.0) && client < days(401.0), "{text}");
}

/// Metric names in a PromQL expression: every `amtsbote_…` word.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("amtsbote_"))
        .map(str::to_string)
        .collect()
}

fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_and_the_alerts_use_only_metrics_the_broker_exports() {
    let b = Broker::start(Behaviour::default(), "").await;
    let text = scrape(&b).await;
    // Every registered family has a `# TYPE` line, with or without series yet.
    let mut exported = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap();
            exported.insert(family.to_string());
            match kind {
                "counter" => {
                    exported.insert(format!("{family}_total"));
                }
                "histogram" => {
                    for s in ["_bucket", "_count", "_sum"] {
                        exported.insert(format!("{family}{s}"));
                    }
                }
                _ => {}
            }
        }
    }
    let mut used = Vec::new();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo("deploy/grafana/amtsbote-dashboard.json")).unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            for name in metric_names(target["expr"].as_str().unwrap()) {
                used.push((format!("dashboard panel {}", panel["title"]), name));
            }
        }
    }
    let rules: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(repo("deploy/prometheus/alerts.yml")).unwrap(),
    )
    .unwrap();
    let mut alerts = 0;
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            alerts += 1;
            for name in metric_names(rule["expr"].as_str().unwrap()) {
                used.push((format!("alert {:?}", rule["alert"]), name));
            }
        }
    }
    assert!(alerts >= 8, "{alerts} alerts");
    assert!(used.len() >= 20, "{used:?}");
    let unknown: Vec<_> = used
        .iter()
        .filter(|(_, name)| !exported.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "not exported by the broker: {unknown:?}\nexported: {exported:?}"
    );
}

/// `promtool` comes with Debian's `prometheus` package (scripts/test.sh installs it).
fn promtool(args: &[&str]) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(repo("deploy/prometheus"))
        .output()
        .expect("promtool is installed by scripts/test.sh (Debian package prometheus)")
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let out = promtool(&["check", "rules", "alerts.yml"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = promtool(&["test", "rules", "alerts.test.yml"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// The compose stack's Prometheus loads the rule file: its configuration names the path the
/// compose file mounts `deploy/prometheus/alerts.yml` at, and passes `promtool check config`
/// with the mount applied.
#[test]
fn the_compose_prometheus_loads_the_alert_rules() {
    let compose = std::fs::read_to_string(repo("deploy/compose/docker-compose.yml")).unwrap();
    let mount = "../prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro";
    assert!(compose.contains(mount), "docker-compose.yml mounts {mount}");
    let config = std::fs::read_to_string(repo("deploy/compose/prometheus/prometheus.yml"))
        .unwrap()
        .replace(
            "/etc/prometheus/alerts.yml",
            repo("deploy/prometheus/alerts.yml").to_str().unwrap(),
        );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml"))
        .output()
        .expect("promtool is installed by scripts/test.sh (Debian package prometheus)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("rules found"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exposition_passes_promtool_check_metrics() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("lint"))
        .await;
    assert_eq!(status, 202, "{body}");
    b.wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    let text = scrape(&b).await;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/test.sh (Debian package prometheus)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool lints the Prometheus text format, where a counter's HELP names the series
    // `…_total`; OpenMetrics names the family without it. That one finding is the format
    // difference; anything else is a real problem.
    let problems: Vec<&str> = report
        .lines()
        .filter(|l| {
            let Some(series) = l.strip_suffix(" no help text") else {
                return true;
            };
            let family = series.strip_suffix("_total").unwrap_or(series);
            !(series.ends_with("_total") && text.contains(&format!("# TYPE {family} counter")))
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(problems.is_empty(), "{report}\n{text}");
}
