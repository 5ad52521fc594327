//! Fuzz target: what the XTA adapter does with an HTTP body from the other side — unpack
//! SOAP or MTOM by Content-Type, inline `xop:Include` parts, parse the SOAP envelope and a
//! fault if present. Input: the first line is the Content-Type, the rest the body.
#![no_main]

use amtsbote_xta::fault::SoapFault;
use amtsbote_xta::mtom::{Received, inline_xop};
use amtsbote_xta::soap::Envelope;
use amtsbote_xta::xml::{XmlLimits, parse};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else {
        return;
    };
    let body = Bytes::copy_from_slice(data.get(split + 1..).unwrap_or_default());
    let limits = XmlLimits::default();
    let _ = parse(&body, &limits);
    let Ok(received) = Received::from_http(content_type, body) else {
        return;
    };
    let Ok(xml) = inline_xop(&received) else {
        return;
    };
    if let Ok(envelope) = Envelope::parse(&xml, &limits) {
        let _ = envelope.body_elements().count();
        if let Some(fault) = envelope.fault() {
            let _ = SoapFault::parse(fault);
        }
    }
});
