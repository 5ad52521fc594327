//! `oscimeta:MessageMetaData` (OSCI_MessageMetaData_V2.02.xsd): the transport order of one
//! message — who wrote it (Author), who sent it (Sender), who is to read it (Reader), its
//! XTA MessageID, and what it is (Qualifier: DVDV service URI, business scenario, message type
//! with payload schema). The sendMessage header, the getMessage response header, the entries of
//! a status list and the heart of a transport report.
//!
//! Party identifiers are `prefix:kennung` strings such as `ags:12052000` (DVDV prefix and the
//! authority's key), with `@type` saying how to read them (`xoev` in XÖV scenarios).
//!
//! Time stamps are kept as the `xs:dateTime` text they arrived with (the XSD allows values
//! without time zone, which no Rust time type represents faithfully); [`now`] produces one.
//! Optional `oscimeta:SecurityToken`s of parties are accepted when reading and not kept.

use crate::wsdl::{NS_OSCIMETA, NS_WSA};
use crate::xml::{Element, Malformed, XmlWriter, parse_bool, parse_number};

/// The current time as `xs:dateTime` (UTC, RFC 3339).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A party identifier (`oscimeta:PartyIdentifierType`), e.g. `ags:12052000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartyIdentifier {
    /// The identifier, `prefix:kennung` in XÖV scenarios.
    pub value: String,
    /// `@type`: how to read the value (required; `xoev` for DVDV identifiers).
    pub id_type: String,
    /// `@name`: a display name.
    pub name: Option<String>,
    /// `@category`: the party's role in the scenario (e.g. `Meldebehörde`).
    pub category: Option<String>,
}

impl PartyIdentifier {
    /// An XÖV identifier (`type="xoev"`), e.g. `PartyIdentifier::xoev("ags:12052000")`.
    pub fn xoev(value: impl Into<String>) -> Self {
        PartyIdentifier {
            value: value.into(),
            id_type: "xoev".into(),
            name: None,
            category: None,
        }
    }

    fn attrs(&self) -> Vec<(&str, &str)> {
        let mut attrs = vec![("type", self.id_type.as_str())];
        if let Some(n) = &self.name {
            attrs.push(("name", n));
        }
        if let Some(c) = &self.category {
            attrs.push(("category", c));
        }
        attrs
    }

    /// Writes the identifier as element `name`.
    pub(crate) fn write(&self, w: &mut XmlWriter, name: &str) {
        w.leaf(name, &self.attrs(), &self.value);
    }

    /// Writes a `PartyType` (`oscimeta:Author`, `oscimeta:Reader`, …) with this identifier.
    pub(crate) fn write_party(&self, w: &mut XmlWriter, name: &str) {
        w.start(name, &[]);
        self.write(w, "oscimeta:Identifier");
        w.end(name);
    }

    /// Reads a `PartyIdentifierType` element.
    pub(crate) fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let value = el.leaf_text(path)?;
        let id_type = el.required_attr(path, "type")?;
        if id_type.is_empty() {
            return Err(Malformed::new(format!("{path}/@type"), "must not be empty"));
        }
        Ok(PartyIdentifier {
            value: normalize(&value),
            id_type: id_type.to_string(),
            name: el.attr("name").map(str::to_string),
            category: el.attr("category").map(str::to_string),
        })
    }

    /// Reads a `PartyType` element (`Identifier`, then security tokens, which are skipped).
    pub(crate) fn parse_party(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let mut seq = el.seq(path)?;
        let id = seq.required(NS_OSCIMETA, "Identifier")?;
        seq.skip(NS_OSCIMETA, "SecurityToken");
        seq.finish()?;
        Self::parse(id, &format!("{path}/Identifier"))
    }
}

impl std::fmt::Display for PartyIdentifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

/// `xs:normalizedString`/`xs:token` values: surrounding whitespace is not part of the value.
fn normalize(s: &str) -> String {
    s.trim().to_string()
}

/// A code from a code list (`oscimeta:KeyCodeType`): `code`, optional `name`, and the list's
/// URI and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyCode {
    /// The code (`code`).
    pub code: String,
    /// Its text (`name`).
    pub name: Option<String>,
    /// `@listURI` of the code list.
    pub list_uri: String,
    /// `@listVersionID` of the code list.
    pub list_version_id: String,
}

