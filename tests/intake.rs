//! End-to-end: HTTP intake refuses bad requests with the right status and a reason, and keeps
//! nothing of them.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::*;

async fn assert_nothing_stored(b: &Broker) {
    // Discarded parts are removed before the answer is sent.
    assert_eq!(b.list(&[]).len(), 0, "no ledger row");
    assert_eq!(b.payload_files(), 0, "no payload file");
    assert!(b.received().is_empty(), "nothing delivered");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_xml_is_refused_with_the_parsers_reason() {
    let b = Broker::start(Behaviour::default(), "").await;
    let bad = b"<?xml version=\"1.0\"?><antrag><name>Erika Mustermann</nme></antrag>".to_vec();
    let (status, body) = b.post("cottbus", bad, "application/xml", Some("t1")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "urn:amtsbote:problem:malformed");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("line 1"), "position given: {detail}");
    assert!(
        !detail.contains("Mustermann"),
        "no content echoed: {detail}"
    );
    assert!(!b.log().contains("Mustermann"), "no content logged");
    // The same transport id can be sent again, corrected.
    let (status, _) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("t1"))
        .await;
    assert_eq!(status, 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_and_broken_documents_leave_nothing_behind() {
    let b = Broker::start(Behaviour::default(), "").await;
    let cases: Vec<(Vec<u8>, &str, u16, &str)> = vec![
        (br#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#.to_vec(), "application/xml", 400, "malformed"),
        (b"{\"name\": \"x\",".to_vec(), "application/json", 400, "malformed"),
        (b"%PDF-1.4".to_vec(), "application/pdf", 415, "unsupported-media-type"),
        (b"hello".to_vec(), "text/plain", 415, "unsupported-media-type"),
        (Vec::new(), "application/xml", 400, "malformed"),
        (vec![b'<'; 1_500_000], "application/xml", 413, "too-large"),
    ];
    for (body, ct, want, kind) in cases {
        let (status, problem) = b.post("cottbus", body, ct, None).await;
        assert_eq!(status, want, "{ct}: {problem}");
        assert_eq!(
            problem["type"],
            format!("urn:amtsbote:problem:{kind}"),
            "{problem}"
        );
        assert_eq!(problem["status"], want);
    }
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_multipart_attachments_are_refused_and_removed() {
    let b = Broker::start(Behaviour::default(), "").await;
    let form = reqwest::multipart::Form::new()
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![7u8; 900_000]).file_name("a.bin"),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![8u8; 900_000]).file_name("b.bin"),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(vec![9u8; 900_000]).file_name("c.bin"),
        )
        .part(
            "document",
            reqwest::multipart::Part::bytes(gewerbe_xml())
                .mime_str("application/xml")
                .unwrap(),
        );
    let (status, _) = b.post_form("cottbus", form).await;
    assert_eq!(status, 413);
    assert_nothing_stored(&b).await;

    // The same without a declared length (chunked): refused once the limit is crossed, and
    // the client still sending gets the answer rather than a broken pipe.
    let chunks = (0..30).map(|_| Ok::<_, std::io::Error>(vec![b' '; 100_000]));
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/xml")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_nothing_stored(&b).await;

    // A multipart body without a document.
    let form = reqwest::multipart::Form::new()
        .part("attachment", reqwest::multipart::Part::bytes(vec![1u8; 10]));
    let (status, _) = b.post_form("cottbus", form).await;
    assert_eq!(status, 400);
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn authentication_tenants_and_authorisation() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (status, body) = b
        .post_as(
            "wrong-token",
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .header("Content-Type", "application/xml")
        .body(gewerbe_xml())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "no token");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");

    // An unknown tenant is answered like a wrong token: tenants cannot be enumerated.
    let (status, body) = b
        .post("nowhere", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["type"], "urn:amtsbote:problem:unauthorized");
    assert!(!body["detail"].as_str().unwrap().contains("nowhere"));

    // beispielheim's own portal may post for beispielheim only.
    let (status, body) = b
        .post_as(
            OTHER_TOKEN,
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            gewerbe_xml(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 202);
    let rows = b.list(&[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["source"], "own-portal");
    // A transport id it used for its own tenant does not open a door to another tenant.
    let (status, _) = b
        .post_as(
            OTHER_TOKEN,
            "beispielheim",
            gewerbe_xml(),
            "application/xml",
            Some("t-9"),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = b
        .post_as(
            OTHER_TOKEN,
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            Some("t-9"),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        !b.log().contains(TOKEN) && !b.log().contains(OTHER_TOKEN),
        "tokens never logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics() {
    let b = Broker::start(Behaviour::default(), "").await;
    let (_, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    b.wait_state(body["id"].as_str().unwrap(), "delivered", 20)
        .await;
    b.post("cottbus", b"<broken".to_vec(), "application/xml", None)
        .await;
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{}/healthz", b.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(format!("{}/readyz", b.base()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Counters are bumped just after the ledger commit the test waits for: scrape until they
    // show (bounded), then assert with the whole exposition in the message.
    let wanted = [
        r#"amtsbote_messages_received_total{tenant="cottbus",source="formserver"} 1"#,
        r#"amtsbote_delivery_attempts_total{connector="gewerberegister",outcome="delivered"} 1"#,
        r#"amtsbote_intake_refused_total{source="formserver",reason="malformed"} 1"#,
    ];
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = client
            .get(format!("{}/metrics", b.base()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if wanted.iter().all(|w| metrics.contains(w)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for line in wanted {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    // Gauges are read at scrape time; an empty queue reads 0.
    for line in [
        r#"amtsbote_queue_entries{connector="e-akte",status="ready"} 0"#,
        r#"amtsbote_queue_entries{connector="gewerberegister",status="leased"} 0"#,
        r#"amtsbote_messages{tenant="cottbus",source="formserver",connector="gewerberegister",state="delivered"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
}

/// Posts with a raw `Authorization` header value (reqwest sends it exactly as given).
async fn post_with_authorization(b: &Broker, tenant: &str, authorization: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/tenants/{tenant}/messages", b.base()))
        .header("Authorization", authorization)
        .header("Content-Type", "application/xml")
        .body(gewerbe_xml())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_scheme_is_matched_case_insensitively() {
    let b = Broker::start(Behaviour::default(), "").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let (status, body) =
            post_with_authorization(&b, "cottbus", &format!("{scheme} {TOKEN}")).await;
        assert_eq!(status, 202, "{scheme}: {body}");
    }
    // curl, a client not written here, with the scheme in capitals and two spaces.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["-H", &format!("Authorization: BEARER  {TOKEN}")])
        .args(["-H", "Content-Type: application/xml"])
        .arg("--data-binary")
        .arg(format!(
            "@{}/examples/messages/xgewerbeanzeige-2.2-gewerbemeldung.xml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "202", "curl");
    // Another scheme with the right token is still no bearer token.
    let (status, _) = post_with_authorization(&b, "cottbus", &format!("Basic {TOKEN}")).await;
    assert_eq!(status, 401);
    assert_eq!(b.list(&[]).len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tenant_wrong_token_and_no_token_get_byte_identical_answers() {
    let b = Broker::start(Behaviour::default(), "").await;
    // The full answer as it went over the wire, minus the `date` header.
    async fn answer(b: &Broker, tenant: &str, token: Option<&str>) -> (u16, Vec<String>, Vec<u8>) {
        let mut req = reqwest::Client::new()
            .post(format!("{}/api/v1/tenants/{tenant}/messages", b.base()))
            .header("Content-Type", "application/xml")
            .body(gewerbe_xml());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let mut headers: Vec<String> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != "date")
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        headers.sort();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    }
    let unknown_tenant = answer(&b, "nowhere", Some(TOKEN)).await;
    let wrong_token = answer(&b, "cottbus", Some("wrong-token")).await;
    let no_token = answer(&b, "cottbus", None).await;
    let not_allowed = answer(&b, "cottbus", Some(OTHER_TOKEN)).await;
    let unknown_both = answer(&b, "nowhere", Some("wrong-token")).await;
    assert_eq!(unknown_tenant.0, 401);
    assert!(
        unknown_tenant
            .1
            .contains(&"www-authenticate: Bearer".to_string()),
        "{:?}",
        unknown_tenant.1
    );
    assert!(
        unknown_tenant
            .1
            .contains(&"content-type: application/problem+json".to_string()),
        "{:?}",
        unknown_tenant.1
    );
    for (name, other) in [
        ("wrong token", &wrong_token),
        ("no token", &no_token),
        ("source not allowed", &not_allowed),
        ("unknown tenant and token", &unknown_both),
    ] {
        assert_eq!(&unknown_tenant, other, "unknown tenant vs {name}");
    }
    assert!(b.list(&[]).is_empty());
    assert!(b.received().is_empty());
}

/// The broker restarted with `env` (AMTSBOTE__… overrides of the configuration).
async fn start_with_env(env: &[(&str, &str)]) -> Broker {
    let mut b = Broker::start(Behaviour::default(), "").await;
    b.kill9();
    b.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    b.spawn().await;
    b
}

/// POSTs `body` byte for byte with curl (a client not written here) as the form server.
/// Returns the status and the answer (JSON when it is JSON).
fn curl_post(b: &Broker, content_type: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let file = b.dir.path().join(format!("body-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, body).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["-H", &format!("Content-Type: {content_type}")])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(format!("{}/api/v1/tenants/cottbus/messages", b.base()))
        .output()
        .expect("curl runs");
    std::fs::remove_file(&file).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (answer, status) = text.rsplit_once('\n').expect("curl wrote the status");
    (
        status.parse().unwrap_or_else(|_| panic!("curl: {text}")),
        serde_json::from_str(answer).unwrap_or(serde_json::Value::String(answer.into())),
    )
}

/// Asserts a refusal: status, problem type, and that its detail names the rule.
fn assert_problem(answer: &(u16, serde_json::Value), status: u16, kind: &str, rule: &str) {
    let (got, problem) = answer;
    assert_eq!(*got, status, "{problem}");
    assert_eq!(
        problem["type"],
        format!("urn:amtsbote:problem:{kind}"),
        "{problem}"
    );
    assert_eq!(problem["status"], status, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(rule), "the rule in {detail:?}");
    assert!(!detail.contains("Mustermann"), "no content in {detail:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_with_invalid_utf8_is_refused() {
    let b = Broker::start(Behaviour::default(), "").await;
    let body = b"{\"name\": \"Erika \xff\xfe Mustermann\"}";
    let answer = curl_post(&b, "application/json", body);
    assert_problem(&answer, 400, "invalid-utf8", "not valid UTF-8 at byte 16");
    // A UTF-8-encoded surrogate (CESU-8) is not UTF-8 either.
    let answer = curl_post(&b, "application/json", b"[\"\xed\xa0\x80\"]");
    assert_problem(&answer, 400, "invalid-utf8", "line 1, column 3");
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn xml_declared_utf8_with_invalid_bytes_is_refused() {
    let b = Broker::start(Behaviour::default(), "").await;
    let mut body = gewerbe_xml();
    let at = body.windows(7).position(|w| w == b"<?xml v").unwrap();
    assert_eq!(at, 0, "the fixture starts with its declaration");
    // An invalid byte in a comment after the root element, where no header is sniffed.
    body.extend_from_slice(b"<!-- \xff -->");
    let answer = curl_post(&b, "application/xml", &body);
    assert_problem(
        &answer,
        400,
        "invalid-utf8",
        "XML document is not valid UTF-8",
    );
    let answer = curl_post(&b, "application/xml", b"<a b=\"Erika \xc3\"/>");
    assert_problem(&answer, 400, "invalid-utf8", "line 1, column 13");
    assert_nothing_stored(&b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_with_a_lone_surrogate_is_refused() {
    let b = Broker::start(Behaviour::default(), "").await;
    for body in [
        br#"{"name": "\ud800"}"#.as_slice(),
        br#"{"name": "\udc00 Mustermann"}"#,
        br#"{"\ud83d": "a high surrogate without its low half, in a key"}"#,
    ] {
        let answer = curl_post(&b, "application/json", body);
        assert_problem(&answer, 400, "lone-surrogate", "lone UTF-16 surrogate");
    }
    assert_nothing_stored(&b).await;
    // A proper pair is one character, and fine.
    let (status, body) = curl_post(&b, "application/json", br#"{"name": "\ud83d\ude00"}"#);
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_nested_deeper_than_the_limit_is_refused() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes();
    let b = Broker::start(Behaviour::default(), "").await;
    // The default limit is 64; deeper than serde_json's own 128 as well.
    for depth in [65, 129, 100_000] {
        let answer = curl_post(&b, "application/json", &nested(depth));
        assert_problem(&answer, 400, "too-deep", "nested deeper than 64 levels");
    }
    assert_nothing_stored(&b).await;
    let (status, body) = curl_post(&b, "application/json", &nested(64));
    assert_eq!(status, 202, "{body}");
    drop(b);

    // The limit is a setting.
    let b = start_with_env(&[("AMTSBOTE__INTAKE__MAX_JSON_DEPTH", "3")]).await;
    let answer = curl_post(&b, "application/json", br#"{"a": {"b": {"c": []}}}"#);
    assert_problem(&answer, 400, "too-deep", "nested deeper than 3 levels");
    assert_nothing_stored(&b).await;
    let (status, body) = curl_post(&b, "application/json", br#"{"a": {"b": {"c": 1}}}"#);
    assert_eq!(status, 202, "{body}");
}

/// A multipart body by hand: the attachments, then the document.
fn multipart_body(attachments: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, attachment) in attachments.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a{i}.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(attachment);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        b"--XyZ\r\nContent-Disposition: form-data; name=\"document\"\r\nContent-Type: application/xml\r\n\r\n",
    );
    body.extend_from_slice(&gewerbe_xml());
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_with_more_parts_than_the_limit_is_refused_and_leaves_no_files() {
    let b = Broker::start(Behaviour::default(), "").await;
    let ct = "multipart/form-data; boundary=XyZ";
    for attachments in [10_000, 100] {
        let answer = curl_post(&b, ct, &multipart_body(&vec![b"x".to_vec(); attachments]));
        assert_problem(
            &answer,
            413,
            "too-many-parts",
            "more than 100 multipart parts",
        );
        assert_nothing_stored(&b).await;
    }
    // 99 attachments and the document: at the limit, accepted.
    let (status, body) = curl_post(&b, ct, &multipart_body(&vec![b"x".to_vec(); 99]));
    assert_eq!(status, 202, "{body}");
    let m = b.show(body["id"].as_str().unwrap());
    assert_eq!(m["parts"].as_array().map(Vec::len), Some(100), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attachment_over_the_part_limit_is_refused_and_removed() {
    let b = start_with_env(&[("AMTSBOTE__INTAKE__MAX_PART_BYTES", "100000")]).await;
    let ct = "multipart/form-data; boundary=XyZ";
    // Two attachments within the limit are stored before the third crosses it.
    let answer = curl_post(
        &b,
        ct,
        &multipart_body(&[
            vec![b'a'; 100_000],
            vec![b'a'; 100_000],
            vec![b'b'; 100_001],
        ]),
    );
    assert_problem(
        &answer,
        413,
        "part-too-large",
        "limit of 100000 bytes per attachment",
    );
    assert_nothing_stored(&b).await;
    let (status, body) = curl_post(
        &b,
        ct,
        &multipart_body(&[vec![b'a'; 100_000], vec![b'a'; 100_000]]),
    );
    assert_eq!(status, 202, "{body}");
}

/// The lines of the broker's log written after `from` bytes.
fn log_since(b: &Broker, from: usize) -> Vec<String> {
    b.log()[from..].lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_authentications_are_summarised_not_logged_one_by_one() {
    let b = Broker::start(Behaviour::default(), "").await;
    let from = b.log().len();
    // A 60 KB tenant name in the path: before, each such request wrote a line of that size.
    let long_tenant = format!("x{}", "A".repeat(60_000));
    let client = reqwest::Client::new();
    let requests = 300;
    for i in 0..requests {
        let tenant = if i % 3 == 0 {
            long_tenant.as_str()
        } else {
            "cottbus"
        };
        let mut req = client
            .post(format!("{}/api/v1/tenants/{tenant}/messages", b.base()))
            .header("Content-Type", "application/xml")
            .body("<a/>");
        if i % 3 == 1 {
            req = req.header("Authorization", "Bearer wrong-token");
        }
        assert_eq!(req.send().await.unwrap().status().as_u16(), 401);
    }
    // The summary follows within the interval (2 s in the test configuration).
    let mut summarised = 0;
    for _ in 0..100 {
        summarised = log_since(&b, from)
            .iter()
            .filter(|l| l.contains("authentication failed repeatedly"))
            .map(|l| {
                let n = l.split("failures=").nth(1).unwrap_or_else(|| panic!("{l}"));
                n.split_whitespace().next().unwrap().parse::<u64>().unwrap()
            })
            .sum::<u64>();
        if summarised == requests - 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines = log_since(&b, from);
    let auth: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("authentication failed"))
        .collect();
    assert_eq!(
        summarised,
        requests - 1,
        "every failure after the first is summarised:\n{}",
        lines.join("\n")
    );
    let firsts = auth
        .iter()
        .filter(|l| l.contains("authentication failed;"))
        .count();
    assert_eq!(
        firsts,
        1,
        "one line for the first failure:\n{}",
        lines.join("\n")
    );
    // One summary per interval: the 300 requests took a few intervals at most.
    assert!(auth.len() <= 10, "{} lines about failures", auth.len());
    for l in &lines {
        assert!(l.len() < 2048, "a line of {} bytes: {}", l.len(), &l[..200]);
        assert!(!l.contains(&"A".repeat(129)), "tenant name not cut: {l}");
    }
    let summary = auth.iter().find(|l| l.contains("repeatedly")).unwrap();
    assert!(summary.contains(r#"client="127.0.0.1""#), "{summary}");
    // Failures are still counted one by one.
    let metrics = reqwest::get(format!("{}/metrics", b.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"amtsbote_intake_refused_total{source="-",reason="unauthorized"} 300"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn values_the_sender_controls_are_escaped_and_cut_in_the_log() {
    let b = Broker::start(Behaviour::default(), "").await;
    let from = b.log().len();
    // A message type code of 4,000 characters with a line break (which could forge a log
    // line) and a right-to-left override (which could disguise one).
    let code = format!("0500\nlevel=ERROR forged\u{202e}{}", "7".repeat(4000));
    let xml = String::from_utf8(gewerbe_xml())
        .unwrap()
        .replace("<code>0500</code>", &format!("<code>{code}</code>"));
    let (status, body) = b
        .post("cottbus", xml.into_bytes(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let lines = log_since(&b, from);
    let received = lines
        .iter()
        .find(|l| l.contains("message received"))
        .unwrap_or_else(|| panic!("no intake line:\n{}", lines.join("\n")));
    assert!(
        received.contains("message_type=0500\\u{a}level=ERROR forged\\u{202e}777"),
        "{received}"
    );
    let shown = received.split("message_type=").nth(1).unwrap();
    let shown = &shown[..shown.find(" size=").unwrap_or(shown.len())];
    assert!(shown.ends_with(" bytes)"), "cut, saying how much: {shown}");
    assert!(
        shown.chars().count() <= 128 + "…(+4000 bytes)".len(),
        "{shown}"
    );
    for l in &lines {
        assert!(!l.starts_with("level=ERROR"), "forged line: {l}");
        assert!(!l.contains('\u{202e}'), "override in the log: {l}");
        assert!(!l.contains(&"7".repeat(200)), "message type not cut: {l}");
    }
}
