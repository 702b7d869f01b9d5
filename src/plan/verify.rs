//! Whether a saved plan may still be applied: its digest matches its content
//! (nothing was edited after it was made), the state is the one it was made
//! against, the spec is the same, and a fresh plan made now equals it in every
//! field that shapes what apply does (action, the address it moves from and
//! why, id, before, after, unknowns and their sources, dependencies and what
//! it waits for, request, outputs, mode). The first difference
//! is named, so a reviewer knows whether the file, the spec, the state or
//! Azure moved. Pure: no I/O.

use std::collections::HashMap;

use serde::Serialize;

use crate::addr::Address;
use crate::plan::{Change, Plan};
use crate::state::State;

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Stale {
    /// A plan file without a digest: made by a synlink from before digests.
    #[error("the plan file has no digest (an older synlink made it), so what it holds cannot be tied to a reviewed plan")]
    NoDigest,
    /// The file's content does not hash to its digest.
    #[error("the plan file was changed after it was made: its content does not match its digest {digest}")]
    Digest {
        /// The digest the file claims.
        digest: String,
    },
    /// Another state (lineage) than the one it was made against.
    #[error("it was made against another state (lineage {then}, now {now})")]
    Lineage {
        /// The plan's.
        then: String,
        /// The state's.
        now: String,
    },
    /// The state was written since.
    #[error("the state changed since it was made (serial {then} then, {now} now)")]
    Serial {
        /// The plan's.
        then: u64,
        /// The state's.
        now: u64,
    },
    /// The spec or its variables changed since.
    #[error("the spec (or its variables) changed since it was made")]
    Spec,
    /// A fresh plan differs (Azure changed since, or the file was edited and resealed).
    #[error("a fresh plan made now differs from it (Azure changed since it was made, or the file was edited): {0}")]
    Differs(String),
}

/// Checks the saved plan's digest against its own content.
pub fn digest(saved: &Plan) -> Result<(), Stale> {
    if saved.digest.is_empty() {
        return Err(Stale::NoDigest);
    }
    if saved.compute_digest() != saved.digest {
        return Err(Stale::Digest {
            digest: saved.digest.clone(),
        });
    }
    Ok(())
}

