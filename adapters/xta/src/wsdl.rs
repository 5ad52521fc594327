//! What `XTA.wsdl` (XTA-Webservice v3/v4, namespace `http://xoev.de/transport/xta/211`) fixes
//! about the wire, in one place: the XML namespaces, the three ports, the operations, and the
//! SOAP action of each operation. Client and sandbox both dispatch on [`Operation`], so the two
//! can never disagree about an action string.
//!
//! Verified against the WSDL (`schemas/XTA.wsdl`): operation names, `wsam:Action` values (the
//! WSDL uses the same value for input, output and faults of an operation, and the binding's
//! `soapAction` equals it), message element names, header blocks, SOAP 1.2 binding, MTOM policy
//! (`wspmtom:OptimizedMimeSerialization`), WS-Addressing required with anonymous responses,
//! HTTPS with a client certificate (`sp:HttpsToken RequireClientCertificate="true"`).
//!
//! *Unverified*: the WSDL leaves the endpoint addresses open (`REPLACE_WITH_ACTUAL_URL`). The
//! default paths in [`Port::default_path`] follow the Governikus MultiMessenger layout seen in
//! client configurations of existing XTA v3 users (`/MB_XTA-WS/XTA210msgBoxPort.svc`); other
//! products (e.g. bos GovGateway: `/GovGateway211/management211`, `/send211`) use other paths.
//! Servers built on JAX-WS/Apache CXF publish a WSDL's ports under `/services/<service>/<port>`,
//! which for XTA.wsdl (service `XTAService`, ports `ManagementPort`, `SendXtaPort`,
//! `MsgBoxPort`) gives [`Port::service_path`]; the sandbox answers on both layouts. Every
//! client and the sandbox take the three URLs/paths from configuration.

use std::fmt;

/// XTA 2 web service namespace (v3/v4 of the web service specification).
pub const NS_XTA: &str = "http://xoev.de/transport/xta/211";
/// OSCI Transport 2 namespace (MsgBox requests and responses, X509TokenContainer).
pub const NS_OSCI: &str = "http://www.osci.eu/ws/2008/05/transport";
/// OSCI message metadata namespace (`MessageMetaData`, `Author`, `Reader`, ...).
pub const NS_OSCIMETA: &str = "http://www.osci.eu/ws/2014/10/transport";
/// SOAP 1.2 envelope namespace.
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1 envelope namespace (only recognised, to answer with a version mismatch).
pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// WS-Addressing 1.0 namespace.
pub const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
/// XOP include namespace (MTOM).
pub const NS_XOP: &str = "http://www.w3.org/2004/08/xop/include";
/// The WS-Addressing anonymous address (`ReplyTo` of every request: answer on this connection).
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
/// The WS-Addressing default action of faults that belong to no operation.
pub const WSA_FAULT_ACTION: &str = "http://www.w3.org/2005/08/addressing/soap/fault";
/// Code list of XTA error numbers (`errorCode/@listURI`, fixed in the XSD).
pub const FEHLERNUMMER_LIST_URI: &str = "urn:de:xta:webservice:codeliste:fehlernummer";
/// Version of that code list (fixed in the XSD).
pub const FEHLERNUMMER_LIST_VERSION: &str = "1.0";

/// The three ports (services) of an XTA server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// `managementPortType`: account check, message ids, service lookup, transport reports.
    Management,
    /// `sendPortType`: hand a message to the XTA server for transport.
    Send,
    /// `msgBoxPortType`: read the mailbox (status list, fetch, close).
    MsgBox,
}

impl Port {
    /// All ports.
    pub const ALL: [Port; 3] = [Port::Management, Port::Send, Port::MsgBox];

    /// The WSDL's port name.
    pub fn wsdl_name(self) -> &'static str {
        match self {
            Port::Management => "ManagementPort",
            Port::Send => "SendXtaPort",
            Port::MsgBox => "MsgBoxPort",
        }
    }

    /// Default HTTP path of the port. *Unverified* (the WSDL leaves addresses open): the
    /// Governikus MultiMessenger layout, of which `/MB_XTA-WS/XTA210msgBoxPort.svc` appears in
    /// published client configurations and the other two follow by name. Configure the real
    /// URLs of your XTA server.
    pub fn default_path(self) -> &'static str {
        match self {
            Port::Management => "/MB_XTA-WS/XTA210managementPort.svc",
            Port::Send => "/MB_XTA-WS/XTA210sendPort.svc",
            Port::MsgBox => "/MB_XTA-WS/XTA210msgBoxPort.svc",
        }
    }
}

impl Port {
    /// The WSDL's service name (`<service name="XTAService">`).
    pub const SERVICE_NAME: &'static str = "XTAService";

    /// The path named after the WSDL's service and port (`/services/XTAService/MsgBoxPort`),
    /// as JAX-WS/CXF-based XTA servers publish it. *Unverified* for any one product.
    pub fn service_path(self) -> String {
        format!("/services/{}/{}", Self::SERVICE_NAME, self.wsdl_name())
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wsdl_name())
    }
}

