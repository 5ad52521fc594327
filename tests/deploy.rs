//! The deployment files shipped in `deploy/` (and the Dockerfile) are checked by the tools
//! that will read them where those run here, and otherwise for syntax and consistency.

use serde_norway::Value as Yaml;
use std::path::{Path, PathBuf};
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

// Docker, docker compose and Helm are not available where the tests run: the files below are
// checked for syntax and for consistency with each other and with the broker (configuration
// keys, metric names, files they mount), not by the tools themselves.

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Yaml {
    let mut v: Yaml =
        serde_norway::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"));
    v.apply_merge().unwrap();
    v
}

/// Checks a configuration for the cluster backend with the broker's own types: it
/// deserializes into `Config` (no unknown keys anywhere) and selects the cluster backend with
/// PostgreSQL, RabbitMQ and S3.
fn check_cluster_config(text: &str, what: &str) {
    use amtsbote::config::{Backend, Config};
    let c: Config = toml::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    check_server_limits(&c, what);
    assert_eq!(
        c.storage.backend,
        Backend::Cluster,
        "{what}: storage.backend"
    );
    assert!(c.storage.postgres.is_some(), "{what}: [storage.postgres]");
    assert!(c.storage.rabbitmq.is_some(), "{what}: [storage.rabbitmq]");
    let s3 = c
        .storage
        .s3
        .unwrap_or_else(|| panic!("{what}: [storage.s3]"));
    assert!(!s3.bucket.is_empty(), "{what}: storage.s3.bucket");
}

/// The descriptor limit the deployment files grant (systemd `LimitNOFILE`, compose `ulimits`).
const NOFILE: u64 = 65536;

/// The listener limits are set explicitly, pass the broker's own validation, and leave room
/// below the descriptor limit for everything besides connections.
fn check_server_limits(c: &amtsbote::config::Config, what: &str) {
    let errors = c.server.errors();
    assert!(errors.is_empty(), "{what}: {errors:?}");
    assert!(
        c.server.max_connections as u64 + 1024 <= NOFILE,
        "{what}: server.max_connections leaves too few descriptors below {NOFILE}"
    );
}

#[test]
fn the_systemd_unit_grants_descriptors_for_the_connection_cap() {
    let unit = read("deploy/systemd/amtsbote.service");
    assert!(
        unit.lines()
            .any(|l| l.trim() == format!("LimitNOFILE={NOFILE}")),
        "LimitNOFILE={NOFILE} in the [Service] section"
    );
}

