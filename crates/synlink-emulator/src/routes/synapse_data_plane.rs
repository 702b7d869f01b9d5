//! The Synapse data plane (azure-rest.md §8) at `{base}/_synapse/{workspace}` — the
//! workspace's `connectivityEndpoints.dev`: role assignments (list with `roleId`,
//! `principalId`, `scope` filters and `x-ms-continuation` paging; PUT; GET; DELETE;
//! `RoleAssignmentAlreadyExists` 409 on a duplicate tuple; ids never reused), role
//! definitions (a bare JSON array), `rbacScopes`, and `checkAccessSynapseRbac` (its list
//! named `AccessDecisions`, as its definition names it). Writing
//! assignments needs Synapse Administrator or Azure Owner / User Access Administrator.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_object, opt_str, parse_object, req_str};
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::store::{fold, Kind, Store, SynapseAssignment};
use crate::synapse_rbac::{self, ScopeKind};

/// A label for request counts.
pub fn label(rest: &[&str]) -> String {
    let head = rest.first().copied().unwrap_or("");
    let item = if rest.len() > 1 { "" } else { " (list)" };
    format!("synapse:{head}{item}")
}

fn forbidden(oid: &str, action: &str, ws: &str) -> ArmError {
    ArmError::new(
        StatusCode::FORBIDDEN,
        "Unauthorized",
        format!("The principal '{oid}' does not have the required Synapse RBAC permission to perform this action. Required permission: Action: {action}, Scope: workspaces/{ws}/*."),
    )
}

/// Answers a data-plane request for workspace `ws_name`; `rest` is the path after it.
pub fn handle(
    store: &mut Store,
    ctx: &Ctx<'_>,
    ws_name: &str,
    rest: &[&str],
) -> Result<Reply, ArmError> {
    let ws = store
        .synapse_workspace_by_name(ws_name)
        .cloned()
        .ok_or_else(|| {
            ArmError::new(
                StatusCode::NOT_FOUND,
                "WorkspaceNotFound",
                format!("The workspace '{ws_name}' was not found."),
            )
        })?;
    debug_assert_eq!(ws.kind, Kind::SynapseWorkspace);
    let ws_shown = ws
        .body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(ws_name)
        .to_owned();
    Api::SynapseDataPlane.check(ctx.api_version(), "Synapse data plane")?;
    let oid = ctx.caller.oid.as_str();
    let can_read = || {
        synapse_rbac::has_any(store, oid, &ws_shown)
            || rbac::allowed(store, oid, &ws.id, Access::Read)
    };
    let can_manage = || {
        synapse_rbac::is_admin(store, oid, &ws_shown)
            || rbac::allowed(store, oid, &ws.id, Access::ManageRoles)
    };
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let method = ctx.method.clone();
    match rest {
        [t] if eq(t, "roleAssignments") => match method {
            Method::GET => {
                if !can_read() {
                    return Err(forbidden(
                        oid,
                        "Microsoft.Synapse/workspaces/read",
                        &ws_shown,
                    ));
                }
                list_assignments(store, ctx, &ws_shown)
            }
            _ => Err(ArmError::method_not_allowed(method.as_str(), "GET")),
        },
        [t, id] if eq(t, "roleAssignments") => match method {
            Method::GET => {
                if !can_read() {
                    return Err(forbidden(
                        oid,
                        "Microsoft.Synapse/workspaces/read",
                        &ws_shown,
                    ));
                }
                let a = store
                    .synapse_assignments
                    .get(&format!("{}/{}", fold(&ws_shown), fold(id)))
                    .ok_or_else(|| not_found(id))?;
                Ok(Reply::ok(synapse_rbac::assignment_json(a)))
            }
            Method::PUT => {
                if !can_manage() {
                    return Err(forbidden(
                        oid,
                        "Microsoft.Synapse/workspaces/roleAssignments/write",
                        &ws_shown,
                    ));
                }
                create_assignment(store, ctx, &ws_shown, id)
            }
            Method::DELETE => {
                if !can_manage() {
                    return Err(forbidden(
                        oid,
                        "Microsoft.Synapse/workspaces/roleAssignments/delete",
                        &ws_shown,
                    ));
                }
                let key = format!("{}/{}", fold(&ws_shown), fold(id));
                match store.synapse_assignments.remove(&key) {
                    Some(_) => {
                        store.synapse_tombstones.insert(key);
                        Ok(Reply::empty(StatusCode::OK))
                    }
                    None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
                }
            }
            _ => Err(ArmError::method_not_allowed(
                method.as_str(),
                "GET, PUT, DELETE",
            )),
        },
        [t] if eq(t, "roleDefinitions") => {
            if method != Method::GET {
                return Err(ArmError::method_not_allowed(method.as_str(), "GET"));
            }
            let scope_kind = match ctx.query.get("scope") {
                Some(s) => Some(
                    synapse_rbac::scope_kind(s, &ws_shown)
                        .ok_or_else(|| invalid_scope(s, &ws_shown))?,
                ),
                None => None,
            };
            let built_in_only = ctx
                .query
                .get("isBuiltIn")
                .map(|v| v.eq_ignore_ascii_case("true"));
            let defs: Vec<Value> = synapse_rbac::ROLES
                .iter()
                .filter(|r| scope_kind.is_none_or(|k| r.scopes.contains(&k)))
                .filter(|_| built_in_only != Some(false))
                .map(synapse_rbac::definition_json)
                .collect();
            Ok(Reply::ok(Value::Array(defs)))
        }
        [t, id] if eq(t, "roleDefinitions") => {
            if method != Method::GET {
                return Err(ArmError::method_not_allowed(method.as_str(), "GET"));
            }
            let r = synapse_rbac::role(id).ok_or_else(|| {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "RoleDefinitionNotFound",
                    format!("The role definition '{id}' was not found."),
                )
            })?;
            Ok(Reply::ok(synapse_rbac::definition_json(r)))
        }
        [t] if eq(t, "rbacScopes") => {
            if method != Method::GET {
                return Err(ArmError::method_not_allowed(method.as_str(), "GET"));
            }
            let mut scopes = vec![json!(format!("workspaces/{ws_shown}"))];
            for pool in store.under(&ws.id, Kind::BigDataPool) {
                if let Some(name) = pool.body.get("name").and_then(Value::as_str) {
                    scopes.push(json!(format!("workspaces/{ws_shown}/bigDataPools/{name}")));
                }
            }
            Ok(Reply::ok(Value::Array(scopes)))
        }
        [t] if eq(t, "checkAccessSynapseRbac") => {
            if method != Method::POST {
                return Err(ArmError::method_not_allowed(method.as_str(), "POST"));
            }
            check_access(store, ctx, &ws_shown)
        }
        _ => Err(ArmError::no_route(method.as_str(), ctx.path)),
    }
}

