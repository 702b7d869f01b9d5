//! Long-running operations (azure-rest.md §1.4): starting one (an `Operation` record per
//! PUT, PATCH or DELETE that does not finish at once), finishing the ones that fell due
//! (provisioning, deletion, and the attach of a Synapse pool as an AML compute), the
//! `Azure-AsyncOperation` (`…/operationStatuses/{id}`) and `Location`
//! (`…/operationResults/{id}`) URLs that poll them, and their answers. An operation
//! finishes lazily: `settle` applies it on the first request after it falls due, so no
//! background task is needed and a restart keeps the timing.

use http::StatusCode;
use serde_json::{json, Value};

use crate::arm_error::ArmError;
use crate::body::without_nulls;
use crate::clock::rfc3339;
use crate::faults::Faults;
use crate::operation::{OpAction, OpStatus, Operation};
use crate::pacing;
use crate::reply::Reply;
use crate::store::{set_state, Kind, Resource, Store};

/// Starts an operation and returns its id.
pub fn start(
    store: &mut Store,
    action: OpAction,
    resource_id: &str,
    now: u64,
    duration_ms: u64,
) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    store.operations.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            action,
            resource_id: resource_id.to_owned(),
            started_ms: now,
            due_ms: now.saturating_add(duration_ms),
            ended_ms: None,
            status: OpStatus::InProgress,
            error: None,
        },
    );
    store.settle_after_ms = store.settle_after_ms.min(now.saturating_add(duration_ms));
    settle(store, now);
    id
}

/// How long a finished operation stays readable.
const KEEP_MS: u64 = 24 * 3600 * 1000;

/// Finishes every operation due at `now`, in the order they fall due, and forgets
/// operations that ended more than a day ago; says whether anything changed.
pub fn settle(store: &mut Store, now: u64) -> bool {
    if now < store.settle_after_ms {
        return false;
    }
    let before = store.operations.len();
    store.operations.retain(|_, op| {
        op.ended_ms
            .is_none_or(|end| end.saturating_add(KEEP_MS) > now)
    });
    let mut changed = before != store.operations.len();
    let mut due: Vec<(u64, String)> = store
        .operations
        .values()
        .filter(|op| op.status == OpStatus::InProgress && op.due_ms <= now)
        .map(|op| (op.due_ms, op.id.clone()))
        .collect();
    due.sort();
    changed |= !due.is_empty();
    for (_, id) in due {
        let Some(op) = store.operations.get(&id).cloned() else {
            continue;
        };
        let outcome = finish(store, &op, now);
        if let Some(stored) = store.operations.get_mut(&id) {
            stored.ended_ms = Some(op.due_ms);
            match outcome {
                Ok(()) => stored.status = OpStatus::Succeeded,
                Err((code, message)) => {
                    stored.status = OpStatus::Failed;
                    stored.error = Some(json!({"code": code, "message": message}));
                }
            }
        }
    }
    store.settle_after_ms = store
        .operations
        .values()
        .map(|op| match op.ended_ms {
            Some(end) => end.saturating_add(KEEP_MS),
            None => op.due_ms,
        })
        .min()
        .unwrap_or(u64::MAX);
    changed
}

fn finish(store: &mut Store, op: &Operation, now: u64) -> Result<(), (String, String)> {
    match op.action {
        OpAction::Delete => {
            store.remove_tree(&op.resource_id);
            Ok(())
        }
        OpAction::Provision => {
            let Some(r) = store.get_mut(&op.resource_id) else {
                return Err((
                    "ResourceNotFound".to_owned(),
                    format!("'{}' no longer exists.", op.resource_id),
                ));
            };
            set_state(&mut r.body, "Succeeded");
            if r.kind == Kind::BigDataPool {
                // Read-only `lastSucceededTimestamp` (bigDataPool.json 2021-06-01): set
                // once the pool's provisioning succeeded, absent before.
                if let Some(props) = r.body.get_mut("properties").and_then(Value::as_object_mut) {
                    props.insert("lastSucceededTimestamp".to_owned(), json!(rfc3339(now)));
                }
            }
            Ok(())
        }
        OpAction::Attach => finish_attach(store, op, now),
    }
}

