//! Fuzz target: the XÖV sniffer and header inspection, which intake runs on every XML payload
//! before anything else looks at it. Body: `amtsbote::fuzz::xoev_sniff`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    amtsbote::fuzz::xoev_sniff(data);
});
