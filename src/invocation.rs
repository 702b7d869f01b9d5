//! What a command that talks to Azure opens once, in this order: the spec and
//! its graph, the async runtime, the state backend the spec names (the local
//! file, or an Azure blob), its lock and the state, and the connection (the
//! one client, and the in-process emulator for the local cloud). Commands are short functions over an [`Invocation`]; nothing here
//! decides what to plan or apply.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{CloudArgs, SpecArgs};
use crate::cloud::auth::{self, TokenSource};
use crate::cloud::client::{self, Client};
use crate::error::Error;
use crate::graph::Graph;
use crate::render;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::StateSettings;
use crate::spec::model::{Cloud, CloudName};
use crate::spec::variables::Overrides;
use crate::spec::{self, LoadedSpec};
use crate::state::backend::{HeldLock, StateBackend};
use crate::state::blob::{BlobAuth, BlobConfig, BlobStore};
use crate::state::local::{LocalStore, StateLock};
use crate::state::{LockInfo, State};
use synlink_emulator::{Config, Emulator, Faults};

/// Loads a spec and its graph; the spec's warnings are shown.
pub fn load(args: &SpecArgs, path: &Path, color: bool) -> Result<(LoadedSpec, Graph), Error> {
    let overrides = Overrides::collect(std::env::vars(), &args.var_files, &args.vars)
        .map_err(Error::Variables)?;
    let spec = spec::load(path, &overrides)?;
    if !spec.warnings.is_empty() {
        render::diagnostic::emit(&render::diagnostic::render(
            &spec.file,
            &spec.warnings,
            color,
        ));
    }
    match Graph::build(&spec) {
        Ok(graph) => Ok((spec, graph)),
        Err(cycles) => Err(Error::Cycles {
            file: spec.file.clone(),
            cycles,
        }),
    }
}

/// Every problem of a spec, for the machine-readable `validate` formats: the
/// file they are in (`None` for command-line variables) and the diagnostics,
/// warnings included.
pub fn diagnostics<'a>(args: &SpecArgs, path: &'a Path) -> (Option<&'a Path>, Vec<Diagnostic>) {
    let overrides = match Overrides::collect(std::env::vars(), &args.var_files, &args.vars) {
        Ok(o) => o,
        Err(diags) => return (None, diags),
    };
    match spec::load(path, &overrides) {
        Err(e) => (Some(path), e.diagnostics()),
        Ok(spec) => match Graph::build(&spec) {
            Ok(_) => (Some(path), spec.warnings),
            Err(cycles) => (
                Some(path),
                spec.warnings.into_iter().chain(cycles).collect(),
            ),
        },
    }
}

/// The state file: `--state`, else `.synlink/state.json` beside the spec.
pub fn state_path(spec_path: &Path, state: Option<&PathBuf>) -> PathBuf {
    state
        .cloned()
        .unwrap_or_else(|| spec::data_dir(spec_path).join("state.json"))
}

/// Takes the state lock, waiting up to `timeout_secs`. A lock left behind by a
/// process of this host that is gone (a crash, a SIGKILL) is taken over: the
/// store guarantees a single taker.
pub fn lock_state(path: PathBuf, command: &str, timeout_secs: u64) -> Result<StateLock, Error> {
    Ok(LocalStore::new(path).lock(
        LockInfo::current(command),
        Duration::from_secs(timeout_secs),
        true,
    )?)
}

/// Where the state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// A local file.
    Local(PathBuf),
    /// An Azure blob (the spec's `state.azure_blob`).
    Blob(BlobConfig),
}

