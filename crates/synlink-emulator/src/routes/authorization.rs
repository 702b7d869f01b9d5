//! `Microsoft.Authorization` (azure-rest.md §7): role assignments (PUT 201 / GET /
//! DELETE 200 or 204 / list with `atScope()` and `principalId eq '…'` filters; a
//! duplicate principal+role+scope answers 409 `RoleAssignmentExists`; a principal still
//! replicating answers 400 `PrincipalNotFound`), built-in role definitions (list with
//! `roleName eq '…'`), and the caller's `permissions` at a scope.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_object, opt_str, parse_object, req_str};
use crate::clock::rfc3339;
use crate::names::is_guid;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::lifecycle::{existing_group, list_reply, only_get};
use crate::routes::target::{subscription_of, AuthTarget};
use crate::store::{fold, ArmAssignment, Store};

const RA_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// Answers an Authorization request at `scope`.
pub fn handle(
    store: &mut Store,
    ctx: &Ctx<'_>,
    scope: &str,
    what: &AuthTarget,
) -> Result<Reply, ArmError> {
    match what {
        AuthTarget::RoleDefinitions(id) => {
            only_get(ctx)?;
            Api::RoleDefinitions
                .check(ctx.api_version(), "Microsoft.Authorization/roleDefinitions")?;
            role_definitions(ctx, scope, id.as_deref())
        }
        AuthTarget::Permissions => {
            only_get(ctx)?;
            Api::Permissions.check(ctx.api_version(), "Microsoft.Authorization/permissions")?;
            check_scope(store, scope)?;
            let mut seen = Vec::new();
            let mut value = Vec::new();
            for a in rbac::applying(store, &ctx.caller.oid, scope) {
                if seen.contains(&fold(&a.role_guid)) {
                    continue;
                }
                seen.push(fold(&a.role_guid));
                if let Some(def) = rbac::role(&a.role_guid) {
                    value.push(rbac::permissions_json(def));
                }
            }
            Ok(list_reply(value))
        }
        AuthTarget::RoleAssignments(None) => {
            only_get(ctx)?;
            Api::RoleAssignments.check(ctx.api_version(), RA_TYPE)?;
            check_scope(store, scope)?;
            list_assignments(store, ctx, scope)
        }
        AuthTarget::RoleAssignments(Some(name)) => {
            Api::RoleAssignments.check(ctx.api_version(), RA_TYPE)?;
            assignment(store, ctx, scope, name)
        }
    }
}

/// 404 when a scope names a resource group or an emulated resource that does not exist.
fn check_scope(store: &Store, scope: &str) -> Result<(), ArmError> {
    if scope.is_empty() {
        return Ok(());
    }
    let segs: Vec<&str> = scope.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if segs.len() < 2 || !eq(segs[0], "subscriptions") {
        return Err(ArmError::bad_request(
            "InvalidScope",
            format!("The scope '{scope}' is not valid."),
        ));
    }
    if segs.len() >= 4 && eq(segs[2], "resourceGroups") {
        existing_group(store, segs[1], segs[3])?;
        if segs.len() > 4 && store.get(scope).is_none() {
            let emulated = segs.get(5).is_some_and(|ns| {
                eq(ns, "Microsoft.Synapse") || eq(ns, "Microsoft.MachineLearningServices")
            });
            if emulated {
                let type_name = format!("{}/{}", segs[5], segs.get(6).copied().unwrap_or_default());
                let name = segs.get(7..).map(|s| s.join("/")).unwrap_or_default();
                return Err(ArmError::resource_not_found(&type_name, &name, segs[3]));
            }
        }
    }
    Ok(())
}

