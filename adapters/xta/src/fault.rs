//! XTA faults: the eight exception elements of `XTA-Webservice-Exceptions.xsd` and the error
//! numbers of the code list `urn:de:xta:webservice:codeliste:fehlernummer` (Fehlernummer) that
//! they carry, as SOAP 1.2 faults.
//!
//! On the wire an XTA fault is
//! `env:Fault/env:Detail/xta:<Kind>Exception/xta:errorCode` with the unqualified children
//! `code` (the number) and `name` (its text), `listURI`/`listVersionID` fixed by the XSD.
//! [`ErrorCode`] knows every number of the code list, its German name and its exception;
//! [`write_fault`] writes such a fault, [`SoapFault::parse`] reads any SOAP 1.2 fault (with or
//! without XTA detail).
//!
//! The retry split lives here, where the meaning of the codes is: permission errors (9010–9014)
//! are permanent for the account — nothing changes until someone fixes the account or the
//! certificate; technical problems (9030–9032) are transient.

use std::fmt;

use crate::wsdl::{FEHLERNUMMER_LIST_URI, FEHLERNUMMER_LIST_VERSION, NS_SOAP12, NS_XTA};
use crate::xml::{Element, Malformed, XmlWriter};

/// The exception types of XTA.wsdl (the `xta:*Exception` elements in a fault's detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExceptionKind {
    /// `PermissionDeniedException`: account locked or unknown, certificate expired or not
    /// matching, service not booked (9010–9014).
    PermissionDenied,
    /// `XTAWSTechnicalProblemException`: a problem inside the XTA server (9030–9032).
    TechnicalProblem,
    /// `ParameterIsNotValidException`: a wrong parameter (9020–9024; 9023 size limit, 9024
    /// duplicate MessageID).
    ParameterIsNotValid,
    /// `MessageSchemaViolationException`: a message violates its schema (9050–9052).
    MessageSchemaViolation,
    /// `MessageVirusDetectionException`: malicious code found (9060).
    MessageVirusDetection,
    /// `SyncAsyncException`: synchronous/asynchronous mismatch (9080, 9081).
    SyncAsync,
    /// `InvalidMessageIDException`: the MessageID is not known to the account (9070).
    InvalidMessageId,
    /// `CancelDeniedException`: a transport order cannot be withdrawn (9100, 9101).
    CancelDenied,
}

impl ExceptionKind {
    /// All kinds.
    pub const ALL: [ExceptionKind; 8] = [
        ExceptionKind::PermissionDenied,
        ExceptionKind::TechnicalProblem,
        ExceptionKind::ParameterIsNotValid,
        ExceptionKind::MessageSchemaViolation,
        ExceptionKind::MessageVirusDetection,
        ExceptionKind::SyncAsync,
        ExceptionKind::InvalidMessageId,
        ExceptionKind::CancelDenied,
    ];

    /// The element name in the fault detail.
    pub fn element(self) -> &'static str {
        match self {
            ExceptionKind::PermissionDenied => "PermissionDeniedException",
            ExceptionKind::TechnicalProblem => "XTAWSTechnicalProblemException",
            ExceptionKind::ParameterIsNotValid => "ParameterIsNotValidException",
            ExceptionKind::MessageSchemaViolation => "MessageSchemaViolationException",
            ExceptionKind::MessageVirusDetection => "MessageVirusDetectionException",
            ExceptionKind::SyncAsync => "SyncAsyncException",
            ExceptionKind::InvalidMessageId => "InvalidMessageIDException",
            ExceptionKind::CancelDenied => "CancelDeniedException",
        }
    }

    /// The kind of a detail element name.
    pub fn from_element(local: &str) -> Option<ExceptionKind> {
        ExceptionKind::ALL
            .into_iter()
            .find(|k| k.element() == local)
    }

    /// The SOAP 1.2 fault code: a technical problem is the receiver's, everything else the
    /// sender's.
    pub fn soap_code(self) -> SoapCode {
        match self {
            ExceptionKind::TechnicalProblem => SoapCode::Receiver,
            _ => SoapCode::Sender,
        }
    }
}

impl fmt::Display for ExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.element())
    }
}

