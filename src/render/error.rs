//! Rendering of the binary's one [`Error`]: the single place where a failed
//! command becomes text on stderr. Spec problems keep their snippets, plan
//! problems are listed together, everything else is one line and its hint.

use std::fmt::Write as _;

use crate::error::Error;
use crate::render::{diagnostic, progress};
use crate::spec::SpecError;

/// The text of an error, ready for stderr.
pub fn render(e: &Error, color: bool) -> String {
    let mut out = String::new();
    match e {
        Error::Spec(SpecError::Source(source)) => {
            let _ = writeln!(out, "error: {source}");
        }
        Error::Spec(SpecError::Invalid { file, diagnostics }) => {
            out.push_str(&diagnostic::render(file, diagnostics, color));
        }
        Error::Variables(diagnostics) => out.push_str(&diagnostic::render_plain(diagnostics)),
        Error::Cycles { file, cycles } => out.push_str(&diagnostic::render(file, cycles, color)),
        Error::Refresh(errors) => {
            // One paragraph per cause: a credential that fails, or an endpoint
            // that does not answer, is said once, not once per resource.
            let mut causes: Vec<(String, String, Vec<String>, Option<&str>)> = Vec::new();
            for error in errors {
                let key = error.cause_key();
                let request = error.request();
                match causes.iter_mut().find(|(k, _, _, _)| *k == key) {
                    Some((_, _, requests, _)) => requests.extend(request),
                    None => causes.push((
                        key,
                        error.cause(),
                        request.into_iter().collect(),
                        error.hint(),
                    )),
                }
            }
            for (_, cause, mut requests, hint) in causes {
                requests.sort();
                match requests.as_slice() {
                    [] => {
                        let _ = writeln!(out, "error: {cause}");
                    }
                    [one] => {
                        let _ = writeln!(out, "error: {one}: {cause}");
                    }
                    many => {
                        let _ = writeln!(
                            out,
                            "error: {cause}\n  ({} requests: {})",
                            many.len(),
                            progress::fold(many, 3)
                        );
                    }
                }
                if let Some(hint) = hint {
                    let _ = writeln!(out, "  hint: {hint}");
                }
            }
            let _ = writeln!(out, "error: {e}");
        }
        Error::Plan(errors) => {
            for error in errors {
                let _ = writeln!(out, "error: {}: {}", error.address, error.message);
                if let Some(h) = &error.hint {
                    let _ = writeln!(out, "  hint: {h}");
                }
            }
            let _ = writeln!(out, "error: {e}");
        }
        other => {
            let _ = writeln!(out, "error: {other}");
        }
    }
    if let Some(hint) = e.hint() {
        let _ = writeln!(out, "  hint: {hint}");
    }
    out
}

/// Prints an error on stderr.
pub fn emit(e: &Error, color: bool) {
    diagnostic::emit(&render(e, color));
}
