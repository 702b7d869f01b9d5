//! `Microsoft.MachineLearningServices/workspaces/computes` with `computeType:
//! SynapseSpark` (azure-rest.md §4): PUT answers 201 (200 on overwrite) with
//! `Azure-AsyncOperation`; the attach ends Succeeded with `properties.properties` filled
//! from the pool, or Failed when the pool does not exist. GET carries every key
//! azureml-core validates. DELETE needs `underlyingResourceAction=Detach` (Delete is
//! refused for attached Synapse pools). Also served under `/rp/workspaces/…`.

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
use crate::routes::ml_workspaces;
use crate::routes::{list_reply, only_get, refuse_if_deleting, system_data};
use crate::store::{set_state, Kind, Resource, Store};

const TYPE: &str = "Microsoft.MachineLearningServices/workspaces/computes";

/// `GET …/workspaces/{ws}/computes`.
pub fn list(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::MlComputes.check(ctx.api_version(), TYPE)?;
    let parent = ml_workspaces::parent(store, sub, rg, ws)?;
    rbac::require(
        store,
        &ctx.caller.oid,
        &parent.id,
        Access::Read,
        "Microsoft.MachineLearningServices/workspaces/computes/read",
    )?;
    Ok(list_reply(
        store
            .under(&parent.id, Kind::Compute)
            .into_iter()
            .map(|r| r.body.clone())
            .collect(),
    ))
}

/// `properties.properties` of an attached pool, read from the pool resource.
pub fn pool_properties(pool: &Resource) -> Value {
    let segs: Vec<&str> = pool.id.trim_matches('/').split('/').collect();
    let at = |i: usize| segs.get(i).copied().unwrap_or_default();
    let p = pool.body.get("properties").cloned().unwrap_or(Value::Null);
    let auto_scale = p
        .get("autoScale")
        .cloned()
        .unwrap_or_else(|| json!({"enabled": false}));
    let auto_pause = p
        .get("autoPause")
        .cloned()
        .unwrap_or_else(|| json!({"enabled": false}));
    json!({
        "sparkVersion": p.get("sparkVersion"),
        "nodeCount": p.get("nodeCount"),
        "nodeSize": p.get("nodeSize"),
        "nodeSizeFamily": p.get("nodeSizeFamily"),
        "autoScaleProperties": {
            "enabled": auto_scale.get("enabled").cloned().unwrap_or(json!(false)),
            "minNodeCount": auto_scale.get("minNodeCount"),
            "maxNodeCount": auto_scale.get("maxNodeCount"),
        },
        "autoPauseProperties": {
            "enabled": auto_pause.get("enabled").cloned().unwrap_or(json!(false)),
            "delayInMinutes": auto_pause.get("delayInMinutes"),
        },
        "subscriptionId": at(1),
        "resourceGroup": at(3),
        "workspaceName": at(7),
        "poolName": at(9),
    })
}

/// Whether an id names a Synapse Spark pool (…/Microsoft.Synapse/workspaces/{ws}/bigDataPools/{pool}).
fn is_pool_id(id: &str) -> bool {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    matches!(segs.as_slice(),
        [subs, _, groups, _, providers, ns, workspaces, _, pools, _]
            if eq(subs, "subscriptions") && eq(groups, "resourceGroups") && eq(providers, "providers")
                && eq(ns, "Microsoft.Synapse") && eq(workspaces, "workspaces") && eq(pools, "bigDataPools"))
}

