//! The read-only tree a mapping is evaluated against.
//!
//! A message is first checked by the crate's hardened reader ([`crate::inspect`]: no
//! DTDs, no entities beyond the predefined five, size/depth/name/text limits), and only
//! then turned into this tree with quick-xml. The tree is deliberately small: one flat
//! array of nodes in document order (pre-order), each knowing its parent and where its
//! subtree ends. Document order is then just the index, a subtree is an index range, and
//! no evaluation needs recursion over the tree, however deep the message is.
//!
//! Names are kept as local names only (the mapping language matches by local name).

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::{Limits, SniffError, Sniffed, inspect};

/// Index of a node in [`Document::nodes`]; 0 is the document node.
pub(crate) type NodeId = u32;

/// A parsed message.
///
/// All names and text live in one string arena and all attributes in one array, so that
/// building the tree costs a handful of allocations, not several per element.
#[derive(Debug)]
pub(crate) struct Document {
    nodes: Vec<Node>,
    attributes: Vec<Attribute>,
    strings: String,
}

#[derive(Debug)]
struct Node {
    kind: NodeKind,
    parent: NodeId,
    /// One past the last node of this node's subtree.
    end: NodeId,
}

/// A piece of [`Document::strings`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

#[derive(Debug)]
enum NodeKind {
    Document,
    Element {
        local: Span,
        /// Range in [`Document::attributes`].
        attributes: (usize, usize),
    },
    Text(Span),
}

#[derive(Debug)]
struct Attribute {
    local: Span,
    value: Span,
}

/// Something a path can select: a node, or the `index`-th attribute of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeRef {
    Node(NodeId),
    Attribute(NodeId, u32),
}

impl NodeRef {
    /// Sort key in document order: an element's attributes come after the element and
    /// before its first child.
    fn order_key(self) -> (NodeId, u64) {
        match self {
            NodeRef::Node(id) => (id, 0),
            NodeRef::Attribute(id, index) => (id, u64::from(index) + 1),
        }
    }
}

impl Ord for NodeRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order_key().cmp(&other.order_key())
    }
}

impl PartialOrd for NodeRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Why a document could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The hardened reader refused it.
    Refused(SniffError),
    /// quick-xml failed after `inspect` had accepted the document; should not happen, but
    /// is reported rather than trusted.
    Internal { offset: u64 },
}

impl Document {
    /// Checks `xml` with [`inspect`] under `limits`, then builds the tree.
    pub(crate) fn parse(xml: &[u8], limits: &Limits) -> Result<(Document, Sniffed), ReadError> {
        let sniffed = inspect(xml, limits).map_err(ReadError::Refused)?;
        let document = build(xml).map_err(|offset| ReadError::Internal { offset })?;
        Ok((document, sniffed))
    }

    /// The document node (parent of the root element).
    pub(crate) const ROOT: NodeRef = NodeRef::Node(0);

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The root element, if there is one.
    pub(crate) fn root_element(&self) -> Option<NodeRef> {
        self.children(0)
            .find(|&id| self.is_element(id))
            .map(NodeRef::Node)
    }

    pub(crate) fn is_element(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, NodeKind::Element { .. })
    }

    pub(crate) fn is_text(&self, id: NodeId) -> bool {
        matches!(self.node(id).kind, NodeKind::Text(_))
    }

    /// The local name of an element, `None` for other nodes.
    pub(crate) fn local_name(&self, id: NodeId) -> Option<&str> {
        match self.node(id).kind {
            NodeKind::Element { local, .. } => Some(self.str(local)),
            _ => None,
        }
    }

    fn str(&self, span: Span) -> &str {
        &self.strings[span.start..span.end]
    }

    fn element_attributes(&self, id: NodeId) -> &[Attribute] {
        match self.node(id).kind {
            NodeKind::Element {
                attributes: (start, end),
                ..
            } => &self.attributes[start..end],
            _ => &[],
        }
    }

    /// The parent of `id`; `None` for the document node.
    pub(crate) fn parent(&self, id: NodeId) -> Option<NodeId> {
        (id != 0).then(|| self.node(id).parent)
    }

    /// One past the last node of the subtree rooted at `id`.
    pub(crate) fn subtree_end(&self, id: NodeId) -> NodeId {
        self.node(id).end
    }

    /// The children of `id`, in document order.
    pub(crate) fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.node(id).end;
        let mut next = id + 1;
        std::iter::from_fn(move || {
            if next >= end {
                return None;
            }
            let child = next;
            next = self.node(child).end;
            Some(child)
        })
    }

    /// `(index, local name)` of the attributes of `id`, namespace declarations excluded.
    pub(crate) fn attributes(&self, id: NodeId) -> impl Iterator<Item = (u32, &str)> + '_ {
        self.element_attributes(id)
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u32, self.str(a.local)))
    }

    /// The XPath string value: an attribute's value, a text node's text, or the
    /// concatenated text of all descendants of an element or the document.
    pub(crate) fn string_value(&self, node: NodeRef) -> String {
        match node {
            NodeRef::Attribute(id, index) => self
                .element_attributes(id)
                .get(index as usize)
                .map(|a| self.str(a.value).to_owned())
                .unwrap_or_default(),
            NodeRef::Node(id) => {
                let end = self.node(id).end;
                let mut value = String::new();
                for node in &self.nodes[id as usize..end as usize] {
                    if let NodeKind::Text(text) = node.kind {
                        value.push_str(self.str(text));
                    }
                }
                value
            }
        }
    }
}

