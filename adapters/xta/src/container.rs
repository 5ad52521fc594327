//! `xta:GenericContentContainer`: what a message carries — exactly one `Message` (the XÖV
//! message, e.g. an xdomea or XBau document) and any number of `Attachment`s, each with its
//! MIME type (`@contentType`, mandatory), optional file name, character encoding, description
//! and size. The XSD limits the whole container to 40 MB.
//!
//! Content is `xs:base64Binary`. [`ContentContainer::write`] writes it as an MTOM part
//! (`xop:Include`) or inline base64, depending on the [`Attachments`] collector;
//! [`ContentContainer::parse`] accepts both, resolving `xop:Include` against the parts of the
//! received package. Content is held as [`Bytes`]: parts of a received package are slices of
//! the received body (not copied); inline base64 is decoded once.
//!
//! The encrypted alternative of the XSD (`xenc:EncryptedData`, end-to-end encryption by the
//! author) is recognised and refused with a clear error: decrypting needs the reader's key and
//! is the business of whoever holds it.

use bytes::Bytes;

use crate::mtom::{Attachments, ContentEncoding, Received};
use crate::wsdl::{NS_XOP, NS_XTA};
use crate::xml::{Element, Malformed, Node, XmlWriter, decode_base64, parse_number};

/// One content item (`xta:ContentType`): the message or an attachment.
#[derive(Clone, PartialEq, Eq)]
pub struct Content {
    /// The bytes.
    pub data: Bytes,
    /// `@contentType`: MIME type (`text/xml`, `application/pdf`, …). Mandatory.
    pub content_type: String,
    /// `@filename` (mandatory for xdomea).
    pub filename: Option<String>,
    /// `@encoding`: character set of the content.
    pub encoding: Option<String>,
    /// `@contentDescription`, e.g. `Antrag`.
    pub description: Option<String>,
    /// `@id`: a reference, e.g. a running number.
    pub id: Option<String>,
    /// `@lang`: language of the content.
    pub lang: Option<String>,
    /// `@size` as declared by the author (bytes).
    pub size: Option<u64>,
}

impl std::fmt::Debug for Content {
    // Content is personal data: never in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("len", &self.data.len())
            .field("content_type", &self.content_type)
            .field("filename", &self.filename.as_ref().map(|_| "…"))
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

impl Content {
    /// A content item with data and MIME type.
    pub fn new(data: impl Into<Bytes>, content_type: impl Into<String>) -> Self {
        Content {
            data: data.into(),
            content_type: content_type.into(),
            filename: None,
            encoding: None,
            description: None,
            id: None,
            lang: None,
            size: None,
        }
    }

    /// With a file name.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// With a character encoding (e.g. `UTF-8`).
    pub fn with_encoding(mut self, encoding: impl Into<String>) -> Self {
        self.encoding = Some(encoding.into());
        self
    }

    /// With a description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    fn write(&self, w: &mut XmlWriter, name: &str, attachments: &mut Attachments) {
        let size = self.size.map(|s| s.to_string());
        let mut attrs: Vec<(&str, &str)> = Vec::with_capacity(8);
        let optional = [
            ("contentDescription", self.description.as_deref()),
            ("encoding", self.encoding.as_deref()),
            ("filename", self.filename.as_deref()),
            ("id", self.id.as_deref()),
            ("lang", self.lang.as_deref()),
            ("size", size.as_deref().filter(|s| *s != "0")),
        ];
        attrs.push(("contentType", &self.content_type));
        attrs.extend(optional.iter().filter_map(|(n, v)| v.map(|v| (*n, v))));
        match attachments.encoding() {
            ContentEncoding::Mtom => {
                let cid = attachments.add(self.data.clone());
                let href = format!("cid:{cid}");
                w.start(name, &attrs);
                w.empty("xop:Include", &[("href", &href)]);
                w.end(name);
            }
            ContentEncoding::Inline => {
                w.start(name, &attrs);
                w.base64(&self.data);
                w.end(name);
            }
        }
    }

    fn parse(el: &Element<'_>, path: &str, received: &Received) -> Result<Content, Malformed> {
        let content_type = el.required_attr(path, "contentType")?;
        if content_type.is_empty() {
            return Err(Malformed::new(
                format!("{path}/@contentType"),
                "must not be empty",
            ));
        }
        let mut includes = el.elements();
        let data = match (includes.next(), includes.next()) {
            (None, _) => Bytes::from(decode_base64(path, &el.text())?),
            (Some(inc), None) if inc.is(NS_XOP, "Include") => {
                if el
                    .children
                    .iter()
                    .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()))
                {
                    return Err(Malformed::new(path, "text next to xop:Include"));
                }
                let href = inc.required_attr(&format!("{path}/Include"), "href")?;
                received.part(href).cloned().ok_or_else(|| {
                    Malformed::new(
                        format!("{path}/Include/@href"),
                        "references a MIME part that is not in the package",
                    )
                })?
            }
            (Some(other), _) => {
                return Err(Malformed::new(
                    format!("{path}/{}", other.local),
                    "unexpected element in base64 content",
                ));
            }
        };
        let non_empty = |name: &str| -> Result<Option<String>, Malformed> {
            match el.attr(name) {
                Some("") => Err(Malformed::new(
                    format!("{path}/@{name}"),
                    "must not be empty",
                )),
                other => Ok(other.map(str::to_string)),
            }
        };
        Ok(Content {
            data,
            content_type: content_type.to_string(),
            filename: non_empty("filename")?,
            encoding: non_empty("encoding")?,
            description: non_empty("contentDescription")?,
            id: non_empty("id")?,
            lang: el.attr("lang").map(str::to_string),
            size: el
                .attr("size")
                .map(|s| parse_number::<u64>(&format!("{path}/@size"), s))
                .transpose()?,
        })
    }
}

