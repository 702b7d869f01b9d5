//! The state backend interface: what the commands ask of a place that keeps
//! the state (the local file, an Azure blob), and the moves between places
//! (`pull`, `push`, `migrate`) written once over that interface. It owns no
//! storage and no locking protocol of its own (those are `local` and `blob`),
//! and it never prints.
//!
//! The interface is synchronous: the state writer runs on a plain thread. A
//! backend that talks to a service runs its own small runtime; its calls block
//! the caller, so call them from a plain thread or `spawn_blocking`.

use std::path::Path;
use std::time::Duration;

use crate::state::{Encoded, LockInfo, State, StateError};

/// A place that keeps the state.
pub trait StateBackend: Send + Sync {
    /// Where the state is, for messages: a file path or a blob URL (never with
    /// a SAS or any other secret).
    fn describe(&self) -> String;

    /// Takes the lock, naming `holder`, waiting up to `timeout` while someone
    /// else holds it; then `StateError::Locked` names that holder. The lock is
    /// released when the returned value is dropped.
    fn lock(&self, holder: LockInfo, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError>;

    /// Reads the state without taking the lock (a consistent copy of the last
    /// write). `None` when no state was ever written there.
    fn peek(&self) -> Result<Option<State>, StateError>;

    /// Who holds the lock now.
    fn holder(&self) -> Result<LockStatus, StateError>;

    /// Frees the lock whoever holds it, returning who did (as read just
    /// before). The former holder's next write is refused. Only where the
    /// backend can tell a holder that it lost the lock (`Unsupported`
    /// elsewhere).
    fn force_unlock(&self) -> Result<LockStatus, StateError>;

    /// The earlier versions kept (oldest first): one per run that wrote.
    fn history(&self) -> Result<Vec<Snapshot>, StateError>;
}

/// The lock on a backend's state, held. Released on drop.
pub trait HeldLock: Send + Sync {
    /// Who holds it (this process).
    fn holder(&self) -> &LockInfo;

    /// Where the state is, as `StateBackend::describe` says it.
    fn describe(&self) -> String;

    /// Reads the state; a new, empty `State` (serial 0) when none was written.
    fn read(&self) -> Result<State, StateError>;

    /// Stores an encoded next version of the state (`State::encode_next`).
    /// Refused once the lock is lost.
    fn write_encoded(&self, next: &Encoded) -> Result<(), StateError>;

    /// Writes `state` after incrementing its `serial` (and setting its
    /// `version` and `synlink_version`). If it fails, `state` is as it was.
    /// Refused once the lock is lost.
    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let next = state.encode_next();
        self.write_encoded(&next)?;
        state.stored(&next);
        Ok(())
    }

    /// `Ok` while the lock is still this process's; otherwise what happened
    /// (the same error every later `write` returns).
    fn check(&self) -> Result<(), StateError>;

    /// Makes snapshot `id` (from `StateBackend::history`) the current state,
    /// with a serial above the current one, and returns it. Where the
    /// backend keeps no history: `StateError::Unsupported`.
    fn restore(&self, id: &str) -> Result<State, StateError>;
}

/// Who holds a backend's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockStatus {
    /// No one.
    Free,
    /// A synlink run.
    Held(LockInfo),
    /// Something that names no holder (an unreadable lock file, a blob lease
    /// taken by another tool or by hand).
    HeldByUnknown,
}

/// One earlier version of the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// What `restore` takes: the service's snapshot id (a timestamp).
    pub id: String,
    /// When it was taken (RFC 3339, UTC).
    pub time: String,
    /// The serial of the state it holds (`None` if unreadable).
    pub serial: Option<u64>,
    /// The lineage of the state it holds.
    pub lineage: Option<String>,
    /// The run that took it, just before its first write.
    pub holder: Option<LockInfo>,
}