#[test]
fn the_compose_brokers_get_descriptors_and_set_listener_limits() {
    let compose = yaml("deploy/compose/docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    let brokers: Vec<_> = services
        .iter()
        .filter(|(_, s)| s["command"][0].as_str() == Some("run"))
        .collect();
    assert!(!brokers.is_empty(), "broker services in compose");
    for (name, service) in brokers {
        for bound in ["soft", "hard"] {
            assert_eq!(
                service["ulimits"]["nofile"][bound].as_u64(),
                Some(NOFILE),
                "{name:?}: ulimits.nofile.{bound}"
            );
        }
    }
    let text = read("deploy/compose/amtsbote.toml");
    for key in [
        "header_read_timeout",
        "idle_timeout",
        "body_read_timeout",
        "max_connections",
    ] {
        assert!(
            text.contains(&format!("\n{key} = ")),
            "compose amtsbote.toml sets server.{key}"
        );
    }
}

#[test]
fn the_dockerfile_is_multi_stage_and_runs_as_non_root() {
    let text = read("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    let froms = lines.iter().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage: {froms} FROM lines");
    assert!(lines.iter().any(|l| l.starts_with("COPY --from=builder")));
    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    let who = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(who != "root" && who != "0", "runs as {who}");
    assert!(lines.iter().any(|l| l.starts_with("EXPOSE 8470")));
    assert!(lines.iter().any(|l| l.starts_with("HEALTHCHECK")) && text.contains("/healthz"));
    assert!(lines.contains(&r#"ENTRYPOINT ["amtsbote"]"#));
    assert!(lines.contains(&r#"CMD ["run", "--config", "/etc/amtsbote/amtsbote.toml"]"#));
    // What the runtime stage copies from the build context exists.
    for line in lines
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let source = line.split_whitespace().nth(1).unwrap();
        assert!(repo(source).exists(), "{line}: {source} does not exist");
    }
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}

#[test]
fn the_compose_file_parses_and_mounts_files_that_exist() {
    let compose = yaml("deploy/compose/docker-compose.yml");
    let services = compose["services"].as_mapping().expect("services");
    for name in [
        "amtsbote-1",
        "amtsbote-2",
        "postgres",
        "rabbitmq",
        "otel-collector",
        "jaeger",
        "prometheus",
        "grafana",
    ] {
        assert!(
            services.contains_key(Yaml::from(name)),
            "service {name} missing"
        );
    }
    for (name, service) in services {
        let name = name.as_str().unwrap();
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            if !source.starts_with('.') {
                continue; // a named volume
            }
            let path = repo("deploy/compose").join(source);
            assert!(
                path.exists(),
                "{name} mounts {source}, which does not exist"
            );
        }
    }
    for name in ["amtsbote-1", "amtsbote-2", "postgres", "rabbitmq"] {
        assert!(
            services[name]["healthcheck"]["test"].is_sequence(),
            "{name} has a healthcheck"
        );
    }
    let broker = &services["amtsbote-1"];
    assert_eq!(
        broker["build"]["dockerfile"].as_str(),
        Some("Dockerfile"),
        "built from the repository's Dockerfile"
    );
    assert!(repo("Dockerfile").is_file());
    // The RabbitMQ definitions are loaded at start.
    assert!(read("deploy/compose/rabbitmq.conf").contains("/etc/rabbitmq/definitions.json"));
    for rel in [
        "deploy/compose/otel/collector.yaml",
        "deploy/compose/grafana/provisioning/datasources/prometheus.yml",
        "deploy/compose/grafana/provisioning/dashboards/amtsbote.yml",
    ] {
        yaml(rel);
    }
}

#[test]
fn prometheus_scrapes_both_replicas() {
    let prom = yaml("deploy/compose/prometheus/prometheus.yml");
    let targets: Vec<&str> = prom["scrape_configs"][0]["static_configs"][0]["targets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(targets, ["amtsbote-1:8470", "amtsbote-2:8470"]);
    assert_eq!(
        prom["scrape_configs"][0]["metrics_path"].as_str(),
        Some("/metrics")
    );
}

#[test]
fn the_dashboard_uses_metrics_the_broker_exports() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/amtsbote-dashboard.json")).unwrap();
    let source = read("src/telemetry/metrics.rs");
    let mut seen = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let Some(name) = word.strip_prefix("amtsbote_") else {
                    continue;
                };
                // Counters are exported with `_total` appended, histograms as `_bucket`,
                // `_count` and `_sum`.
                let name = ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                assert!(
                    source.contains(&format!("\"{name}\"")),
                    "panel {}: metric amtsbote_{name} is not registered in src/telemetry/metrics.rs",
                    panel["title"]
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 6);
}

#[test]
fn the_compose_configuration_is_a_broker_configuration() {
    check_cluster_config(
        &read("deploy/compose/amtsbote.toml"),
        "compose amtsbote.toml",
    );
}

/// Every `.Values.a.b` a template uses is in values.yaml.
#[test]
fn the_helm_chart_parses_and_uses_only_defined_values() {
    let chart = yaml("deploy/helm/amtsbote/Chart.yaml");
    assert_eq!(chart["apiVersion"].as_str(), Some("v2"));
    assert_eq!(chart["name"].as_str(), Some("amtsbote"));
    let values = yaml("deploy/helm/amtsbote/values.yaml");
    let dir = repo("deploy/helm/amtsbote/templates");
    let mut used = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices(".Values.") {
            let rest = &text[at + ".Values.".len()..];
            let reference: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            let mut v = &values;
            for key in reference.trim_end_matches('.').split('.') {
                assert!(
                    v.get(key).is_some(),
                    "{}: .Values.{reference} is not in values.yaml",
                    path.display()
                );
                v = &v[key];
            }
            used += 1;
        }
    }
    assert!(used > 10);
    let deployment = read("deploy/helm/amtsbote/templates/deployment.yaml");
    for needed in [
        "/healthz",
        "/readyz",
        "readOnlyRootFilesystem",
        "runAsNonRoot",
    ] {
        assert!(
            deployment.contains(needed)
                || read("deploy/helm/amtsbote/values.yaml").contains(needed),
            "{needed}"
        );
    }
    assert_eq!(
        values["podSecurityContext"]["runAsNonRoot"].as_bool(),
        Some(true)
    );
    assert_eq!(
        values["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
}

/// The amtsbote.toml of the ConfigMap, rendered with the default values by substituting its
/// (simple) template expressions, is a broker configuration.
#[test]
fn the_helm_configmap_renders_to_a_broker_configuration() {
    let values = yaml("deploy/helm/amtsbote/values.yaml");
    let template = read("deploy/helm/amtsbote/templates/configmap.yaml");
    let body = template
        .split_once("amtsbote.toml: |\n")
        .expect("amtsbote.toml in the ConfigMap")
        .1;
    let lookup = |path: &str| {
        let mut v = &values;
        for key in path.split('.') {
            v = &v[key];
        }
        v.clone()
    };
    let mut rendered = String::new();
    // `{{- with X }} … {{- end }}`: kept when X is non-empty.
    let mut skipping = false;
    for line in body.lines() {
        let line = line.strip_prefix("    ").unwrap_or(line);
        let trimmed = line.trim();
        if let Some(cond) = trimmed
            .strip_prefix("{{- with .Values.")
            .and_then(|r| r.strip_suffix(" }}"))
        {
            let v = lookup(cond);
            skipping = v.is_null() || v.as_str() == Some("");
            continue;
        }
        if trimmed == "{{- end }}" {
            skipping = false;
            continue;
        }
        if skipping {
            continue;
        }
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            let expr = rest[start + 2..end].trim();
            let (path, quote) = match expr.strip_suffix("| quote") {
                Some(p) => (p.trim(), true),
                None => (expr, false),
            };
            let path = path
                .strip_prefix(".Values.")
                .expect("only .Values in the config");
            let v = lookup(path);
            let text = match &v {
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Number(n) => n.to_string(),
                other => panic!(".Values.{path} is {other:?}"),
            };
            if quote {
                out.push_str(&format!("{text:?}"));
            } else {
                out.push_str(&text);
            }
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        rendered.push_str(&out);
        rendered.push('\n');
    }
    check_cluster_config(&rendered, "Helm ConfigMap amtsbote.toml");
}

// No secret is shipped: compose generates its secrets on first start and keeps them, the Helm
// chart generates the payload key once and keeps it; everything else is the operator's.

/// Lines of every file under `deploy/` and the Dockerfile, without comment lines.
fn deployment_lines() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = vec![repo("Dockerfile")];
    walk(&repo("deploy"), &mut files);
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') || trimmed.starts_with("//") {
                continue;
            }
            lines.push((file.clone(), line.to_string()));
        }
    }
    lines
}

