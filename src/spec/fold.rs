//! One report per cause in a `for_each` template. A problem written once in a
//! template is found once per entry it expands to: a misspelled field in fifty
//! teams is fifty diagnostics, a bad name pattern fifty names. This folds them
//! into one diagnostic at the template, addressed by the template as written
//! and naming the entries it affects: `… (in 3 of 3 entries: team-a, team-b,
//! team-c)`. Diagnostics fold together when they concern entries of the same
//! template, sit at the same position, have the same code and severity, and
//! their messages differ only in what each entry substituted (text in backticks
//! or quotes, and numbers). A problem of a single entry keeps that entry's own
//! address. Exact duplicates of any other diagnostic are dropped.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::spec::diagnostic::{Code, Diagnostic, Severity};
use crate::spec::expand::Template;
use crate::spec::node::Pos;

/// How many entries a folded message names before "and N more".
const LISTED: usize = 5;

/// Diagnostics of one template that share a cause.
struct Group {
    first: Diagnostic,
    template: usize,
    /// Indices into the template's keys, in order of appearance, without repeats.
    entries: Vec<usize>,
}

/// What is kept in order: a diagnostic as it is, or a group.
enum Slot {
    Plain(Diagnostic),
    Group(usize),
}

type GroupKey = (usize, Option<Pos>, Code, Severity, String);

/// Sorts diagnostics into file order and folds those that repeat one
/// template's problem in several of its entries.
pub fn fold(mut diags: Vec<Diagnostic>, templates: &[Template]) -> Vec<Diagnostic> {
    diags.sort_by_key(|d| (d.pos.is_none(), d.pos));
    let mut entry_of: HashMap<String, (usize, usize)> = HashMap::new();
    for (t, template) in templates.iter().enumerate() {
        if template.keys.len() < 2 {
            continue;
        }
        let section = template.kind.section();
        for (i, key) in template.keys.iter().enumerate() {
            entry_of.entry(format!("{section}.{key}")).or_insert((t, i));
        }
    }

    let mut slots: Vec<Slot> = Vec::with_capacity(diags.len());
    let mut groups: IndexMap<GroupKey, Group> = IndexMap::new();
    let mut seen: HashSet<(Option<Pos>, Severity, String, Option<String>)> = HashSet::new();
    for d in diags {
        let entry = d.address.as_ref().and_then(|a| entry_of.get(a)).copied();
        let Some((template, index)) = entry else {
            if seen.insert((d.pos, d.severity, d.message.clone(), d.hint.clone())) {
                slots.push(Slot::Plain(d));
            }
            continue;
        };
        let key = (template, d.pos, d.code, d.severity, shape(&d.message));
        if let Some(group) = groups.get_mut(&key) {
            if !group.entries.contains(&index) {
                group.entries.push(index);
            }
        } else {
            slots.push(Slot::Group(groups.len()));
            groups.insert(
                key,
                Group {
                    first: d,
                    template,
                    entries: vec![index],
                },
            );
        }
    }

    let mut groups: Vec<Option<Group>> = groups.into_values().map(Some).collect();
    slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Plain(d) => Some(d),
            Slot::Group(i) => groups[i].take().map(|g| folded(g, templates)),
        })
        .collect()
}