fn role_definitions(ctx: &Ctx<'_>, scope: &str, id: Option<&str>) -> Result<Reply, ArmError> {
    let prefix = subscription_of(scope)
        .map(|s| format!("/subscriptions/{s}"))
        .unwrap_or_default();
    if let Some(id) = id {
        let def = rbac::role(id).ok_or_else(|| {
            ArmError::new(
                StatusCode::NOT_FOUND,
                "RoleDefinitionDoesNotExist",
                format!("The specified role definition with ID '{id}' does not exist."),
            )
        })?;
        return Ok(Reply::ok(rbac::definition_json(def, &prefix)));
    }
    let filter = ctx
        .query
        .get("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let wanted_name = match filter {
        None => None,
        Some(f) => {
            if let Some(name) = quoted_after(f, "rolename eq") {
                Some(name)
            } else if quoted_after(f, "type eq").is_some()
                || f.eq_ignore_ascii_case("atScopeAndBelow()")
            {
                None
            } else {
                return Err(ArmError::bad_request(
                    "UnsupportedQuery",
                    format!("The filter '{f}' is not supported."),
                ));
            }
        }
    };
    let value = rbac::ROLES
        .iter()
        .filter(|r| {
            wanted_name
                .as_ref()
                .is_none_or(|n| r.name.eq_ignore_ascii_case(n))
        })
        .map(|r| rbac::definition_json(r, &prefix))
        .collect();
    Ok(list_reply(value))
}

/// The quoted value after `key` in a filter (`roleName eq 'Owner'` → `Owner`).
fn quoted_after(filter: &str, key: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let at = lower.find(key)? + key.len();
    let rest = filter[at..].trim_start();
    let rest = rest.strip_prefix('\'')?;
    let end = rest.find('\'')?;
    Some(rest[..end].to_owned())
}

/// The JSON of an assignment.
pub fn assignment_json(a: &ArmAssignment) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "type": RA_TYPE,
        "properties": {
            "roleDefinitionId": format!("/providers/Microsoft.Authorization/roleDefinitions/{}", a.role_guid),
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": a.condition,
            "conditionVersion": a.condition_version,
            "description": a.description,
            "createdOn": rfc3339(a.created_ms),
            "updatedOn": rfc3339(a.created_ms),
            "createdBy": a.created_by,
            "updatedBy": a.created_by,
            "delegatedManagedIdentityResourceId": null,
        }
    })
}

fn list_assignments(store: &Store, ctx: &Ctx<'_>, scope: &str) -> Result<Reply, ArmError> {
    let filter = ctx
        .query
        .get("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let mut at_scope = false;
    let mut principal: Option<String> = None;
    if let Some(f) = filter {
        for term in split_and(f) {
            let lower = term.to_ascii_lowercase();
            if lower.replace(' ', "") == "atscope()" {
                at_scope = true;
            } else if let Some(p) = quoted_after(term, "principalid eq") {
                principal = Some(p);
            } else if lower.starts_with("assignedto(") {
                principal = term.split('\'').nth(1).map(str::to_owned);
            } else {
                return Err(ArmError::bad_request(
                    "UnsupportedQuery",
                    format!("The filter '{f}' is not supported."),
                ));
            }
        }
    }
    // Reading assignments needs read access at the scope, or a filter on oneself.
    let own = principal
        .as_ref()
        .is_some_and(|p| p.eq_ignore_ascii_case(&ctx.caller.oid));
    if !own && !scope.is_empty() {
        rbac::require(
            store,
            &ctx.caller.oid,
            scope,
            Access::Read,
            "Microsoft.Authorization/roleAssignments/read",
        )?;
    }
    let value = store
        .arm_assignments
        .values()
        .filter(|a| {
            let above = rbac::covers(&a.scope, scope);
            let below = rbac::covers(scope, &a.scope);
            (above || (!at_scope && below))
                && principal
                    .as_ref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(&a.principal_id))
        })
        .map(assignment_json)
        .collect();
    Ok(list_reply(value))
}

fn split_and(filter: &str) -> Vec<&str> {
    let lower = filter.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = lower[start..].find(" and ") {
        out.push(filter[start..start + i].trim());
        start += i + 5;
    }
    out.push(filter[start..].trim());
    out
}

