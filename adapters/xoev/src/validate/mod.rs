//! Validation: checking an XÖV message against the official XSD of its standard, offline,
//! as intake does after sniffing and before routing.
//!
//! A [`Validator`] holds compiled schemas keyed by target namespace. It starts from the
//! schema packs bundled with amtsbote (XBau 2.6, xdomea 3.0.0, XWasser 1.0; compiled into
//! the binary, so it works from any working directory) plus the packs an operator
//! configures ([`SchemaPack`]: folder, entry schema, namespace). [`Validator::validate`]
//! picks the schema by the namespace of the message's root element and answers
//! [`Validation::Valid`], [`Validation::Invalid`] with every [`SchemaViolation`] (line,
//! column, element path, message), or [`Validation::UnknownSchema`] — what to do then is
//! the route's policy (reject, pass or park), not the validator's.
//!
//! Validation uses libxml2, contained in one module (`libxml2.rs`, whose documentation
//! explains how): schemas are compiled once and shared by all threads. No network access and
//! no file outside a pack is possible: schemas import each other by URL, and each pack's
//! OASIS catalog maps those URLs to the pack's own files; every other URL is refused.
//!
//! Documents are untrusted: before libxml2 sees one, the sniffer ([`crate::inspect`])
//! refuses DTDs, entities and anything over the [`Limits`]; libxml2 then parses with no
//! network, no DTD loading and no entity substitution. Messages from libxml2 quote
//! element values, which are personal data; they are redacted (see `redact.rs`) so that a
//! [`SchemaViolation`] names elements, types and schema constraints but never content.
//!
//! ```
//! use amtsbote_xoev::validate::{Validation, Validator};
//!
//! let validator = Validator::bundled()?;
//! assert!(validator.knows("http://www.xleitstelle.de/xbau/2/6"));
//!
//! let xml = br#"<xbau:baugenehmigung.antrag.0200 xmlns:xbau="http://www.xleitstelle.de/xbau/2/6"
//!     produkt="Demo" produkthersteller="Demo" standard="XBau-Hochbau" version="2.6">
//!   <nachrichtenkopf.g2g>
//!     <leser><kennung>bab:09162000</kennung></leser>
//!   </nachrichtenkopf.g2g>
//! </xbau:baugenehmigung.antrag.0200>"#;
//! match validator.validate(xml)? {
//!     Validation::Invalid { pack, errors, .. } => {
//!         assert_eq!(pack, "xbau-2.6");
//!         let error = &errors[0];
//!         assert_eq!(error.path, "/xbau:baugenehmigung.antrag.0200/nachrichtenkopf.g2g/leser/kennung");
//!         assert_eq!((error.at.line, error.at.column), (4, 12));
//!         assert!(error.message.contains("This element is not expected"));
//!     }
//!     other => panic!("expected Invalid, got {other:?}"),
//! }
//! # Ok::<(), amtsbote_xoev::validate::ValidateError>(())
//! ```

mod bundled;
mod catalog;
mod error;
mod libxml2;
mod pack;
mod redact;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use quick_xml::events::Event;
use serde::Serialize;

pub use error::ValidateError;
pub use pack::SchemaPack;

use crate::error::display_name;
use crate::{Limits, Position, SniffError};
use libxml2::{CompileFailure, DocumentFailure, NodeError, Schema};
use pack::PreparedPack;
use redact::{NodeNames, redact};

/// At most this many violations are reported per document; the rest are counted in
/// [`Validation::Invalid::omitted`]. One broken repeating group can produce thousands of
/// identical errors, and nobody reads past the first hundred.
pub const MAX_VIOLATIONS: usize = 100;

/// The result of validating one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Validation {
    /// The document is valid against the pack's schema.
    Valid {
        /// The pack that validated it, e.g. `xbau-2.6`.
        pack: String,
    },
    /// The document violates the pack's schema.
    Invalid {
        /// The pack it was validated against.
        pack: String,
        /// The violations in document order, at most [`MAX_VIOLATIONS`].
        errors: Vec<SchemaViolation>,
        /// How many further violations were not reported.
        omitted: usize,
    },
    /// No pack validates the root element's namespace (or the root has none).
    UnknownSchema {
        /// The root element's namespace.
        namespace: Option<String>,
    },
}

