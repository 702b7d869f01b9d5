//! Folding discovered entries into a spec document: the subscription,
//! resource group and region most entries share become `defaults`; teams (an
//! AML workspace and what hangs off it) that share one shape, at least three
//! of them, become one `for_each` per section over a variable that lists them;
//! every other entry is written out, with a comment where something is odd,
//! and commented out where synlink cannot manage it.
//!
//! A team's shape is its entries with the team's token replaced by `{each}`
//! wherever it stands as a whole word (`mlw-fraud` → `mlw-{each}`). Expanding
//! the template with a team's token gives back exactly that team's entries,
//! so a fold never changes what the spec says. Nothing here knows a kind:
//! `provider::discover` made the entries.

use std::collections::HashMap;

use crate::addr::{Address, ResourceKind};
use crate::provider::discover::{Entry, Field, Fields};

/// The teams of one shape, listed in a variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Its name (`teams`, `teams_2`, …).
    pub name: String,
    /// The team tokens.
    pub items: Vec<String>,
    /// What they share, for the comment above it.
    pub about: String,
}

/// One entry of a section as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Comment lines above it.
    pub comments: Vec<String>,
    /// Its key (a template with `{each}` when folded).
    pub key: String,
    /// Its fields, `for_each` first when folded, `existing` last.
    pub fields: Fields,
    /// Written as comments: synlink leaves it alone.
    pub commented_out: bool,
}

/// A spec, ready to be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// `defaults`: subscription, resource group, region.
    pub defaults: Vec<(String, String)>,
    /// The variables listing folded teams.
    pub variables: Vec<Variable>,
    /// The sections with their blocks, in the spec's order; empty ones left out.
    pub sections: Vec<(&'static str, Vec<Block>)>,
    /// Patterns of `removed:` entries with `destroy: true`.
    pub removed: Vec<String>,
    /// How many teams there are, folded and written out.
    pub teams: usize,
    /// How many of them are folded.
    pub folded: usize,
    /// How many entries carry a comment about something odd or are left out.
    pub odd: usize,
}

/// The placement fields that may become `defaults`.
const PLACEMENT: [&str; 3] = ["subscription", "resource_group", "location"];

/// `text` with every whole-word `token` (bounded by the ends or by `-`, `_`,
/// `.`) replaced by `{each}`.
pub fn templatize(text: &str, token: &str) -> String {
    if token.is_empty() {
        return text.to_owned();
    }
    let bounded = |c: Option<char>| c.is_none_or(|c| matches!(c, '-' | '_' | '.'));
    let mut out = String::with_capacity(text.len() + 6);
    let (mut copied, mut from) = (0, 0);
    while let Some(found) = text[from..].find(token) {
        let (i, j) = (from + found, from + found + token.len());
        if bounded(text[..i].chars().last()) && bounded(text[j..].chars().next()) {
            out.push_str(&text[copied..i]);
            out.push_str("{each}");
            copied = j;
            from = j;
        } else {
            from = i + text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn template_field(field: &Field, token: &str) -> Field {
    match field {
        Field::Text(t) => Field::Text(templatize(t, token)),
        Field::Key(a) => Field::Key(Address::new(a.kind, templatize(&a.key, token))),
        Field::Value(v) => Field::Value(v.clone()),
        Field::Map(m) => Field::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), template_field(v, token)))
                .collect(),
        ),
    }
}

/// An entry's fields as written: its own, and `existing: true` for a data source.
fn written(entry: &Entry) -> Fields {
    let mut f = entry.fields.clone();
    if entry.existing {
        f.insert(
            "existing".into(),
            Field::Value(serde_json::Value::Bool(true)),
        );
    }
    f
}

/// One element of a team's shape: (section, key, fields), templated.
type Shaped = (ResourceKind, String, Fields);

