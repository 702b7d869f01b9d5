//! Long-running operations (azure-rest.md §1.4): an `Operation` record per PUT, PATCH or
//! DELETE that does not finish at once, the `Azure-AsyncOperation` (`…/operationStatuses/
//! {id}`) and `Location` (`…/operationResults/{id}`) URLs that poll it, and their answers.
//! An operation finishes lazily: `Store::settle` applies it on the first request after it
//! falls due, so no background task is needed and a restart keeps the timing.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::arm_error::ArmError;
use crate::clock::rfc3339;
use crate::reply::Reply;
use crate::store::Store;

/// What finishing an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpAction {
    /// Sets `provisioningState` to Succeeded (create or update).
    Provision,
    /// Attaches a Synapse pool as compute: Succeeded when the pool exists, else Failed.
    Attach,
    /// Removes the resource and everything under it.
    Delete,
}

/// Status of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpStatus {
    /// Still running.
    InProgress,
    /// Done.
    Succeeded,
    /// Done with an error.
    Failed,
}

impl OpStatus {
    fn as_str(self) -> &'static str {
        match self {
            OpStatus::InProgress => "InProgress",
            OpStatus::Succeeded => "Succeeded",
            OpStatus::Failed => "Failed",
        }
    }
}

/// One long-running operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// GUID.
    pub id: String,
    /// What it does when it ends.
    pub action: OpAction,
    /// The resource it works on.
    pub resource_id: String,
    /// Start instant (epoch ms).
    pub started_ms: u64,
    /// When it ends (epoch ms).
    pub due_ms: u64,
    /// When it ended.
    pub ended_ms: Option<u64>,
    /// Status.
    pub status: OpStatus,
    /// The error when Failed.
    pub error: Option<Value>,
}

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
    store.settle(now);
    id
}

/// The polling headers of a fresh operation: which of `Azure-AsyncOperation` and
/// `Location` to send, and Retry-After (whole seconds, rounded up) with the precise
/// `retry-after-ms` that azure-core prefers.
pub fn headers(
    base_url: &str,
    resource_id: &str,
    op_id: &str,
    api_version: &str,
    remaining_ms: u64,
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
    out.extend(retry_after(remaining_ms));
    out
}

/// `Retry-After` and `retry-after-ms` for a wait of `ms`.
pub fn retry_after(ms: u64) -> Vec<(String, String)> {
    let ms = ms.max(10);
    vec![
        ("retry-after".to_owned(), ms.div_ceil(1000).to_string()),
        ("retry-after-ms".to_owned(), ms.to_string()),
    ]
}

/// `GET …/operationStatuses/{id}`: always 200 with the status resource.
pub fn status_reply(store: &Store, op_id: &str, path: &str, now: u64) -> Result<Reply, ArmError> {
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
            .extend(retry_after(op.due_ms.saturating_sub(now)));
    }
    Ok(reply)
}

/// `GET …/operationResults/{id}`: 202 while running, then what the synchronous call
/// would have answered (the resource, or 204 after a delete; the error when it failed).
pub fn result_reply(store: &Store, op_id: &str, url: &str, now: u64) -> Result<Reply, ArmError> {
    let op = find(store, op_id)?;
    match op.status {
        OpStatus::InProgress => {
            let mut reply = Reply::empty(StatusCode::ACCEPTED).header("location", url);
            reply
                .headers
                .extend(retry_after(op.due_ms.saturating_sub(now)));
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
            (_, Some(r)) => Ok(Reply::ok(r.body.clone())),
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