#[test]
fn no_fixed_secrets_are_shipped() {
    assert!(
        !repo("deploy/compose/secrets").exists(),
        "deploy/compose/secrets/ is back: compose generates its secrets (service secrets-init)"
    );
    let compose = yaml("deploy/compose/docker-compose.yml");
    for (name, secret) in compose["secrets"].as_mapping().into_iter().flatten() {
        assert!(
            secret.get("file").is_none(),
            "compose secret {name:?} is a file shipped with the repository"
        );
    }
    // A key (32 or more hex digits) or a URL with a password written into a file.
    for (file, line) in deployment_lines() {
        let hex_run = line
            .split(|c: char| !c.is_ascii_hexdigit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(hex_run < 32, "{}: a key? {line}", file.display());
        for (at, _) in line.match_indices("://") {
            let authority = line[at + 3..].split(['/', ' ', '"', '\'']).next().unwrap();
            if let Some((userinfo, _)) = authority.rsplit_once('@')
                && let Some((_, password)) = userinfo.split_once(':')
            {
                assert!(
                    password.starts_with('$'),
                    "{}: a password in a URL: {line}",
                    file.display()
                );
            }
        }
    }
    // Passwords and keys reach the services as files, never as literal environment values.
    let services = compose["services"].as_mapping().unwrap();
    for (service, s) in services {
        for (key, _) in s["environment"].as_mapping().into_iter().flatten() {
            let key = key.as_str().unwrap();
            let secretish = ["PASSWORD", "PASS", "SECRET", "TOKEN", "KEY"]
                .iter()
                .any(|w| key.split('_').any(|part| part == *w));
            assert!(
                !secretish || key.ends_with("_FILE"),
                "{service:?}: environment {key} holds a secret; read it from /run/secrets"
            );
        }
    }
    // Helm: a Secret the chart makes is generated once and kept, never written in the chart.
    let dir = repo("deploy/helm/amtsbote/templates");
    let mut made = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if !text.contains("kind: Secret") {
            continue;
        }
        made += 1;
        for needed in [
            "lookup \"v1\" \"Secret\"",
            "randAlphaNum",
            "helm.sh/resource-policy: keep",
        ] {
            assert!(text.contains(needed), "{}: {needed}", path.display());
        }
    }
    assert_eq!(made, 1, "the chart generates the payload key Secret");
    let values = yaml("deploy/helm/amtsbote/values.yaml");
    assert_eq!(
        values["secrets"]["generatePayloadKey"].as_bool(),
        Some(true)
    );
}

