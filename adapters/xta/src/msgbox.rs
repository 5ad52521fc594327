//! The OSCI 2 MsgBox vocabulary (OSCI2_02.xsd) with which a reader works through its mailbox:
//! list it (`MsgBoxStatusListRequest` → `MsgStatusList` + `MsgBoxResponse` header), page
//! through the list (`MsgBoxGetNextRequest` with the `MsgBoxRequestID`), fetch a message
//! (`MsgBoxFetchRequest` with `MsgSelector/wsa:MessageID`), and confirm what it received
//! (`MsgBoxCloseRequest` with `LastMsgReceived`). Only a closed message counts as fetched; until
//! then it stays listed and can be fetched again.
//!
//! `MsgBoxResponse` says whether more is pending (`ItemsPending` = entries not yet returned)
//! or that nothing matched (`NoMessageAvailable` with a reason URI).

use crate::metadata::MessageMetaData;
use crate::wsdl::{NS_OSCI, NS_OSCIMETA, NS_WSA};
use crate::xml::{Element, Malformed, XmlWriter, parse_bool, parse_number};

/// `NoMessageAvailable/@reason`: nothing matched the request.
pub const REASON_NO_MATCH: &str = "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/NoMatch";
/// `NoMessageAvailable/@reason`: the selection arguments were invalid.
pub const REASON_SEARCH_ARGS_INVALID: &str =
    "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/SearchArgsInvalid";
/// `NoMessageAvailable/@reason`: the `MsgBoxRequestID` is unknown or expired.
pub const REASON_REQUEST_ID_INVALID: &str =
    "http://www.osci.eu/ws/2008/05/transport/MsgBox/reasons/RequestIdInvalid";

/// Selection criteria (`osci:MsgSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MsgSelector {
    /// `wsa:MessageID`s to select.
    pub message_ids: Vec<String>,
    /// `wsa:RelatesTo` values to select.
    pub relates_to: Vec<String>,
    /// `MsgBoxEntryTimeFrom` (`xs:dateTime`).
    pub entry_time_from: Option<String>,
    /// `MsgBoxEntryTimeTo` (`xs:dateTime`).
    pub entry_time_to: Option<String>,
    /// `@newEntry`: only messages not fetched yet.
    pub new_entry: Option<bool>,
}

impl MsgSelector {
    /// Selects one message.
    pub fn message(message_id: impl Into<String>) -> Self {
        MsgSelector {
            message_ids: vec![message_id.into()],
            ..Default::default()
        }
    }

    fn write(&self, w: &mut XmlWriter) {
        let new_entry = self.new_entry.map(|b| if b { "true" } else { "false" });
        let attrs: Vec<(&str, &str)> = new_entry.iter().map(|v| ("newEntry", *v)).collect();
        w.start("osci:MsgSelector", &attrs);
        for id in &self.message_ids {
            w.leaf("wsa:MessageID", &[], id);
        }
        for id in &self.relates_to {
            w.leaf("wsa:RelatesTo", &[], id);
        }
        w.optional_leaf("osci:MsgBoxEntryTimeFrom", self.entry_time_from.as_deref());
        w.optional_leaf("osci:MsgBoxEntryTimeTo", self.entry_time_to.as_deref());
        w.end("osci:MsgSelector");
    }

    fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let new_entry = el
            .attr("newEntry")
            .map(|v| parse_bool(&format!("{path}/@newEntry"), v))
            .transpose()?;
        let mut seq = el.seq(path)?;
        let texts = |els: Vec<&Element<'_>>, name: &str| -> Result<Vec<String>, Malformed> {
            els.into_iter()
                .map(|e| Ok(e.leaf_text(&format!("{path}/{name}"))?.trim().to_string()))
                .collect()
        };
        let message_ids = texts(seq.many(NS_WSA, "MessageID"), "MessageID")?;
        let relates_to = texts(seq.many(NS_WSA, "RelatesTo"), "RelatesTo")?;
        let from = seq
            .optional(NS_OSCI, "MsgBoxEntryTimeFrom")
            .map(|e| e.leaf_text(path).map(|t| t.trim().to_string()))
            .transpose()?;
        let to = seq
            .optional(NS_OSCI, "MsgBoxEntryTimeTo")
            .map(|e| e.leaf_text(path).map(|t| t.trim().to_string()))
            .transpose()?;
        seq.optional(NS_OSCI, "Extension");
        seq.finish()?;
        Ok(MsgSelector {
            message_ids,
            relates_to,
            entry_time_from: from,
            entry_time_to: to,
            new_entry,
        })
    }
}

