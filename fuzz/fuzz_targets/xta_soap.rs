//! Fuzz target: what the XTA client does with an HTTP answer from the server — unpack SOAP or
//! MTOM by Content-Type, parse the envelope and a fault, run every operation's decoder
//! (content containers with `xop:Include` parts, status lists, reports). Input: the first line
//! is the Content-Type, the rest the body. Body: `amtsbote::fuzz::xta_soap`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    amtsbote::fuzz::xta_soap(data);
});
