//! Expansion of a parsed spec: `${variable}` references and `for_each` entries
//! become plain resource entries, each with its final key. Placeholders
//! (`{each}`, `{each.key}`, `{each.value}`) work in keys and in every string
//! value; a string that is exactly one reference takes the referenced value
//! whole (so `for_each: ${teams}` gets the list), and `$${` writes a literal `${`.
//!
//! The references of an entry are checked once, on the entry as written, before
//! it is expanded: an unknown variable or placeholder in a template of fifty
//! entries is one message at the reference itself, not fifty at the string's
//! start. What an entry would have been called when it is refused is kept
//! (`broken`, `unkeyed`), so that references to it are not reported again as
//! dangling; a misspelled section (`ml_workspace:`) is read for the same
//! purpose. Which keys each `for_each` template produced is kept too, so that
//! a later problem repeated in every entry can be reported once.

use indexmap::IndexMap;

use crate::addr::ResourceKind;
use crate::spec::diagnostic::{closest, did_you_mean, Code, Diagnostic};
use crate::spec::node::{Key, Node, Pos, Span, Value};
use crate::spec::placeholder::{self, EachRef, Token, PLACEHOLDERS};
use crate::spec::variables::{self, Origin, Overrides};

/// The top-level keys that are not resource sections.
pub const SETTINGS: [&str; 5] = ["version", "cloud", "defaults", "variables", "state"];

/// The sections about addresses the state records (`spec::refactor`), read
/// like settings.
pub const REFACTOR: [&str; 2] = ["moved", "removed"];

/// One resource entry after expansion.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its section.
    pub kind: ResourceKind,
    /// Its final key.
    pub key: String,
    /// Where the (template) key is written.
    pub key_pos: Pos,
    /// Its body, with every reference substituted and `for_each` removed.
    pub node: Node,
}

/// A `for_each` entry as written, and the keys it expanded to.
#[derive(Debug, Clone)]
pub struct Template {
    /// `section.key` with the key as written (`links.team-{each}`).
    pub address: String,
    /// Its section.
    pub kind: ResourceKind,
    /// Every key it expanded to, in order (also those whose body was refused).
    pub keys: Vec<String>,
}

/// A spec after expansion.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    /// The settings (`version`, `cloud`, `defaults`, `variables`, `state`) present, substituted.
    pub settings: IndexMap<String, (Pos, Node)>,
    /// Every resource entry, in file order.
    pub entries: Vec<Entry>,
    /// Problems found while expanding.
    pub diagnostics: Vec<Diagnostic>,
    /// Keys of entries that were refused (or written under a misspelled section):
    /// they exist in the author's mind, so references to them are not dangling.
    pub broken: Vec<(ResourceKind, String)>,
    /// Sections with a refused entry whose keys cannot be told at all (its key
    /// or its `for_each` is what is wrong): no reference into them is dangling.
    pub unkeyed: Vec<ResourceKind>,
    /// Every `for_each` template that expanded.
    pub templates: Vec<Template>,
}

/// The value a `for_each` iteration binds.
#[derive(Clone, Copy)]
enum Each<'a> {
    Item(&'a Node),
    Entry(&'a str, &'a Node),
}

/// What the entry a string belongs to iterates, which decides the placeholders
/// it may use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Iterates {
    Nothing,
    List,
    Map,
}

/// What checks and substitution read: the source text (to point inside
/// strings), the variables, and what the entry iterates.
#[derive(Clone, Copy)]
struct Scope<'a> {
    source: &'a str,
    vars: &'a IndexMap<String, (Node, Origin)>,
    iterates: Iterates,
}

struct Context<'a> {
    vars: &'a IndexMap<String, (Node, Origin)>,
    each: Option<Each<'a>>,
}

impl Context<'_> {
    fn iterates(&self) -> Iterates {
        match self.each {
            None => Iterates::Nothing,
            Some(Each::Item(_)) => Iterates::List,
            Some(Each::Entry(..)) => Iterates::Map,
        }
    }
}

/// Every known top-level key.
fn known_sections() -> impl Iterator<Item = &'static str> {
    SETTINGS
        .iter()
        .copied()
        .chain(ResourceKind::ALL.iter().map(|k| k.section()))
        .chain(REFACTOR)
}

/// Whether a top-level key is a section or a setting.
fn is_known(key: &str) -> bool {
    known_sections().any(|k| k == key)
}