/// `@ListForm` of a status list request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListForm {
    /// One `oscimeta:MessageMetaData` per message (what XTA readers use).
    #[default]
    MessageMetaData,
    /// One `osci:MsgAttributes` per message. On the wire the XSD spells it `MsgAtrributes`.
    MsgAttributes,
}

impl ListForm {
    fn wire(self) -> &'static str {
        match self {
            ListForm::MessageMetaData => "MessageMetaData",
            ListForm::MsgAttributes => "MsgAtrributes",
        }
    }
}

/// `osci:MsgBoxStatusListRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusListRequest {
    /// `@maxListItems`: entries per page (positive).
    pub max_list_items: Option<u32>,
    /// `@ListForm`.
    pub list_form: Option<ListForm>,
    /// `MsgSelector`.
    pub selector: Option<MsgSelector>,
}

impl StatusListRequest {
    /// The request XTA readers send: `maxListItems` entries as `MessageMetaData`.
    pub fn metadata(max_list_items: u32) -> Self {
        StatusListRequest {
            max_list_items: Some(max_list_items),
            list_form: Some(ListForm::MessageMetaData),
            selector: None,
        }
    }

    /// Writes the body element.
    pub fn write(&self, w: &mut XmlWriter) {
        let max = self.max_list_items.map(|m| m.to_string());
        let mut attrs = Vec::new();
        if let Some(m) = &max {
            attrs.push(("maxListItems", m.as_str()));
        }
        if let Some(f) = self.list_form {
            attrs.push(("ListForm", f.wire()));
        }
        match &self.selector {
            Some(s) => {
                w.start("osci:MsgBoxStatusListRequest", &attrs);
                s.write(w);
                w.end("osci:MsgBoxStatusListRequest");
            }
            None => w.empty("osci:MsgBoxStatusListRequest", &attrs),
        }
    }

    /// Reads the body element.
    pub fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let max_list_items = match el.attr("maxListItems") {
            Some(v) => {
                let p = format!("{path}/@maxListItems");
                let n: u32 = parse_number(&p, v)?;
                if n == 0 {
                    return Err(Malformed::new(p, "must be a positive integer"));
                }
                Some(n)
            }
            None => None,
        };
        let list_form = match el.attr("ListForm").map(str::trim) {
            None => None,
            Some("MessageMetaData") => Some(ListForm::MessageMetaData),
            Some("MsgAtrributes") => Some(ListForm::MsgAttributes),
            Some(_) => {
                return Err(Malformed::new(
                    format!("{path}/@ListForm"),
                    "must be MessageMetaData or MsgAtrributes",
                ));
            }
        };
        let mut seq = el.seq(path)?;
        let selector = seq
            .optional(NS_OSCI, "MsgSelector")
            .map(|s| MsgSelector::parse(s, &format!("{path}/MsgSelector")))
            .transpose()?;
        seq.finish()?;
        Ok(StatusListRequest {
            max_list_items,
            list_form,
            selector,
        })
    }
}

/// State reported in `MsgBoxResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgBoxState {
    /// `ItemsPending`: entries not yet returned (0: this was the last page).
    ItemsPending(u64),
    /// `NoMessageAvailable` with its reason URI (see the `REASON_*` constants).
    NoMessageAvailable {
        /// Reason URI.
        reason: String,
    },
}

/// `osci:MsgBoxResponse` (response header of MsgBox operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgBoxResponse {
    /// `@MsgBoxRequestID`: the iterator for `getNextStatusList` and `close`.
    pub request_id: String,
    /// Pending items or nothing available.
    pub state: MsgBoxState,
}

