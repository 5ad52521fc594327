//! Inbound adapters: the doors messages come in through. Each one hands messages to
//! [`crate::intake`] and acknowledges its transport only after intake made them durable.

pub mod fit_connect;
pub mod http;
pub mod xta;
