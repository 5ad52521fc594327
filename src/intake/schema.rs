//! Schema validation as intake (and replay) apply it: the route decides whether to validate
//! and what to do when no schema pack knows the message; the outcome becomes ledger states.

use super::IntakeError;
use crate::config::UnknownSchema;
use crate::message::State;
use crate::routing::RouteMatch;
use amtsbote_xoev::validate::{SchemaViolation, ValidateError, Validation, Validator};
use bytes::Bytes;
use std::sync::Arc;

/// How many violations the ledger reason lists (the sender gets all of them).
const IN_REASON: usize = 5;

/// A message refused for its content, with what to tell the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: String,
    pub violations: Vec<SchemaViolation>,
    /// Violations beyond those listed.
    pub omitted: usize,
}

/// What the schema check decided for a routed XML message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on and route; the text is added to the `validated` reason.
    Deliver(String),
    Reject(Rejection),
    /// Keep it for an operator (`dead`), with the reason.
    Park(String),
}

impl Verdict {
    /// The ledger states after `received` for this verdict (`routed` is added by the caller
    /// for `Deliver`).
    pub fn path(&self, well_formed: &str) -> Vec<(State, String)> {
        match self {
            Verdict::Deliver(note) if note.is_empty() => {
                vec![(State::Validated, well_formed.to_string())]
            }
            Verdict::Deliver(note) => vec![(State::Validated, format!("{well_formed}; {note}"))],
            Verdict::Reject(r) => vec![(State::Rejected, r.reason.clone())],
            Verdict::Park(reason) => vec![
                (State::Validated, well_formed.to_string()),
                (State::Dead, reason.clone()),
            ],
        }
    }
}

fn listed(pack: &str, errors: &[SchemaViolation], omitted: usize) -> String {
    let total = errors.len() + omitted;
    let shown: Vec<String> = errors
        .iter()
        .take(IN_REASON)
        .map(|e| e.to_string())
        .collect();
    let more = total.saturating_sub(shown.len());
    let mut text = format!(
        "schema violation against {pack} ({total} error(s)): {}",
        shown.join("; ")
    );
    if more > 0 {
        text.push_str(&format!("; and {more} more"));
    }
    text
}

/// Validates `xml` for `route` on the blocking pool (libxml2 is CPU work).
pub async fn check(
    validator: &Arc<Validator>,
    route: &RouteMatch,
    xml: Bytes,
) -> Result<Verdict, IntakeError> {
    if !route.validate {
        return Ok(Verdict::Deliver(format!(
            "schema validation off for route {}",
            route.route
        )));
    }
    let v = validator.clone();
    let result = tokio::task::spawn_blocking(move || v.validate(&xml))
        .await
        .map_err(|e| IntakeError::Storage(format!("validation task failed: {e}")))?;
    let validation = match result {
        Ok(v) => v,
        Err(ValidateError::NotWellFormed { .. }) | Err(ValidateError::Refused(_)) => {
            let reason = result.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(IntakeError::Malformed {
                format: "XML",
                reason,
            });
        }
        Err(e) => return Err(IntakeError::Storage(format!("validation failed: {e}"))),
    };
    Ok(match validation {
        Validation::Valid { pack } => Verdict::Deliver(format!("valid against {pack}")),
        Validation::Invalid {
            pack,
            errors,
            omitted,
        } => Verdict::Reject(Rejection {
            reason: listed(&pack, &errors, omitted),
            violations: errors,
            omitted,
        }),
        Validation::UnknownSchema { namespace } => {
            let ns = namespace.as_deref().unwrap_or("(none)");
            match route.unknown_schema {
                UnknownSchema::Pass => {
                    Verdict::Deliver(format!("no schema pack for namespace {ns}: not validated"))
                }
                UnknownSchema::Reject => Verdict::Reject(Rejection {
                    reason: format!(
                        "no schema pack for namespace {ns}, and route {} requires one",
                        route.route
                    ),
                    violations: Vec::new(),
                    omitted: 0,
                }),
                UnknownSchema::Park => Verdict::Park(format!(
                    "parked by route {}: no schema pack for namespace {ns}; add a schema pack (or set unknown_schema = \"pass\"), then replay",
                    route.route
                )),
            }
        }
    })
}
