//! The bodies of the ManagementPort: `xta:LookupServiceRequest`/`-Response` (is a reader
//! reachable for a service, and with which parameters) and `xta:TransportReport` (the transport
//! protocol of a message: its metadata, a traffic-light status and error/warning/info records).
//! `createMessageId` answers with a bare `wsa:MessageID` and `checkAccountActive` with an empty
//! body; both need no type here.

use bytes::Bytes;

use crate::metadata::{KeyCode, MessageMetaData, PartyIdentifier};
use crate::wsdl::{NS_OSCIMETA, NS_XTA};
use crate::xml::{Element, Malformed, XmlWriter, decode_base64, parse_bool, parse_number};

const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One question of `lookupService`: does `reader` offer `service`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceQuery {
    /// `oscimeta:Reader`: the party asked about (e.g. its DVDV identifier).
    pub reader: PartyIdentifier,
    /// `ServiceType`: the service URI.
    pub service: String,
}

/// The answer about availability (`IsServiceAvailableValue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// `ServiceIsAvailable=true`.
    Available,
    /// `ServiceIsAvailable=false`.
    NotAvailable,
    /// `ServiceIsAvailableUnknown`.
    Unknown,
}

/// A technical parameter for reaching a reader (e.g. its encryption certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceParameter {
    /// `ParameterType` (code from `urn:de:xta:codeliste:service.parameter.type`).
    pub parameter_type: KeyCode,
    /// `Resource`: the parameter's bytes.
    pub resource: Bytes,
}

/// One answer of `lookupService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAvailability {
    /// The query's reader.
    pub reader: PartyIdentifier,
    /// The query's service.
    pub service: String,
    /// The answer.
    pub availability: Availability,
    /// Parameters, if available.
    pub parameters: Vec<ServiceParameter>,
}

/// Writes `xta:LookupServiceRequest`.
pub fn write_lookup_request(w: &mut XmlWriter, queries: &[ServiceQuery]) {
    w.start("xta:LookupServiceRequest", &[]);
    for q in queries {
        w.start("xta:LookupServiceRequestList", &[]);
        w.start("xta:LookupService", &[]);
        q.reader.write_party(w, "oscimeta:Reader");
        w.leaf("xta:ServiceType", &[], &q.service);
        w.end("xta:LookupService");
        w.end("xta:LookupServiceRequestList");
    }
    w.end("xta:LookupServiceRequest");
}

/// Reads the reader and service of a `LookupServiceType` (or of its result extension, whose
/// further elements the returned sequence still holds).
fn parse_lookup_service<'e, 'a>(
    seq: &mut crate::xml::Seq<'e, 'a>,
    path: &str,
) -> Result<ServiceQuery, Malformed> {
    let reader = PartyIdentifier::parse_party(
        seq.required(NS_OSCIMETA, "Reader")?,
        &format!("{path}/Reader"),
    )?;
    let service = seq
        .required(NS_XTA, "ServiceType")?
        .leaf_text(&format!("{path}/ServiceType"))?
        .trim()
        .to_string();
    Ok(ServiceQuery { reader, service })
}

/// Reads `xta:LookupServiceRequest`.
pub fn parse_lookup_request(el: &Element<'_>, path: &str) -> Result<Vec<ServiceQuery>, Malformed> {
    let mut seq = el.seq(path)?;
    let lists = seq.many(NS_XTA, "LookupServiceRequestList");
    seq.finish()?;
    if lists.is_empty() {
        return Err(Malformed::new(
            format!("{path}/LookupServiceRequestList"),
            "required element missing",
        ));
    }
    lists
        .into_iter()
        .map(|list| {
            let lpath = format!("{path}/LookupServiceRequestList");
            let mut ls = list.seq(&lpath)?;
            let service = ls.required(NS_XTA, "LookupService")?;
            ls.finish()?;
            let spath = format!("{lpath}/LookupService");
            let mut s = service.seq(&spath)?;
            let query = parse_lookup_service(&mut s, &spath)?;
            s.finish()?;
            Ok(query)
        })
        .collect()
}

