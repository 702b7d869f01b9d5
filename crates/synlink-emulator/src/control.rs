//! Test controls under `/_emulator/` (no authentication, never throttled or failed):
//! - `GET health` — `{status, url, bootstrapPrincipal, tenantId, tlsCaFile}`;
//! - `GET requests[?since=SEQ]` — the request log `{value:[{seq, requestId, method, path,
//!   status, durationMs, principal, startMs, endMs, operation, body, responseHeaders,
//!   responseBody}]}` (only counted requests after SEQ when given); `DELETE requests`
//!   clears it;
//! - `GET counts` — `{total, byOperation:{"PUT Microsoft.Synapse/workspaces": n, …}}`;
//! - `POST reset` — empties the cloud (keeps tenant and bootstrap principal), the log,
//!   the buckets and the sequence counter, and restores the start knobs;
//! - `POST token` `{principalId?, audience?, lifetimeSecs?}` (or GET with the same query
//!   names) — `{accessToken, expiresOn, principalId, tenantId}`;
//! - `POST principals` `{objectId?, displayName?, principalType?, replicated?}` adds a
//!   principal (created now, so the identity replication delay applies unless
//!   `replicated` is true); `GET principals` lists them;
//! - `POST role-assignments` `{plane:"arm", scope, role, principalId, principalType?}` or
//!   `{plane:"synapse", workspace, role, principalId, scope?, immediate?}` adds an
//!   assignment without any check (`role` is a GUID, a role id or a role name);
//! - `GET faults` / `PUT faults` (or PATCH) — read or merge the knobs (faults.rs).

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::arm_error::ArmError;
use crate::auth;
use crate::body::{opt_bool, opt_i64, opt_str, parse_optional_object, req_str};
use crate::clock::now_ms;
use crate::faults::Faults;
use crate::principal::Principal;
use crate::rbac;
use crate::reply::Reply;
use crate::request::Query;
use crate::routes::authorization;
use crate::shared::{lock, Shared};
use crate::store::{fold, ArmAssignment, Store, SynapseAssignment};
use crate::synapse_rbac;

