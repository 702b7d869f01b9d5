//! Expansion of a parsed spec: `${variable}` references and `for_each` entries
//! become plain resource entries, each with its final key. Placeholders
//! (`{each}`, `{each.key}`, `{each.value}`) work in keys and in every string
//! value; a string that is exactly one reference takes the referenced value
//! whole (so `for_each: ${teams}` gets the list), and `$${` writes a literal `${`.

use indexmap::IndexMap;

use crate::addr::ResourceKind;
use crate::spec::diagnostic::{did_you_mean, Diagnostic};
use crate::spec::node::{Key, Node, Pos, Value};
use crate::spec::variables::{self, Origin, Overrides};

/// The top-level keys that are not resource sections.
pub const SETTINGS: [&str; 4] = ["version", "cloud", "defaults", "variables"];

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

/// A spec after expansion.
#[derive(Debug, Clone, Default)]
pub struct Expanded {
    /// The settings (`version`, `cloud`, `defaults`, `variables`) present, substituted.
    pub settings: IndexMap<String, (Pos, Node)>,
    /// Every resource entry, in file order.
    pub entries: Vec<Entry>,
    /// Problems found while expanding.
    pub diagnostics: Vec<Diagnostic>,
}

/// The value a `for_each` iteration binds.
#[derive(Clone, Copy)]
enum Each<'a> {
    Item(&'a Node),
    Entry(&'a str, &'a Node),
}

struct Context<'a> {
    vars: &'a IndexMap<String, (Node, Origin)>,
    each: Option<Each<'a>>,
}

/// Expands a parsed document.
pub fn expand(root: &Node, overrides: &Overrides) -> Expanded {
    let mut out = Expanded::default();
    let top = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => {
            out.diagnostics.push(
                Diagnostic::error(None, "the spec is empty")
                    .hint("a spec starts with `version: 1`; see examples/quickstart.yaml"),
            );
            return out;
        }
        other => {
            out.diagnostics.push(Diagnostic::error(
                Some(root.pos),
                format!(
                    "the spec must be a map of sections, found {}",
                    other.type_name()
                ),
            ));
            return out;
        }
    };

    let declared: IndexMap<String, Node> = match top.iter().find(|(k, _)| k.text == "variables") {
        Some((_, node)) => match &node.value {
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
                            "`variables` must be a map of NAME: VALUE, found {}",
                            other.type_name()
                        ),
                    )
                    .at("variables"),
                );
                IndexMap::new()
            }
        },
        None => IndexMap::new(),
    };
    let (vars, problems) = variables::resolve(&declared, overrides);
    out.diagnostics.extend(problems);

    for (key, node) in top {
        if let Some(kind) = ResourceKind::from_section(&key.text) {
            expand_section(kind, node, &vars, &mut out);
        } else if SETTINGS.contains(&key.text.as_str()) {
            let value = if key.text == "variables" {
                node.clone()
            } else {
                let ctx = Context {
                    vars: &vars,
                    each: None,
                };
                subst_node(node, &ctx, &key.text, &mut out.diagnostics)
            };
            out.settings.insert(key.text.clone(), (key.pos, value));
        } else {
            let known = SETTINGS
                .iter()
                .copied()
                .chain(ResourceKind::ALL.iter().map(|k| k.section()));
            out.diagnostics.push(
                Diagnostic::error(Some(key.pos), format!("unknown section `{}`", key.text))
                    .maybe_hint(did_you_mean(&key.text, known).or_else(|| {
                        Some(format!(
                            "the sections are: {}, {}",
                            SETTINGS.join(", "),
                            ResourceKind::ALL.map(ResourceKind::section).join(", ")
                        ))
                    })),
            );
        }
    }
    out
}

fn expand_section(
    kind: ResourceKind,
    section: &Node,
    vars: &IndexMap<String, (Node, Origin)>,
    out: &mut Expanded,
) {
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
                .at(kind.section()),
            );
            return;
        }
    };
    for (key, body) in entries {
        let for_each = body.get("for_each");
        let Some(for_each) = for_each else {
            let ctx = Context { vars, each: None };
            push_entry(kind, key, body, &ctx, out);
            continue;
        };
        let where_ = format!("{}.{}", kind.section(), key.text);
        let ctx = Context { vars, each: None };
        let before = out.diagnostics.len();
        let items = subst_node(for_each, &ctx, &where_, &mut out.diagnostics);
        if out.diagnostics.len() > before {
            // Already reported (an unknown variable): the value is not worth a second message.
            continue;
        }
        let body = without_for_each(body);
        match &items.value {
            Value::Seq(list) => {
                for item in list {
                    if matches!(item.value, Value::Seq(_) | Value::Map(_) | Value::Null) {
                        out.diagnostics.push(
                            Diagnostic::error(Some(item.pos), format!("a for_each list item must be a string or a number, found {}", item.value.type_name()))
                                .at(&where_)
                                .hint("iterate a map to carry structured values: {each.key} and {each.value}"),
                        );
                        continue;
                    }
                    let ctx = Context {
                        vars,
                        each: Some(Each::Item(item)),
                    };
                    push_entry(kind, key, &body, &ctx, out);
                }
            }
            Value::Map(map) => {
                for (k, v) in map {
                    let ctx = Context {
                        vars,
                        each: Some(Each::Entry(&k.text, v)),
                    };
                    push_entry(kind, key, &body, &ctx, out);
                }
            }
            other => out.diagnostics.push(
                Diagnostic::error(
                    Some(for_each.pos),
                    format!(
                        "for_each takes a list or a map, found {}",
                        other.type_name()
                    ),
                )
                .at(&where_),
            ),
        }
    }
}

