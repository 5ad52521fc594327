//! One admitted connection: hyper's HTTP/1.1 with the header-read timer, the body deadline on
//! every request, and a watchdog that closes the connection when nothing moves on it while no
//! handler works for it.

use crate::Limits;
use crate::body::RequestBody;
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the watchdog reads: when bytes last moved and whether a handler is working.
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` when a byte was last read or written.
    last_progress_ms: AtomicU64,
    handlers: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_progress_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Instant {
        self.opened
            + std::time::Duration::from_millis(self.last_progress_ms.load(Ordering::Relaxed))
    }
}

/// The connection's socket (or TLS stream), noting progress for the watchdog.
struct Tracked<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Counts a running handler until dropped (also when hyper drops the handler's future).
struct Working(Arc<Activity>);

impl Working {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.handlers.fetch_add(1, Ordering::Relaxed);
        Working(activity.clone())
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.handlers.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The application's service behind the edge: bodies under their deadline in, a 408 out when
/// the deadline passed.
struct Edge<S> {
    inner: S,
    limits: Arc<Limits>,
    activity: Arc<Activity>,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for Edge<S>
where
    S: tower_service::Service<Request<RequestBody>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<B, Full<Bytes>>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let mut inner = self.inner.clone();
        let too_slow = Arc::new(AtomicBool::new(false));
        let limits = self.limits.clone();
        let request = request.map(|body| {
            RequestBody::new(
                body,
                limits.body_read_timeout,
                limits.body_min_rate,
                too_slow.clone(),
            )
        });
        let working = Working::start(&self.activity);
        Box::pin(async move {
            let _working = working;
            std::future::poll_fn(|cx| inner.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            let response = inner.call(request).await.map_err(Into::into)?;
            if too_slow.load(Ordering::Relaxed) {
                return Ok(body_too_slow(&limits).map(Either::Right));
            }
            Ok(response.map(Either::Left))
        })
    }
}

/// The answer to a body that did not arrive in time, whatever the handler made of its read
/// error: the client learns what happened and what to do; the connection closes, since the
/// rest of the body may still be on its way.
fn body_too_slow(limits: &Limits) -> Response<Full<Bytes>> {
    let detail = format!(
        "The request body did not arrive in time (allowed: {} s plus 1 s per {} bytes). \
         Nothing was accepted; send the request again over a faster connection.",
        limits.body_read_timeout.as_secs(),
        limits.body_min_rate
    );
    let body = format!(
        r#"{{"type":"urn:amtsbote:problem:body-timeout","title":"Request body too slow","status":408,"detail":"{detail}"}}"#
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}

/// Serves one connection until the client leaves, a limit ends it, or shutdown finishes its
/// current request.
pub(crate) async fn run<IO, S, B>(
    io: IO,
    service: S,
    limits: Arc<Limits>,
    shutdown: CancellationToken,
    remote: std::net::SocketAddr,
) where
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
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        last_progress_ms: AtomicU64::new(0),
        handlers: AtomicUsize::new(0),
    });
    let io = TokioIo::new(Tracked {
        io,
        activity: activity.clone(),
    });
    let edge = Edge {
        inner: service,
        limits: limits.clone(),
        activity: activity.clone(),
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(io, edge);
    tokio::pin!(conn);
    let mut stopping = false;
    let mut check_at = activity.idle_since() + limits.idle_timeout;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    // Header timeouts, resets and malformed requests end here; hyper has
                    // answered what could be answered.
                    tracing::debug!(%remote, error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(check_at) => {
                let now = Instant::now();
                let idle_until = activity.idle_since() + limits.idle_timeout;
                if activity.handlers.load(Ordering::Relaxed) > 0 {
                    // A handler at work (e.g. waiting for the ledger) is not idleness.
                    check_at = now + limits.idle_timeout;
                } else if idle_until <= now {
                    tracing::debug!(%remote, "closing a connection idle for too long");
                    return;
                } else {
                    check_at = idle_until;
                }
            }
        }
    }
}
