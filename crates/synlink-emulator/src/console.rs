//! The emulator's only way to the terminal: the `listening on URL` line on stdout (the
//! one line scripts read), and on stderr the CA file to trust with `--tls`, one line per
//! request (`METHOD PATH STATUS DURATIONms PRINCIPAL`), and a failed background save.
//! The crate denies `clippy::print_stdout` and `clippy::print_stderr` everywhere else.
//! Nothing here writes a token, a secret or a header value.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the one module of the emulator that writes to the terminal"
)]

use std::path::Path;

/// `listening on URL` on stdout (flushed: stdout is line-buffered).
pub fn listening(url: &str) {
    println!("listening on {url}");
}

/// Where the CA certificate of `--tls` is, on stderr.
pub fn tls_ca_file(path: &Path) {
    eprintln!("tls certificate (trust this CA): {}", path.display());
}

/// One answered request on stderr; `status` 0 is a connection dropped on purpose.
pub fn request(method: &str, path: &str, status: u16, duration_ms: u64, principal: &str) {
    eprintln!("{method} {path} {status} {duration_ms}ms {principal}");
}

/// A problem that does not stop the emulator, on stderr.
pub fn warning(message: &str) {
    eprintln!("emulator: {message}");
}
