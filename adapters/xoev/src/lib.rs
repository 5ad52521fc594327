//! XÖV support for amtsbote, usable on its own: identify a message of a German public
//! administration XML standard (XÖV) from its bytes.
//!
//! Intake calls [`inspect`] on every XML payload: it refuses hostile or broken XML with a
//! [`SniffError`] an operator can act on, and returns the header facts ([`Sniffed`]) that
//! routing matches on — standard and version, message type, author and reader authority,
//! test flag. [`standard_for_namespace`] is the table of known XÖV namespaces behind it.
//!
//! Workers then turn the message into what a Fachverfahren expects with a [`Mapping`]: a
//! declarative mapping file (TOML, see [`mapping`] and `docs/mapping.md`), compiled once
//! with [`Mapping::from_file`] and applied to each message with [`Mapping::apply`] or
//! [`Mapping::render`].
//!
//! The crate does not depend on the broker. Sniffing and mapping a message do no I/O;
//! loading a mapping reads the mapping file and its code lists.
//!
//! ```
//! use amtsbote_xoev::{HeaderDialect, Limits, inspect};
//!
//! let xml = br#"<xbau:baugenehmigung.antrag.0200
//!         xmlns:xbau="http://www.xleitstelle.de/xbau/2/6" test="true">
//!   <nachrichtenkopf.g2g>
//!     <identifikation.nachricht>
//!       <nachrichtentyp><code>0200</code></nachrichtentyp>
//!     </identifikation.nachricht>
//!     <leser>
//!       <verzeichnisdienst><code>DVDV</code></verzeichnisdienst>
//!       <kennung>bab:09162000</kennung>
//!       <name>Bauaufsicht</name>
//!     </leser>
//!   </nachrichtenkopf.g2g>
//! </xbau:baugenehmigung.antrag.0200>"#;
//!
//! let message = inspect(xml, &Limits::default())?;
//! assert_eq!(message.standard.unwrap().to_string(), "XBau 2.6");
//! assert_eq!(message.message_type.as_deref(), Some("0200"));
//! assert_eq!(message.reader.unwrap().to_string(), "bab:09162000");
//! assert_eq!(message.dialect, HeaderDialect::G2gUnqualified);
//! assert!(message.test);
//!
//! // Hostile input is refused, with a position and without quoting the document.
//! let xxe = br#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
//! let err = inspect(xxe, &Limits::default()).unwrap_err();
//! assert!(err.to_string().starts_with("DOCTYPE refused at line 1, column 1"));
//! # Ok::<(), amtsbote_xoev::SniffError>(())
//! ```

mod error;
mod limits;
pub mod mapping;
pub mod sniff;
pub mod standards;
pub mod validate;

/// Parses a mapping path expression and reports only whether it parsed (the error text
/// on failure). Not part of the API: the fuzz target in `fuzz/` needs the mapping path parser,
/// which is otherwise reachable only through a whole mapping file.
#[doc(hidden)]
pub fn fuzz_parse_mapping_path(text: &str) -> Result<(), String> {
    mapping::path::PathExpr::parse(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub use error::{Position, SniffError};
pub use limits::Limits;
pub use mapping::{ApplyError, FieldError, Mapping, MappingError, Output, OutputFormat, Problem};
pub use sniff::{Authority, HeaderDialect, Sniffed, inspect, inspect_reader, sniff, sniff_reader};
pub use standards::{Standard, standard_by_key, standard_for_namespace};
pub use validate::{SchemaPack, SchemaViolation, ValidateError, Validation, Validator};
