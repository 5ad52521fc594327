//! `amtsbote check`: everything a start would check, without starting.

use std::path::Path;
use std::process::ExitCode;

pub fn run(config_path: Option<&Path>) -> anyhow::Result<ExitCode> {
    let loaded = match crate::config::load(config_path) {
        Ok(l) => l,
        Err(errors) => return Ok(report(&errors)),
    };
    match crate::plan::check(&loaded) {
        Ok(summary) => {
            println!("configuration is valid: {summary}");
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => Ok(report(&errors)),
    }
}

fn report(errors: &[crate::config::ConfigError]) -> ExitCode {
    for e in errors {
        eprintln!("error: {e}");
    }
    eprintln!("{} problem(s) found", errors.len());
    ExitCode::from(1)
}
