//! The public edge of every amtsbote process: the one piece of code that accepts TCP
//! connections and serves HTTP/1.1 on them, for the broker (intake, callbacks, operations
//! endpoints) and for the sandboxes (sample Fachverfahren, FIT-Connect Zustelldienst, XTA
//! server). Handlers never see a connection that this crate did not admit.
//!
//! Hostile or broken clients cannot hold the listener hostage:
//! - a request head must arrive within [`Limits::header_read_timeout`] (hyper's timer, which
//!   also runs while a kept-alive connection waits for its next request);
//! - a connection on which no byte moves for [`Limits::idle_timeout`] while no handler runs is
//!   closed (idle keep-alive, clients that stop reading their answer);
//! - a request body must keep up with [`Limits::body_read_timeout`] and
//!   [`Limits::body_min_rate`], else the request is answered `408 Request Timeout` and the
//!   connection closed;
//! - at most [`Limits::max_connections`] connections are served at once; further ones wait in
//!   the kernel's listen backlog until a slot frees up (they are not accepted and dropped);
//! - a TLS (or other) handshake must finish within [`Limits::handshake_timeout`];
//! - when `accept` fails because file descriptors ran out, the loop backs off briefly;
//!   [`raise_fd_limit`] lifts the process's soft descriptor limit to its hard limit at start.
//!
//! Shutdown is graceful: the listening socket closes, open connections finish the request they
//! are in and close, and [`serve`] returns when the last one is gone.

mod accept;
mod body;
mod connection;
mod fd;
mod limits;

pub use accept::{serve, serve_with};
pub use body::{BodyError, RequestBody};
pub use fd::{FdLimit, raise_fd_limit};
pub use limits::Limits;
