//! XML for SOAP messages: a hardened reader that turns one document into a small tree of
//! namespace-resolved elements, the sequence cursor with which every XTA type is decoded from
//! that tree (checking element order and required parts, so that malformed requests become
//! schema-violation faults), and a thin writer over `quick_xml::Writer`.
//!
//! Hardening: documents come from the network. No DTD is accepted (`<!DOCTYPE` is an error, so
//! there are no entity definitions and no external entities); only the five predefined entities
//! and character references are resolved; the encoding must be UTF-8; nesting depth, element
//! count and attributes per element are limited ([`XmlLimits`]); the caller limits the size.
//! Text is borrowed from the input where possible, so a 50 MB base64 text node is not copied
//! before it is decoded.
//!
//! Errors ([`XmlError`], [`Malformed`]) name elements, attributes and byte offsets, never the
//! values: values can be personal data.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use quick_xml::Writer;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// Limits applied while reading a document (besides the size, which the caller limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Deepest element nesting accepted.
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
    /// Most attributes on one element.
    pub max_attributes: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 64,
            max_elements: 500_000,
            max_attributes: 64,
        }
    }
}

/// The document is not well-formed, uses a forbidden feature, or exceeds a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML at byte {offset}: {reason}")]
pub struct XmlError {
    /// Byte offset in the document where reading stopped.
    pub offset: u64,
    /// What is wrong (never quotes content).
    pub reason: String,
}

/// A well-formed document that does not have the structure its schema prescribes: a missing
/// or unexpected element, a missing attribute, a value of the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Malformed {
    /// Where, as a path of local names (`/Envelope/Body/MsgBoxStatusListRequest/@maxListItems`).
    pub path: String,
    /// What is wrong (never quotes content).
    pub reason: String,
}

impl Malformed {
    /// A structural error at `path`.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// An attribute with its namespace resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI (`None` for unprefixed attributes).
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Value, entities resolved.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    /// A child element.
    Element(Element<'a>),
    /// Character data (adjacent text, CDATA and references merged).
    Text(Cow<'a, str>),
}

/// An element with its namespace resolved; text borrowed from the input where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element<'a> {
    /// Namespace URI (`None` if the element is in no namespace).
    pub ns: Option<String>,
    /// Local name.
    pub local: String,
    /// Attributes, namespace declarations excluded.
    pub attrs: Vec<Attribute>,
    /// Children in document order.
    pub children: Vec<Node<'a>>,
    /// Byte offset of the start tag in the input.
    pub offset: u64,
    /// Byte offset just after the end tag in the input.
    pub end_offset: u64,
}

impl<'a> Element<'a> {
    /// `true` if the element has this namespace and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.local == local && self.ns.as_deref() == Some(ns)
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element<'a>> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element<'a>> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// An unqualified attribute.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_none() && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// A namespace-qualified attribute.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == Some(ns) && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// The character data of the element (its text children concatenated).
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(t),
            Node::Element(_) => None,
        });
        match (texts.next(), texts.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(one), None) => Cow::Borrowed(one.as_ref()),
            (Some(a), Some(b)) => {
                let mut s = String::from(a.as_ref());
                s.push_str(b);
                for t in texts {
                    s.push_str(t);
                }
                Cow::Owned(s)
            }
        }
    }

    /// The text of an element that must not have child elements.
    pub fn leaf_text(&self, path: &str) -> Result<Cow<'_, str>, Malformed> {
        if self.elements().next().is_some() {
            return Err(Malformed::new(path, "must contain text only"));
        }
        Ok(self.text())
    }

    /// A cursor over the child elements for decoding an `xs:sequence`. Non-blank text between
    /// child elements is an error (element-only content).
    pub fn seq<'e>(&'e self, path: &'e str) -> Result<Seq<'e, 'a>, Malformed> {
        for n in &self.children {
            if let Node::Text(t) = n
                && !t.trim().is_empty()
            {
                return Err(Malformed::new(
                    path,
                    "unexpected text in element-only content",
                ));
            }
        }
        Ok(Seq {
            items: self.elements().collect(),
            pos: 0,
            path,
        })
    }

    /// A required unqualified attribute.
    pub fn required_attr(&self, path: &str, local: &str) -> Result<&str, Malformed> {
        self.attr(local)
            .ok_or_else(|| Malformed::new(format!("{path}/@{local}"), "required attribute missing"))
    }
}

/// Decodes an `xs:sequence` of child elements in order: each step takes the next element if
/// it has the expected name; [`Seq::finish`] rejects whatever is left.
pub struct Seq<'e, 'a> {
    items: Vec<&'e Element<'a>>,
    pos: usize,
    path: &'e str,
}

