//! The `synlink state` commands that manage where the state lives (`unlock`,
//! `history`, `restore`, `pull`, `push`, `migrate`), and how every command
//! that reads only the state (`state list|show|rm`, `output`) finds it: the
//! backend the spec's `state:` section names (an Azure blob), else the local
//! file. Short functions over `state::backend`; the rules of moving a state
//! (serials, lineages, locks) are there, not here, and printing goes through
//! `render`.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;
use std::time::Duration;

use crate::cli::StateArgs;
use crate::error::{Error, Exit};
use crate::invocation::{self, StateLocation};
use crate::render;
use crate::spec;
use crate::spec::variables::Overrides;
use crate::state::backend::{self, HeldLock, LockStatus, Migrated, StateBackend};
use crate::state::local::LocalStore;
use crate::state::{LockInfo, State, StateError};

/// The backend a state command opened, and the runtime its credentials fetch
/// tokens on (kept until the backend and its locks are gone).
pub struct Opened {
    /// Where the state is.
    pub location: StateLocation,
    /// The backend.
    pub backend: Box<dyn StateBackend>,
    /// Dropped last: a lease is released with a token fetched here.
    _runtime: tokio::runtime::Runtime,
}

/// A lock on an existing state, for a command that edits it.
pub struct Held {
    /// The lock (dropped before the backend it came from).
    pub lock: Box<dyn HeldLock>,
    _opened: Opened,
}

/// The runtime that fetches a blob backend's bearer tokens.
fn token_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Start(format!("cannot start the async runtime: {e}")))
}

/// The `state:` section of the spec `args` name (its variables from `--var`,
/// `--var-file` and `SYNLINK_VAR_*`); `None` without a spec file.
fn state_settings(args: &StateArgs) -> Result<Option<spec::model::StateSettings>, Error> {
    if !args.file.is_file() {
        return Ok(None);
    }
    let overrides = Overrides::collect(std::env::vars(), &args.var_files, &args.vars)
        .map_err(Error::Variables)?;
    Ok(spec::state_settings(&args.file, &overrides)?)
}

/// Opens the backend the spec names (or the local file).
pub fn open(args: &StateArgs, verbose: u8) -> Result<Opened, Error> {
    let settings = state_settings(args)?;
    let location = invocation::state_location(&args.file, settings.as_ref(), args.state.as_ref())?;
    open_at(location, verbose)
}

fn open_at(location: StateLocation, verbose: u8) -> Result<Opened, Error> {
    let runtime = token_runtime()?;
    let backend = invocation::open_backend(&location, runtime.handle(), verbose)?;
    Ok(Opened {
        location,
        backend,
        _runtime: runtime,
    })
}

fn lock_timeout(args: &StateArgs) -> Duration {
    Duration::from_secs(args.lock_timeout)
}

fn no_state(location: String) -> Error {
    Error::State(StateError::NoState { location })
}

/// The state, for a command that only reads it (`state list|show`,
/// `output`); a state that does not exist is refused (and nothing is
/// created). The local file is read under its lock, as it always was; a
/// remote state is read without taking the lease (a blob read is
/// consistent, and a lease would stop a running apply's renewals from
/// telling it apart from a reader).
/// Returns it with where it is.
pub fn read(args: &StateArgs, command: &str, verbose: u8) -> Result<(State, String), Error> {
    let opened = open(args, verbose)?;
    let location = opened.backend.describe();
    if let StateLocation::Local(path) = &opened.location {
        if !path.exists() {
            return Err(no_state(location));
        }
        let lock = opened
            .backend
            .lock(LockInfo::current(command), lock_timeout(args))?;
        return Ok((lock.read()?, location));
    }
    match opened.backend.peek()? {
        Some(state) => Ok((state, location)),
        None => Err(no_state(location)),
    }
}

/// The lock on the state, for a command that edits an existing one
/// (`state rm`); a state that does not exist is refused.
pub fn lock_existing(args: &StateArgs, command: &str, verbose: u8) -> Result<Held, Error> {
    let opened = open(args, verbose)?;
    let exists = match &opened.location {
        StateLocation::Local(path) => path.exists(),
        StateLocation::Blob(_) => opened.backend.peek()?.is_some(),
    };
    if !exists {
        return Err(no_state(opened.backend.describe()));
    }
    let lock = opened
        .backend
        .lock(LockInfo::current(command), lock_timeout(args))?;
    Ok(Held {
        lock,
        _opened: opened,
    })
}

