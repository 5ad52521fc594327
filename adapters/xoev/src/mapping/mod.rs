//! The declarative mapping engine: turns an XÖV message into exactly the JSON (or XML) a
//! Fachverfahren's API expects, as described in a mapping file.
//!
//! This is what lets a municipality connect a new EfA service without writing code: the
//! worker applies the route's mapping before delivery, and a person who knows the form
//! and the target system — not necessarily a programmer — maintains the mapping file.
//! The language (TOML, like the rest of amtsbote's configuration) is documented for that
//! audience in `docs/mapping.md`; in short:
//!
//! ```toml
//! [mapping]
//! name = "Gewerbeanmeldung → Gewerberegister"
//! message_type = "*.gewerbemeldung.0500"
//!
//! [codelists.rechtsform]
//! file = "codelists/rechtsform.xml"
//!
//! [[field]]
//! target = "betrieb.name"
//! path = "//betrieb/eingetragenerName"
//! required = true
//!
//! [[field]]
//! target = "betrieb.rechtsform"
//! path = "//betrieb/rechtsformSchluessel/code"
//! transform = [{ codelist = "rechtsform" }]
//!
//! [[field]]
//! target = "personen"
//! each = "//beteiligtePerson"
//!   [[field.fields]]
//!   target = "familienname"
//!   path = "familienname"
//! ```
//!
//! [`Mapping::from_file`] does all the work that does not need a message, once: it
//! parses the file, reads the code lists, compiles every path expression and checks
//! transforms and targets, with errors that name the file and line. [`Mapping::apply`] is
//! then cheap, read-only and safe to share between threads (`Mapping` is `Send + Sync`).
//! It reads the message with the crate's hardened XML reader ([`crate::inspect`]) before
//! building a small tree, and reports every field it could not fill
//! ([`ApplyError::Fields`]) — with file, line, target and path, never with message content.

mod apply;
mod codelist;
mod compile;
mod config;
mod dates;
mod document;
mod error;
mod output;
pub(crate) mod path;
mod transform;

use std::path::Path;

pub use error::{ApplyError, FieldError, MAX_FIELD_ERRORS, MappingError, Problem};
pub use output::{Output, OutputFormat};

use crate::{Limits, Position, SniffError, Sniffed};
use compile::Compiled;
use document::{Document, ReadError};

/// A compiled mapping file.
#[derive(Debug)]
pub struct Mapping {
    file: String,
    compiled: Compiled,
    limits: Limits,
}

impl Mapping {
    /// Loads and compiles the mapping file at `path`. Code list files named in it are
    /// resolved relative to the mapping file's directory. Errors name the file as given.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Mapping, MappingError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|source| MappingError::Read {
            file: file.clone(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or_else(|| Path::new("."));
        Self::from_toml(&source, &file, base_dir)
    }

    /// Compiles a mapping from its text. `file` is the name errors use; code list files
    /// are resolved relative to `base_dir`.
    pub fn from_toml(
        source: &str,
        file: &str,
        base_dir: impl AsRef<Path>,
    ) -> Result<Mapping, MappingError> {
        let compiled = compile::compile(source, file, base_dir.as_ref())?;
        Ok(Mapping {
            file: file.to_owned(),
            compiled,
            limits: Limits::default(),
        })
    }

    /// Uses `limits` instead of the defaults when reading messages.
    pub fn with_limits(mut self, limits: Limits) -> Mapping {
        self.limits = limits;
        self
    }

    /// `[mapping] name`.
    pub fn name(&self) -> &str {
        &self.compiled.name
    }

    /// `[mapping] description`, if given.
    pub fn description(&self) -> Option<&str> {
        self.compiled.description.as_deref()
    }

    /// The mapping file, as named in errors.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// `[mapping] message_type`, the message type the mapping is written for (a pattern
    /// like `*.gewerbemeldung.0500`), if given.
    pub fn message_type(&self) -> Option<&str> {
        self.compiled.message_type.as_deref()
    }

    /// Whether a message fits `message_type`: the pattern (`*` for any run of
    /// characters, `?` for one) matches the root element's local name
    /// (`abh.gewerbemeldung.0500`) or the message type code (`0500`). Always true when
    /// the mapping names no message type.
    pub fn matches_message_type(&self, message: &Sniffed) -> bool {
        match &self.compiled.message_type {
            None => true,
            Some(pattern) => {
                glob(pattern, &message.root)
                    || message
                        .message_type
                        .as_deref()
                        .is_some_and(|code| glob(pattern, code))
            }
        }
    }

    /// JSON or XML.
    pub fn output_format(&self) -> OutputFormat {
        self.compiled.output
    }

    /// Maps `xml` and returns the result as a JSON value.
    pub fn apply(&self, xml: &[u8]) -> Result<serde_json::Value, ApplyError> {
        self.render(xml).map(|output| output.to_json())
    }

    /// Maps `xml` and returns the document to deliver ([`Output::to_bytes`]), in the
    /// mapping's format and field order, with what the sniffer found and warnings.
    pub fn render(&self, xml: &[u8]) -> Result<Output, ApplyError> {
        let (doc, sniffed) = Document::parse(xml, &self.limits).map_err(|e| match e {
            ReadError::Refused(e) => ApplyError::Unreadable(e),
            ReadError::Internal { offset } => ApplyError::Unreadable(SniffError::NotWellFormed {
                at: Position::in_slice(xml, offset),
                reason: "the XML reader failed".to_owned(),
            }),
        })?;
        let body = apply::apply(&self.compiled, &self.file, &doc)
            .map_err(|(errors, omitted)| ApplyError::Fields { errors, omitted })?;
        let mut warnings = Vec::new();
        if !self.matches_message_type(&sniffed) {
            warnings.push(format!(
                "the message is {} (type {}), but the mapping is written for {}",
                sniffed.root,
                sniffed.message_type.as_deref().unwrap_or("unknown"),
                self.message_type().unwrap_or_default()
            ));
        }
        Ok(Output {
            format: self.compiled.output,
            body,
            xml_root: self.compiled.xml_root.clone(),
            sniffed,
            warnings,
        })
    }
}

/// `*` matches any run of characters, `?` one character; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests;
