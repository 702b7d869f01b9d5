//! Subscriptions (`Microsoft.Resources`): `GET /subscriptions` (those where the caller
//! holds a role) and `GET /subscriptions/{sub}`. Every subscription exists on first use
//! (`rbac::ensure_subscription`); there is nothing to create or delete.

use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::rbac::{self, Access};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::lifecycle::{list_reply, only_get};
use crate::store::Store;

/// `GET /subscriptions`: the subscriptions where the caller holds a role.
pub fn list(store: &mut Store, ctx: &Ctx<'_>) -> Result<Reply, ArmError> {
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
pub fn item(store: &mut Store, ctx: &Ctx<'_>, sub: &str) -> Result<Reply, ArmError> {
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
