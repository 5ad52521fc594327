//! Traces end to end: the broker exports its spans to OTLP receivers that live in this test
//! (gRPC with `opentelemetry-proto`'s tonic server, HTTP with a small axum handler decoding
//! the protobuf), and one application is one trace across a retry and a broker restart.
//!
//! The no-personal-data test is here too: a message with a unique marker in a personal field
//! runs through failures, and the marker must appear in nothing the broker emits — logs,
//! spans, metrics, error answers.

mod common;
#[path = "common/xta.rs"]
mod xta_common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::{Backend, Broker, fixture, gewerbe_xml};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One received span, flattened.
#[derive(Debug, Clone)]
struct Span {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    attributes: BTreeMap<String, String>,
    /// Span events (log lines inside the span): name and attributes.
    events: Vec<(String, BTreeMap<String, String>)>,
    resource: BTreeMap<String, String>,
    /// Which protocol brought it.
    via: &'static str,
}

fn value_text(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), value_text(&kv.value)))
        .collect()
}

/// The spans an OTLP receiver got, shared between the receiver and the test.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<Span>>>);

impl Collected {
    fn add(&self, request: ExportTraceServiceRequest, via: &'static str) {
        let mut spans = self.0.lock().unwrap();
        for rs in request.resource_spans {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| attributes(&r.attributes))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    spans.push(Span {
                        trace_id: hex::encode(&s.trace_id),
                        span_id: hex::encode(&s.span_id),
                        parent_span_id: hex::encode(&s.parent_span_id),
                        name: s.name,
                        attributes: attributes(&s.attributes),
                        events: s
                            .events
                            .iter()
                            .map(|e| (e.name.clone(), attributes(&e.attributes)))
                            .collect(),
                        resource: resource.clone(),
                        via,
                    });
                }
            }
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }

    /// Everything received, as text (for the personal-data search).
    fn text(&self) -> String {
        format!("{:?}", self.spans())
    }
}