/// Expands a parsed document; `source` is the text it was parsed from.
pub fn expand(root: &Node, source: &str, overrides: &Overrides) -> Expanded {
    let mut out = Expanded::default();
    let top = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            out.diagnostics.push(
                Diagnostic::error(None, "the spec is empty")
                    .code(Code::EmptySpec)
                    .hint("a spec starts with `version: 1`; see examples/quickstart.yaml"),
            );
            return out;
        }
        other => {
            out.diagnostics.push(
                Diagnostic::error(
                    Some(root.pos),
                    format!(
                        "the spec must be a map of sections, found {}",
                        other.type_name()
                    ),
                )
                .code(Code::NotASpec),
            );
            return out;
        }
    };
    // A misspelled section is read as the one it most likely means (when that
    // one is absent), so that its misspelling is the only thing reported.
    let meant = |key: &Key| -> Option<&'static str> {
        if is_known(&key.text) {
            return None;
        }
        closest(&key.text, known_sections()).filter(|m| {
            ResourceKind::from_section(m).is_some() || !top.iter().any(|(k, _)| k.text == *m)
        })
    };

    let variables = top
        .iter()
        .find(|(k, _)| k.text == "variables")
        .or_else(|| top.iter().find(|(k, _)| meant(k) == Some("variables")));
    let declared: IndexMap<String, Node> = match variables {
        Some((key, node)) => match &node.value {
            Value::Map(vars) => vars
                .iter()
                .map(|(k, v)| (k.text.clone(), v.clone()))
                .collect(),
            Value::Null => IndexMap::new(),
            other => {
                out.diagnostics.push(
                    Diagnostic::error(
                        Some(node.pos),
                        format!(
                            "`{}` must be a map of NAME: VALUE, found {}",
                            key.text,
                            other.type_name()
                        ),
                    )
                    .code(Code::WrongType)
                    .at(&key.text),
                );
                IndexMap::new()
            }
        },
        None => IndexMap::new(),
    };
    let (vars, problems) = variables::resolve(&declared, overrides);
    out.diagnostics.extend(problems);
    let scope = Scope {
        source,
        vars: &vars,
        iterates: Iterates::Nothing,
    };

    for (key, node) in top {
        if let Some(kind) = ResourceKind::from_section(&key.text) {
            expand_section(kind, node, scope, &mut out);
        } else if SETTINGS.contains(&key.text.as_str()) || REFACTOR.contains(&key.text.as_str()) {
            setting(&key.text, key.pos, node, scope, &mut out);
        } else {
            let hint = did_you_mean(&key.text, known_sections()).unwrap_or_else(|| {
                format!(
                    "the sections are: {}, {}, {}",
                    SETTINGS.join(", "),
                    ResourceKind::ALL.map(ResourceKind::section).join(", "),
                    REFACTOR.join(", ")
                )
            });
            out.diagnostics.push(
                Diagnostic::error(Some(key.pos), format!("unknown section `{}`", key.text))
                    .code(Code::UnknownSection)
                    .width(key.text.chars().count())
                    .hint(hint),
            );
            if let Some(m) = meant(key) {
                match ResourceKind::from_section(m) {
                    Some(kind) => shadow(kind, node, scope, &mut out),
                    None if m != "variables" && !out.settings.contains_key(m) => {
                        setting(m, key.pos, node, scope, &mut out);
                    }
                    None => {}
                }
            }
        }
    }
    out
}

/// Substitutes a setting (`version`, `cloud`, `defaults`, `state`; `variables` is kept
/// as written) after checking its references.
fn setting(name: &str, pos: Pos, node: &Node, scope: Scope<'_>, out: &mut Expanded) {
    let value = if name == "variables" {
        node.clone()
    } else {
        let before = out.diagnostics.len();
        check_node(node, scope, name, &mut out.diagnostics);
        if out.diagnostics.len() == before {
            let ctx = Context {
                vars: scope.vars,
                each: None,
            };
            subst_node(node, &ctx, name, &mut out.diagnostics)
        } else {
            node.clone()
        }
    };
    out.settings.insert(name.to_owned(), (pos, value));
}