/// Answers a control request; `rest` is the path after `/_emulator/`.
pub fn handle(
    shared: &Shared,
    method: &Method,
    rest: &str,
    query: &Query,
    body: &[u8],
) -> Result<Reply, ArmError> {
    let not_allowed = |allowed: &str| Err(ArmError::method_not_allowed(method.as_str(), allowed));
    match rest.trim_matches('/') {
        "health" => match *method {
            Method::GET => {
                let store = lock(&shared.store);
                Ok(Reply::ok(json!({
                    "status": "ok",
                    "url": shared.base_url,
                    "bootstrapPrincipal": store.bootstrap,
                    "tenantId": store.tenant_id,
                    "tlsCaFile": shared.tls_ca_file,
                })))
            }
            _ => not_allowed("GET"),
        },
        "requests" => match *method {
            Method::GET => {
                let since: u64 = query.get("since").and_then(|s| s.parse().ok()).unwrap_or(0);
                let entries: Vec<_> = lock(&shared.log)
                    .entries()
                    .into_iter()
                    .filter(|e| since == 0 || e.seq > since)
                    .collect();
                Ok(Reply::ok(json!({ "value": entries })))
            }
            Method::DELETE => {
                lock(&shared.log).clear();
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            }
            _ => not_allowed("GET, DELETE"),
        },
        "counts" => match *method {
            Method::GET => {
                let counts = lock(&shared.log).counts();
                let total: u64 = counts.values().sum();
                Ok(Reply::ok(json!({"total": total, "byOperation": counts})))
            }
            _ => not_allowed("GET"),
        },
        "reset" => match *method {
            Method::POST => {
                {
                    let mut store = lock(&shared.store);
                    let fresh = Store::new(store.tenant_id.clone(), store.bootstrap.clone());
                    *store = fresh;
                }
                lock(&shared.log).clear();
                lock(&shared.throttle).reset();
                *lock(&shared.faults) = shared.initial_faults.clone();
                shared.seq.store(0, std::sync::atomic::Ordering::SeqCst);
                shared
                    .dirty
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(Reply::empty(StatusCode::NO_CONTENT))
            }
            _ => not_allowed("POST"),
        },
        "token" => match *method {
            Method::GET | Method::POST => token(shared, method, query, body),
            _ => not_allowed("GET, POST"),
        },
        "principals" => match *method {
            Method::GET => {
                let store = lock(&shared.store);
                Ok(Reply::ok(
                    json!({"value": store.principals.values().collect::<Vec<_>>()}),
                ))
            }
            Method::POST => add_principal(shared, body),
            _ => not_allowed("GET, POST"),
        },
        "role-assignments" => match *method {
            Method::POST => add_assignment(shared, body),
            _ => not_allowed("POST"),
        },
        "faults" => match *method {
            Method::GET => Ok(Reply::ok(
                serde_json::to_value(&*lock(&shared.faults)).unwrap_or(Value::Null),
            )),
            Method::PUT | Method::PATCH => {
                let patch = parse_optional_object(body)?;
                let mut faults = lock(&shared.faults);
                let mut merged = serde_json::to_value(&*faults).unwrap_or(Value::Null);
                merge(&mut merged, &Value::Object(patch));
                let next: Faults = serde_json::from_value(merged).map_err(|e| {
                    ArmError::invalid_content(format!("The faults are invalid: {e}."))
                })?;
                next.validate().map_err(ArmError::invalid_content)?;
                *faults = next;
                Ok(Reply::ok(
                    serde_json::to_value(&*faults).unwrap_or(Value::Null),
                ))
            }
            _ => not_allowed("GET, PUT, PATCH"),
        },
        _ => Err(ArmError::no_route(
            method.as_str(),
            &format!("/_emulator/{rest}"),
        )),
    }
}

/// Merges a JSON object into another, recursively; arrays and scalars replace.
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn token(shared: &Shared, method: &Method, query: &Query, body: &[u8]) -> Result<Reply, ArmError> {
    let req = if *method == Method::POST {
        parse_optional_object(body)?
    } else {
        serde_json::Map::new()
    };
    let pick = |key: &str| -> Result<Option<String>, ArmError> {
        Ok(opt_str(&req, key, key)?
            .map(str::to_owned)
            .or_else(|| query.get(key).map(str::to_owned)))
    };
    let (tenant, bootstrap) = {
        let store = lock(&shared.store);
        (store.tenant_id.clone(), store.bootstrap.clone())
    };
    let oid = pick("principalId")?.or(pick("oid")?).unwrap_or(bootstrap);
    let audience = pick("audience")?.unwrap_or_else(|| "https://management.azure.com/".to_owned());
    let lifetime = match opt_i64(&req, "lifetimeSecs", "lifetimeSecs")? {
        Some(n) => u64::try_from(n)
            .map_err(|_| ArmError::invalid_content("lifetimeSecs must not be negative"))?,
        None => query
            .get("lifetimeSecs")
            .and_then(|s| s.parse().ok())
            .unwrap_or(86_400),
    };
    crate::token_service::register(shared, &oid, "User");
    let now = now_ms() / 1000;
    Ok(Reply::ok(json!({
        "accessToken": auth::mint(&oid, &tenant, &audience, now, lifetime),
        "expiresOn": now.saturating_add(lifetime),
        "principalId": oid,
        "tenantId": tenant,
    })))
}

fn add_principal(shared: &Shared, body: &[u8]) -> Result<Reply, ArmError> {
    let req = parse_optional_object(body)?;
    let oid = opt_str(&req, "objectId", "objectId")?
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let replicated = opt_bool(&req, "replicated", "replicated")?.unwrap_or(false);
    let principal = Principal {
        object_id: oid.clone(),
        display_name: opt_str(&req, "displayName", "displayName")?
            .unwrap_or(&oid)
            .to_owned(),
        principal_type: opt_str(&req, "principalType", "principalType")?
            .unwrap_or("ServicePrincipal")
            .to_owned(),
        created_ms: if replicated { 0 } else { now_ms() },
    };
    lock(&shared.store)
        .principals
        .insert(fold(&oid), principal.clone());
    Ok(Reply::json(
        StatusCode::CREATED,
        serde_json::to_value(principal).unwrap_or(Value::Null),
    ))
}

