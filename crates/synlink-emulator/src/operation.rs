//! `Operation`: the record of one long-running operation (what it does when it ends, the
//! resource it works on, when it started and falls due, its status and error). Plain data,
//! kept in the `Store` and saved with it; `lro.rs` starts, finishes and answers for them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The status as the operation-status resource spells it.
    pub fn as_str(self) -> &'static str {
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