/// Writes `xta:LookupServiceResponse`.
pub fn write_lookup_response(w: &mut XmlWriter, answers: &[ServiceAvailability]) {
    w.start("xta:LookupServiceResponse", &[]);
    w.start("xta:LookupServiceResultList", &[]);
    for a in answers {
        w.start("xta:LookupServiceResult", &[]);
        a.reader.write_party(w, "oscimeta:Reader");
        w.leaf("xta:ServiceType", &[], &a.service);
        w.start("xta:IsServiceAvailableValue", &[]);
        match a.availability {
            Availability::Available => w.leaf("xta:ServiceIsAvailable", &[], "true"),
            Availability::NotAvailable => w.leaf("xta:ServiceIsAvailable", &[], "false"),
            Availability::Unknown => w.leaf("xta:ServiceIsAvailableUnknown", &[], "true"),
        }
        w.end("xta:IsServiceAvailableValue");
        for p in &a.parameters {
            w.start("xta:ServiceParameter", &[]);
            w.start(
                "xta:ParameterType",
                &[
                    ("listURI", p.parameter_type.list_uri.as_str()),
                    ("listVersionID", p.parameter_type.list_version_id.as_str()),
                ],
            );
            w.leaf("code", &[], &p.parameter_type.code);
            w.end("xta:ParameterType");
            w.start("xta:Resource", &[]);
            w.base64(&p.resource);
            w.end("xta:Resource");
            w.end("xta:ServiceParameter");
        }
        w.end("xta:LookupServiceResult");
    }
    w.end("xta:LookupServiceResultList");
    w.end("xta:LookupServiceResponse");
}

/// Reads `xta:LookupServiceResponse` (nil results are skipped).
pub fn parse_lookup_response(
    el: &Element<'_>,
    path: &str,
) -> Result<Vec<ServiceAvailability>, Malformed> {
    let mut seq = el.seq(path)?;
    let list = seq.required(NS_XTA, "LookupServiceResultList")?;
    seq.finish()?;
    let lpath = format!("{path}/LookupServiceResultList");
    let mut ls = list.seq(&lpath)?;
    let results = ls.many(NS_XTA, "LookupServiceResult");
    ls.finish()?;
    let mut out = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        if r.attr_ns(XSI, "nil")
            .is_some_and(|v| parse_bool("", v) == Ok(true))
        {
            continue;
        }
        let rpath = format!("{lpath}/LookupServiceResult[{}]", i + 1);
        let mut s = r.seq(&rpath)?;
        let query = parse_lookup_service(&mut s, &rpath)?;
        let vpath = format!("{rpath}/IsServiceAvailableValue");
        let value = s.required(NS_XTA, "IsServiceAvailableValue")?;
        let mut vs = value.seq(&vpath)?;
        let availability = if let Some(v) = vs.optional(NS_XTA, "ServiceIsAvailable") {
            let p = format!("{vpath}/ServiceIsAvailable");
            if parse_bool(&p, &v.leaf_text(&p)?)? {
                Availability::Available
            } else {
                Availability::NotAvailable
            }
        } else if vs.optional(NS_XTA, "ServiceIsAvailableUnknown").is_some() {
            Availability::Unknown
        } else {
            return Err(Malformed::new(
                vpath,
                "required element missing: ServiceIsAvailable or ServiceIsAvailableUnknown",
            ));
        };
        vs.finish()?;
        let mut parameters = Vec::new();
        for p in s.many(NS_XTA, "ServiceParameter") {
            let ppath = format!("{rpath}/ServiceParameter");
            let mut ps = p.seq(&ppath)?;
            let parameter_type = KeyCode::parse(
                ps.required(NS_XTA, "ParameterType")?,
                &format!("{ppath}/ParameterType"),
            )?;
            let rp = format!("{ppath}/Resource");
            let resource = decode_base64(&rp, &ps.required(NS_XTA, "Resource")?.leaf_text(&rp)?)?;
            ps.finish()?;
            parameters.push(ServiceParameter {
                parameter_type,
                resource: Bytes::from(resource),
            });
        }
        s.finish()?;
        out.push(ServiceAvailability {
            reader: query.reader,
            service: query.service,
            availability,
            parameters,
        });
    }
    Ok(out)
}

/// The traffic light of a transport report (`MessageStatus/Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// 0 = offen: still being processed.
    Open,
    /// 1 = grün: no errors or warnings.
    Green,
    /// 2 = gelb: warnings.
    Yellow,
    /// 3 = rot: critical errors.
    Red,
    /// Any other value.
    Other(i64),
}

impl ReportStatus {
    fn from_code(code: i64) -> Self {
        match code {
            0 => ReportStatus::Open,
            1 => ReportStatus::Green,
            2 => ReportStatus::Yellow,
            3 => ReportStatus::Red,
            n => ReportStatus::Other(n),
        }
    }

    fn code(self) -> i64 {
        match self {
            ReportStatus::Open => 0,
            ReportStatus::Green => 1,
            ReportStatus::Yellow => 2,
            ReportStatus::Red => 3,
            ReportStatus::Other(n) => n,
        }
    }
}

