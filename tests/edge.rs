//! The public edge against hostile clients: idle connections, headers sent a byte at a time,
//! and bodies that trickle in — with raw sockets, against the real broker process.

mod common;

use amtsbote::sandbox::fachverfahren::Behaviour;
use common::{Broker, TOKEN, gewerbe_xml};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const IDLE: usize = 1100;
const SLOW_HEADERS: usize = 50;

/// Restarts `b` with short listener limits, so that the test sees them act.
async fn with_short_limits(b: &mut Broker) {
    b.terminate();
    let text = std::fs::read_to_string(&b.config).unwrap().replacen(
        "[server]\n",
        "[server]\nheader_read_timeout = \"2s\"\nidle_timeout = \"2s\"\nbody_read_timeout = \"2s\"\n\
         body_min_rate = 1000\nmax_connections = 2000\n",
        1,
    );
    std::fs::write(&b.config, text).unwrap();
    b.spawn().await;
}

/// Reads until the server ends the connection: EOF or reset both count.
async fn closed_by_server(mut s: TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_header_clients_do_not_keep_a_legitimate_post_out() {
    // 1,150 hostile sockets plus the broker's own: more than the usual soft limit of 1,024.
    let limit = amtsbote_listener::raise_fd_limit().unwrap();
    assert!(
        limit.soft > (IDLE + SLOW_HEADERS + 200) as u64,
        "this test needs more file descriptors than the hard limit {} allows",
        limit.hard
    );
    let mut b = Broker::start(Behaviour::default(), "").await;
    with_short_limits(&mut b).await;
    let addr = format!("127.0.0.1:{}", b.port);
    // Latency is reported, never asserted (shared machine): docs/RELIABILITY.md.
    let started = std::time::Instant::now();
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("edge-0"))
        .await;
    assert_eq!(status, 202, "{body}");
    let quiet = started.elapsed();

    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let mut slow = Vec::with_capacity(SLOW_HEADERS);
    for _ in 0..SLOW_HEADERS {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        slow.push(tokio::spawn(async move {
            let head = b"POST /api/v1/tenants/cottbus/messages HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            for byte in head.iter().chain(std::iter::repeat(&b'a')).take(200) {
                if s.write_all(&[*byte]).await.is_err() {
                    return true;
                }
                // A server that closed shows as EOF on read before a write fails.
                let mut probe = [0u8; 64];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(700), s.read(&mut probe)).await
                {
                    return true;
                }
            }
            false
        }));
    }

    // The legitimate client, while all of the above hold connections.
    let started = std::time::Instant::now();
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("edge-1"))
        .await;
    assert_eq!(status, 202, "{body}");
    eprintln!(
        "legitimate POST latency: {quiet:?} without hostile load, {:?} with {IDLE} idle and \
         {SLOW_HEADERS} slow-header connections open",
        started.elapsed()
    );

    let mut open = 0;
    for s in idle {
        if !closed_by_server(s).await {
            open += 1;
        }
    }
    assert_eq!(open, 0, "idle connections the server left open");
    for task in slow {
        assert!(
            task.await.unwrap(),
            "a slow-header connection was not closed"
        );
    }
    // The broker still serves after the attack.
    let (status, body) = b
        .post("cottbus", gewerbe_xml(), "application/xml", Some("edge-2"))
        .await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn a_body_that_trickles_in_is_answered_408_and_nothing_is_accepted() {
    let mut b = Broker::start(Behaviour::default(), "").await;
    with_short_limits(&mut b).await;
    let document = gewerbe_xml();
    let mut s = TcpStream::connect(format!("127.0.0.1:{}", b.port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/tenants/cottbus/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/xml\r\nX-Transport-Id: trickle-1\r\nContent-Length: {}\r\n\r\n",
        document.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    for byte in &document {
        // Two bytes a second, far below the configured minimum rate.
        if s.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                break;
            }
            Err(_) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("urn:amtsbote:problem:body-timeout"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // Nothing of the trickled message was taken in.
    assert!(b.list(&[]).is_empty(), "{:?}", b.list(&[]));
    let (status, body) = b
        .post(
            "cottbus",
            gewerbe_xml(),
            "application/xml",
            Some("trickle-2"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
}