/// The one diagnostic of a group: as it is when it concerns one entry.
fn folded(group: Group, templates: &[Template]) -> Diagnostic {
    let Group {
        mut first,
        template,
        mut entries,
    } = group;
    if entries.len() < 2 {
        return first;
    }
    let template = &templates[template];
    entries.sort_unstable();
    let names: Vec<&str> = entries
        .iter()
        .take(LISTED)
        .map(|&i| template.keys[i].as_str())
        .collect();
    let more = match entries.len().saturating_sub(LISTED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    first.message = format!(
        "{} (in {} of {} entries: {}{more})",
        first.message,
        entries.len(),
        template.keys.len(),
        names.join(", ")
    );
    first.address = Some(template.address.clone());
    first
}

/// A message with what an entry substituted masked: text in backticks or
/// double quotes, and numbers.
fn shape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' => {
                out.push(c);
                quote = Some(c);
            }
            None if c.is_ascii_digit() => {
                if !out.ends_with('#') {
                    out.push('#');
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fold, shape};
    use crate::addr::ResourceKind;
    use crate::spec::diagnostic::{Code, Diagnostic};
    use crate::spec::expand::Template;
    use crate::spec::node::Pos;

    fn at(line: u32) -> Pos {
        Pos { line, col: 5 }
    }

    fn links(keys: &[&str]) -> Template {
        Template {
            address: "links.team-{each}".into(),
            kind: ResourceKind::Link,
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    #[test]
    fn a_problem_in_every_entry_is_reported_once_with_the_entries() {
        let diags: Vec<Diagnostic> = ["a", "b", "c"]
            .iter()
            .map(|k| {
                Diagnostic::error(
                    Some(at(4)),
                    format!("`ml_workspace` refers to `team-{k}`, but there is no AML workspace `team-{k}`"),
                )
                .code(Code::DanglingReference)
                .at(format!("links.team-{k}"))
            })
            .collect();
        let out = fold(diags, &[links(&["team-a", "team-b", "team-c"])]);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(
            out[0].message,
            "`ml_workspace` refers to `team-a`, but there is no AML workspace `team-a` (in 3 of 3 entries: team-a, team-b, team-c)"
        );
        assert_eq!(out[0].address.as_deref(), Some("links.team-{each}"));
    }

    #[test]
    fn one_entry_keeps_its_address_and_long_lists_are_cut() {
        let one = Diagnostic::error(Some(at(4)), "bad").at("links.team-b");
        let out = fold(vec![one.clone()], &[links(&["team-a", "team-b"])]);
        assert_eq!(out, [one]);

        let keys: Vec<String> = (1..=8).map(|i| format!("team-{i}")).collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let diags = keys
            .iter()
            .map(|k| Diagnostic::error(Some(at(4)), "unknown field `nme`").at(format!("links.{k}")))
            .collect();
        let out = fold(diags, &[links(&key_refs)]);
        assert_eq!(
            out[0].message,
            "unknown field `nme` (in 8 of 8 entries: team-1, team-2, team-3, team-4, team-5 and 3 more)"
        );
    }

    #[test]
    fn different_causes_at_one_place_stay_apart() {
        let diags = vec![
            Diagnostic::error(Some(at(4)), "invalid link name `a-`: it ends with `-`")
                .code(Code::NamingRule)
                .at("links.team-a"),
            Diagnostic::error(
                Some(at(4)),
                "invalid link name `bb`: it is shorter than 3 characters",
            )
            .code(Code::NamingRule)
            .at("links.team-b"),
            Diagnostic::error(Some(at(4)), "invalid link name `c-`: it ends with `-`")
                .code(Code::NamingRule)
                .at("links.team-c"),
        ];
        let out = fold(diags, &[links(&["team-a", "team-b", "team-c"])]);
        let messages: Vec<&str> = out.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "invalid link name `a-`: it ends with `-` (in 2 of 3 entries: team-a, team-c)",
                "invalid link name `bb`: it is shorter than 3 characters",
            ]
        );
    }

    #[test]
    fn exact_duplicates_outside_templates_are_dropped_and_order_is_the_file_order() {
        let d = Diagnostic::error(Some(at(9)), "x").at("links.z");
        let early = Diagnostic::error(Some(at(2)), "y");
        let out = fold(vec![d.clone(), early.clone(), d.clone()], &[]);
        assert_eq!(out, [early, d]);
    }

    #[test]
    fn shapes_mask_substituted_values() {
        assert_eq!(
            shape("`node_count` is 300; found the string \"x\""),
            "`` is #; found the string \"\""
        );
    }
}
