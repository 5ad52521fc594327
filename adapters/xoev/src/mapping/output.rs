//! The mapped document, before it is written as JSON or XML.
//!
//! Members keep the order of the fields in the mapping file, so what a municipality sees
//! in `amtsbote mapping test` reads like its mapping, and XML output follows the order a
//! target schema's `xs:sequence` expects. (`serde_json::Value` sorts keys, so it is only
//! used at the edge, by [`Output::to_json`].)

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use crate::Sniffed;

/// What a mapping produces: JSON (the default) or XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// A JSON document (`application/json`).
    Json,
    /// An XML document (`application/xml`); see the mapping language documentation for
    /// how targets become elements and attributes.
    Xml,
}

/// One value in the mapped document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A string, number, boolean or null, or a constant of any JSON shape.
    Value(Value),
    Array(Vec<Out>),
    Object(Object),
}

/// An object with members in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Object(Vec<(String, Out)>);

impl Object {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets the member at the dotted `path`, creating objects on the way. A value
    /// replaces what was there; an object is merged into an existing object.
    pub(crate) fn insert(&mut self, path: &[String], value: Out) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        let position = self.0.iter().position(|(k, _)| k == first);
        if rest.is_empty() {
            match (position, value) {
                (Some(i), Out::Object(new)) => {
                    if let Out::Object(existing) = &mut self.0[i].1 {
                        for (key, member) in new.0 {
                            existing.insert(std::slice::from_ref(&key), member);
                        }
                    } else {
                        self.0[i].1 = Out::Object(new);
                    }
                }
                (Some(i), value) => self.0[i].1 = value,
                (None, value) => self.0.push((first.clone(), value)),
            }
            return;
        }
        let i = match position {
            Some(i) => i,
            None => {
                self.0.push((first.clone(), Out::Object(Object::default())));
                self.0.len() - 1
            }
        };
        if !matches!(self.0[i].1, Out::Object(_)) {
            // The compiler refuses mappings where this could happen; be safe anyway.
            self.0[i].1 = Out::Object(Object::default());
        }
        if let Out::Object(inner) = &mut self.0[i].1 {
            inner.insert(rest, value);
        }
    }
}

impl Out {
    fn to_value(&self) -> Value {
        match self {
            Out::Value(v) => v.clone(),
            Out::Array(items) => Value::Array(items.iter().map(Out::to_value).collect()),
            Out::Object(object) => object.to_value(),
        }
    }
}

impl Object {
    fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        )
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Value(v) => v.serialize(serializer),
            Out::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Object(object) => object.serialize(serializer),
        }
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The result of applying a mapping to one message.
///
/// Holds the mapped document in mapping order, plus what the sniffer found out about the
/// message and warnings (for instance, the message type does not match the mapping's).
#[derive(Debug, Clone)]
pub struct Output {
    pub(crate) format: OutputFormat,
    pub(crate) body: Object,
    /// Root element name and namespace for XML output.
    pub(crate) xml_root: Option<(String, Option<String>)>,
    pub(crate) sniffed: Sniffed,
    pub(crate) warnings: Vec<String>,
}

impl Output {
    /// The format the mapping asks for.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// `application/json` or `application/xml`.
    pub fn content_type(&self) -> &'static str {
        match self.format {
            OutputFormat::Json => "application/json",
            OutputFormat::Xml => "application/xml",
        }
    }

    /// The mapped document as a JSON value (also for XML mappings: the same tree).
    /// Object keys are sorted in a `serde_json::Value`; use [`Output::to_bytes`] for
    /// mapping order.
    pub fn to_json(&self) -> Value {
        self.body.to_value()
    }

    /// The document to deliver: compact JSON in mapping order, or an XML document.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self.format {
            OutputFormat::Json => serde_json::to_vec(&self.body).unwrap_or_default(),
            OutputFormat::Xml => self.xml(false).into_bytes(),
        }
    }

    /// The document for people: indented JSON in mapping order, or indented XML.
    pub fn to_pretty_string(&self) -> String {
        match self.format {
            OutputFormat::Json => serde_json::to_string_pretty(&self.body).unwrap_or_default(),
            OutputFormat::Xml => self.xml(true),
        }
    }

    /// What the sniffer found out about the message (standard, message type, …).
    pub fn sniffed(&self) -> &Sniffed {
        &self.sniffed
    }

    /// Things worth telling the person testing the mapping that did not stop it, e.g. a
    /// message type other than the mapping's `message_type`. Never message content.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn xml(&self, pretty: bool) -> String {
        let (root, namespace) = self
            .xml_root
            .clone()
            .unwrap_or_else(|| ("document".to_owned(), None));
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        if pretty {
            out.push('\n');
        }
        let namespace = namespace.map(|ns| format!(" xmlns=\"{}\"", escape(&ns, true)));
        write_element(
            &mut out,
            &root,
            &Out::Object(self.body.clone()),
            namespace.as_deref().unwrap_or(""),
            pretty.then_some(0),
        );
        if pretty {
            out.push('\n');
        }
        out
    }
}