fn without_for_each(body: &Node) -> Node {
    match &body.value {
        Value::Map(entries) => Node {
            pos: body.pos,
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

fn push_entry(kind: ResourceKind, key: &Key, body: &Node, ctx: &Context<'_>, out: &mut Expanded) {
    let before = out.diagnostics.len();
    let where_ = format!("{}.{}", kind.section(), key.text);
    let key_text = match subst_str(&key.text, key.pos, ctx) {
        Ok(Value::Str(s)) => s,
        Ok(other) => other.scalar_text().unwrap_or_default(),
        Err(d) => {
            out.diagnostics.push(d.at(&where_));
            return;
        }
    };
    let address = format!("{}.{}", kind.section(), key_text);
    let node = subst_node(body, ctx, &address, &mut out.diagnostics);
    if out.diagnostics.len() == before {
        out.entries.push(Entry {
            kind,
            key: key_text,
            key_pos: key.pos,
            node,
        });
    }
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
                    (Key { pos: k.pos, text }, subst_node(v, ctx, address, diags))
                })
                .collect(),
        ),
        scalar => scalar.clone(),
    };
    Node {
        pos: node.pos,
        value,
    }
}

/// A reference found in a string.
enum Ref<'s> {
    Var(&'s str),
    Each,
    EachKey,
    EachValue,
}

/// Substitutes the references in one string.
fn subst_str(s: &str, pos: Pos, ctx: &Context<'_>) -> Result<Value, Diagnostic> {
    if !s.contains("${") && !s.contains("{each") {
        return Ok(Value::Str(s.to_owned()));
    }
    // A string that is exactly one reference takes the value whole.
    if let Some(whole) = whole_ref(s) {
        return resolve(&whole, pos, ctx);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                return Err(
                    Diagnostic::error(Some(pos), format!("unterminated `${{` in \"{s}\""))
                        .hint("write `$${` for a literal `${`"),
                );
            };
            out.push_str(&scalar(&Ref::Var(after[..end].trim()), pos, ctx)?);
            rest = &after[end + 1..];
        } else if let Some((r, len)) = each_ref_prefix(rest) {
            out.push_str(&scalar(&r, pos, ctx)?);
            rest = &rest[len..];
        } else {
            let ch = rest.chars().next().unwrap_or_default();
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    Ok(Value::Str(out))
}

fn each_ref_prefix(s: &str) -> Option<(Ref<'static>, usize)> {
    [
        ("{each}", Ref::Each),
        ("{each.key}", Ref::EachKey),
        ("{each.value}", Ref::EachValue),
    ]
    .into_iter()
    .find(|(p, _)| s.starts_with(p))
    .map(|(p, r)| (r, p.len()))
}

fn whole_ref(s: &str) -> Option<Ref<'_>> {
    if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        return (!name.contains('}') && !name.contains("${")).then(|| Ref::Var(name.trim()));
    }
    each_ref_prefix(s)
        .filter(|(_, len)| *len == s.len())
        .map(|(r, _)| r)
}

fn scalar(r: &Ref<'_>, pos: Pos, ctx: &Context<'_>) -> Result<String, Diagnostic> {
    let value = resolve(r, pos, ctx)?;
    value.scalar_text().ok_or_else(|| {
        Diagnostic::error(
            Some(pos),
            format!("cannot put {} inside a string", value.type_name()),
        )
        .hint("a reference to a list or map must be the whole value, e.g. for_each: ${teams}")
    })
}

fn resolve(r: &Ref<'_>, pos: Pos, ctx: &Context<'_>) -> Result<Value, Diagnostic> {
    match (r, ctx.each) {
        (Ref::Var(name), _) => ctx
            .vars
            .get(*name)
            .map(|(n, _)| n.value.clone())
            .ok_or_else(|| {
                Diagnostic::error(Some(pos), format!("unknown variable `{name}`")).maybe_hint(
                    did_you_mean(name, ctx.vars.keys().map(String::as_str))
                        .or_else(|| Some("declare it under `variables:`".into())),
                )
            }),
        (_, None) => Err(
            Diagnostic::error(Some(pos), "`{each}` is used outside a for_each")
                .hint("add `for_each:` with a list or a map to this entry"),
        ),
        (Ref::Each, Some(Each::Item(n))) => Ok(n.value.clone()),
        (Ref::Each, Some(Each::Entry(..))) => Err(Diagnostic::error(
            Some(pos),
            "`{each}` is used in a for_each over a map",
        )
        .hint("use {each.key} and {each.value}")),
        (Ref::EachKey | Ref::EachValue, Some(Each::Item(_))) => Err(Diagnostic::error(
            Some(pos),
            "`{each.key}` and `{each.value}` need a for_each over a map",
        )
        .hint("this for_each iterates a list: use {each}")),
        (Ref::EachKey, Some(Each::Entry(k, _))) => Ok(Value::Str((*k).to_owned())),
        (Ref::EachValue, Some(Each::Entry(_, v))) => Ok(v.value.clone()),
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
        let doc = parse(
            "version: 1\nvariables: { pools: { small: Small, big: Large }, env: prod }\n\
             spark_pools:\n  \"{each.key}\":\n    for_each: ${pools}\n    synapse_workspace: s\n    node_size: \"{each.value}\"\n    name: \"{each.key}${env}\"\n    tags: { \"{each.key}\": \"$${literal}\" }\n",
        )
        .expect("yaml");
        let out = expand(&doc, &Overrides::default());
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
        let doc = parse(
            "version: 1\nvariables: { teams: [a] }\nlinks:\n  x: { ml_workspace: \"{each}\", synapse_workspace: \"${temas}\" }\n  \"y-{each.key}\": { for_each: \"${teams}\", ml_workspace: m, synapse_workspace: s }\n",
        )
        .expect("yaml");
        let out = expand(&doc, &Overrides::default());
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
