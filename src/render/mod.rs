//! Everything a person sees: diagnostics, summaries, graphs, plans and progress.
//! Only this module (and `main`) writes to the terminal.

pub mod diagnostic;
pub mod error;
pub mod plan;
pub mod progress;
pub mod summary;

use std::io::IsTerminal;

/// Whether to use colour on stderr: a terminal, and neither `--no-color`,
/// `NO_COLOR` nor `CI` set.
pub fn stderr_color(no_color: bool) -> bool {
    !no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var_os("CI").is_none()
        && std::io::stderr().is_terminal()
}

/// Whether to use colour on stdout: a terminal, and neither `--no-color`,
/// `NO_COLOR` nor `CI` set.
pub fn stdout_color(no_color: bool) -> bool {
    !no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var_os("CI").is_none()
        && std::io::stdout().is_terminal()
}
