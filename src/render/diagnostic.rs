//! Rendering of spec diagnostics (with `miette`: the message, the `file:line:col`,
//! a snippet with the offending value underlined, and the hint) and of one-line
//! errors, on stderr.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::spec::diagnostic::{Diagnostic, Severity};
use crate::spec::source::SourceFile;

/// Prints a one-line error on stderr.
#[allow(clippy::print_stderr)]
pub fn error_line(message: &str) {
    eprintln!("error: {message}");
}

/// Prints rendered text on stderr as is.
#[allow(clippy::print_stderr)]
pub fn emit(text: &str) {
    eprint!("{text}");
}

struct Shown<'a> {
    d: &'a Diagnostic,
    title: String,
    source: &'a NamedSource<Arc<str>>,
    offset: Option<usize>,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.title)
    }
}

impl std::error::Error for Shown<'_> {}

impl miette::Diagnostic for Shown<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.offset.map(|_| self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.offset.map(|o| {
            Box::new(std::iter::once(LabeledSpan::new(None, o, 1)))
                as Box<dyn Iterator<Item = LabeledSpan>>
        })
    }
}

/// Byte offsets of the start of each line.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The plain header of a diagnostic: `path:line:col: address: message`.
pub fn header(file: &SourceFile, d: &Diagnostic) -> String {
    let mut s = file.path.display().to_string();
    if let Some(p) = d.pos {
        s.push_str(&format!(":{}:{}", p.line, p.col));
    }
    s.push_str(": ");
    if let Some(a) = &d.address {
        s.push_str(a);
        s.push_str(": ");
    }
    s.push_str(&d.message);
    s
}

/// Renders every diagnostic (errors and warnings) of a file, then a count.
pub fn render(file: &SourceFile, diags: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_context_lines(1)
        .with_width(200)
        .with_wrap_lines(false)
        .with_links(false);
    let text: Arc<str> = Arc::from(file.text.as_str());
    let starts = line_starts(&text);
    let source = NamedSource::new(file.path.display().to_string(), text.clone());
    let mut out = String::new();
    for d in diags {
        let offset = d.pos.and_then(|p| {
            let line_start = *starts.get(usize::try_from(p.line).ok()?.checked_sub(1)?)?;
            let line = text[line_start..].lines().next().unwrap_or_default();
            let col = usize::try_from(p.col).ok()?.saturating_sub(1);
            let byte = line.char_indices().nth(col).map_or(line.len(), |(b, _)| b);
            Some((line_start + byte).min(text.len().saturating_sub(1)))
        });
        let shown = Shown {
            d,
            title: header(file, d),
            source: &source,
            offset: offset.filter(|_| !text.is_empty()),
        };
        let _ = handler.render_report(&mut out, &shown);
        if let Some(h) = &d.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors > 0 {
        out.push_str(&format!(
            "error: {} is invalid: {errors} error{}{}\n",
            file.path.display(),
            if errors == 1 { "" } else { "s" },
            match warnings {
                0 => String::new(),
                1 => ", 1 warning".to_owned(),
                n => format!(", {n} warnings"),
            }
        ));
    }
    out
}

/// Renders diagnostics that belong to no file (command-line variables).
pub fn render_plain(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let label = if d.is_error() { "error" } else { "warning" };
        out.push_str(&format!("{label}: {}\n", d.message));
        if let Some(h) = &d.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    }
    out
}

/// Prints a progress or detail line on stderr (`-v`).
#[allow(clippy::print_stderr)]
pub fn info_line(message: &str) {
    eprintln!("{message}");
}

/// Prints a one-line warning on stderr.
#[allow(clippy::print_stderr)]
pub fn warning_line(message: &str) {
    eprintln!("warning: {message}");
}
