//! The one top-level error of the binary: every failure a command can end
//! with, as data from the layer it came from. Each variant knows its exit code
//! and its hint; `render::error` turns it into text in one place, and `app`
//! prints it once. Errors that already carry their own detail (spec
//! diagnostics, plan problems) keep it as data so the renderer can lay it out.

use std::path::PathBuf;

use crate::cloud::error::CloudError;
use crate::discover::DiscoverError;
use crate::plan::diff::PlanError;
use crate::plan::file::PlanFileError;
use crate::plan::import::ImportError;
use crate::plan::verify::Stale;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::source::SourceFile;
use crate::spec::SpecError;
use crate::state::StateError;

/// How a command ends, when it does not end with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit 0.
    Success,
    /// Exit 2: `--detailed-exitcode` and the plan has changes.
    Changes,
    /// Exit 1, with the reason already shown (an apply's summary lists its failures).
    Failed,
    /// Exit 130: Ctrl-C stopped an apply (its state saved).
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Changes => 2,
            Exit::Interrupted => 130,
        }
    }
}

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec could not be read or is invalid (every problem kept).
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// `--var`, `--var-file` or `SYNLINK_VAR_*` values are wrong.
    #[error("invalid variables")]
    Variables(Vec<Diagnostic>),
    /// The dependency graph has cycles.
    #[error("dependency cycles")]
    Cycles {
        /// The spec, for snippets.
        file: SourceFile,
        /// One diagnostic per cycle.
        cycles: Vec<Diagnostic>,
    },
    /// The state could not be locked, read or written.
    #[error(transparent)]
    State(#[from] StateError),
    /// Azure could not be read, so nothing was planned.
    #[error("could not read what Azure holds; nothing was planned")]
    Refresh(Vec<CloudError>),
    /// A call to Azure failed outside a plan or an apply.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The plan has problems (every one kept); nothing was written.
    #[error("the plan failed: {} problem{}; nothing was written", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Plan(Vec<PlanError>),
    /// A plan file could not be read or written.
    #[error("{}: {source}", path.display())]
    PlanFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PlanFileError,
    },
    /// A plan could not be saved.
    #[error("{}: cannot save the plan: {source}", path.display())]
    SavePlan {
        /// The file.
        path: PathBuf,
        /// Why.
        source: PlanFileError,
    },
    /// A saved plan may no longer be applied.
    #[error("{}: the saved plan cannot be applied: {why}", path.display())]
    StalePlan {
        /// The file.
        path: PathBuf,
        /// Why.
        why: Stale,
    },
    /// `synlink import` refused or failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A text that is not an address.
    #[error("`{0}` is not an address (section.key)")]
    NotAnAddress(String),
    /// An address the spec does not have.
    #[error("`{address}` is not in {}", spec.display())]
    NotInSpec {
        /// The address.
        address: String,
        /// The spec.
        spec: PathBuf,
    },
    /// An address the state does not have.
    #[error("`{address}` is not in the state ({})", state.display())]
    NotInState {
        /// The address.
        address: String,
        /// The state file.
        state: PathBuf,
    },
    /// `synlink discover` failed.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// A file that discover would write is already there.
    #[error("{} already exists; discover writes a new spec and state and never overwrites one", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// `synlink state mv` cannot move an address.
    #[error("cannot move `{from}` to `{to}`: {why}")]
    StateMove {
        /// The address recorded.
        from: String,
        /// The address asked for.
        to: String,
        /// Why not.
        why: String,
    },
    /// Approval was refused or could not be asked for.
    #[error("{0}")]
    NotApproved(String),
    /// Flags that do not go together, or not with this cloud.
    #[error("{0}")]
    Usage(String),
    /// The local cloud or the async runtime could not start.
    #[error("{0}")]
    Start(String),
    /// The standalone emulator failed.
    #[error(transparent)]
    Emulator(#[from] synlink_emulator::EmulatorError),
    /// `--state` names a local file, but the spec keeps its state remotely.
    #[error("--state names a local state file, but {} keeps its state in the blob `{key}` of the container `{container}` (its `state:` section)", spec.display())]
    StateFlagConflict {
        /// The spec.
        spec: PathBuf,
        /// Its state container.
        container: String,
        /// Its state blob.
        key: String,
    },
    /// `state migrate` found the remote state newer than the local file.
    #[error("the state at {location} (serial {remote}) is newer than the local file (serial {local}): it was written since; nothing was copied")]
    RemoteNewer {
        /// The remote state.
        location: String,
        /// Its serial.
        remote: u64,
        /// The local file's.
        local: u64,
    },
    /// A command that needs a remote state, on a spec that names none.
    #[error("{} names no remote state: it has no `state: {{ azure_blob: {{ account_url, container, key }} }}` section", spec.display())]
    NoRemoteState {
        /// The spec.
        spec: PathBuf,
    },
}