impl KeyCode {
    /// A code without name.
    pub fn new(
        code: impl Into<String>,
        list_uri: impl Into<String>,
        list_version_id: impl Into<String>,
    ) -> Self {
        KeyCode {
            code: code.into(),
            name: None,
            list_uri: list_uri.into(),
            list_version_id: list_version_id.into(),
        }
    }

    fn write_with(&self, w: &mut XmlWriter, name: &str, extra: &[(&str, &str)]) {
        let mut attrs = vec![
            ("listURI", self.list_uri.as_str()),
            ("listVersionID", self.list_version_id.as_str()),
        ];
        attrs.extend_from_slice(extra);
        w.start(name, &attrs);
        // `code` and `name` are unqualified (form="unqualified" in the XSD).
        w.leaf("code", &[], &self.code);
        w.optional_leaf("name", self.name.as_deref());
        w.end(name);
    }

    pub(crate) fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let mut code = None;
        let mut name = None;
        for (i, child) in el.elements().enumerate() {
            let child_path = format!("{path}/{}", child.local);
            match (i, child.ns.as_deref(), child.local.as_str()) {
                (0, None, "code") => code = Some(normalize(&child.leaf_text(&child_path)?)),
                (1, None, "name") => name = Some(normalize(&child.leaf_text(&child_path)?)),
                _ => return Err(Malformed::new(child_path, "unexpected element")),
            }
        }
        Ok(KeyCode {
            code: code.ok_or_else(|| {
                Malformed::new(format!("{path}/code"), "required element missing")
            })?,
            name,
            list_uri: el.required_attr(path, "listURI")?.trim().to_string(),
            list_version_id: el.required_attr(path, "listVersionID")?.trim().to_string(),
        })
    }
}

/// The business scenario (`Qualifier/BusinessScenario`): a code from a list, or free text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BusinessScenario {
    /// `Defined`: a code from a code list (e.g. `XMELD_DATA` from
    /// `urn:de:dataport:codeliste:business.scenario`).
    Defined(KeyCode),
    /// `Undefined`: a scenario without code list.
    Undefined(String),
}

impl BusinessScenario {
    /// The code (or the free text).
    pub fn code(&self) -> &str {
        match self {
            BusinessScenario::Defined(k) => &k.code,
            BusinessScenario::Undefined(s) => s,
        }
    }
}

/// The message type (`Qualifier/MessageType`): a code and the payload's schema namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageType {
    /// The code (e.g. `xdomea.0401` or an XÖV message code such as `baugenehmigung.antrag.0200`).
    pub code: KeyCode,
    /// `@payloadSchema`: the namespace of the payload's schema.
    pub payload_schema: String,
}

/// What a message is (`oscimeta:QualifierType`).
#[derive(Clone, PartialEq, Eq)]
pub struct Qualifier {
    /// `Subject` (informational).
    pub subject: Option<String>,
    /// `Service`: the DVDV service URI ("Dienste-URI").
    pub service: String,
    /// `BusinessScenario`.
    pub business_scenario: BusinessScenario,
    /// `MessageType`.
    pub message_type: MessageType,
}

impl std::fmt::Debug for Qualifier {
    // The subject is free text and may name a person: not in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Qualifier")
            .field("subject", &self.subject.as_ref().map(|_| "…"))
            .field("service", &self.service)
            .field("business_scenario", &self.business_scenario)
            .field("message_type", &self.message_type)
            .finish()
    }
}

/// Receipts requested (`ReceiptRequests`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiptRequests {
    /// `Submission`.
    pub submission: bool,
    /// `Relay`.
    pub relay: bool,
    /// `Delivery`.
    pub delivery: bool,
    /// `Fetch`.
    pub fetch: bool,
    /// `Reception`.
    pub reception: bool,
    /// `ReceiptTo/wsa:Address`.
    pub receipt_to: Option<String>,
}