#[tonic::async_trait]
impl TraceService for Collected {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.add(request.into_inner(), "grpc");
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver on 127.0.0.1 (ephemeral port): opentelemetry-proto's generated
/// tonic server.
async fn grpc_receiver() -> (SocketAddr, Collected) {
    let collected = Collected::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(collected.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    (addr, collected)
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf) on 127.0.0.1 (ephemeral port).
async fn http_receiver() -> (SocketAddr, Collected) {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    async fn export(State(c): State<Collected>, body: Bytes) -> axum::response::Response {
        match ExportTraceServiceRequest::decode(body) {
            Ok(request) => {
                c.add(request, "http");
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
                    .into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        }
    }
    let collected = Collected::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(export))
        .with_state(collected.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, collected)
}

fn telemetry(endpoint: &str, protocol: &str) -> String {
    format!(
        "\n[telemetry]\notlp_endpoint = \"{endpoint}\"\notlp_protocol = \"{protocol}\"\n\
         trace_ui = \"http://jaeger.example:16686/trace/{{trace_id}}\"\n\
         resource = {{ \"deployment.environment\" = \"test\" }}\n"
    )
}

/// The trace the message's intake span belongs to, and that span.
fn intake_span(spans: &[Span], id: &str) -> Span {
    spans
        .iter()
        .find(|s| {
            s.name == "intake" && s.attributes.get("message_id").map(String::as_str) == Some(id)
        })
        .unwrap_or_else(|| {
            panic!(
                "no intake span for {id} among {} spans: {spans:#?}",
                spans.len()
            )
        })
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_application_is_one_trace_across_a_retry_and_a_restart() {
    let (addr, collected) = grpc_receiver().await;
    // The Fachverfahren is down; the route's connector waits 2 s between attempts, so that the
    // broker can be restarted between the failed attempt and the one that succeeds.
    let extra = format!(
        "{}\n[[tenants.cottbus.routes]]\nname = \"traced\"\nstandard = \"xgewerbeanzeige\"\nconnector = \"slow\"\ntest_messages = \"include\"\n\n\
         [tenants.cottbus.connectors.slow]\nkind = \"http\"\nurl = \"{{FV}}/slow\"\ntimeout = \"5s\"\n\
         retry = {{ initial_delay = \"2s\", max_delay = \"2s\", max_attempts = 50 }}\n",
        telemetry(&format!("http://{addr}"), "grpc")
    );
    let mut b = Broker::start_with(
        Backend::Embedded,
        Behaviour {
            unavailable: true,
            ..Default::default()
        },
        &extra,
    )
    .await;
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "retrying", 30).await;
    // SIGTERM: the broker sends its buffered spans before it exits.
    assert!(b.terminate().success(), "{}", b.log());
    let before_restart = collected.spans().len();
    b.fv.set_behaviour(Behaviour::default());
    b.spawn().await;
    let m = b.wait_state(&id, "delivered", 30).await;
    assert!(b.terminate().success(), "{}", b.log());

    let spans = collected.spans();
    let intake = intake_span(&spans, &id);
    let trace = intake.trace_id.clone();
    // The ledger keeps the context: the console links to this trace.
    let stored = m["traceparent"]
        .as_str()
        .expect("traceparent in the ledger");
    assert_eq!(
        amtsbote::telemetry::trace::trace_id(stored),
        Some(trace.as_str()),
        "{m:#}"
    );
    let in_trace: Vec<&Span> = spans.iter().filter(|s| s.trace_id == trace).collect();
    let names: BTreeSet<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "inbound.http",
        "intake",
        "validate",
        "validate.schema",
        "route",
        "store",
        "enqueue",
        "delivery",
    ] {
        assert!(names.contains(expected), "no {expected} span in {names:?}");
    }
    // Every span about this message, from whichever process, is in the one trace.
    for s in &spans {
        if s.attributes.get("message_id") == Some(&id) {
            assert_eq!(s.trace_id, trace, "{} span left the trace: {s:#?}", s.name);
        }
    }
    let root = in_trace.iter().find(|s| s.name == "inbound.http").unwrap();
    assert_eq!(
        root.parent_span_id, "",
        "the HTTP receive span starts the trace"
    );
    assert_eq!(intake.parent_span_id, root.span_id);
    let deliveries: Vec<&&Span> = in_trace.iter().filter(|s| s.name == "delivery").collect();
    assert!(deliveries.len() >= 2, "{deliveries:#?}");
    for d in &deliveries {
        assert_eq!(
            d.parent_span_id, intake.span_id,
            "attempts hang under intake"
        );
        assert_eq!(d.attributes["connector"], "slow");
        assert_eq!(d.attributes["tenant"], "cottbus");
    }
    // The failed attempt came from the first process, the delivery from the restarted one.
    let first_process: BTreeSet<&str> = spans[..before_restart]
        .iter()
        .map(|s| s.resource["service.instance.id"].as_str())
        .collect();
    let failed = deliveries
        .iter()
        .find(|d| d.attributes["outcome"] == "retrying")
        .expect("a failed attempt");
    let delivered = deliveries
        .iter()
        .find(|d| d.attributes["outcome"] == "delivered")
        .expect("the delivery");
    assert!(first_process.contains(failed.resource["service.instance.id"].as_str()));
    assert_ne!(
        failed.resource["service.instance.id"], delivered.resource["service.instance.id"],
        "the delivery ran in the restarted broker"
    );
    assert_eq!(failed.attributes["attempt"], "1");
    assert!(delivered.attributes["attempt"].parse::<u32>().unwrap() >= 2);
    assert_eq!(delivered.resource["service.name"], "amtsbote");
    assert_eq!(delivered.resource["deployment.environment"], "test");
    assert!(spans.iter().all(|s| s.via == "grpc"));
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_go_over_otlp_http_too() {
    let (addr, collected) = http_receiver().await;
    let mut b = Broker::start_with(
        Backend::Embedded,
        Behaviour::default(),
        &telemetry(&format!("http://{addr}"), "http"),
    )
    .await;
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "delivered", 30).await;
    assert!(b.terminate().success(), "{}", b.log());
    let spans = collected.spans();
    let intake = intake_span(&spans, &id);
    let delivery = spans
        .iter()
        .find(|s| s.name == "delivery" && s.attributes.get("message_id") == Some(&id))
        .expect("a delivery span");
    assert_eq!(delivery.trace_id, intake.trace_id);
    assert_eq!(delivery.attributes["outcome"], "delivered");
    assert_eq!(intake.attributes["standard"], "xgewerbeanzeige");
    assert!(spans.iter().all(|s| s.via == "http"));
}

/// A Fachverfahren that fails every delivery with `500`, its answer quoting the applicant's
/// surname (as careless ones do): personal data comes back in the error.
async fn echoing_fachverfahren() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use axum::body::Bytes;
    use axum::http::StatusCode;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let log = log.clone();
        async move {
            let text = String::from_utf8_lossy(&body).to_string();
            log.lock().unwrap().push(text.clone());
            let surname = text
                .split("<xga:familienname>")
                .nth(1)
                .and_then(|rest| rest.split('<').next())
                .unwrap_or("?");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Antrag von {surname} konnte nicht gespeichert werden"),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread")]