/// An entry of a transport report's error, warning or info list (`xta:RecordType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    /// `Timestamp` (`xs:dateTime`).
    pub timestamp: String,
    /// `Code` (code list given by `listURI`/`listVersionID`).
    pub code: KeyCode,
    /// `Reason`.
    pub reason: String,
}

/// `xta:TransportReport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportReport {
    /// The transport order.
    pub metadata: MessageMetaData,
    /// `ReportTime`: last update.
    pub report_time: String,
    /// `XTAServerIdentity`: which server wrote the report.
    pub server_identity: String,
    /// `MessageStatus/Status`.
    pub status: ReportStatus,
    /// `MessageStatus/ErrorList`.
    pub errors: Vec<ReportRecord>,
    /// `MessageStatus/WarnList`.
    pub warnings: Vec<ReportRecord>,
    /// `MessageStatus/InfoList`.
    pub infos: Vec<ReportRecord>,
    /// `AdditionalReports/Report`: kind and data.
    pub additional_reports: Vec<(KeyCode, Bytes)>,
}

impl TransportReport {
    /// Writes `xta:TransportReport`.
    pub fn write(&self, w: &mut XmlWriter) {
        w.start("xta:TransportReport", &[]);
        self.metadata.write(w);
        w.leaf("xta:ReportTime", &[], &self.report_time);
        w.leaf("xta:XTAServerIdentity", &[], &self.server_identity);
        w.start("xta:MessageStatus", &[]);
        w.leaf("xta:Status", &[], &self.status.code().to_string());
        for (list, item, records) in [
            ("xta:ErrorList", "xta:Error", &self.errors),
            ("xta:WarnList", "xta:Warning", &self.warnings),
            ("xta:InfoList", "xta:Info", &self.infos),
        ] {
            if records.is_empty() {
                continue;
            }
            w.start(list, &[]);
            for r in records {
                w.start(item, &[]);
                w.leaf("xta:Timestamp", &[], &r.timestamp);
                w.start(
                    "xta:Code",
                    &[
                        ("listURI", r.code.list_uri.as_str()),
                        ("listVersionID", r.code.list_version_id.as_str()),
                    ],
                );
                w.leaf("code", &[], &r.code.code);
                w.end("xta:Code");
                w.leaf("xta:Reason", &[], &r.reason);
                w.end(item);
            }
            w.end(list);
        }
        w.end("xta:MessageStatus");
        if !self.additional_reports.is_empty() {
            w.start("xta:AdditionalReports", &[]);
            for (key, data) in &self.additional_reports {
                w.start("xta:Report", &[]);
                w.start(
                    "xta:Key",
                    &[
                        ("listURI", key.list_uri.as_str()),
                        ("listVersionID", key.list_version_id.as_str()),
                    ],
                );
                w.leaf("code", &[], &key.code);
                w.end("xta:Key");
                w.start("xta:Data", &[]);
                w.base64(data);
                w.end("xta:Data");
                w.end("xta:Report");
            }
            w.end("xta:AdditionalReports");
        }
        w.end("xta:TransportReport");
    }

