//! The state: synlink's record of what it manages (per address: kind, id, the
//! last applied properties and outputs such as principal ids). The truth is
//! what Azure says; the state says what is synlink's. It holds no secrets and no
//! tokens. Backends live beside this file (`local`, `blob`), behind the
//! interface in `backend`.

pub mod backend;
pub mod blob;
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

/// The next version of a state, serialised for a backend to store: the
/// state with its `serial` one up and the current format and synlink version.
#[derive(Debug)]
pub struct Encoded {
    /// The serial the bytes carry.
    pub serial: u64,
    /// The lineage they carry.
    pub lineage: String,
    /// The file's content (pretty JSON and a newline).
    pub bytes: Vec<u8>,
}

impl State {
    /// Serialises the next version of this state without copying it (a
    /// run's writer encodes thousands of resources while holding them).
    pub fn encode_next(&self) -> Encoded {
        self.encode_next_sized(0)
    }

    /// As `encode_next`, into a buffer of about `size` bytes (the last
    /// encoding's): a state of megabytes is not grown by doubling, copy after
    /// copy, to up to twice its size.
    pub fn encode_next_sized(&self, size: usize) -> Encoded {
        /// The fields of `State`, in its order, borrowed.
        #[derive(Serialize)]
        struct Next<'a> {
            version: u32,
            lineage: &'a str,
            serial: u64,
            synlink_version: &'a str,
            resources: &'a IndexMap<String, ResourceState>,
        }
        let serial = self.serial + 1;
        let mut bytes = Vec::with_capacity(size + size / 16);
        serde_json::to_writer_pretty(
            &mut bytes,
            &Next {
                version: STATE_FORMAT_VERSION,
                lineage: &self.lineage,
                serial,
                synlink_version: env!("CARGO_PKG_VERSION"),
                resources: &self.resources,
            },
        )
        .expect("states always serialise");
        bytes.push(b'\n');
        Encoded {
            serial,
            lineage: self.lineage.clone(),
            bytes,
        }
    }

    /// Takes the fields an `Encoded` version of it carries, once stored.
    pub fn stored(&mut self, encoded: &Encoded) {
        self.version = STATE_FORMAT_VERSION;
        self.serial = encoded.serial;
        env!("CARGO_PKG_VERSION").clone_into(&mut self.synlink_version);
    }
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

/// Decodes a state file's bytes: a newer format is `TooNew`, a shape that is
/// not a state `Corrupt`, two addresses recording one id `SharedId`.
pub fn decode(path: &std::path::Path, bytes: &[u8]) -> Result<State, StateError> {
    /// Read first, so a newer format is `TooNew` rather than a shape error.
    #[derive(serde::Deserialize)]
    struct Header {
        version: u64,
    }
    let corrupt = |e: serde_json::Error| StateError::Corrupt {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let header: Header = serde_json::from_slice(bytes).map_err(corrupt)?;
    if header.version > u64::from(STATE_FORMAT_VERSION) {
        return Err(StateError::TooNew {
            path: path.to_owned(),
            found: u32::try_from(header.version).unwrap_or(u32::MAX),
        });
    }
    let state: State = serde_json::from_slice(bytes).map_err(corrupt)?;
    if let Some((first, second, id)) = state.shared_id() {
        return Err(StateError::SharedId {
            path: path.to_owned(),
            first: first.to_owned(),
            second: second.to_owned(),
            id: id.to_string(),
        });
    }
    Ok(state)
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
    /// Who runs it and with which synlink (boxed, to keep `StateError`,
    /// which carries a `LockInfo`, small).
    #[serde(flatten)]
    pub details: Box<HolderDetails>,
}

/// The rest of a `LockInfo`: what lock files written before it was recorded
/// leave empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderDetails {
    /// The user (`USER`, `LOGNAME` or `USERNAME`).
    #[serde(default)]
    pub user: String,
    /// The synlink version.
    #[serde(default)]
    pub synlink_version: String,
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
        let user = ["USER", "LOGNAME", "USERNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown-user".to_owned());
        LockInfo {
            pid: std::process::id(),
            host,
            time,
            command: command.to_owned(),
            details: Box::new(HolderDetails {
                user,
                synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
            }),
        }
    }

    /// `synlink apply (user alice, pid 42 on host-1, since 2026-…Z, synlink
    /// 0.1.0)`, leaving out what an older lock file does not record.
    pub fn describe(&self) -> String {
        let mut text = format!("{} (", self.command);
        if !self.details.user.is_empty() {
            text.push_str(&format!("user {}, ", self.details.user));
        }
        text.push_str(&format!(
            "pid {} on {}, since {}",
            self.pid, self.host, self.time
        ));
        if !self.details.synlink_version.is_empty() {
            text.push_str(&format!(", synlink {}", self.details.synlink_version));
        }
        text.push(')');
        text
    }
}