/// The content of a message: one message and its attachments
/// (`GenericContentContainer/ContentContainer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentContainer {
    /// `Message`: the primary content.
    pub message: Content,
    /// `Attachment`s.
    pub attachments: Vec<Content>,
}

impl ContentContainer {
    /// A container with a message and no attachments.
    pub fn new(message: Content) -> Self {
        ContentContainer {
            message,
            attachments: Vec::new(),
        }
    }

    /// With an attachment.
    pub fn with_attachment(mut self, attachment: Content) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Bytes of message and attachments together (what the 40 MB limit is about).
    pub fn content_bytes(&self) -> u64 {
        self.message.data.len() as u64
            + self
                .attachments
                .iter()
                .map(|a| a.data.len() as u64)
                .sum::<u64>()
    }

    /// Writes `xta:GenericContentContainer`.
    pub fn write(&self, w: &mut XmlWriter, attachments: &mut Attachments) {
        w.start("xta:GenericContentContainer", &[]);
        w.start("xta:ContentContainer", &[]);
        self.message.write(w, "xta:Message", attachments);
        for a in &self.attachments {
            a.write(w, "xta:Attachment", attachments);
        }
        w.end("xta:ContentContainer");
        w.end("xta:GenericContentContainer");
    }

    /// Reads `xta:GenericContentContainer`, resolving XOP references against `received`.
    pub fn parse(el: &Element<'_>, path: &str, received: &Received) -> Result<Self, Malformed> {
        let mut seq = el.seq(path)?;
        if let Some(first) = seq.peek()
            && first.local == "EncryptedData"
        {
            return Err(Malformed::new(
                format!("{path}/EncryptedData"),
                "end-to-end encrypted content (xenc:EncryptedData) is not supported",
            ));
        }
        let cc = seq.required(NS_XTA, "ContentContainer")?;
        seq.finish()?;
        let cc_path = format!("{path}/ContentContainer");
        let mut items = cc.seq(&cc_path)?;
        let message = Content::parse(
            items.required(NS_XTA, "Message")?,
            &format!("{cc_path}/Message"),
            received,
        )?;
        let attachments = items
            .many(NS_XTA, "Attachment")
            .into_iter()
            .enumerate()
            .map(|(i, a)| Content::parse(a, &format!("{cc_path}/Attachment[{}]", i + 1), received))
            .collect::<Result<Vec<_>, _>>()?;
        items.finish()?;
        Ok(ContentContainer {
            message,
            attachments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtom::package;
    use crate::xml::{XmlLimits, parse};

    fn sample() -> ContentContainer {
        ContentContainer::new(
            Content::new(&b"<xdomea/>"[..], "text/xml")
                .with_filename("nachricht.xml")
                .with_encoding("UTF-8"),
        )
        .with_attachment(
            Content::new(vec![0u8, 1, 2, 255], "application/pdf").with_description("Anlage"),
        )
    }

    fn round_trip(encoding: ContentEncoding) -> ContentContainer {
        let c = sample();
        let mut w = XmlWriter::new();
        let mut att = Attachments::new(encoding);
        w.start("root", &[("xmlns:xta", NS_XTA), ("xmlns:xop", NS_XOP)]);
        c.write(&mut w, &mut att);
        w.end("root");
        let body = package(w.into_inner(), att, "urn:a");
        let received = Received::from_http(&body.content_type, body.to_bytes()).unwrap();
        let root = parse(&received.root, &XmlLimits::default()).unwrap();
        let el = root.child(NS_XTA, "GenericContentContainer").unwrap();
        ContentContainer::parse(el, "/GenericContentContainer", &received).unwrap()
    }

    #[test]
    fn round_trips_inline_and_mtom() {
        assert_eq!(round_trip(ContentEncoding::Inline), sample());
        assert_eq!(round_trip(ContentEncoding::Mtom), sample());
    }

    #[test]
    fn content_type_is_mandatory_and_debug_hides_content() {
        let xml = format!(
            r#"<xta:GenericContentContainer xmlns:xta="{NS_XTA}"><xta:ContentContainer><xta:Message>aGk=</xta:Message></xta:ContentContainer></xta:GenericContentContainer>"#
        );
        let root = parse(xml.as_bytes(), &XmlLimits::default()).unwrap();
        let err = ContentContainer::parse(&root, "/G", &Received::default()).unwrap_err();
        assert_eq!(err.path, "/G/ContentContainer/Message/@contentType");
        let debug = format!("{:?}", sample());
        assert!(!debug.contains("xdomea") && !debug.contains("nachricht"));
    }
}