/// Reads a section written under a misspelled name only for the keys it
/// declares; its own problems wait until its name is fixed.
fn shadow(kind: ResourceKind, node: &Node, scope: Scope<'_>, out: &mut Expanded) {
    let mut scratch = Expanded::default();
    expand_section(kind, node, scope, &mut scratch);
    out.broken
        .extend(scratch.entries.into_iter().map(|e| (e.kind, e.key)));
    out.broken.extend(scratch.broken);
    out.unkeyed.extend(scratch.unkeyed);
    if !matches!(node.value, Value::Map(_) | Value::Null) {
        out.unkeyed.push(kind);
    }
}

fn expand_section(kind: ResourceKind, section: &Node, scope: Scope<'_>, out: &mut Expanded) {
    let entries = match &section.value {
        Value::Map(entries) => entries,
        Value::Null => return,
        other => {
            out.diagnostics.push(
                Diagnostic::error(
                    Some(section.pos),
                    format!(
                        "`{}` must be a map of KEY: settings, found {}",
                        kind.section(),
                        other.type_name()
                    ),
                )
                .code(Code::WrongType)
                .at(kind.section()),
            );
            return;
        }
    };
    for (key, body) in entries {
        let template = format!("{}.{}", kind.section(), key.text);
        let Some(for_each) = body.get("for_each") else {
            let before = out.diagnostics.len();
            check_key(key, scope, &template, &mut out.diagnostics);
            let key_ok = out.diagnostics.len() == before;
            check_node(body, scope, &template, &mut out.diagnostics);
            let ctx = Context {
                vars: scope.vars,
                each: None,
            };
            if out.diagnostics.len() == before {
                push_entry(kind, key, body, &ctx, out);
            } else {
                refuse(kind, key, key_ok.then_some(&ctx), out);
            }
            continue;
        };
        let before = out.diagnostics.len();
        check_node(for_each, scope, &template, &mut out.diagnostics);
        let ctx = Context {
            vars: scope.vars,
            each: None,
        };
        let items = if out.diagnostics.len() == before {
            subst_node(for_each, &ctx, &template, &mut out.diagnostics)
        } else {
            for_each.clone()
        };
        if out.diagnostics.len() > before {
            out.unkeyed.push(kind);
            continue;
        }
        let iterates = match &items.value {
            Value::Seq(_) => Iterates::List,
            Value::Map(_) => Iterates::Map,
            other => {
                out.diagnostics.push(
                    Diagnostic::error(
                        Some(for_each.pos),
                        format!(
                            "for_each takes a list or a map, found {}",
                            other.type_name()
                        ),
                    )
                    .code(Code::InvalidForEach)
                    .at(&template),
                );
                out.unkeyed.push(kind);
                continue;
            }
        };
        let body = without_for_each(body);
        let scope = Scope { iterates, ..scope };
        check_key(key, scope, &template, &mut out.diagnostics);
        let key_ok = out.diagnostics.len() == before;
        check_node(&body, scope, &template, &mut out.diagnostics);
        let refused = out.diagnostics.len() > before;
        let mut expanded = Template {
            address: template.clone(),
            kind,
            keys: Vec::new(),
        };
        let mut each = |each: Each<'_>, out: &mut Expanded| {
            let ctx = Context {
                vars: scope.vars,
                each: Some(each),
            };
            if refused {
                refuse(kind, key, key_ok.then_some(&ctx), out);
            } else if let Some(k) = push_entry(kind, key, &body, &ctx, out) {
                expanded.keys.push(k);
            }
        };
        match &items.value {
            Value::Seq(list) => {
                for item in list {
                    if matches!(item.value, Value::Seq(_) | Value::Map(_) | Value::Null) {
                        out.diagnostics.push(
                            Diagnostic::error(Some(item.pos), format!("a for_each list item must be a string or a number, found {}", item.value.type_name()))
                                .code(Code::InvalidForEach)
                                .at(&template)
                                .hint("iterate a map to carry structured values: {each.key} and {each.value}"),
                        );
                        continue;
                    }
                    each(Each::Item(item), out);
                }
            }
            Value::Map(map) => {
                for (k, v) in map {
                    each(Each::Entry(&k.text, v), out);
                }
            }
            _ => {}
        }
        if !refused {
            out.templates.push(expanded);
        }
    }
}