async fn no_personal_data_in_logs_spans_metrics_or_errors() {
    // A surname no log line, span or metric could contain by chance.
    let marker = format!("Zzyxmarker{}", uuid::Uuid::new_v4().simple());
    let (otlp, collected) = grpc_receiver().await;
    let (fv, echoed) = echoing_fachverfahren().await;
    let extra = format!(
        "{}\n[[tenants.cottbus.routes]]\nname = \"careless\"\nstandard = \"xgewerbeanzeige\"\nconnector = \"careless\"\ntest_messages = \"include\"\n\n\
         [tenants.cottbus.connectors.careless]\nkind = \"http\"\nurl = \"http://{fv}/antrag\"\ntimeout = \"5s\"\n\
         retry = {{ initial_delay = \"100ms\", max_delay = \"200ms\", max_attempts = 2 }}\n\n\
         [[routes]]\nname = \"bau\"\nstandard = \"xbau\"\nconnector = \"gewerberegister\"\n",
        telemetry(&format!("http://{otlp}"), "grpc")
    );
    let extra = format!("{extra}{}", common::admin::ADMIN_CONFIG);
    let mut b = Broker::start_with_files(
        Backend::Embedded,
        Behaviour::default(),
        &extra,
        common::admin::write_tokens,
    )
    .await;
    // JSON logs, as operators ship them.
    assert!(b.terminate().success());
    b.env.push(("AMTSBOTE__LOG__FORMAT".into(), "json".into()));
    b.spawn().await;

    let valid = String::from_utf8(fixture(
        "../shared/fixtures/xoev/xgewerbeanzeige/xgwa2.2-valid.xml",
    ))
    .unwrap();
    let personal = "<xga:familienname>Pick</xga:familienname>";
    assert!(valid.contains(personal));
    let valid = valid.replace(
        personal,
        &format!("<xga:familienname>{marker}</xga:familienname>"),
    );
    // A Bauantrag against its bundled schema, the marker as the applicant's surname and as
    // a code value.
    let invalid = String::from_utf8(fixture(
        "adapters/xoev/tests/data/xbau-2.6-baugenehmigung-antrag-invalid.xml",
    ))
    .unwrap()
    .replacen(" test=\"true\"", "", 1);
    assert!(invalid.contains("<name>Mustermann</name>") && invalid.contains("<code>7</code>"));
    let invalid = invalid
        .replace("<name>Mustermann</name>", &format!("<name>{marker}</name>"))
        .replace("<code>7</code>", &format!("<code>{marker}</code>"));

    let mut answers = Vec::new();
    // Delivered to a Fachverfahren that fails and echoes it: retried, then a dead letter.
    let (status, body) = b
        .post(
            "cottbus",
            valid.clone().into_bytes(),
            "application/xml",
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let dead = body["id"].as_str().unwrap().to_string();
    answers.push(body.to_string());
    // Against the schema: rejected, the violations answered.
    let (status, body) = b
        .post("cottbus", invalid.into_bytes(), "application/xml", None)
        .await;
    answers.push(body.to_string());
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["state"], "rejected", "{body}");
    let rejected = body["id"].as_str().unwrap().to_string();
    // Not well-formed XML and JSON, the marker beside the fault.
    for (doc, ct) in [
        (
            format!("<antrag><name>{marker}</nam></antrag>"),
            "application/xml",
        ),
        (
            format!("{{\"name\": \"{marker}\" \"x\": 1}}"),
            "application/json",
        ),
        (
            format!("<antrag><name>{marker}\u{1}</name></antrag>"),
            "application/xml",
        ),
    ] {
        let (status, body) = b.post("cottbus", doc.into_bytes(), ct, None).await;
        assert_eq!(status, 400, "{body}");
        answers.push(body.to_string());
    }
    // An attachment whose file name is personal data.
    let form = reqwest::multipart::Form::new()
        .part(
            "document",
            reqwest::multipart::Part::bytes(valid.clone().into_bytes())
                .file_name("antrag.xml")
                .mime_str("application/xml")
                .unwrap(),
        )
        .part(
            "attachment",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 scan".to_vec())
                .file_name(format!("Ausweis {marker}.pdf"))
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (status, body) = b.post_form("cottbus", form).await;
    answers.push(body.to_string());
    assert_eq!(status, 202, "{body}");
    let second = body["id"].as_str().unwrap().to_string();

    let m = b.wait_state(&dead, "dead", 30).await;
    b.wait_state(&second, "dead", 30).await;
    // The operator's account of the failure may quote the Fachverfahren (ledger only, by
    // design); the permanent history may not.
    for h in m["history"].as_array().unwrap() {
        assert!(!h.to_string().contains(&marker), "history: {h}");
    }
    assert!(
        m["last_reason"].as_str().unwrap().contains(&marker),
        "the Fachverfahren's answer quoted the marker back to the broker: {m:#}"
    );
    assert!(
        echoed.lock().unwrap().iter().any(|d| d.contains(&marker)),
        "the marker went out to the Fachverfahren (the test sends what it means to)"
    );
    // The admin API's refusals about these messages: a viewer replaying, a rejected message
    // replayed, a dead letter resolved and then replayed.
    use common::admin::{OPERATOR_TOKEN, VIEWER_TOKEN};
    let (replay, resolve) = (
        serde_json::json!({}),
        serde_json::json!({ "reason": "entered by hand" }),
    );
    for (path, token, body, expected) in [
        (
            format!("/admin/api/v1/messages/{dead}/replay"),
            VIEWER_TOKEN,
            &replay,
            403,
        ),
        (
            format!("/admin/api/v1/messages/{rejected}/replay"),
            OPERATOR_TOKEN,
            &replay,
            409,
        ),
        (
            format!("/admin/api/v1/messages/{second}/resolve"),
            OPERATOR_TOKEN,
            &resolve,
            200,
        ),
        (
            format!("/admin/api/v1/messages/{second}/replay"),
            OPERATOR_TOKEN,
            &replay,
            409,
        ),
    ] {
        let a = common::admin::post(&b, &path, token, body.clone()).await;
        assert_eq!(a.status, expected, "{path}: {}", a.body);
        if expected >= 400 {
            answers.push(a.body.to_string());
        }
    }
    let metrics = reqwest::get(format!("{}/metrics", b.base()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(b.terminate().success(), "{}", b.log());

    let log = b.log();
    let spans = collected.text();
    // The collection is real: the run was logged, traced and counted.
    assert!(log.contains("\"message\":\"message received\""), "{log}");
    assert!(
        collected
            .spans()
            .iter()
            .any(|s| s.name == "delivery" && s.attributes.get("message_id") == Some(&dead)),
        "{spans}"
    );
    assert!(
        collected
            .spans()
            .iter()
            .any(|s| s.events.iter().any(|(name, _)| name == "message received")),
        "log lines inside spans are exported as span events: {spans}"
    );
    assert!(metrics.contains("cottbus"), "{metrics}");
    for (what, text) in [
        ("logs", log.as_str()),
        ("spans", spans.as_str()),
        ("metrics", metrics.as_str()),
        ("answers", &answers.join("\n")),
    ] {
        assert!(
            !text.contains(&marker),
            "the marker leaked into the {what}:\n{}",
            text.lines()
                .filter(|l| l.contains(&marker))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fit_connect_submission_is_one_trace_from_fetch_to_the_answer() {
    use common::fit_connect::FitConnect;
    let (addr, collected) = grpc_receiver().await;
    let fc = FitConnect::start(None).await;
    // The answer waits for the delivery: it goes out in a later poll round, and still joins
    // the submission's trace.
    let extra = format!(
        "{}\n[[tenants.cottbus.routes]]\nname = \"bauantrag-online\"\ndestination = \"{}\"\n\
         standard = \"xbau\"\ntest_messages = \"include\"\nconnector = \"gewerberegister\"\n\n{}",
        telemetry(&format!("http://{addr}"), "grpc"),
        fc.setup.destination_id,
        fc.source("cottbus", "bauportal", "1s").replace(
            "poll_interval = \"1s\"",
            "poll_interval = \"1s\"\naccept = \"delivery\""
        ),
    );
    let mut b = Broker::start(Behaviour::default(), &extra).await;
    let sent = fc
        .submit(
            fixture("examples/messages/xbau-2.6-baugenehmigung-antrag-mehrfamilienhaus.xml"),
            "application/xml",
            vec![("lageplan.pdf", b"%PDF-1.4 lageplan".to_vec())],
            None,
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let id = loop {
        if let Some(m) = b
            .list(&[])
            .into_iter()
            .find(|m| m["transport_id"] == sent.submission_id.as_str())
        {
            break m["id"].as_str().unwrap().to_string();
        }
        assert!(std::time::Instant::now() < deadline, "{}", b.log());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    b.wait_state(&id, "delivered", 30).await;
    while fc.state(&sent.submission_id) != "accepted" {
        assert!(std::time::Instant::now() < deadline, "not answered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(b.terminate().success(), "{}", b.log());

    let spans = collected.spans();
    let intake = intake_span(&spans, &id);
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == intake.trace_id)
        .collect();
    let names: BTreeSet<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "inbound.fit_connect.fetch",
        "decrypt_verify",
        "intake",
        "enqueue",
        "delivery",
        "status.fit_connect",
    ] {
        assert!(names.contains(expected), "no {expected} span in {names:?}");
    }
    let fetch = in_trace
        .iter()
        .find(|s| s.name == "inbound.fit_connect.fetch")
        .unwrap();
    assert_eq!(fetch.parent_span_id, "", "the fetch starts the trace");
    assert_eq!(fetch.attributes["submission_id"], sent.submission_id);
    let verify = in_trace
        .iter()
        .find(|s| s.name == "decrypt_verify")
        .unwrap();
    assert_eq!(verify.attributes["outcome"], "verified");
    let answer = in_trace
        .iter()
        .find(|s| s.name == "status.fit_connect")
        .unwrap();
    assert_eq!(answer.attributes["answer"], "accept-submission");
    assert_eq!(answer.parent_span_id, intake.span_id);
    // Poll rounds are traces of their own, not part of any application's.
    assert!(
        spans
            .iter()
            .any(|s| s.name == "inbound.fit_connect.poll" && s.trace_id != intake.trace_id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xta_message_is_one_trace_from_fetch_to_delivery() {
    use xta_common::{COTTBUS, Xta};
    let (addr, collected) = grpc_receiver().await;
    let x = Xta::start(&[("cottbus", COTTBUS)]).await;
    let extra = format!(
        "{}\n[[tenants.cottbus.routes]]\nname = \"xta-gewerbe\"\nsource = \"xta-postfach\"\n\
         standard = \"xgewerbeanzeige\"\ntest_messages = \"include\"\nconnector = \"gewerberegister\"\n{}",
        telemetry(&format!("http://{addr}"), "grpc"),
        x.source("cottbus", "xta-postfach", "cottbus", COTTBUS, "")
    );
    let mut b = Broker::start(Behaviour::default(), &extra).await;
    let transport_id = x.deliver(&gewerbe_xml(), COTTBUS, vec![]);
    x.wait_closed(COTTBUS, &transport_id, 30).await;
    let m = b
        .list(&[])
        .into_iter()
        .find(|m| m["transport_id"] == transport_id.as_str())
        .expect("received");
    let id = m["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "delivered", 30).await;
    assert!(b.terminate().success(), "{}", b.log());

    let spans = collected.spans();
    let intake = intake_span(&spans, &id);
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == intake.trace_id)
        .collect();
    let names: BTreeSet<&str> = in_trace.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "inbound.xta.fetch",
        "intake",
        "route",
        "status.xta",
        "delivery",
    ] {
        assert!(names.contains(expected), "no {expected} span in {names:?}");
    }
    let fetch = in_trace
        .iter()
        .find(|s| s.name == "inbound.xta.fetch")
        .unwrap();
    assert_eq!(fetch.parent_span_id, "", "the fetch starts the trace");
    assert_eq!(fetch.attributes["message_id"], id);
    assert_eq!(intake.parent_span_id, fetch.span_id);
    let close = in_trace.iter().find(|s| s.name == "status.xta").unwrap();
    assert_eq!(close.parent_span_id, fetch.span_id);
    assert!(
        spans
            .iter()
            .any(|s| s.name == "inbound.xta.list" && s.trace_id != intake.trace_id),
        "mailbox rounds are traces of their own"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_dead_letter_stays_in_its_trace() {
    let (addr, collected) = grpc_receiver().await;
    let config = format!(
        "{}{}",
        common::admin::ADMIN_CONFIG,
        telemetry(&format!("http://{addr}"), "grpc")
    );
    let mut b = Broker::start_with_files(
        Backend::Embedded,
        Behaviour {
            reject: true,
            ..Default::default()
        },
        &config,
        common::admin::write_tokens,
    )
    .await;
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    b.wait_state(&id, "dead", 30).await;
    // The Fachverfahren is fixed; the operator replays from the command line, a process of
    // its own: the queue entry it makes carries the stored trace context.
    b.fv.set_behaviour(Behaviour::default());
    let out = b.cli(&["replay", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.wait_state(&id, "delivered", 30).await;
    // The console's detail names the trace and links to it in the trace UI.
    let detail = common::admin::get(
        &b,
        &format!("/admin/api/v1/messages/{id}"),
        common::admin::VIEWER_TOKEN,
    )
    .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    assert!(b.terminate().success(), "{}", b.log());

    let spans = collected.spans();
    let intake = intake_span(&spans, &id);
    assert_eq!(detail.body["trace_id"], intake.trace_id.as_str());
    assert_eq!(
        detail.body["trace_url"],
        format!("http://jaeger.example:16686/trace/{}", intake.trace_id)
    );
    let attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "delivery" && s.attributes.get("message_id") == Some(&id))
        .collect();
    let outcomes: Vec<&str> = attempts
        .iter()
        .map(|s| s.attributes["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["dead", "delivered"], "{attempts:#?}");
    for a in &attempts {
        assert_eq!(a.trace_id, intake.trace_id, "{a:#?}");
        assert_eq!(a.parent_span_id, intake.span_id);
    }
}
