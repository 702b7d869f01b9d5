//! One function per command: builds the live objects once and wires the layers.

use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{
    Cli, CloudArgs, Command, ImportArgs, OutputArgs, PlanArgs, PlanFormat, RunArgs, SpecArgs,
    StateArgs, StateCommand,
};
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
use crate::state::writer::StateWriter;
use crate::state::LockInfo;

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let color = render::stderr_color(cli.no_color);
    match cli.command {
        Command::Validate(args) => validate(&args, color),
        Command::Graph(args) => graph(&args, color),
        Command::Plan(args) => plan(&args, color, cli.verbose),
        Command::Apply(args) => {
            let fancy = color && !cli.no_color;
            change(
                &args.spec,
                &args.cloud,
                &args.run,
                &Mode::Apply {
                    planfile: args.planfile.as_deref(),
                    targets: &args.target,
                },
                color,
                fancy,
                cli.verbose,
            )
        }
        Command::Destroy(args) => {
            let fancy = color && !cli.no_color;
            change(
                &args.spec,
                &args.cloud,
                &args.run,
                &Mode::Destroy,
                color,
                fancy,
                cli.verbose,
            )
        }
        Command::State(cmd) => state_command(&cmd),
        Command::Import(args) => import(&args, color, cli.verbose),
        Command::Output(args) => output(&args),
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

fn validate(args: &crate::cli::ValidateArgs, color: bool) -> ExitCode {
    use crate::cli::ValidateFormat;
    use crate::spec::diagnostic::{Code, Diagnostic};
    if args.format == ValidateFormat::Text {
        return match load(&args.spec, color) {
            Some((spec, graph)) => {
                render::summary::stdout(&render::summary::validate_summary(&spec, &graph));
                ExitCode::SUCCESS
            }
            None => ExitCode::FAILURE,
        };
    }
    // Machine-readable: every problem of every stage, in one document on stdout.
    let path = args.spec.file.as_path();
    let vars = Overrides::collect(std::env::vars(), &args.spec.var_files, &args.spec.vars);
    let (file, diagnostics) = match vars {
        Err(diags) => (None, diags),
        Ok(overrides) => match spec::load(path, &overrides) {
            Err(e) => (Some(path), e.diagnostics()),
            Ok(spec) => match Graph::build(&spec) {
                Ok(_) => (Some(path), spec.warnings),
                Err(cycles) => {
                    let cycles = cycles.into_iter().map(|d| match d.code {
                        Code::Unclassified => d.code(Code::Cycle),
                        _ => d,
                    });
                    (
                        Some(path),
                        spec.warnings.into_iter().chain(cycles).collect(),
                    )
                }
            },
        },
    };
    render::summary::stdout(&match args.format {
        ValidateFormat::Github => render::diagnostic::github(file, &diagnostics),
        _ => render::diagnostic::json(file, &diagnostics),
    });
    if diagnostics.iter().any(Diagnostic::is_error) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
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
    /// The endpoint is on this machine (the local cloud or an emulator).
    loopback: bool,
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
        // The local cloud is for trying things: long-running operations take a
        // fraction of a second rather than Azure's minutes.
        let faults = emulator::Faults {
            lro_ms: 300,
            ..emulator::Faults::default()
        };
        let config = emulator::Config {
            data_dir: Some(dir.clone()),
            faults,
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
        options.max_in_flight = usize::try_from(args.parallelism).ok();
        let client = Client::with_http(http, tokens, options);
        return Ok(Connection {
            client: Arc::new(client),
            local: Some(emu),
            loopback: true,
        });
    }
    let endpoint = options_endpoint.unwrap_or_else(|| "https://management.azure.com".to_owned());
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let transport =
        azure_core::http::Transport::new(Arc::new(auth::ReqwestTransport(http.clone())));
    let tokens: Arc<dyn TokenSource> = Arc::new(auth::Chain::from_env(&env, Some(&transport)));
    let mut options = client::Options::new(&endpoint);
    let loopback = [
        "http://127.",
        "https://127.",
        "http://localhost",
        "https://localhost",
        "http://[::1]",
    ]
    .iter()
    .any(|p| endpoint.starts_with(p));
    if loopback {
        // A local emulator answers in milliseconds: poll it accordingly.
        options.poll_interval = (Duration::from_millis(20), Duration::from_secs(2));
    }
    options.logger = logger(verbose);
    options.max_in_flight = usize::try_from(args.parallelism).ok();
    Ok(Connection {
        client: Arc::new(Client::with_http(http, tokens, options)),
        local: None,
        loopback,
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

/// Takes the state lock, waiting up to `timeout_secs`. A lock left behind by a
/// process of this host that is gone (a crash, a SIGKILL) is taken over: the
/// store guarantees a single taker.
fn lock_state(
    store: &LocalStore,
    command: &str,
    timeout_secs: u64,
) -> Result<crate::state::local::StateLock, crate::state::StateError> {
    store.lock(
        LockInfo::current(command),
        Duration::from_secs(timeout_secs),
        true,
    )
}

/// Prints a state error with what to do about it.
fn state_error(e: &crate::state::StateError) {
    use crate::state::StateError as E;
    render::diagnostic::error_line(&e.to_string());
    let hint = match e {
        E::Locked { .. } => Some("wait for that run to finish, or pass --lock-timeout SECONDS to wait for it"),
        E::StaleLock { .. } | E::UnreadableLock { .. } => {
            Some("no synlink process holds it any more; if that is so, delete the lock file named above and run again")
        }
        E::Corrupt { .. } => Some("restore the state from a backup or version control; synlink never writes a partial state file"),
        E::TooNew { .. } => Some("use the synlink version that wrote it, or a newer one"),
        _ => None,
    };
    if let Some(h) = hint {
        render::diagnostic::info_line(&format!("  hint: {h}"));
    }
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

/// What to plan.
struct PlanRequest<'a> {
    spec_args: &'a SpecArgs,
    parallelism: u64,
    mode: PlanMode,
    targets: &'a [String],
}

async fn make_plan(
    spec: &LoadedSpec,
    graph: &Graph,
    args: &PlanRequest<'_>,
    conn: &Connection,
    state: &crate::state::State,
    verbose: u8,
) -> Result<Planned, ExitCode> {
    let observed = crate::plan::refresh::refresh(
        conn.client.clone(),
        spec,
        state,
        usize::try_from(args.parallelism).unwrap_or(10),
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
    let options = DiffOptions {
        mode: args.mode,
        targets: args.targets.to_vec(),
        spec_hash: spec_hash(spec, args.spec_args),
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
    let mut ids: Vec<String> = for_links
        .keys()
        .chain(for_grants.keys())
        .filter(|id| observed.resources.contains_key(*id))
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
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
    let lock = match lock_state(&store, "synlink plan", args.cloud.lock_timeout) {
        Ok(l) => l,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    let state = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            state_error(&e);
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
        let mode = if args.destroy {
            PlanMode::Destroy
        } else if args.refresh_only {
            PlanMode::RefreshOnly
        } else {
            PlanMode::Normal
        };
        let request = PlanRequest {
            spec_args: &args.spec,
            parallelism: args.cloud.parallelism,
            mode,
            targets: &args.target,
        };
        let planned = make_plan(&spec, &graph, &request, &conn, &state, verbose).await;
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

/// What `change` does.
enum Mode<'a> {
    /// `synlink apply [PLANFILE]`.
    Apply {
        planfile: Option<&'a std::path::Path>,
        targets: &'a [String],
    },
    /// `synlink destroy`.
    Destroy,
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => Some(rt),
        Err(e) => {
            render::diagnostic::error_line(&format!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// Asks for `yes` on a terminal; refuses without `--auto-approve` elsewhere.
fn approved(run: &RunArgs, what: &str) -> Result<bool, String> {
    use std::io::{BufRead as _, IsTerminal as _};
    if run.auto_approve {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!("stdin is not a terminal, so synlink cannot ask before it {what}; pass --auto-approve to go ahead"));
    }
    render::diagnostic::emit(&format!(
        "\nDo you want synlink to {what}?\n  Only 'yes' will be accepted: "
    ));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer.trim() == "yes")
}

/// Records what exists and matches the spec but is not in the state yet
/// (adopted), and the data sources read, before any change runs.
fn adopt(
    writer: &StateWriter,
    spec: &LoadedSpec,
    planned: &Planned,
) -> Result<(), crate::state::StateError> {
    let changing: std::collections::HashSet<&crate::addr::Address> = planned
        .plan
        .changes
        .iter()
        .filter(|c| c.action != crate::plan::Action::Read)
        .map(|c| &c.address)
        .collect();
    let current = writer.snapshot();
    let entries: Vec<(String, crate::state::ResourceState)> = planned
        .known
        .iter()
        .filter_map(|(address, k)| {
            let r = spec.resources.get(address)?;
            if !k.exists || changing.contains(address) {
                return None;
            }
            let entry = crate::state::ResourceState {
                kind: address.kind,
                id: k.id.clone(),
                existing: r.existing,
                properties: k.desired.clone(),
                outputs: k.outputs.clone(),
            };
            (current.resources.get(&address.to_string()) != Some(&entry))
                .then(|| (address.to_string(), entry))
        })
        .collect();
    // Nothing new: the state (and its serial, which saved plans check) stays as it is.
    if entries.is_empty() {
        return Ok(());
    }
    writer.update(|state| state.resources.extend(entries))
}

/// `apply` and `destroy`: plan (or read a saved plan), show it, ask, run it.
fn change(
    spec_args: &SpecArgs,
    cloud: &CloudArgs,
    run: &RunArgs,
    mode: &Mode<'_>,
    color: bool,
    fancy: bool,
    verbose: u8,
) -> ExitCode {
    let started = std::time::Instant::now();
    let Some((spec, graph)) = load(spec_args, color) else {
        return ExitCode::FAILURE;
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let store = state_store(&spec.file.path, cloud);
    let command = match mode {
        Mode::Apply { .. } => "synlink apply",
        Mode::Destroy => "synlink destroy",
    };
    let lock = match lock_state(&store, command, cloud.lock_timeout) {
        Ok(l) => l,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    let state = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    let spec = Arc::new(spec);
    runtime.block_on(async {
        let conn = match connect(&spec, cloud, verbose).await {
            Ok(c) => c,
            Err(e) => {
                render::diagnostic::error_line(&e);
                return ExitCode::FAILURE;
            }
        };
        let code = change_connected(
            &spec, &graph, spec_args, cloud, run, mode, &conn, state, lock, fancy, color, verbose,
            started,
        )
        .await;
        conn.close().await;
        code
    })
}

#[allow(clippy::too_many_arguments)]
async fn change_connected(
    spec: &Arc<LoadedSpec>,
    graph: &Graph,
    spec_args: &SpecArgs,
    cloud: &CloudArgs,
    run: &RunArgs,
    mode: &Mode<'_>,
    conn: &Connection,
    state: crate::state::State,
    lock: crate::state::local::StateLock,
    fancy: bool,
    color: bool,
    verbose: u8,
    started: std::time::Instant,
) -> ExitCode {
    let (plan_mode, targets, planfile) = match mode {
        Mode::Apply { planfile, targets } => (PlanMode::Normal, *targets, *planfile),
        Mode::Destroy => (PlanMode::Destroy, &[][..], None),
    };
    let request = PlanRequest {
        spec_args,
        parallelism: cloud.parallelism,
        mode: plan_mode,
        targets,
    };
    let fresh = match make_plan(spec, graph, &request, conn, &state, verbose).await {
        Ok(p) => p,
        Err(code) => return code,
    };
    let planned = match planfile {
        None => {
            render::summary::stdout(&render::plan::text(
                &fresh.plan,
                render::stdout_color(!color),
            ));
            fresh
        }
        Some(path) => {
            let saved = match crate::plan::file::read(path) {
                Ok(p) => p,
                Err(e) => {
                    render::diagnostic::error_line(&format!("{}: {e}", path.display()));
                    return ExitCode::FAILURE;
                }
            };
            if let Err(why) = saved_plan_still_valid(&saved, &fresh.plan, &state) {
                render::diagnostic::error_line(&format!(
                    "{}: the saved plan cannot be applied: {why}",
                    path.display()
                ));
                render::diagnostic::info_line(
                    "  hint: run `synlink plan --out PLANFILE` again and review the new plan",
                );
                return ExitCode::FAILURE;
            }
            render::summary::stdout(&render::plan::text(&saved, render::stdout_color(!color)));
            Planned {
                plan: saved,
                known: fresh.known,
            }
        }
    };
    let what = if plan_mode == PlanMode::Destroy {
        "destroys these resources"
    } else {
        "performs these actions"
    };
    // Ask first: a declined run writes nothing, not even adopted resources.
    if planned.plan.has_changes() {
        match approved(run, what) {
            Ok(true) => {}
            Ok(false) => {
                render::diagnostic::error_line("not applied: the answer was not 'yes'");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                render::diagnostic::error_line(&e);
                return ExitCode::FAILURE;
            }
        }
    }
    let writer = Arc::new(StateWriter::new(state, lock));
    if let Err(e) = adopt(&writer, spec, &planned).and_then(|()| writer.flush()) {
        render::diagnostic::error_line(&format!("the state could not be written: {e}"));
        return ExitCode::FAILURE;
    }
    if !planned.plan.has_changes() {
        render_outputs_after(&writer);
        return ExitCode::SUCCESS;
    }
    let total = planned
        .plan
        .changes
        .iter()
        .filter(|c| {
            !matches!(
                c.action,
                crate::plan::Action::Read | crate::plan::Action::NoOp
            )
        })
        .count();
    let progress = Arc::new(render::progress::Progress::new(
        total,
        fancy && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    ));
    let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                render::diagnostic::info_line("interrupted: no new changes start; waiting for those in flight, then saving the state");
            }
        })
    };
    let options = crate::apply::Options {
        // Requests on the wire are bounded by the client (`--parallelism`);
        // operations mostly wait on Azure, so many more may be under way.
        parallelism: usize::try_from(cloud.parallelism)
            .unwrap_or(10)
            .saturating_mul(20),
        propagation_timeout: Duration::from_secs(run.propagation_timeout),
        // Azure takes minutes to propagate; an emulator on this machine, milliseconds.
        propagation_poll: if conn.loopback {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(3)
        },
    };
    let events = {
        let progress = progress.clone();
        Arc::new(move |e: crate::apply::Event| progress.event(&e))
            as Arc<dyn Fn(crate::apply::Event) + Send + Sync>
    };
    let outcome = crate::apply::apply(
        conn.client.clone(),
        spec.clone(),
        graph,
        &planned.plan,
        &planned.known,
        writer.clone(),
        options,
        events,
        cancel.clone(),
    )
    .await;
    ctrl_c.abort();
    progress.finish();
    let done = if plan_mode == PlanMode::Destroy {
        "Destroy complete"
    } else {
        "Apply complete"
    };
    render::diagnostic::emit(&render::progress::summary(
        &outcome,
        started.elapsed(),
        done,
    ));
    render_outputs_after(&writer);
    if outcome.interrupted {
        ExitCode::from(130)
    } else if !outcome.failed.is_empty() || outcome.state_error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn render_outputs_after(writer: &StateWriter) {
    let text = render::summary::outputs_text(&writer.snapshot());
    if !text.is_empty() {
        render::summary::stdout(&format!("\nOutputs:\n{text}"));
    }
}

/// A saved plan is applied only against the state and spec it was made from,
/// and only while Azure still calls for the same changes.
fn saved_plan_still_valid(
    saved: &Plan,
    fresh: &Plan,
    state: &crate::state::State,
) -> Result<(), String> {
    // A state that did not exist then and does not exist now has a fresh lineage each time it is read.
    let both_empty = saved.state_serial == 0 && state.serial == 0 && state.resources.is_empty();
    if saved.state_lineage != state.lineage && !both_empty {
        return Err(format!(
            "it was made against another state (lineage {}, now {})",
            saved.state_lineage, state.lineage
        ));
    }
    if saved.state_serial != state.serial {
        return Err(format!(
            "the state changed since it was made (serial {} then, {} now)",
            saved.state_serial, state.serial
        ));
    }
    if saved.spec_hash != fresh.spec_hash {
        return Err("the spec (or its variables) changed since it was made".into());
    }
    let shape = |p: &Plan| {
        p.changes
            .iter()
            .map(|c| (c.address.clone(), c.action))
            .collect::<Vec<_>>()
    };
    if shape(saved) != shape(fresh) {
        return Err(
            "what Azure holds changed since it was made: the same spec now plans different changes"
                .into(),
        );
    }
    Ok(())
}

fn state_path(args: &StateArgs) -> std::path::PathBuf {
    args.state
        .clone()
        .unwrap_or_else(|| spec::data_dir(&args.file).join("state.json"))
}

fn state_command(cmd: &StateCommand) -> ExitCode {
    let (args, command) = match cmd {
        StateCommand::List(a) => (a, "synlink state list"),
        StateCommand::Show { state, .. } => (state, "synlink state show"),
        StateCommand::Rm { state, .. } => (state, "synlink state rm"),
    };
    let store = LocalStore::new(state_path(args));
    let lock = match lock_state(&store, command, args.lock_timeout) {
        Ok(l) => l,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    let mut state = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    match cmd {
        StateCommand::List(_) => {
            let mut list = String::new();
            for k in state.resources.keys() {
                list.push_str(k);
                list.push('\n');
            }
            render::summary::stdout(&list);
            ExitCode::SUCCESS
        }
        StateCommand::Show { address, .. } => {
            if let Some(rs) = state.resources.get(address) {
                render::summary::stdout(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(rs).unwrap_or_default()
                ));
                ExitCode::SUCCESS
            } else {
                render::diagnostic::error_line(&format!(
                    "`{address}` is not in the state ({})",
                    store.path().display()
                ));
                ExitCode::FAILURE
            }
        }
        StateCommand::Rm { address, .. } => {
            if state.resources.shift_remove(address).is_none() {
                render::diagnostic::error_line(&format!(
                    "`{address}` is not in the state ({})",
                    store.path().display()
                ));
                return ExitCode::FAILURE;
            }
            match lock.write(&mut state) {
                Ok(()) => {
                    render::diagnostic::info_line(&format!(
                        "removed {address} from the state; nothing was deleted in Azure"
                    ));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    state_error(&e);
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn output(args: &OutputArgs) -> ExitCode {
    let store = LocalStore::new(state_path(&args.state));
    let state = match lock_state(&store, "synlink output", args.state.lock_timeout)
        .and_then(|l| l.read())
    {
        Ok(s) => s,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        render::summary::stdout(&render::summary::outputs_json(&state));
    } else {
        render::summary::stdout(&render::summary::outputs_text(&state));
    }
    ExitCode::SUCCESS
}

fn import(args: &ImportArgs, color: bool, verbose: u8) -> ExitCode {
    let Some((spec, _graph)) = load(&args.spec, color) else {
        return ExitCode::FAILURE;
    };
    let Some(address) = crate::addr::Address::parse(&args.address) else {
        render::diagnostic::error_line(&format!(
            "`{}` is not an address (section.key)",
            args.address
        ));
        return ExitCode::FAILURE;
    };
    let Some(resource) = spec.resources.get(&address) else {
        render::diagnostic::error_line(&format!(
            "`{address}` is not in {}",
            spec.file.path.display()
        ));
        return ExitCode::FAILURE;
    };
    let marker = match address.kind {
        crate::addr::ResourceKind::MlWorkspace => {
            "/providers/microsoft.machinelearningservices/workspaces/"
        }
        crate::addr::ResourceKind::SynapseWorkspace => "/providers/microsoft.synapse/workspaces/",
        crate::addr::ResourceKind::SparkPool => "/bigdatapools/",
        crate::addr::ResourceKind::Link => "/linkedservices/",
        crate::addr::ResourceKind::Attachment => "/computes/",
        crate::addr::ResourceKind::RoleGrant => "/roleassignments/",
    };
    let lower = args.arm_id.to_ascii_lowercase();
    let nested = [
        "/bigdatapools/",
        "/linkedservices/",
        "/computes/",
        "/roleassignments/",
    ];
    let kind_ok = lower.contains(marker)
        && (nested.contains(&marker) || !nested.iter().any(|n| lower.contains(n)));
    if !lower.starts_with("/subscriptions/") || !kind_ok {
        render::diagnostic::error_line(&format!(
            "`{}` is not the id of a {} (expected an id containing `{marker}`)",
            args.arm_id,
            address.kind.noun()
        ));
        return ExitCode::FAILURE;
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let store = state_store(&spec.file.path, &args.cloud);
    let lock = match lock_state(&store, "synlink import", args.cloud.lock_timeout) {
        Ok(l) => l,
        Err(e) => {
            state_error(&e);
            return ExitCode::FAILURE;
        }
    };
    let mut state = match lock.read() {
        Ok(s) => s,
        Err(e) => {
            state_error(&e);
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
        let read = crate::plan::import::read(&conn.client, &address, &args.arm_id).await;
        conn.close().await;
        let (properties, outputs) = match read {
            Ok(Some(found)) => found,
            Ok(None) => {
                render::diagnostic::error_line(&format!("{}: not found in Azure", args.arm_id));
                return ExitCode::FAILURE;
            }
            Err(e) => {
                render::diagnostic::error_line(&e.to_string());
                return ExitCode::FAILURE;
            }
        };
        let entry = crate::state::ResourceState { kind: address.kind, id: args.arm_id.clone(), existing: resource.existing, properties, outputs };
        state.resources.insert(address.to_string(), entry);
        match lock.write(&mut state) {
            Ok(()) => {
                render::diagnostic::info_line(&format!("imported {address} from {}; run `synlink plan` to see how it differs from the spec", args.arm_id));
                ExitCode::SUCCESS
            }
            Err(e) => {
                render::diagnostic::error_line(&e.to_string());
                ExitCode::FAILURE
            }
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
