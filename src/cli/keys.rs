//! `amtsbote keys generate`: the key pairs a FIT-Connect destination needs.

use amtsbote_fit_connect::jose::generate_destination_keys;
use clap::Subcommand;
use std::path::PathBuf;
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
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Generate { out } = cmd;
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
