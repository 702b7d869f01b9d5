//! The state: synlink's record of what it manages (per address: kind, id, the
//! last applied properties and outputs such as principal ids). The truth is
//! what Azure says; the state says what is synlink's. It holds no secrets and no
//! tokens. Backends live beside this file (`local` for now).

pub mod local;
pub mod writer;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::addr::{Address, ArmId, Properties, ResourceKind};

/// The version of the state file format this synlink writes and reads.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The whole state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// `STATE_FORMAT_VERSION` at write time.
    pub version: u32,
    /// A random id given when the state is first created; plans are tied to it.
    pub lineage: String,
    /// Incremented on every write; plans are tied to it.
    pub serial: u64,
    /// The synlink version that last wrote it.
    pub synlink_version: String,
    /// Managed resources (and data sources read), by address text.
    pub resources: IndexMap<String, ResourceState>,
}

/// What the state records about one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its ARM id (for a role grant, its workspace's id with
    /// `/roleAssignments/{assignment id}`).
    pub id: ArmId,
    /// A data source (read only).
    #[serde(default)]
    pub existing: bool,
    /// The properties last applied (desired, normalised as in plans).
    #[serde(default)]
    pub properties: Properties,
    /// Outputs: `principal_id`, `tenant_id`, ...
    #[serde(default)]
    pub outputs: IndexMap<String, serde_json::Value>,
    /// What it depends on, so that a later delete (once it left the spec)
    /// still goes after its dependents'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Address>,
}

impl State {
    /// Two addresses that record one id: the state would let a change of one
    /// act on the other's resource. `(first, second, id)`.
    pub fn shared_id(&self) -> Option<(&str, &str, &ArmId)> {
        let mut owners: std::collections::HashMap<&ArmId, &str> =
            std::collections::HashMap::with_capacity(self.resources.len());
        for (address, rs) in &self.resources {
            if rs.id.as_str().is_empty() {
                continue;
            }
            if let Some(first) = owners.insert(&rs.id, address) {
                return Some((first, address, &rs.id));
            }
        }
        None
    }

    /// A new, empty state with a fresh lineage.
    pub fn new() -> State {
        State {
            version: STATE_FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
            resources: IndexMap::new(),
        }
    }
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

/// Who holds the state lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Process id.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// When the lock was taken (RFC 3339, UTC).
    pub time: String,
    /// The command line that holds it (e.g. `synlink apply`).
    pub command: String,
}

impl LockInfo {
    /// Describes this process, running `command`.
    pub fn current(command: &str) -> LockInfo {
        let host = gethostname::gethostname()
            .into_string()
            .unwrap_or_else(|_| "unknown-host".to_owned());
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        LockInfo {
            pid: std::process::id(),
            host,
            time,
            command: command.to_owned(),
        }
    }
}

/// Errors of the state layer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the lock and did not release it in time.
    #[error("the state is locked by {} (pid {} on {}, since {}); waited {waited_secs}s", holder.command, holder.pid, holder.host, holder.time)]
    Locked {
        /// The holder.
        holder: LockInfo,
        /// How long we waited.
        waited_secs: u64,
    },
    /// A lock left by a process that no longer runs.
    #[error("the state lock at {path} was left by {} (pid {} on {}, since {}), which is no longer running", holder.command, holder.pid, holder.host, holder.time)]
    StaleLock {
        /// The lock file.
        path: std::path::PathBuf,
        /// The dead holder.
        holder: LockInfo,
    },
    /// A lock file that names no holder (empty or not a lock): a synlink
    /// stopped between creating and writing it, or something else wrote it.
    /// Reported when it is stale (a few seconds old) and not taken over, or
    /// when still there at the end of the wait.
    #[error("the state lock at {path} names no holder ({reason}); it is {age_secs}s old")]
    UnreadableLock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        reason: String,
        /// How long ago it was last modified.
        age_secs: u64,
    },
    /// Something that is not a lock file sits where the lock goes.
    #[error("the state lock at {path} is {what}, not a lock file synlink wrote")]
    OddLock {
        /// The lock path.
        path: std::path::PathBuf,
        /// What is there.
        what: String,
    },
    /// The lock file was removed or replaced while we held it, so writing
    /// could clobber another writer.
    #[error("the state lock at {path} is no longer held by this process (it was removed or replaced); not writing the state")]
    LockLost {
        /// The lock file.
        path: std::path::PathBuf,
    },
    /// The state file is not valid.
    #[error("{path}: the state file is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The state file was written by a newer synlink.
    #[error("{path}: the state file has format version {found}; this synlink reads up to {STATE_FORMAT_VERSION}")]
    TooNew {
        /// The file.
        path: std::path::PathBuf,
        /// Its version.
        found: u32,
    },
    /// Two addresses record the same Azure resource.
    #[error("{path}: `{first}` and `{second}` both record {id}; one address owns one resource")]
    SharedId {
        /// The file.
        path: std::path::PathBuf,
        /// One address.
        first: String,
        /// The other.
        second: String,
        /// The id.
        id: String,
    },
    /// Any I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
