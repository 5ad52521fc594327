//! The cluster backend: what an IT service provider runs when one machine is not enough —
//! the ledger on PostgreSQL, the queues on RabbitMQ, payloads on S3-compatible object
//! storage, several broker replicas sharing them. Chosen by configuration only; the same
//! traits ([`crate::ledger::Ledger`], [`crate::queue::Queue`],
//! [`crate::payload::PayloadStore`]) and the same tests as the embedded backend.

pub mod envelope;
pub mod pg;
pub mod rabbit;

pub use pg::PgLedger;
pub use rabbit::RabbitQueue;