/// Builds the tree from a document that [`inspect`] has accepted; returns the byte
/// offset where quick-xml failed otherwise.
fn build(xml: &[u8]) -> Result<Document, u64> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.expand_empty_elements = false;
    config.trim_text(false);
    config.check_end_names = true;

    let mut doc = Document {
        nodes: vec![Node {
            kind: NodeKind::Document,
            parent: 0,
            end: 0,
        }],
        attributes: Vec::new(),
        // Names and text are a good part of the input, markup the rest.
        strings: String::with_capacity(xml.len() / 2),
    };
    let mut open: Vec<NodeId> = vec![0];
    // Start of the text node being collected (text, CDATA and references in a row).
    let mut text_start = 0;
    let fail = |reader: &Reader<&[u8]>| reader.buffer_position();

    loop {
        let event = reader.read_event().map_err(|_| fail(&reader))?;
        let markup = matches!(
            event,
            Event::Start(_) | Event::Empty(_) | Event::End(_) | Event::Eof
        );
        if markup {
            doc.flush_text(&open, text_start);
        }
        let second_root = open.len() == 1 && doc.nodes.len() > 1;
        match event {
            // `inspect` refuses a second root element; this is a second line of defence.
            Event::Start(_) | Event::Empty(_) if second_root => return Err(fail(&reader)),
            Event::Start(tag) => {
                let id = doc.push_element(&open, &tag).ok_or_else(|| fail(&reader))?;
                open.push(id);
            }
            Event::Empty(tag) => {
                let id = doc.push_element(&open, &tag).ok_or_else(|| fail(&reader))?;
                doc.nodes[id as usize].end = id.saturating_add(1);
            }
            Event::End(_) => {
                let id = open.pop().ok_or_else(|| fail(&reader))?;
                if open.is_empty() {
                    return Err(fail(&reader));
                }
                doc.nodes[id as usize].end = node_count(&doc.nodes);
            }
            Event::Text(t) if open.len() > 1 => {
                doc.strings
                    .push_str(&t.xml10_content().map_err(|_| fail(&reader))?);
            }
            Event::CData(t) if open.len() > 1 => {
                doc.strings
                    .push_str(&t.xml10_content().map_err(|_| fail(&reader))?);
            }
            Event::GeneralRef(r) if open.len() > 1 => {
                if r.is_char_ref() {
                    let c = r
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .ok_or_else(|| fail(&reader))?;
                    doc.strings.push(c);
                } else {
                    let name = std::str::from_utf8(&r).map_err(|_| fail(&reader))?;
                    doc.strings
                        .push_str(predefined_entity(name).ok_or_else(|| fail(&reader))?);
                }
            }
            Event::Eof => break,
            // Prolog, comments, processing instructions, white space outside the root.
            _ => {}
        }
        if markup {
            // Element names were added to the arena; the next text starts after them.
            text_start = doc.strings.len();
        }
    }
    if open.len() != 1 || doc.nodes.len() < 2 {
        return Err(fail(&reader));
    }
    doc.nodes[0].end = node_count(&doc.nodes);
    Ok(doc)
}

