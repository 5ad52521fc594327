//! Applies a mapping file to a message and prints the result, like `amtsbote mapping test`
//! does in the broker — for trying the mapping engine on its own:
//!
//! ```text
//! cargo run -p amtsbote-xoev --example map -- MAPPING.toml MESSAGE.xml
//! ```
//!
//! Prints the mapped document on stdout, warnings on stderr; on failure prints every
//! error on stderr and exits with status 1.

use std::process::ExitCode;

use amtsbote_xoev::Mapping;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mapping, message] = args.as_slice() else {
        eprintln!("usage: map MAPPING.toml MESSAGE.xml");
        return ExitCode::from(2);
    };
    let mapping = match Mapping::from_file(mapping) {
        Ok(mapping) => mapping,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let xml = match std::fs::read(message) {
        Ok(xml) => xml,
        Err(error) => {
            eprintln!("{message}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match mapping.render(&xml) {
        Ok(output) => {
            for warning in output.warnings() {
                eprintln!("warning: {warning}");
            }
            println!("{}", output.to_pretty_string());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
