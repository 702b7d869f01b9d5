//! Rendering of a `Plan` for people and programs: Terraform-like text for the
//! terminal, pretty JSON (the format `schemas/plan.schema.json` describes) and
//! markdown for pull-request comments, always under 60,000 bytes.
//!
//! This file only turns a plan into strings; it does not print, decide what a
//! plan contains, or know how plans are made.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::addr::Properties;
use crate::plan::{Action, Change, Plan, PlanMode, Warning};
use crate::provider;

/// The most a markdown plan may hold (GitHub refuses comments over 65,536
/// characters; the margin leaves room for a bot's own header). Counted in
/// bytes, which is never less than the count of characters.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// What a value known only after apply prints as.
const UNKNOWN: &str = "(known after apply)";

/// The plan as text for stdout, like Terraform's: drift, the changes, the
/// warnings and a last summary line. ANSI colours only when `color` is true.
pub fn text(plan: &Plan, color: bool) -> String {
    text_with(plan, color, false)
}

/// As `text`; `verbose` lists every address a warning concerns, where `text`
/// folds a long list.
pub fn text_with(plan: &Plan, color: bool, verbose: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str(&paint.bold("Objects have changed outside of synlink:"));
        out.push_str("\n\n");
        for change in &plan.drift {
            text_block(&mut out, change, true, paint);
            out.push('\n');
        }
    }
    let shown: Vec<&Change> = shown_changes(plan).collect();
    if !shown.is_empty() {
        out.push_str("synlink will perform the following actions:\n\n");
        for change in shown {
            text_block(&mut out, change, false, paint);
            out.push('\n');
        }
    }
    if !plan.warnings.is_empty() {
        out.push_str(&paint.yellow_bold("Warnings:"));
        out.push('\n');
        for warning in &plan.warnings {
            let shown = if verbose { usize::MAX } else { 4 };
            let _ = writeln!(
                out,
                "  - {}: {}",
                warning_lead(warning),
                address_list(&warning.addresses, shown, "-v lists all")
            );
            if !warning.detail.is_empty() {
                let _ = writeln!(out, "    {}", warning.detail);
            }
        }
        out.push('\n');
    }
    if has_content(plan) {
        let _ = writeln!(out, "Plan digest: sha256:{}", plan.digest);
    }
    out.push_str(&paint.bold(&summary_line(plan)));
    out.push('\n');
    out
}

/// The plan as pretty JSON (the serde form of `Plan`), with a trailing newline.
pub fn json(plan: &Plan) -> String {
    let mut out = serde_json::to_string_pretty(plan).expect("a plan always serializes");
    out.push('\n');
    out
}

/// The plan as markdown for a pull-request comment: a title with the counts,
/// a table of every change (destructive ones first), then each change's
/// details folded in a `<details>` block with a `diff` code block. Never over
/// [`MARKDOWN_LIMIT`] bytes: details are cut first, then table rows, with a
/// note naming where the full plan is (`out_hint`, the `--out` path).
pub fn markdown(plan: &Plan, out_hint: Option<&str>) -> String {
    let doc = MarkdownDoc::new(plan);
    let full = doc.assemble(None, doc.rows.len(), doc.details.len());
    if full.len() <= MARKDOWN_LIMIT {
        return full;
    }
    let total = doc.rows.len().max(doc.details.len());
    // The note at its longest (counts never have more digits than `total`).
    let reserve = cut_note(out_hint, Shown::Rows(total, total))
        .len()
        .max(cut_note(out_hint, Shown::Details(total, total)).len())
        + more_rows_line(total).len();
    let mut budget = MARKDOWN_LIMIT
        .saturating_sub(doc.fixed_len())
        .saturating_sub(reserve);
    let mut rows = 0;
    for row in &doc.rows {
        if row.len() > budget {
            break;
        }
        budget -= row.len();
        rows += 1;
    }
    let mut details = 0;
    if rows == doc.rows.len() {
        for block in &doc.details {
            if block.len() > budget {
                break;
            }
            budget -= block.len();
            details += 1;
        }
    }
    let shown = if rows < doc.rows.len() {
        Shown::Rows(rows, doc.rows.len())
    } else {
        Shown::Details(details, doc.details.len())
    };
    let note = cut_note(out_hint, shown);
    let mut cut = doc.assemble(Some(&note), rows, details);
    if cut.len() > MARKDOWN_LIMIT {
        // Only reachable with absurd titles or warnings: cut hard, on a char boundary.
        let mut end = MARKDOWN_LIMIT;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut.truncate(end);
    }
    cut
}

/// The changes the text and markdown show: every change that does something,
/// none in a refresh-only plan (which changes nothing).
fn shown_changes(plan: &Plan) -> impl Iterator<Item = &Change> {
    // Data sources read are worth showing only beside changes that use them.
    let any_change = plan.has_changes();
    plan.changes.iter().filter(move |c| {
        c.action != Action::NoOp
            && plan.mode != PlanMode::RefreshOnly
            && (any_change || c.action != Action::Read || c.previous_address.is_some())
    })
}

/// "52 new links on the deprecated linked-service path".
fn warning_lead(w: &Warning) -> String {
    let n = w.addresses.len();
    let noun = w.addresses.first().map_or("resource", |a| a.kind.noun());
    format!(
        "{n} new {noun}{} {}",
        if n == 1 { "" } else { "s" },
        w.headline
    )
}

/// The addresses, all of them when there are at most `shown`, else the first
/// and last with how many lie between and where to see them all.
fn address_list(addresses: &[crate::addr::Address], shown: usize, where_all: &str) -> String {
    let names: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    if names.len() <= shown {
        return names.join(", ");
    }
    format!(
        "{}, {} … {} ({} more between; {where_all})",
        names[0],
        names[1],
        names[names.len() - 1],
        names.len() - 3
    )
}