/// A number from the XTA error code list (`Codelist.Fehlernummer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 9000 Unspezifizierter Fehler.
    pub const UNSPECIFIED: ErrorCode = ErrorCode(9000);
    /// 9010 Authentisierung/Zertifikat ist abgelaufen.
    pub const CERTIFICATE_EXPIRED: ErrorCode = ErrorCode(9010);
    /// 9011 Account ist gesperrt.
    pub const ACCOUNT_LOCKED: ErrorCode = ErrorCode(9011);
    /// 9012 Account nicht vorhanden.
    pub const ACCOUNT_UNKNOWN: ErrorCode = ErrorCode(9012);
    /// 9013 Dienst ist nicht gebucht.
    pub const SERVICE_NOT_BOOKED: ErrorCode = ErrorCode(9013);
    /// 9014 Authentisierung/Zertifikat passt nicht zur Absenderkennung.
    pub const IDENTITY_MISMATCH: ErrorCode = ErrorCode(9014);
    /// 9020 Keine Parameter vorhanden.
    pub const NO_PARAMETERS: ErrorCode = ErrorCode(9020);
    /// 9021 Keine gültige URI.
    pub const INVALID_URI: ErrorCode = ErrorCode(9021);
    /// 9022 Ungültige Parameterkombination.
    pub const INVALID_PARAMETER_COMBINATION: ErrorCode = ErrorCode(9022);
    /// 9023 Die Nachricht überschreitet die Größenbeschränkung.
    pub const MESSAGE_TOO_LARGE: ErrorCode = ErrorCode(9023);
    /// 9024 MessageID ist bereits vergeben.
    pub const DUPLICATE_MESSAGE_ID: ErrorCode = ErrorCode(9024);
    /// 9030 Interner Fehler beim XTA-Server bzw. XTA-Dienstleister.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(9030);
    /// 9031 Fehler beim externen Verzeichnisdienst.
    pub const DIRECTORY_ERROR: ErrorCode = ErrorCode(9031);
    /// 9032 Fehler bei der Zustellung.
    pub const DELIVERY_ERROR: ErrorCode = ErrorCode(9032);
    /// 9050 Fachnachricht ist nicht schemakonform.
    pub const SCHEMA_VIOLATION: ErrorCode = ErrorCode(9050);
    /// 9051 Fachnachricht trägt ein falsches Encoding.
    pub const WRONG_ENCODING: ErrorCode = ErrorCode(9051);
    /// 9052 Nachricht verletzt das entsprechende Service Profil.
    pub const SERVICE_PROFILE_VIOLATION: ErrorCode = ErrorCode(9052);
    /// 9060 Es wurde schadhafter Code ermittelt.
    pub const VIRUS_DETECTED: ErrorCode = ErrorCode(9060);
    /// 9070 MessageID für den Account nicht bekannt.
    pub const UNKNOWN_MESSAGE_ID: ErrorCode = ErrorCode(9070);
    /// 9080 Der Dienst wird nur asynchron angeboten.
    pub const ONLY_ASYNCHRONOUS: ErrorCode = ErrorCode(9080);
    /// 9081 Der Dienst wird nur synchron angeboten.
    pub const ONLY_SYNCHRONOUS: ErrorCode = ErrorCode(9081);
    /// 9100 Der durch den Schalter NotBefore gesetzte Termin ist verstrichen.
    pub const NOT_BEFORE_PASSED: ErrorCode = ErrorCode(9100);
    /// 9101 Der Schalter NotBefore wurde nicht gesetzt.
    pub const NOT_BEFORE_NOT_SET: ErrorCode = ErrorCode(9101);

    /// The code list's name of the number (German, as in the XSD), if it is in the list.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            9000 => "Unspezifizierter Fehler, als Freitext beschrieben",
            9010 => "Authentisierung/Zertifikat ist abgelaufen.",
            9011 => "Account ist gesperrt.",
            9012 => "Account nicht vorhanden.",
            9013 => "Dienst ist nicht gebucht.",
            9014 => "Authentisierung/Zertifikat passt nicht zur Absenderkennung.",
            9020 => "Keine Parameter vorhanden",
            9021 => "Keine gültige URI",
            9022 => "Ungültige Parameterkombination",
            9023 => "Die Nachricht überschreitet die Größenbeschränkung.",
            9024 => "MessageID ist bereits vergeben.",
            9030 => "Interner Fehler beim XTA-Server bzw. XTA-Dienstleister",
            9031 => "Fehler beim externen Verzeichnisdienst",
            9032 => "Fehler bei der Zustellung",
            9050 => "Fachnachricht ist nicht schemakonform",
            9051 => "Fachnachricht trägt ein falsches Encoding.",
            9052 => "Nachricht verletzt das entsprechende Service Profil.",
            9060 => "Es wurde schadhafter Code ermittelt.",
            9070 => "MessageID für den Account nicht bekannt.",
            9080 => "Der Dienst wird nur asynchron angeboten.",
            9081 => "Der Dienst wird nur synchron angeboten.",
            9100 => "Der durch den Schalter NotBefore gesetzte Termin ist verstrichen.",
            9101 => "Der Schalter NotBefore wurde nicht gesetzt.",
            _ => return None,
        })
    }

    /// The exception the code list assigns the number to.
    pub fn exception(self) -> Option<ExceptionKind> {
        Some(match self.0 {
            9010..=9014 => ExceptionKind::PermissionDenied,
            9020..=9024 => ExceptionKind::ParameterIsNotValid,
            9030..=9032 => ExceptionKind::TechnicalProblem,
            9050..=9052 => ExceptionKind::MessageSchemaViolation,
            9060 => ExceptionKind::MessageVirusDetection,
            9070 => ExceptionKind::InvalidMessageId,
            9080 | 9081 => ExceptionKind::SyncAsync,
            9100 | 9101 => ExceptionKind::CancelDenied,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The SOAP 1.2 fault codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoapCode {
    /// `env:Sender`: the request was wrong.
    Sender,
    /// `env:Receiver`: the server failed.
    Receiver,
    /// `env:VersionMismatch`: not a SOAP 1.2 envelope.
    VersionMismatch,
    /// `env:MustUnderstand`: a mandatory header block was not understood.
    MustUnderstand,
    /// `env:DataEncodingUnknown`.
    DataEncodingUnknown,
}

impl SoapCode {
    fn local(self) -> &'static str {
        match self {
            SoapCode::Sender => "Sender",
            SoapCode::Receiver => "Receiver",
            SoapCode::VersionMismatch => "VersionMismatch",
            SoapCode::MustUnderstand => "MustUnderstand",
            SoapCode::DataEncodingUnknown => "DataEncodingUnknown",
        }
    }

    fn from_local(local: &str) -> Option<SoapCode> {
        [
            SoapCode::Sender,
            SoapCode::Receiver,
            SoapCode::VersionMismatch,
            SoapCode::MustUnderstand,
            SoapCode::DataEncodingUnknown,
        ]
        .into_iter()
        .find(|c| c.local() == local)
    }
}

/// The XTA part of a fault: which exception, which error number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XtaFault {
    /// The exception element.
    pub kind: ExceptionKind,
    /// `errorCode/code` as sent (a number of the code list, normally).
    pub code: String,
    /// `errorCode/name` as sent (the code list text; may be absent).
    pub name: Option<String>,
}

impl XtaFault {
    /// The error number, if `code` is numeric.
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code.trim().parse().ok().map(ErrorCode)
    }
}