/// What `push` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The serial that was replaced (0: there was no state).
    pub replaced_serial: u64,
    /// The serial written.
    pub serial: u64,
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrated {
    /// The state was copied; the source is left as it was.
    Copied {
        /// How many resources it holds.
        resources: usize,
        /// The serial written at the destination.
        serial: u64,
        /// Its lineage.
        lineage: String,
    },
    /// The destination already holds this state (same lineage and serial).
    AlreadyThere {
        /// Its serial.
        serial: u64,
    },
}

/// The state as JSON text (pretty, with a trailing newline), read without
/// taking the lock.
pub fn pull(backend: &dyn StateBackend) -> Result<String, StateError> {
    let state = backend.peek()?.ok_or_else(|| StateError::NoState {
        location: backend.describe(),
    })?;
    let mut text = serde_json::to_string_pretty(&state).expect("states always serialise");
    text.push('\n');
    Ok(text)
}

/// Reads a state file given on the command line (for `push`), with the checks
/// of the local backend (`Corrupt`, `TooNew`).
pub fn read_state_file(path: &Path) -> Result<State, StateError> {
    let bytes = std::fs::read(path).map_err(|source| StateError::Io {
        path: path.to_owned(),
        source,
    })?;
    crate::state::decode(path, &bytes)
}

/// Replaces the state under `lock` with `incoming`. Refused,
/// unless `force`, when `incoming` has an older serial than the current state
/// (`OlderSerial`) or another lineage (`OtherLineage`); an empty destination
/// takes anything. The serial written is above both, so plans saved against
/// either are refused afterwards.
pub fn push(lock: &dyn HeldLock, mut incoming: State, force: bool) -> Result<Pushed, StateError> {
    let current = lock.read()?;
    if current.serial > 0 && !force {
        refuse_other_lineage(&lock.describe(), &current, &incoming, true)?;
        if incoming.serial < current.serial {
            return Err(StateError::OlderSerial {
                location: lock.describe(),
                current: current.serial,
                incoming: incoming.serial,
            });
        }
    }
    incoming.serial = incoming.serial.max(current.serial);
    lock.write(&mut incoming)?;
    Ok(Pushed {
        replaced_serial: current.serial,
        serial: incoming.serial,
    })
}

/// Copies the state of `from` to `to`, holding both locks. Refused when `to`
/// already holds a state of another lineage (never forceable: that is `push
/// --force`'s job), or a newer serial of the same one; `NoState` when `from`
/// has none. The source is left as it was.
pub fn migrate(
    from: &dyn StateBackend,
    to: &dyn StateBackend,
    holder: &LockInfo,
    timeout: Duration,
) -> Result<Migrated, StateError> {
    let source_lock = from.lock(holder.clone(), timeout)?;
    let mut source = source_lock.read()?;
    if source.serial == 0 {
        return Err(StateError::NoState {
            location: from.describe(),
        });
    }
    let target_lock = to.lock(holder.clone(), timeout)?;
    let target = target_lock.read()?;
    let location = to.describe();
    if target.serial > 0 {
        refuse_other_lineage(&location, &target, &source, false)?;
        if target.serial == source.serial {
            return Ok(Migrated::AlreadyThere {
                serial: target.serial,
            });
        }
        if target.serial > source.serial {
            return Err(StateError::OlderSerial {
                location,
                current: target.serial,
                incoming: source.serial,
            });
        }
    }
    target_lock.write(&mut source)?;
    Ok(Migrated::Copied {
        resources: source.resources.len(),
        serial: source.serial,
        lineage: source.lineage,
    })
}

fn refuse_other_lineage(
    location: &str,
    current: &State,
    incoming: &State,
    forceable: bool,
) -> Result<(), StateError> {
    if current.lineage == incoming.lineage {
        return Ok(());
    }
    Err(StateError::OtherLineage {
        location: location.to_owned(),
        current: current.lineage.clone(),
        incoming: incoming.lineage.clone(),
        forceable,
    })
}