/// Whether the plan has anything to apply or report (its digest is shown then).
fn has_content(plan: &Plan) -> bool {
    let s = plan.summary();
    plan.has_changes() || !plan.drift.is_empty() || s.adopt > 0 || s.moved > 0 || s.forget > 0
}

/// The last line of the text plan.
fn summary_line(plan: &Plan) -> String {
    if plan.mode == PlanMode::RefreshOnly {
        return match plan.drift.len() {
            0 => "No changes.".to_owned(),
            1 => "Drift: 1 resource changed outside synlink.".to_owned(),
            n => format!("Drift: {n} resources changed outside synlink."),
        };
    }
    let s = plan.summary();
    if !has_content(plan) {
        return "No changes.".to_owned();
    }
    // What touches only the state is counted only when there is some.
    let mut state_only = String::new();
    for (n, what) in [(s.adopt, "adopt"), (s.moved, "move"), (s.forget, "forget")] {
        if n > 0 {
            state_only.push_str(&format!(", {n} to {what}"));
        }
    }
    format!(
        "Plan: {} to add, {} to change, {} to replace, {} to destroy{state_only}.",
        s.add, s.change, s.replace, s.destroy
    )
}

/// What happens to the resource, after its address: "will be created".
fn verb_phrase(change: &Change, drift: bool) -> String {
    if drift {
        return match change.action {
            Action::Create => "has been created".to_owned(),
            Action::Delete => "has been deleted".to_owned(),
            Action::Replace => "has been replaced".to_owned(),
            Action::Update | Action::Read | Action::Adopt | Action::Move | Action::NoOp => {
                "has changed".to_owned()
            }
            Action::Forget => "is no longer managed".to_owned(),
        };
    }
    match change.action {
        Action::Create => "will be created".to_owned(),
        Action::Update => "will be updated in place".to_owned(),
        Action::Replace => "must be replaced".to_owned(),
        Action::Delete => format!("will be {}", provider::of(change.kind).words().destroyed),
        Action::Read => "will be read".to_owned(),
        Action::Adopt => "will be adopted into the state".to_owned(),
        Action::Move => match &change.previous_address {
            Some(from) => format!("has moved from {from}"),
            None => "has moved".to_owned(),
        },
        Action::Forget => {
            "will no longer be managed by synlink; it stays in Azure untouched".to_owned()
        }
        Action::NoOp => "will not change".to_owned(),
    }
}

/// The header of a change: what happens, and for a change that also moves,
/// where it comes from.
fn header(change: &Change, drift: bool) -> String {
    let verb = verb_phrase(change, drift);
    match &change.previous_address {
        Some(from) if !drift && change.action != Action::Move => {
            format!("{verb} (moved from {from})")
        }
        _ => verb,
    }
}

/// The one-word action of the markdown table.
fn action_word(change: &Change) -> &'static str {
    match change.action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => provider::of(change.kind).words().delete,
        Action::Read => "read",
        Action::Adopt => "adopt",
        Action::Move => "move",
        Action::Forget => "forget",
        Action::NoOp => "none",
    }
}

/// How one property line is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// The property appears (`+`).
    Add,
    /// The property goes away (`-`).
    Remove,
    /// The value changes (`~`).
    Modify,
    /// Shown as is (a data source being read).
    Plain,
}

/// One property line of a change, before it is drawn as text or markdown.
struct Row {
    mark: Mark,
    path: String,
    old: Option<String>,
    new: Option<String>,
    /// A replace's forcing property.
    forces: bool,
    /// For a multi-line string on either side: its lines, diffed.
    lines: Option<Vec<(ChangeTag, String)>>,
}

/// The rows of a change and the count of unchanged properties left out.
fn rows(change: &Change) -> (Vec<Row>, usize) {
    let empty = Properties::new();
    let before = change.before.as_ref().unwrap_or(&empty);
    let after = change.after.as_ref().unwrap_or(&empty);
    if matches!(change.action, Action::Read | Action::Forget) {
        let source = if change.after.is_some() {
            after
        } else {
            before
        };
        let rows = source
            .iter()
            .map(|(path, value)| Row {
                mark: Mark::Plain,
                path: path.clone(),
                old: None,
                new: Some(described(change, path, value)),
                forces: false,
                lines: multiline(None, Some(value)),
            })
            .collect();
        return (rows, 0);
    }
    let paths = change.changed_paths();
    let mut rows = Vec::with_capacity(paths.len());
    for path in &paths {
        let old = before.get(path);
        let unknown = change.after_unknown.contains(path);
        let new = if unknown { None } else { after.get(path) };
        let mark = match change.action {
            Action::Create => Mark::Add,
            Action::Delete => Mark::Remove,
            _ => match (old, new.is_some() || unknown) {
                (None, _) => Mark::Add,
                (Some(_), false) => Mark::Remove,
                (Some(_), true) => Mark::Modify,
            },
        };
        let shown_old = if mark == Mark::Add { None } else { old };
        let lines = if unknown {
            None
        } else {
            multiline(shown_old, new)
        };
        rows.push(Row {
            mark,
            path: path.clone(),
            old: shown_old.map(|v| described(change, path, v)),
            new: if unknown {
                Some(match change.sources.get(path) {
                    Some(source) => format!("{UNKNOWN} ← {source}"),
                    None => UNKNOWN.to_owned(),
                })
            } else {
                new.map(|v| described(change, path, v))
            },
            forces: change.action == Action::Replace && change.replace_paths.contains(path),
            lines,
        });
    }
    let hidden = if matches!(
        change.action,
        Action::Update | Action::Replace | Action::Move
    ) {
        let mut all: Vec<&String> = after.keys().collect();
        all.extend(before.keys().filter(|k| !after.contains_key(*k)));
        all.iter().filter(|k| !paths.contains(k)).count()
    } else {
        0
    };
    (rows, hidden)
}

/// A value on one line, with what its provider says it means (a role id gets
/// its role's name).
fn described(change: &Change, path: &str, value: &Value) -> String {
    let text = value_text(value);
    match provider::of(change.kind).describe(path, value) {
        Some(meaning) => format!("{text} ({meaning})"),
        None => text,
    }
}