/// Where the state of the spec at `spec_path` is: its `state` section, else
/// the local file (`--state`, else `.synlink/state.json` beside the spec).
/// `--state` with a spec that names a remote state is refused: it would
/// split the team's state in two.
pub fn state_location(
    spec_path: &Path,
    settings: Option<&StateSettings>,
    state_flag: Option<&PathBuf>,
) -> Result<StateLocation, Error> {
    match (settings, state_flag) {
        (Some(s), Some(_)) => Err(Error::StateFlagConflict {
            spec: spec_path.to_owned(),
            container: s.azure_blob.container.clone(),
            key: s.azure_blob.key.clone(),
        }),
        (Some(s), None) => Ok(StateLocation::Blob(BlobConfig {
            account_url: s.azure_blob.account_url.clone(),
            container: s.azure_blob.container.clone(),
            key: s.azure_blob.key.clone(),
        })),
        (None, flag) => Ok(StateLocation::Local(state_path(spec_path, flag))),
    }
}

/// The credential chain of this environment, asking for tokens over `http`.
fn credential_chain(http: reqwest::Client) -> Arc<dyn TokenSource> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let transport = azure_core::http::Transport::new(Arc::new(auth::ReqwestTransport(http)));
    Arc::new(auth::Chain::from_env(&env, Some(&transport)))
}

/// Opens the backend at `location`. A blob is authorised by
/// `SYNLINK_STATE_SAS` if set, else by bearer tokens from the credential
/// chain, fetched on `runtime` (which must outlive the backend).
pub fn open_backend(
    location: &StateLocation,
    runtime: &tokio::runtime::Handle,
    verbose: u8,
) -> Result<Box<dyn StateBackend>, Error> {
    match location {
        StateLocation::Local(path) => Ok(Box::new(LocalStore::new(path.clone()))),
        StateLocation::Blob(config) => {
            let tokens = credential_chain(client::http_client(Duration::from_secs(60)));
            let auth = BlobAuth::from_env_or(tokens, runtime.clone())?;
            let store = BlobStore::new(config, auth.clone())?;
            if verbose > 0 {
                let how = match auth {
                    BlobAuth::Sas(_) => "a SAS from SYNLINK_STATE_SAS",
                    BlobAuth::Tokens(_) => "bearer tokens from the credential chain",
                };
                render::diagnostic::info_line(&format!(
                    "state: {} (authorised by {how})",
                    store.location()
                ));
            }
            Ok(Box::new(store))
        }
    }
}

/// A connection to the cloud the spec targets: the client, and the in-process
/// emulator when the target is the local cloud.
pub struct Connection {
    /// The one client.
    pub client: Arc<Client>,
    local: Option<Arc<Emulator>>,
}

impl Connection {
    /// Whether this connection runs the local cloud (the in-process emulator).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// Stops the local cloud, if this connection started one (saving its data).
    pub async fn close(self) -> Result<(), Error> {
        drop(self.client);
        if let Some(e) = self.local.and_then(|e| Arc::try_unwrap(e).ok()) {
            e.shutdown().await.map_err(|err| {
                Error::Start(format!("the local cloud did not stop cleanly: {err}"))
            })?;
        }
        Ok(())
    }
}

fn logger(verbose: u8) -> Option<client::Logger> {
    (verbose > 0)
        .then(|| Arc::new(|line: &str| render::diagnostic::info_line(line)) as client::Logger)
}

/// Resolves where to talk to: `--arm-endpoint`/`SYNLINK_ARM_ENDPOINT`, then
/// `--cloud`, then the spec's `cloud`. The local cloud starts the emulator in
/// this process, with its data beside the spec. Every endpoint gets the same
/// client settings: the engine never knows whether it talks to Azure.
pub async fn connect(
    spec: &LoadedSpec,
    args: &CloudArgs,
    verbose: u8,
) -> Result<Connection, Error> {
    connect_at(&spec.cloud, &spec.file.path, args, verbose).await
}