fn shape(entries: &[&Entry], token: &str) -> Vec<Shaped> {
    let mut s: Vec<Shaped> = entries
        .iter()
        .map(|e| {
            let fields = written(e)
                .iter()
                .map(|(k, v)| (k.clone(), template_field(v, token)))
                .collect();
            (e.address.kind, templatize(&e.address.key, token), fields)
        })
        .collect();
    s.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    s
}

/// The value most entries give a placement field (ties: the first seen).
fn most_common(entries: &[Entry], field: &str) -> Option<String> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in entries {
        if let Some(Field::Text(v)) = e.fields.get(field) {
            match counts.iter_mut().find(|(c, _)| c == v) {
                Some((_, n)) => *n += 1,
                None => counts.push((v.clone(), 1)),
            }
        }
    }
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts.into_iter().find(|(_, n)| *n == best).map(|(v, _)| v)
}

/// Folds entries into a document; teams of one shape fold when at least
/// `min_fold` share it.
pub fn document(entries: &[Entry], min_fold: usize) -> Document {
    let mut doc = Document::default();
    let mut entries: Vec<Entry> = entries.to_vec();
    for field in PLACEMENT {
        if let Some(value) = most_common(&entries, field) {
            for e in &mut entries {
                if matches!(e.fields.get(field), Some(Field::Text(v)) if *v == value) {
                    e.fields.shift_remove(field);
                }
            }
            doc.defaults.push((field.to_owned(), value));
        }
    }

    // Teams in order of appearance, with their entries.
    let mut order: Vec<String> = Vec::new();
    let mut members: HashMap<String, Vec<&Entry>> = HashMap::new();
    for e in &entries {
        if let Some(t) = &e.team {
            if !members.contains_key(t) {
                order.push(t.clone());
            }
            members.entry(t.clone()).or_default().push(e);
        }
    }
    doc.teams = order.len();
    // Regular teams grouped by shape, in order of their first team.
    let mut shapes: Vec<(Vec<Shaped>, Vec<String>)> = Vec::new();
    for t in &order {
        let team = &members[t];
        if team
            .iter()
            .any(|e| !e.odd.is_empty() || e.left_out.is_some())
        {
            continue;
        }
        let s = shape(team, t);
        match shapes.iter_mut().find(|(shape, _)| *shape == s) {
            Some((_, teams)) => teams.push(t.clone()),
            None => shapes.push((s, vec![t.clone()])),
        }
    }
    // Folded teams: team → (variable, its shape's index).
    let mut folded: HashMap<String, usize> = HashMap::new();
    let mut folds: Vec<(String, Vec<Shaped>)> = Vec::new();
    for (s, teams) in shapes.into_iter().filter(|(_, t)| t.len() >= min_fold) {
        let name = if folds.is_empty() {
            "teams".to_owned()
        } else {
            format!("teams_{}", folds.len() + 1)
        };
        let mut sections: Vec<&str> = s.iter().map(|(k, _, _)| k.section()).collect();
        sections.dedup();
        doc.variables.push(Variable {
            name: name.clone(),
            items: teams.clone(),
            about: format!(
                "{} teams of one shape ({}), folded into one `for_each` per section",
                teams.len(),
                sections.join(", ")
            ),
        });
        for t in &teams {
            folded.insert(t.clone(), folds.len());
        }
        doc.folded += teams.len();
        folds.push((name, s));
    }

    for kind in ResourceKind::ALL {
        let mut blocks: Vec<Block> = Vec::new();
        let mut emitted: Vec<usize> = Vec::new();
        for e in entries.iter().filter(|e| e.address.kind == kind) {
            if let Some(&f) = e.team.as_ref().and_then(|t| folded.get(t)) {
                if !emitted.contains(&f) {
                    emitted.push(f);
                    let (var, s) = &folds[f];
                    for (_, key, fields) in s.iter().filter(|(k, _, _)| *k == kind) {
                        let mut all = Fields::new();
                        all.insert("for_each".into(), Field::Text(format!("${{{var}}}")));
                        all.extend(fields.clone());
                        blocks.push(Block {
                            comments: Vec::new(),
                            key: key.clone(),
                            fields: all,
                            commented_out: false,
                        });
                    }
                }
                continue;
            }
            let mut comments: Vec<String> = e.odd.iter().map(|o| format!("odd: {o}")).collect();
            if let Some(why) = &e.left_out {
                comments.push(format!(
                    "left out: {why}; synlink leaves it alone ({})",
                    e.id
                ));
            }
            if !comments.is_empty() {
                doc.odd += 1;
            }
            blocks.push(Block {
                comments,
                key: e.address.key.clone(),
                fields: written(e),
                commented_out: e.left_out.is_some(),
            });
        }
        if !blocks.is_empty() {
            doc.sections.push((kind.section(), blocks));
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{document, templatize};
    use crate::addr::{Address, ArmId, ResourceKind};
    use crate::provider::discover::{Entry, Field, Fields};

    /// A team's workspace and link; `odd` marks the link.
    fn team(t: &str, odd: bool) -> Vec<Entry> {
        let mut ws = Fields::new();
        ws.insert("name".into(), Field::Text(format!("mlw-{t}")));
        ws.insert("location".into(), Field::Text("westeurope".into()));
        let mut link = Fields::new();
        link.insert(
            "ml_workspace".into(),
            Field::Key(Address::new(ResourceKind::MlWorkspace, t)),
        );
        link.insert("name".into(), Field::Text("synapselink1".into()));
        let entry = |kind, fields, odd: Vec<String>| Entry {
            address: Address::new(kind, t),
            id: ArmId::new(format!("/subscriptions/s/{kind}/{t}")),
            body: Value::Null,
            fields,
            existing: kind == ResourceKind::MlWorkspace,
            team: Some(t.to_owned()),
            odd,
            left_out: None,
        };
        let note = if odd {
            vec!["no grant".to_owned()]
        } else {
            Vec::new()
        };
        vec![
            entry(ResourceKind::MlWorkspace, ws, Vec::new()),
            entry(ResourceKind::Link, link, note),
        ]
    }

    #[test]
    fn three_teams_of_one_shape_fold_and_an_odd_one_is_written_out() {
        let mut entries: Vec<Entry> = ["fraud", "churn", "forecast", "vision"]
            .iter()
            .flat_map(|t| team(t, *t == "vision"))
            .collect();
        entries.sort_by_key(|a| a.address.kind);
        let doc = document(&entries, 3);
        assert_eq!(
            doc.defaults,
            [("location".to_owned(), "westeurope".to_owned())]
        );
        assert_eq!(doc.variables.len(), 1);
        assert_eq!(doc.variables[0].items, ["fraud", "churn", "forecast"]);
        assert_eq!((doc.teams, doc.folded, doc.odd), (4, 3, 1));
        let (section, blocks) = &doc.sections[1];
        assert_eq!(*section, "links");
        assert_eq!(blocks[0].key, "{each}");
        assert_eq!(blocks[0].fields["for_each"], Field::Text("${teams}".into()));
        assert_eq!(
            blocks[0].fields["ml_workspace"],
            Field::Key(Address::new(ResourceKind::MlWorkspace, "{each}"))
        );
        assert_eq!(blocks[1].key, "vision");
        assert_eq!(blocks[1].comments, ["odd: no grant"]);
        // Two of a shape stay written out.
        let two: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.team.as_deref() != Some("forecast"))
            .collect();
        assert!(document(&two, 3).variables.is_empty());
    }

    #[test]
    fn only_whole_words_become_each() {
        assert_eq!(templatize("mlw-fraud", "fraud"), "mlw-{each}");
        assert_eq!(templatize("fraud-spark", "fraud"), "{each}-spark");
        assert_eq!(templatize("fraudulent", "fraud"), "fraudulent");
        assert_eq!(templatize("a-a_a", "a"), "{each}-{each}_{each}");
        assert_eq!(templatize("shared", "a"), "shared");
        assert_eq!(templatize("x", ""), "x");
        assert_eq!(templatize("aa-a", "a"), "aa-{each}");
    }
}