/// Checks the saved plan was made against `state` as it is now.
pub fn state(saved: &Plan, state: &State) -> Result<(), Stale> {
    // A state that did not exist when the plan was made had a lineage of the
    // moment: only the serial says whether it changed since.
    let new_then = saved.state_serial == 0;
    if saved.state_lineage != state.lineage && !new_then {
        return Err(Stale::Lineage {
            then: saved.state_lineage.clone(),
            now: state.lineage.clone(),
        });
    }
    if saved.state_serial != state.serial {
        return Err(Stale::Serial {
            then: saved.state_serial,
            now: state.serial,
        });
    }
    Ok(())
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The first field in which two changes of one address differ.
pub fn first_difference(saved: &Change, fresh: &Change) -> Option<String> {
    let fields: [(&str, String, String); 13] = [
        ("action", json(&saved.action), json(&fresh.action)),
        (
            "previous_address",
            json(&saved.previous_address),
            json(&fresh.previous_address),
        ),
        (
            "action_reason",
            json(&saved.action_reason),
            json(&fresh.action_reason),
        ),
        ("waits_for", json(&saved.waits_for), json(&fresh.waits_for)),
        ("id", json(&saved.id), json(&fresh.id)),
        ("before", json(&saved.before), json(&fresh.before)),
        ("after", json(&saved.after), json(&fresh.after)),
        (
            "after_unknown",
            json(&saved.after_unknown),
            json(&fresh.after_unknown),
        ),
        ("sources", json(&saved.sources), json(&fresh.sources)),
        (
            "depends_on",
            json(&saved.depends_on),
            json(&fresh.depends_on),
        ),
        ("request", json(&saved.request), json(&fresh.request)),
        (
            "replacement_id",
            json(&saved.replacement_id),
            json(&fresh.replacement_id),
        ),
        ("outputs", json(&saved.outputs), json(&fresh.outputs)),
    ];
    fields
        .into_iter()
        .find(|(_, a, b)| a != b)
        .map(|(field, a, b)| {
            format!(
                "{}: `{field}` differs: the saved plan has {}, a fresh plan has {}",
                saved.address,
                shorten(&a),
                shorten(&b)
            )
        })
}

fn shorten(text: &str) -> String {
    const MAX: usize = 300;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

/// Compares a saved plan with a fresh one made now from the same spec and state.
pub fn compare(saved: &Plan, fresh: &Plan) -> Result<(), Stale> {
    if saved.spec_hash != fresh.spec_hash {
        return Err(Stale::Spec);
    }
    if saved.mode != fresh.mode {
        return Err(Stale::Differs(format!(
            "the saved plan's mode is {}, a fresh plan's {}",
            json(&saved.mode),
            json(&fresh.mode)
        )));
    }
    let fresh_by: HashMap<&Address, &Change> =
        fresh.changes.iter().map(|c| (&c.address, c)).collect();
    for s in &saved.changes {
        match fresh_by.get(&s.address) {
            None => {
                return Err(Stale::Differs(format!(
                    "{}: the saved plan has a change ({}) that a fresh plan does not",
                    s.address,
                    json(&s.action)
                )))
            }
            Some(f) => {
                if let Some(d) = first_difference(s, f) {
                    return Err(Stale::Differs(d));
                }
            }
        }
    }
    if let Some(extra) = fresh
        .changes
        .iter()
        .find(|f| !saved.changes.iter().any(|s| s.address == f.address))
    {
        return Err(Stale::Differs(format!(
            "{}: a fresh plan has a change ({}) that the saved plan does not",
            extra.address,
            json(&extra.action)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use serde_json::json;

    use super::{compare, digest, state, Stale};
    use crate::addr::{Address, ArmId, ResourceKind};
    use crate::plan::{Action, Change, Plan, PlanMode, PLAN_FORMAT_VERSION};
    use crate::state::State;

    fn change(key: &str, action: Action) -> Change {
        Change {
            id: Some(ArmId::new(format!(
                "/subscriptions/s/ml/linkedServices/{key}"
            ))),
            after: Some(
                [("synapse_workspace_id".to_owned(), json!("w"))]
                    .into_iter()
                    .collect(),
            ),
            after_unknown: vec!["principal_id".into()],
            reasons: vec!["not found in Azure".into()],
            depends_on: vec![Address::new(ResourceKind::MlWorkspace, "ml")],
            ..Change::new(Address::new(ResourceKind::Link, key), action)
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        let mut p = Plan {
            format_version: PLAN_FORMAT_VERSION,
            synlink_version: "0".into(),
            digest: String::new(),
            spec_path: "synlink.yaml".into(),
            spec_hash: "h".into(),
            state_lineage: "lin".into(),
            state_serial: 3,
            mode: PlanMode::Normal,
            changes,
            drift: Vec::new(),
            warnings: Vec::new(),
            targets: Vec::new(),
        };
        p.seal();
        p
    }

    #[test]
    fn an_edited_plan_file_fails_its_digest() {
        let saved = plan(vec![change("a", Action::Create)]);
        assert_eq!(digest(&saved), Ok(()));
        let mut edited = saved.clone();
        edited.changes[0].id = Some(ArmId::new("/subscriptions/s/ml/linkedServices/other"));
        assert!(matches!(digest(&edited), Err(Stale::Digest { .. })));
        let mut unsealed = saved;
        unsealed.digest.clear();
        assert_eq!(digest(&unsealed), Err(Stale::NoDigest));
    }

    #[test]
    fn the_first_differing_field_is_named() {
        let fresh = plan(vec![
            change("a", Action::Create),
            change("b", Action::Create),
        ]);
        let mut saved = fresh.clone();
        saved.changes[1].depends_on.clear();
        let e = compare(&saved, &fresh).expect_err("differs").to_string();
        assert!(e.contains("links.b: `depends_on` differs"), "{e}");
        let mut saved = fresh.clone();
        saved.changes[0].after = Some(IndexMap::new());
        let e = compare(&saved, &fresh).expect_err("differs").to_string();
        assert!(e.contains("links.a: `after` differs"), "{e}");
        let mut saved = fresh.clone();
        saved.mode = PlanMode::Destroy;
        assert!(compare(&saved, &fresh)
            .expect_err("differs")
            .to_string()
            .contains("mode"));
        let mut saved = fresh.clone();
        saved.changes.pop();
        let e = compare(&saved, &fresh).expect_err("differs").to_string();
        assert!(e.contains("links.b: a fresh plan has a change"), "{e}");
        assert_eq!(compare(&fresh, &fresh), Ok(()));
    }

    #[test]
    fn a_plan_is_tied_to_its_state_and_spec() {
        let saved = plan(Vec::new());
        let mut s = State::new();
        s.lineage = "lin".into();
        s.serial = 3;
        s.resources.insert(
            "links.x".into(),
            crate::state::ResourceState {
                kind: ResourceKind::Link,
                id: ArmId::new("/subscriptions/s/x"),
                existing: false,
                properties: IndexMap::new(),
                outputs: IndexMap::new(),
                dependencies: Vec::new(),
            },
        );
        assert_eq!(state(&saved, &s), Ok(()));
        s.serial = 4;
        assert!(matches!(
            state(&saved, &s),
            Err(Stale::Serial { then: 3, now: 4 })
        ));
        s.lineage = "other".into();
        assert!(matches!(state(&saved, &s), Err(Stale::Lineage { .. })));
        // A plan made before any state existed, applied once already: the
        // state changed since (not "another state").
        let mut first = saved.clone();
        first.state_serial = 0;
        first.state_lineage = "the moment's".into();
        assert!(matches!(
            state(&first, &s),
            Err(Stale::Serial { then: 0, now: 4 })
        ));
        let mut fresh = saved.clone();
        fresh.spec_hash = "changed".into();
        assert_eq!(compare(&saved, &fresh), Err(Stale::Spec));
    }
}