/// A value on one line: JSON, so strings are quoted and escaped.
fn value_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The line-by-line diff of a property when either side is a string with a
/// newline; `None` otherwise.
fn multiline(old: Option<&Value>, new: Option<&Value>) -> Option<Vec<(ChangeTag, String)>> {
    let is_multi = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| s.contains('\n'));
    if !is_multi(old) && !is_multi(new) {
        return None;
    }
    let side = |v: Option<&Value>| match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => value_text(other),
    };
    let (old, new) = (side(old), side(new));
    let diff = TextDiff::from_lines(old.as_str(), new.as_str());
    Some(
        diff.iter_all_changes()
            .map(|c| (c.tag(), c.value().trim_end_matches(['\n', '\r']).to_owned()))
            .collect(),
    )
}

/// "# (4 unchanged properties hidden)"
fn hidden_line(hidden: usize) -> String {
    if hidden == 1 {
        "# (1 unchanged property hidden)".to_owned()
    } else {
        format!("# ({hidden} unchanged properties hidden)")
    }
}

/// The width property names are padded to in a block (multi-line ones aside).
fn name_width(rows: &[Row]) -> usize {
    rows.iter()
        .filter(|r| r.lines.is_none())
        .map(|r| r.path.len())
        .max()
        .unwrap_or(0)
}

/// One change as a Terraform-like block, followed by no blank line.
fn text_block(out: &mut String, change: &Change, drift: bool, paint: Paint) {
    let symbol = change.action.symbol();
    let _ = writeln!(
        out,
        "  {}",
        paint.bold(&format!("# {} {}", change.address, header(change, drift)))
    );
    for reason in &change.reasons {
        let _ = writeln!(out, "  # reason: {reason}");
    }
    if let Some(id) = shown_id(change, drift) {
        let _ = writeln!(out, "  # id: {id}");
    }
    if !drift && !change.waits_for.is_empty() {
        let _ = writeln!(out, "  # waits for: {}", waits_for(change));
    }
    let _ = writeln!(
        out,
        "{} {} {{",
        paint.action(change.action, &format!("{symbol:>3}")),
        change.address
    );
    let (rows, hidden) = rows(change);
    let width = name_width(&rows);
    if let (false, Some(from)) = (drift, &change.previous_address) {
        let _ = writeln!(out, "      {} moved from {from}", paint.yellow("~>"));
    }
    for row in &rows {
        let mark = match row.mark {
            Mark::Add => paint.green("+"),
            Mark::Remove => paint.red("-"),
            Mark::Modify => paint.yellow("~"),
            Mark::Plain => " ".to_owned(),
        };
        let forces = if row.forces {
            format!(" {}", paint.red("# forces replacement"))
        } else {
            String::new()
        };
        if let Some(lines) = &row.lines {
            let _ = writeln!(out, "      {mark} {} = <<-EOT{forces}", row.path);
            for (tag, line) in lines {
                let sign = match tag {
                    ChangeTag::Equal => " ".to_owned(),
                    ChangeTag::Delete => paint.red("-"),
                    ChangeTag::Insert => paint.green("+"),
                };
                let _ = writeln!(out, "          {sign} {line}");
            }
            out.push_str("        EOT\n");
            continue;
        }
        let value = match (row.mark, &row.old, &row.new) {
            (Mark::Modify, Some(old), Some(new)) => format!("{old} -> {new}"),
            (_, _, Some(new)) => new.clone(),
            (_, Some(old), None) => old.clone(),
            (_, None, None) => "null".to_owned(),
        };
        let _ = writeln!(out, "      {mark} {:<width$} = {value}{forces}", row.path);
    }
    if hidden > 0 {
        let _ = writeln!(out, "        {}", hidden_line(hidden));
    }
    out.push_str("    }\n");
}

/// The pieces of a markdown plan, measured before they are put together so
/// that a long plan can be cut on whole rows and whole details blocks.
struct MarkdownDoc {
    title: String,
    table_head: String,
    rows: Vec<String>,
    after_table: String,
    details: Vec<String>,
}

impl MarkdownDoc {
    fn new(plan: &Plan) -> MarkdownDoc {
        let refresh_only = plan.mode == PlanMode::RefreshOnly;
        let what = match plan.mode {
            PlanMode::Normal => "synlink plan",
            PlanMode::Destroy => "synlink destroy plan",
            PlanMode::RefreshOnly => "synlink refresh-only plan",
        };
        // The summary line without its own "Plan:" or "Drift:" lead-in.
        let counts = summary_line(plan);
        let counts = counts
            .strip_prefix("Plan: ")
            .or_else(|| counts.strip_prefix("Drift: "))
            .unwrap_or(&counts)
            .trim_end_matches('.');
        let mut title = format!("## {what}: {counts}\n\n");
        if has_content(plan) {
            let _ = write!(
                title,
                "<sub>`{}` · plan digest `sha256:{}`</sub>\n\n",
                plan.spec_path.replace('`', "'"),
                plan.short_digest()
            );
        }

        // The table lists the changes, or for a refresh-only plan the drift;
        // destructive ones first, the plan's order kept otherwise.
        let mut listed: Vec<(&Change, bool)> = if refresh_only {
            plan.drift.iter().map(|c| (c, true)).collect()
        } else {
            shown_changes(plan).map(|c| (c, false)).collect()
        };
        listed.sort_by_key(|(c, _)| !c.action.is_destructive());
        let table_head = if listed.is_empty() {
            String::new()
        } else {
            "| | action | address | kind | reason |\n| --- | --- | --- | --- | --- |\n".to_owned()
        };
        let rows = listed
            .iter()
            .map(|(c, drift)| {
                let word = if *drift {
                    verb_phrase(c, true)
                } else {
                    action_word(c).to_owned()
                };
                format!(
                    "| `{}` | {word} | `{}` | {} | {} |\n",
                    c.action.symbol(),
                    c.address,
                    c.kind.noun(),
                    table_cell(&c.reasons.join("; "))
                )
            })
            .collect();

        let mut after_table = String::new();
        if !table_head.is_empty() {
            after_table.push('\n');
        }
        for warning in &plan.warnings {
            let _ = writeln!(
                after_table,
                "> **Warning:** {}: {}. {}\n",
                warning_lead(warning),
                address_list(&warning.addresses, 6, "the JSON plan lists all").replace('`', "'"),
                warning.detail.replace('\n', " ")
            );
        }
        if !refresh_only && !plan.drift.is_empty() {
            let n = plan.drift.len();
            let _ = writeln!(
                after_table,
                "**{n} resource{} changed outside synlink** (details below).\n",
                if n == 1 { "" } else { "s" }
            );
        }

        let mut details: Vec<String> = listed
            .iter()
            .map(|(c, drift)| details_block(c, *drift))
            .collect();
        if !refresh_only {
            details.extend(plan.drift.iter().map(|c| details_block(c, true)));
        }
        MarkdownDoc {
            title,
            table_head,
            rows,
            after_table,
            details,
        }
    }

