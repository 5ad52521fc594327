//! The knobs of the edge, with defaults safe for a public listener.

use std::time::Duration;

/// How long clients may take and how many may be served at once.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time for a complete request head (request line and headers), counted from the moment
    /// the server waits for it: after the connection opened (and its handshake finished) or
    /// after the previous answer on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// A connection on which no byte was read or written for this long, while no handler is
    /// working on one of its requests, is closed.
    pub idle_timeout: Duration,
    /// Time a request body may take beyond what [`Limits::body_min_rate`] earns it.
    pub body_read_timeout: Duration,
    /// Bytes per second of request body that each extend the body's deadline by one second
    /// (0: the body must arrive within `body_read_timeout` whatever its size).
    pub body_min_rate: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time for the handshake a listener runs before HTTP (e.g. TLS).
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            body_min_rate: 16 * 1024,
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}
