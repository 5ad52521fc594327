//! End-to-end: the admin API of the real binary — tokens and roles, listing filters and
//! paging, message detail, replay (one and many), resolve, purge, and the OpenAPI document.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::admin::{self, OPERATOR_TOKEN, VIEWER_TOKEN, get, post};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn states(detail: &Value) -> Vec<(String, String)> {
    detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["state"].as_str().unwrap().to_string(),
                h["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn post_dead(b: &Broker, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let (status, body) = b
            .post("cottbus", gewerbe_xml(), "application/xml", None)
            .await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        admin::wait_state(b, id, "dead", 20).await;
    }
    ids
}

/// The connector's dead letters as `/metrics` counts them.
async fn dead_letters(b: &Broker) -> u64 {
    let text = reqwest::get(format!("{}/metrics", b.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = r#"amtsbote_queue_entries{connector="gewerberegister",status="dead"} "#;
    text.lines()
        .find_map(|l| l.strip_prefix(line))
        .unwrap_or_else(|| panic!("no {line} in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_roles_guard_the_admin_api() {
    let b = admin::start(Behaviour {
        reject: true,
        ..Default::default()
    })
    .await;
    let id = post_dead(&b, 1).await.remove(0);

    // No token, a wrong token: 401 with a challenge, as a problem document.
    for token in [None, Some("operator-token-0123456789-annx")] {
        let a = admin::call(&b, Method::GET, "/admin/api/v1/messages", token, None).await;
        assert_eq!(a.status, 401, "{token:?}: {}", a.body);
        assert!(
            a.www_authenticate.as_deref().unwrap().starts_with("Bearer"),
            "{:?}",
            a.www_authenticate
        );
        assert_eq!(a.content_type, "application/problem+json");
        assert_eq!(a.body["type"], "urn:amtsbote:problem:unauthorized");
    }
    // A write without a token is a 401 too, not a 403.
    let a = admin::call(
        &b,
        Method::POST,
        &format!("/admin/api/v1/messages/{id}/replay"),
        None,
        None,
    )
    .await;
    assert_eq!(a.status, 401);

    // The viewer reads ...
    let me = get(&b, "/admin/api/v1/me", VIEWER_TOKEN).await;
    assert_eq!(me.body, json!({"name": "ben", "role": "viewer"}));
    let a = get(&b, "/admin/api/v1/messages?state=dead", VIEWER_TOKEN).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["messages"][0]["id"], id.as_str());
    // ... but every write is refused with 403, and nothing changes.
    for (path, body) in [
        (format!("/admin/api/v1/messages/{id}/replay"), json!({})),
        (
            format!("/admin/api/v1/messages/{id}/resolve"),
            json!({"reason": "x"}),
        ),
        (
            format!("/admin/api/v1/messages/{id}/purge"),
            json!({"reason": "x"}),
        ),
        (
            "/admin/api/v1/messages/replay".to_string(),
            json!({"ids": [id]}),
        ),
    ] {
        let a = post(&b, &path, VIEWER_TOKEN, body).await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert_eq!(a.content_type, "application/problem+json");
        assert!(
            a.body["detail"].as_str().unwrap().contains("role viewer"),
            "{}",
            a.body
        );
    }
    let m = get(&b, &format!("/admin/api/v1/messages/{id}"), VIEWER_TOKEN).await;
    assert_eq!(m.body["state"], "dead");
    assert_eq!(states(&m.body).len(), 5, "no transition by the viewer");

    // The operator may; the history names them.
    b.fv.set_behaviour(Behaviour::default());
    let a = post(
        &b,
        &format!("/admin/api/v1/messages/{id}/replay"),
        OPERATOR_TOKEN,
        json!({}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["connector"], "gewerberegister");
    let m = admin::wait_state(&b, &id, "delivered", 20).await;
    assert!(
        states(&m).contains(&("replayed".to_string(), "operator:anna".to_string())),
        "{m:#}"
    );
    // Refusals are logged without the token.
    let log = b.log();
    assert!(log.contains("admin API"), "{log}");
    assert!(!log.contains(OPERATOR_TOKEN) && !log.contains(VIEWER_TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_filters_page_and_explain_bad_input() {
    let b = admin::start(Behaviour::default()).await;
    let mut gewerbe = Vec::new();
    for _ in 0..3 {
        let (_, body) = b
            .post("cottbus", gewerbe_xml(), "application/xml", None)
            .await;
        gewerbe.push(body["id"].as_str().unwrap().to_string());
    }
    let (_, body) = b
        .post("beispielheim", xdomea_xml(), "application/xml", None)
        .await;
    let akte = body["id"].as_str().unwrap().to_string();
    for id in gewerbe.iter().chain([&akte]) {
        admin::wait_state(&b, id, "delivered", 20).await;
    }
    let ids = |a: &admin::Answer| -> Vec<String> {
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let broker = &b;
    let list = |q: &str| {
        let path = format!("/admin/api/v1/messages{q}");
        async move { get(broker, &path, VIEWER_TOKEN).await }
    };
    assert_eq!(ids(&list("?standard=xdomea").await), [akte.as_str()]);
    assert_eq!(ids(&list("?connector=gewerberegister").await), gewerbe);
    assert_eq!(
        ids(&list("?tenant=beispielheim&state=delivered,dead").await),
        [akte.as_str()]
    );
    assert!(ids(&list("?state=dead").await).is_empty());
    assert_eq!(
        ids(&list("?received_from=2000-01-01T00:00:00Z&received_to=2100-01-01T00:00:00Z").await)
            .len(),
        4
    );
    assert!(ids(&list("?received_to=2000-01-01T00:00:00Z").await).is_empty());

    // Pages of two: every message once, in order, then no cursor.
    let first = list("?limit=2").await;
    assert_eq!(ids(&first), gewerbe[..2]);
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    let second = list(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), [gewerbe[2].clone(), akte.clone()]);
    let cursor = second.body["next_cursor"].as_str().unwrap().to_string();
    let last = list(&format!("?limit=2&cursor={cursor}")).await;
    assert!(ids(&last).is_empty());
    assert!(last.body["next_cursor"].is_null());

    // Bad input: 400 naming the parameter.
    for (q, names) in [
        ("?state=lost", "`state`"),
        ("?received_from=yesterday", "`received_from`"),
        ("?limit=0", "`limit`"),
        ("?cursor=abc", "`cursor`"),
    ] {
        let a = list(q).await;
        assert_eq!(a.status, 400, "{q}: {}", a.body);
        assert_eq!(a.content_type, "application/problem+json");
        assert!(
            a.body["detail"].as_str().unwrap().contains(names),
            "{q}: {}",
            a.body
        );
    }
    let a = get(&b, "/admin/api/v1/messages/not-an-id", VIEWER_TOKEN).await;
    assert_eq!(a.status, 400);
    let unknown = "0190f000-0000-7000-8000-000000000000";
    let a = get(
        &b,
        &format!("/admin/api/v1/messages/{unknown}"),
        VIEWER_TOKEN,
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["message_id"], unknown);

    // Detail: the record, its full history, and the trace fields.
    let m = get(&b, &format!("/admin/api/v1/messages/{akte}"), VIEWER_TOKEN).await;
    assert_eq!(m.body["connector"], "e-akte");
    assert_eq!(
        states(&m.body).first().unwrap(),
        &("received".into(), "intake".into())
    );
    assert!(m.body.get("trace_id").is_some() && m.body.get("trace_url").is_some());

    // The overview counts them.
    let o = get(&b, "/admin/api/v1/overview", VIEWER_TOKEN).await;
    assert_eq!(o.status, 200, "{}", o.body);
    assert_eq!(o.body["last_hour"]["received"], 4);
    assert_eq!(o.body["last_hour"]["delivered"], 4);
    assert!(o.body["oldest_waiting"].is_null());
    let delivered: u64 = o.body["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "delivered")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(delivered, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_many_resolve_and_purge_are_audited() {
    let b = admin::start(Behaviour {
        reject: true,
        ..Default::default()
    })
    .await;
    let dead = post_dead(&b, 4).await;
    assert_eq!(dead_letters(&b).await, 4);
    let o = get(&b, "/admin/api/v1/overview", VIEWER_TOKEN).await;
    assert_eq!(o.body["oldest_attention"]["id"], dead[0].as_str());

    // Resolve needs a reason; then the message is closed, by whom and why.
    let resolve = format!("/admin/api/v1/messages/{}/resolve", dead[0]);
    let a = post(&b, &resolve, OPERATOR_TOKEN, json!({"reason": " "})).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = post(
        &b,
        &resolve,
        OPERATOR_TOKEN,
        json!({"reason": "handed to the Gewerbeamt on paper"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["from"], "dead");
    assert_eq!(
        dead_letters(&b).await,
        3,
        "a resolved message is no dead letter"
    );
    let m = get(
        &b,
        &format!("/admin/api/v1/messages/{}", dead[0]),
        VIEWER_TOKEN,
    )
    .await;
    assert_eq!(m.body["state"], "resolved");
    let last = m.body["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "operator:anna");
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("handed to the Gewerbeamt on paper")
    );
    // A second resolve is a conflict naming the message.
    let a = post(&b, &resolve, OPERATOR_TOKEN, json!({"reason": "again"})).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.body["message_id"], dead[0].as_str());

    // Purge: the payload goes now, and the history says who did it.
    let files_before = b.payload_files();
    let a = post(
        &b,
        &format!("/admin/api/v1/messages/{}/purge", dead[0]),
        OPERATOR_TOKEN,
        json!({"reason": "case closed"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(b.payload_files() < files_before);
    let m = b.show(&dead[0]);
    assert_eq!(m["state"], "purged");
    assert!(
        states(&m).ends_with(&[
            ("resolved".into(), "operator:anna".into()),
            ("purged".into(), "operator:anna".into())
        ]),
        "{m:#}"
    );
    assert_eq!(m["chain"]["Intact"]["entries"], 7, "the audit chain holds");

    // Replay many by id (one of them not replayable) and by filter.
    b.fv.set_behaviour(Behaviour::default());
    let a = post(
        &b,
        "/admin/api/v1/messages/replay",
        OPERATOR_TOKEN,
        json!({"ids": [dead[0], dead[1]]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["replayed"][0]["id"], dead[1].as_str());
    assert_eq!(a.body["failed"][0]["id"], dead[0].as_str());
    assert_eq!(a.body["failed"][0]["problem"]["status"], 409);
    let a = post(
        &b,
        "/admin/api/v1/messages/replay",
        OPERATOR_TOKEN,
        json!({"filter": {"states": ["dead"], "connector": "gewerberegister"}}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let replayed: Vec<&str> = a.body["replayed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(replayed, [dead[2].as_str(), dead[3].as_str()]);
    for id in &dead[1..] {
        admin::wait_state(&b, id, "delivered", 20).await;
    }
    let a = post(
        &b,
        "/admin/api/v1/messages/replay",
        OPERATOR_TOKEN,
        json!({}),
    )
    .await;
    assert_eq!(a.status, 400, "neither ids nor filter: {}", a.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() {
    let b = admin::start(Behaviour::default()).await;
    // Served without a token: it holds no data.
    let a = admin::call(&b, Method::GET, "/admin/api/v1/openapi.json", None, None).await;
    assert_eq!(a.status, 200);
    let doc = a.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let mut routed = vec![
        "GET /admin/api/v1/overview",
        "GET /admin/api/v1/messages",
        "GET /admin/api/v1/messages/{id}",
        "POST /admin/api/v1/messages/{id}/replay",
        "POST /admin/api/v1/messages/replay",
        "POST /admin/api/v1/messages/{id}/resolve",
        "POST /admin/api/v1/messages/{id}/purge",
        "GET /admin/api/v1/me",
        "GET /admin/api/v1/openapi.json",
    ];
    routed.sort();
    assert_eq!(documented, routed);
    // Each documented route answers (401 without a token), none is missing from the router.
    for entry in &routed {
        let (method, path) = entry.split_once(' ').unwrap();
        let path = path.replace("{id}", "0190f000-0000-7000-8000-000000000000");
        let a = admin::call(&b, method.parse().unwrap(), &path, None, None).await;
        let expected = if path.ends_with("openapi.json") {
            200
        } else {
            401
        };
        assert_eq!(a.status, expected, "{entry}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn check_refuses_weak_and_shared_tokens() {
    let b = admin::start(Behaviour::default()).await;
    let out = b.cli(&["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(b.dir.path().join("short.token"), "abc").unwrap();
    let mut config = std::fs::read_to_string(&b.config).unwrap();
    config.push_str(
        r#"
[[admin.tokens]]
name = "carla"
role = "operator"
token = { file = "short.token" }

[[admin.tokens]]
name = "dora"
role = "viewer"
token = { file = "anna.token" }
"#,
    );
    std::fs::write(&b.config, config).unwrap();
    let out = b.cli(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("admin.tokens[2]") && text.contains("shorter than 16"),
        "{text}"
    );
    assert!(
        text.contains("admin.tokens[3]") && text.contains("same value"),
        "{text}"
    );
    assert!(
        !text.contains(OPERATOR_TOKEN),
        "a secret in the output: {text}"
    );
}
