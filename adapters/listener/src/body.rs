//! The request body handed to handlers: hyper's body under a deadline that grows with the
//! bytes received. A client that trickles its body (or stops sending it) gets an error in the
//! handler's read and, from the connection, a `408 Request Timeout`.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Why reading a request body failed.
#[derive(Debug)]
pub enum BodyError {
    /// The body did not arrive in time; the connection answers 408 and closes.
    TooSlow { received: u64, waited: Duration },
    /// The connection failed (reset, malformed chunking).
    Transport(hyper::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooSlow { received, waited } => write!(
                f,
                "the request body arrived too slowly ({received} bytes in {} s); \
                 send it again over a faster connection",
                waited.as_secs()
            ),
            BodyError::Transport(e) => write!(f, "reading the request body failed: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::TooSlow { .. } => None,
            BodyError::Transport(e) => Some(e),
        }
    }
}

/// A request body with a deadline.
pub struct RequestBody {
    inner: Incoming,
    started: Instant,
    received: u64,
    grace: Duration,
    min_rate: u64,
    deadline: Pin<Box<Sleep>>,
    /// Set when the deadline passed, for the connection to answer 408.
    too_slow: Arc<AtomicBool>,
}

impl RequestBody {
    pub(crate) fn new(
        inner: Incoming,
        grace: Duration,
        min_rate: u64,
        too_slow: Arc<AtomicBool>,
    ) -> Self {
        let started = Instant::now();
        RequestBody {
            inner,
            started,
            received: 0,
            grace,
            min_rate,
            deadline: Box::pin(tokio::time::sleep_until(started + grace)),
            too_slow,
        }
    }

    /// `grace` plus one second per `min_rate` bytes received.
    fn current_deadline(&self) -> Instant {
        let earned = match self.min_rate {
            0 => Duration::ZERO,
            rate => Duration::from_secs_f64(self.received as f64 / rate as f64),
        };
        self.started + self.grace + earned
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if this.too_slow.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    let deadline = this.current_deadline();
                    this.deadline.as_mut().reset(deadline);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(BodyError::Transport(e)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.too_slow.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(BodyError::TooSlow {
                    received: this.received,
                    waited: this.started.elapsed(),
                })))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