/// Records the key a refused entry would have had (`ctx` is given when its key
/// itself is sound), so that references to it are not reported as dangling.
fn refuse(kind: ResourceKind, key: &Key, ctx: Option<&Context<'_>>, out: &mut Expanded) {
    let text = ctx.and_then(|ctx| match subst_str(&key.text, key.pos, ctx) {
        Ok(Value::Str(s)) => Some(s),
        Ok(other) => other.scalar_text(),
        Err(_) => None,
    });
    match text {
        Some(text) => out.broken.push((kind, text)),
        None => out.unkeyed.push(kind),
    }
}

fn without_for_each(body: &Node) -> Node {
    match &body.value {
        Value::Map(entries) => Node {
            pos: body.pos,
            span: body.span,
            value: Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| k.text != "for_each")
                    .cloned()
                    .collect(),
            ),
        },
        _ => body.clone(),
    }
}

/// Expands one entry (one iteration of a template); returns its key when that
/// could be computed, whether or not the body expanded.
fn push_entry(
    kind: ResourceKind,
    key: &Key,
    body: &Node,
    ctx: &Context<'_>,
    out: &mut Expanded,
) -> Option<String> {
    let before = out.diagnostics.len();
    let template = format!("{}.{}", kind.section(), key.text);
    let key_text = match subst_str(&key.text, key.pos, ctx) {
        Ok(Value::Str(s)) => s,
        Ok(other) => {
            let Some(text) = other.scalar_text() else {
                out.diagnostics.push(
                    Diagnostic::error(
                        Some(key.pos),
                        format!(
                            "the key `{}` expands to {}; a key must be a string",
                            key.text,
                            other.type_name()
                        ),
                    )
                    .code(Code::NotAScalar)
                    .at(&template),
                );
                out.unkeyed.push(kind);
                return None;
            };
            text
        }
        Err(d) => {
            out.diagnostics.push(d.at(&template));
            out.unkeyed.push(kind);
            return None;
        }
    };
    let address = format!("{}.{}", kind.section(), key_text);
    let node = subst_node(body, ctx, &address, &mut out.diagnostics);
    if out.diagnostics.len() == before {
        out.entries.push(Entry {
            kind,
            key: key_text.clone(),
            key_pos: key.pos,
            node,
        });
    } else {
        out.broken.push((kind, key_text.clone()));
    }
    Some(key_text)
}

/// Reports every problem of the references in a node's keys and strings, each
/// once and at its own position.
fn check_node(node: &Node, scope: Scope<'_>, address: &str, diags: &mut Vec<Diagnostic>) {
    match &node.value {
        Value::Str(s) => check_str(s, node.pos, node.span, scope, address, diags),
        Value::Seq(items) => {
            for item in items {
                check_node(item, scope, address, diags);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                check_key(k, scope, address, diags);
                check_node(v, scope, address, diags);
            }
        }
        _ => {}
    }
}

fn check_key(key: &Key, scope: Scope<'_>, address: &str, diags: &mut Vec<Diagnostic>) {
    check_str(&key.text, key.pos, key.span, scope, address, diags);
}

fn check_str(
    s: &str,
    pos: Pos,
    span: Option<Span>,
    scope: Scope<'_>,
    address: &str,
    diags: &mut Vec<Diagnostic>,
) {
    if !placeholder::may_hold_references(s) {
        return;
    }
    for token in placeholder::tokens(s) {
        let Some(d) = problem(&token, s, pos, scope.iterates, scope.vars) else {
            continue;
        };
        let (at, len) = match token {
            Token::Var { at, len, .. } | Token::Each { at, len, .. } => (at, len),
            Token::Unknown { text, at } => (at, text.len()),
            Token::Unterminated { at } => (at, 2),
            Token::Text(_) => continue,
        };
        let d = match placeholder::inner_pos(scope.source, pos, span, s, at, len) {
            Some(inner) => Diagnostic {
                pos: Some(inner),
                ..d
            }
            .width(s[at..at + len].chars().count()),
            None => d,
        };
        diags.push(d.at(address));
    }
}

