//! `Microsoft.MachineLearningServices/workspaces/linkedServices` (azure-rest.md §3), the
//! SDK-v1 Synapse link: PUT answers 200 at once with a system-assigned identity (a fresh
//! principal; kept on update) and needs the caller to be Owner of the Synapse workspace
//! (403 `AuthorizationFailed` otherwise); GET; DELETE (200, or 204 when absent); list
//! `{value}` without paging.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_object, opt_str, parse_object, req_str};
use crate::clock::rfc3339;
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::ml_workspaces;
use crate::routes::{list_reply, only_get, system_data};
use crate::store::{Kind, Resource, Store};

const TYPE: &str = "Microsoft.MachineLearningServices/workspaces/linkedServices";

/// `GET …/workspaces/{ws}/linkedServices`.
pub fn list(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::MlLinkedServices.check(ctx.api_version(), TYPE)?;
    let parent = ml_workspaces::parent(store, sub, rg, ws)?;
    rbac::require(
        store,
        &ctx.caller.oid,
        &parent.id,
        Access::Read,
        "Microsoft.MachineLearningServices/workspaces/linkedServices/read",
    )?;
    Ok(list_reply(
        store
            .under(&parent.id, Kind::LinkedService)
            .into_iter()
            .map(|r| r.body.clone())
            .collect(),
    ))
}

/// Parses an ARM id of a Synapse workspace into (sub, rg, name).
pub fn parse_synapse_id(id: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match segs.as_slice() {
        [s, sub, r, rg, p, ns, w, name]
            if eq(s, "subscriptions")
                && eq(r, "resourceGroups")
                && eq(p, "providers")
                && eq(ns, "Microsoft.Synapse")
                && eq(w, "workspaces") =>
        {
            Some(((*sub).to_owned(), (*rg).to_owned(), (*name).to_owned()))
        }
        _ => None,
    }
}

/// `…/workspaces/{ws}/linkedServices/{name}`.
pub fn item(
    store: &mut Store,
    ctx: &Ctx<'_>,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Reply, ArmError> {
    Api::MlLinkedServices.check(ctx.api_version(), TYPE)?;
    let parent = ml_workspaces::parent(store, sub, rg, ws)?;
    let id = format!("{}/linkedServices/{name}", parent.id);
    let existing = store
        .get(&id)
        .filter(|r| r.kind == Kind::LinkedService)
        .cloned();
    let id = existing.as_ref().map_or(id, |r| r.id.clone());
    let oid = ctx.caller.oid.as_str();
    match *ctx.method {
        Method::GET => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Read,
                "Microsoft.MachineLearningServices/workspaces/linkedServices/read",
            )?;
            let r = existing
                .ok_or_else(|| ArmError::resource_not_found(TYPE, &format!("{ws}/{name}"), rg))?;
            Ok(Reply::ok(r.body))
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.MachineLearningServices/workspaces/linkedServices/write",
            )?;
            names::check_ml_workspace("linked service", name)?;
            ml_workspaces::refuse_if_busy(store, ctx, &parent.id, &id)?;
            let req = parse_object(ctx.body)?;
            let props = opt_object(&req, "properties", "properties")?.ok_or_else(|| {
                ArmError::bad_request(
                    "MissingRequiredProperty",
                    "The required property 'properties' is missing from the request.",
                )
            })?;
            let target = req_str(
                props,
                "linkedServiceResourceId",
                "properties.linkedServiceResourceId",
            )?;
            if let Some(kind) = opt_str(props, "linkType", "properties.linkType")? {
                if !kind.eq_ignore_ascii_case("Synapse") {
                    return Err(ArmError::bad_request(
                        "InvalidLinkType",
                        format!("The link type '{kind}' is not supported: only 'Synapse'."),
                    ));
                }
            }
            let (syn_sub, syn_rg, syn_name) = parse_synapse_id(target).ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidLinkedServiceResourceId",
                    format!("'{target}' is not the resource id of a Synapse workspace (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Synapse/workspaces/{{name}})."),
                )
            })?;
            let synapse_id = format!("/subscriptions/{syn_sub}/resourceGroups/{syn_rg}/providers/Microsoft.Synapse/workspaces/{syn_name}");
            if !store
                .get(&synapse_id)
                .is_some_and(|r| r.kind == Kind::SynapseWorkspace)
            {
                return Err(ArmError::resource_not_found(
                    "Microsoft.Synapse/workspaces",
                    &syn_name,
                    &syn_rg,
                ));
            }
            if !rbac::has_role(store, oid, &synapse_id, rbac::OWNER) {
                return Err(ArmError::authorization_failed(
                    oid,
                    "Microsoft.Authorization/roleAssignments/write",
                    &synapse_id,
                )
                .with_message_suffix(" Linking a Synapse workspace needs the Owner role on it."));
            }
            let prev = existing.as_ref().map(|r| &r.body);
            let identity = managed_identity::build(
                store,
                &req,
                prev.and_then(|b| b.get("identity")),
                name,
                Allowed::SystemOnly,
                true,
                ctx.now,
            )?;
            let stamp = rfc3339(ctx.now);
            let created = prev
                .and_then(|b| b.pointer("/properties/createdTime"))
                .cloned()
                .unwrap_or_else(|| json!(stamp));
            let location = opt_str(&req, "location", "location")?
                .map(str::to_owned)
                .or_else(|| {
                    parent
                        .body
                        .get("location")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            let body = json!({
                "id": id,
                "name": id.rsplit('/').next().unwrap_or(name),
                "type": TYPE,
                "location": location,
                "identity": identity,
                "systemData": system_data(prev, oid, ctx.now),
                "properties": {
                    "linkedServiceResourceId": target,
                    "linkType": "Synapse",
                    "createdTime": created,
                    "modifiedTime": stamp,
                }
            });
            store.put(Resource {
                id,
                kind: Kind::LinkedService,
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
                "Microsoft.MachineLearningServices/workspaces/linkedServices/delete",
            )?;
            if existing.is_none() {
                return Ok(Reply::empty(StatusCode::NO_CONTENT));
            }
            store.remove_tree(&id);
            Ok(Reply::empty(StatusCode::OK))
        }
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, PUT, DELETE",
        )),
    }
}
