//! `Microsoft.MachineLearningServices/workspaces` (azure-rest.md §2): PUT as an LRO (201
//! with `Azure-AsyncOperation`), GET, PATCH (tags, sku, description, friendlyName), DELETE
//! as an LRO (202 with `Azure-AsyncOperation` and `Location`; 204 when absent), and lists by
//! resource group and subscription. `discoveryUrl` points at the emulator's `/discovery`.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_bool, opt_object, opt_str, parse_object, req_str, tags};
use crate::clock::rfc3339;
use crate::lro::{self, OpAction};
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::{existing_group, list_reply, only_get, refuse_if_deleting, system_data};
use crate::store::{set_state, Kind, Resource, Store};

const TYPE: &str = "Microsoft.MachineLearningServices/workspaces";

/// Lists by resource group (`rg`) or subscription.
pub fn list(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: Option<&str>,
) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::MlWorkspaces.check(ctx.api_version(), TYPE)?;
    let scope = match rg {
        Some(rg) => existing_group(store, sub, rg)?,
        None => format!("/subscriptions/{sub}"),
    };
    rbac::require(
        store,
        &ctx.caller.oid,
        &scope,
        Access::Read,
        "Microsoft.MachineLearningServices/workspaces/read",
    )?;
    Ok(list_reply(
        store
            .under(&scope, Kind::MlWorkspace)
            .into_iter()
            .map(|r| r.body.clone())
            .collect(),
    ))
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
        .filter(|r| r.kind == Kind::MlWorkspace)
        .cloned();
    Ok((existing.as_ref().map_or(id, |r| r.id.clone()), existing))
}

/// `…/workspaces/{name}`.
pub fn item(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    Api::MlWorkspaces.check(ctx.api_version(), TYPE)?;
    let (id, existing) = locate(store, sub, rg, name)?;
    let oid = ctx.caller.oid.as_str();
    let missing = || ArmError::resource_not_found(TYPE, name, rg);
    match *ctx.method {
        Method::GET => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Read,
                "Microsoft.MachineLearningServices/workspaces/read",
            )?;
            Ok(Reply::ok(existing.ok_or_else(missing)?.body))
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.MachineLearningServices/workspaces/write",
            )?;
            names::check_ml_workspace("workspace", name)?;
            let req = parse_object(ctx.body)?;
            let location = req_str(&req, "location", "location")?;
            if let Some(r) = &existing {
                refuse_if_deleting(&r.body, &r.id)?;
            }
            let props = opt_object(&req, "properties", "properties")?
                .cloned()
                .unwrap_or_default();
            let prev = existing.as_ref().map(|r| &r.body);
            let identity = managed_identity::build(
                store,
                &req,
                prev.and_then(|b| b.get("identity")),
                name,
                Allowed::Any,
                false,
                ctx.now,
            )?;
            let keep = |k: &str, default: Value| {
                prev.and_then(|b| b.pointer(&format!("/properties/{k}")))
                    .cloned()
                    .unwrap_or(default)
            };
            let text = |k: &str| -> Result<Value, ArmError> {
                Ok(opt_str(&props, k, &format!("properties.{k}"))?
                    .map_or(Value::Null, |s| json!(s)))
            };
            let sku = opt_object(&req, "sku", "sku")?.map_or_else(
                || json!({"name": "Basic", "tier": "Basic"}),
                |s| Value::Object(s.clone()),
            );
            let body = json!({
                "id": id,
                "name": id.rsplit('/').next().unwrap_or(name),
                "type": TYPE,
                "location": location,
                "tags": tags(&req)?,
                "sku": sku,
                "identity": identity,
                "systemData": system_data(prev, oid, ctx.now),
                "properties": {
                    "friendlyName": opt_str(&props, "friendlyName", "properties.friendlyName")?.unwrap_or(name),
                    "description": text("description")?,
                    "storageAccount": text("storageAccount")?,
                    "keyVault": text("keyVault")?,
                    "applicationInsights": text("applicationInsights")?,
                    "containerRegistry": text("containerRegistry")?,
                    "hbiWorkspace": opt_bool(&props, "hbiWorkspace", "properties.hbiWorkspace")?.unwrap_or(false),
                    "allowPublicAccessWhenBehindVnet": false,
                    "publicNetworkAccess": opt_str(&props, "publicNetworkAccess", "properties.publicNetworkAccess")?.unwrap_or("Enabled"),
                    "workspaceId": keep("workspaceId", json!(uuid::Uuid::new_v4().to_string())),
                    "creationTime": keep("creationTime", json!(rfc3339(ctx.now))),
                    "provisioningState": if existing.is_some() { "Updating" } else { "Creating" },
                    "discoveryUrl": format!("{}/discovery", ctx.base_url),
                    "tenantId": store.tenant_id,
                    "serviceProvisionedResourceGroup": null,
                    "privateLinkCount": 0,
                    "privateEndpointConnections": [],
                    "storageHnsEnabled": false,
                    "mlFlowTrackingUri": format!("azureml://{location}.api.azureml.ms/mlflow/v1.0{id}"),
                }
            });
            store.put(Resource {
                id: id.clone(),
                kind: Kind::MlWorkspace,
                body: body.clone(),
            });
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Provision, &id, ctx.now, duration);
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let mut reply = Reply::json(status, body);
            reply.headers = lro::headers(
                ctx.base_url,
                &id,
                &op,
                &ctx.api_version_or_default(),
                duration,
                true,
                false,
            );
            Ok(reply)
        }
        Method::PATCH => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.MachineLearningServices/workspaces/write",
            )?;
            let req = parse_object(ctx.body)?;
            let r = existing.ok_or_else(missing)?;
            refuse_if_deleting(&r.body, &r.id)?;
            let mut body = r.body.clone();
            if req.contains_key("tags") {
                body["tags"] = tags(&req)?;
            }
            if let Some(sku) = opt_object(&req, "sku", "sku")? {
                body["sku"] = Value::Object(sku.clone());
            }
            if let Some(props) = opt_object(&req, "properties", "properties")? {
                for key in ["description", "friendlyName"] {
                    if let Some(v) = opt_str(props, key, &format!("properties.{key}"))? {
                        body["properties"][key] = json!(v);
                    }
                }
            }
            body["systemData"] = system_data(Some(&r.body), oid, ctx.now);
            store.put(Resource {
                id: r.id,
                kind: Kind::MlWorkspace,
                body: body.clone(),
            });
            Ok(Reply::ok(body))
        }
        Method::DELETE => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Delete,
                "Microsoft.MachineLearningServices/workspaces/delete",
            )?;
            let Some(r) = existing else {
                return Ok(Reply::empty(StatusCode::NO_CONTENT));
            };
            let mut body = r.body.clone();
            set_state(&mut body, "Deleting");
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::MlWorkspace,
                body,
            });
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Delete, &r.id, ctx.now, duration);
            let mut reply = Reply::empty(StatusCode::ACCEPTED);
            reply.headers = lro::headers(
                ctx.base_url,
                &r.id,
                &op,
                &ctx.api_version_or_default(),
                duration,
                true,
                true,
            );
            Ok(reply)
        }
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, PUT, PATCH, DELETE",
        )),
    }
}

