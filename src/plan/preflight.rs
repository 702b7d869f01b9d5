//! Preflight: before anything is written, check the caller may do what the
//! plan asks. Each change's provider says which rights it needs
//! ([`Need`]): Owner on a Synapse workspace to create a link to it (ARM
//! `permissions`), Synapse Administrator there or Azure Owner to write Synapse
//! role assignments. Resources that do not exist yet are skipped: their
//! creator becomes their Synapse Administrator and inherits Owner from the
//! resource group. Every missing right is reported, together.

use std::collections::{BTreeMap, HashMap};

use globset::GlobBuilder;
use serde_json::Value;

use crate::addr::{ArmId, ResourceKind};
use crate::plan::diff::PlanError;
use crate::plan::refresh::Observed;
use crate::plan::Plan;
use crate::provider::{self, role_grant, Need};

/// Each right the plan needs, with the addresses that need it.
pub type Needs = BTreeMap<Need, Vec<String>>;

/// The rights the plan's writes need.
pub fn needs(plan: &Plan) -> Needs {
    let mut needs = Needs::new();
    for c in plan.changes.iter().filter(|c| c.action.writes()) {
        let Some(id) = c.replacement_id.as_ref().or(c.id.as_ref()) else {
            continue;
        };
        for need in provider::of(c.kind).needs(id, c.request.as_ref()) {
            needs.entry(need).or_default().push(c.address.to_string());
        }
    }
    needs
}

/// The existing resources whose ARM permissions preflight must read.
pub fn to_read(needs: &Needs, observed: &Observed) -> Vec<ArmId> {
    let mut ids: Vec<ArmId> = needs
        .keys()
        .map(|n| match n {
            Need::Owner(id) | Need::SynapseRbacWriter(id) => id.clone(),
        })
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

/// Checks the caller's rights; every missing right is one error. `names`
/// maps a resource id to its address, for messages.
pub fn check(
    observed: &Observed,
    needs: &Needs,
    caller: Option<&str>,
    names: &HashMap<ArmId, String, impl std::hash::BuildHasher>,
) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let name = |id: &ArmId| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let owner = |id: &ArmId| {
        observed
            .permissions
            .get(id)
            .is_some_and(|p: &Vec<Value>| is_owner(p))
    };
    let who = caller.map_or_else(
        || "the caller".to_owned(),
        |c| format!("the caller (object id {c})"),
    );
    for (need, addresses) in needs {
        match need {
            Need::Owner(ws) if observed.exists(ws) && !owner(ws) => errors.push(PlanError {
                address: addresses.join(", "),
                message: format!("{who} is not Owner on Synapse workspace `{}`; creating a link needs Owner", name(ws)),
                hint: Some(format!("ask for the Owner role on {} (Contributor can only use existing links), or attach pools with their own identity instead", ws.folded())),
            }),
            Need::SynapseRbacWriter(ws) if observed.exists(ws) && !owner(ws) => {
                let admin = caller.is_some_and(|c| {
                    observed
                        .find_key(ResourceKind::RoleGrant, ws, &role_grant::admin_key(ws.name(), c))
                        .is_some()
                });
                if !admin {
                    errors.push(PlanError {
                        address: addresses.join(", "),
                        message: format!("{who} may not write Synapse role assignments in `{}`: neither Synapse Administrator there nor Owner of it", name(ws)),
                        hint: Some("ask a Synapse Administrator of the workspace to grant you Synapse Administrator, or an Owner of it".into()),
                    });
                }
            }
            _ => {}
        }
    }
    errors
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
