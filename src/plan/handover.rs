//! Make before break: when a plan both removes and adds a way for an AML
//! workspace to use the Spark pools of a Synapse workspace (a link and its
//! grant giving way to an attachment with its own identity and its grant), the
//! removals wait for the additions. The new attachment is attached and its
//! grant written and checked in effect (`checkAccessSynapseRbac`) before the
//! old attachment is detached, the old grant revoked or the link unregistered,
//! so there is no moment at which neither identity can use the pool.
//!
//! What "a way to use" means is each provider's (`Provider::serves`); this
//! file only pairs the deletes with the creates and writes the result into the
//! changes' `waits_for`, which apply honours. Pure: no I/O.

use std::collections::HashMap;

use crate::addr::{Address, ArmId};
use crate::plan::{Action, Change};
use crate::provider;

/// The (AML workspace, Synapse workspace) pair a change adds or removes a way
/// between: from its `after` for a create, its `before` for a delete.
fn serves(change: &Change) -> Option<(ArmId, ArmId)> {
    let properties = match change.action {
        Action::Create => change.after.as_ref()?,
        Action::Delete => change.before.as_ref()?,
        _ => return None,
    };
    provider::of(change.kind).serves(change.id.as_ref()?, properties)
}

/// Sets `waits_for` on every delete that removes a way another change of the
/// plan adds, and on the deletes that depend on it (the grant to a link's
/// identity): each waits for the creates that add the new way and for the
/// creates that depend on those (the grant to the new identity).
pub fn order(changes: &mut [Change]) {
    let mut makers: HashMap<(ArmId, ArmId), Vec<Address>> = HashMap::new();
    for c in changes.iter() {
        if let Some(pair) = serves(c).filter(|_| c.action == Action::Create) {
            makers.entry(pair).or_default().push(c.address.clone());
        }
    }
    if makers.is_empty() {
        return;
    }
    // The creates that depend on a maker complete the new way (its grant).
    for list in makers.values_mut() {
        let direct = list.clone();
        for c in changes.iter() {
            let completes = c.action == Action::Create
                && c.depends_on.iter().any(|d| direct.contains(d))
                && !list.contains(&c.address);
            if completes {
                list.push(c.address.clone());
            }
        }
    }
    let mut waits: HashMap<Address, Vec<Address>> = HashMap::new();
    for c in changes.iter() {
        if c.action != Action::Delete {
            continue;
        }
        if let Some(list) = serves(c).and_then(|pair| makers.get(&pair)) {
            waits.insert(c.address.clone(), list.clone());
        }
    }
    // The deletes that depend on a waiting delete (its grant) wait as well.
    let breakers: Vec<(Address, Vec<Address>)> = waits.clone().into_iter().collect();
    for c in changes.iter() {
        if c.action != Action::Delete || waits.contains_key(&c.address) {
            continue;
        }
        if let Some((_, list)) = breakers.iter().find(|(b, _)| c.depends_on.contains(b)) {
            waits.insert(c.address.clone(), list.clone());
        }
    }
    for c in changes.iter_mut() {
        if let Some(list) = waits.remove(&c.address) {
            c.waits_for = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::order;
    use crate::addr::{Address, ArmId, Properties};
    use crate::plan::{Action, Change};

    const ML: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ml";
    const SYN: &str =
        "/subscriptions/s/resourcegroups/g/providers/microsoft.synapse/workspaces/syn";

    fn props(pairs: &[(&str, String)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect()
    }

    fn change(address: &str, action: Action, id: String, p: Properties, deps: &[&str]) -> Change {
        let mut c = Change::new(Address::parse(address).expect("address"), action);
        c.id = Some(ArmId::new(id));
        if action == Action::Delete {
            c.before = Some(p);
        } else {
            c.after = Some(p);
        }
        c.depends_on = deps
            .iter()
            .map(|d| Address::parse(d).expect("address"))
            .collect();
        c
    }

    #[test]
    fn the_link_path_is_removed_only_after_the_identity_path_is_in_effect() {
        let pool = format!("{SYN}/bigdatapools/small");
        let mut changes = vec![
            change(
                "attachments.a-mi",
                Action::Create,
                format!("{ML}/computes/small-mi"),
                props(&[("resource_id", pool.clone())]),
                &["ml_workspaces.a"],
            ),
            change(
                "role_grants.a-mi",
                Action::Create,
                format!("{SYN}/roleAssignments/1"),
                Properties::new(),
                &["attachments.a-mi"],
            ),
            change(
                "role_grants.a",
                Action::Delete,
                format!("{SYN}/roleAssignments/0"),
                Properties::new(),
                &["links.a"],
            ),
            change(
                "attachments.a",
                Action::Delete,
                format!("{ML}/computes/small"),
                props(&[("resource_id", pool)]),
                &[],
            ),
            change(
                "links.a",
                Action::Delete,
                format!("{ML}/linkedServices/l"),
                props(&[("synapse_workspace_id", SYN.to_owned())]),
                &[],
            ),
        ];
        order(&mut changes);
        let new_way = vec![
            Address::parse("attachments.a-mi").expect("address"),
            Address::parse("role_grants.a-mi").expect("address"),
        ];
        for c in &changes[2..] {
            assert_eq!(c.waits_for, new_way, "{}", c.address);
        }
        assert!(changes[0].waits_for.is_empty() && changes[1].waits_for.is_empty());
    }

    #[test]
    fn a_delete_with_nothing_replacing_it_waits_for_nothing() {
        let mut changes = vec![change(
            "links.a",
            Action::Delete,
            format!("{ML}/linkedServices/l"),
            props(&[("synapse_workspace_id", SYN.to_owned())]),
            &[],
        )];
        order(&mut changes);
        assert!(changes[0].waits_for.is_empty());
    }
}
