//! `amtsbote keys`: keys made before the broker first starts — the key pairs a FIT-Connect
//! destination needs (`generate`) and the payload encryption key (`payload`).

use amtsbote_fit_connect::jose::generate_destination_keys;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// Generate a destination's encryption and signing key pairs (RSA-4096). The private
    /// keys go to files only the current user can read; the public ones are to be registered
    /// in the FIT-Connect Self-Service-Portal.
    Generate {
        /// Directory to write the four JWK files to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Generate the payload encryption key (256 bit, 64 hex digits) into a new file only the
    /// current user can read (0600); never overwrites. Keep it outside the data directory and
    /// back it up separately: without it stored payloads cannot be read.
    Payload {
        /// The key file to create, e.g. /etc/amtsbote/payload.key.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Generate { out } => destination_keys(out),
        Command::Payload { out } => payload_key(&out),
    }
}

fn payload_key(out: &Path) -> anyhow::Result<ExitCode> {
    crate::at_rest::write_new_key(out)?;
    let shown = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    println!("{}  (payload key, mode 0600: keep secret)", shown.display());
    println!();
    println!("Point the broker at it (outside its data directory), in amtsbote.toml:");
    println!();
    println!("  [storage]");
    println!("  payload_key_file = \"{}\"", shown.display());
    println!();
    println!("Back the key up apart from the data: without it stored payloads cannot be read.");
    Ok(ExitCode::SUCCESS)
}

fn destination_keys(out: PathBuf) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&out)?;
    let files = [
        ("encryption.private.jwk.json", true),
        ("signing.private.jwk.json", true),
        ("encryption.public.jwk.json", false),
        ("signing.public.jwk.json", false),
    ];
    for (name, _) in files {
        if out.join(name).exists() {
            anyhow::bail!("{} exists; not overwriting a key", out.join(name).display());
        }
    }
    eprintln!("generating two RSA-4096 key pairs (takes a few seconds) …");
    let keys = generate_destination_keys()?;
    let texts = [
        keys.encryption.private.to_json(),
        keys.signing.private.to_json(),
        keys.encryption.public.to_json(),
        keys.signing.public.to_json(),
    ];
    for ((name, private), text) in files.iter().zip(texts) {
        let path = out.join(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if *private { 0o600 } else { 0o644 });
        }
        use std::io::Write;
        opts.open(&path)?.write_all(text.as_bytes())?;
        println!(
            "{}{}",
            path.display(),
            if *private {
                "  (private: keep secret)"
            } else {
                ""
            }
        );
    }
    println!();
    println!(
        "Register encryption.public.jwk.json and signing.public.jwk.json with the destination"
    );
    println!("in the FIT-Connect Self-Service-Portal; configure the private files as the source's");
    println!("decryption_keys and signing_key (see docs/configuration.md).");
    Ok(ExitCode::SUCCESS)
}