/// The one-shot service `secrets-init` run with `sh` against a directory: it makes every
/// secret the stack reads, random, private, and keeps them when run again.
#[test]
fn the_compose_secrets_are_generated_once_and_kept() {
    use std::os::unix::fs::PermissionsExt;
    let compose = yaml("deploy/compose/docker-compose.yml");
    let services = compose["services"].as_mapping().unwrap();
    let init = &services["secrets-init"];
    assert_eq!(init["volumes"][0].as_str(), Some("secrets:/secrets"));
    let script = init["command"][0].as_str().expect("the init script");

    // Which secrets the stack reads, by file name under /run/secrets.
    let mut needed = std::collections::BTreeSet::new();
    let toml = read("deploy/compose/amtsbote.toml");
    let compose_text = read("deploy/compose/docker-compose.yml");
    for text in [&toml, &compose_text] {
        for (at, _) in text.match_indices("/run/secrets/") {
            let name: String = text[at + "/run/secrets/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            needed.insert(name);
        }
    }
    // MinIO names its files relative to /run/secrets.
    for (key, value) in services["minio"]["environment"].as_mapping().unwrap() {
        if key.as_str().unwrap().ends_with("_FILE") {
            needed.insert(value.as_str().unwrap().to_string());
        }
    }
    assert!(needed.len() >= 7, "{needed:?}");
    // Every service reading them mounts the volume and waits for the init service.
    for (name, s) in services {
        let text = serde_norway::to_string(s).unwrap();
        if name.as_str() == Some("secrets-init") || !text.contains("/run/secrets") {
            continue;
        }
        let mounts: Vec<&str> = s["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            mounts.contains(&"secrets:/run/secrets:ro"),
            "{name:?}: {mounts:?}"
        );
        assert_eq!(
            s["depends_on"]["secrets-init"]["condition"].as_str(),
            Some("service_completed_successfully"),
            "{name:?}"
        );
    }

    let run = |dir: &Path| {
        // `$$` is compose's escape for `$`; ownership is only changed when we may.
        let mut body = script
            .replace("$$", "$")
            .replace("cd /secrets", &format!("cd '{}'", dir.display()));
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            body = format!("chown() {{ :; }}\n{body}");
        }
        let out = Command::new("sh").arg("-c").arg(&body).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        needed
            .iter()
            .map(|name| {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o400, "{name}");
                (name.clone(), text.trim().to_string())
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let tmp = tempfile::tempdir().unwrap();
    let first = run(tmp.path());
    amtsbote::payload::sealed::PayloadKey::from_hex(&first["payload_key"]).unwrap();
    for name in [
        "postgres_password",
        "rabbitmq_password",
        "s3_secret_access_key",
    ] {
        assert!(first[name].len() >= 32, "{name}");
    }
    assert!(first["postgres_url"].contains(&format!(":{}@postgres:", first["postgres_password"])));
    assert!(first["amqp_url"].contains(&format!(":{}@rabbitmq:", first["rabbitmq_password"])));
    assert_eq!(run(tmp.path()), first, "a second start keeps every secret");
    let other = tempfile::tempdir().unwrap();
    let fresh = run(other.path());
    for name in &needed {
        assert_ne!(fresh[name], first[name], "{name} is random, not fixed");
    }
}
