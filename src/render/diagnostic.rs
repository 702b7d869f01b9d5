//! Rendering of errors and warnings on stderr.

/// Prints a one-line error on stderr.
#[allow(clippy::print_stderr)]
pub fn error_line(message: &str) {
    eprintln!("error: {message}");
}
