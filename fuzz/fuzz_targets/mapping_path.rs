//! Fuzz target: the path expression parser of XÖV mappings (operator-written, parsed at
//! startup; a bad file must give an error naming the column, not a crash).
//! Body: `amtsbote::fuzz::mapping_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    amtsbote::fuzz::mapping_path(data);
});
