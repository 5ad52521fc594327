//! Why validation could not give an answer: a schema pack that does not load (found at
//! startup or by `amtsbote check`), or a document that cannot be validated at all.
//!
//! An *invalid* document is not an error: it is the answer [`super::Validation::Invalid`].
//! Like every error of this crate, these never carry document content.

use crate::{Position, SniffError};

/// A schema pack that cannot be used, or a document that cannot be validated.
///
/// Pack errors come from [`super::Validator`]'s constructors and name the pack; fix the
/// configuration or the pack's files. Document errors come from
/// [`super::Validator::validate`]; see [`ValidateError::is_permanent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// The pack's configuration is wrong: bad name, missing folder or entry schema,
    /// unusable catalog, wrong namespace, two packs for one namespace.
    #[error("schema pack {pack}: {reason}")]
    PackConfig {
        /// The pack's name as configured.
        pack: String,
        /// What is wrong and where.
        reason: String,
    },
    /// The pack's schemas refer to URLs that are neither files of the pack nor mapped by
    /// its catalog. Nothing was fetched: amtsbote never loads schemas from the network.
    #[error(
        "schema pack {pack} refers to {}, which is neither a file of the pack nor mapped by its catalog (schemas are never downloaded): copy the schema into the pack and map the URL in its catalog.xml",
        urls.join(", ")
    )]
    NotInPack {
        /// The pack's name.
        pack: String,
        /// Every URL that was refused, in the order libxml2 asked for them.
        urls: Vec<String>,
    },
    /// A file the pack refers to could not be read.
    #[error("schema pack {pack}: cannot read {path}: {message}")]
    PackUnreadable {
        /// The pack's name.
        pack: String,
        /// The file, relative to the pack folder.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// libxml2 could not compile the pack's schemas.
    #[error("schema pack {pack} does not compile: {}", errors.join("; "))]
    Compile {
        /// The pack's name.
        pack: String,
        /// libxml2's errors, each with schema file and line.
        errors: Vec<String>,
    },
    /// The document was refused before validation: not XML, not well-formed, a DTD,
    /// over a size limit (the sniffer's checks, see [`crate::inspect`]).
    #[error("document refused: {0}")]
    Refused(#[from] SniffError),
    /// libxml2 could not parse a document that the sniffer accepted (a well-formedness
    /// rule only libxml2 checks, e.g. a character not allowed in XML).
    #[error("not well-formed XML at {at} (libxml2 error {code})")]
    NotWellFormed {
        /// Where libxml2 stopped.
        at: Position,
        /// libxml2's error code (`xmlParserErrors`).
        code: i32,
    },
    /// libxml2 failed for a reason that is not the document's fault (out of memory).
    #[error("validation failed internally: {0}")]
    Internal(String),
}

impl ValidateError {
    /// `true` when the document itself is at fault (reject it; validating it again will
    /// fail the same way); `false` for pack errors and internal failures.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Refused(err) => err.is_permanent(),
            Self::NotWellFormed { .. } => true,
            _ => false,
        }
    }
}
