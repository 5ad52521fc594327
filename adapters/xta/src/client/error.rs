//! Errors of the XTA client, split the way an inbound adapter decides what to do next:
//!
//! - [`XtaError::is_permanent_for_account`]: the XTA server will not let this account in until
//!   someone changes something — a `PermissionDeniedException` (9010–9014: certificate expired,
//!   account locked or unknown, service not booked, certificate not matching the identity), or
//!   the TLS handshake refused our client certificate (expired, unknown CA, missing). Stop
//!   polling the account, alert, check again later with `checkAccountActive`.
//! - [`XtaError::is_transient`]: worth retrying later with backoff — `XTAWSTechnicalProblem`
//!   (9030–9032), other receiver faults, HTTP 5xx/408/429, connection failures, timeouts.
//! - everything else is about one request or one message (unknown MessageID 9070, size limit
//!   9023, schema violation 9050…): handle it for that message, do not retry it unchanged.
//!
//! Messages say what happened in which operation and what to check. They never contain message
//! content, passwords or key material; the server's free-text fault reason is kept in the error
//! (for an operator who asks for it) but not printed.

use thiserror::Error;

use crate::fault::{ErrorCode, ExceptionKind, SoapCode, XtaFault};
use crate::wsdl::Operation;

/// Loading the client certificate or the trust anchors failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    Read {
        /// What the file is for.
        what: &'static str,
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a PKCS#12 file, or the password does not open it.
    #[error(
        "the client certificate {source_name} cannot be opened: {reason} (wrong password, or not a PKCS#12 file)"
    )]
    Pkcs12 {
        /// File name or `<memory>`.
        source_name: String,
        /// OpenSSL's reason (no secrets).
        reason: String,
    },
    /// The PKCS#12 file lacks a private key or certificate.
    #[error("the client certificate {source_name} contains no {missing}")]
    Incomplete {
        /// File name or `<memory>`.
        source_name: String,
        /// What is missing.
        missing: &'static str,
    },
    /// A PEM certificate (trust anchor) is unusable.
    #[error("the CA certificate {source_name} is unusable: {reason}")]
    Ca {
        /// File name or `<memory>`.
        source_name: String,
        /// Why.
        reason: String,
    },
}

/// What went wrong talking to an XTA server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum XtaError {
    /// The server answered with an XTA fault (an `xta:*Exception` with an error number).
    #[error("{operation}: the XTA server answered {} {}{}{}", fault.kind, fault.code, fault.error_code().and_then(ErrorCode::name).map(|n| format!(" ({n})")).unwrap_or_default(), advice(fault))]
    Fault {
        /// The operation.
        operation: Operation,
        /// Exception and error number.
        fault: XtaFault,
        /// The server's `env:Reason` text (not printed: server-written free text).
        reason: String,
    },
    /// The server answered with a SOAP fault without XTA detail.
    #[error("{operation}: the XTA server answered with a SOAP fault ({}{})", code.map(|c| format!("{c:?}")).unwrap_or_else(|| "unknown code".into()), subcode.as_deref().map(|s| format!(", {s}")).unwrap_or_default())]
    SoapFault {
        /// The operation.
        operation: Operation,
        /// The SOAP fault code.
        code: Option<SoapCode>,
        /// The subcode (e.g. `wsa:ActionNotSupported`).
        subcode: Option<String>,
        /// The server's `env:Reason` text (not printed).
        reason: String,
    },
    /// The TLS handshake failed because the server refused our client certificate (expired,
    /// issued by a CA it does not trust, revoked, or none sent).
    #[error(
        "{operation}: the XTA server refused the TLS client certificate ({alert}); check the account's certificate (validity, issuer) with the XTA provider"
    )]
    ClientCertificateRefused {
        /// The operation.
        operation: Operation,
        /// The TLS alert received.
        alert: String,
    },
    /// We do not trust the server's certificate.
    #[error(
        "{operation}: the XTA server's TLS certificate is not trusted ({reason}); check the configured CA certificate and the endpoint URL"
    )]
    ServerCertificate {
        /// The operation.
        operation: Operation,
        /// Why (rustls' verdict).
        reason: String,
    },
    /// Another TLS failure.
    #[error("{operation}: TLS with the XTA server failed ({reason})")]
    Tls {
        /// The operation.
        operation: Operation,
        /// Why.
        reason: String,
    },
    /// Connection failure (refused, reset, DNS).
    #[error("{operation}: could not reach the XTA server ({source})")]
    Connect {
        /// The operation.
        operation: Operation,
        /// The underlying error (contains the URL, never credentials).
        #[source]
        source: reqwest::Error,
    },
    /// No answer in time.
    #[error("{operation}: no answer from the XTA server within the timeout")]
    Timeout {
        /// The operation.
        operation: Operation,
    },
    /// An HTTP error status without a SOAP fault (e.g. 503 during maintenance, 404 for a
    /// wrong endpoint path).
    #[error("{operation}: the XTA server answered HTTP {status} without a SOAP fault{}", if *status == 404 { "; check the endpoint URL of the port" } else { "" })]
    Status {
        /// The operation.
        operation: Operation,
        /// HTTP status.
        status: u16,
    },
    /// The answer could not be read (not SOAP, malformed, too large, wrong structure).
    #[error("{operation}: unexpected answer from the XTA server: {reason}")]
    Decode {
        /// The operation.
        operation: Operation,
        /// What was wrong (names elements, never content).
        reason: String,
    },
    /// The client certificate or CA could not be loaded.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The configuration is unusable.
    #[error("XTA client configuration: {0}")]
    Config(String),
}