/// The parent AML workspace of a child request, or 404 `ParentResourceNotFound`.
pub fn parent(store: &Store, sub: &str, rg: &str, ws: &str) -> Result<Resource, ArmError> {
    let (_, existing) = locate(store, sub, rg, ws)?;
    existing.ok_or_else(|| ArmError::parent_not_found(&format!("workspaces/{ws}")))
}

/// With the `amlConflicts` knob: 409 `Conflict` when an operation on a compute of the
/// AML workspace `parent_id` other than `own_id` is in progress, as AML answers.
pub fn refuse_if_busy(
    store: &Store,
    ctx: &Ctx<'_>,
    parent_id: &str,
    own_id: &str,
) -> Result<(), ArmError> {
    if !ctx.faults.aml_conflicts {
        return Ok(());
    }
    let prefix = format!("{}/", crate::store::fold(parent_id));
    let own = crate::store::fold(own_id);
    let busy = store.operations.values().any(|op| {
        let target = crate::store::fold(&op.resource_id);
        op.status == crate::lro::OpStatus::InProgress
            && target.starts_with(&prefix)
            && target != own
    });
    if busy {
        let ws = parent_id.rsplit('/').next().unwrap_or(parent_id);
        Err(ArmError::conflict(
            "Conflict",
            format!("Conflict of operation, another operation on same entity is already running in workspace {ws}."),
        ))
    } else {
        Ok(())
    }
}

/// `GET /discovery`: the service endpoints azureml-core reads from `discoveryUrl`, all
/// pointing at the emulator.
pub fn discovery(base_url: &str) -> Reply {
    Reply::ok(json!({
        "api": base_url,
        "catalog": base_url,
        "experimentation": base_url,
        "gallery": base_url,
        "history": base_url,
        "hyperdrive": base_url,
        "labeling": base_url,
        "modelmanagement": base_url,
        "pipelines": base_url,
        "studio": base_url,
    }))
}