/// Time stamps, service quality and receipts (`oscimeta:DeliveryAttributesType`), all
/// optional. Values are `xs:dateTime` text (`obsolete_after` is an `xs:date`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryAttributes {
    /// `Origin`: when the author produced the content.
    pub origin: Option<String>,
    /// `InitialSend`: when the sender submitted it.
    pub initial_send: Option<String>,
    /// `NotBefore`: do not submit before.
    pub not_before: Option<String>,
    /// `ObsoleteAfter` (`xs:date`).
    pub obsolete_after: Option<String>,
    /// `Delivery`: when it entered the reader's mailbox.
    pub delivery: Option<String>,
    /// `InitialFetch`: first committed fetch by the reader.
    pub initial_fetch: Option<String>,
    /// `Reception`: set by the reader.
    pub reception: Option<String>,
    /// `ServiceQuality` ("Service Profil" in XTA).
    pub service_quality: Option<String>,
    /// `ReceiptRequests`.
    pub receipt_requests: Option<ReceiptRequests>,
}

/// Process references (`MsgIdentification/ProcessRef`), e.g. Aktenzeichen.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProcessRef {
    /// `Requester` reference.
    pub requester: Option<String>,
    /// `Responder` reference.
    pub responder: Option<String>,
}

impl std::fmt::Debug for ProcessRef {
    // Case references can identify a person's case: not in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRef")
            .field("requester", &self.requester.as_ref().map(|_| "…"))
            .field("responder", &self.responder.as_ref().map(|_| "…"))
            .finish()
    }
}

/// A scenario-specific property (`MessageProperties/Property`).
#[derive(Clone, PartialEq, Eq)]
pub struct Property {
    /// `Key`.
    pub key: KeyCode,
    /// `Value`.
    pub value: String,
}

impl std::fmt::Debug for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Property")
            .field("key", &self.key)
            .field("value", &"…")
            .finish()
    }
}

/// `oscimeta:MessageMetaData`. `Debug` leaves out free text (subject, case references,
/// property values); identifiers, codes and time stamps are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMetaData {
    /// `@TestMsg`: a test message.
    pub test_msg: bool,
    /// `DeliveryAttributes`.
    pub delivery: DeliveryAttributes,
    /// `Originators/Author`: who wrote the message.
    pub author: PartyIdentifier,
    /// `Originators/Sender`: the sending node, if different.
    pub sender: Option<PartyIdentifier>,
    /// `Originators/ReplyTo`.
    pub reply_to: Option<PartyIdentifier>,
    /// `Destinations/Reader`: whose mailbox the message goes to.
    pub reader: PartyIdentifier,
    /// `Destinations/OtherDestinations/OtherReaders` (informational).
    pub other_readers: Vec<PartyIdentifier>,
    /// `Destinations/OtherDestinations/CcReaders` (informational).
    pub cc_readers: Vec<PartyIdentifier>,
    /// `MsgIdentification/wsa:MessageID`: the XTA MessageID.
    pub message_id: String,
    /// `MsgIdentification/In-Reply-To`.
    pub in_reply_to: Vec<String>,
    /// `MsgIdentification/ProcessRef`.
    pub process_ref: Option<ProcessRef>,
    /// `Qualifier`.
    pub qualifier: Qualifier,
    /// `MessageProperties`.
    pub properties: Vec<Property>,
    /// `MsgSize` in bytes.
    pub msg_size: Option<u64>,
}

impl MessageMetaData {
    /// Metadata with the required parts; everything optional empty.
    pub fn new(
        message_id: impl Into<String>,
        author: PartyIdentifier,
        reader: PartyIdentifier,
        qualifier: Qualifier,
    ) -> Self {
        MessageMetaData {
            test_msg: false,
            delivery: DeliveryAttributes::default(),
            author,
            sender: None,
            reply_to: None,
            reader,
            other_readers: Vec::new(),
            cc_readers: Vec::new(),
            message_id: message_id.into(),
            in_reply_to: Vec::new(),
            process_ref: None,
            qualifier,
            properties: Vec::new(),
            msg_size: None,
        }
    }

