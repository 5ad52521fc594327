//! The hardened pass over the XML events: limits, well-formedness, no DTDs, no entities.
//!
//! quick-xml does the tokenising; this module decides what is acceptable and hands the
//! root element and the header to [`HeaderReader`]. It never expands anything: a DOCTYPE
//! is refused as soon as it appears, and the only references resolved are the five
//! predefined entities and character references, so XXE and entity expansion attacks
//! have nothing to work with. In [`Mode::Sniff`] the pass ends after the header; in
//! [`Mode::Inspect`] it runs to the end and every byte must be well-formed.

use std::io::BufRead;

use quick_xml::NsReader;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::header::{Flow, HeaderReader};
use super::input::Input;
use super::reasons::{encoding_label, io_fault, leading_text, not_xml_hint, parser_fault};
use super::sniffed::Sniffed;
use super::syntax::{
    UTF8_BOM, attributes_are_separated, find_illegal_char, is_qname, is_xml_char,
    is_xml_whitespace, parse_declaration,
};
use crate::Limits;
use crate::error::{Fault, FaultKind, Position, SniffError, display_name};

/// How much of the document to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Stop as soon as the header is known.
    Sniff,
    /// Read everything; the whole document must be well-formed.
    Inspect,
}

/// Scans `source`. `whole` is the complete input when it is a slice, which lets errors
/// be located exactly; streams use [`Input`]'s line index instead.
pub(crate) fn scan<R: BufRead>(
    source: R,
    whole: Option<&[u8]>,
    limits: &Limits,
    mode: Mode,
) -> Result<Sniffed, SniffError> {
    let mut input = Input::new(
        source,
        limits.max_bytes as u64,
        limits.max_event_bytes(),
        whole.is_none(),
    );
    let locate = |input: &Input<R>, offset: u64| match whole {
        Some(bytes) => Position::in_slice(bytes, offset),
        None => input.locate(offset),
    };
    let bom = prelude(&mut input, limits)?;
    let mut reader = NsReader::from_reader(input);
    let config = reader.config_mut();
    config.check_comments = true;
    config.check_end_names = true;
    config.expand_empty_elements = false;
    config.allow_dangling_amp = false;
    config.allow_unmatched_ends = false;
    config.trim_text(false);

    let mut scanner = Scanner::new(limits, mode, bom);
    match scanner.run(&mut reader) {
        Ok(()) => Ok(scanner.header.finish()),
        Err(fault) => Err(fault.into_error(|offset| locate(reader.get_ref(), offset), limits)),
    }
}

/// Peeks at the first bytes for a UTF-8 byte order mark, which quick-xml skips without
/// counting it in its positions; returns its length (0 or 3).
fn prelude<R: BufRead>(input: &mut Input<R>, limits: &Limits) -> Result<u64, SniffError> {
    match input.fill_buf() {
        Ok(head) => Ok(if head.starts_with(UTF8_BOM) { 3 } else { 0 }),
        Err(err) => {
            let fault = io_fault(input, 0, &err);
            Err(fault.into_error(Position::offset_only, limits))
        }
    }
}

/// What is known about a start tag's namespace after resolving it.
enum ElementNs {
    Unbound,
    /// The URI, kept only when needed (for the root element).
    Bound(Option<String>),
    Unknown(Vec<u8>),
}

struct Scanner<'l> {
    limits: &'l Limits,
    mode: Mode,
    /// Length of a skipped byte order mark: quick-xml's offsets start after it.
    bom: u64,
    /// Qualified names of the open elements.
    open: Vec<Box<[u8]>>,
    root_closed: bool,
    seen_any_event: bool,
    /// Nothing but white space has been read yet: non-XML payloads show here.
    leading: bool,
    /// Bytes of character data since the last tag (one text node, split by references).
    text_run: u64,
    text_run_start: u64,
    header: HeaderReader,
}

impl<'l> Scanner<'l> {
    fn new(limits: &'l Limits, mode: Mode, bom: u64) -> Self {
        Self {
            limits,
            mode,
            bom,
            open: Vec::new(),
            root_closed: false,
            seen_any_event: false,
            leading: true,
            text_run: 0,
            text_run_start: 0,
            header: HeaderReader::default(),
        }
    }