fn not_found(id: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "RoleAssignmentNotFound",
        format!("The role assignment '{id}' was not found."),
    )
}

fn invalid_scope(scope: &str, ws: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidScope",
        format!("The scope '{scope}' is not valid in workspace '{ws}': use workspaces/{ws} or workspaces/{ws}/bigDataPools/{{pool}} (or another item scope)."),
    )
}

fn list_assignments(store: &Store, ctx: &Ctx<'_>, ws: &str) -> Result<Reply, ArmError> {
    let role = ctx.query.get("roleId");
    let principal = ctx.query.get("principalId");
    let scope = ctx.query.get("scope");
    let matching: Vec<&SynapseAssignment> = synapse_rbac::of_workspace(store, ws)
        .into_iter()
        .filter(|a| role.is_none_or(|r| r.eq_ignore_ascii_case(&a.role_id)))
        .filter(|a| principal.is_none_or(|p| p.eq_ignore_ascii_case(&a.principal_id)))
        .filter(|a| {
            scope.is_none_or(|s| fold(s.trim_matches('/')) == fold(a.scope.trim_matches('/')))
        })
        .collect();
    let offset = match ctx.header("x-ms-continuation").filter(|c| !c.is_empty()) {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidContinuationToken",
                    "The continuation token is not valid.",
                )
            })?,
    };
    let page = ctx.faults.synapse_page_size;
    let value: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(page)
        .map(|a| synapse_rbac::assignment_json(a))
        .collect();
    let mut reply = Reply::ok(json!({"count": value.len(), "value": value}));
    if offset.saturating_add(page) < matching.len() {
        reply = reply.header(
            "x-ms-continuation",
            URL_SAFE_NO_PAD.encode(format!("offset:{}", offset.saturating_add(page))),
        );
    }
    Ok(reply)
}

