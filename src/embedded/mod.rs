//! The embedded deployment: ledger and queue in one SQLite file, payloads in a local
//! directory. Zero setup; what `amtsbote run` uses without configuration.

pub mod db;
pub mod ledger;
pub mod queue;

pub use db::Database;
pub use ledger::SqliteLedger;
pub use queue::SqliteQueue;
