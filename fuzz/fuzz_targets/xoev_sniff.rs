//! Fuzz target: the XÖV sniffer, which intake runs on every XML payload before anything else
//! looks at it. Any input must end in `Ok` or a `SniffError`, never a panic or a hang.
#![no_main]

use amtsbote_xoev::{Limits, inspect, sniff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = sniff(data, &limits);
    let _ = inspect(data, &limits);
});
