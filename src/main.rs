//! The `amtsbote` command: see `amtsbote --help`.

fn main() -> std::process::ExitCode {
    amtsbote::cli::main()
}