impl Validation {
    /// `true` for [`Validation::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// One way in which a document violates its schema.
///
/// Carries no document content: `message` is libxml2's text with every value replaced by
/// `(value not shown)`; names of elements, attributes and types and the schema's own
/// constraints (patterns, enumerations, lengths) are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaViolation {
    /// Start of the element the violation is about (for an attribute: its element),
    /// 1-based line and byte column as in [`Position`].
    pub at: Position,
    /// The element as a path from the root, with prefixes as written in the document and
    /// a 1-based position where siblings share a name, e.g.
    /// `/xbau:baugenehmigung.antrag.0200/antragsteller/person[2]/name`; an attribute
    /// ends in `/@name`.
    pub path: String,
    /// What is wrong, e.g. `Element 'kennung': This element is not expected. Expected is
    /// ( name ).`
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}: {}", self.at, self.path, self.message)
    }
}

/// A compiled pack.
struct Compiled {
    name: String,
    namespace: String,
    schema: Schema,
}

/// Validates XÖV messages against compiled schema packs.
///
/// Build one at startup and share it: it is `Send + Sync` and cheap to clone (the
/// compiled schemas are shared, never copied). Compiling takes well under a second per
/// pack; [`Validator::validate`] needs no locking.
#[derive(Clone)]
pub struct Validator {
    packs: Vec<Arc<Compiled>>,
    by_namespace: HashMap<String, Arc<Compiled>>,
    limits: Limits,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("packs", &self.packs().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Validator {
    /// A validator with the packs bundled with amtsbote.
    pub fn bundled() -> Result<Self, ValidateError> {
        Self::with_packs(&[])
    }

    /// The bundled packs plus `extra` ones from configuration. A configured pack for a
    /// namespace that a bundled pack covers replaces the bundled one (to deploy a
    /// corrected schema without waiting for a release); two configured packs for the
    /// same namespace are an error.
    pub fn with_packs(extra: &[SchemaPack]) -> Result<Self, ValidateError> {
        let configured = prepare_all(extra)?;
        let mut packs: Vec<PreparedPack> = bundled::packs()?
            .into_iter()
            .filter(|b| !configured.iter().any(|c| c.namespace == b.namespace))
            .collect();
        packs.extend(configured);
        Self::compile(packs)
    }

    /// Only the given packs, without the bundled ones.
    pub fn from_packs(packs: &[SchemaPack]) -> Result<Self, ValidateError> {
        Self::compile(prepare_all(packs)?)
    }

    /// Uses `limits` for the pre-validation checks instead of [`Limits::default`]; use
    /// the same limits as intake's sniffer.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn compile(packs: Vec<PreparedPack>) -> Result<Self, ValidateError> {
        let mut compiled = Vec::new();
        let mut by_namespace = HashMap::new();
        for pack in packs {
            let pack = Arc::new(compile_pack(pack)?);
            by_namespace.insert(pack.namespace.clone(), Arc::clone(&pack));
            compiled.push(pack);
        }
        Ok(Self {
            packs: compiled,
            by_namespace,
            limits: Limits::default(),
        })
    }

    /// Whether a pack validates messages in `namespace` (exact match).
    pub fn knows(&self, namespace: &str) -> bool {
        self.by_namespace.contains_key(namespace)
    }

    /// The packs in use: (name, namespace).
    pub fn packs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.packs
            .iter()
            .map(|p| (p.name.as_str(), p.namespace.as_str()))
    }

