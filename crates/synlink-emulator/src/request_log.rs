//! The request log behind `/_emulator/requests` and `/_emulator/counts`: one entry per
//! answered request (method, path, status, duration, principal, start and end instants,
//! the operation label, the JSON request body, and what was sent back: every response
//! header and the JSON response body), the last 10,000 kept, and counts by operation
//! since the start or the last reset. Tests assert against what the emulator actually
//! sent (a 429's `retry-after-ms`, an LRO's polling URLs) rather than re-computing it.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

const KEPT: usize = 10_000;

/// One answered request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Sequence number (the one --fail-rate hashes; 0 for uncounted requests).
    pub seq: u64,
    /// `x-ms-request-id`.
    pub request_id: String,
    /// HTTP method.
    pub method: String,
    /// Path and query as received.
    pub path: String,
    /// Status answered (0 when the connection was dropped).
    pub status: u16,
    /// Duration in ms.
    pub duration_ms: u64,
    /// Object id of the caller, when authenticated.
    pub principal: Option<String>,
    /// Start instant (epoch ms).
    pub start_ms: u64,
    /// End instant (epoch ms).
    pub end_ms: u64,
    /// Operation label, e.g. `PUT Microsoft.Synapse/workspaces`.
    pub operation: String,
    /// Request body when JSON (for asserting exact requests).
    pub body: Option<serde_json::Value>,
    /// The headers sent back, by lower-case name (repeated ones joined by `, `); empty
    /// when the connection was dropped.
    pub response_headers: BTreeMap<String, String>,
    /// The response body when it was JSON (null when empty, not JSON, a HEAD answer, a
    /// dropped connection, or over 64 KiB).
    pub response_body: Option<serde_json::Value>,
}

/// The log.
#[derive(Debug, Default)]
pub struct RequestLog {
    entries: VecDeque<Entry>,
    counts: BTreeMap<String, u64>,
}

impl RequestLog {
    /// Records an answered request.
    pub fn push(&mut self, entry: Entry) {
        *self.counts.entry(entry.operation.clone()).or_default() += 1;
        if self.entries.len() == KEPT {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// All kept entries, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries.iter().cloned().collect()
    }

    /// Counts by operation.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.clone()
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.counts.clear();
    }
}