impl MsgBoxResponse {
    /// Writes the header block.
    pub fn write(&self, w: &mut XmlWriter) {
        w.start(
            "osci:MsgBoxResponse",
            &[("MsgBoxRequestID", self.request_id.as_str())],
        );
        match &self.state {
            MsgBoxState::ItemsPending(n) => w.leaf("osci:ItemsPending", &[], &n.to_string()),
            MsgBoxState::NoMessageAvailable { reason } => {
                w.empty("osci:NoMessageAvailable", &[("reason", reason)])
            }
        }
        w.end("osci:MsgBoxResponse");
    }

    /// Reads the header block.
    pub fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let request_id = el
            .required_attr(path, "MsgBoxRequestID")?
            .trim()
            .to_string();
        let mut seq = el.seq(path)?;
        let state = if let Some(p) = seq.optional(NS_OSCI, "ItemsPending") {
            let p_path = format!("{path}/ItemsPending");
            MsgBoxState::ItemsPending(parse_number(&p_path, &p.leaf_text(&p_path)?)?)
        } else if let Some(n) = seq.optional(NS_OSCI, "NoMessageAvailable") {
            MsgBoxState::NoMessageAvailable {
                reason: n
                    .required_attr(&format!("{path}/NoMessageAvailable"), "reason")?
                    .trim()
                    .to_string(),
            }
        } else {
            return Err(Malformed::new(
                path,
                "required element missing: ItemsPending or NoMessageAvailable",
            ));
        };
        seq.finish()?;
        Ok(MsgBoxResponse { request_id, state })
    }
}

/// One entry of a status list in the `MsgAtrributes` form (`osci:MsgAttributeListType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgAttributes {
    /// `wsa:MessageID`.
    pub message_id: String,
    /// `wsa:RelatesTo`.
    pub relates_to: Vec<String>,
    /// `osci:TypeOfBusinessScenario` (a URI).
    pub type_of_business_scenario: String,
    /// `MsgSize`.
    pub msg_size: i32,
    /// `ObsoleteAfterDate` (`xs:date`).
    pub obsolete_after_date: Option<String>,
    /// `DeliveryTime` (`xs:dateTime`).
    pub delivery_time: String,
    /// `InitialFetchedTime` (`xs:dateTime`).
    pub initial_fetched_time: Option<String>,
}

impl MsgAttributes {
    fn write(&self, w: &mut XmlWriter) {
        w.start("osci:MsgAttributes", &[]);
        w.leaf("wsa:MessageID", &[], &self.message_id);
        for r in &self.relates_to {
            w.leaf("wsa:RelatesTo", &[], r);
        }
        w.leaf(
            "osci:TypeOfBusinessScenario",
            &[],
            &self.type_of_business_scenario,
        );
        w.leaf("osci:MsgSize", &[], &self.msg_size.to_string());
        w.optional_leaf(
            "osci:ObsoleteAfterDate",
            self.obsolete_after_date.as_deref(),
        );
        w.leaf("osci:DeliveryTime", &[], &self.delivery_time);
        w.optional_leaf(
            "osci:InitialFetchedTime",
            self.initial_fetched_time.as_deref(),
        );
        w.end("osci:MsgAttributes");
    }

    fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let mut seq = el.seq(path)?;
        let text = |e: &Element<'_>| -> Result<String, Malformed> {
            Ok(e.leaf_text(&format!("{path}/{}", e.local))?
                .trim()
                .to_string())
        };
        let message_id = text(seq.required(NS_WSA, "MessageID")?)?;
        let relates_to = seq
            .many(NS_WSA, "RelatesTo")
            .into_iter()
            .map(text)
            .collect::<Result<Vec<_>, _>>()?;
        seq.optional(NS_WSA, "From");
        let type_of_business_scenario = text(seq.required(NS_OSCI, "TypeOfBusinessScenario")?)?;
        let size_path = format!("{path}/MsgSize");
        let msg_size = parse_number(&size_path, &text(seq.required(NS_OSCI, "MsgSize")?)?)?;
        let obsolete_after_date = seq
            .optional(NS_OSCI, "ObsoleteAfterDate")
            .map(text)
            .transpose()?;
        let delivery_time = text(seq.required(NS_OSCI, "DeliveryTime")?)?;
        let initial_fetched_time = seq
            .optional(NS_OSCI, "InitialFetchedTime")
            .map(text)
            .transpose()?;
        seq.finish()?;
        Ok(MsgAttributes {
            message_id,
            relates_to,
            type_of_business_scenario,
            msg_size,
            obsolete_after_date,
            delivery_time,
            initial_fetched_time,
        })
    }
}

