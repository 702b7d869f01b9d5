//! Preflight: before anything is written, check the caller may do what the
//! plan asks. Each change's provider says which rights it needs ([`Need`]):
//! Owner on a resource (read from ARM `permissions`), or else a child that
//! grants the right (a Synapse Administrator assignment to the caller).
//! Resources that do not exist yet are skipped: their creator becomes their
//! Synapse Administrator and inherits Owner from the resource group. Every
//! missing right is reported, together.

use std::collections::{BTreeMap, HashMap};

use globset::GlobBuilder;
use serde_json::Value;

use crate::addr::ArmId;
use crate::plan::diff::PlanError;
use crate::plan::refresh::Observed;
use crate::plan::Change;
use crate::provider::{self, Need};

/// Each right the plan needs, with the addresses that need it.
pub type Needs = BTreeMap<Need, Vec<String>>;

/// The rights a plan's writes need, for `caller` (its object id, when known).
pub fn needs<'c>(changes: impl IntoIterator<Item = &'c Change>, caller: Option<&str>) -> Needs {
    let mut needs = Needs::new();
    for c in changes.into_iter().filter(|c| c.action.writes()) {
        let Some(id) = c.replacement_id.as_ref().or(c.id.as_ref()) else {
            continue;
        };
        for need in provider::of(c.kind).needs(id, c.request.as_ref(), caller) {
            needs.entry(need).or_default().push(c.address.to_string());
        }
    }
    needs
}

/// The existing resources whose ARM permissions preflight must read.
pub fn to_read(needs: &Needs, observed: &Observed) -> Vec<ArmId> {
    let mut ids: Vec<ArmId> = needs
        .keys()
        .map(|n| n.resource.clone())
        .filter(|id| observed.exists(id))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Whether the ARM action pattern `pattern` (with `*`) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .build()
        .is_ok_and(|g| g.compile_matcher().is_match(action))
}

/// Whether the permission sets allow `action` (allowed by some `actions`
/// entry and not removed by that entry's `notActions`).
pub fn allows(permissions: &[Value], action: &str) -> bool {
    let list = |p: &Value, key: &str| -> Vec<String> {
        p.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    permissions.iter().any(|p| {
        list(p, "actions").iter().any(|a| covers(a, action))
            && !list(p, "notActions").iter().any(|n| covers(n, action))
    })
}

/// Whether the permissions amount to Owner: everything, including writing role assignments.
pub fn is_owner(permissions: &[Value]) -> bool {
    allows(permissions, "Microsoft.Authorization/roleAssignments/write")
        && allows(permissions, "Microsoft.Synapse/workspaces/write")
}

/// Checks the caller's rights; every missing right is one error. Resources
/// that do not exist yet are skipped. `names` maps a resource id to its
/// address, for messages.
pub fn check(
    observed: &Observed,
    needs: &Needs,
    caller: Option<&str>,
    names: &HashMap<ArmId, String, impl std::hash::BuildHasher>,
) -> Vec<PlanError> {
    let who = caller.map_or_else(
        || "the caller".to_owned(),
        |c| format!("the caller (object id {c})"),
    );
    needs
        .iter()
        .filter(|(need, _)| observed.exists(&need.resource))
        .filter(|(need, _)| {
            !observed
                .permissions
                .get(&need.resource)
                .is_some_and(|p| is_owner(p))
        })
        .filter(|(need, _)| {
            need.or_child
                .as_ref()
                .is_none_or(|(kind, key)| observed.find_key(*kind, &need.resource, key).is_none())
        })
        .map(|(need, addresses)| {
            let name = names
                .get(&need.resource)
                .cloned()
                .unwrap_or_else(|| need.resource.to_string());
            PlanError {
                address: addresses.join(", "),
                message: format!("{who} {}", need.lacking.replace("{name}", &name)),
                hint: Some(need.hint.replace("{id}", &need.resource.folded())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{allows, is_owner};

    #[test]
    fn owner_has_everything_contributor_lacks_role_assignments() {
        let owner = [json!({ "actions": ["*"], "notActions": [] })];
        let contributor = [
            json!({ "actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"] }),
        ];
        assert!(is_owner(&owner));
        assert!(!is_owner(&contributor));
        assert!(allows(&contributor, "Microsoft.Synapse/workspaces/write"));
        assert!(!is_owner(&[json!({ "actions": ["*/read"] })]));
    }
}