/// What a state command says when its question was not answered `yes`.
const NOTHING_DONE: &str = "nothing was done: the answer was not 'yes'";

/// Asks for `yes` on a terminal before it would `what`; refuses without
/// `flag` elsewhere, and with `declined` when the answer is not `yes`.
pub fn confirm(skip: bool, what: &str, flag: &str, declined: &str) -> Result<(), Error> {
    if skip {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::NotApproved(format!(
            "stdin is not a terminal, so synlink cannot ask before it would {what}; pass {flag} to go ahead"
        )));
    }
    render::diagnostic::emit(&format!(
        "\nDo you want synlink to {what}?\n  Only 'yes' will be accepted: "
    ));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::NotApproved(format!("cannot read the answer: {e}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::NotApproved(declined.to_owned()))
    }
}

fn describe_status(status: &LockStatus) -> String {
    match status {
        LockStatus::Free => "no one".into(),
        LockStatus::Held(holder) => holder.describe(),
        LockStatus::HeldByUnknown => {
            "something that names no synlink holder (another tool, or a lease taken by hand)".into()
        }
    }
}

/// `synlink state unlock [--force]`: shows the holder, then breaks the lock
/// after confirmation.
pub fn unlock(args: &StateArgs, force: bool, verbose: u8) -> Result<Exit, Error> {
    let opened = open(args, verbose)?;
    let location = opened.backend.describe();
    let status = opened.backend.holder()?;
    if status == LockStatus::Free {
        render::summary::stdout(&format!("the state at {location} is not locked\n"));
        return Ok(Exit::Success);
    }
    render::summary::stdout(&format!(
        "the state at {location} is locked by {}\n",
        describe_status(&status)
    ));
    if let StateLocation::Local(_) = opened.location {
        // The local lock is never broken by hand: say why before asking anything.
        opened.backend.force_unlock()?;
    }
    confirm(
        force,
        "break this lock (the holder's next state write is refused)",
        "--force",
        NOTHING_DONE,
    )?;
    let was = opened.backend.force_unlock()?;
    render::diagnostic::info_line(&match was {
        LockStatus::Free => format!("the lock on {location} was freed in the meantime; nothing was broken"),
        other => format!(
            "broke the lock on {location} held by {}; that run's next state write is refused, and the next run takes the lock",
            describe_status(&other)
        ),
    });
    Ok(Exit::Success)
}

/// `synlink state history`: the snapshots of a remote state, oldest first.
pub fn history(args: &StateArgs, verbose: u8) -> Result<Exit, Error> {
    let opened = open(args, verbose)?;
    let snapshots = opened.backend.history()?;
    if snapshots.is_empty() {
        render::diagnostic::info_line(&format!(
            "the state at {} has no snapshots yet: one is kept before each run's first write",
            opened.backend.describe()
        ));
        return Ok(Exit::Success);
    }
    let rows: Vec<[String; 4]> = snapshots
        .iter()
        .map(|s| {
            [
                s.id.clone(),
                s.time.clone(),
                s.serial.map_or_else(|| "?".into(), |n| n.to_string()),
                s.holder
                    .as_ref()
                    .map_or_else(|| "?".into(), LockInfo::describe),
            ]
        })
        .collect();
    let header = [
        "SNAPSHOT".to_owned(),
        "TIME".to_owned(),
        "SERIAL".to_owned(),
        "TAKEN BEFORE THE FIRST WRITE OF".to_owned(),
    ];
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    render::summary::stdout(&text);
    Ok(Exit::Success)
}

/// `synlink state restore SNAPSHOT`: makes a snapshot the current state,
/// under the lock, after confirmation.
pub fn restore(
    args: &StateArgs,
    snapshot: &str,
    auto_approve: bool,
    verbose: u8,
) -> Result<Exit, Error> {
    let opened = open(args, verbose)?;
    let location = opened.backend.describe();
    // Also refuses a backend that keeps no history, before anything is locked.
    let known = opened.backend.history()?;
    let Some(chosen) = known.iter().find(|s| s.id == snapshot) else {
        return Err(Error::State(StateError::SnapshotNotFound {
            location,
            snapshot: snapshot.to_owned(),
        }));
    };
    let lock = opened.backend.lock(
        LockInfo::current("synlink state restore"),
        lock_timeout(args),
    )?;
    let current = lock.read()?;
    let serial = |s: Option<u64>| s.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    render::diagnostic::info_line(&format!(
        "the state at {location} is at serial {} ({} resources); snapshot {snapshot} holds serial {}, taken {}",
        current.serial,
        current.resources.len(),
        serial(chosen.serial),
        chosen.time
    ));
    confirm(
        auto_approve,
        "make that snapshot the current state (plans saved before are refused afterwards)",
        "--auto-approve",
        NOTHING_DONE,
    )?;
    let restored = lock.restore(snapshot)?;
    render::diagnostic::info_line(&format!(
        "restored snapshot {snapshot}: the state at {location} now holds its {} resources, as serial {} (the version it replaced is kept as a snapshot)",
        restored.resources.len(),
        restored.serial
    ));
    Ok(Exit::Success)
}