    /// The length of what is always kept.
    fn fixed_len(&self) -> usize {
        self.title.len() + self.table_head.len() + self.after_table.len()
    }

    /// The document with its first `rows` rows and `details` details blocks.
    fn assemble(&self, note: Option<&str>, rows: usize, details: usize) -> String {
        let mut out = self.title.clone();
        if let Some(note) = note {
            out.push_str(note);
        }
        out.push_str(&self.table_head);
        for row in &self.rows[..rows] {
            out.push_str(row);
        }
        if rows < self.rows.len() {
            out.push_str(&more_rows_line(self.rows.len() - rows));
        }
        out.push_str(&self.after_table);
        for block in &self.details[..details] {
            out.push_str(block);
        }
        // One newline at the end, however the last piece ended.
        out.truncate(out.trim_end().len());
        out.push('\n');
        out
    }
}

/// The table row standing for the rows cut.
fn more_rows_line(n: usize) -> String {
    format!("| | | *{n} more not shown* | | |\n")
}

/// What a cut markdown plan still shows: `(shown, total)`.
#[derive(Debug, Clone, Copy)]
enum Shown {
    /// Only some table rows, no details.
    Rows(usize, usize),
    /// The whole table and some details blocks.
    Details(usize, usize),
}

/// The note of a cut markdown plan.
fn cut_note(out_hint: Option<&str>, shown: Shown) -> String {
    let file = match out_hint {
        Some(path) => format!("`{}`", path.replace('`', "'")),
        None => "the file given to `--out`".to_owned(),
    };
    let what = match shown {
        Shown::Rows(n, total) => format!(
            "The table lists {n} of {total} changes, destructive ones first; details are left out."
        ),
        Shown::Details(n, total) => format!("Details are shown for {n} of {total} changes."),
    };
    format!(
        "> **Note:** The plan was cut at 60,000 characters; the full plan is in {file}. {what}\n\n"
    )
}

/// Text made safe for one markdown table cell.
fn table_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Text made safe inside HTML (`<summary>`).
fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The id a reviewer must see: what a delete or a replace removes, what a
/// forget lets go, what an adoption takes into the state.
fn shown_id(change: &Change, drift: bool) -> Option<&crate::addr::ArmId> {
    (!drift
        && (change.action.is_destructive()
            || matches!(change.action, Action::Forget | Action::Adopt)))
    .then_some(change.id.as_ref())
    .flatten()
}