/// The end of an attach: the compute takes the pool's properties and succeeds, or fails
/// with `ResourceNotFound` when the pool it names does not exist (any more).
fn finish_attach(store: &mut Store, op: &Operation, now: u64) -> Result<(), (String, String)> {
    let Some(compute) = store.get(&op.resource_id) else {
        return Err((
            "ResourceNotFound".to_owned(),
            format!("'{}' no longer exists.", op.resource_id),
        ));
    };
    let pool_id = compute
        .body
        .pointer("/properties/resourceId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let pool = store
        .get(&pool_id)
        .filter(|p| p.kind == Kind::BigDataPool)
        .cloned();
    let Some(r) = store.get_mut(&op.resource_id) else {
        return Err((
            "ResourceNotFound".to_owned(),
            "the compute vanished".to_owned(),
        ));
    };
    let stamp = rfc3339(now);
    if let Some(props) = r.body.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("modifiedOn".to_owned(), json!(stamp));
    }
    if let Some(pool) = pool {
        let filled = attached_pool_properties(&pool);
        if let Some(props) = r.body.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("properties".to_owned(), filled);
            props.remove("provisioningErrors");
            props.insert("provisioningState".to_owned(), json!("Succeeded"));
        }
        Ok(())
    } else {
        let message =
            format!("The Synapse Spark pool '{pool_id}' was not found: cannot attach it.");
        if let Some(props) = r.body.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "provisioningErrors".to_owned(),
                json!([{"error": {"code": "ResourceNotFound", "message": message}}]),
            );
            props.insert("provisioningState".to_owned(), json!("Failed"));
        }
        Err(("ResourceNotFound".to_owned(), message))
    }
}

/// `properties.properties` of a compute attached to a pool that is not known (yet, or
/// any more): what the pool's id names (`SynapseSparkProperties` in the 2023-04-01
/// definition, machineLearningServices.json).
pub fn pool_properties_from_id(pool_id: &str) -> Value {
    let segs: Vec<&str> = pool_id.trim_matches('/').split('/').collect();
    let at = |i: usize| segs.get(i).copied().unwrap_or_default();
    json!({
        "subscriptionId": at(1),
        "resourceGroup": at(3),
        "workspaceName": at(7),
        "poolName": at(9),
    })
}

/// `properties.properties` of a compute attached to `pool`, read from the pool resource
/// (unset settings omitted).
pub fn attached_pool_properties(pool: &Resource) -> Value {
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
    without_nulls(json!({
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
    }))
}

/// The polling headers of a fresh operation: which of `Azure-AsyncOperation` and
/// `Location` to send, and the provider's polling interval (pacing.rs).
pub fn headers(
    base_url: &str,
    resource_id: &str,
    op_id: &str,
    api_version: &str,
    faults: &Faults,
    async_operation: bool,
    location: bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if async_operation {
        out.push((
            "azure-asyncoperation".to_owned(),
            format!("{base_url}{resource_id}/operationStatuses/{op_id}?api-version={api_version}"),
        ));
    }
    if location {
        out.push((
            "location".to_owned(),
            format!("{base_url}{resource_id}/operationResults/{op_id}?api-version={api_version}"),
        ));
    }
    out.extend(pacing::headers(resource_id, faults));
    out
}

/// `GET …/operationStatuses/{id}`: always 200 with the status resource; while running,
/// the provider's polling interval (never the time left).
pub fn status_reply(
    store: &Store,
    op_id: &str,
    path: &str,
    now: u64,
    faults: &Faults,
) -> Result<Reply, ArmError> {
    let op = find(store, op_id)?;
    let mut body = json!({
        "id": path,
        "name": op.id,
        "status": op.status.as_str(),
        "startTime": rfc3339(op.started_ms),
        "percentComplete": percent(op, now),
    });
    if let Some(end) = op.ended_ms {
        body["endTime"] = json!(rfc3339(end));
    }
    if let Some(error) = &op.error {
        body["error"] = error.clone();
    }
    let mut reply = Reply::ok(body);
    if op.status == OpStatus::InProgress {
        reply
            .headers
            .extend(pacing::headers(&op.resource_id, faults));
    }
    Ok(reply)
}

/// `GET …/operationResults/{id}`: 202 while running, then what the synchronous call
/// would have answered (the resource, or 204 after a delete; the error when it failed).
pub fn result_reply(
    store: &Store,
    op_id: &str,
    url: &str,
    faults: &Faults,
) -> Result<Reply, ArmError> {
    let op = find(store, op_id)?;
    match op.status {
        OpStatus::InProgress => {
            let mut reply = Reply::empty(StatusCode::ACCEPTED).header("location", url);
            reply
                .headers
                .extend(pacing::headers(&op.resource_id, faults));
            Ok(reply)
        }
        OpStatus::Failed => {
            let code = op
                .error
                .as_ref()
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("InternalServerError");
            let message = op
                .error
                .as_ref()
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("the operation failed");
            let status = if code == "ResourceNotFound" {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            Err(ArmError::new(status, code, message))
        }
        OpStatus::Succeeded => match (op.action, store.get(&op.resource_id)) {
            (OpAction::Delete, _) | (_, None) => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            (_, Some(r)) => Ok(Reply::ok(without_nulls(r.body.clone()))),
        },
    }
}

fn find<'a>(store: &'a Store, op_id: &str) -> Result<&'a Operation, ArmError> {
    store.operations.get(op_id).ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            format!("The operation '{op_id}' was not found."),
        )
    })
}

fn percent(op: &Operation, now: u64) -> u64 {
    if op.status != OpStatus::InProgress {
        return 100;
    }
    let total = op.due_ms.saturating_sub(op.started_ms).max(1);
    (now.saturating_sub(op.started_ms).saturating_mul(100) / total).min(99)
}