fn node_count(nodes: &[Node]) -> NodeId {
    // `inspect` caps the document at `max_bytes`; every node costs at least one byte of
    // markup, so a document that fits in memory fits in u32 nodes unless max_bytes is
    // raised above 4 GiB. Saturate rather than wrap in that case.
    NodeId::try_from(nodes.len()).unwrap_or(NodeId::MAX)
}

impl Document {
    /// Ends the text node that started at `text_start` in the arena, if it has any text.
    fn flush_text(&mut self, open: &[NodeId], text_start: usize) {
        if self.strings.len() == text_start {
            return;
        }
        let id = node_count(&self.nodes);
        self.nodes.push(Node {
            kind: NodeKind::Text(Span {
                start: text_start,
                end: self.strings.len(),
            }),
            parent: *open.last().unwrap_or(&0),
            end: id.saturating_add(1),
        });
    }

    fn push_str(&mut self, text: &str) -> Span {
        let start = self.strings.len();
        self.strings.push_str(text);
        Span {
            start,
            end: self.strings.len(),
        }
    }

    fn push_element(&mut self, open: &[NodeId], tag: &BytesStart<'_>) -> Option<NodeId> {
        let local = std::str::from_utf8(tag.local_name().into_inner()).ok()?;
        let local = self.push_str(local);
        let first_attribute = self.attributes.len();
        for attribute in tag.attributes() {
            let attribute = attribute.ok()?;
            let key = attribute.key.into_inner();
            if key == b"xmlns" || key.starts_with(b"xmlns:") {
                continue;
            }
            let name = std::str::from_utf8(attribute.key.local_name().into_inner()).ok()?;
            let name = self.push_str(name);
            let raw = std::str::from_utf8(&attribute.value).ok()?;
            // Attribute-value normalisation (XML 1.0 §3.3.3): literal white space becomes
            // a space; character references are kept as written.
            let normalized: std::borrow::Cow<'_, str> = if raw.contains(['\t', '\n', '\r']) {
                raw.replace(['\t', '\n', '\r'], " ").into()
            } else {
                raw.into()
            };
            let value = if normalized.contains('&') {
                let unescaped =
                    quick_xml::escape::unescape_with(&normalized, predefined_entity).ok()?;
                self.push_str(&unescaped)
            } else {
                self.push_str(&normalized)
            };
            self.attributes.push(Attribute { local: name, value });
        }
        let id = node_count(&self.nodes);
        self.nodes.push(Node {
            kind: NodeKind::Element {
                local,
                attributes: (first_attribute, self.attributes.len()),
            },
            parent: *open.last()?,
            end: id.saturating_add(1),
        });
        Some(id)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(xml: &str) -> Document {
        Document::parse(xml.as_bytes(), &Limits::default())
            .unwrap()
            .0
    }

    #[test]
    fn builds_preorder_with_subtree_ends() {
        let d =
            doc("<p:a xmlns:p='urn:p' k='v'><b>x<c/>y</b><d>&amp;&#x41;<![CDATA[<z>]]></d></p:a>");
        let root = d.root_element().unwrap();
        assert_eq!(root, NodeRef::Node(1));
        assert_eq!(d.local_name(1), Some("a"));
        assert_eq!(d.attributes(1).collect::<Vec<_>>(), vec![(0, "k")]);
        assert_eq!(d.string_value(NodeRef::Attribute(1, 0)), "v");
        assert_eq!(d.string_value(root), "xy&A<z>");
        let children: Vec<_> = d.children(1).collect();
        assert_eq!(children.len(), 2);
        let b = children[0];
        assert_eq!(d.children(b).count(), 3);
        assert_eq!(d.string_value(NodeRef::Node(b)), "xy");
        assert_eq!(d.subtree_end(0) as usize, d.nodes.len());
    }

    #[test]
    fn attribute_values_are_normalised_and_unescaped() {
        let d = doc("<a k=\"x\ny&amp;&#10;z\"/>");
        assert_eq!(d.string_value(NodeRef::Attribute(1, 0)), "x y&\nz");
    }

    #[test]
    fn hostile_input_is_refused_before_building() {
        let xxe = br#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert!(matches!(
            Document::parse(xxe, &Limits::default()),
            Err(ReadError::Refused(SniffError::DoctypeRefused { .. }))
        ));
    }
}