impl<'e, 'a> Seq<'e, 'a> {
    /// The next element, if it is `ns:local`.
    pub fn optional(&mut self, ns: &str, local: &str) -> Option<&'e Element<'a>> {
        match self.items.get(self.pos) {
            Some(e) if e.is(ns, local) => {
                self.pos += 1;
                Some(e)
            }
            _ => None,
        }
    }

    /// The next element, which must be `ns:local`.
    pub fn required(&mut self, ns: &str, local: &str) -> Result<&'e Element<'a>, Malformed> {
        self.optional(ns, local)
            .ok_or_else(|| match self.items.get(self.pos) {
                Some(other) => Malformed::new(
                    format!("{}/{}", self.path, other.local),
                    format!("unexpected element; expected {local}"),
                ),
                None => {
                    Malformed::new(format!("{}/{local}", self.path), "required element missing")
                }
            })
    }

    /// All following elements named `ns:local`.
    pub fn many(&mut self, ns: &str, local: &str) -> Vec<&'e Element<'a>> {
        let mut out = Vec::new();
        while let Some(e) = self.optional(ns, local) {
            out.push(e);
        }
        out
    }

    /// Skips following elements named `ns:local` (allowed by the schema, not used by us).
    pub fn skip(&mut self, ns: &str, local: &str) {
        while self.optional(ns, local).is_some() {}
    }

    /// The next element whatever its name (for `xs:choice`).
    pub fn peek(&self) -> Option<&'e Element<'a>> {
        self.items.get(self.pos).copied()
    }

    /// Everything was consumed.
    pub fn finish(self) -> Result<(), Malformed> {
        match self.items.get(self.pos) {
            None => Ok(()),
            Some(e) => Err(Malformed::new(
                format!("{}/{}", self.path, e.local),
                "unexpected element",
            )),
        }
    }
}

/// Parses a value of an XSD number type.
pub fn parse_number<T: std::str::FromStr>(path: &str, text: &str) -> Result<T, Malformed> {
    text.trim()
        .parse()
        .map_err(|_| Malformed::new(path, "not a valid number"))
}

/// Parses an `xs:boolean`.
pub fn parse_bool(path: &str, text: &str) -> Result<bool, Malformed> {
    match text.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Malformed::new(path, "not a valid xs:boolean")),
    }
}

/// Decodes `xs:base64Binary` (whitespace allowed anywhere, as in line-wrapped base64).
pub fn decode_base64(path: &str, text: &str) -> Result<Vec<u8>, Malformed> {
    let engine = base64::engine::general_purpose::STANDARD;
    if !text.bytes().any(|b| b.is_ascii_whitespace()) {
        return engine
            .decode(text)
            .map_err(|_| Malformed::new(path, "not valid base64"));
    }
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    engine
        .decode(compact)
        .map_err(|_| Malformed::new(path, "not valid base64"))
}

/// Reads one document into an [`Element`] tree.
pub fn parse<'a>(xml: &'a [u8], limits: &XmlLimits) -> Result<Element<'a>, XmlError> {
    let mut reader = NsReader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<(Element<'_>, TextBuf<'_>)> = Vec::new();
    let mut root: Option<Element<'_>> = None;
    let mut count = 0usize;
    loop {
        let at = reader.buffer_position();
        let fail = |reason: String| XmlError { offset: at, reason };
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| fail(format!("not well-formed: {e}")))?;
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(fail("content after the root element".into()));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(fail(format!("more than {} elements", limits.max_elements)));
                }
                if stack.len() >= limits.max_depth {
                    return Err(fail(format!(
                        "nested deeper than {} elements",
                        limits.max_depth
                    )));
                }
                let ns = namespace(&ns).map_err(fail)?;
                let element = element(&reader, start, ns, at, limits).map_err(fail)?;
                if let Some((parent, text)) = stack.last_mut() {
                    text.flush(&mut parent.children);
                }
                if matches!(event, Event::Empty(_)) {
                    let mut element = element;
                    element.end_offset = reader.buffer_position();
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push((element, TextBuf::default()));
                }
            }
            Event::End(_) => {
                let (mut element, mut text) = stack
                    .pop()
                    .ok_or_else(|| fail("end tag without start tag".into()))?;
                text.flush(&mut element.children);
                element.end_offset = reader.buffer_position();
                attach(&mut stack, &mut root, element);
            }
            Event::Text(t) => {
                let text = t
                    .xml10_content()
                    .map_err(|_| fail("text is not valid UTF-8".into()))?;
                match stack.last_mut() {
                    Some((_, buf)) => buf.push(text),
                    None if text.trim().is_empty() => {}
                    None => return Err(fail("text outside the root element".into())),
                }
            }
            Event::CData(c) => {
                let text = c
                    .decode()
                    .map_err(|_| fail("CDATA is not valid UTF-8".into()))?;
                match stack.last_mut() {
                    Some((_, buf)) => buf.push(text),
                    None => return Err(fail("CDATA outside the root element".into())),
                }
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| fail("invalid character reference".into()))?;
                    Cow::Owned(c.to_string())
                } else {
                    let name = std::str::from_utf8(&r)
                        .map_err(|_| fail("invalid entity reference".into()))?;
                    Cow::Borrowed(resolve_predefined_entity(name).ok_or_else(|| {
                        fail("reference to an undefined entity (DTDs are not accepted)".into())
                    })?)
                };
                match stack.last_mut() {
                    Some((_, buf)) => buf.push(resolved),
                    None => return Err(fail("reference outside the root element".into())),
                }
            }
            Event::DocType(_) => {
                return Err(fail(
                    "a DOCTYPE is not accepted (no DTDs, no entities)".into(),
                ));
            }
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
                    if encoding != "utf-8" && encoding != "utf8" {
                        return Err(fail("only UTF-8 is accepted".into()));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                return match root {
                    Some(r) if stack.is_empty() => Ok(r),
                    _ => Err(fail(
                        "document ends before the root element is closed".into(),
                    )),
                };
            }
        }
    }
}

