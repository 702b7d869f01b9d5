//! `moved:` and `removed:`, the two sections that speak about addresses the
//! state records rather than resources: their decoding, the address patterns
//! they use (`links.team-*`, captures reused as `{1}`, `{2}`…), and the checks
//! that need the whole spec (a `to` must name an address of the spec, a `from`
//! must have left it), made like the checks of references. Which state
//! addresses an entry matches is decided at plan time (`plan::moves`); nothing
//! here reads the state.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::addr::{Address, ResourceKind};
use crate::spec::de::decode as decode_node;
use crate::spec::diagnostic::{closest, did_you_mean, Code, Diagnostic};
use crate::spec::model::{Moved, Removed};
use crate::spec::node::{Node, Pos, Value};

/// An address pattern: `section.key` where the key may hold `*` (any run of
/// characters, captured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The section.
    pub kind: ResourceKind,
    /// The literal pieces of the key between the `*`s (one more than the stars).
    pieces: Vec<String>,
    /// As written.
    text: String,
}

/// A `to` address: `section.key` where `{N}` stands for the text the N-th `*`
/// of `from` matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The section.
    pub kind: ResourceKind,
    pieces: Vec<Piece>,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Capture(usize),
}

/// Why a text is not a pattern or a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// What is wrong.
    pub message: String,
    /// What may help.
    pub hint: Option<String>,
}

fn split_section(text: &str) -> Result<(ResourceKind, &str), PatternError> {
    let Some((section, key)) = text.split_once('.') else {
        return Err(PatternError {
            message: format!("`{text}` is not an address (section.key)"),
            hint: Some("e.g. `links.team-fraud`, or `links.team-*` for a pattern".into()),
        });
    };
    let kind = ResourceKind::from_section(section).ok_or_else(|| PatternError {
        message: format!("`{section}` in `{text}` is not a section of resources"),
        hint: did_you_mean(section, ResourceKind::ALL.iter().map(|k| k.section())),
    })?;
    if key.is_empty() {
        return Err(PatternError {
            message: format!("`{text}` has no key after the section"),
            hint: None,
        });
    }
    Ok((kind, key))
}

impl Pattern {
    /// Parses `section.key*pattern`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let (kind, key) = split_section(text)?;
        Ok(Pattern {
            kind,
            pieces: key.split('*').map(str::to_owned).collect(),
            text: text.to_owned(),
        })
    }

    /// How many `*` it holds.
    pub fn stars(&self) -> usize {
        self.pieces.len() - 1
    }

    /// The address it names, when it has no `*`.
    pub fn literal(&self) -> Option<Address> {
        (self.stars() == 0).then(|| Address::new(self.kind, &self.pieces[0]))
    }

    /// What each `*` matched in `address`, when it matches (the leftmost,
    /// shortest match for each star).
    pub fn captures(&self, address: &Address) -> Option<Vec<String>> {
        if address.kind != self.kind {
            return None;
        }
        let mut out = Vec::with_capacity(self.stars());
        matches(&self.pieces, &address.key, &mut out).then_some(out)
    }
}

/// Whether `key` matches `pieces` joined by stars; fills `out` with the captures.
fn matches(pieces: &[String], key: &str, out: &mut Vec<String>) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return key.is_empty();
    };
    let Some(after) = key.strip_prefix(first.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return after.is_empty();
    }
    for (i, _) in after
        .char_indices()
        .chain(std::iter::once((after.len(), ' ')))
    {
        out.push(after[..i].to_owned());
        if matches(rest, &after[i..], out) {
            return true;
        }
        out.pop();
    }
    false
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Target {
    /// Parses `section.key` with `{N}` captures (1-based).
    pub fn parse(text: &str) -> Result<Target, PatternError> {
        let (kind, key) = split_section(text)?;
        if key.contains('*') {
            return Err(PatternError {
                message: format!("`{text}`: a `to` address cannot hold `*`"),
                hint: Some(
                    "reuse what a `*` of `from` matched with `{1}`, `{2}`, … in their order".into(),
                ),
            });
        }
        let mut pieces = Vec::new();
        let mut rest = key;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|c| open + c) else {
                break;
            };
            match rest[open + 1..close].parse::<usize>() {
                Ok(n) if n >= 1 => {
                    if open > 0 {
                        pieces.push(Piece::Text(rest[..open].to_owned()));
                    }
                    pieces.push(Piece::Capture(n));
                }
                _ => pieces.push(Piece::Text(rest[..=close].to_owned())),
            }
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Target {
            kind,
            pieces,
            text: text.to_owned(),
        })
    }

    /// The highest capture it uses (0: none).
    pub fn max_capture(&self) -> usize {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Capture(n) => Some(*n),
                Piece::Text(_) => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The address, with the captures put in (`None` when one is missing).
    pub fn render(&self, captures: &[String]) -> Option<Address> {
        let mut key = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => key.push_str(t),
                Piece::Capture(n) => key.push_str(captures.get(n - 1)?),
            }
        }
        (!key.is_empty()).then(|| Address::new(self.kind, key))
    }

    /// The same shape as a pattern: each capture a `*` (to see whether any
    /// address of the spec could be its result).
    pub fn as_pattern(&self) -> Pattern {
        let mut pieces = vec![String::new()];
        for p in &self.pieces {
            match p {
                Piece::Text(t) => {
                    if let Some(last) = pieces.last_mut() {
                        last.push_str(t);
                    }
                }
                Piece::Capture(_) => pieces.push(String::new()),
            }
        }
        Pattern {
            kind: self.kind,
            pieces,
            text: self.text.clone(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// One `moved:` entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveRule {
    /// The address (or pattern) the state records.
    pub from: Pattern,
    /// The address in the spec.
    pub to: Target,
    /// Where the entry is written.
    pub pos: Pos,
}

/// One `removed:` entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveRule {
    /// The address (or pattern) the state records.
    pub from: Pattern,
    /// Delete it in Azure (`true`), or only forget it (`false`).
    pub destroy: bool,
    /// Where the entry is written.
    pub pos: Pos,
}

/// The entries of a `moved:` or `removed:` section with their positions.
fn items<'a>(section: &str, node: &'a Node, diags: &mut Vec<Diagnostic>) -> Vec<&'a Node> {
    match &node.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => {
            diags.push(
                Diagnostic::error(
                    Some(node.pos),
                    format!(
                        "`{section}` must be a list of entries, found {}",
                        other.type_name()
                    ),
                )
                .code(Code::WrongType)
                .at(section)
                .hint(format!("e.g. `{section}: [{{ from: links.old, … }}]`")),
            );
            Vec::new()
        }
    }
}

