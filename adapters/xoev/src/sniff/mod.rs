//! Sniffing: identifying an XÖV message from its first bytes, as intake does for every
//! payload before validation and routing.
//!
//! A message is identified by the namespace of its root element and the root's local
//! name (`<area>.<message>.<code>`), and described by its header (Nachrichtenkopf):
//! message type, UUID, creation time, author and reader authority, and the root's
//! `test`/`produkt`/`standard`/`version` attributes. Three generations of headers are in
//! use (see [`HeaderDialect`]); all are read.
//!
//! Input is untrusted, so reading is hardened (no DTDs, no entities beyond the five
//! predefined ones, limits on size, depth, attributes, names and text; see [`Limits`]).
//! Nothing here touches the network or the file system, and no input makes it panic.
//!
//! [`sniff`] stops after the header, which is cheap even for a message with hundreds of
//! megabytes of inline attachments. [`inspect`] reads to the end and also guarantees the
//! whole document is well-formed; intake uses it before accepting a message.

mod header;
mod input;
mod reasons;
mod scan;
mod sniffed;
mod syntax;

use std::io::BufRead;

pub use sniffed::{Authority, HeaderDialect, Sniffed};

use crate::{Limits, SniffError};
use scan::{Mode, scan};

/// Identifies the message in `xml`, reading only as far as the end of its header.
///
/// The part that is read must be well-formed and within `limits`; the rest is not looked
/// at, so a truncated document whose header is complete still sniffs fine (use
/// [`inspect`] to accept a message).
pub fn sniff(xml: &[u8], limits: &Limits) -> Result<Sniffed, SniffError> {
    scan_slice(xml, limits, Mode::Sniff)
}

/// Identifies the message in `xml` like [`sniff`], and checks that the whole document is
/// well-formed XML within `limits`.
pub fn inspect(xml: &[u8], limits: &Limits) -> Result<Sniffed, SniffError> {
    scan_slice(xml, limits, Mode::Inspect)
}

/// [`sniff`] for a stream: reads only up to the end of the header.
///
/// Line numbers in errors are exact unless the error lies more than 16,384 lines before
/// the point where reading stopped (then only the byte offset is given).
pub fn sniff_reader<R: BufRead>(reader: R, limits: &Limits) -> Result<Sniffed, SniffError> {
    scan(reader, None, limits, Mode::Sniff)
}

/// [`inspect`] for a stream: reads to the end with bounded memory.
pub fn inspect_reader<R: BufRead>(reader: R, limits: &Limits) -> Result<Sniffed, SniffError> {
    scan(reader, None, limits, Mode::Inspect)
}

/// Slices take the same path as streams (so both fail alike, at the same place); knowing
/// the whole input only makes error positions exact.
fn scan_slice(xml: &[u8], limits: &Limits, mode: Mode) -> Result<Sniffed, SniffError> {
    scan(xml, Some(xml), limits, mode)
}