/// Writes `value` as element(s) named `name`: arrays repeat the element, objects become
/// children (`@x` members attributes, `#text` the element's text), scalars text.
fn write_element(out: &mut String, name: &str, value: &Out, extra: &str, indent: Option<usize>) {
    let newline = |out: &mut String, level: usize| {
        if indent.is_some() {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
        }
    };
    match value {
        Out::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    newline(out, indent.unwrap_or(0));
                }
                write_element(out, name, item, extra, indent);
            }
        }
        Out::Value(Value::Array(items)) => {
            let items: Vec<Out> = items.iter().cloned().map(Out::Value).collect();
            write_element(out, name, &Out::Array(items), extra, indent);
        }
        Out::Value(Value::Object(map)) => {
            let object = Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Out::Value(v.clone())))
                    .collect(),
            );
            write_element(out, name, &Out::Object(object), extra, indent);
        }
        Out::Value(scalar) => {
            let text = scalar_text(scalar);
            if text.is_empty() {
                let _ = write!(out, "<{name}{extra}/>");
            } else {
                let _ = write!(out, "<{name}{extra}>{}</{name}>", escape(&text, false));
            }
        }
        Out::Object(object) => {
            let _ = write!(out, "<{name}{extra}");
            for (key, member) in &object.0 {
                if let (Some(attribute), Out::Value(v)) = (key.strip_prefix('@'), member) {
                    let _ = write!(out, " {attribute}=\"{}\"", escape(&scalar_text(v), true));
                }
            }
            let children: Vec<&(String, Out)> = object
                .0
                .iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .collect();
            if children.is_empty() {
                out.push_str("/>");
                return;
            }
            out.push('>');
            let level = indent.map(|l| l + 1);
            let mut only_text = true;
            for (key, member) in children {
                if key == "#text" {
                    if let Out::Value(v) = member {
                        out.push_str(&escape(&scalar_text(v), false));
                    }
                    continue;
                }
                only_text = false;
                newline(out, level.unwrap_or(0));
                write_element(out, key, member, "", level);
            }
            if !only_text {
                newline(out, indent.unwrap_or(0));
            }
            let _ = write!(out, "</{name}>");
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Escapes a text node or an attribute value: the markup characters by quick-xml, then the
/// whitespace an XML parser would otherwise normalise away (a carriage return anywhere; a line
/// break or tab in an attribute turns into a space, XML 1.0 §3.3.3), so values arrive as mapped.
fn escape(text: &str, attribute: bool) -> String {
    let marked = if attribute {
        quick_xml::escape::escape(text)
    } else {
        quick_xml::escape::partial_escape(text)
    };
    if !marked.contains(['\r', '\n', '\t']) {
        return marked.into_owned();
    }
    let mut out = String::with_capacity(marked.len() + 8);
    for c in marked.chars() {
        match c {
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn insert_keeps_order_and_merges_objects() {
        let mut o = Object::default();
        o.insert(&path("b.x"), Out::Value(json!(1)));
        o.insert(&path("a"), Out::Value(json!("a")));
        o.insert(&path("b.y"), Out::Value(json!(2)));
        let mut group = Object::default();
        group.insert(&path("z"), Out::Value(json!(3)));
        o.insert(&path("b"), Out::Object(group));
        o.insert(&path("a"), Out::Value(json!("again")));
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"b":{"x":1,"y":2,"z":3},"a":"again"}"#
        );
    }

    #[test]
    fn xml_uses_elements_attributes_and_repeats_arrays() {
        let mut o = Object::default();
        o.insert(&path("@id"), Out::Value(json!("a<\"1\"")));
        o.insert(&path("name"), Out::Value(json!("A & B")));
        o.insert(&path("betrag.@waehrung"), Out::Value(json!("EUR")));
        o.insert(&path("betrag.#text"), Out::Value(json!(12.5)));
        o.insert(
            &path("flurstueck"),
            Out::Array(vec![Out::Value(json!("1/2")), Out::Value(json!("3"))]),
        );
        o.insert(&path("leer"), Out::Value(Value::Null));
        let output = Output {
            format: OutputFormat::Xml,
            body: o,
            xml_root: Some(("antrag".into(), Some("urn:x".into()))),
            sniffed: crate::inspect(b"<x/>", &crate::Limits::default()).unwrap(),
            warnings: Vec::new(),
        };
        assert_eq!(
            String::from_utf8(output.to_bytes()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><antrag xmlns=\"urn:x\" id=\"a&lt;&quot;1&quot;\"><name>A &amp; B</name><betrag waehrung=\"EUR\">12.5</betrag><flurstueck>1/2</flurstueck><flurstueck>3</flurstueck><leer/></antrag>"
        );
        assert!(
            output
                .to_pretty_string()
                .contains("\n  <name>A &amp; B</name>\n")
        );
        assert_eq!(output.content_type(), "application/xml");
    }
}