/// What is wrong with one reference where it is used, if anything. The
/// diagnostic points at the string's start; `check_str` moves it inside.
fn problem(
    token: &Token<'_>,
    s: &str,
    pos: Pos,
    iterates: Iterates,
    vars: &IndexMap<String, (Node, Origin)>,
) -> Option<Diagnostic> {
    let d = match (*token, iterates) {
        (Token::Text(_), _)
        | (
            Token::Each {
                which: EachRef::Item,
                ..
            },
            Iterates::List,
        )
        | (
            Token::Each {
                which: EachRef::Key | EachRef::Value,
                ..
            },
            Iterates::Map,
        ) => return None,
        (Token::Var { name, .. }, _) => {
            if vars.contains_key(name) {
                return None;
            }
            Diagnostic::error(Some(pos), format!("unknown variable `{name}`"))
                .code(Code::UnknownVariable)
                .maybe_hint(
                    did_you_mean(name, vars.keys().map(String::as_str))
                        .or_else(|| Some("declare it under `variables:`".into())),
                )
        }
        (Token::Unterminated { .. }, _) => {
            Diagnostic::error(Some(pos), format!("unterminated `${{` in \"{s}\""))
                .code(Code::UnterminatedReference)
                .hint("write `$${` for a literal `${`")
        }
        (Token::Each { at, len, .. }, Iterates::Nothing) => Diagnostic::error(
            Some(pos),
            format!("`{}` is used outside a for_each", &s[at..at + len]),
        )
        .code(Code::UnknownPlaceholder)
        .hint("add `for_each:` with a list or a map to this entry"),
        (
            Token::Each {
                which: EachRef::Key | EachRef::Value,
                ..
            },
            Iterates::List,
        ) => Diagnostic::error(
            Some(pos),
            "`{each.key}` and `{each.value}` need a for_each over a map",
        )
        .code(Code::UnknownPlaceholder)
        .hint("this for_each iterates a list: use {each}"),
        (
            Token::Each {
                which: EachRef::Item,
                ..
            },
            Iterates::Map,
        ) => Diagnostic::error(Some(pos), "`{each}` is used in a for_each over a map")
            .code(Code::UnknownPlaceholder)
            .hint("use {each.key} and {each.value}"),
        (Token::Unknown { text, .. }, iterates) => {
            let word = text[1..text.len() - 1].trim().to_lowercase();
            let hint = match iterates {
                Iterates::Nothing => "placeholders work only in an entry with `for_each`: {each} for a list, {each.key} and {each.value} for a map".to_owned(),
                Iterates::List => closest(&word, ["each"]).map_or_else(
                    || "this for_each iterates a list: its placeholder is {each}".to_owned(),
                    |c| format!("did you mean `{{{c}}}`?"),
                ),
                Iterates::Map => closest(&word, PLACEHOLDERS[1..].iter().copied()).map_or_else(
                    || "this for_each iterates a map: use {each.key} and {each.value}".to_owned(),
                    |c| format!("did you mean `{{{c}}}`?"),
                ),
            };
            Diagnostic::error(Some(pos), format!("unknown placeholder `{text}`"))
                .code(Code::UnknownPlaceholder)
                .hint(hint)
        }
    };
    Some(d)
}

fn subst_node(node: &Node, ctx: &Context<'_>, address: &str, diags: &mut Vec<Diagnostic>) -> Node {
    let value = match &node.value {
        Value::Str(s) => match subst_str(s, node.pos, ctx) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d.at(address));
                node.value.clone()
            }
        },
        Value::Seq(items) => Value::Seq(
            items
                .iter()
                .map(|n| subst_node(n, ctx, address, diags))
                .collect(),
        ),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let text = match subst_str(&k.text, k.pos, ctx) {
                        Ok(v) => v.scalar_text().unwrap_or_default(),
                        Err(d) => {
                            diags.push(d.at(address));
                            k.text.clone()
                        }
                    };
                    (
                        Key {
                            pos: k.pos,
                            span: k.span,
                            text,
                        },
                        subst_node(v, ctx, address, diags),
                    )
                })
                .collect(),
        ),
        scalar => scalar.clone(),
    };
    Node {
        pos: node.pos,
        span: node.span,
        value,
    }
}

