//! Fuzz target: the path expression parser of XÖV mappings (operator-written, but parsed at
//! startup; a bad file must give an error naming the column, not a crash).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = amtsbote_xoev::fuzz_parse_mapping_path(text);
    }
});
