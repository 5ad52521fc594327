//! amtsbote — an integration broker for German public administration.
//!
//! Applications filed in online services arrive over FIT-Connect, XTA 2 or plain HTTP, go
//! through one [`intake`] (dedupe, store, sniff, validate, route), wait in a durable
//! [`queue`] per connector, and are delivered by [`worker`]s through [`connectors`] into the
//! authority's back-office systems (Fachverfahren). Every step is recorded in the
//! [`ledger`]. See `DESIGN.md` in the project's shared notes and `README.md` for the picture.

pub mod admin;
pub mod at_rest;
pub mod backend;
pub mod broker;
pub mod cli;
pub mod cluster;
pub mod config;
#[cfg(test)]
pub mod conformance;
pub mod connectors;
pub mod embedded;
#[doc(hidden)]
pub mod fuzz;
pub mod gauges;
pub mod inbound;
pub mod intake;
pub mod ledger;
pub mod message;
pub mod payload;
pub mod plan;
pub mod queue;
pub mod readiness;
pub mod replay;
pub mod replica;
pub mod retention;
pub mod routing;
pub mod sandbox;
pub mod secrets;
pub mod server;
pub mod sync_group;
pub mod telemetry;
pub mod worker;