fn assignment(
    store: &mut Store,
    ctx: &Ctx<'_>,
    scope: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    if !is_guid(name) {
        return Err(ArmError::bad_request(
            "InvalidRoleAssignmentId",
            format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."),
        ));
    }
    if scope.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidScope",
            "Role assignments need a subscription, resource group or resource scope.",
        ));
    }
    check_scope(store, scope)?;
    let id = format!("{scope}/providers/{RA_TYPE}/{name}");
    let existing = store.arm_assignments.get(&fold(&id)).cloned();
    let oid = ctx.caller.oid.as_str();
    let not_found = || {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "RoleAssignmentNotFound",
            format!("The role assignment '{name}' is not found."),
        )
    };
    match *ctx.method {
        Method::GET => {
            let lag = ctx.faults.scaled(ctx.faults.role_assignment_read_delay_ms);
            let a = existing
                .filter(|a| a.created_ms.saturating_add(lag) <= ctx.now)
                .ok_or_else(not_found)?;
            if !a.principal_id.eq_ignore_ascii_case(oid) {
                rbac::require(
                    store,
                    oid,
                    scope,
                    Access::Read,
                    "Microsoft.Authorization/roleAssignments/read",
                )?;
            }
            Ok(Reply::ok(assignment_json(&a)))
        }
        Method::DELETE => {
            rbac::require(
                store,
                oid,
                scope,
                Access::ManageRoles,
                "Microsoft.Authorization/roleAssignments/delete",
            )?;
            match existing {
                Some(a) => {
                    store.arm_assignments.remove(&fold(&id));
                    Ok(Reply::ok(assignment_json(&a)))
                }
                None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            }
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                scope,
                Access::ManageRoles,
                "Microsoft.Authorization/roleAssignments/write",
            )?;
            let req = parse_object(ctx.body)?;
            let props = opt_object(&req, "properties", "properties")?.ok_or_else(|| {
                ArmError::bad_request(
                    "MissingRequiredProperty",
                    "The required property 'properties' is missing from the request.",
                )
            })?;
            let role_id = req_str(props, "roleDefinitionId", "properties.roleDefinitionId")?;
            let guid = role_id
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(role_id);
            let def = rbac::role(guid).ok_or_else(|| {
                ArmError::bad_request(
                    "RoleDefinitionDoesNotExist",
                    format!("The specified role definition with ID '{guid}' does not exist."),
                )
            })?;
            let principal = req_str(props, "principalId", "properties.principalId")?;
            let principal_type = opt_str(props, "principalType", "properties.principalType")?;
            if let Some(t) = principal_type {
                if ![
                    "User",
                    "Group",
                    "ServicePrincipal",
                    "ForeignGroup",
                    "Device",
                ]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(t))
                {
                    return Err(ArmError::bad_request(
                        "InvalidPrincipalType",
                        format!("The principal type '{t}' is not valid."),
                    ));
                }
            }
            let delay = ctx.faults.scaled(ctx.faults.identity_delay_ms);
            let replicated = store
                .principals
                .get(&fold(principal))
                .is_some_and(|p| p.created_ms.saturating_add(delay) <= ctx.now);
            if !replicated {
                return Err(ArmError::bad_request(
                    "PrincipalNotFound",
                    format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype", principal.replace('-', ""), store.tenant_id),
                ));
            }
            let same_tuple = |a: &ArmAssignment| {
                a.principal_id.eq_ignore_ascii_case(principal)
                    && a.role_guid.eq_ignore_ascii_case(def.guid)
                    && fold(&a.scope) == fold(scope)
            };
            if let Some(a) = &existing {
                return if same_tuple(a) {
                    Ok(Reply::json(StatusCode::CREATED, assignment_json(a)))
                } else {
                    Err(ArmError::conflict(
                        "RoleAssignmentUpdateNotPermitted",
                        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                    ))
                };
            }
            if store.arm_assignments.values().any(same_tuple) {
                return Err(ArmError::conflict(
                    "RoleAssignmentExists",
                    "The role assignment already exists.",
                ));
            }
            let a = ArmAssignment {
                id: id.clone(),
                name: name.to_owned(),
                scope: scope.to_owned(),
                role_guid: def.guid.to_owned(),
                principal_id: principal.to_owned(),
                principal_type: principal_type.unwrap_or("User").to_owned(),
                description: opt_str(props, "description", "properties.description")?
                    .map(str::to_owned),
                condition: opt_str(props, "condition", "properties.condition")?.map(str::to_owned),
                condition_version: opt_str(
                    props,
                    "conditionVersion",
                    "properties.conditionVersion",
                )?
                .map(str::to_owned),
                created_ms: ctx.now,
                created_by: oid.to_owned(),
            };
            store.arm_assignments.insert(fold(&id), a.clone());
            Ok(Reply::json(StatusCode::CREATED, assignment_json(&a)))
        }
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, PUT, DELETE",
        )),
    }
}