/// A page of a mailbox listing: `osci:MsgStatusList` and the `MsgBoxResponse` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusList {
    /// The `MsgBoxResponse` header (iterator id, pending count).
    pub response: Option<MsgBoxResponse>,
    /// Entries in `MessageMetaData` form.
    pub messages: Vec<MessageMetaData>,
    /// Entries in `MsgAtrributes` form.
    pub attributes: Vec<MsgAttributes>,
}

impl StatusList {
    /// Entries not yet returned (0 if unknown or none).
    pub fn items_pending(&self) -> u64 {
        match &self.response {
            Some(MsgBoxResponse {
                state: MsgBoxState::ItemsPending(n),
                ..
            }) => *n,
            _ => 0,
        }
    }

    /// The iterator id for `getNextStatusList` and `close`.
    pub fn request_id(&self) -> Option<&str> {
        self.response.as_ref().map(|r| r.request_id.as_str())
    }

    /// Writes the body element `osci:MsgStatusList`.
    pub fn write_body(&self, w: &mut XmlWriter) {
        if self.attributes.is_empty() && self.messages.is_empty() {
            w.empty("osci:MsgStatusList", &[]);
            return;
        }
        w.start("osci:MsgStatusList", &[]);
        for a in &self.attributes {
            a.write(w);
        }
        for m in &self.messages {
            m.write(w);
        }
        w.end("osci:MsgStatusList");
    }

