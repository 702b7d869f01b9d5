//! The `synlink` binary: parse arguments, run the command, exit with its code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = synlink::cli::Cli::parse();
    synlink::app::run(cli)
}