impl Error {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        use StateError as S;
        match self {
            Error::State(S::Locked { .. }) => Some("wait for that run to finish, or pass --lock-timeout SECONDS to wait for it".into()),
            Error::State(S::StaleLock { .. } | S::UnreadableLock { .. }) => Some("no synlink process holds it any more; if that is so, delete the lock file named above and run again".into()),
            Error::State(S::Corrupt { .. }) => Some("restore the state from a backup or version control; synlink never writes a partial state file".into()),
            Error::State(S::TooNew { .. }) => Some("use the synlink version that wrote it, or a newer one".into()),
            Error::State(S::NoState { location }) if location.starts_with("http") => Some("nothing is managed there yet: run `synlink apply` first, or move a local state there with `synlink state migrate`".into()),
            Error::State(S::LockedByUnknown { .. }) => Some("`synlink state unlock` shows the lease and breaks it, once you know no run of yours holds it".into()),
            Error::State(S::LeaseLost { .. }) => Some("`synlink state unlock` shows who holds the lock now; what this run changed in Azure but could not record is adopted by the next run".into()),
            Error::State(S::RemoteChanged { .. }) => Some("`synlink state history` lists the earlier versions and `synlink state restore SNAPSHOT` brings one back".into()),
            Error::State(S::Remote { status: Some(401 | 403), .. }) => Some("the caller needs the role Storage Blob Data Contributor on the state's container, or a SAS in SYNLINK_STATE_SAS that allows read, add, create, write, delete and list".into()),
            Error::State(S::Remote { code: Some(code), .. }) if code == "ContainerNotFound" => Some("create the container first (synlink does not create it): `az storage container create --name CONTAINER --account-name ACCOUNT --auth-mode login`".into()),
            Error::StateFlagConflict { .. } => Some("drop --state to use the spec's remote state; to move a local state there, run `synlink state migrate --state PATH`".into()),
            Error::RemoteNewer { .. } => Some("the remote state is the team's: keep it; `synlink state push FILE --force` replaces it with a file if you must".into()),
            Error::NoRemoteState { .. } => Some("add a `state: { azure_blob: {...} }` section to the spec first".into()),
            Error::State(S::NoState { .. }) => Some("nothing is managed there yet: run `synlink apply` first, or name the spec with -f (its state is .synlink/state.json beside it) or the state with --state".into()),
            Error::State(S::OddLock { .. }) => Some("remove it (no synlink run holds it) and run again".into()),
            Error::State(S::SharedId { .. }) => Some("remove the wrong address with `synlink state rm ADDR`, then `synlink import` it with its own id".into()),
            Error::Cloud(e) => e.hint().map(str::to_owned),
            Error::StalePlan { .. } => Some("run `synlink plan --out PLANFILE` again and review the new plan".into()),
            Error::Import(ImportError::WrongId { .. } | ImportError::Mismatch { .. }) => Some("import the resource the spec describes at that address, or change the spec to describe this one".into()),
            Error::Exists { .. } => Some("pass another path with --out (and --state), or move the file away".into()),
            Error::Import(ImportError::Taken { .. }) => Some("one Azure resource belongs to one address; `synlink state rm` the other address first if it is wrong".into()),
            _ => None,
        }
    }
}