/// Pieces of text of the currently open element, merged when the next element or the end
/// tag arrives. One piece stays borrowed from the input.
#[derive(Default)]
struct TextBuf<'a> {
    pieces: Vec<Cow<'a, str>>,
}

impl<'a> TextBuf<'a> {
    fn push(&mut self, piece: Cow<'a, str>) {
        if !piece.is_empty() {
            self.pieces.push(piece);
        }
    }

    fn flush(&mut self, children: &mut Vec<Node<'a>>) {
        match self.pieces.len() {
            0 => {}
            1 => children.push(Node::Text(self.pieces.pop().unwrap_or_default())),
            _ => {
                let joined: String = self.pieces.drain(..).collect();
                children.push(Node::Text(Cow::Owned(joined)));
            }
        }
    }
}

fn attach<'a>(
    stack: &mut [(Element<'a>, TextBuf<'a>)],
    root: &mut Option<Element<'a>>,
    element: Element<'a>,
) {
    match stack.last_mut() {
        Some((parent, _)) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

fn namespace(ns: &ResolveResult<'_>) -> Result<Option<String>, String> {
    match ns {
        ResolveResult::Bound(n) => Ok(Some(String::from_utf8_lossy(n.as_ref()).into_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err("undeclared namespace prefix".into()),
    }
}

fn element<'a>(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    ns: Option<String>,
    offset: u64,
    limits: &XmlLimits,
) -> Result<Element<'a>, String> {
    let local = std::str::from_utf8(start.local_name().as_ref())
        .map_err(|_| "element name is not valid UTF-8".to_string())?
        .to_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("malformed attribute on {local}: {e}"))?;
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        if attrs.len() >= limits.max_attributes {
            return Err(format!(
                "more than {} attributes on {local}",
                limits.max_attributes
            ));
        }
        let (ans, alocal) = reader.resolve_attribute(attr.key);
        let ans = namespace(&ans)?;
        let alocal = std::str::from_utf8(alocal.as_ref())
            .map_err(|_| "attribute name is not valid UTF-8".to_string())?
            .to_owned();
        let value = attr
            .decode_and_unescape_value(reader.decoder())
            .map_err(|_| format!("attribute {alocal} on {local}: invalid value or entity"))?
            .into_owned();
        attrs.push(Attribute {
            ns: ans,
            local: alocal,
            value,
        });
    }
    Ok(Element {
        ns,
        local,
        attrs,
        children: Vec::new(),
        offset,
        end_offset: offset,
    })
}

/// Writes XML with the prefixes the whole crate uses (declared once on the envelope).
pub struct XmlWriter {
    writer: Writer<Vec<u8>>,
}

