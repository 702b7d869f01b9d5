//! `Microsoft.Synapse/workspaces` (azure-rest.md §5): PUT (201/200), PATCH (200) and
//! DELETE (202; 204 when absent) as LROs with `Location` (operationResults) and
//! `Azure-AsyncOperation` (operationStatuses); GET; lists; `checkNameAvailability`.
//! Names are globally unique. `connectivityEndpoints.dev` is this emulator's data-plane
//! route `{base}/_synapse/{name}`; the creator (and `initialWorkspaceAdminObjectId`)
//! become Synapse Administrators.

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_bool, opt_object, opt_str, parse_object, req_str, tags};
use crate::lro::{self, OpAction};
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::{existing_group, list_reply, only_get, refuse_if_deleting, system_data};
use crate::store::{fold, set_state, Kind, Resource, Store, SynapseAssignment};
use crate::synapse_rbac::SYNAPSE_ADMINISTRATOR;

const TYPE: &str = "Microsoft.Synapse/workspaces";

/// Lists by resource group (`rg`) or subscription.
pub fn list(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: Option<&str>,
) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::Synapse.check(ctx.api_version(), TYPE)?;
    let scope = match rg {
        Some(rg) => existing_group(store, sub, rg)?,
        None => format!("/subscriptions/{sub}"),
    };
    rbac::require(
        store,
        &ctx.caller.oid,
        &scope,
        Access::Read,
        "Microsoft.Synapse/workspaces/read",
    )?;
    Ok(list_reply(
        store
            .under(&scope, Kind::SynapseWorkspace)
            .into_iter()
            .map(|r| with_current_endpoint(r.body.clone(), ctx.base_url))
            .collect(),
    ))
}

/// The data-plane endpoint points at this emulator as it runs now: a restart
/// on another port (persisted data) must not leave workspaces pointing at the
/// old one.
fn with_current_endpoint(mut body: serde_json::Value, base_url: &str) -> serde_json::Value {
    let name = body
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(dev) = body.pointer_mut("/properties/connectivityEndpoints/dev") {
        *dev = serde_json::Value::String(format!("{base_url}/_synapse/{name}"));
    }
    body
}

