//! Renames and removals, as the plan sees them. The spec's `moved:` entries
//! are matched against the state's addresses (`*` patterns, `{N}` captures)
//! and give the state the diff works on: the one the state would be after the
//! moves, with where each moved address came from. Automatic moves (the same
//! ARM id leaving the spec under one address and arriving under another) are
//! found by the diff itself, which knows each address's id; `Orphans` is what
//! it looks them up in. `removed:` entries decide what happens to an address
//! that left the spec: forgotten (`destroy: false`) or deleted.
//!
//! Nothing here reads Azure or writes the state: apply does, from the plan.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::addr::{Address, ArmId};
use crate::plan::ActionReason;
use crate::spec::refactor::RemoveRule;
use crate::spec::LoadedSpec;
use crate::state::State;

/// The state after the explicit moves, and where each moved address came from.
#[derive(Debug, Clone)]
pub struct Moved<'s> {
    /// The state with every `moved:` entry applied to its addresses (the
    /// state itself, not a copy, when there are none).
    pub state: Cow<'s, State>,
    /// New address → (the address the state records, why).
    pub from: HashMap<Address, (Address, ActionReason)>,
    /// Entries that cannot be applied.
    pub errors: Vec<MoveError>,
}

/// Why a `moved:` entry cannot be applied to the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: String,
}

fn error(message: String, hint: &str) -> MoveError {
    MoveError {
        message,
        hint: hint.to_owned(),
    }
}

/// Applies the spec's `moved:` entries, in order, to the state's addresses
/// that left the spec. A move to an address that is not in the spec, or that
/// the state already records, or two addresses onto one, is an error: a
/// mistaken rename must never turn into a delete.
pub fn explicit<'s>(spec: &LoadedSpec, state: &'s State) -> Moved<'s> {
    let mut out = Moved {
        state: Cow::Borrowed(state),
        from: HashMap::new(),
        errors: Vec::new(),
    };
    for rule in &spec.moved {
        let mut renames: Vec<(String, Address)> = Vec::new();
        let mut targets: HashMap<Address, String> = HashMap::new();
        for text in out.state.resources.keys() {
            let Some(old) = Address::parse(text) else {
                continue;
            };
            if spec.resources.contains_key(&old) {
                continue;
            }
            let Some(new) = rule
                .from
                .captures(&old)
                .and_then(|captures| rule.to.render(&captures))
            else {
                continue;
            };
            if new == old {
                continue;
            }
            if !spec.resources.contains_key(&new) {
                out.errors.push(error(
                    format!("`{old}` would move to `{new}` (`from: {}`, `to: {}`), which is not in the spec", rule.from, rule.to),
                    "fix the `to` of the entry, or add a `removed:` entry for the addresses it should not move",
                ));
                continue;
            }
            if out.state.resources.contains_key(&new.to_string()) {
                out.errors.push(error(
                    format!("`{old}` cannot move to `{new}`: the state already records `{new}`"),
                    "`synlink state rm` the wrong one first, or leave this address out of the entry",
                ));
                continue;
            }
            if let Some(first) = targets.insert(new.clone(), text.clone()) {
                out.errors.push(error(
                    format!("`{first}` and `{old}` would both move to `{new}`"),
                    "one address owns one resource: make the `to` tell them apart",
                ));
                continue;
            }
            renames.push((text.clone(), new));
        }
        for (old_text, new) in renames {
            let Some(rs) = out.state.to_mut().resources.shift_remove(&old_text) else {
                continue;
            };
            let old = Address::parse(&old_text).unwrap_or_else(|| new.clone());
            // A chain (a → b, then b → c) remembers where it started.
            let origin = out.from.remove(&old).map_or(old, |(first, _)| first);
            out.from
                .insert(new.clone(), (origin, ActionReason::MoveBecauseMovedBlock));
            out.state.to_mut().resources.insert(new.to_string(), rs);
        }
    }
    out
}

/// The state's addresses that left the spec, by the id they record, for the
/// diff to recognise the same resource under a new address.
#[derive(Debug, Clone, Default)]
pub struct Orphans {
    by_id: HashMap<ArmId, Address>,
    /// Those the diff found again under a new address.
    claimed: HashSet<Address>,
}

impl Orphans {
    /// The addresses of `state` that `spec` does not have (data sources too:
    /// a data source under a new key is the same one, read again).
    pub fn of(spec: &LoadedSpec, state: &State) -> Orphans {
        let by_id = state
            .resources
            .iter()
            .filter_map(|(text, rs)| Some((Address::parse(text)?, rs)))
            .filter(|(a, _)| !spec.resources.contains_key(a))
            .map(|(a, rs)| (rs.id.clone(), a))
            .collect();
        Orphans {
            by_id,
            claimed: HashSet::new(),
        }
    }

