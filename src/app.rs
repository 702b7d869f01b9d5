//! One function per command: builds the live objects once and wires the layers.

use std::process::ExitCode;

use crate::cli::{Cli, Command, SpecArgs};
use crate::emulator;
use crate::graph::Graph;
use crate::render;
use crate::spec::variables::Overrides;
use crate::spec::{self, LoadedSpec, SpecError};

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let color = render::stderr_color(cli.no_color);
    match cli.command {
        Command::Validate(args) => validate(&args, color),
        Command::Graph(args) => graph(&args, color),
        Command::Emulator(args) => run_emulator(args),
    }
}

/// Loads the spec and its graph, rendering every problem on failure.
fn load(args: &SpecArgs, color: bool) -> Option<(LoadedSpec, Graph)> {
    let overrides = match Overrides::collect(std::env::vars(), &args.var_files, &args.vars) {
        Ok(o) => o,
        Err(diags) => {
            render::diagnostic::emit(&render::diagnostic::render_plain(&diags));
            return None;
        }
    };
    let spec = match spec::load(&args.file, &overrides) {
        Ok(spec) => spec,
        Err(SpecError::Source(e)) => {
            render::diagnostic::error_line(&e.to_string());
            return None;
        }
        Err(SpecError::Invalid { file, diagnostics }) => {
            // A file that is not a spec at all gets its one-line cause.
            if let [only] = diagnostics.as_slice() {
                if only.address.is_none()
                    && (only.message.starts_with("invalid YAML")
                        || only.message.starts_with("the spec "))
                {
                    render::diagnostic::error_line(&render::diagnostic::header(&file, only));
                    return None;
                }
            }
            render::diagnostic::emit(&render::diagnostic::render(&file, &diagnostics, color));
            return None;
        }
    };
    if !spec.warnings.is_empty() {
        render::diagnostic::emit(&render::diagnostic::render(
            &spec.file,
            &spec.warnings,
            color,
        ));
    }
    match Graph::build(&spec) {
        Ok(graph) => Some((spec, graph)),
        Err(cycles) => {
            render::diagnostic::emit(&render::diagnostic::render(&spec.file, &cycles, color));
            None
        }
    }
}

fn validate(args: &SpecArgs, color: bool) -> ExitCode {
    match load(args, color) {
        Some((spec, graph)) => {
            render::summary::stdout(&render::summary::validate_summary(&spec, &graph));
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn graph(args: &SpecArgs, color: bool) -> ExitCode {
    match load(args, color) {
        Some((spec, graph)) => {
            render::summary::stdout(&graph.to_dot(&spec));
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn run_emulator(args: emulator::EmulatorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            render::diagnostic::error_line(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(emulator::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            render::diagnostic::error_line(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