    /// Writes `oscimeta:MessageMetaData` (as a header block or inside a list).
    pub fn write(&self, w: &mut XmlWriter) {
        let mut attrs = Vec::new();
        if self.test_msg {
            attrs.push(("TestMsg", "true"));
        }
        w.start("oscimeta:MessageMetaData", &attrs);

        let d = &self.delivery;
        w.start("oscimeta:DeliveryAttributes", &[]);
        w.optional_leaf("oscimeta:Origin", d.origin.as_deref());
        w.optional_leaf("oscimeta:InitialSend", d.initial_send.as_deref());
        w.optional_leaf("oscimeta:NotBefore", d.not_before.as_deref());
        w.optional_leaf("oscimeta:ObsoleteAfter", d.obsolete_after.as_deref());
        w.optional_leaf("oscimeta:Delivery", d.delivery.as_deref());
        w.optional_leaf("oscimeta:InitialFetch", d.initial_fetch.as_deref());
        w.optional_leaf("oscimeta:Reception", d.reception.as_deref());
        w.optional_leaf("oscimeta:ServiceQuality", d.service_quality.as_deref());
        if let Some(r) = &d.receipt_requests {
            w.start("oscimeta:ReceiptRequests", &[]);
            for (set, name) in [
                (r.submission, "oscimeta:Submission"),
                (r.relay, "oscimeta:Relay"),
                (r.delivery, "oscimeta:Delivery"),
                (r.fetch, "oscimeta:Fetch"),
                (r.reception, "oscimeta:Reception"),
            ] {
                if set {
                    w.empty(name, &[]);
                }
            }
            if let Some(to) = &r.receipt_to {
                w.start("oscimeta:ReceiptTo", &[]);
                w.leaf("wsa:Address", &[], to);
                w.end("oscimeta:ReceiptTo");
            }
            w.end("oscimeta:ReceiptRequests");
        }
        w.end("oscimeta:DeliveryAttributes");

        w.start("oscimeta:Originators", &[]);
        self.author.write_party(w, "oscimeta:Author");
        if let Some(s) = &self.sender {
            s.write_party(w, "oscimeta:Sender");
        }
        if let Some(r) = &self.reply_to {
            r.write_party(w, "oscimeta:ReplyTo");
        }
        w.end("oscimeta:Originators");

        w.start("oscimeta:Destinations", &[]);
        self.reader.write_party(w, "oscimeta:Reader");
        if !self.other_readers.is_empty() || !self.cc_readers.is_empty() {
            // The XSD requires at least one OtherReaders when OtherDestinations is present.
            w.start("oscimeta:OtherDestinations", &[]);
            for r in &self.other_readers {
                r.write(w, "oscimeta:OtherReaders");
            }
            for r in &self.cc_readers {
                r.write(w, "oscimeta:CcReaders");
            }
            w.end("oscimeta:OtherDestinations");
        }
        w.end("oscimeta:Destinations");

        w.start("oscimeta:MsgIdentification", &[]);
        w.leaf("wsa:MessageID", &[], &self.message_id);
        for r in &self.in_reply_to {
            w.leaf("oscimeta:In-Reply-To", &[], r);
        }
        if let Some(p) = &self.process_ref {
            w.start("oscimeta:ProcessRef", &[]);
            w.optional_leaf("oscimeta:Requester", p.requester.as_deref());
            w.optional_leaf("oscimeta:Responder", p.responder.as_deref());
            w.end("oscimeta:ProcessRef");
        }
        w.end("oscimeta:MsgIdentification");

        let q = &self.qualifier;
        w.start("oscimeta:Qualifier", &[]);
        w.optional_leaf("oscimeta:Subject", q.subject.as_deref());
        w.leaf("oscimeta:Service", &[], &q.service);
        w.start("oscimeta:BusinessScenario", &[]);
        match &q.business_scenario {
            BusinessScenario::Defined(k) => k.write_with(w, "oscimeta:Defined", &[]),
            BusinessScenario::Undefined(s) => w.leaf("oscimeta:Undefined", &[], s),
        }
        w.end("oscimeta:BusinessScenario");
        q.message_type.code.write_with(
            w,
            "oscimeta:MessageType",
            &[("payloadSchema", &q.message_type.payload_schema)],
        );
        w.end("oscimeta:Qualifier");

        if !self.properties.is_empty() {
            w.start("oscimeta:MessageProperties", &[]);
            for p in &self.properties {
                w.start("oscimeta:Property", &[]);
                p.key.write_with(w, "oscimeta:Key", &[]);
                w.leaf("oscimeta:Value", &[], &p.value);
                w.end("oscimeta:Property");
            }
            w.end("oscimeta:MessageProperties");
        }
        if let Some(size) = self.msg_size.filter(|s| *s > 0) {
            w.leaf("oscimeta:MsgSize", &[], &size.to_string());
        }
        w.end("oscimeta:MessageMetaData");
    }

