//! Rendering of spec diagnostics: for people (with `miette`: the message, the
//! `file:line:col`, a snippet with the offending text underlined, and the hint;
//! a file that is no spec at all gets its one-line cause), for machines (one
//! JSON document; GitHub Actions annotation lines) and for pull-request
//! comments (a markdown report). Also the one-line errors of other commands,
//! on stderr. What a diagnostic says is decided in `spec`; only its form here.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use crate::render::plan::MARKDOWN_LIMIT;
use crate::spec::diagnostic::{Code, Diagnostic, Severity};
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
    /// Byte offset and length of the underline.
    span: Option<(usize, usize)>,
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
        self.span.map(|_| self.source as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.span.map(|(offset, len)| {
            Box::new(std::iter::once(LabeledSpan::new(None, offset, len)))
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

/// Whether a lone diagnostic says the file is no spec at all (empty, not a map,
/// beyond the parser's limits, or YAML with no position to show): such a file
/// gets its one-line cause, not a snippet. A YAML syntax error with a position
/// is shown in its line like any other problem.
fn not_a_spec(diags: &[Diagnostic]) -> Option<&Diagnostic> {
    match diags {
        [only]
            if only.address.is_none()
                && (matches!(
                    only.code,
                    Code::EmptySpec | Code::NotASpec | Code::YamlLimit
                ) || (only.pos.is_none() && only.code == Code::YamlSyntax)) =>
        {
            Some(only)
        }
        _ => None,
    }
}

/// Lines longer than this are not shown in a snippet: such a line is data or
/// garbage (10,000 brackets), and the header already says where it is.
const SNIPPET_LINE_LIMIT: usize = 1000;

/// The byte offset and length of a diagnostic's underline: `width` characters
/// from its position, within its line (at least one character).
fn underline(text: &str, starts: &[usize], d: &Diagnostic) -> Option<(usize, usize)> {
    let p = d.pos?;
    let line_start = *starts.get(usize::try_from(p.line).ok()?.checked_sub(1)?)?;
    let line = text[line_start..].lines().next().unwrap_or_default();
    if line.len() > SNIPPET_LINE_LIMIT {
        return None;
    }
    let col = usize::try_from(p.col).ok()?.saturating_sub(1);
    let byte = line.char_indices().nth(col).map_or(line.len(), |(b, _)| b);
    let offset = (line_start + byte).min(text.len().saturating_sub(1));
    let rest = &line[byte.min(line.len())..];
    let len = rest
        .char_indices()
        .nth(d.width.max(1))
        .map_or(rest.len(), |(b, _)| b)
        .max(1);
    Some((offset, len))
}

/// Renders every diagnostic (errors and warnings) of a file, then a count. A
/// file that is no spec at all gets its one-line cause instead.
pub fn render(file: &SourceFile, diags: &[Diagnostic], color: bool) -> String {
    if let Some(only) = not_a_spec(diags).filter(|d| d.is_error()) {
        return format!("error: {}\n", header(file, only));
    }
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
        let shown = Shown {
            d,
            title: header(file, d),
            source: &source,
            span: underline(&text, &starts, d).filter(|_| !text.is_empty()),
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
            "error: {} is invalid: {}\n",
            file.path.display(),
            counts(errors, warnings)
        ));
    }
    out
}

/// `2 errors, 1 warning`; warnings only when there are some.
fn counts(errors: usize, warnings: usize) -> String {
    format!(
        "{errors} error{}{}",
        if errors == 1 { "" } else { "s" },
        match warnings {
            0 => String::new(),
            1 => ", 1 warning".to_owned(),
            n => format!(", {n} warnings"),
        }
    )
}

/// The diagnostics of a `validate` run as one JSON document:
/// `{"valid", "errors", "warnings", "diagnostics": [{"file", "line", "col",
/// "address", "code", "severity", "message", "hint"}]}`. `file` is `None` for
/// problems that belong to no file (a malformed `--var`).
pub fn json(file: Option<&Path>, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let file = file.map(|f| f.display().to_string());
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            serde_json::json!({
                "file": file,
                "line": d.pos.map(|p| p.line),
                "col": d.pos.map(|p| p.col),
                "address": d.address,
                "code": d.code.as_str(),
                "severity": d.severity.as_str(),
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    let doc = serde_json::json!({
        "valid": errors == 0,
        "errors": errors,
        "warnings": diags.len() - errors,
        "diagnostics": items,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// Escapes the message of a GitHub workflow command.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property (`file=`, `title=`) of a GitHub workflow command.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// One GitHub Actions annotation per diagnostic:
/// `::error file=F,line=L,col=C,title=CODE (ADDRESS)::MESSAGE` (or `::warning`),
/// the hint on the message's second line.
pub fn github(file: Option<&Path>, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let mut props = Vec::new();
        if let Some(f) = file {
            props.push(format!(
                "file={}",
                github_property(&f.display().to_string())
            ));
        }
        if let Some(p) = d.pos {
            props.push(format!("line={}", p.line));
            props.push(format!("col={}", p.col));
        }
        let title = match &d.address {
            Some(a) => format!("{} ({a})", d.code),
            None => d.code.to_string(),
        };
        props.push(format!("title={}", github_property(&title)));
        let mut message = d.message.clone();
        if let Some(h) = &d.hint {
            message.push_str("\nhint: ");
            message.push_str(h);
        }
        out.push_str(&format!(
            "::{} {}::{}\n",
            d.severity.as_str(),
            props.join(","),
            github_data(&message)
        ));
    }
    out
}

/// Makes text safe in a markdown table cell: no line breaks, no cell
/// separators, and no HTML outside code spans.
fn md_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    if in_code {
        // An unbalanced backtick would swallow the rest of the row.
        out.push('`');
    }
    out
}

/// A markdown report of an invalid spec for a pull-request comment: a heading
/// that says so, then a table of where (`file:line:col`), the address, the
/// message and the hint of every problem, errors and warnings in file order.
/// Like markdown plans, it stays under 60,000 characters: rows that do not fit
/// are counted in a closing note.
pub fn markdown(file: &Path, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let path = md_cell(&file.display().to_string());
    let mut out = if errors > 0 {
        format!(
            "## synlink: `{path}` is invalid\n\n{}. Run `synlink validate -f {path}` to see each in its source line.\n\n",
            counts(errors, warnings)
        )
    } else {
        format!(
            "## synlink: `{path}` is valid, with {warnings} warning{}\n\n",
            if warnings == 1 { "" } else { "s" }
        )
    };
    out.push_str("| | where | address | problem | hint |\n| --- | --- | --- | --- | --- |\n");
    let note_reserve = 200;
    for (i, d) in diags.iter().enumerate() {
        let place = match d.pos {
            Some(p) => format!("`{path}:{}:{}`", p.line, p.col),
            None => format!("`{path}`"),
        };
        let row = format!(
            "| {} | {place} | {} | {} | {} |\n",
            d.severity.as_str(),
            d.address
                .as_ref()
                .map_or(String::new(), |a| format!("`{}`", md_cell(a))),
            md_cell(&d.message),
            d.hint.as_deref().map_or(String::new(), md_cell),
        );
        if out.len() + row.len() + note_reserve > MARKDOWN_LIMIT {
            out.push_str(&format!(
                "\nThe report was cut at 60,000 characters: {} more problem{} not shown.\n",
                diags.len() - i,
                if diags.len() - i == 1 { " is" } else { "s are" }
            ));
            return out;
        }
        out.push_str(&row);
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{github, json, markdown, render};
    use crate::render::plan::MARKDOWN_LIMIT;
    use crate::spec::diagnostic::{Code, Diagnostic};
    use crate::spec::node::Pos;
    use crate::spec::source::SourceFile;

    fn at(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }

    fn problems() -> Vec<Diagnostic> {
        vec![
            Diagnostic::error(Some(at(3, 5)), "unknown field `nme`")
                .code(Code::UnknownField)
                .at("synapse_workspaces.shared")
                .hint("did you mean `name`?"),
            Diagnostic::error(Some(at(7, 11)), "`type` must be `User|Group` <not> this")
                .code(Code::InvalidPrincipal)
                .at("role_grants.ops"),
            Diagnostic::warning(Some(at(12, 17)), "no link from `main`\nand no identity")
                .code(Code::UnusableAttachment)
                .at("attachments.main-small")
                .hint("set `identity: system_assigned`"),
            Diagnostic::error(None, "missing `version`").code(Code::MissingVersion),
        ]
    }

    #[test]
    fn markdown_report_of_an_invalid_spec() {
        let out = markdown(Path::new("infra/synlink.yaml"), &problems());
        assert!(
            out.starts_with("## synlink: `infra/synlink.yaml` is invalid\n"),
            "{out}"
        );
        // One row per problem; no raw pipe, newline or HTML breaks the table.
        let rows: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("| error |") || l.starts_with("| warning |"))
            .collect();
        assert_eq!(rows.len(), 4, "{out}");
        assert!(
            rows.iter().all(|r| r.matches(" | ").count() == 4),
            "{rows:#?}"
        );
        assert!(
            rows[1].contains("`User\\|Group` &lt;not&gt; this"),
            "{}",
            rows[1]
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn markdown_report_of_warnings_only_says_the_spec_is_valid() {
        let warnings: Vec<Diagnostic> = problems().into_iter().filter(|d| !d.is_error()).collect();
        let out = markdown(Path::new("s.yaml"), &warnings);
        assert!(
            out.starts_with("## synlink: `s.yaml` is valid, with 1 warning\n"),
            "{out}"
        );
    }

    #[test]
    fn markdown_report_stays_under_the_limit() {
        let many: Vec<Diagnostic> = (0..5000)
            .map(|i| {
                Diagnostic::error(Some(at(i + 1, 3)), format!("unknown field `f{i}`"))
                    .at(format!("links.team-{i:04}"))
                    .hint("did you mean `name`?")
            })
            .collect();
        let out = markdown(Path::new("s.yaml"), &many);
        assert!(out.len() <= MARKDOWN_LIMIT, "{} bytes", out.len());
        let rows = out.lines().filter(|l| l.starts_with("| error |")).count();
        assert!(rows > 100 && rows < 5000, "{rows} rows");
        assert!(
            out.ends_with(&format!(
                "\nThe report was cut at 60,000 characters: {} more problems are not shown.\n",
                5000 - rows
            )),
            "{}",
            &out[out.len() - 200..]
        );
    }

    #[test]
    fn json_and_github_carry_every_field() {
        let diags = problems();
        let doc: serde_json::Value =
            serde_json::from_str(&json(Some(Path::new("s.yaml")), &diags)).expect("JSON");
        assert_eq!(doc["errors"], 3);
        assert_eq!(doc["warnings"], 1);
        assert_eq!(doc["valid"], false);
        assert_eq!(doc["diagnostics"][3]["line"], serde_json::Value::Null);
        assert_eq!(doc["diagnostics"][2]["severity"], "warning");

        let lines = github(Some(Path::new("s.yaml")), &diags);
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(
            lines[2],
            "::warning file=s.yaml,line=12,col=17,title=unusable-attachment (attachments.main-small)::no link from `main`%0Aand no identity%0Ahint: set `identity: system_assigned`"
        );
        assert_eq!(
            lines[3],
            "::error file=s.yaml,title=missing-version::missing `version`"
        );
    }

    #[test]
    fn a_yaml_error_is_shown_in_its_line_and_an_empty_file_in_one_line() {
        let file = SourceFile {
            path: PathBuf::from("s.yaml"),
            text: "version: 1\nlinks: [a, {b: 1\n".to_owned(),
        };
        let syntax = Diagnostic::error(Some(at(2, 12)), "invalid YAML: did not find expected ','")
            .code(Code::YamlSyntax);
        let out = render(&file, &[syntax], false);
        assert!(out.contains(" 2 │ links: [a, {b: 1\n"), "{out}");
        assert!(
            out.ends_with("error: s.yaml is invalid: 1 error\n"),
            "{out}"
        );

        let empty = Diagnostic::error(None, "the spec is empty")
            .code(Code::EmptySpec)
            .hint("a spec starts with `version: 1`");
        assert_eq!(
            render(&file, &[empty], false),
            "error: s.yaml: the spec is empty\n"
        );
    }

    #[test]
    fn the_underline_covers_the_width_within_its_line() {
        let file = SourceFile {
            path: PathBuf::from("s.yaml"),
            text: "a:\n  name: \"mlw-{ech}\"\n".to_owned(),
        };
        let underline = |out: &str| {
            out.lines()
                .find(|l| l.contains('─') && l.contains('·'))
                .map(|l| (l.find('─'), l.matches('─').count()))
        };
        let d = Diagnostic::error(Some(at(2, 14)), "unknown placeholder `{ech}`").width(5);
        let out = render(&file, &[d], false);
        let start = underline(&out).and_then(|(s, _)| s);
        assert_eq!(underline(&out), Some((start, 5)), "{out}");
        // A width past the end of the line stops at the line's end.
        let d = Diagnostic::error(Some(at(2, 14)), "x").width(500);
        let out = render(&file, &[d], false);
        assert_eq!(underline(&out), Some((start, 6)), "{out}");
    }
}