    /// Validates one document against the pack for its root element's namespace.
    ///
    /// The document is first checked by [`crate::inspect`] with this validator's
    /// [`Limits`]; what the sniffer refuses comes back as [`ValidateError::Refused`]
    /// and never reaches libxml2.
    pub fn validate(&self, xml: &[u8]) -> Result<Validation, ValidateError> {
        let sniffed = crate::inspect(xml, &self.limits)?;
        let Some(pack) = sniffed
            .namespace
            .as_deref()
            .and_then(|ns| self.by_namespace.get(ns))
        else {
            return Ok(Validation::UnknownSchema {
                namespace: sniffed.namespace,
            });
        };
        let outcome = pack
            .schema
            .validate(xml, MAX_VIOLATIONS)
            .map_err(|failure| document_error(failure, xml))?;
        if outcome.valid {
            return Ok(Validation::Valid {
                pack: pack.name.clone(),
            });
        }
        let mut errors = violations(xml, outcome.errors);
        if errors.is_empty() {
            errors.push(SchemaViolation {
                at: Position::in_slice(xml, 0),
                path: "/".into(),
                message: "libxml2 reported the document invalid without details".into(),
            });
        }
        Ok(Validation::Invalid {
            pack: pack.name.clone(),
            errors,
            omitted: outcome.dropped,
        })
    }
}

fn prepare_all(packs: &[SchemaPack]) -> Result<Vec<PreparedPack>, ValidateError> {
    let prepared = packs
        .iter()
        .map(SchemaPack::prepare)
        .collect::<Result<Vec<_>, _>>()?;
    for (i, pack) in prepared.iter().enumerate() {
        if let Some(other) = prepared[..i].iter().find(|o| o.name == pack.name) {
            return Err(ValidateError::PackConfig {
                pack: pack.name.clone(),
                reason: format!("the name is used twice (namespace {})", other.namespace),
            });
        }
        if let Some(other) = prepared[..i].iter().find(|o| o.namespace == pack.namespace) {
            return Err(ValidateError::PackConfig {
                pack: pack.name.clone(),
                reason: format!(
                    "pack {} already validates the namespace {}",
                    other.name, pack.namespace
                ),
            });
        }
    }
    Ok(prepared)
}

fn compile_pack(pack: PreparedPack) -> Result<Compiled, ValidateError> {
    let name = pack.name.clone();
    let schema =
        Schema::compile(Arc::new(pack.resolver), &pack.entry).map_err(|failure| match failure {
            CompileFailure::NotInPack(urls) => ValidateError::NotInPack {
                pack: name.clone(),
                urls,
            },
            CompileFailure::Unreadable(files) => {
                let (path, message) = files.into_iter().next().unwrap_or_default();
                ValidateError::PackUnreadable {
                    pack: name.clone(),
                    path,
                    message,
                }
            }
            CompileFailure::Errors(errors) => ValidateError::Compile {
                pack: name.clone(),
                errors,
            },
        })?;
    let target = schema.target_namespace();
    if target.as_deref() != Some(pack.namespace.as_str()) {
        return Err(ValidateError::PackConfig {
            pack: name,
            reason: format!(
                "the entry schema {} has the target namespace {}, but the pack is configured for {}",
                pack.entry,
                target.as_deref().unwrap_or("(none)"),
                pack.namespace
            ),
        });
    }
    Ok(Compiled {
        name,
        namespace: pack.namespace,
        schema,
    })
}

fn document_error(failure: DocumentFailure, xml: &[u8]) -> ValidateError {
    match failure {
        DocumentFailure::NotWellFormed { line, column, code } => ValidateError::NotWellFormed {
            at: line_column(xml, line, column),
            code,
        },
        DocumentFailure::HasDtd => ValidateError::Refused(SniffError::DoctypeRefused {
            at: Position::in_slice(xml, 0),
        }),
        DocumentFailure::Internal(reason) => ValidateError::Internal(reason),
    }
}

/// A [`Position`] from libxml2's line and column (the byte offset is derived).
fn line_column(xml: &[u8], line: i32, column: i32) -> Position {
    let (Ok(line), Ok(column)) = (u64::try_from(line), u64::try_from(column)) else {
        return Position::in_slice(xml, 0);
    };
    let line_start = if line <= 1 {
        0
    } else {
        xml.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line as usize - 2)
            .map_or(xml.len(), |(i, _)| i + 1)
    };
    Position::in_slice(xml, line_start as u64 + column.saturating_sub(1))
}

