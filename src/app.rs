//! One function per command: builds the live objects once and wires the layers.

use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, CloudArgs, Command, PlanArgs, PlanFormat, SpecArgs};
use crate::cloud::auth::{self, TokenSource};
use crate::cloud::client::{self, Client};
use crate::emulator;
use crate::graph::Graph;
use crate::plan::diff::{DiffOptions, PlanError};
use crate::plan::{Plan, PlanMode};
use crate::render;
use crate::spec::model::{Cloud, CloudName};
use crate::spec::variables::Overrides;
use crate::spec::{self, LoadedSpec, SpecError};
use crate::state::local::LocalStore;
use crate::state::LockInfo;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let color = render::stderr_color(cli.no_color);
    match cli.command {
        Command::Validate(args) => validate(&args, color),
        Command::Graph(args) => graph(&args, color),
        Command::Plan(args) => plan(&args, color, cli.verbose),
        Command::Emulator(args) => run_emulator(args),
    }
}

/// Loads the spec and its graph, rendering every problem on failure.
fn load(args: &SpecArgs, color: bool) -> Option<(LoadedSpec, Graph)> {
    let overrides = match Overrides::collect(std::env::vars(), &args.var_files, &args.vars) {
        Ok(o) => o,
        Err(diags) => {
            render::diagnostic::emit(&render::diagnostic::render_plain(&diags));
            return None;
        }
    };
    let spec = match spec::load(&args.file, &overrides) {
        Ok(spec) => spec,
        Err(SpecError::Source(e)) => {
            render::diagnostic::error_line(&e.to_string());
            return None;
        }
        Err(SpecError::Invalid { file, diagnostics }) => {
            // A file that is not a spec at all gets its one-line cause.
            if let [only] = diagnostics.as_slice() {
                if only.address.is_none()
                    && (only.message.starts_with("invalid YAML")
                        || only.message.starts_with("the spec "))
                {
                    render::diagnostic::error_line(&render::diagnostic::header(&file, only));
                    return None;
                }
            }
            render::diagnostic::emit(&render::diagnostic::render(&file, &diagnostics, color));
            return None;
        }
    };
    if !spec.warnings.is_empty() {
        render::diagnostic::emit(&render::diagnostic::render(
            &spec.file,
            &spec.warnings,
            color,
        ));
    }
    match Graph::build(&spec) {
        Ok(graph) => Some((spec, graph)),
        Err(cycles) => {
            render::diagnostic::emit(&render::diagnostic::render(&spec.file, &cycles, color));
            None
        }
    }
}