    /// Reads `xta:TransportReport` (a signature, if present, is not checked and not kept).
    pub fn parse(el: &Element<'_>, path: &str) -> Result<Self, Malformed> {
        let mut seq = el.seq(path)?;
        let metadata = MessageMetaData::parse(
            seq.required(NS_OSCIMETA, "MessageMetaData")?,
            &format!("{path}/MessageMetaData"),
        )?;
        let text = |e: &Element<'_>| -> Result<String, Malformed> {
            Ok(e.leaf_text(&format!("{path}/{}", e.local))?
                .trim()
                .to_string())
        };
        let report_time = text(seq.required(NS_XTA, "ReportTime")?)?;
        let server_identity = text(seq.required(NS_XTA, "XTAServerIdentity")?)?;
        let spath = format!("{path}/MessageStatus");
        let status_el = seq.required(NS_XTA, "MessageStatus")?;
        let mut ss = status_el.seq(&spath)?;
        let status_path = format!("{spath}/Status");
        let status = ReportStatus::from_code(parse_number(
            &status_path,
            &ss.required(NS_XTA, "Status")?.leaf_text(&status_path)?,
        )?);
        let mut lists: [Vec<ReportRecord>; 3] = Default::default();
        for (slot, (list, item)) in [
            ("ErrorList", "Error"),
            ("WarnList", "Warning"),
            ("InfoList", "Info"),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(l) = ss.optional(NS_XTA, list) else {
                continue;
            };
            let lpath = format!("{spath}/{list}");
            let mut ls = l.seq(&lpath)?;
            for r in ls.many(NS_XTA, item) {
                let rpath = format!("{lpath}/{item}");
                let mut rs = r.seq(&rpath)?;
                let timestamp = rs
                    .required(NS_XTA, "Timestamp")?
                    .leaf_text(&rpath)?
                    .trim()
                    .to_string();
                let code = KeyCode::parse(rs.required(NS_XTA, "Code")?, &format!("{rpath}/Code"))?;
                let reason = rs
                    .required(NS_XTA, "Reason")?
                    .leaf_text(&rpath)?
                    .into_owned();
                rs.finish()?;
                lists[slot].push(ReportRecord {
                    timestamp,
                    code,
                    reason,
                });
            }
            ls.finish()?;
        }
        ss.finish()?;
        let mut additional_reports = Vec::new();
        if let Some(a) = seq.optional(NS_XTA, "AdditionalReports") {
            let apath = format!("{path}/AdditionalReports");
            let mut as_ = a.seq(&apath)?;
            for r in as_.many(NS_XTA, "Report") {
                let rpath = format!("{apath}/Report");
                let mut rs = r.seq(&rpath)?;
                let key = KeyCode::parse(rs.required(NS_XTA, "Key")?, &format!("{rpath}/Key"))?;
                let dpath = format!("{rpath}/Data");
                let data = decode_base64(&dpath, &rs.required(NS_XTA, "Data")?.leaf_text(&dpath)?)?;
                rs.finish()?;
                additional_reports.push((key, Bytes::from(data)));
            }
            as_.finish()?;
        }
        seq.skip("http://www.w3.org/2000/09/xmldsig#", "Signature");
        seq.finish()?;
        let [errors, warnings, infos] = lists;
        Ok(TransportReport {
            metadata,
            report_time,
            server_identity,
            status,
            errors,
            warnings,
            infos,
            additional_reports,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsdl::NS_WSA;
    use crate::xml::{XmlLimits, parse};

    fn doc(write: impl FnOnce(&mut XmlWriter)) -> Vec<u8> {
        let mut w = XmlWriter::new();
        w.start(
            "root",
            &[
                ("xmlns:xta", NS_XTA),
                ("xmlns:oscimeta", NS_OSCIMETA),
                ("xmlns:wsa", NS_WSA),
            ],
        );
        write(&mut w);
        w.end("root");
        w.into_inner()
    }

    #[test]
    fn lookup_round_trip() {
        let queries = vec![ServiceQuery {
            reader: PartyIdentifier::xoev("ags:12052000"),
            service: "urn:xoev-de:xdomea:schema:xdomea_4.0".into(),
        }];
        let answers = vec![ServiceAvailability {
            reader: queries[0].reader.clone(),
            service: queries[0].service.clone(),
            availability: Availability::Available,
            parameters: vec![ServiceParameter {
                parameter_type: KeyCode::new(
                    "CERT",
                    "urn:de:xta:codeliste:service.parameter.type",
                    "1",
                ),
                resource: Bytes::from_static(b"cert"),
            }],
        }];
        let xml = doc(|w| {
            write_lookup_request(w, &queries);
            write_lookup_response(w, &answers);
        });
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let mut els = root.elements();
        assert_eq!(
            parse_lookup_request(els.next().unwrap(), "/q").unwrap(),
            queries
        );
        assert_eq!(
            parse_lookup_response(els.next().unwrap(), "/a").unwrap(),
            answers
        );
    }

    #[test]
    fn report_round_trip() {
        let report = TransportReport {
            metadata: crate::metadata::tests::sample(),
            report_time: "2026-01-01T00:00:00Z".into(),
            server_identity: "https://127.0.0.1".into(),
            status: ReportStatus::Green,
            errors: vec![],
            warnings: vec![],
            infos: vec![ReportRecord {
                timestamp: "2026-01-01T00:00:00Z".into(),
                code: KeyCode::new("DELIVERED", "urn:x", "1"),
                reason: "delivered".into(),
            }],
            additional_reports: vec![(
                KeyCode::new("OSCI", "urn:y", "1"),
                Bytes::from_static(b"x"),
            )],
        };
        let xml = doc(|w| report.write(w));
        let root = parse(&xml, &XmlLimits::default()).unwrap();
        let el = root.elements().next().unwrap();
        assert_eq!(TransportReport::parse(el, "/r").unwrap(), report);
    }
}