impl fmt::Debug for XmlWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XmlWriter")
            .field("len", &self.writer.get_ref().len())
            .finish()
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        XmlWriter {
            writer: Writer::new(Vec::with_capacity(4096)),
        }
    }

    /// The XML declaration.
    pub fn declaration(&mut self) {
        self.raw(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    }

    /// `<name attrs...>`.
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        // Writing into a Vec cannot fail.
        let _ = self.writer.write_event(Event::Start(start));
    }

    /// `<name attrs.../>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let start = BytesStart::new(name).with_attributes(attrs.iter().copied());
        let _ = self.writer.write_event(Event::Empty(start));
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) {
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
    }

    /// Escaped character data.
    pub fn text(&mut self, text: &str) {
        let _ = self.writer.write_event(Event::Text(BytesText::new(text)));
    }

    /// `<name attrs...>text</name>`.
    pub fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.text(text);
        self.end(name);
    }

    /// `<name>text</name>` if `text` is set.
    pub fn optional_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, &[], text);
        }
    }

    /// Base64 of `data` as character data, encoded straight into the output buffer.
    pub fn base64(&mut self, data: &[u8]) {
        let engine = base64::engine::general_purpose::STANDARD;
        let buf = self.writer.get_mut();
        let start = buf.len();
        buf.resize(
            start + base64::encoded_len(data.len(), true).unwrap_or(0),
            0,
        );
        let written = engine.encode_slice(data, &mut buf[start..]).unwrap_or(0);
        buf.truncate(start + written);
    }

    /// Bytes that are already XML.
    pub fn raw(&mut self, xml: &[u8]) {
        self.writer.get_mut().extend_from_slice(xml);
    }

    /// The document.
    pub fn into_inner(self) -> Vec<u8> {
        self.writer.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(xml: &str) -> Result<Element<'_>, XmlError> {
        parse(xml.as_bytes(), &XmlLimits::default())
    }

    #[test]
    fn resolves_namespaces_attributes_and_references() {
        let root = doc(r#"<?xml version="1.0" encoding="UTF-8"?>
            <a:r xmlns:a="urn:a" xmlns:b="urn:b" b:q="1" p="x &amp; y">
              <b:c>one &lt;two&gt; &#x41;<![CDATA[<raw>]]></b:c><d/>
            </a:r>"#)
        .unwrap();
        assert!(root.is("urn:a", "r"));
        assert_eq!(root.attr("p"), Some("x & y"));
        assert_eq!(root.attr_ns("urn:b", "q"), Some("1"));
        let c = root.child("urn:b", "c").unwrap();
        assert_eq!(c.text(), "one <two> A<raw>");
        assert_eq!(root.elements().nth(1).unwrap().ns, None);
    }

    #[test]
    fn large_text_stays_borrowed() {
        let xml = format!("<r>{}</r>", "QUJD".repeat(1000));
        let root = doc(&xml).unwrap();
        assert!(matches!(&root.children[0], Node::Text(Cow::Borrowed(_))));
        assert_eq!(decode_base64("/r", &root.text()).unwrap().len(), 3000);
    }

    #[test]
    fn refuses_dtds_entities_depth_and_other_encodings() {
        let billion = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>"#;
        assert!(doc(billion).unwrap_err().reason.contains("DOCTYPE"));
        assert!(
            doc("<r>&a;</r>")
                .unwrap_err()
                .reason
                .contains("undefined entity")
        );
        let deep = "<a>".repeat(70) + &"</a>".repeat(70);
        assert!(doc(&deep).unwrap_err().reason.contains("deeper"));
        let latin = r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#;
        assert!(doc(latin).unwrap_err().reason.contains("UTF-8"));
        assert!(doc("<x:r/>").unwrap_err().reason.contains("prefix"));
        assert!(doc("<r></s>").is_err());
        assert!(doc("<r/><r/>").is_err());
        assert!(doc("<r>").is_err());
    }

    #[test]
    fn sequences_are_checked_in_order() {
        let root = doc(r#"<r xmlns="urn:a"><a/><b/><b/><c/></r>"#).unwrap();
        let mut seq = root.seq("/r").unwrap();
        assert!(seq.optional("urn:a", "x").is_none());
        seq.required("urn:a", "a").unwrap();
        assert_eq!(seq.many("urn:a", "b").len(), 2);
        let err = seq.finish().unwrap_err();
        assert_eq!(err.path, "/r/c");
        let mut seq = root.seq("/r").unwrap();
        let err = seq.required("urn:a", "b").unwrap_err();
        assert_eq!(err.reason, "unexpected element; expected b");
    }

    #[test]
    fn writer_escapes_and_encodes() {
        let mut w = XmlWriter::new();
        w.start("a", &[("v", "1 < 2 \"q\"")]);
        w.text("x & y");
        w.base64(b"hello");
        w.end("a");
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(out, "<a v=\"1 &lt; 2 &quot;q&quot;\">x &amp; yaGVsbG8=</a>");
    }
}