/// The id and stored resource of a workspace (404 for a missing group).
pub fn locate(
    store: &Store,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<(String, Option<Resource>), ArmError> {
    let group = existing_group(store, sub, rg)?;
    let id = format!("{group}/providers/{TYPE}/{name}");
    let existing = store
        .get(&id)
        .filter(|r| r.kind == Kind::SynapseWorkspace)
        .cloned();
    Ok((existing.as_ref().map_or(id, |r| r.id.clone()), existing))
}

/// The parent workspace of a pool request, or 404 `ParentResourceNotFound`.
pub fn parent(store: &Store, sub: &str, rg: &str, ws: &str) -> Result<Resource, ArmError> {
    let (_, existing) = locate(store, sub, rg, ws)?;
    existing.ok_or_else(|| ArmError::parent_not_found(&format!("workspaces/{ws}")))
}

/// Adds a Synapse Administrator assignment effective at once (the creator's).
fn add_admin(store: &mut Store, ws: &str, principal: &str) {
    let scope = format!("workspaces/{ws}");
    let folded = fold(ws);
    let exists = store.synapse_assignments.values().any(|a| {
        a.workspace == folded
            && a.principal_id.eq_ignore_ascii_case(principal)
            && a.role_id == SYNAPSE_ADMINISTRATOR
            && a.scope.eq_ignore_ascii_case(&scope)
    });
    if exists {
        return;
    }
    let id = uuid::Uuid::new_v4().to_string();
    store.next_seq += 1;
    store.synapse_assignments.insert(
        format!("{}/{}", fold(ws), fold(&id)),
        SynapseAssignment {
            id,
            workspace: fold(ws),
            role_id: SYNAPSE_ADMINISTRATOR.to_owned(),
            principal_id: principal.to_owned(),
            scope,
            principal_type: Some("User".to_owned()),
            created_ms: 0,
            seq: store.next_seq,
        },
    );
}

/// `…/providers/Microsoft.Synapse/workspaces/{name}`.
pub fn item(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    Api::Synapse.check(ctx.api_version(), TYPE)?;
    let (id, existing) = locate(store, sub, rg, name)?;
    let oid = ctx.caller.oid.as_str();
    let missing = || ArmError::resource_not_found(TYPE, name, rg);
    let version = ctx.api_version_or_default();
    match *ctx.method {
        Method::GET => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Read,
                "Microsoft.Synapse/workspaces/read",
            )?;
            Ok(Reply::ok(with_current_endpoint(
                existing.ok_or_else(missing)?.body,
                ctx.base_url,
            )))
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.Synapse/workspaces/write",
            )?;
            names::check_synapse_workspace(name)?;
            if existing.is_none() && store.synapse_workspace_by_name(name).is_some() {
                return Err(ArmError::conflict(
                    "WorkspaceNameAlreadyExists",
                    format!("The workspace name '{name}' is already in use: Synapse workspace names are globally unique."),
                ));
            }
            let req = parse_object(ctx.body)?;
            let location = req_str(&req, "location", "location")?;
            if let Some(r) = &existing {
                refuse_if_deleting(&r.body, &r.id)?;
            }
            let props = opt_object(&req, "properties", "properties")?
                .cloned()
                .unwrap_or_default();
            if let Some(mrg) = opt_str(
                &props,
                "managedResourceGroupName",
                "properties.managedResourceGroupName",
            )? {
                let ok = mrg.len() <= 90
                    && !mrg.ends_with('.')
                    && mrg
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '(' | ')' | '.'));
                if !ok {
                    return Err(ArmError::bad_request(
                        "InvalidManagedResourceGroupName",
                        format!("The managed resource group name '{mrg}' is invalid: at most 90 letters, digits, '-', '_', '(', ')' and '.', not ending with '.'."),
                    ));
                }
            }
            let prev = existing.as_ref().map(|r| r.body.clone());
            let identity = managed_identity::build(
                store,
                &req,
                prev.as_ref().and_then(|b| b.get("identity")),
                name,
                Allowed::Any,
                false,
                ctx.now,
            )?;
            let shown = id.rsplit('/').next().unwrap_or(name).to_owned();
            let keep = |k: &str, default: Value| {
                prev.as_ref()
                    .and_then(|b| b.pointer(&format!("/properties/{k}")))
                    .cloned()
                    .unwrap_or(default)
            };
            let mut properties = Map::new();
            for key in [
                "defaultDataLakeStorage",
                "sqlAdministratorLogin",
                "virtualNetworkProfile",
                "managedVirtualNetwork",
                "managedVirtualNetworkSettings",
                "encryption",
                "workspaceRepositoryConfiguration",
                "purviewConfiguration",
                "cspWorkspaceAdminProperties",
            ] {
                if let Some(v) = props.get(key).filter(|v| !v.is_null()) {
                    properties.insert(key.to_owned(), v.clone());
                }
            }
            properties.insert(
                "managedResourceGroupName".to_owned(),
                keep(
                    "managedResourceGroupName",
                    json!(opt_str(
                        &props,
                        "managedResourceGroupName",
                        "properties.managedResourceGroupName"
                    )?
                    .map_or_else(
                        || format!("synapseworkspace-managedrg-{}", uuid::Uuid::new_v4()),
                        str::to_owned
                    )),
                ),
            );
            properties.insert(
                "publicNetworkAccess".to_owned(),
                json!(opt_str(
                    &props,
                    "publicNetworkAccess",
                    "properties.publicNetworkAccess"
                )?
                .unwrap_or("Enabled")),
            );
            properties.insert(
                "azureADOnlyAuthentication".to_owned(),
                json!(opt_bool(
                    &props,
                    "azureADOnlyAuthentication",
                    "properties.azureADOnlyAuthentication"
                )?
                .unwrap_or(false)),
            );
            properties.insert(
                "trustedServiceBypassEnabled".to_owned(),
                json!(opt_bool(
                    &props,
                    "trustedServiceBypassEnabled",
                    "properties.trustedServiceBypassEnabled"
                )?
                .unwrap_or(false)),
            );
            properties.insert(
                "provisioningState".to_owned(),
                json!(if existing.is_some() {
                    "Updating"
                } else {
                    "Provisioning"
                }),
            );
            properties.insert(
                "connectivityEndpoints".to_owned(),
                json!({
                    "web": format!("https://web.azuresynapse.net?workspace={}", id.replace('/', "%2f")),
                    "dev": format!("{}/_synapse/{shown}", ctx.base_url),
                    "sql": format!("{shown}.sql.azuresynapse.net"),
                    "sqlOnDemand": format!("{shown}-ondemand.sql.azuresynapse.net"),
                }),
            );
            properties.insert(
                "workspaceUID".to_owned(),
                keep("workspaceUID", json!(uuid::Uuid::new_v4().to_string())),
            );
            properties.insert(
                "extraProperties".to_owned(),
                json!({"WorkspaceType": "Normal", "IsScopeEnabled": false}),
            );
            properties.insert("privateEndpointConnections".to_owned(), json!([]));
            properties.insert("adlaResourceId".to_owned(), json!(""));
            let body = json!({
                "id": id,
                "name": shown,
                "type": TYPE,
                "location": location,
                "tags": tags(&req)?,
                "identity": identity,
                "systemData": system_data(prev.as_ref(), oid, ctx.now),
                "properties": properties,
            });
            store.put(Resource {
                id: id.clone(),
                kind: Kind::SynapseWorkspace,
                body: body.clone(),
            });
            add_admin(store, &shown, oid);
            if let Some(admin) = props
                .get("cspWorkspaceAdminProperties")
                .and_then(|c| c.get("initialWorkspaceAdminObjectId"))
                .and_then(Value::as_str)
            {
                add_admin(store, &shown, admin);
            }
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Provision, &id, ctx.now, duration);
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let mut reply = Reply::json(status, body);
            reply.headers = lro::headers(ctx.base_url, &id, &op, &version, duration, true, true);
            Ok(reply)
        }
        Method::PATCH => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.Synapse/workspaces/write",
            )?;
            let req = parse_object(ctx.body)?;
            let r = existing.ok_or_else(missing)?;
            refuse_if_deleting(&r.body, &r.id)?;
            let mut body = r.body.clone();
            if req.contains_key("tags") {
                body["tags"] = tags(&req)?;
            }
            if req.contains_key("identity") {
                body["identity"] = managed_identity::build(
                    store,
                    &req,
                    r.body.get("identity"),
                    name,
                    Allowed::Any,
                    false,
                    ctx.now,
                )?;
            }
            if let Some(props) = opt_object(&req, "properties", "properties")? {
                for key in [
                    "managedVirtualNetworkSettings",
                    "workspaceRepositoryConfiguration",
                    "purviewConfiguration",
                    "encryption",
                    "publicNetworkAccess",
                ] {
                    if let Some(v) = props.get(key) {
                        body["properties"][key] = v.clone();
                    }
                }
            }
            set_state(&mut body, "Updating");
            body["systemData"] = system_data(Some(&r.body), oid, ctx.now);
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::SynapseWorkspace,
                body: body.clone(),
            });
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Provision, &r.id, ctx.now, duration);
            let mut reply = Reply::ok(body);
            reply.headers = lro::headers(ctx.base_url, &r.id, &op, &version, duration, true, true);
            Ok(reply)
        }
        Method::DELETE => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Delete,
                "Microsoft.Synapse/workspaces/delete",
            )?;
            let Some(r) = existing else {
                return Ok(Reply::empty(StatusCode::NO_CONTENT));
            };
            let mut body = r.body.clone();
            set_state(&mut body, "Deleting");
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::SynapseWorkspace,
                body: body.clone(),
            });
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Delete, &r.id, ctx.now, duration);
            let mut reply = Reply::json(StatusCode::ACCEPTED, body);
            reply.headers = lro::headers(ctx.base_url, &r.id, &op, &version, duration, true, true);
            Ok(reply)
        }
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, PUT, PATCH, DELETE",
        )),
    }
}

/// `POST /subscriptions/{sub}/providers/Microsoft.Synapse/checkNameAvailability`.
pub fn check_name(store: &mut Store, ctx: &Ctx<'_>) -> Result<Reply, ArmError> {
    if *ctx.method != Method::POST {
        return Err(ArmError::method_not_allowed(ctx.method.as_str(), "POST"));
    }
    Api::Synapse.check(ctx.api_version(), TYPE)?;
    let req = parse_object(ctx.body)?;
    let name = req_str(&req, "name", "name")?;
    let (available, reason, message) = if let Err(e) = names::check_synapse_workspace(name) {
        (false, "Invalid", e.message)
    } else if store.synapse_workspace_by_name(name).is_some() {
        (
            false,
            "AlreadyExists",
            format!("The workspace name '{name}' is already in use."),
        )
    } else {
        (true, "", String::new())
    };
    Ok(Reply::ok(json!({
        "name": name,
        "available": available,
        "reason": if available { Value::Null } else { json!(reason) },
        "message": if available { Value::Null } else { json!(message) },
    })))
}