    fn run<R: BufRead>(&mut self, reader: &mut NsReader<Input<R>>) -> Result<(), Fault> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let at = reader.buffer_position() + self.bom;
            let (ns, event) = match reader.read_resolved_event_into(&mut buf) {
                Ok(resolved) => resolved,
                Err(err) => {
                    let error_at = reader.error_position() + self.bom;
                    return Err(parser_fault(reader.get_ref(), err, error_at, at));
                }
            };
            let ns = match ns {
                ResolveResult::Unbound => ElementNs::Unbound,
                ResolveResult::Bound(uri) => ElementNs::Bound(
                    self.open
                        .is_empty()
                        .then(|| String::from_utf8_lossy(uri.as_ref()).into_owned()),
                ),
                ResolveResult::Unknown(prefix) => ElementNs::Unknown(prefix),
            };
            let blank = matches!(&event, Event::Text(t) if t.iter().all(|&b| is_xml_whitespace(b)));
            let flow = match event {
                Event::Start(tag) => self.start(reader, &tag, ns, at, false)?,
                Event::Empty(tag) => self.start(reader, &tag, ns, at, true)?,
                Event::End(_) => self.end(at)?,
                Event::Text(text) => self.text(&text, at)?,
                Event::CData(cdata) => self.cdata(&cdata, at)?,
                Event::GeneralRef(reference) => self.reference(&reference, at)?,
                Event::Comment(comment) => self.markup_text(&comment, at, "comment")?,
                Event::PI(pi) => self.processing_instruction(&pi, at)?,
                Event::Decl(decl) => self.declaration(&decl, at)?,
                Event::DocType(_) => return Err(Fault::new(at, FaultKind::Doctype)),
                Event::Eof => return self.eof(at),
            };
            reader.get_mut().mark_boundary();
            self.seen_any_event = true;
            self.leading &= blank;
            if flow == Flow::HeaderDone && self.mode == Mode::Sniff {
                return Ok(());
            }
        }
    }

    fn start<R: BufRead>(
        &mut self,
        reader: &NsReader<Input<R>>,
        tag: &BytesStart<'_>,
        ns: ElementNs,
        at: u64,
        empty: bool,
    ) -> Result<Flow, Fault> {
        let qname = tag.name().into_inner();
        self.check_name(qname, at, "element")?;
        if self.root_closed {
            return Err(Fault::not_well_formed(
                at,
                format!(
                    "a second root element <{}> follows the first",
                    display_name(qname)
                ),
            ));
        }
        let namespace = match ns {
            ElementNs::Unknown(prefix) => {
                return Err(Fault::not_well_formed(
                    at,
                    format!(
                        "element <{}> uses the undeclared namespace prefix {}",
                        display_name(qname),
                        display_name(&prefix)
                    ),
                ));
            }
            ElementNs::Unbound => None,
            ElementNs::Bound(uri) => Some(uri),
        };
        let depth = self.open.len() + 1;
        if depth > self.limits.max_depth {
            return Err(Fault::new(at, FaultKind::TooDeep));
        }
        let local = std::str::from_utf8(tag.local_name().into_inner()).unwrap_or_default();
        if depth == 1 {
            self.header.root(namespace.clone().flatten(), local);
        }
        self.attributes(reader, tag, at, depth == 1)?;
        self.text_run = 0;

        let mut flow = if depth == 1 {
            Flow::Continue
        } else {
            self.header.start(depth, namespace.is_some(), local)
        };
        if empty {
            flow = self.close(depth).max_flow(flow);
        } else {
            self.open.push(qname.into());
        }
        Ok(flow)
    }

    fn attributes<R: BufRead>(
        &mut self,
        reader: &NsReader<Input<R>>,
        tag: &BytesStart<'_>,
        at: u64,
        is_root: bool,
    ) -> Result<(), Fault> {
        let element = || display_name(tag.name().into_inner());
        if !attributes_are_separated(tag.attributes_raw()) {
            return Err(Fault::not_well_formed(
                at,
                "attributes must be separated by white space",
            ));
        }
        for (count, attribute) in tag.attributes().enumerate() {
            // The tag itself is broken here, so it may well be misparsed text: the
            // position has to do, the "element name" is not repeated.
            let attribute = attribute
                .map_err(|_| Fault::not_well_formed(at, "malformed or duplicate attribute"))?;
            if count + 1 > self.limits.max_attributes {
                return Err(Fault::new(at, FaultKind::TooManyAttributes(element())));
            }
            let key = attribute.key.into_inner();
            self.check_name(key, at, "attribute")?;
            let reserved = key.starts_with(b"xmlns") || key.starts_with(b"xml:");
            if !reserved
                && let (ResolveResult::Unknown(prefix), _) = reader.resolve_attribute(attribute.key)
            {
                return Err(Fault::not_well_formed(
                    at,
                    format!(
                        "an attribute of <{}> uses the undeclared namespace prefix {}",
                        element(),
                        display_name(&prefix)
                    ),
                ));
            }
            let raw = attribute.value.as_ref();
            if raw.len() > self.limits.max_text_len {
                return Err(Fault::new(at, FaultKind::TextTooLong));
            }
            let value = self.attribute_value(raw, at, &element)?;
            if key.starts_with(b"xmlns:") && value.is_empty() {
                return Err(Fault::not_well_formed(
                    at,
                    format!("element <{}> undeclares a namespace prefix", element()),
                ));
            }
            if is_root && attribute.key.prefix().is_none() {
                let name = std::str::from_utf8(key).unwrap_or_default();
                self.header.root_attribute(name, &value);
            }
        }
        Ok(())
    }

    /// Checks and unescapes one attribute value.
    fn attribute_value(
        &self,
        raw: &[u8],
        at: u64,
        element: &dyn Fn() -> String,
    ) -> Result<String, Fault> {
        let fail = |what: &str| {
            Fault::not_well_formed(at, format!("an attribute value of <{}> {what}", element()))
        };
        if raw.contains(&b'<') {
            return Err(fail("contains '<'"));
        }
        let text = std::str::from_utf8(raw).map_err(|_| fail("is not valid UTF-8"))?;
        let value =
            quick_xml::escape::unescape_with(text, predefined_entity).map_err(|e| match e {
                EscapeError::UnrecognizedEntity(..) => Fault::new(at, FaultKind::Entity),
                EscapeError::UnterminatedEntity(..) => {
                    fail("contains an '&' that does not start a reference")
                }
                EscapeError::InvalidCharRef(..) => fail("contains an invalid character reference"),
            })?;
        if let Some((_, what)) = find_illegal_char(&value) {
            return Err(fail(&format!("contains {what}")));
        }
        Ok(value.into_owned())
    }

    fn end(&mut self, at: u64) -> Result<Flow, Fault> {
        let depth = self.open.len();
        if self.open.pop().is_none() {
            // quick-xml reports unmatched end tags itself; this is a second line of defence.
            return Err(Fault::not_well_formed(at, "end tag without a start tag"));
        }
        self.text_run = 0;
        Ok(self.close(depth))
    }

    /// An element at `depth` was closed (by an end tag or as an empty element).
    fn close(&mut self, depth: usize) -> Flow {
        if depth == 1 {
            self.root_closed = true;
            // Nothing after the root can change the header.
            Flow::HeaderDone
        } else {
            self.header.end(depth)
        }
    }

    fn text(&mut self, text: &[u8], at: u64) -> Result<Flow, Fault> {
        if self.open.is_empty() {
            if self.leading {
                return leading_text(text, at);
            }
            if !text.iter().all(|&b| is_xml_whitespace(b)) {
                let place = if self.root_closed { "after" } else { "before" };
                return Err(Fault::not_well_formed(
                    at,
                    format!("text {place} the root element"),
                ));
            }
            return Ok(Flow::Continue);
        }
        self.count_text(text.len(), at)?;
        let text = utf8(text, at, "text")?;
        if let Some(i) = text.find("]]>") {
            return Err(Fault::not_well_formed(
                at + i as u64,
                "text contains \"]]>\" (write ]]&gt;)",
            ));
        }
        check_chars(text, at, "text")?;
        self.header.text(text);
        Ok(Flow::Continue)
    }

    fn cdata(&mut self, cdata: &[u8], at: u64) -> Result<Flow, Fault> {
        if self.open.is_empty() {
            return Err(Fault::not_well_formed(
                at,
                "CDATA section outside the root element",
            ));
        }
        self.count_text(cdata.len(), at)?;
        let text = utf8(cdata, at, "CDATA section")?;
        check_chars(text, at, "CDATA section")?;
        self.header.text(text);
        Ok(Flow::Continue)
    }

    fn reference(&mut self, reference: &BytesRef<'_>, at: u64) -> Result<Flow, Fault> {
        if self.open.is_empty() && self.leading {
            return Err(Fault::new(at, FaultKind::NotXml(not_xml_hint(b"&"))));
        }
        if self.open.is_empty() {
            return Err(Fault::not_well_formed(
                at,
                "reference outside the root element",
            ));
        }
        self.count_text(reference.len() + 2, at)?;
        let mut utf8_buf = [0u8; 4];
        let resolved: &str = if reference.is_char_ref() {
            match reference.resolve_char_ref() {
                Ok(Some(c)) if is_xml_char(c) => c.encode_utf8(&mut utf8_buf),
                Ok(Some(_)) => {
                    return Err(Fault::not_well_formed(
                        at,
                        "character reference to a character that XML does not allow",
                    ));
                }
                _ => return Err(Fault::not_well_formed(at, "malformed character reference")),
            }
        } else {
            let name = std::str::from_utf8(reference).unwrap_or_default();
            predefined_entity(name).ok_or(Fault::new(at, FaultKind::Entity))?
        };
        self.header.text(resolved);
        Ok(Flow::Continue)
    }

    /// Comments and processing instructions: no limits beyond the input's, but their
    /// characters must be legal too.
    fn markup_text(&mut self, content: &[u8], at: u64, what: &str) -> Result<Flow, Fault> {
        self.text_run = 0;
        let text = utf8(content, at, what)?;
        check_chars(text, at, what)?;
        Ok(Flow::Continue)
    }

    fn processing_instruction(
        &mut self,
        pi: &quick_xml::events::BytesPI<'_>,
        at: u64,
    ) -> Result<Flow, Fault> {
        // The target is a name without colon; `xml` in any case is reserved (a misplaced
        // or misspelt declaration ends up here).
        let target = std::str::from_utf8(pi.target()).unwrap_or_default();
        if !is_qname(target) || target.contains(':') || target.eq_ignore_ascii_case("xml") {
            return Err(Fault::not_well_formed(
                at,
                "malformed processing instruction or misplaced XML declaration",
            ));
        }
        self.markup_text(pi, at, "processing instruction")
    }

    fn declaration(
        &mut self,
        decl: &quick_xml::events::BytesDecl<'_>,
        at: u64,
    ) -> Result<Flow, Fault> {
        if self.seen_any_event {
            return Err(Fault::not_well_formed(
                at,
                "the XML declaration must be at the very start of the document",
            ));
        }
        let declaration = parse_declaration(decl).map_err(|problem| {
            Fault::not_well_formed(at, format!("the XML declaration {problem}"))
        })?;
        if let Some(label) = declaration.encoding {
            let utf8 = ["utf-8", "utf8", "us-ascii", "ascii"]
                .iter()
                .any(|ok| label.eq_ignore_ascii_case(ok));
            if !utf8 {
                return Err(Fault::new(at, FaultKind::Encoding(encoding_label(label))));
            }
        }
        Ok(Flow::Continue)
    }

    fn eof(&self, at: u64) -> Result<(), Fault> {
        if let Some(open) = self.open.last() {
            return Err(Fault::not_well_formed(
                at,
                format!(
                    "the document ends before element <{}> is closed (truncated?)",
                    display_name(open)
                ),
            ));
        }
        if !self.root_closed {
            return Err(Fault::new(at, FaultKind::Empty));
        }
        Ok(())
    }

    fn check_name(&self, name: &[u8], at: u64, what: &str) -> Result<(), Fault> {
        if name.len() > self.limits.max_name_len {
            return Err(Fault::new(at, FaultKind::NameTooLong));
        }
        if !std::str::from_utf8(name).is_ok_and(is_qname) {
            return Err(Fault::not_well_formed(
                at,
                format!("invalid {what} name {}", display_name(name)),
            ));
        }
        Ok(())
    }

    /// Adds to the length of the current text node and enforces `max_text_len`.
    fn count_text(&mut self, len: usize, at: u64) -> Result<(), Fault> {
        if self.text_run == 0 {
            self.text_run_start = at;
        }
        self.text_run = self.text_run.saturating_add(len as u64);
        if self.text_run > self.limits.max_text_len as u64 {
            return Err(Fault::new(self.text_run_start, FaultKind::TextTooLong));
        }
        Ok(())
    }
}

impl Flow {
    /// `HeaderDone` wins: once the header is complete it stays complete.
    fn max_flow(self, other: Flow) -> Flow {
        if self == Flow::HeaderDone || other == Flow::HeaderDone {
            Flow::HeaderDone
        } else {
            Flow::Continue
        }
    }
}

/// The five entities XML predefines; everything else is refused.
fn predefined_entity(name: &str) -> Option<&'static str> {
    match name {
        "lt" => Some("<"),
        "gt" => Some(">"),
        "amp" => Some("&"),
        "apos" => Some("'"),
        "quot" => Some("\""),
        _ => None,
    }
}

fn utf8<'a>(bytes: &'a [u8], at: u64, what: &str) -> Result<&'a str, Fault> {
    std::str::from_utf8(bytes).map_err(|e| {
        Fault::not_well_formed(
            at + e.valid_up_to() as u64,
            format!("{what} is not valid UTF-8"),
        )
    })
}

fn check_chars(text: &str, at: u64, what: &str) -> Result<(), Fault> {
    match find_illegal_char(text) {
        Some((i, char_kind)) => Err(Fault::not_well_formed(
            at + i as u64,
            format!("{what} contains {char_kind}"),
        )),
        None => Ok(()),
    }
}