fn add_assignment(shared: &Shared, body: &[u8]) -> Result<Reply, ArmError> {
    let req = parse_optional_object(body)?;
    let plane = opt_str(&req, "plane", "plane")?.unwrap_or("arm");
    let role = req_str(&req, "role", "role")?;
    let principal = req_str(&req, "principalId", "principalId")?;
    let now = now_ms();
    let mut store = lock(&shared.store);
    if plane.eq_ignore_ascii_case("arm") {
        let scope = req_str(&req, "scope", "scope")?
            .trim_end_matches('/')
            .to_owned();
        let guid = role
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(role);
        let def = rbac::role(guid)
            .or_else(|| {
                rbac::ROLES
                    .iter()
                    .find(|r| r.name.eq_ignore_ascii_case(role))
            })
            .ok_or_else(|| {
                ArmError::bad_request(
                    "RoleDefinitionDoesNotExist",
                    format!("Unknown role '{role}'."),
                )
            })?;
        if let Some(sub) = crate::routes::target::subscription_of(&scope) {
            rbac::ensure_subscription(&mut store, sub, now);
        }
        let name = uuid::Uuid::new_v4().to_string();
        let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        let a = ArmAssignment {
            id: id.clone(),
            name,
            scope,
            role_guid: def.guid.to_owned(),
            principal_id: principal.to_owned(),
            principal_type: opt_str(&req, "principalType", "principalType")?
                .unwrap_or("User")
                .to_owned(),
            description: None,
            condition: None,
            condition_version: None,
            created_ms: now,
            created_by: store.bootstrap.clone(),
        };
        store.arm_assignments.insert(fold(&id), a.clone());
        shared
            .dirty
            .store(true, std::sync::atomic::Ordering::SeqCst);
        return Ok(Reply::json(
            StatusCode::CREATED,
            authorization::assignment_json(&a),
        ));
    }
    if !plane.eq_ignore_ascii_case("synapse") {
        return Err(ArmError::invalid_content(format!(
            "plane must be 'arm' or 'synapse', not '{plane}'"
        )));
    }
    let ws = req_str(&req, "workspace", "workspace")?;
    let def = synapse_rbac::role(role)
        .or_else(|| {
            synapse_rbac::ROLES.iter().find(|r| {
                r.name.eq_ignore_ascii_case(role)
                    || format!("Synapse {}", r.name).eq_ignore_ascii_case(role)
            })
        })
        .ok_or_else(|| {
            ArmError::bad_request(
                "RoleDefinitionNotFound",
                format!("Unknown Synapse role '{role}'."),
            )
        })?;
    let scope =
        opt_str(&req, "scope", "scope")?.map_or_else(|| format!("workspaces/{ws}"), str::to_owned);
    let immediate = opt_bool(&req, "immediate", "immediate")?.unwrap_or(false);
    let id = uuid::Uuid::new_v4().to_string();
    store.next_seq += 1;
    let a = SynapseAssignment {
        id: id.clone(),
        workspace: fold(ws),
        role_id: def.id.to_owned(),
        principal_id: principal.to_owned(),
        scope,
        principal_type: opt_str(&req, "principalType", "principalType")?.map(str::to_owned),
        created_ms: if immediate { 0 } else { now },
        seq: store.next_seq,
    };
    let body = synapse_rbac::assignment_json(&a);
    store
        .synapse_assignments
        .insert(format!("{}/{}", fold(ws), fold(&id)), a);
    shared
        .dirty
        .store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(Reply::json(StatusCode::CREATED, body))
}