/// `synlink state pull`: the state as JSON on stdout.
pub fn pull(args: &StateArgs, verbose: u8) -> Result<Exit, Error> {
    let opened = open(args, verbose)?;
    render::summary::stdout(&backend::pull(&*opened.backend)?);
    Ok(Exit::Success)
}

/// `synlink state push FILE [--force]`: replaces the state under the lock.
pub fn push(args: &StateArgs, file: &Path, force: bool, verbose: u8) -> Result<Exit, Error> {
    let incoming = backend::read_state_file(file)?;
    let opened = open(args, verbose)?;
    let lock = opened
        .backend
        .lock(LockInfo::current("synlink state push"), lock_timeout(args))?;
    let pushed = backend::push(&*lock, incoming, force)?;
    render::diagnostic::info_line(&format!(
        "pushed {}: the state at {} is now serial {} (it was serial {})",
        file.display(),
        lock.describe(),
        pushed.serial,
        pushed.replaced_serial
    ));
    Ok(Exit::Success)
}

/// `synlink state migrate`: copies the local state to the remote one the
/// spec names; the local file is left as it was.
pub fn migrate(args: &StateArgs, verbose: u8) -> Result<Exit, Error> {
    let Some(settings) = state_settings(args)? else {
        return Err(Error::NoRemoteState {
            spec: args.file.clone(),
        });
    };
    let source_path = invocation::state_path(&args.file, args.state.as_ref());
    if !source_path.exists() {
        return Err(no_state(source_path.display().to_string()));
    }
    let source = LocalStore::new(source_path.clone());
    let target = open_at(
        invocation::state_location(&args.file, Some(&settings), None)?,
        verbose,
    )?;
    let to = target.backend.describe();
    // Copying is a write, so a state migrated before is one serial above the
    // file it came from: the same lineage and resources mean it is there.
    let local = source.peek()?;
    let remote = target.backend.peek()?;
    if let (Some(local), Some(remote)) = (&local, &remote) {
        if local.lineage == remote.lineage && local.resources == remote.resources {
            render::diagnostic::info_line(&format!(
                "{to} already holds the state of {} (serial {}, the copy of serial {}); nothing was copied",
                source_path.display(),
                remote.serial,
                local.serial
            ));
            return Ok(Exit::Success);
        }
    }
    let moved = match backend::migrate(
        &source,
        &*target.backend,
        &LockInfo::current("synlink state migrate"),
        lock_timeout(args),
    ) {
        Err(StateError::OlderSerial {
            location,
            current,
            incoming,
        }) => {
            return Err(Error::RemoteNewer {
                location,
                remote: current,
                local: incoming,
            })
        }
        other => other?,
    };
    render::diagnostic::info_line(&match moved {
        Migrated::Copied {
            resources,
            serial,
            lineage,
        } => format!(
            "copied the state of {} ({resources} resources, serial {serial}, lineage {lineage}) to {to}; the local file is left as it was: once `synlink state list -f {}` shows what you expect, remove it",
            source_path.display(),
            args.file.display()
        ),
        Migrated::AlreadyThere { serial } => format!(
            "{to} already holds this state (serial {serial}); nothing was copied"
        ),
    });
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::describe_status;
    use crate::state::backend::LockStatus;
    use crate::state::LockInfo;

    #[test]
    fn a_holder_is_named_and_an_unknown_one_said_so() {
        let holder = LockInfo::current("synlink apply");
        assert!(describe_status(&LockStatus::Held(holder)).starts_with("synlink apply ("));
        assert!(describe_status(&LockStatus::HeldByUnknown).contains("no synlink holder"));
    }
}