/// The changes a change waits for, listed.
fn waits_for(change: &Change) -> String {
    let names: Vec<String> = change.waits_for.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// One change folded in `<details>`, its properties in a `diff` code block.
fn details_block(change: &Change, drift: bool) -> String {
    let mut body = String::new();
    for reason in &change.reasons {
        let _ = writeln!(body, "# reason: {reason}");
    }
    if let Some(id) = shown_id(change, drift) {
        let _ = writeln!(body, "# id: {id}");
    }
    if !drift && !change.waits_for.is_empty() {
        let _ = writeln!(body, "# waits for: {}", waits_for(change));
    }
    if let (false, Some(from)) = (drift, &change.previous_address) {
        let _ = writeln!(body, "~> moved from {from}");
    }
    let (rows, hidden) = rows(change);
    let width = name_width(&rows);
    for row in &rows {
        let forces = if row.forces {
            "  # forces replacement"
        } else {
            ""
        };
        if let Some(lines) = &row.lines {
            let sign = match row.mark {
                Mark::Add => '+',
                Mark::Remove => '-',
                Mark::Modify | Mark::Plain => ' ',
            };
            let _ = writeln!(body, "{sign} {} = <<EOT{forces}", row.path);
            for (tag, line) in lines {
                let _ = writeln!(body, "{tag}   {line}");
            }
            let _ = writeln!(body, "{sign} EOT");
            continue;
        }
        let path = &row.path;
        match row.mark {
            Mark::Modify => {
                let old = row.old.as_deref().unwrap_or("null");
                let new = row.new.as_deref().unwrap_or("null");
                let _ = writeln!(body, "- {path:<width$} = {old}");
                let _ = writeln!(body, "+ {path:<width$} = {new}{forces}");
            }
            Mark::Add | Mark::Plain => {
                let sign = if row.mark == Mark::Add { '+' } else { ' ' };
                let new = row.new.as_deref().unwrap_or("null");
                let _ = writeln!(body, "{sign} {path:<width$} = {new}{forces}");
            }
            Mark::Remove => {
                let old = row.old.as_deref().unwrap_or("null");
                let _ = writeln!(body, "- {path:<width$} = {old}{forces}");
            }
        }
    }
    if hidden > 0 {
        let _ = writeln!(body, "  {}", hidden_line(hidden));
    }
    let fence = "`".repeat(longest_backtick_run(&body).max(2) + 1);
    let prefix = if drift {
        "changed outside synlink: "
    } else {
        ""
    };
    format!(
        "<details><summary>{prefix}<code>{}</code> <code>{}</code> {}</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n\n",
        html(change.action.symbol()),
        html(&change.address.to_string()),
        html(&header(change, drift)),
    )
}

/// The longest run of backticks in `text`, so a fence can be longer.
fn longest_backtick_run(text: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        if c == '`' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// ANSI colours (anstyle), or none.
#[derive(Debug, Clone, Copy)]
struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    fn fg(color: AnsiColor) -> Style {
        Style::new().fg_color(Some(color.into()))
    }

    fn green(self, text: &str) -> String {
        self.wrap(Self::fg(AnsiColor::Green), text)
    }

    fn yellow(self, text: &str) -> String {
        self.wrap(Self::fg(AnsiColor::Yellow), text)
    }

    fn red(self, text: &str) -> String {
        self.wrap(Self::fg(AnsiColor::Red), text)
    }

    fn bold(self, text: &str) -> String {
        self.wrap(Style::new().bold(), text)
    }

    fn yellow_bold(self, text: &str) -> String {
        self.wrap(Self::fg(AnsiColor::Yellow).bold(), text)
    }

    /// An action symbol in its colour: green `+`, yellow `~`, red `-`,
    /// magenta `-/+`, cyan `<=`.
    fn action(self, action: Action, text: &str) -> String {
        let color = match action {
            Action::Create => AnsiColor::Green,
            Action::Update | Action::Move => AnsiColor::Yellow,
            Action::Delete => AnsiColor::Red,
            Action::Replace => AnsiColor::Magenta,
            Action::Read | Action::Adopt | Action::Forget => AnsiColor::Cyan,
            Action::NoOp => return text.to_owned(),
        };
        self.wrap(Self::fg(color), text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{json, markdown, text, text_with, MARKDOWN_LIMIT};
    use crate::addr::Address;
    use crate::plan::{Action, Change, Plan, PlanMode, Properties, Warning, PLAN_FORMAT_VERSION};

    /// Properties from pairs, in the order given.
    fn props(pairs: &[(&str, Value)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    /// A change of `address` (`section.key`) with nothing filled in yet.
    fn change(action: Action, address: &str) -> Change {
        Change::new(Address::parse(address).expect("test address"), action)
    }

    fn plan(mode: PlanMode, changes: Vec<Change>) -> Plan {
        let mut plan = Plan {
            format_version: PLAN_FORMAT_VERSION,
            synlink_version: "0.1.0".to_owned(),
            digest: String::new(),
            spec_path: "synlink.yaml".to_owned(),
            spec_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .to_owned(),
            state_lineage: "6f1c2f9e-3d0a-4f5e-9a43-6b1b8d1f0c11".to_owned(),
            state_serial: 7,
            mode,
            targets: Vec::new(),
            changes,
            drift: Vec::new(),
            warnings: Vec::new(),
        };
        plan.seal();
        plan
    }

    fn pool_props(node_count: u64) -> Properties {
        props(&[
            ("name", json!("small")),
            ("node_size", json!("Small")),
            ("node_size_family", json!("MemoryOptimized")),
            ("node_count", json!(node_count)),
            ("spark_version", json!("3.4")),
            ("auto_pause_minutes", json!(15)),
        ])
    }

    fn link_props(principal: &str) -> Properties {
        props(&[
            ("name", json!("synapselink1")),
            ("ml_workspace", json!("mlw-team-a")),
            ("synapse_workspace", json!("syn-shared-prod")),
            ("principal_id", json!(principal)),
        ])
    }

    fn grant_props() -> Properties {
        props(&[
            ("role", json!("Synapse Apache Spark Administrator")),
            ("scope", json!("workspaces/syn-shared-prod")),
            ("principal_type", json!("ServicePrincipal")),
        ])
    }

    fn attachment_props(pool: &str) -> Properties {
        props(&[
            ("name", json!("small-spark")),
            ("ml_workspace", json!("mlw-team-a")),
            ("spark_pool", json!(pool)),
            ("identity", json!("system_assigned")),
            ("tags", json!({"team": "a"})),
        ])
    }

    fn create_everything() -> Plan {
        let mut link = change(Action::Create, "links.team-a");
        let mut after = link_props("");
        after.shift_remove("principal_id");
        link.after = Some(after);
        link.after_unknown = vec!["principal_id".to_owned()];
        link.reasons = vec!["not found in Azure".to_owned()];

        let mut grant = change(Action::Create, "role_grants.team-a-spark");
        grant.after = Some(grant_props());
        grant.after_unknown = vec!["principal_id".to_owned()];
        grant.reasons = vec!["not found in Azure".to_owned()];

        let mut attach = change(Action::Create, "attachments.team-a-small");
        attach.after = Some(attachment_props("small"));
        attach.after_unknown = vec!["principal_id".to_owned()];
        attach.reasons = vec!["not found in Azure".to_owned()];

        let mut plan = plan(PlanMode::Normal, vec![link, grant, attach]);
        plan.warnings = vec![Warning {
            headline: "on the deprecated linked-service path".to_owned(),
            detail: "Azure deprecated them; prefer an attachment with its own identity".to_owned(),
            addresses: vec![Address::parse("links.team-a").expect("address")],
        }];
        plan
    }

    fn update_one() -> Change {
        let mut pool = change(Action::Update, "spark_pools.small");
        pool.before = Some(pool_props(3));
        pool.after = Some(pool_props(5));
        pool.reasons = vec!["`node_count` changed".to_owned()];
        pool
    }

    fn replace_one() -> Change {
        let mut attach = change(Action::Replace, "attachments.team-a-small");
        attach.before = Some(attachment_props("small"));
        attach.after = Some(attachment_props("large"));
        attach.reasons = vec!["`spark_pool` cannot change in place".to_owned()];
        attach.replace_paths = vec!["spark_pool".to_owned()];
        attach
    }

    fn delete_each_kind() -> Vec<Change> {
        let mut attach = change(Action::Delete, "attachments.team-b-small");
        attach.before = Some(attachment_props("small"));
        let mut grant = change(Action::Delete, "role_grants.team-b-spark");
        let mut before = grant_props();
        before.insert(
            "principal_id".to_owned(),
            json!("4b8e9c1d-0000-4000-8000-00000000000b"),
        );
        grant.before = Some(before);
        let mut link = change(Action::Delete, "links.team-b");
        link.before = Some(link_props("4b8e9c1d-0000-4000-8000-00000000000b"));
        let mut pool = change(Action::Delete, "spark_pools.old");
        pool.before = Some(pool_props(3));
        for c in [&mut attach, &mut grant, &mut link, &mut pool] {
            c.reasons = vec!["removed from the spec".to_owned()];
        }
        vec![attach, grant, link, pool]
    }

    #[test]
    fn create_everything_text() {
        let out = text(&create_everything(), false);
        assert!(out.ends_with("Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy.\n"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn update_of_one_property_text() {
        let out = text(&plan(PlanMode::Normal, vec![update_one()]), false);
        assert!(out.contains("      ~ node_count = 3 -> 5\n"));
        assert!(out.contains("# (5 unchanged properties hidden)"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn replace_with_a_forcing_property_text() {
        let out = text(&plan(PlanMode::Normal, vec![replace_one()]), false);
        assert!(out.contains("# forces replacement"));
        assert!(out.ends_with("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy.\n"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn delete_of_each_kind_text() {
        let out = text(&plan(PlanMode::Destroy, delete_each_kind()), false);
        for phrase in [
            "# attachments.team-b-small will be detached",
            "# role_grants.team-b-spark will be revoked",
            "# links.team-b will be unregistered",
            "# spark_pools.old will be destroyed",
        ] {
            assert!(out.contains(phrase), "missing {phrase}");
        }
        insta::assert_snapshot!(out);
    }

    /// A move, a move with an update, a forget, and a delete that waits.
    fn refactoring() -> Vec<Change> {
        let same = props(&[("synapse_workspace_id", json!("/subscriptions/s/w"))]);
        let mut moved = change(Action::Move, "links.team-fraud");
        moved.previous_address = Address::parse("links.fraud");
        moved.before = Some(same.clone());
        moved.after = Some(same);
        moved.reasons = vec!["`links.fraud` left the spec and `links.team-fraud` names the same Azure resource: only the state changes".into()];
        let mut updated = change(Action::Update, "spark_pools.big");
        updated.previous_address = Address::parse("spark_pools.large");
        updated.before = Some(props(&[("node_count", json!(3))]));
        updated.after = Some(props(&[("node_count", json!(5))]));
        let mut forgotten = change(Action::Forget, "links.old");
        forgotten.id = Some(crate::addr::ArmId::new(
            "/subscriptions/s/ml/linkedServices/old",
        ));
        forgotten.before = Some(props(&[(
            "synapse_workspace_id",
            json!("/subscriptions/s/w"),
        )]));
        let mut waiting = change(Action::Delete, "links.churn");
        waiting.waits_for = vec![
            Address::parse("attachments.churn-mi").expect("address"),
            Address::parse("role_grants.churn-mi").expect("address"),
        ];
        vec![moved, updated, forgotten, waiting]
    }

    #[test]
    fn moves_and_forgets_text() {
        let p = plan(PlanMode::Normal, refactoring());
        let out = text(&p, false);
        for phrase in [
            "  # links.team-fraud has moved from links.fraud\n",
            " ~> links.team-fraud {\n      ~> moved from links.fraud\n",
            "# spark_pools.big will be updated in place (moved from spark_pools.large)",
            "  # links.old will no longer be managed by synlink; it stays in Azure untouched\n",
            "  . links.old {",
            "  # id: /subscriptions/s/ml/linkedServices/old\n",
            "  # waits for: attachments.churn-mi, role_grants.churn-mi\n",
            "Plan: 0 to add, 1 to change, 0 to replace, 1 to destroy, 2 to move, 1 to forget.",
        ] {
            assert!(out.contains(phrase), "missing {phrase:?}:\n{out}");
        }
        insta::assert_snapshot!(out);
    }

    #[test]
    fn moves_and_forgets_markdown() {
        let md = markdown(&plan(PlanMode::Normal, refactoring()), None);
        for phrase in [
            "## synlink plan: 0 to add, 1 to change, 0 to replace, 1 to destroy, 2 to move, 1 to forget",
            "| `~>` | move | `links.team-fraud` | link |",
            "| `.` | forget | `links.old` | link |",
            "~> moved from links.fraud\n",
            "# waits for: attachments.churn-mi, role_grants.churn-mi\n",
        ] {
            assert!(md.contains(phrase), "missing {phrase:?}:\n{md}");
        }
        let json: Value =
            serde_json::from_str(&json(&plan(PlanMode::Normal, refactoring()))).expect("json");
        assert_eq!(json["changes"][0]["action"], "move");
        assert_eq!(json["changes"][0]["previous_address"], "links.fraud");
        assert_eq!(json["changes"][2]["action"], "forget");
        assert!(json["changes"][2].get("previous_address").is_none());
    }

    #[test]
    fn deletes_show_the_id_they_remove_and_role_ids_their_role() {
        let mut revoke = change(Action::Delete, "role_grants.team-b-spark");
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Synapse/workspaces/w/roleAssignments/abc";
        revoke.id = Some(crate::addr::ArmId::new(id));
        revoke.before = Some(props(&[(
            "role_id",
            json!("c3a6d2f1-a26f-4810-9b0f-591308d5cbf1"),
        )]));
        let p = plan(PlanMode::Normal, vec![revoke]);
        let out = text(&p, false);
        assert!(out.contains(&format!("  # id: {id}\n")), "{out}");
        assert!(
            out.contains("\"c3a6d2f1-a26f-4810-9b0f-591308d5cbf1\" (Apache Spark Administrator)"),
            "{out}"
        );
        assert!(
            out.contains(&format!("Plan digest: sha256:{}\n", p.digest)),
            "{out}"
        );
        let md = markdown(&p, None);
        assert!(md.contains(&format!("# id: {id}\n")), "{md}");
        assert!(
            md.contains(&format!("plan digest `sha256:{}`", p.short_digest())),
            "{md}"
        );
    }

    /// 52 new links: one warning, its addresses folded unless `-v`.
    fn many_links() -> Plan {
        let addresses: Vec<Address> = (0..52)
            .map(|i| Address::parse(&format!("links.team-{i:02}")).expect("address"))
            .collect();
        let changes = addresses
            .iter()
            .map(|a| Change::new(a.clone(), Action::Create))
            .collect();
        let mut plan = plan(PlanMode::Normal, changes);
        plan.warnings = vec![Warning {
            headline: "on the deprecated linked-service path".to_owned(),
            detail: "Azure no longer registers new linked services; prefer an attachment with its own identity".to_owned(),
            addresses,
        }];
        plan.seal();
        plan
    }

    #[test]
    fn identical_warnings_are_said_once_with_their_count() {
        let p = many_links();
        let out = text(&p, false);
        let warnings = out
            .split("Warnings:\n")
            .nth(1)
            .and_then(|w| w.split("\n\n").next())
            .expect("a warnings section");
        insta::assert_snapshot!("grouped_warning_text", warnings);
        assert_eq!(out.matches("deprecated linked-service path").count(), 1);
        let all = text_with(&p, false, true);
        assert!(
            all.contains("links.team-00, links.team-01, links.team-02,"),
            "{all}"
        );
        assert!(all.contains("links.team-51\n") && !all.contains("-v lists all"));
        let md = markdown(&p, None);
        let line = md
            .lines()
            .find(|l| l.starts_with("> **Warning:**"))
            .expect("one warning line");
        insta::assert_snapshot!("grouped_warning_markdown", line);
        assert_eq!(md.matches("> **Warning:**").count(), 1);
    }

    #[test]
    fn an_adoption_is_its_own_action_counted_in_the_summary() {
        let mut adopt = change(Action::Adopt, "links.team-a");
        adopt.id = Some(crate::addr::ArmId::new("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ml/linkedServices/synapselink1"));
        adopt.reasons =
            vec!["exists in Azure and matches the spec: adopted into the state".to_owned()];
        let mut create = change(Action::Create, "role_grants.team-a-spark");
        create.after = Some(grant_props());
        let p = plan(PlanMode::Normal, vec![adopt, create]);
        let out = text(&p, false);
        insta::assert_snapshot!("adopt_text", out.replace(&p.digest, "[DIGEST]"));
        assert!(
            out.ends_with("Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy, 1 to adopt.\n")
        );
        let md = markdown(&p, None);
        assert!(md.contains("| `<=` | adopt | `links.team-a` |"), "{md}");
        assert!(json(&p).contains("\"action\": \"adopt\""));
    }

    #[test]
    fn read_text() {
        let mut read = change(Action::Read, "ml_workspaces.team-a");
        read.id = Some(crate::addr::ArmId::new("/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg-analytics/providers/Microsoft.MachineLearningServices/workspaces/mlw-team-a"));
        read.after = Some(props(&[
            ("name", json!("mlw-team-a")),
            ("resource_group", json!("rg-analytics")),
            ("location", json!("westeurope")),
        ]));
        read.reasons = vec!["`existing: true`: a data source".to_owned()];
        // Reading changes nothing in Azure: alone, it is not worth a block.
        assert_eq!(
            text(&plan(PlanMode::Normal, vec![read.clone()]), false),
            "No changes.\n"
        );
        // Beside a change that uses it, it is shown.
        let mut create = change(Action::Create, "links.team-a");
        create.after = Some(link_props("p"));
        let out = text(&plan(PlanMode::Normal, vec![read, create]), false);
        assert!(out.contains(" <= ml_workspaces.team-a {"), "{out}");
        assert!(
            out.ends_with("\nPlan: 1 to add, 0 to change, 0 to replace, 0 to destroy.\n"),
            "{out}"
        );
        insta::assert_snapshot!(out);
    }

    #[test]
    fn no_op_plan_says_no_changes() {
        let mut noop = change(Action::NoOp, "links.team-a");
        noop.before = Some(link_props("p"));
        noop.after = Some(link_props("p"));
        let out = text(&plan(PlanMode::Normal, vec![noop]), false);
        assert_eq!(out, "No changes.\n");
        insta::assert_snapshot!(out);
    }

    fn drifted() -> Change {
        let mut drift = change(Action::Update, "spark_pools.small");
        drift.before = Some(pool_props(3));
        let mut after = pool_props(3);
        after.insert("auto_pause_minutes".to_owned(), json!(60));
        drift.after = Some(after);
        drift
    }

    #[test]
    fn drift_then_the_changes_that_undo_it_text() {
        let mut undo = change(Action::Update, "spark_pools.small");
        let mut before = pool_props(3);
        before.insert("auto_pause_minutes".to_owned(), json!(60));
        undo.before = Some(before);
        undo.after = Some(pool_props(3));
        undo.reasons = vec!["`auto_pause_minutes` changed outside synlink".to_owned()];
        let mut gone = change(Action::Delete, "links.team-c");
        gone.before = Some(link_props("5c3a0000-0000-4000-8000-00000000000c"));
        let mut again = change(Action::Create, "links.team-c");
        again.after = Some(link_props(""));
        again.after_unknown = vec!["principal_id".to_owned()];
        again.reasons = vec!["in state but not found in Azure".to_owned()];
        let mut p = plan(PlanMode::Normal, vec![undo, again]);
        p.drift = vec![drifted(), gone];
        let out = text(&p, false);
        assert!(out.starts_with("Objects have changed outside of synlink:\n"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn refresh_only_reports_drift() {
        let mut p = plan(PlanMode::RefreshOnly, Vec::new());
        assert_eq!(text(&p, false), "No changes.\n");
        p.drift = vec![drifted()];
        let out = text(&p, false);
        assert!(out.ends_with("\nDrift: 1 resource changed outside synlink.\n"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn multi_line_value_is_diffed_line_by_line() {
        let requirements = |version: &str| {
            json!(format!(
                "numpy==1.26.4\npandas=={version}\nscikit-learn==1.4.2\nazureml-core==1.56.0\n"
            ))
        };
        let mut pool = change(Action::Update, "spark_pools.small");
        let mut before = pool_props(3);
        before.insert("library_requirements".to_owned(), requirements("2.1.4"));
        let mut after = pool_props(3);
        after.insert("library_requirements".to_owned(), requirements("2.2.2"));
        pool.before = Some(before);
        pool.after = Some(after);
        pool.reasons = vec!["`library_requirements` changed".to_owned()];
        let p = plan(PlanMode::Normal, vec![pool]);
        let out = text(&p, false);
        assert!(out.contains("          - pandas==2.1.4\n          + pandas==2.2.2\n"));
        insta::assert_snapshot!("multi_line_value_text", out);
        insta::assert_snapshot!("multi_line_value_markdown", markdown(&p, None));
    }

    #[test]
    fn colour_only_when_asked() {
        let mut p = create_everything();
        p.changes.push(replace_one());
        p.changes.extend(delete_each_kind());
        let plain = text(&p, false);
        assert!(!plain.contains('\x1b'));
        let coloured = text(&p, true);
        assert!(coloured.contains("\x1b[32m  +\x1b[0m links.team-a {"));
        assert!(coloured.contains("\x1b[35m-/+\x1b[0m attachments.team-a-small {"));
        assert!(coloured.contains("\x1b[31m  -\x1b[0m links.team-b {"));
        assert!(coloured.contains("\x1b[31m# forces replacement\x1b[0m"));
    }

    fn mixed() -> Plan {
        let mut p = create_everything();
        p.changes.insert(0, update_one());
        p.changes.push(replace_one());
        p.changes.extend(delete_each_kind());
        p.drift = vec![drifted()];
        p
    }

    #[test]
    fn markdown_of_a_mixed_plan() {
        let out = markdown(&mixed(), Some("plan.out"));
        assert!(
            out.starts_with("## synlink plan: 3 to add, 1 to change, 1 to replace, 4 to destroy\n")
        );
        // Destructive changes lead the table.
        let table: Vec<&str> = out.lines().filter(|l| l.starts_with("| `")).collect();
        assert!(table[0].starts_with("| `-/+` |"));
        assert!(table[5].starts_with("| `~` |"));
        insta::assert_snapshot!(out);
    }

    fn huge(n: usize) -> Plan {
        let changes = (0..n)
            .map(|i| {
                let mut c = change(Action::Create, &format!("links.team-{i:04}"));
                c.after = Some(link_props(""));
                c.after_unknown = vec!["principal_id".to_owned()];
                c.reasons = vec!["not found in Azure".to_owned()];
                c
            })
            .collect();
        plan(PlanMode::Normal, changes)
    }

    #[test]
    fn markdown_of_3000_changes_is_cut_under_the_limit() {
        let out = markdown(&huge(3000), Some("plan.out"));
        assert!(out.len() <= MARKDOWN_LIMIT, "{} bytes", out.len());
        assert!(
            out.contains("The plan was cut at 60,000 characters; the full plan is in `plan.out`.")
        );
        // Whole table rows and whole details blocks only.
        assert_eq!(
            out.matches("<details>").count(),
            out.matches("</details>").count()
        );
        let lines: Vec<&str> = out.lines().collect();
        let head = lines[..8].join("\n");
        let tail = lines[lines.len() - 8..].join("\n");
        insta::assert_snapshot!(format!(
            "{} bytes, {} lines\n--- head ---\n{head}\n--- tail ---\n{tail}",
            out.len(),
            lines.len()
        ));
    }

    #[test]
    fn markdown_keeps_the_whole_table_when_it_fits_and_cuts_details() {
        let out = markdown(&huge(400), None);
        assert!(out.len() <= MARKDOWN_LIMIT, "{} bytes", out.len());
        assert_eq!(out.matches("| `+` | create |").count(), 400);
        let shown = out.matches("<details>").count();
        assert!(shown > 0 && shown < 400, "{shown} details shown");
        assert_eq!(shown, out.matches("</details>").count());
        assert!(out.contains(&format!("Details are shown for {shown} of 400 changes.")));
        assert!(out.ends_with("</details>\n"));
    }

    #[test]
    fn markdown_cut_without_an_out_path_names_the_flag() {
        let out = markdown(&huge(3000), None);
        assert!(out.len() <= MARKDOWN_LIMIT);
        assert!(out.contains("the full plan is in the file given to `--out`."));
    }

    #[test]
    fn markdown_of_a_small_plan_is_not_cut() {
        let out = markdown(&huge(20), None);
        assert!(!out.contains("was cut"));
        assert_eq!(out.matches("<details>").count(), 20);
    }

    #[test]
    fn markdown_with_nothing_to_do() {
        let out = markdown(&plan(PlanMode::Normal, Vec::new()), None);
        assert_eq!(out, "## synlink plan: No changes\n");
    }

    #[test]
    fn json_is_the_pretty_serde_form() {
        let p = plan(PlanMode::Normal, vec![update_one(), replace_one()]);
        let out = json(&p);
        assert!(out.ends_with("}\n"));
        let back: Plan = serde_json::from_str(&out).expect("round trip");
        assert_eq!(back, p);
        insta::assert_snapshot!(out);
    }
}