    /// Reads the body element `osci:MsgStatusList` (the header is set by the caller).
    pub fn parse_body(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let mut seq = el.seq(path)?;
        let attributes = seq
            .many(NS_OSCI, "MsgAttributes")
            .into_iter()
            .enumerate()
            .map(|(i, a)| MsgAttributes::parse(a, &format!("{path}/MsgAttributes[{}]", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let messages = seq
            .many(NS_OSCIMETA, "MessageMetaData")
            .into_iter()
            .enumerate()
            .map(|(i, m)| MessageMetaData::parse(m, &format!("{path}/MessageMetaData[{}]", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        seq.finish()?;
        Ok(StatusList {
            response: None,
            messages,
            attributes,
        })
    }
}

/// `osci:MsgBoxFetchRequest` selecting one message.
pub fn write_fetch_request(w: &mut XmlWriter, message_id: &str) {
    w.start("osci:MsgBoxFetchRequest", &[]);
    MsgSelector::message(message_id).write(w);
    w.end("osci:MsgBoxFetchRequest");
}

/// Reads `osci:MsgBoxFetchRequest`; returns its selector (empty if none).
pub fn parse_fetch_request(el: &Element<'_>, path: &str) -> Result<MsgSelector, Malformed> {
    if let Some(part) = el.attr("MsgPart")
        && !matches!(part.trim(), "Envelope" | "Header" | "Body")
    {
        return Err(Malformed::new(
            format!("{path}/@MsgPart"),
            "must be Envelope, Header or Body",
        ));
    }
    let mut seq = el.seq(path)?;
    let selector = seq
        .optional(NS_OSCI, "MsgSelector")
        .map(|s| MsgSelector::parse(s, &format!("{path}/MsgSelector")))
        .transpose()?
        .unwrap_or_default();
    seq.finish()?;
    Ok(selector)
}

/// `osci:MsgBoxCloseRequest` or `osci:MsgBoxGetNextRequest` (same shape): the iterator and
/// the messages received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IteratorRequest {
    /// `@MsgBoxRequestID`.
    pub request_id: String,
    /// `LastMsgReceived`: MessageIDs confirmed as received.
    pub last_msg_received: Vec<String>,
}

impl IteratorRequest {
    /// Writes the element `name` (`osci:MsgBoxCloseRequest` or `osci:MsgBoxGetNextRequest`).
    pub fn write(&self, w: &mut XmlWriter, name: &str) {
        let attrs = [("MsgBoxRequestID", self.request_id.as_str())];
        if self.last_msg_received.is_empty() {
            w.empty(name, &attrs);
            return;
        }
        w.start(name, &attrs);
        for id in &self.last_msg_received {
            w.leaf("osci:LastMsgReceived", &[], id);
        }
        w.end(name);
    }

    /// Reads either element.
    pub fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let request_id = el
            .required_attr(path, "MsgBoxRequestID")?
            .trim()
            .to_string();
        let mut seq = el.seq(path)?;
        let last_msg_received = seq
            .many(NS_OSCI, "LastMsgReceived")
            .into_iter()
            .map(|e| {
                Ok(e.leaf_text(&format!("{path}/LastMsgReceived"))?
                    .trim()
                    .to_string())
            })
            .collect::<Result<Vec<_>, Malformed>>()?;
        seq.finish()?;
        Ok(IteratorRequest {
            request_id,
            last_msg_received,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{XmlLimits, parse};

    fn doc(write: impl FnOnce(&mut XmlWriter)) -> Vec<u8> {
        let mut w = XmlWriter::new();
        w.start(
            "root",
            &[
                ("xmlns:osci", NS_OSCI),
                ("xmlns:oscimeta", NS_OSCIMETA),
                ("xmlns:wsa", NS_WSA),
            ],
        );
        write(&mut w);
        w.end("root");
        w.into_inner()
    }

    #[test]
    fn status_list_request_round_trip_and_checks() {
        let mut req = StatusListRequest::metadata(10);
        req.selector = Some(MsgSelector {
            new_entry: Some(true),
            ..MsgSelector::message("urn:x:1")
        });
        let xml = doc(|w| req.write(w));
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let el = root.elements().next().unwrap();
        assert_eq!(StatusListRequest::parse(el, "/r").unwrap(), req);

        let bad =
            format!(r#"<osci:MsgBoxStatusListRequest xmlns:osci="{NS_OSCI}" maxListItems="0"/>"#);
        let root = parse(bad.as_bytes(), &XmlLimits::default()).unwrap();
        assert!(StatusListRequest::parse(&root, "/r").is_err());
    }

    #[test]
    fn status_list_and_response_round_trip() {
        let list = StatusList {
            response: None,
            messages: vec![crate::metadata::tests::sample()],
            attributes: vec![MsgAttributes {
                message_id: "urn:x:1".into(),
                relates_to: vec![],
                type_of_business_scenario: "XBAU_DATA".into(),
                msg_size: 10,
                obsolete_after_date: None,
                delivery_time: "2026-01-01T00:00:00Z".into(),
                initial_fetched_time: None,
            }],
        };
        let response = MsgBoxResponse {
            request_id: "urn:uuid:1".into(),
            state: MsgBoxState::ItemsPending(3),
        };
        let xml = doc(|w| {
            list.write_body(w);
            response.write(w);
        });
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let mut els = root.elements();
        assert_eq!(
            StatusList::parse_body(els.next().unwrap(), "/l").unwrap(),
            list
        );
        assert_eq!(
            MsgBoxResponse::parse(els.next().unwrap(), "/h").unwrap(),
            response
        );
    }

    #[test]
    fn close_request_round_trip() {
        let close = IteratorRequest {
            request_id: "1".into(),
            last_msg_received: vec!["urn:x:1".into(), "urn:x:2".into()],
        };
        let xml = doc(|w| close.write(w, "osci:MsgBoxCloseRequest"));
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let el = root.elements().next().unwrap();
        assert_eq!(IteratorRequest::parse(el, "/c").unwrap(), close);
    }
}