/// Errors of the state layer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the lock and did not release it in time.
    #[error("the state is locked by {}; waited {waited_secs}s", holder.describe())]
    Locked {
        /// The holder.
        holder: LockInfo,
        /// How long we waited.
        waited_secs: u64,
    },
    /// A lock left by a process that no longer runs.
    #[error("the state lock at {path} was left by {}, which is no longer running", holder.describe())]
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
    /// The remote state is leased by something that names no synlink holder
    /// (another tool, or a lease taken by hand), and it was not freed in time.
    #[error("the state at {location} is leased by something that names no synlink holder; waited {waited_secs}s")]
    LockedByUnknown {
        /// Where the state is.
        location: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// The blob lease this run held is gone, so nothing more is written: the
    /// state could now be someone else's.
    #[error("the lease on the state at {location} was lost: {cause}; nothing more was written to the state. Run again once no other run holds it: the next run takes a new lease and goes on from the last state written")]
    LeaseLost {
        /// Where the state is.
        location: String,
        /// What happened.
        cause: LeaseLoss,
    },
    /// The state blob changed since this run last read or wrote it (its
    /// `If-Match` condition failed): writing would lose that change.
    #[error("the state at {location} changed since this run last read or wrote it (it was at ETag {etag}); not writing over it. Run again to start from the state as it is now; `synlink state history` lists the earlier versions")]
    RemoteChanged {
        /// Where the state is.
        location: String,
        /// The `ETag` this run last saw.
        etag: String,
    },
    /// The blob service refused or failed a request. Holds no SAS, token or
    /// header: `message` is the service's own text with every SAS parameter
    /// value removed.
    #[error("{location}: {operation} failed: {}{message}", answer_prefix(*status, code.as_deref()))]
    Remote {
        /// Where the state is.
        location: String,
        /// What synlink was doing (`reading the state`, `taking the lease`, ...).
        operation: &'static str,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// The storage error code (`AuthorizationFailure`, `ContainerNotFound`, ...).
        code: Option<String>,
        /// What the service or the transport said.
        message: String,
    },
    /// The backend's configuration or credentials cannot be used.
    #[error("the remote state settings cannot be used: {reason}")]
    BadConfig {
        /// Why.
        reason: String,
    },
    /// The backend does not do that.
    #[error("the {backend} state backend has no {operation}: {why}")]
    Unsupported {
        /// Which backend (`local`).
        backend: &'static str,
        /// What was asked (`history`, `restore`, `unlock`).
        operation: &'static str,
        /// Why, and what to do instead.
        why: &'static str,
    },
    /// No snapshot with that id.
    #[error(
        "the state at {location} has no snapshot {snapshot}; `synlink state history` lists them"
    )]
    SnapshotNotFound {
        /// Where the state is.
        location: String,
        /// The id asked for.
        snapshot: String,
    },
    /// There is no state there yet.
    #[error("there is no state at {location} yet")]
    NoState {
        /// Where.
        location: String,
    },
    /// Replacing the state with one that has an older serial would undo
    /// changes recorded since.
    #[error("refusing to replace the state at {location} (serial {current}) with an older one (serial {incoming}); pass --force to do it anyway")]
    OlderSerial {
        /// Where the state is.
        location: String,
        /// The serial there.
        current: u64,
        /// The serial offered.
        incoming: u64,
    },
    /// The state offered belongs to another lineage (another state history).
    #[error("refusing to replace the state at {location} (lineage {current}) with one of another lineage ({incoming}){}", if *forceable { "; pass --force to do it anyway" } else { "" })]
    OtherLineage {
        /// Where the state is.
        location: String,
        /// The lineage there.
        current: String,
        /// The lineage offered.
        incoming: String,
        /// Whether `--force` would override it.
        forceable: bool,
    },
}

/// `HTTP 404 ContainerNotFound: ` (or less), before a service's message.
fn answer_prefix(status: Option<u16>, code: Option<&str>) -> String {
    match (status, code) {
        (Some(s), Some(c)) => format!("HTTP {s} {c}: "),
        (Some(s), None) => format!("HTTP {s}: "),
        (None, _) => String::new(),
    }
}

/// How a blob lease was lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseLoss {
    /// The service said the lease is no longer ours (broken, for example by
    /// `synlink state unlock`, or taken by another run after it expired).
    #[error("the lease was broken or taken over ({code})")]
    Broken {
        /// The storage error code that said so.
        code: String,
    },
    /// The lease could not be renewed for as long as it lasts, so it may have
    /// expired and been taken by another run.
    #[error("it could not be renewed for {secs}s (the lease lasts {lease_secs}s); last failure: {last_error}")]
    NotRenewed {
        /// Seconds since the last successful renewal.
        secs: u64,
        /// The lease duration.
        lease_secs: u64,
        /// The last renewal error.
        last_error: String,
    },
}

#[cfg(test)]
mod tests {
    use super::{ResourceState, State, STATE_FORMAT_VERSION};
    use crate::addr::{Address, ArmId, Properties, ResourceKind};

    /// The borrowed mirror `encode_next` serialises must stay the state's
    /// own form: every field, in its order, read back as the next version.
    #[test]
    fn the_encoded_next_version_is_the_state_one_serial_up() {
        let mut state = State::new();
        state.serial = 41;
        state.version = 0;
        state.synlink_version = "0.0.0-old".to_owned();
        let mut properties = Properties::new();
        properties.insert("name".to_owned(), serde_json::json!("synapselink1"));
        state.resources.insert(
            "links.team-a".to_owned(),
            ResourceState {
                kind: ResourceKind::Link,
                id: ArmId::new("/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/linkedServices/synapselink1"),
                existing: false,
                properties,
                outputs: indexmap::IndexMap::new(),
                dependencies: vec![Address::parse("ml_workspaces.team-a").expect("address")],
            },
        );
        let next = state.encode_next();
        assert_eq!(
            (next.serial, next.lineage.as_str()),
            (42, state.lineage.as_str())
        );
        assert!(next.bytes.ends_with(b"}\n"));
        let read: State = serde_json::from_slice(&next.bytes).expect("a state");
        let mut expected = state.clone();
        expected.stored(&next);
        assert_eq!(read, expected);
        assert_eq!(read.version, STATE_FORMAT_VERSION);
        assert_eq!(read.synlink_version, env!("CARGO_PKG_VERSION"));
        // The same bytes as serialising the state itself, field order included.
        let mut whole = serde_json::to_vec_pretty(&expected).expect("json");
        whole.push(b'\n');
        assert_eq!(
            String::from_utf8(next.bytes).unwrap(),
            String::from_utf8(whole).unwrap()
        );
    }
}