/// Turns libxml2's errors into violations: positions from our own scan of the bytes
/// (libxml2 knows only the line, capped at 65,535), paths from the tree, redacted texts.
fn violations(xml: &[u8], errors: Vec<NodeError>) -> Vec<SchemaViolation> {
    let errors: Vec<NodeError> = errors.into_iter().filter(|e| e.error.is_error()).collect();
    let wanted: BTreeSet<usize> = errors
        .iter()
        .filter_map(|e| e.node.as_ref().map(|n| n.element_index))
        .collect();
    let offsets = element_offsets(xml, &wanted);
    errors
        .into_iter()
        .map(|NodeError { error, node }| {
            let at = node
                .as_ref()
                .and_then(|n| offsets.get(&n.element_index))
                .map(|&offset| Position::in_slice(xml, offset))
                .unwrap_or_else(|| line_column(xml, error.line, error.column.max(1)));
            let path = node.as_ref().map_or_else(
                || "/".to_owned(),
                |n| {
                    let mut path = String::new();
                    for (prefix, local, position) in &n.steps {
                        path.push('/');
                        path.push_str(&step(prefix.as_deref(), local));
                        if let Some(position) = position {
                            path.push_str(&format!("[{position}]"));
                        }
                    }
                    if let Some((prefix, local)) = &n.attribute {
                        path.push_str("/@");
                        path.push_str(&step(prefix.as_deref(), local));
                    }
                    path
                },
            );
            // For attribute errors libxml2 names the element's node and the attribute
            // only in the message: take the attribute from there.
            let attribute = node.as_ref().and_then(|n| match &n.attribute_qname {
                Some(qname) => Some(qname.clone()),
                None => attribute_in_message(&error.message, &n.element_qname),
            });
            let mut path = path;
            if let Some(attribute) = attribute
                .as_ref()
                .filter(|_| node.as_ref().is_some_and(|n| n.attribute.is_none()))
            {
                let local = attribute.rsplit('}').next().unwrap_or(attribute);
                path.push_str("/@");
                path.push_str(&display_name(local.as_bytes()));
            }
            let names = node.as_ref().map(|n| NodeNames {
                element: &n.element_qname,
                attribute: attribute.as_deref(),
            });
            let message = redact(&error.message, &error.inserted, names);
            SchemaViolation { at, path, message }
        })
        .collect()
}

/// The attribute named in a message `Element '{element}', attribute '{attribute}': ...`.
fn attribute_in_message(message: &str, element: &str) -> Option<String> {
    let rest = message
        .strip_prefix("Element '")?
        .strip_prefix(element)?
        .strip_prefix("', attribute '")?;
    let (attribute, _) = rest.split_once("': ")?;
    Some(attribute.to_owned())
}

fn step(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(prefix) => display_name(format!("{prefix}:{local}").as_bytes()),
        None => display_name(local.as_bytes()),
    }
}

/// Byte offsets of the start tags of the wanted elements (by document-order index).
fn element_offsets(xml: &[u8], wanted: &BTreeSet<usize>) -> HashMap<usize, u64> {
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return found;
    }
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut index = 0usize;
    loop {
        // Text is its own event, so the position before a start tag is its '<'.
        let before = reader.buffer_position();
        match reader.read_event() {
            Ok(Event::Start(_) | Event::Empty(_)) => {
                if wanted.contains(&index) {
                    found.insert(index, before);
                    if found.len() == wanted.len() {
                        break;
                    }
                }
                index += 1;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_offsets_point_at_start_tags() {
        let xml = b"<?xml version=\"1.0\"?>\n<a>\n  <b/>\n  <!-- c -->\n  <c>text</c>\n</a>";
        let offsets = element_offsets(xml, &[0, 1, 2].into());
        assert_eq!(
            Position::in_slice(xml, offsets[&0]).to_string(),
            "line 2, column 1"
        );
        assert_eq!(
            Position::in_slice(xml, offsets[&1]).to_string(),
            "line 3, column 3"
        );
        assert_eq!(
            Position::in_slice(xml, offsets[&2]).to_string(),
            "line 5, column 3"
        );
    }

    #[test]
    fn line_column_is_one_based() {
        let xml = b"ab\ncd\nef";
        assert_eq!(line_column(xml, 2, 2).offset, 4);
        assert_eq!(line_column(xml, 1, 1).offset, 0);
    }

    #[test]
    fn validator_is_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Validator>();
    }
}
