//! `amtsbote sandbox`: local stand-ins for outside systems, for trying a route before going
//! live.

use crate::sandbox::fachverfahren::{Behaviour, SampleFachverfahren};
use clap::Subcommand;
use std::net::SocketAddr;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Command {
    /// A sample Fachverfahren that accepts and records deliveries (see `/_sandbox/received`).
    Fachverfahren {
        #[arg(long, default_value = "127.0.0.1:8471")]
        listen: SocketAddr,
        /// One in N messages gets 503 on its first attempt (0 = never).
        #[arg(long, default_value_t = 0)]
        fail_every: u32,
    },
}

pub async fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Fachverfahren { listen, fail_every } => {
            let behaviour = Behaviour {
                fail_every,
                fail_attempts: 1,
                ..Default::default()
            };
            let fv = SampleFachverfahren::start(listen, behaviour).await?;
            println!(
                "sample Fachverfahren listening on http://{} (POST any path; GET /_sandbox/received)",
                fv.addr
            );
            tokio::signal::ctrl_c().await?;
            fv.stop();
            Ok(ExitCode::SUCCESS)
        }
    }
}
