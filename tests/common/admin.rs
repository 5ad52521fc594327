//! The admin API's side of the test harness: a configuration with one operator and one viewer
//! token, and a client that calls the API as either.

use super::{Backend, Broker};
use amtsbote::sandbox::fachverfahren::Behaviour;
use serde_json::Value;
use std::time::{Duration, Instant};

pub const OPERATOR_TOKEN: &str = "operator-token-0123456789-anna";
pub const VIEWER_TOKEN: &str = "viewer-token-0123456789-ben";

pub const ADMIN_CONFIG: &str = r#"
[[admin.tokens]]
name = "anna"
role = "operator"
token = { file = "anna.token" }

[[admin.tokens]]
name = "ben"
role = "viewer"
token = { file = "ben.token" }
"#;

/// Starts the broker with the admin tokens configured.
pub async fn start(behaviour: Behaviour) -> Broker {
    Broker::start_with_files(Backend::Embedded, behaviour, ADMIN_CONFIG, write_tokens).await
}

/// Writes the token files [`ADMIN_CONFIG`] names into the broker's directory.
pub fn write_tokens(dir: &std::path::Path) {
    std::fs::write(dir.join("anna.token"), format!("{OPERATOR_TOKEN}\n")).unwrap();
    std::fs::write(dir.join("ben.token"), VIEWER_TOKEN).unwrap();
}

/// A response: status, `Content-Type`, `WWW-Authenticate`, JSON body (or the text).
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub www_authenticate: Option<String>,
    pub body: Value,
}

pub async fn call(
    b: &Broker,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", b.base()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let www_authenticate = header("www-authenticate");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        content_type,
        www_authenticate,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

pub async fn get(b: &Broker, path: &str, token: &str) -> Answer {
    call(b, reqwest::Method::GET, path, Some(token), None).await
}

pub async fn post(b: &Broker, path: &str, token: &str, body: Value) -> Answer {
    call(b, reqwest::Method::POST, path, Some(token), Some(body)).await
}

/// Waits (at most `secs`) until the admin API shows message `id` in `state`.
pub async fn wait_state(b: &Broker, id: &str, state: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let a = get(b, &format!("/admin/api/v1/messages/{id}"), VIEWER_TOKEN).await;
        assert_eq!(a.status, 200, "{}", a.body);
        if a.body["state"] == state {
            return a.body;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} not {state} after {secs} s: {:#}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
