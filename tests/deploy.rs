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
    for (name, secret) in compose["secrets"].as_mapping().expect("secrets") {
        let file = secret["file"].as_str().unwrap();
        assert!(
            repo("deploy/compose").join(file).is_file(),
            "secret {name:?}: {file} missing"
        );
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
                // Counters are exported with `_total` appended.
                let name = name.strip_suffix("_total").unwrap_or(name);
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
