//! One function per command: builds the live objects once and wires the layers.

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::emulator;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(_) | Command::Graph(_) => ExitCode::FAILURE,
        Command::Emulator(args) => run_emulator(args),
    }
}

fn run_emulator(args: emulator::EmulatorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            crate::render::diagnostic::error_line(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(emulator::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::render::diagnostic::error_line(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