fn advice(fault: &XtaFault) -> &'static str {
    match fault.kind {
        ExceptionKind::PermissionDenied => {
            "; the account is not usable: check account, client certificate and identifiers with the XTA provider"
        }
        ExceptionKind::TechnicalProblem => "; a problem of the XTA server, retry later",
        _ => "",
    }
}

impl XtaError {
    /// The operation that failed (`None` for configuration errors).
    pub fn operation(&self) -> Option<Operation> {
        match self {
            XtaError::Fault { operation, .. }
            | XtaError::SoapFault { operation, .. }
            | XtaError::ClientCertificateRefused { operation, .. }
            | XtaError::ServerCertificate { operation, .. }
            | XtaError::Tls { operation, .. }
            | XtaError::Connect { operation, .. }
            | XtaError::Timeout { operation }
            | XtaError::Status { operation, .. }
            | XtaError::Decode { operation, .. } => Some(*operation),
            XtaError::Identity(_) | XtaError::Config(_) => None,
        }
    }

    /// The XTA exception, if the server sent one.
    pub fn exception(&self) -> Option<ExceptionKind> {
        match self {
            XtaError::Fault { fault, .. } => Some(fault.kind),
            _ => None,
        }
    }

    /// The XTA error number, if the server sent one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            XtaError::Fault { fault, .. } => fault.error_code(),
            _ => None,
        }
    }

    /// The server's free-text reason of a fault (may quote anything the server chose; log it
    /// only where server texts may go).
    pub fn server_reason(&self) -> Option<&str> {
        match self {
            XtaError::Fault { reason, .. } | XtaError::SoapFault { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The account cannot be used until someone acts: permission faults (9010–9014) and a
    /// refused client certificate. Stop polling the account and alert.
    pub fn is_permanent_for_account(&self) -> bool {
        match self {
            XtaError::Fault { fault, .. } => fault.kind == ExceptionKind::PermissionDenied,
            XtaError::ClientCertificateRefused { .. } => true,
            _ => false,
        }
    }

    /// Worth retrying later: technical faults (9030–9032), receiver faults, HTTP 5xx, 408,
    /// 429, connection failures, timeouts.
    pub fn is_transient(&self) -> bool {
        match self {
            XtaError::Fault { fault, .. } => fault.kind == ExceptionKind::TechnicalProblem,
            XtaError::SoapFault { code, .. } => *code == Some(SoapCode::Receiver),
            XtaError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            XtaError::Connect { .. } | XtaError::Timeout { .. } => true,
            _ => false,
        }
    }
}
