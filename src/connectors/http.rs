//! The http connector: POSTs each message to a Fachverfahren's REST endpoint.
//!
//! A message without attachments is sent as its document (XML or JSON) with its own content
//! type — or, when the route names a mapping, as the mapped document (header
//! `X-Amtsbote-Mapping` names the mapping). A message with attachments is sent as `multipart/form-data`: a `document` part, then
//! one `attachment` part per attachment (with file name and content type), streamed from the
//! payload store. Headers: `Idempotency-Key` (the message id; a fresh key after a forced
//! replay), `X-Amtsbote-Message-Id`,
//! `X-Amtsbote-Tenant`, `X-Amtsbote-Attempt`, and `traceparent` when tracing is on.
//!
//! Answers: 2xx delivered (a `Location` header or a JSON `reference` field becomes the
//! receipt); 408, 429, 5xx, timeouts and connection errors transient (honouring
//! `Retry-After`, seconds or a date); any other status permanent, with an excerpt of the response body as
//! the reason so the operator sees why the Fachverfahren refused.

use super::{Connector, DeliveryError, Parts, Receipt};
use crate::config::AuthConfig;
use crate::secrets::{self, Secret};
use async_trait::async_trait;
use futures::TryStreamExt;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// Longest response excerpt kept as a failure reason.
const EXCERPT: usize = 300;

enum Auth {
    None,
    Bearer(Secret),
    Basic(String, Secret),
}

pub struct HttpConnector {
    client: reqwest::Client,
    url: reqwest::Url,
    auth: Auth,
}

impl HttpConnector {
    pub fn new(url: &str, auth: Option<&AuthConfig>, timeout: Duration) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("invalid url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("url must be http or https".into());
        }
        let auth = match auth {
            None => Auth::None,
            Some(AuthConfig::Bearer { token }) => Auth::Bearer(secrets::read(token)?),
            Some(AuthConfig::Basic { username, password }) => {
                Auth::Basic(username.clone(), secrets::read(password)?)
            }
        };
        let client = shared_client(timeout)?;
        Ok(HttpConnector { client, url, auth })
    }
}

/// One HTTP client per distinct setting (today only the timeout differs between connectors),
/// shared by every connector with that setting: building a client loads and parses the
/// trusted root certificates, which dominated the start of an installation with thousands of
/// connectors, and a shared client also shares its keep-alive connection pool.
fn shared_client(timeout: Duration) -> Result<reqwest::Client, String> {
    static CLIENTS: OnceLock<Mutex<HashMap<Duration, reqwest::Client>>> = OnceLock::new();
    let mut clients = CLIENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(client) = clients.get(&timeout) {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        // A redirect on a POST is a misconfigured URL, not something to follow silently.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("amtsbote/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    clients.insert(timeout, client.clone());
    Ok(client)
}

/// A printable, bounded excerpt of a response body.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT)
        .collect();
    if text.chars().count() > EXCERPT {
        out.push('…');
    }
    out.trim().to_string()
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let value = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    retry_after_value(value, SystemTime::now())
}

/// `Retry-After` is either seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past
/// means "now".
fn retry_after_value(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn reference(location: Option<String>, body: &[u8]) -> Option<String> {
    location.or_else(|| {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let r = v.get("reference")?;
        Some(
            r.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| r.to_string()),
        )
    })
}