/// The operations of XTA.wsdl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// ManagementPort `checkAccountActive`: empty body; success means the account is active.
    CheckAccountActive,
    /// ManagementPort `lookupService`: is a reader reachable for a service?
    LookupService,
    /// ManagementPort `getTransportReport`: the transport report of a message.
    GetTransportReport,
    /// ManagementPort `cancelMessage`: withdraw a transport order (not implemented by the
    /// client; the sandbox answers `CancelDeniedException`).
    CancelMessage,
    /// ManagementPort `createMessageId`: a fresh MessageID from the server.
    CreateMessageId,
    /// SendPort `sendMessage`: asynchronous transport of a message.
    SendMessage,
    /// SendPort `sendMessageSync`: synchronous transport (not supported; the sandbox answers
    /// `SyncAsyncException` 9080).
    SendMessageSync,
    /// MsgBoxPort `getMessage`: fetch one message by MessageID.
    GetMessage,
    /// MsgBoxPort `getStatusList`: list the mailbox.
    GetStatusList,
    /// MsgBoxPort `getNextMessage`: fetch by iterator (not implemented by the client).
    GetNextMessage,
    /// MsgBoxPort `getNextStatusList`: next page of a status list.
    GetNextStatusList,
    /// MsgBoxPort `close`: confirm received messages / release an iterator.
    Close,
}

impl Operation {
    /// All operations.
    pub const ALL: [Operation; 12] = [
        Operation::CheckAccountActive,
        Operation::LookupService,
        Operation::GetTransportReport,
        Operation::CancelMessage,
        Operation::CreateMessageId,
        Operation::SendMessage,
        Operation::SendMessageSync,
        Operation::GetMessage,
        Operation::GetStatusList,
        Operation::GetNextMessage,
        Operation::GetNextStatusList,
        Operation::Close,
    ];

    /// The WSDL operation name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CheckAccountActive => "checkAccountActive",
            Operation::LookupService => "lookupService",
            Operation::GetTransportReport => "getTransportReport",
            Operation::CancelMessage => "cancelMessage",
            Operation::CreateMessageId => "createMessageId",
            Operation::SendMessage => "sendMessage",
            Operation::SendMessageSync => "sendMessageSync",
            Operation::GetMessage => "getMessage",
            Operation::GetStatusList => "getStatusList",
            Operation::GetNextMessage => "getNextMessage",
            Operation::GetNextStatusList => "getNextStatusList",
            Operation::Close => "close",
        }
    }

    /// The port the operation belongs to.
    pub fn port(self) -> Port {
        match self {
            Operation::CheckAccountActive
            | Operation::LookupService
            | Operation::GetTransportReport
            | Operation::CancelMessage
            | Operation::CreateMessageId => Port::Management,
            Operation::SendMessage | Operation::SendMessageSync => Port::Send,
            Operation::GetMessage
            | Operation::GetStatusList
            | Operation::GetNextMessage
            | Operation::GetNextStatusList
            | Operation::Close => Port::MsgBox,
        }
    }

    /// The `wsam:Action` (= SOAP 1.2 `action`) of the operation's input, output and faults.
    /// Note the MsgBox actions: `getNextMessage` is `MsgBoxGetNextMsgRequest` and
    /// `getNextStatusList` is `MsgBoxGetNextListRequest`, although both bodies are
    /// `osci:MsgBoxGetNextRequest`; `lookupService` is `IsServiceAvailable`.
    pub fn action(self) -> &'static str {
        match self {
            Operation::CheckAccountActive => "http://www.xta.de/XTA/CheckAccountActive",
            Operation::LookupService => "http://www.xta.de/XTA/IsServiceAvailable",
            Operation::GetTransportReport => "http://www.xta.de/XTA/GetTransportReport",
            Operation::CancelMessage => "http://www.xta.de/XTA/CancelMessage",
            Operation::CreateMessageId => "http://www.xta.de/XTA/CreateMessageID",
            Operation::SendMessage => "http://www.xta.de/XTA/SendMessage",
            Operation::SendMessageSync => "http://www.xta.de/XTA/SendMessageSync",
            Operation::GetMessage => {
                "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxFetchRequest"
            }
            Operation::GetStatusList => {
                "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxStatusListRequest"
            }
            Operation::GetNextMessage => {
                "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxGetNextMsgRequest"
            }
            Operation::GetNextStatusList => {
                "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxGetNextListRequest"
            }
            Operation::Close => {
                "http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxCloseRequest"
            }
        }
    }

    /// The operation whose action this is.
    pub fn from_action(action: &str) -> Option<Operation> {
        let action = action.trim();
        Operation::ALL.into_iter().find(|op| op.action() == action)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action and operation name in this module appears in the WSDL, bound to the
    /// operation we say it belongs to.
    #[test]
    fn actions_match_the_wsdl() {
        let wsdl = include_str!("../schemas/XTA.wsdl");
        for op in Operation::ALL {
            let needle = format!("<operation name=\"{}\">\n      <input message=", op.name());
            let at = wsdl
                .find(&needle)
                .unwrap_or_else(|| panic!("{op} not in a portType"));
            let rest = &wsdl[at..];
            let input_action = rest
                .split("wsam:Action=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap();
            assert_eq!(input_action, op.action(), "{op}");
            let soap_action = format!(
                "<soap:operation soapAction=\"{}\" soapActionRequired=\"true\"",
                op.action()
            );
            assert!(wsdl.contains(&soap_action), "{op}: binding soapAction");
            assert_eq!(Operation::from_action(op.action()), Some(op));
        }
    }
}