fn pattern_error(node: &Node, field: &str, section: &str, e: PatternError) -> Diagnostic {
    Diagnostic::error(node.pos_at(field).or(Some(node.pos)), e.message)
        .code(Code::InvalidAddress)
        .at(section)
        .maybe_hint(e.hint)
}

/// Decodes the `moved:` section.
pub fn decode_moved(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<MoveRule> {
    let mut out = Vec::new();
    for item in items("moved", node, diags) {
        let entry: Moved = match decode_node(item) {
            Ok(e) => e,
            Err(e) => {
                diags.extend(e.diagnostics("moved"));
                continue;
            }
        };
        let from = Pattern::parse(&entry.from).map_err(|e| pattern_error(item, "from", "moved", e));
        let to = Target::parse(&entry.to).map_err(|e| pattern_error(item, "to", "moved", e));
        match (from, to) {
            (Ok(from), Ok(to)) => {
                let at = |field| item.pos_at(field).or(Some(item.pos));
                if from.kind != to.kind {
                    diags.push(
                        Diagnostic::error(
                            at("to"),
                            format!(
                                "`{from}` cannot move to `{to}`: a move keeps its section ({} stays {})",
                                from.kind.section(),
                                from.kind.section()
                            ),
                        )
                        .code(Code::InvalidAddress)
                        .at("moved")
                        .hint("a move renames an address; another kind of resource is another resource"),
                    );
                } else if to.max_capture() > from.stars() {
                    diags.push(
                        Diagnostic::error(
                            at("to"),
                            format!(
                                "`{to}` uses `{{{}}}`, but `{from}` has only {} `*`",
                                to.max_capture(),
                                from.stars()
                            ),
                        )
                        .code(Code::InvalidAddress)
                        .at("moved")
                        .hint("`{1}` is what the first `*` of `from` matched, `{2}` the second…"),
                    );
                } else {
                    out.push(MoveRule {
                        from,
                        to,
                        pos: item.pos,
                    });
                }
            }
            (from, to) => diags.extend(from.err().into_iter().chain(to.err())),
        }
    }
    out
}

/// Decodes the `removed:` section.
pub fn decode_removed(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<RemoveRule> {
    let mut out = Vec::new();
    for item in items("removed", node, diags) {
        let entry: Removed = match decode_node(item) {
            Ok(e) => e,
            Err(e) => {
                diags.extend(e.diagnostics("removed"));
                continue;
            }
        };
        match Pattern::parse(&entry.from) {
            Ok(from) => out.push(RemoveRule {
                from,
                destroy: entry.destroy,
                pos: item.pos,
            }),
            Err(e) => diags.push(pattern_error(item, "from", "removed", e)),
        }
    }
    out
}

/// The checks of `moved:` and `removed:` against the resources of the spec:
/// a `to` names an address of the spec (or, with captures, could), a literal
/// `from` has left the spec, no two entries move one address, and no address
/// is both moved and removed.
pub fn check<R>(
    moved: &[MoveRule],
    removed: &[RemoveRule],
    resources: &IndexMap<Address, R>,
    diags: &mut Vec<Diagnostic>,
) {
    let by_kind = |kind: ResourceKind| -> Vec<String> {
        resources
            .keys()
            .filter(|a| a.kind == kind)
            .map(|a| a.key.clone())
            .collect()
    };
    let mut froms: HashMap<String, Pos> = HashMap::new();
    for m in moved {
        if let Some(first) = froms.insert(m.from.to_string(), m.pos) {
            diags.push(
                Diagnostic::error(Some(m.pos), format!("`{}` is moved twice", m.from))
                    .code(Code::DuplicateAddress)
                    .at("moved")
                    .hint(format!(
                        "the first `moved` entry from it is at line {}",
                        first.line
                    )),
            );
        }
        if let Some(from) = m.from.literal() {
            if resources.contains_key(&from) {
                diags.push(
                    Diagnostic::error(
                        Some(m.pos),
                        format!("`moved` from `{from}`, which is still in the spec"),
                    )
                    .code(Code::InvalidAddress)
                    .at("moved")
                    .hint("a move's `from` is the old address: remove its block (or this entry)"),
                );
            }
        }
        match m.to.render(&[]) {
            Some(to) if m.to.max_capture() == 0 => {
                if !resources.contains_key(&to) {
                    let keys = by_kind(to.kind);
                    diags.push(
                        Diagnostic::error(
                            Some(m.pos),
                            format!("`moved` to `{to}`, which is not in the spec"),
                        )
                        .code(Code::DanglingReference)
                        .at("moved")
                        .hint(
                            closest(&to.key, keys.iter().map(String::as_str)).map_or_else(
                                || format!("declare it under `{}:`", to.kind.section()),
                                |k| format!("did you mean `{}.{k}`?", to.kind.section()),
                            ),
                        ),
                    );
                }
            }
            _ => {
                let shape = m.to.as_pattern();
                if !resources.keys().any(|a| shape.captures(a).is_some()) {
                    diags.push(
                        Diagnostic::error(
                            Some(m.pos),
                            format!("`moved` to `{}`: no address of the spec has that shape", m.to),
                        )
                        .code(Code::DanglingReference)
                        .at("moved")
                        .hint("the `to` pattern, with each `{N}` standing for any text, must match an address of the spec"),
                    );
                }
            }
        }
    }
    for r in removed {
        if let Some(from) = r.from.literal() {
            if resources.contains_key(&from) {
                diags.push(
                    Diagnostic::error(
                        Some(r.pos),
                        format!("`removed` names `{from}`, which is still in the spec"),
                    )
                    .code(Code::InvalidAddress)
                    .at("removed")
                    .hint("remove its block too, or drop this entry"),
                );
            }
            if moved.iter().any(|m| m.from.captures(&from).is_some()) {
                diags.push(
                    Diagnostic::error(Some(r.pos), format!("`{from}` is both moved and removed"))
                        .code(Code::ConflictingFields)
                        .at("removed")
                        .hint("keep one of the two entries"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Pattern, Target};
    use crate::addr::Address;

    fn a(text: &str) -> Address {
        Address::parse(text).expect("address")
    }

    #[test]
    fn patterns_capture_what_each_star_matched() {
        let p = Pattern::parse("links.team-*").expect("pattern");
        assert_eq!(
            p.captures(&a("links.team-fraud")),
            Some(vec!["fraud".into()])
        );
        assert_eq!(p.captures(&a("links.team-")), Some(vec![String::new()]));
        assert_eq!(p.captures(&a("links.fraud")), None);
        assert_eq!(p.captures(&a("attachments.team-fraud")), None);
        let two = Pattern::parse("attachments.*-on-*").expect("pattern");
        assert_eq!(
            two.captures(&a("attachments.fraud-on-small")),
            Some(vec!["fraud".into(), "small".into()])
        );
        let literal = Pattern::parse("links.fraud").expect("pattern");
        assert_eq!(literal.literal(), Some(a("links.fraud")));
        assert_eq!(literal.captures(&a("links.fraud")), Some(Vec::new()));
        assert!(Pattern::parse("link.x").is_err());
        assert!(Pattern::parse("links").is_err());
    }

    #[test]
    fn targets_put_captures_back() {
        let t = Target::parse("links.{1}").expect("target");
        assert_eq!(t.max_capture(), 1);
        assert_eq!(t.render(&["fraud".into()]), Some(a("links.fraud")));
        assert_eq!(t.render(&[]), None);
        let t = Target::parse("attachments.{2}-{1}").expect("target");
        assert_eq!(
            t.render(&["a".into(), "b".into()]),
            Some(a("attachments.b-a"))
        );
        assert!(t.as_pattern().captures(&a("attachments.x-y")).is_some());
        assert!(Target::parse("links.team-*").is_err());
        // Braces that are not captures stay text.
        let t = Target::parse("links.{x}").expect("target");
        assert_eq!(t.render(&[]), Some(a("links.{x}")));
    }
}
