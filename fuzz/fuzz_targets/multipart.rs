//! Fuzz target: a `multipart/form-data` body at the HTTP intake, read as `POST .../messages`
//! reads it (axum's extractor, part limits, one `document`, `attachment`s), then the document
//! check. Input: the first line is the Content-Type, the rest the body.
//! Body: `amtsbote::fuzz::multipart`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    amtsbote::fuzz::multipart(data);
});