/// `…/workspaces/{ws}/computes/{name}`.
pub fn item(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    Api::MlComputes.check(ctx.api_version(), TYPE)?;
    let parent = ml_workspaces::parent(store, sub, rg, ws)?;
    let id = format!("{}/computes/{name}", parent.id);
    let existing = store.get(&id).filter(|r| r.kind == Kind::Compute).cloned();
    let id = existing.as_ref().map_or(id, |r| r.id.clone());
    let oid = ctx.caller.oid.as_str();
    let missing = || ArmError::resource_not_found(TYPE, &format!("{ws}/{name}"), rg);
    match *ctx.method {
        Method::GET => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Read,
                "Microsoft.MachineLearningServices/workspaces/computes/read",
            )?;
            Ok(Reply::ok(existing.ok_or_else(missing)?.body))
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.MachineLearningServices/workspaces/computes/write",
            )?;
            names::check_compute(name)?;
            ml_workspaces::refuse_if_busy(store, ctx, &parent.id, &id)?;
            let req = parse_object(ctx.body)?;
            let props = opt_object(&req, "properties", "properties")?.ok_or_else(|| {
                ArmError::bad_request(
                    "MissingRequiredProperty",
                    "The required property 'properties' is missing from the request.",
                )
            })?;
            let compute_type = req_str(props, "computeType", "properties.computeType")?;
            if !compute_type.eq_ignore_ascii_case("SynapseSpark") {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!("Compute type '{compute_type}' is not supported by the emulator: it serves computeType 'SynapseSpark' only."),
                ));
            }
            let pool_id = req_str(props, "resourceId", "properties.resourceId")?;
            if !is_pool_id(pool_id) {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!("Invalid resourceId '{pool_id}': a SynapseSpark compute attaches /subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Synapse/workspaces/{{ws}}/bigDataPools/{{pool}}."),
                ));
            }
            if let Some(r) = &existing {
                refuse_if_deleting(&r.body, &r.id)?;
            }
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
            let location = opt_str(&req, "location", "location")?
                .map(str::to_owned)
                .or_else(|| {
                    parent
                        .body
                        .get("location")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            let stamp = rfc3339(ctx.now);
            let created = prev
                .and_then(|b| b.pointer("/properties/createdOn"))
                .cloned()
                .unwrap_or_else(|| json!(stamp));
            let body = json!({
                "id": id,
                "name": id.rsplit('/').next().unwrap_or(name),
                "type": TYPE,
                "location": location,
                "tags": tags(&req)?,
                "sku": null,
                "identity": identity,
                "systemData": system_data(prev, oid, ctx.now),
                "properties": {
                    "computeType": "SynapseSpark",
                    "computeLocation": opt_str(props, "computeLocation", "properties.computeLocation")?.map(str::to_owned).or_else(|| location.clone()),
                    "description": opt_str(props, "description", "properties.description")?,
                    "resourceId": pool_id,
                    "provisioningState": if existing.is_some() { "Updating" } else { "Creating" },
                    "provisioningErrors": null,
                    "createdOn": created,
                    "modifiedOn": stamp,
                    "isAttachedCompute": true,
                    "disableLocalAuth": opt_bool(props, "disableLocalAuth", "properties.disableLocalAuth")?.unwrap_or(false),
                    "properties": null,
                }
            });
            store.put(Resource {
                id: id.clone(),
                kind: Kind::Compute,
                body: body.clone(),
            });
            let duration = ctx.lro_ms();
            let op = lro::start(store, OpAction::Attach, &id, ctx.now, duration);
            let body = store.get(&id).map_or(body, |r| r.body.clone());
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
        Method::DELETE => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Delete,
                "Microsoft.MachineLearningServices/workspaces/computes/delete",
            )?;
            let action = ctx.query.get("underlyingResourceAction").ok_or_else(|| {
                ArmError::bad_request(
                    "BadRequest",
                    "The query parameter 'underlyingResourceAction' is required: 'Delete' or 'Detach'.",
                )
            })?;
            let Some(r) = existing else {
                return Ok(Reply::empty(StatusCode::NO_CONTENT));
            };
            if action.eq_ignore_ascii_case("Delete") {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!("Compute '{name}' is an attached SynapseSpark pool: underlyingResourceAction=Delete is not supported for it; detach it with underlyingResourceAction=Detach."),
                ));
            }
            if !action.eq_ignore_ascii_case("Detach") {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!("Invalid underlyingResourceAction '{action}': 'Delete' or 'Detach'."),
                ));
            }
            refuse_if_deleting(&r.body, &r.id)?;
            ml_workspaces::refuse_if_busy(store, ctx, &parent.id, &r.id)?;
            let mut body = r.body.clone();
            set_state(&mut body, "Deleting");
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::Compute,
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
        Method::PATCH => Err(ArmError::bad_request(
            "BadRequest",
            "PATCH updates the scale settings of AmlCompute only; a SynapseSpark compute has none.",
        )),
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, PUT, PATCH, DELETE",
        )),
    }
}