fn validate(args: &SpecArgs, color: bool) -> ExitCode {
    match load(args, color) {
        Some((spec, graph)) => {
            render::summary::stdout(&render::summary::validate_summary(&spec, &graph));
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

fn graph(args: &SpecArgs, color: bool) -> ExitCode {
    match load(args, color) {
        Some((spec, graph)) => {
            render::summary::stdout(&graph.to_dot(&spec));
            ExitCode::SUCCESS
        }
        None => ExitCode::FAILURE,
    }
}

/// A connection to the cloud the spec targets: the client, and the in-process
/// emulator when the target is the local cloud.
struct Connection {
    client: Arc<Client>,
    local: Option<Arc<emulator::Emulator>>,
}

impl Connection {
    async fn close(self) {
        drop(self.client);
        if let Some(e) = self.local.and_then(|e| Arc::try_unwrap(e).ok()) {
            if let Err(err) = e.shutdown().await {
                render::diagnostic::error_line(&format!(
                    "the local cloud did not stop cleanly: {err}"
                ));
            }
        }
    }
}

fn logger(verbose: u8) -> Option<client::Logger> {
    (verbose > 0)
        .then(|| Arc::new(|line: &str| render::diagnostic::info_line(line)) as client::Logger)
}

/// Resolves where to talk to: `--arm-endpoint`/`SYNLINK_ARM_ENDPOINT`, then
/// `--cloud`, then the spec's `cloud`. The local cloud starts the emulator in
/// this process, with its data beside the spec.
async fn connect(spec: &LoadedSpec, args: &CloudArgs, verbose: u8) -> Result<Connection, String> {
    let local = match (&args.arm_endpoint, args.cloud.as_deref(), &spec.cloud) {
        (None, Some(c), _) => c == "local",
        (None, None, Cloud::Named(CloudName::Local)) => true,
        _ => false,
    };
    let options_endpoint = args.arm_endpoint.clone().or_else(|| match &spec.cloud {
        Cloud::Endpoint(e) if args.cloud.is_none() => Some(e.arm_endpoint.clone()),
        _ => None,
    });
    let http = client::http_client(Duration::from_secs(60));
    if local {
        let dir = spec::data_dir(&spec.file.path).join("local-cloud");
        let config = emulator::Config {
            data_dir: Some(dir.clone()),
            ..emulator::Config::default()
        };
        let emu = emulator::Emulator::start(config)
            .await
            .map_err(|e| format!("cannot start the local cloud in {}: {e}", dir.display()))?;
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
        let mut options = client::Options::new(&emu.url());
        options.poll_interval = (Duration::from_millis(20), Duration::from_secs(2));
        options.backoff = crate::cloud::retry::Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_secs(5),
        };
        options.logger = logger(verbose);
        let client = Client::with_http(http, tokens, options);
        return Ok(Connection {
            client: Arc::new(client),
            local: Some(emu),
        });
    }
    let endpoint = options_endpoint.unwrap_or_else(|| "https://management.azure.com".to_owned());
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let transport =
        azure_core::http::Transport::new(Arc::new(auth::ReqwestTransport(http.clone())));
    let tokens: Arc<dyn TokenSource> = Arc::new(auth::Chain::from_env(&env, Some(&transport)));
    let mut options = client::Options::new(&endpoint);
    if endpoint.starts_with("http://127.") || endpoint.starts_with("http://localhost") {
        // A local emulator answers in milliseconds: poll it accordingly.
        options.poll_interval = (Duration::from_millis(20), Duration::from_secs(2));
    }
    options.logger = logger(verbose);
    Ok(Connection {
        client: Arc::new(Client::with_http(http, tokens, options)),
        local: None,
    })
}

/// The state file: `--state`, else `.synlink/state.json` beside the spec.
fn state_store(spec_path: &std::path::Path, args: &CloudArgs) -> LocalStore {
    LocalStore::new(
        args.state
            .clone()
            .unwrap_or_else(|| spec::data_dir(spec_path).join("state.json")),
    )
}

/// A hash of the spec text and the variables given from outside.
fn spec_hash(spec: &LoadedSpec, args: &SpecArgs) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(spec.file.text.as_bytes());
    for v in &args.vars {
        h.update(b"\0var\0");
        h.update(v.as_bytes());
    }
    for f in &args.var_files {
        h.update(b"\0file\0");
        h.update(std::fs::read(f).unwrap_or_default());
    }
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("SYNLINK_VAR_"))
        .collect();
    env.sort();
    for (k, v) in env {
        h.update(format!("\0env\0{k}={v}").as_bytes());
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn render_plan_errors(errors: &[PlanError]) {
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!("error: {}: {}\n", e.address, e.message));
        if let Some(h) = &e.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    }
    out.push_str(&format!(
        "error: the plan failed: {} problem{}; nothing was written\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    ));
    render::diagnostic::emit(&out);
}

/// Everything `plan` computes, for `plan` itself and for `apply`.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Ids, outputs and desired properties per address.
    pub known: indexmap::IndexMap<crate::addr::Address, crate::plan::diff::Known>,
}

async fn make_plan(
    spec: &LoadedSpec,
    graph: &Graph,
    args: &PlanArgs,
    conn: &Connection,
    state: &crate::state::State,
    verbose: u8,
) -> Result<Planned, ExitCode> {
    let observed = crate::plan::refresh::refresh(
        conn.client.clone(),
        spec,
        state,
        usize::try_from(args.cloud.parallelism).unwrap_or(10),
    )
    .await;
    let mut observed = match observed {
        Ok(o) => o,
        Err(errors) => {
            for e in &errors {
                render::diagnostic::error_line(&e.to_string());
            }
            render::diagnostic::error_line("could not read what Azure holds; nothing was planned");
            return Err(ExitCode::FAILURE);
        }
    };
    if verbose > 0 {
        if let Some(name) = conn.client.tokens().answered_by() {
            render::diagnostic::info_line(&format!("credential: {name}"));
        }
    }
    let mode = if args.destroy {
        PlanMode::Destroy
    } else if args.refresh_only {
        PlanMode::RefreshOnly
    } else {
        PlanMode::Normal
    };
    let options = DiffOptions {
        mode,
        targets: args.target.clone(),
        spec_hash: spec_hash(spec, &args.spec),
    };
    let diff = crate::plan::diff::diff(spec, graph, &observed, state, &options);
    let mut errors = diff.errors;
    // Preflight: the caller's rights where the plan writes.
    let link_targets = |a: &crate::addr::Address| -> Option<String> {
        let r = spec.resources.get(a)?;
        let crate::spec::Body::Link(l) = &r.body else {
            return None;
        };
        diff.known
            .get(&crate::addr::Address::new(
                crate::addr::ResourceKind::SynapseWorkspace,
                &l.synapse_workspace,
            ))
            .map(|k| k.id.clone())
    };
    let (for_links, for_grants) =
        crate::plan::preflight::workspaces_to_check(&diff.plan, &diff.known, &link_targets);
    let ids: Vec<String> = for_links
        .union(&for_grants)
        .filter(|id| observed.resources.contains_key(*id))
        .cloned()
        .collect();
    if !ids.is_empty() {
        let names: std::collections::HashMap<String, String> = diff
            .known
            .iter()
            .filter(|(a, _)| a.kind == crate::addr::ResourceKind::SynapseWorkspace)
            .map(|(a, k)| (crate::cloud::resources::fold_id(&k.id), a.to_string()))
            .collect();
        if let Err(e) =
            crate::plan::refresh::read_permissions(conn.client.clone(), &ids, &mut observed).await
        {
            errors.push(PlanError {
                address: "preflight".into(),
                message: format!("cannot read your permissions: {e}"),
                hint: None,
            });
        }
        let caller = conn
            .client
            .tokens()
            .token(auth::ARM_SCOPE)
            .await
            .ok()
            .and_then(|t| auth::object_id_of(&t.secret));
        errors.extend(crate::plan::preflight::check(
            &observed,
            &for_links,
            &for_grants,
            caller.as_deref(),
            &names,
        ));
    }
    if !errors.is_empty() {
        render_plan_errors(&errors);
        return Err(ExitCode::FAILURE);
    }
    Ok(Planned {
        plan: diff.plan,
        known: diff.known,
    })
}

fn plan(args: &PlanArgs, color: bool, verbose: u8) -> ExitCode {
    let Some((spec, graph)) = load(&args.spec, color) else {
        return ExitCode::FAILURE;
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            render::diagnostic::error_line(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let store = state_store(&spec.file.path, &args.cloud);
    let lock = match store.lock(
        LockInfo::current("synlink plan"),
        Duration::from_secs(args.cloud.lock_timeout),
        false,
    ) {
        Ok(l) => l,
        Err(e) => {
            render::diagnostic::error_line(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let state = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            render::diagnostic::error_line(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let conn = match connect(&spec, &args.cloud, verbose).await {
            Ok(c) => c,
            Err(e) => {
                render::diagnostic::error_line(&e);
                return ExitCode::FAILURE;
            }
        };
        let planned = make_plan(&spec, &graph, args, &conn, &state, verbose).await;
        if verbose > 0 {
            let s = &conn.client.stats;
            render::diagnostic::info_line(&format!(
                "{} requests, {} retries, {} throttled",
                s.requests.load(std::sync::atomic::Ordering::Relaxed),
                s.retries.load(std::sync::atomic::Ordering::Relaxed),
                s.throttled.load(std::sync::atomic::Ordering::Relaxed)
            ));
        }
        conn.close().await;
        drop(lock);
        let planned = match planned {
            Ok(p) => p,
            Err(code) => return code,
        };
        let out_hint = args.out.as_ref().map(|p| p.display().to_string());
        let text = match args.format {
            PlanFormat::Text => render::plan::text(
                &planned.plan,
                render::stdout_color(args.spec.file.as_os_str().is_empty() && color),
            ),
            PlanFormat::Json => render::plan::json(&planned.plan),
            PlanFormat::Markdown => render::plan::markdown(&planned.plan, out_hint.as_deref()),
        };
        render::summary::stdout(&text);
        if let Some(out) = &args.out {
            if let Err(e) = crate::plan::file::write(out, &planned.plan) {
                render::diagnostic::error_line(&format!(
                    "{}: cannot save the plan: {e}",
                    out.display()
                ));
                return ExitCode::FAILURE;
            }
        }
        if args.detailed_exitcode && (planned.plan.has_changes() || !planned.plan.drift.is_empty())
        {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    })
}

fn run_emulator(args: emulator::EmulatorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            render::diagnostic::error_line(&format!("cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(emulator::serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            render::diagnostic::error_line(&e.to_string());
            ExitCode::FAILURE
        }
    }
}