/// A SOAP 1.2 fault as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// `env:Code/env:Value` (if it is one of the five SOAP codes).
    pub code: Option<SoapCode>,
    /// `env:Code/env:Subcode/env:Value`, as written (a QName such as `wsa:ActionNotSupported`).
    pub subcode: Option<String>,
    /// The first `env:Reason/env:Text`. Server-written text: shown to operators only on
    /// request, never put into error messages by this crate.
    pub reason: String,
    /// The XTA exception in `env:Detail`, if any.
    pub xta: Option<XtaFault>,
}

impl SoapFault {
    /// Reads an `env:Fault` element.
    pub fn parse(fault: &Element<'_>) -> Result<SoapFault, Malformed> {
        let path = "/Envelope/Body/Fault";
        let mut seq = fault.seq(path)?;
        let code = seq.required(NS_SOAP12, "Code")?;
        let reason = seq.required(NS_SOAP12, "Reason")?;
        seq.optional(NS_SOAP12, "Node");
        seq.optional(NS_SOAP12, "Role");
        let detail = seq.optional(NS_SOAP12, "Detail");
        seq.finish()?;
        let value = code
            .child(NS_SOAP12, "Value")
            .ok_or_else(|| {
                Malformed::new(format!("{path}/Code/Value"), "required element missing")
            })?
            .text();
        let local = value.rsplit(':').next().unwrap_or_default().trim();
        let subcode = code
            .child(NS_SOAP12, "Subcode")
            .and_then(|s| s.child(NS_SOAP12, "Value"))
            .map(|v| v.text().trim().to_string());
        let reason = reason
            .child(NS_SOAP12, "Text")
            .map(|t| t.text().into_owned())
            .unwrap_or_default();
        let mut xta = None;
        if let Some(detail) = detail {
            for el in detail.elements() {
                let Some(kind) = (el.ns.as_deref() == Some(NS_XTA))
                    .then(|| ExceptionKind::from_element(&el.local))
                    .flatten()
                else {
                    continue;
                };
                let error_code = el.child(NS_XTA, "errorCode");
                let code = error_code
                    .and_then(|c| c.elements().find(|e| e.ns.is_none() && e.local == "code"))
                    .map(|c| c.text().trim().to_string())
                    .unwrap_or_default();
                let name = error_code
                    .and_then(|c| c.elements().find(|e| e.ns.is_none() && e.local == "name"))
                    .map(|c| c.text().trim().to_string());
                xta = Some(XtaFault { kind, code, name });
                break;
            }
        }
        Ok(SoapFault {
            code: SoapCode::from_local(local),
            subcode,
            reason,
            xta,
        })
    }
}

