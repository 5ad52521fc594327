//! The accept loop: admits connections under the cap, runs their handshake under its timeout,
//! hands them to [`crate::connection`], and on shutdown waits for the open ones to finish.

use crate::Limits;
use crate::body::RequestBody;
use crate::connection::{self, BoxError};
use bytes::Bytes;
use http::{Request, Response};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Pause after `accept` failed for lack of descriptors: long enough not to spin on a full
/// descriptor table, short enough that a freed slot is used quickly.
const EXHAUSTED_BACKOFF: Duration = Duration::from_millis(100);

/// How often the same warning (cap reached, descriptors exhausted) may be logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Serves `service` (e.g. an axum `Router`) on plain TCP until `shutdown` completes, then
/// waits for open connections to finish their request.
pub async fn serve<S, B>(
    listener: TcpListener,
    limits: Limits,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
) where
    S: tower_service::Service<Request<RequestBody>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    serve_with(
        listener,
        limits,
        move |tcp, _remote| {
            let service = service.clone();
            async move { Some((tcp, service)) }
        },
        shutdown,
    )
    .await
}

/// As [`serve`], with a handshake per connection: `handshake` turns the TCP stream into the
/// stream HTTP runs on (e.g. TLS) and the service for it (e.g. one that knows the client
/// certificate), or `None` to drop the connection. It runs under
/// [`Limits::handshake_timeout`] and logs its own refusals.
pub async fn serve_with<H, F, IO, S, B>(
    listener: TcpListener,
    limits: Limits,
    handshake: H,
    shutdown: impl Future<Output = ()> + Send,
) where
    H: Fn(TcpStream, SocketAddr) -> F + Clone + Send + 'static,
    F: Future<Output = Option<(IO, S)>> + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<Request<RequestBody>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let local = listener.local_addr().ok();
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS) as u32;
    let slots = Arc::new(Semaphore::new(max as usize));
    let limits = Arc::new(limits);
    let stop = CancellationToken::new();
    let mut warned_cap: Option<Instant> = None;
    let mut warned_fds: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the cap the listener stops accepting: new clients wait in the kernel's
                // listen backlog and are served as slots free up (idle and slow clients lose
                // theirs to the timeouts), rather than being accepted only to be dropped.
                if due(&mut warned_cap) {
                    tracing::warn!(listen = ?local, max_connections = max,
                        "connection cap reached; new connections wait until open ones finish or time out");
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if crate::fd::is_exhaustion(&e) => {
                if due(&mut warned_fds) {
                    tracing::warn!(listen = ?local, error = %e,
                        "cannot accept: out of file descriptors; raise LimitNOFILE or lower server.max_connections");
                }
                tokio::time::sleep(EXHAUSTED_BACKOFF).await;
                continue;
            }
            Err(e) => {
                // A client that gave up between SYN and accept (ECONNABORTED) and the like.
                tracing::debug!(listen = ?local, error = %e, "accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let handshake = handshake.clone();
        let limits = limits.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let _slot = permit;
            let connected = tokio::time::timeout(limits.handshake_timeout, handshake(tcp, remote));
            let (io, service) = match connected.await {
                Ok(Some(ready)) => ready,
                Ok(None) => return,
                Err(_) => {
                    tracing::info!(%remote, "handshake timed out");
                    return;
                }
            };
            connection::run(io, service, limits, stop, remote).await;
        });
    }
    // Closing the listening socket refuses new clients at once; open connections finish the
    // request they are in.
    drop(listener);
    stop.cancel();
    let _ = slots.acquire_many(max).await;
}

/// Whether a rate-limited warning is due (and note that it is given now).
fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}