    /// Reads `oscimeta:MessageMetaData`.
    pub fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let m = NS_OSCIMETA;
        let test_msg = match el.attr("TestMsg") {
            Some(v) => parse_bool(&format!("{path}/@TestMsg"), v)?,
            None => false,
        };
        let mut seq = el.seq(path)?;

        let d_el = seq.required(m, "DeliveryAttributes")?;
        let d_path = format!("{path}/DeliveryAttributes");
        let mut d = d_el.seq(&d_path)?;
        let text = |e: Option<&Element<'_>>, p: &str| -> Result<Option<String>, Malformed> {
            e.map(|e| Ok(normalize(&e.leaf_text(&format!("{p}/{}", e.local))?)))
                .transpose()
        };
        let mut delivery = DeliveryAttributes {
            origin: text(d.optional(m, "Origin"), &d_path)?,
            initial_send: text(d.optional(m, "InitialSend"), &d_path)?,
            not_before: text(d.optional(m, "NotBefore"), &d_path)?,
            obsolete_after: text(d.optional(m, "ObsoleteAfter"), &d_path)?,
            delivery: text(d.optional(m, "Delivery"), &d_path)?,
            initial_fetch: text(d.optional(m, "InitialFetch"), &d_path)?,
            reception: text(d.optional(m, "Reception"), &d_path)?,
            service_quality: text(d.optional(m, "ServiceQuality"), &d_path)?,
            receipt_requests: None,
        };
        if let Some(r) = d.optional(m, "ReceiptRequests") {
            let r_path = format!("{d_path}/ReceiptRequests");
            let mut rs = r.seq(&r_path)?;
            let mut req = ReceiptRequests {
                submission: rs.optional(m, "Submission").is_some(),
                relay: rs.optional(m, "Relay").is_some(),
                delivery: rs.optional(m, "Delivery").is_some(),
                fetch: rs.optional(m, "Fetch").is_some(),
                reception: rs.optional(m, "Reception").is_some(),
                receipt_to: None,
            };
            if let Some(to) = rs.optional(m, "ReceiptTo") {
                let address = to.child(NS_WSA, "Address").ok_or_else(|| {
                    Malformed::new(
                        format!("{r_path}/ReceiptTo/Address"),
                        "required element missing",
                    )
                })?;
                req.receipt_to = Some(normalize(&address.text()));
            }
            rs.finish()?;
            delivery.receipt_requests = Some(req);
        }
        d.finish()?;

        let o_path = format!("{path}/Originators");
        let mut o = seq.required(m, "Originators")?.seq(&o_path)?;
        let author =
            PartyIdentifier::parse_party(o.required(m, "Author")?, &format!("{o_path}/Author"))?;
        let sender = o
            .optional(m, "Sender")
            .map(|e| PartyIdentifier::parse_party(e, &format!("{o_path}/Sender")))
            .transpose()?;
        let reply_to = o
            .optional(m, "ReplyTo")
            .map(|e| PartyIdentifier::parse_party(e, &format!("{o_path}/ReplyTo")))
            .transpose()?;
        o.finish()?;

        let ds_path = format!("{path}/Destinations");
        let mut ds = seq.required(m, "Destinations")?.seq(&ds_path)?;
        let reader =
            PartyIdentifier::parse_party(ds.required(m, "Reader")?, &format!("{ds_path}/Reader"))?;
        let mut other_readers = Vec::new();
        let mut cc_readers = Vec::new();
        if let Some(other) = ds.optional(m, "OtherDestinations") {
            let od_path = format!("{ds_path}/OtherDestinations");
            let mut od = other.seq(&od_path)?;
            let first = od.required(m, "OtherReaders")?;
            other_readers.push(PartyIdentifier::parse(
                first,
                &format!("{od_path}/OtherReaders"),
            )?);
            for r in od.many(m, "OtherReaders") {
                other_readers.push(PartyIdentifier::parse(
                    r,
                    &format!("{od_path}/OtherReaders"),
                )?);
            }
            for r in od.many(m, "CcReaders") {
                cc_readers.push(PartyIdentifier::parse(r, &format!("{od_path}/CcReaders"))?);
            }
            od.finish()?;
        }
        ds.finish()?;

        let i_path = format!("{path}/MsgIdentification");
        let mut i = seq.required(m, "MsgIdentification")?.seq(&i_path)?;
        let message_id = normalize(
            &i.required(NS_WSA, "MessageID")?
                .leaf_text(&format!("{i_path}/MessageID"))?,
        );
        if message_id.is_empty() {
            return Err(Malformed::new(
                format!("{i_path}/MessageID"),
                "must not be empty",
            ));
        }
        let in_reply_to = i
            .many(m, "In-Reply-To")
            .into_iter()
            .map(|e| Ok(normalize(&e.leaf_text(&format!("{i_path}/In-Reply-To"))?)))
            .collect::<Result<Vec<_>, Malformed>>()?;
        let process_ref = match i.optional(m, "ProcessRef") {
            Some(p) => {
                let p_path = format!("{i_path}/ProcessRef");
                let mut ps = p.seq(&p_path)?;
                let r = ProcessRef {
                    requester: text(ps.optional(m, "Requester"), &p_path)?,
                    responder: text(ps.optional(m, "Responder"), &p_path)?,
                };
                ps.finish()?;
                Some(r)
            }
            None => None,
        };
        i.finish()?;

        let q_path = format!("{path}/Qualifier");
        let mut q = seq.required(m, "Qualifier")?.seq(&q_path)?;
        let subject = q
            .optional(m, "Subject")
            .map(|e| {
                e.leaf_text(&format!("{q_path}/Subject"))
                    .map(|s| s.into_owned())
            })
            .transpose()?;
        let service = normalize(
            &q.required(m, "Service")?
                .leaf_text(&format!("{q_path}/Service"))?,
        );
        let b_path = format!("{q_path}/BusinessScenario");
        let mut b = q.required(m, "BusinessScenario")?.seq(&b_path)?;
        let business_scenario = if let Some(def) = b.optional(m, "Defined") {
            BusinessScenario::Defined(KeyCode::parse(def, &format!("{b_path}/Defined"))?)
        } else if let Some(undef) = b.optional(m, "Undefined") {
            BusinessScenario::Undefined(normalize(
                &undef.leaf_text(&format!("{b_path}/Undefined"))?,
            ))
        } else {
            return Err(Malformed::new(
                b_path,
                "required element missing: Defined or Undefined",
            ));
        };
        b.finish()?;
        let mt = q.required(m, "MessageType")?;
        let mt_path = format!("{q_path}/MessageType");
        let message_type = MessageType {
            code: KeyCode::parse(mt, &mt_path)?,
            payload_schema: mt
                .required_attr(&mt_path, "payloadSchema")?
                .trim()
                .to_string(),
        };
        if message_type.payload_schema.is_empty() {
            return Err(Malformed::new(
                format!("{mt_path}/@payloadSchema"),
                "must not be empty",
            ));
        }
        q.finish()?;

        let mut properties = Vec::new();
        if let Some(props) = seq.optional(m, "MessageProperties") {
            let p_path = format!("{path}/MessageProperties");
            let mut ps = props.seq(&p_path)?;
            let all = ps.many(m, "Property");
            ps.finish()?;
            if all.is_empty() {
                return Err(Malformed::new(
                    format!("{p_path}/Property"),
                    "required element missing",
                ));
            }
            for p in all {
                let pp = format!("{p_path}/Property");
                let mut s = p.seq(&pp)?;
                let key = KeyCode::parse(s.required(m, "Key")?, &format!("{pp}/Key"))?;
                let value = s.required(m, "Value")?.leaf_text(&format!("{pp}/Value"))?;
                s.finish()?;
                properties.push(Property {
                    key,
                    value: value.into_owned(),
                });
            }
        }
        let msg_size = seq
            .optional(m, "MsgSize")
            .map(|e| {
                let p = format!("{path}/MsgSize");
                parse_number::<u64>(&p, &e.leaf_text(&p)?)
            })
            .transpose()?;
        seq.finish()?;

        Ok(MessageMetaData {
            test_msg,
            delivery,
            author,
            sender,
            reply_to,
            reader,
            other_readers,
            cc_readers,
            message_id,
            in_reply_to,
            process_ref,
            qualifier: Qualifier {
                subject,
                service,
                business_scenario,
                message_type,
            },
            properties,
            msg_size,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wsdl::NS_WSA;
    use crate::xml::{XmlLimits, parse};

    pub(crate) fn sample() -> MessageMetaData {
        let mut m = MessageMetaData::new(
            "urn:de:xta:messageid:test:1",
            PartyIdentifier::xoev("ags:09162000"),
            PartyIdentifier::xoev("ags:12052000"),
            Qualifier {
                subject: Some("Antrag & Anlage".into()),
                service: "urn:xoev-de:xbau:standard:xbau_2.6".into(),
                business_scenario: BusinessScenario::Defined(KeyCode::new(
                    "XBAU_DATA",
                    "urn:de:dataport:codeliste:business.scenario",
                    "1",
                )),
                message_type: MessageType {
                    code: KeyCode::new("baugenehmigung.antrag.0200", "urn:de:xta:messagetype", "1"),
                    payload_schema: "http://www.xleitstelle.de/xbau/2/6".into(),
                },
            },
        );
        m.test_msg = true;
        m.delivery.origin = Some("2026-05-01T10:00:00Z".into());
        m.delivery.receipt_requests = Some(ReceiptRequests {
            fetch: true,
            receipt_to: Some("https://example.org/receipts".into()),
            ..Default::default()
        });
        m.sender = Some(PartyIdentifier::xoev("dvdv:sender"));
        m.other_readers = vec![PartyIdentifier::xoev("ags:1")];
        m.cc_readers = vec![PartyIdentifier::xoev("ags:2")];
        m.in_reply_to = vec!["urn:x:0".into()];
        m.process_ref = Some(ProcessRef {
            requester: Some("AZ-1".into()),
            responder: None,
        });
        m.properties = vec![Property {
            key: KeyCode::new("k", "urn:list", "1"),
            value: "v".into(),
        }];
        m.msg_size = Some(1234);
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        let mut w = XmlWriter::new();
        w.start(
            "root",
            &[("xmlns:oscimeta", NS_OSCIMETA), ("xmlns:wsa", NS_WSA)],
        );
        m.write(&mut w);
        w.end("root");
        let xml = w.into_inner();
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let el = root.child(NS_OSCIMETA, "MessageMetaData").unwrap();
        assert_eq!(MessageMetaData::parse(el, "/MessageMetaData").unwrap(), m);
    }

    #[test]
    fn debug_output_leaves_out_free_text() {
        let debug = format!("{:?}", sample());
        assert!(
            !debug.contains("Antrag") && !debug.contains("AZ-1"),
            "{debug}"
        );
        assert!(debug.contains("ags:12052000"));
    }

    #[test]
    fn structure_errors_name_the_place() {
        let xml = format!(
            r#"<oscimeta:MessageMetaData xmlns:oscimeta="{NS_OSCIMETA}"><oscimeta:Originators/></oscimeta:MessageMetaData>"#
        );
        let root = parse(xml.as_bytes(), &XmlLimits::default()).unwrap();
        let err = MessageMetaData::parse(&root, "/MessageMetaData").unwrap_err();
        assert_eq!(err.path, "/MessageMetaData/Originators");
        assert!(err.reason.contains("expected DeliveryAttributes"));
    }
}