    /// The address that left the spec recording `id`, of the same kind as
    /// `new`, if there is one not claimed yet.
    pub fn get(&self, id: &ArmId, new: &Address) -> Option<&Address> {
        self.by_id
            .get(id)
            .filter(|a| a.kind == new.kind && !self.claimed.contains(*a))
    }

    /// Marks an address as found again under a new one.
    pub fn claim(&mut self, old: &Address) {
        self.claimed.insert(old.clone());
    }

    /// Whether the diff found this address again under a new one.
    pub fn is_claimed(&self, address: &Address) -> bool {
        self.claimed.contains(address)
    }
}

/// The first `removed:` entry that names `address`.
pub fn removal<'r>(rules: &'r [RemoveRule], address: &Address) -> Option<&'r RemoveRule> {
    rules.iter().find(|r| r.from.captures(address).is_some())
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::{explicit, Orphans};
    use crate::addr::{Address, ArmId, ResourceKind};
    use crate::plan::ActionReason;
    use crate::spec::source::SourceFile;
    use crate::spec::variables::Overrides;
    use crate::state::{ResourceState, State};

    fn spec(extra: &str) -> crate::spec::LoadedSpec {
        let text = format!(
            "version: 1\ndefaults: {{ subscription: 00000000-0000-0000-0000-0000000000a1, resource_group: rg, location: westeurope }}\nml_workspaces:\n  ml: {{ name: mlw-one, existing: true }}\nsynapse_workspaces:\n  syn: {{ existing: true }}\nlinks:\n  team-a: {{ ml_workspace: ml, synapse_workspace: syn, name: link-a }}\n  team-b: {{ ml_workspace: ml, synapse_workspace: syn, name: link-b }}\n{extra}"
        );
        crate::spec::load_text(
            SourceFile {
                path: "s.yaml".into(),
                text,
            },
            &Overrides::default(),
        )
        .expect("valid spec")
    }

    fn state(addresses: &[&str]) -> State {
        let mut s = State::new();
        for a in addresses {
            s.resources.insert(
                (*a).to_owned(),
                ResourceState {
                    kind: ResourceKind::Link,
                    id: ArmId::new(format!("/subscriptions/s/x/linkedServices/{a}")),
                    existing: false,
                    properties: IndexMap::new(),
                    outputs: IndexMap::new(),
                    dependencies: Vec::new(),
                },
            );
        }
        s
    }

    #[test]
    fn a_pattern_moves_every_matching_address_and_remembers_where_from() {
        let spec = spec("moved:\n  - { from: \"links.*\", to: \"links.team-{1}\" }\n");
        let before = state(&["links.a", "links.b", "links.team-a"]);
        let m = explicit(&spec, &before);
        assert_eq!(
            m.errors.len(),
            1,
            "team-a is already recorded: {:?}",
            m.errors
        );
        assert!(m.state.resources.contains_key("links.team-b"));
        assert_eq!(
            m.from.get(&Address::new(ResourceKind::Link, "team-b")),
            Some(&(
                Address::new(ResourceKind::Link, "b"),
                ActionReason::MoveBecauseMovedBlock
            ))
        );
    }

    #[test]
    fn a_move_to_an_address_outside_the_spec_is_refused() {
        let spec = spec("moved:\n  - { from: \"links.old-*\", to: \"links.team-{1}\" }\n");
        let before = state(&["links.old-zz"]);
        let m = explicit(&spec, &before);
        assert_eq!(m.errors.len(), 1);
        assert!(
            m.errors[0].message.contains("links.team-zz"),
            "{:?}",
            m.errors
        );
        assert!(m.state.resources.contains_key("links.old-zz"));
    }

    #[test]
    fn orphans_are_claimed_once_by_id() {
        let spec = spec("");
        let s = state(&["links.old", "links.team-a"]);
        let mut o = Orphans::of(&spec, &s);
        let id = ArmId::new("/subscriptions/s/x/linkedServices/links.old");
        let new = Address::new(ResourceKind::Link, "team-b");
        let old = Address::new(ResourceKind::Link, "old");
        assert_eq!(o.get(&id, &new), Some(&old));
        assert_eq!(
            o.get(&id, &Address::new(ResourceKind::Attachment, "x")),
            None
        );
        o.claim(&old);
        assert_eq!(o.get(&id, &new), None, "claimed once");
        assert!(o.is_claimed(&old));
        let in_spec = ArmId::new("/subscriptions/s/x/linkedServices/links.team-a");
        assert_eq!(
            o.get(&in_spec, &new),
            None,
            "an address still in the spec is no orphan"
        );
    }
}
