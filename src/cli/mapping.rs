//! `amtsbote mapping test`: try a mapping file on a message by hand, before a route uses it.

use amtsbote_xoev::Mapping;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Apply MAPPING to MESSAGE: the mapped document on stdout, or the exact errors (mapping
    /// file line, field, missing path) on stderr and exit code 1.
    Test { mapping: PathBuf, message: PathBuf },
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Test { mapping, message } = cmd;
    let mapping = match Mapping::from_file(&mapping) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let xml = std::fs::read(&message)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", message.display()))?;
    match mapping.render(&xml) {
        Ok(output) => {
            for w in output.warnings() {
                eprintln!("warning: {w}");
            }
            println!("{}", output.to_pretty_string());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
