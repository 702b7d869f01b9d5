//! Preflight: before anything is written, check the caller may do what the
//! plan asks. Creating a link needs Owner on the Synapse workspace (ARM
//! `permissions`); writing Synapse role assignments needs Synapse Administrator
//! on the workspace or Azure Owner. Every failure is reported, together.

use std::collections::BTreeMap;

/// Synapse workspaces (folded ARM ids) and the addresses that need a right there.
pub type Needs = BTreeMap<String, Vec<String>>;

use serde_json::Value;

use crate::addr::ResourceKind;
use crate::cloud::resources::{fold_id, permissions, role_grant};
use crate::plan::diff::{Known, PlanError};
use crate::plan::refresh::{parent_of, Observed};
use crate::plan::{Action, Plan};
use crate::spec::roles;

/// What preflight needs to read: the Synapse workspaces (folded ARM ids)
/// where links will be created or grants written.
pub fn workspaces_to_check(
    plan: &Plan,
    known: &indexmap::IndexMap<crate::addr::Address, Known>,
    link_targets: &dyn Fn(&crate::addr::Address) -> Option<String>,
) -> (Needs, Needs) {
    let mut for_links = Needs::new();
    let mut for_grants = Needs::new();
    for c in &plan.changes {
        if !matches!(c.action, Action::Create | Action::Replace | Action::Delete) {
            continue;
        }
        match c.kind {
            ResourceKind::Link if c.action != Action::Delete => {
                if let Some(ws) = link_targets(&c.address) {
                    for_links
                        .entry(fold_id(&ws))
                        .or_default()
                        .push(c.address.to_string());
                }
            }
            ResourceKind::RoleGrant => {
                let id =
                    c.id.clone()
                        .or_else(|| known.get(&c.address).map(|k| k.id.clone()))
                        .unwrap_or_default();
                if let Some(parent) = parent_of(&id) {
                    for_grants
                        .entry(fold_id(parent))
                        .or_default()
                        .push(c.address.to_string());
                }
            }
            _ => {}
        }
    }
    (for_links, for_grants)
}

/// Whether `caller` holds Synapse Administrator at the workspace scope.
fn is_synapse_admin(observed: &Observed, workspace_id: &str, caller: &str) -> bool {
    let Some(rbac) = observed.synapse.get(workspace_id) else {
        return false;
    };
    let admin = roles::find("Synapse Administrator")
        .map(|r| r.id)
        .unwrap_or_default();
    let ws_name = workspace_id.rsplit('/').next().unwrap_or_default();
    let ws_scope = role_grant::scope(ws_name, None);
    rbac.assignments.iter().any(|a| {
        role_grant::tuple_of(a).is_some_and(|(scope, role, principal)| {
            scope == ws_scope && role == admin && principal.eq_ignore_ascii_case(caller)
        })
    })
}

/// Checks the caller's rights; every missing right is one error. Workspaces
/// that do not exist yet are skipped: their creator becomes their Synapse
/// Administrator and inherits Owner from the resource group. `names` maps a
/// folded workspace id to its address, for messages.
pub fn check(
    observed: &Observed,
    for_links: &Needs,
    for_grants: &Needs,
    caller: Option<&str>,
    names: &std::collections::HashMap<String, String, impl std::hash::BuildHasher>,
) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let exists = |ws: &String| observed.resources.contains_key(ws);
    let name = |ws: &String| names.get(ws).cloned().unwrap_or_else(|| ws.clone());
    let owner = |ws: &str| {
        observed
            .permissions
            .get(ws)
            .is_some_and(|p: &Vec<Value>| permissions::is_owner(p))
    };
    let who = caller.map_or_else(
        || "the caller".to_owned(),
        |c| format!("the caller (object id {c})"),
    );
    for (ws, addresses) in for_links.iter().filter(|(ws, _)| exists(ws)) {
        if !owner(ws) {
            errors.push(PlanError {
                address: addresses.join(", "),
                message: format!("{who} is not Owner on Synapse workspace `{}`; creating a link needs Owner", name(ws)),
                hint: Some(format!("ask for the Owner role on {ws} (Contributor can only use existing links), or attach pools with their own identity instead")),
            });
        }
    }
    for (ws, addresses) in for_grants.iter().filter(|(ws, _)| exists(ws)) {
        if !owner(ws) && !caller.is_some_and(|c| is_synapse_admin(observed, ws, c)) {
            errors.push(PlanError {
                address: addresses.join(", "),
                message: format!("{who} may not write Synapse role assignments in `{}`: neither Synapse Administrator there nor Owner of it", name(ws)),
                hint: Some("ask a Synapse Administrator of the workspace to grant you Synapse Administrator, or an Owner of it".into()),
            });
        }
    }
    errors
}