/// `connect` for a command without a spec to read (`discover`): the cloud
/// setting, and the spec path whose directory keeps the local cloud's data.
pub async fn connect_at(
    cloud: &Cloud,
    spec_path: &Path,
    args: &CloudArgs,
    verbose: u8,
) -> Result<Connection, Error> {
    let local = match (&args.arm_endpoint, args.cloud.as_deref(), cloud) {
        (None, Some(c), _) => c == "local",
        (None, None, Cloud::Named(CloudName::Local)) => true,
        _ => false,
    };
    let http = client::http_client(Duration::from_secs(60));
    let (endpoint, tokens, emulator): (String, Arc<dyn TokenSource>, _) = if local {
        let dir = spec::data_dir(spec_path).join("local-cloud");
        // The local cloud is for trying things: long-running operations take a
        // fraction of a second rather than Azure's minutes: Azure's pacing (its
        // operations and the intervals they announce) shrunk a hundred times.
        let config = Config {
            data_dir: Some(dir.clone()),
            faults: Faults {
                lro_ms: 30_000,
                time_scale: 0.01,
                ..Faults::default()
            },
            ..Config::default()
        };
        let emu = Emulator::start(config).await.map_err(|e| {
            Error::Start(format!(
                "cannot start the local cloud in {}: {e}",
                dir.display()
            ))
        })?;
        let emu = Arc::new(emu);
        let minter = emu.clone();
        let tokens: Arc<dyn TokenSource> = Arc::new(auth::StaticTokens::new(
            "the local cloud's bootstrap principal",
            move |scope| {
                minter.mint_token(
                    &minter.bootstrap_principal(),
                    scope.trim_end_matches("/.default"),
                )
            },
        ));
        (emu.url(), tokens, Some(emu))
    } else {
        let endpoint = args
            .arm_endpoint
            .clone()
            .or_else(|| match cloud {
                Cloud::Endpoint(e) if args.cloud.is_none() => Some(e.arm_endpoint.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "https://management.azure.com".to_owned());
        (endpoint, credential_chain(http.clone()), None)
    };
    let mut options = client::Options::new(&endpoint);
    options.logger = logger(verbose);
    options.max_in_flight = usize::try_from(args.parallelism).ok();
    Ok(Connection {
        client: Arc::new(Client::with_http(http, tokens, options)),
        local: emulator,
    })
}

/// Everything a command that talks to Azure opens, once.
pub struct Invocation {
    /// The spec.
    pub spec: Arc<LoadedSpec>,
    /// Its dependency graph.
    pub graph: Graph,
    /// The state as read under the lock.
    pub state: State,
    /// The lock, held until the invocation ends (or handed to the state
    /// writer); a blob lease is released when it is dropped.
    pub lock: Box<dyn HeldLock>,
    /// The async runtime.
    pub runtime: tokio::runtime::Runtime,
    /// The connection.
    pub conn: Connection,
}

impl Invocation {
    /// Loads the spec at `path`, locks and reads the state, starts the runtime
    /// and connects.
    pub fn open(
        spec_args: &SpecArgs,
        path: &Path,
        cloud: &CloudArgs,
        command: &str,
        verbose: u8,
        color: bool,
    ) -> Result<Invocation, Error> {
        let (spec, graph) = load(spec_args, path, color)?;
        let runtime = tokio::runtime::Runtime::new()
            .map_err(|e| Error::Start(format!("cannot start the async runtime: {e}")))?;
        let location = state_location(&spec.file.path, spec.state.as_ref(), cloud.state.as_ref())?;
        let backend = open_backend(&location, runtime.handle(), verbose)?;
        let lock = backend.lock(
            LockInfo::current(command),
            Duration::from_secs(cloud.lock_timeout),
        )?;
        let state = lock.read()?;
        let conn = runtime.block_on(connect(&spec, cloud, verbose))?;
        Ok(Invocation {
            spec: Arc::new(spec),
            graph,
            state,
            lock,
            runtime,
            conn,
        })
    }

    /// Ends the invocation: stops the local cloud, if one was started. The
    /// command's own result comes first; a failure to stop only when it succeeded.
    pub fn close<T>(
        runtime: &tokio::runtime::Runtime,
        conn: Connection,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        let closed = runtime.block_on(conn.close());
        let out = result?;
        closed?;
        Ok(out)
    }
}