/// Writes an XTA fault: `env:Fault` with the exception and its error number in the detail.
/// `reason` must not contain message content.
pub fn write_fault(w: &mut XmlWriter, kind: ExceptionKind, code: ErrorCode, reason: &str) {
    w.start("env:Fault", &[]);
    write_code_and_reason(w, kind.soap_code(), None, reason);
    w.start("env:Detail", &[]);
    let element = format!("xta:{}", kind.element());
    w.start(&element, &[]);
    w.start(
        "xta:errorCode",
        &[
            ("listURI", FEHLERNUMMER_LIST_URI),
            ("listVersionID", FEHLERNUMMER_LIST_VERSION),
        ],
    );
    w.leaf("code", &[], &code.to_string());
    w.leaf("name", &[], code.name().unwrap_or("Unbekannter Fehler"));
    w.end("xta:errorCode");
    w.end(&element);
    w.end("env:Detail");
    w.end("env:Fault");
}

/// Writes a plain SOAP fault without XTA detail (version mismatch, not understood headers,
/// WS-Addressing faults). `subcode` is a QName whose prefix the envelope declares
/// (e.g. `wsa:ActionNotSupported`).
pub fn write_soap_fault(w: &mut XmlWriter, code: SoapCode, subcode: Option<&str>, reason: &str) {
    w.start("env:Fault", &[]);
    write_code_and_reason(w, code, subcode, reason);
    w.end("env:Fault");
}

fn write_code_and_reason(w: &mut XmlWriter, code: SoapCode, subcode: Option<&str>, reason: &str) {
    w.start("env:Code", &[]);
    w.leaf("env:Value", &[], &format!("env:{}", code.local()));
    if let Some(subcode) = subcode {
        w.start("env:Subcode", &[]);
        w.leaf("env:Value", &[], subcode);
        w.end("env:Subcode");
    }
    w.end("env:Code");
    w.start("env:Reason", &[]);
    w.leaf("env:Text", &[("xml:lang", "en")], reason);
    w.end("env:Reason");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{XmlLimits, parse};

    #[test]
    fn every_code_maps_to_its_exception() {
        for (code, kind) in [
            (9010, ExceptionKind::PermissionDenied),
            (9014, ExceptionKind::PermissionDenied),
            (9023, ExceptionKind::ParameterIsNotValid),
            (9024, ExceptionKind::ParameterIsNotValid),
            (9031, ExceptionKind::TechnicalProblem),
            (9051, ExceptionKind::MessageSchemaViolation),
            (9060, ExceptionKind::MessageVirusDetection),
            (9070, ExceptionKind::InvalidMessageId),
            (9081, ExceptionKind::SyncAsync),
            (9101, ExceptionKind::CancelDenied),
        ] {
            assert_eq!(ErrorCode(code).exception(), Some(kind), "{code}");
            assert!(ErrorCode(code).name().is_some());
        }
        assert_eq!(ErrorCode(1234).exception(), None);
    }

    #[test]
    fn fault_round_trip() {
        let mut w = XmlWriter::new();
        w.start(
            "env:Body",
            &[("xmlns:env", NS_SOAP12), ("xmlns:xta", NS_XTA)],
        );
        write_fault(
            &mut w,
            ExceptionKind::InvalidMessageId,
            ErrorCode::UNKNOWN_MESSAGE_ID,
            "no such message",
        );
        w.end("env:Body");
        let xml = w.into_inner();
        let body = parse(&xml, &XmlLimits::default()).unwrap();
        let fault = SoapFault::parse(body.child(NS_SOAP12, "Fault").unwrap()).unwrap();
        assert_eq!(fault.code, Some(SoapCode::Sender));
        assert_eq!(fault.reason, "no such message");
        let xta = fault.xta.unwrap();
        assert_eq!(xta.kind, ExceptionKind::InvalidMessageId);
        assert_eq!(xta.error_code(), Some(ErrorCode::UNKNOWN_MESSAGE_ID));
        assert_eq!(xta.name.as_deref(), ErrorCode(9070).name());
    }
}
