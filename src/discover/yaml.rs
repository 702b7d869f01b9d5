//! Writing a discovered spec as YAML text a person reads and keeps: sections
//! in the spec's order, comments above what they explain, long lists and
//! comments wrapped, strings quoted only where YAML would read them as
//! something else. Pure: the text is returned, not written.

use std::fmt::Write as _;

use serde_json::Value;

use crate::discover::fold::{Block, Document};
use crate::provider::discover::Field;

/// Where lines are wrapped.
const WIDTH: usize = 96;

/// Words YAML 1.1 readers take for booleans or null when written plain.
const RESERVED: [&str; 11] = [
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "",
];

/// A string as a YAML scalar: plain when safe, double-quoted otherwise.
pub fn scalar(text: &str) -> String {
    let plain = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !RESERVED.contains(&text.to_ascii_lowercase().as_str());
    // `${name}` alone is a variable reference, written as the examples write it.
    let reference = text.starts_with("${")
        && text.ends_with('}')
        && text[2..text.len() - 1]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain || reference {
        text.to_owned()
    } else {
        Value::String(text.to_owned()).to_string()
    }
}

/// A JSON value as YAML (flow style for collections).
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", scalar(k), value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Comment lines at `indent`, wrapped.
fn comment(out: &mut String, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && pad.len() + 2 + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{pad}# {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{pad}# {line}");
    }
}

/// `name: value` lines of fields at `indent`.
fn fields(out: &mut String, indent: usize, fields: &crate::provider::discover::Fields) {
    let pad = " ".repeat(indent);
    for (name, field) in fields {
        match field {
            Field::Text(t) => {
                let _ = writeln!(out, "{pad}{}: {}", scalar(name), scalar(t));
            }
            Field::Key(a) => {
                let _ = writeln!(out, "{pad}{}: {}", scalar(name), scalar(&a.key));
            }
            Field::Value(v) => {
                let _ = writeln!(out, "{pad}{}: {}", scalar(name), value(v));
            }
            Field::Map(m) => {
                let _ = writeln!(out, "{pad}{}:", scalar(name));
                self::fields(out, indent + 2, m);
            }
        }
    }
}

/// One block of a section, at indent 2.
fn block(out: &mut String, b: &Block) {
    for c in &b.comments {
        comment(out, 2, c);
    }
    let mut text = format!("  {}:\n", scalar(&b.key));
    fields(&mut text, 4, &b.fields);
    if b.commented_out {
        for line in text.lines() {
            let _ = writeln!(out, "  # {}", line.strip_prefix("  ").unwrap_or(line));
        }
    } else {
        out.push_str(&text);
    }
}

/// A list as a flow sequence, wrapped.
fn flow_list(out: &mut String, name: &str, items: &[String]) {
    let items: Vec<String> = items.iter().map(|i| scalar(i)).collect();
    let one_line = format!("  {name}: [{}]", items.join(", "));
    if one_line.len() <= WIDTH {
        let _ = writeln!(out, "{one_line}");
        return;
    }
    let _ = writeln!(out, "  {name}: [");
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item},")
        } else {
            item.clone()
        };
        if !line.is_empty() && 6 + line.len() + 1 + piece.len() > WIDTH {
            let _ = writeln!(out, "      {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "      {line}");
    }
    let _ = writeln!(out, "    ]");
}

/// The document as YAML; `header` lines become comments at the top, `cloud`
/// the spec's `cloud` setting when one is wanted.
pub fn write(doc: &Document, header: &[String], cloud: Option<&str>) -> String {
    let mut out = String::new();
    for h in header {
        comment(&mut out, 0, h);
    }
    out.push_str("version: 1\n");
    if let Some(c) = cloud {
        let _ = writeln!(out, "cloud: {}", scalar(c));
    }
    if !doc.defaults.is_empty() {
        out.push_str("\ndefaults:\n");
        for (k, v) in &doc.defaults {
            let _ = writeln!(out, "  {k}: {}", scalar(v));
        }
    }
    if !doc.variables.is_empty() {
        out.push_str("\nvariables:\n");
        for v in &doc.variables {
            comment(&mut out, 2, &v.about);
            flow_list(&mut out, &v.name, &v.items);
        }
    }
    for (section, blocks) in &doc.sections {
        let _ = writeln!(out, "\n{section}:");
        for (i, b) in blocks.iter().enumerate() {
            // A blank line sets apart what carries a comment.
            if i > 0 && !b.comments.is_empty() {
                out.push('\n');
            }
            block(&mut out, b);
        }
    }
    if !doc.removed.is_empty() {
        out.push_str("\nremoved:\n");
        comment(
            &mut out,
            2,
            "The linked-service path these teams used until now. The plan unregisters each link, revokes its grant and detaches the old attachment only once the new attachment and its grant are in effect, so the pool stays usable throughout.",
        );
        for pattern in &doc.removed {
            let _ = writeln!(out, "  - from: {}\n    destroy: true", scalar(pattern));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scalar;

    #[test]
    fn strings_are_quoted_only_where_yaml_would_misread_them() {
        assert_eq!(scalar("mlw-fraud"), "mlw-fraud");
        assert_eq!(scalar("${teams}"), "${teams}");
        assert_eq!(scalar("{each}"), "\"{each}\"");
        assert_eq!(scalar("mlw-{each}"), "\"mlw-{each}\"");
        assert_eq!(scalar("3.4"), "\"3.4\"");
        assert_eq!(scalar("yes"), "\"yes\"");
        assert_eq!(scalar("No"), "\"No\"");
        assert_eq!(scalar("/subscriptions/x"), "\"/subscriptions/x\"");
        assert_eq!(scalar("00000000-0000"), "\"00000000-0000\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar(""), "\"\"");
    }
}
