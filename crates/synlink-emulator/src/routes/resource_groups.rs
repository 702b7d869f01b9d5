//! Subscriptions and resource groups (`Microsoft.Resources`): GET of a subscription
//! (every subscription exists on first use), the resource group list, and
//! PUT/GET/HEAD/PATCH/DELETE of a group (DELETE is a `Location` LRO that removes
//! everything inside).

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{parse_object, req_str, tags};
use crate::lro::{self, OpAction};
use crate::names;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::{group_id, list_reply, only_get, refuse_if_deleting};
use crate::store::{set_state, Kind, Resource, Store};

const TYPE: &str = "Microsoft.Resources/resourceGroups";

/// `GET /subscriptions`: the subscriptions where the caller holds a role.
pub fn subscriptions(store: &mut Store, ctx: &Ctx<'_>) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::Resources.check(ctx.api_version(), "subscriptions")?;
    let subs: Vec<String> = store
        .subscriptions
        .values()
        .filter(|s| {
            rbac::allowed(
                store,
                &ctx.caller.oid,
                &format!("/subscriptions/{s}"),
                Access::Read,
            )
        })
        .cloned()
        .collect();
    let value = subs.iter().map(|s| subscription_json(store, s)).collect();
    Ok(list_reply(value))
}

fn subscription_json(store: &Store, shown: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{shown}"),
        "subscriptionId": shown,
        "tenantId": store.tenant_id,
        "displayName": format!("Emulated subscription {shown}"),
        "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
        "authorizationSource": "RoleBased"
    })
}

/// `GET /subscriptions/{sub}`.
pub fn subscription(store: &mut Store, ctx: &Ctx<'_>, sub: &str) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::Resources.check(ctx.api_version(), "subscriptions")?;
    let scope = format!("/subscriptions/{sub}");
    rbac::require(
        store,
        &ctx.caller.oid,
        &scope,
        Access::Read,
        "Microsoft.Resources/subscriptions/read",
    )?;
    let shown = store
        .subscriptions
        .get(&sub.to_ascii_lowercase())
        .cloned()
        .unwrap_or_else(|| sub.to_owned());
    Ok(Reply::ok(subscription_json(store, &shown)))
}

/// `GET /subscriptions/{sub}/resourcegroups`.
pub fn list(store: &mut Store, ctx: &Ctx<'_>, sub: &str) -> Result<Reply, ArmError> {
    only_get(ctx)?;
    Api::Resources.check(ctx.api_version(), TYPE)?;
    let scope = format!("/subscriptions/{sub}");
    rbac::require(
        store,
        &ctx.caller.oid,
        &scope,
        Access::Read,
        "Microsoft.Resources/subscriptions/resourceGroups/read",
    )?;
    Ok(list_reply(
        store
            .under(&scope, Kind::ResourceGroup)
            .into_iter()
            .map(|r| r.body.clone())
            .collect(),
    ))
}

/// `…/resourcegroups/{rg}`.
pub fn item(store: &mut Store, ctx: &Ctx<'_>, sub: &str, rg: &str) -> Result<Reply, ArmError> {
    Api::Resources.check(ctx.api_version(), TYPE)?;
    let existing = store
        .get(&group_id(sub, rg))
        .filter(|r| r.kind == Kind::ResourceGroup)
        .cloned();
    let id = existing.as_ref().map_or_else(
        || {
            let shown = store
                .subscriptions
                .get(&sub.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| sub.to_owned());
            group_id(&shown, rg)
        },
        |r| r.id.clone(),
    );
    let oid = ctx.caller.oid.as_str();
    match *ctx.method {
        Method::GET | Method::HEAD => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Read,
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            )?;
            let r = existing.ok_or_else(|| ArmError::resource_group_not_found(rg))?;
            if *ctx.method == Method::HEAD {
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            } else {
                Ok(Reply::ok(r.body))
            }
        }
        Method::PUT => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.Resources/subscriptions/resourceGroups/write",
            )?;
            names::check_resource_group(rg)?;
            let req = parse_object(ctx.body)?;
            let location = req_str(&req, "location", "location")?;
            let tags = tags(&req)?;
            if let Some(r) = &existing {
                refuse_if_deleting(&r.body, &r.id)?;
                let old = r
                    .body
                    .get("location")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !old.eq_ignore_ascii_case(location) {
                    return Err(ArmError::bad_request(
                        "InvalidResourceGroupLocation",
                        format!("Invalid resource group location '{location}'. The Resource group already exists in location '{old}'."),
                    ));
                }
            }
            let body = json!({
                "id": id,
                "name": id.rsplit('/').next().unwrap_or(rg),
                "type": TYPE,
                "location": location.to_ascii_lowercase().replace(' ', ""),
                "managedBy": req.get("managedBy").cloned().unwrap_or(Value::Null),
                "tags": tags,
                "properties": {"provisioningState": "Succeeded"}
            });
            store.put(Resource {
                id: id.clone(),
                kind: Kind::ResourceGroup,
                body: body.clone(),
            });
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok(Reply::json(status, body))
        }
        Method::PATCH => {
            rbac::require(
                store,
                oid,
                &id,
                Access::Write,
                "Microsoft.Resources/subscriptions/resourceGroups/write",
            )?;
            let req = parse_object(ctx.body)?;
            let r = existing.ok_or_else(|| ArmError::resource_group_not_found(rg))?;
            refuse_if_deleting(&r.body, &r.id)?;
            let mut body = r.body.clone();
            if req.contains_key("tags") {
                body["tags"] = tags(&req)?;
            }
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::ResourceGroup,
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
                "Microsoft.Resources/subscriptions/resourceGroups/delete",
            )?;
            let r = existing.ok_or_else(|| ArmError::resource_group_not_found(rg))?;
            let mut body = r.body.clone();
            set_state(&mut body, "Deleting");
            store.put(Resource {
                id: r.id.clone(),
                kind: Kind::ResourceGroup,
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
                false,
                true,
            );
            Ok(reply)
        }
        _ => Err(ArmError::method_not_allowed(
            ctx.method.as_str(),
            "GET, HEAD, PUT, PATCH, DELETE",
        )),
    }
}