/// Substitutes the references in one string. The references were checked
/// before (`check_str`); what can still fail here depends on the value bound,
/// such as a list put inside a string.
fn subst_str(s: &str, pos: Pos, ctx: &Context<'_>) -> Result<Value, Diagnostic> {
    if !placeholder::may_hold_references(s) {
        return Ok(Value::Str(s.to_owned()));
    }
    let tokens = placeholder::tokens(s);
    // A string that is exactly one reference takes the value whole.
    if let [token @ (Token::Var { .. } | Token::Each { .. })] = tokens.as_slice() {
        return resolve(token, s, pos, ctx);
    }
    let mut out = String::with_capacity(s.len());
    for token in &tokens {
        if let Token::Text(t) = token {
            out.push_str(t);
        } else {
            {
                let value = resolve(token, s, pos, ctx)?;
                let text = value.scalar_text().ok_or_else(|| {
                    Diagnostic::error(
                        Some(pos),
                        format!("cannot put {} inside a string", value.type_name()),
                    )
                    .code(Code::NotAScalar)
                    .hint("a reference to a list or map must be the whole value, e.g. for_each: ${teams}")
                })?;
                out.push_str(&text);
            }
        }
    }
    Ok(Value::Str(out))
}

fn resolve(token: &Token<'_>, s: &str, pos: Pos, ctx: &Context<'_>) -> Result<Value, Diagnostic> {
    if let Some(d) = problem(token, s, pos, ctx.iterates(), ctx.vars) {
        return Err(d);
    }
    match (token, ctx.each) {
        (Token::Var { name, .. }, _) => ctx
            .vars
            .get(*name)
            .map(|(n, _)| n.value.clone())
            .ok_or_else(|| {
                Diagnostic::error(Some(pos), format!("unknown variable `{name}`"))
                    .code(Code::UnknownVariable)
            }),
        (
            Token::Each {
                which: EachRef::Item,
                ..
            },
            Some(Each::Item(n)),
        ) => Ok(n.value.clone()),
        (
            Token::Each {
                which: EachRef::Key,
                ..
            },
            Some(Each::Entry(k, _)),
        ) => Ok(Value::Str((*k).to_owned())),
        (
            Token::Each {
                which: EachRef::Value,
                ..
            },
            Some(Each::Entry(_, v)),
        ) => Ok(v.value.clone()),
        _ => Err(
            Diagnostic::error(Some(pos), format!("cannot expand \"{s}\" here"))
                .code(Code::UnknownPlaceholder),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::expand;
    use crate::spec::node::{parse, Value};
    use crate::spec::variables::Overrides;

    fn str_at(node: &crate::spec::node::Node, key: &str) -> String {
        match &node.get(key).expect("field").value {
            Value::Str(s) => s.clone(),
            other => panic!("{key} is {other:?}"),
        }
    }

    #[test]
    fn for_each_over_a_map_binds_key_and_value_in_keys_and_strings() {
        let text = "version: 1\nvariables: { pools: { small: Small, big: Large }, env: prod }\n\
             spark_pools:\n  \"{each.key}\":\n    for_each: ${pools}\n    synapse_workspace: s\n    node_size: \"{each.value}\"\n    name: \"{each.key}${env}\"\n    tags: { \"{each.key}\": \"$${literal}\" }\n";
        let doc = parse(text).expect("yaml");
        let out = expand(&doc, text, &Overrides::default());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let keys: Vec<&str> = out.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["small", "big"]);
        assert_eq!(str_at(&out.entries[1].node, "node_size"), "Large");
        assert_eq!(str_at(&out.entries[1].node, "name"), "bigprod");
        assert!(out.entries[0].node.get("for_each").is_none());
        let tags = out.entries[0].node.get("tags").expect("tags");
        assert_eq!(str_at(tags, "small"), "${literal}");
        // Positions point at the template, so messages lead to the line written.
        assert_eq!(
            out.entries[1].node.pos_at("node_size").map(|p| p.line),
            Some(7)
        );
    }

    #[test]
    fn unknown_variables_and_misplaced_placeholders_are_reported_together() {
        let text = "version: 1\nvariables: { teams: [a] }\nlinks:\n  x: { ml_workspace: \"{each}\", synapse_workspace: \"${temas}\" }\n  \"y-{each.key}\": { for_each: \"${teams}\", ml_workspace: m, synapse_workspace: s }\n";
        let doc = parse(text).expect("yaml");
        let out = expand(&doc, text, &Overrides::default());
        let messages: Vec<&str> = out.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`{each}` is used outside a for_each",
                "unknown variable `temas`",
                "`{each.key}` and `{each.value}` need a for_each over a map"
            ]
        );
        assert_eq!(
            out.diagnostics[1].hint.as_deref(),
            Some("did you mean `teams`?")
        );
        assert!(out.entries.is_empty());
    }
}