#[async_trait]
impl Connector for HttpConnector {
    async fn deliver(&self, parts: &Parts<'_>, attempt: u32) -> Result<Receipt, DeliveryError> {
        let env = parts.envelope;
        let doc = env.payload().ok_or_else(|| {
            DeliveryError::permanent(format!("message {} has no document part", env.message_id))
        })?;
        let mut req = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", env.idempotency_key())
            .header("X-Amtsbote-Message-Id", env.message_id.to_string())
            .header("X-Amtsbote-Tenant", &env.tenant)
            .header("X-Amtsbote-Attempt", attempt.to_string());
        // The delivery attempt's own span, so that the Fachverfahren's trace hangs under it;
        // the stored intake context if no span is current.
        if let Some(tp) =
            crate::telemetry::trace::current_traceparent().or_else(|| env.traceparent.clone())
        {
            req = req.header("traceparent", tp);
        }
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t.expose()),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p.expose())),
        };
        // The document: as the route's mapping made it, or as it arrived.
        let (content_type, body, size) = match parts.mapped {
            Some(m) => {
                req = req.header("X-Amtsbote-Mapping", &m.mapping);
                (
                    m.content_type.clone(),
                    reqwest::Body::from(m.body.clone()),
                    m.body.len() as u64,
                )
            }
            None => {
                let stream = parts.stream(doc).await?.map_err(std::io::Error::other);
                (
                    doc.content_type.clone(),
                    reqwest::Body::wrap_stream(stream),
                    doc.size,
                )
            }
        };
        let attachments: Vec<_> = env.attachments().collect();
        req = if attachments.is_empty() {
            req.header(reqwest::header::CONTENT_TYPE, &content_type)
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(body)
        } else {
            let mut form = reqwest::multipart::Form::new();
            let document = reqwest::multipart::Part::stream_with_length(body, size)
                .mime_str(&content_type)
                .map_err(|e| DeliveryError::permanent(format!("document content type: {e}")))?;
            // The sender's file name of the original (not of a mapping's output).
            let document = match (&doc.filename, parts.mapped) {
                (Some(name), None) => document.file_name(name.clone()),
                _ => document,
            };
            form = form.part("document", document);
            for a in attachments {
                let stream = parts.stream(a).await?.map_err(std::io::Error::other);
                let mut part = reqwest::multipart::Part::stream_with_length(
                    reqwest::Body::wrap_stream(stream),
                    a.size,
                )
                .mime_str(&a.content_type)
                .map_err(|e| DeliveryError::permanent(format!("{} content type: {e}", a.name)))?;
                part = part.file_name(a.filename.clone().unwrap_or_else(|| a.name.clone()));
                form = form.part("attachment", part);
            }
            req.multipart(form)
        };

        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(DeliveryError::transient(format!(
                    "{}: no answer within the timeout",
                    self.url
                )));
            }
            Err(e) => {
                // reqwest's error text names the URL and the cause (refused, DNS, TLS); no content.
                return Err(DeliveryError::transient(format!(
                    "{}: {}",
                    self.url,
                    error_chain(&e)
                )));
            }
        };
        let status = resp.status();
        let hint = retry_after(&resp);
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            return Ok(Receipt {
                reference: reference(location, &body),
            });
        }
        let reason = format!("{} answered {status}", self.url);
        let detail = Some(excerpt(&body));
        if status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
        {
            Err(DeliveryError::Transient {
                retry_after: hint,
                reason,
                detail,
            })
        } else {
            Err(DeliveryError::Permanent { reason, detail })
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_printable() {
        assert_eq!(excerpt(b"missing field\n\tname"), "missing field  name");
        let long = "x".repeat(1000);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT + 1);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Dec 2026 08:00:00 GMT").unwrap();
        assert_eq!(
            retry_after_value(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after_value("Sun, 06 Dec 2026 08:05:00 GMT", now),
            Some(Duration::from_secs(300))
        );
        // A date already passed: try again now, not never.
        assert_eq!(
            retry_after_value("Sun, 06 Dec 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_value("soon", now), None);
        assert_eq!(retry_after_value("-5", now), None);
    }

    #[test]
    fn references_from_location_or_json() {
        assert_eq!(
            reference(Some("/cases/7".into()), b""),
            Some("/cases/7".into())
        );
        assert_eq!(
            reference(None, br#"{"reference":"GW-2026-1"}"#),
            Some("GW-2026-1".into())
        );
        assert_eq!(reference(None, br#"{"reference":42}"#), Some("42".into()));
        assert_eq!(reference(None, b"ok"), None);
    }
}
