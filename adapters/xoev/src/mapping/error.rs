//! What can go wrong with a mapping, written for the person who maintains the mapping
//! file.
//!
//! Two kinds: a [`MappingError`] when a mapping file cannot be loaded (the broker refuses
//! to start, `amtsbote check` fails), and an [`ApplyError`] when a message cannot be
//! mapped (the delivery fails permanently). Both name the mapping file and line; an
//! apply error also names the target field and the path that was missing or invalid.
//!
//! Messages carry personal data, so no error here ever contains a value from a message —
//! not even the code that was not found in a code list. Paths, field names, code list
//! names and formats come from the mapping file and are safe to show.

use std::fmt;

use crate::SniffError;

/// A mapping file that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The file could not be read.
    #[error("{file}: cannot read the mapping file: {source}")]
    Read {
        /// The mapping file.
        file: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Not valid TOML, or keys/values the mapping language does not have.
    #[error("{file}{}: {message}", line_suffix(*.line))]
    Syntax {
        /// The mapping file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What the TOML reader found wrong.
        message: String,
    },
    /// Valid TOML that does not make a working mapping: a bad path expression, an
    /// unknown code list, a date format that does not fit, conflicting targets, …
    #[error("{file}:{line}: {}{message}", field_prefix(.field))]
    Invalid {
        /// The mapping file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The target of the field concerned, if the problem belongs to a field.
        field: Option<String>,
        /// What is wrong and, where possible, how to fix it.
        message: String,
    },
}

fn line_suffix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

fn field_prefix(field: &Option<String>) -> String {
    field
        .as_ref()
        .map(|f| format!("field \"{f}\": "))
        .unwrap_or_default()
}

impl MappingError {
    /// The 1-based line in the mapping file, if the error has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            MappingError::Read { .. } => None,
            MappingError::Syntax { line, .. } | MappingError::Invalid { line, .. } => {
                (*line > 0).then_some(*line)
            }
        }
    }
}

/// A message that could not be mapped.
///
/// Permanent for the message at hand: applying the same mapping to the same bytes fails
/// the same way (fix the message or the mapping, then replay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The message is not XML the hardened reader accepts (see [`SniffError`]).
    #[error("message refused: {0}")]
    Unreadable(SniffError),
    /// The message was read, but fields could not be filled: required values missing,
    /// values that are not dates, codes not in a code list, …
    #[error("{}", FieldList(.errors, *.omitted))]
    Fields {
        /// The problems, in mapping order (at most [`MAX_FIELD_ERRORS`]).
        errors: Vec<FieldError>,
        /// How many further problems were found but not listed.
        omitted: usize,
    },
}

/// How many field errors one [`ApplyError::Fields`] lists at most.
pub const MAX_FIELD_ERRORS: usize = 50;

impl ApplyError {
    /// The field errors, if that is what this is.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ApplyError::Fields { errors, .. } => errors,
            ApplyError::Unreadable(_) => &[],
        }
    }
}

struct FieldList<'a>(&'a [FieldError], usize);

impl fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        if self.1 > 0 {
            write!(f, "\n… and {} more", self.1)?;
        }
        Ok(())
    }
}

/// One field that could not be filled.
///
/// Displays as `gewerbe.toml:42: field "betrieb.beginn": required value missing at
/// //gewerbebetrieb/beginn`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: field \"{target}\": {problem} at {path}")]
pub struct FieldError {
    /// The mapping file.
    pub file: String,
    /// The line of the field's `target` in the mapping file.
    pub line: usize,
    /// The target, with 1-based item numbers inside repeating groups
    /// (`inhaber[2].familienname`).
    pub target: String,
    /// The path expression that was evaluated, with the repeating group's item spelt out
    /// (`(//beteiligtePerson)[2]/familienname`).
    pub path: String,
    /// What was wrong with the value.
    pub problem: Problem,
}

/// What was wrong with a value. Never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A `required` field found nothing (or only white space).
    #[error("required value missing")]
    Missing,
    /// A `codelist` transform did not find the code.
    #[error("value not in code list {codelist}")]
    NotInCodeList {
        /// The code list's name in the mapping file.
        codelist: String,
    },
    /// A `map` transform has no entry (and no `"*"` fallback) for the value.
    #[error("value not in the map of the transform")]
    NotInMap,
    /// A `date`/`datetime` transform could not read the value.
    #[error("value is not a date in the format {format}")]
    NotADate {
        /// The expected `from` format, as written in the mapping.
        format: String,
    },
    /// The value has no time zone, but the output format or `utc = true` needs one.
    #[error("value has no time zone, which the date format needs")]
    NoTimezone,
    /// Converted to UTC, the value falls outside the years 1 to 9999.
    #[error("value falls outside the years 1 to 9999 in UTC")]
    DateOutOfRange,
    /// A `number` transform could not read the value.
    #[error("value is not a number")]
    NotANumber,
    /// A `boolean` transform could not read the value.
    #[error("value is not a boolean (true/false/1/0)")]
    NotABoolean,
}