fn create_assignment(
    store: &mut Store,
    ctx: &Ctx<'_>,
    ws: &str,
    id: &str,
) -> Result<Reply, ArmError> {
    let req = parse_object(ctx.body)?;
    let role_id = req_str(&req, "roleId", "roleId")?;
    let principal = req_str(&req, "principalId", "principalId")?;
    let scope = req_str(&req, "scope", "scope")?;
    let principal_type = opt_str(&req, "principalType", "principalType")?;
    let _ = opt_object(&req, "properties", "properties")?;
    let role = synapse_rbac::role(role_id).ok_or_else(|| {
        ArmError::bad_request(
            "RoleDefinitionNotFound",
            format!("The role definition '{role_id}' does not exist."),
        )
    })?;
    let kind = synapse_rbac::scope_kind(scope, ws).ok_or_else(|| invalid_scope(scope, ws))?;
    if !role.scopes.contains(&kind) {
        let allowed = if role.scopes == [ScopeKind::Workspace] {
            "workspace scope only"
        } else {
            "other scopes"
        };
        return Err(ArmError::bad_request(
            "InvalidRoleAssignmentScope",
            format!(
                "Role '{}' cannot be assigned at scope '{scope}' ({allowed}).",
                role.name
            ),
        ));
    }
    let key = format!("{}/{}", fold(ws), fold(id));
    let duplicate = synapse_rbac::of_workspace(store, ws).into_iter().any(|a| {
        a.principal_id.eq_ignore_ascii_case(principal)
            && a.role_id.eq_ignore_ascii_case(role.id)
            && fold(a.scope.trim_matches('/')) == fold(scope.trim_matches('/'))
    });
    if duplicate {
        return Err(ArmError::conflict(
            "RoleAssignmentAlreadyExists",
            format!("Role Assignment with roleId '{}', principalId '{principal}' and scope '{scope}' within workspace '{ws}' already exists.", role.id),
        ));
    }
    if store.synapse_assignments.contains_key(&key) || store.synapse_tombstones.contains(&key) {
        return Err(ArmError::conflict(
            "RoleAssignmentIdAlreadyUsed",
            format!("The role assignment id '{id}' is already used in workspace '{ws}' (ids cannot be reused after deletion)."),
        ));
    }
    store.next_seq += 1;
    let a = SynapseAssignment {
        id: id.to_owned(),
        workspace: fold(ws),
        role_id: role.id.to_owned(),
        principal_id: principal.to_owned(),
        scope: scope.trim_matches('/').to_owned(),
        principal_type: principal_type.map(str::to_owned),
        created_ms: ctx.now,
        seq: store.next_seq,
    };
    let body = synapse_rbac::assignment_json(&a);
    store.synapse_assignments.insert(key, a);
    Ok(Reply::ok(body))
}

fn check_access(store: &Store, ctx: &Ctx<'_>, ws: &str) -> Result<Reply, ArmError> {
    let req = parse_object(ctx.body)?;
    let subject = opt_object(&req, "subject", "subject")?.ok_or_else(|| {
        ArmError::bad_request(
            "MissingRequiredProperty",
            "The required property 'subject' is missing from the request.",
        )
    })?;
    let mut principals = vec![req_str(subject, "principalId", "subject.principalId")?.to_owned()];
    if let Some(groups) = subject.get("groupIds").and_then(Value::as_array) {
        principals.extend(groups.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    let scope = req_str(&req, "scope", "scope")?;
    if synapse_rbac::scope_kind(scope, ws).is_none() {
        return Err(invalid_scope(scope, ws));
    }
    let actions = req
        .get("actions")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ArmError::bad_request(
                "MissingRequiredProperty",
                "The required property 'actions' is missing from the request.",
            )
        })?;
    let delay = ctx.faults.scaled(ctx.faults.rbac_delay_ms);
    let mut decisions = Vec::new();
    for action in actions {
        let id = action.get("id").and_then(Value::as_str).ok_or_else(|| {
            ArmError::invalid_content(
                "The request content was invalid: 'actions[].id' must be a string.",
            )
        })?;
        let decision = synapse_rbac::decide(store, ws, &principals, scope, id, ctx.now, delay);
        decisions.push(match decision {
            Some(a) => json!({"accessDecision": "Allowed", "actionId": id, "roleAssignment": synapse_rbac::assignment_json(a)}),
            None => json!({"accessDecision": "NotAllowed", "actionId": id}),
        });
    }
    // The definition names the list `AccessDecisions` (CheckPrincipalAccessResponse in
    // Azure/azure-rest-api-specs specification/synapse/data-plane/Microsoft.Synapse/stable/2020-12-01/checkAccessSynapseRbac.json);
    // the example beside it spells `accessDecisions`. The emulator answers the definition.
    Ok(Reply::ok(json!({"AccessDecisions": decisions})))
}
