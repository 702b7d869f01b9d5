//! One short function per command: each opens what it needs (an
//! [`Invocation`] for the commands that talk to Azure), calls the layers below
//! and returns how it ends. Errors come back as the one [`Error`] and are
//! printed once, by `run`. No business rules live here.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::addr::{Address, ArmId};
use crate::app_state;
use crate::apply::{self, Event};
use crate::cli::{
    ApplyArgs, Cli, CloudArgs, Command, DestroyArgs, DiscoverArgs, ImportArgs, OutputArgs,
    PlanArgs, PlanFormat, RunArgs, SpecArgs, StateCommand, ValidateArgs, ValidateFormat,
};
use crate::cloud::activity::Activity;
use crate::cloud::auth;
use crate::discover;
use crate::error::{Error, Exit};
use crate::graph::Graph;
use crate::invocation::{self, Connection, Invocation};
use crate::plan::diff::{DiffOptions, PlanError};
use crate::plan::{self, preflight, refresh, verify, Plan, PlanMode};
use crate::provider;
use crate::render;
use crate::seed;
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{Cloud, CloudName};
use crate::spec::LoadedSpec;
use crate::state::writer::StateWriter;
use crate::state::State;
use crate::stream;
use synlink_emulator::EmulatorArgs;

/// How output looks: colour on each stream, detail.
#[derive(Debug, Clone, Copy)]
struct Ui {
    /// Colour on stderr.
    color: bool,
    /// Colour on stdout.
    out_color: bool,
    /// `-v` count.
    verbose: u8,
}

/// Runs a parsed command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let ui = Ui {
        color: render::stderr_color(cli.no_color),
        out_color: render::stdout_color(cli.no_color),
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Validate(args) => validate(&args, ui),
        Command::Graph(args) => graph(&args, ui),
        Command::Plan(args) => plan_command(&args, ui),
        Command::Apply(args) => apply_command(&args, ui),
        Command::Destroy(args) => destroy_command(&args, ui),
        Command::State(cmd) => state_command(&cmd, ui),
        Command::Import(args) => import(&args, ui),
        Command::Output(args) => output(&args, ui),
        Command::Emulator(args) => run_emulator(args),
        Command::Discover(args) => discover_command(&args, ui),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            render::error::emit(&e, ui.color);
            ExitCode::from(e.exit_code())
        }
    }
}

fn validate(args: &ValidateArgs, ui: Ui) -> Result<Exit, Error> {
    let path = args.spec.path();
    if args.format == ValidateFormat::Text {
        let (spec, graph) = invocation::load(&args.spec, &path, ui.color)?;
        render::summary::stdout(&render::summary::validate_summary(&spec, &graph));
        return Ok(Exit::Success);
    }
    // Machine-readable: every problem of every stage, in one document on stdout.
    let (file, diagnostics) = invocation::diagnostics(&args.spec, &path);
    render::summary::stdout(&match args.format {
        ValidateFormat::Github => render::diagnostic::github(file, &diagnostics),
        _ => render::diagnostic::json(file, &diagnostics),
    });
    Ok(if diagnostics.iter().any(Diagnostic::is_error) {
        Exit::Failed
    } else {
        Exit::Success
    })
}

fn graph(args: &SpecArgs, ui: Ui) -> Result<Exit, Error> {
    let (spec, graph) = invocation::load(args, &args.path(), ui.color)?;
    render::summary::stdout(&graph.to_dot(&spec));
    Ok(Exit::Success)
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

/// What to plan.
struct PlanRequest<'a> {
    spec_args: &'a SpecArgs,
    /// `--seed-existing`: make the spec's missing data sources in the local cloud first.
    seed: bool,
    parallelism: u64,
    mode: PlanMode,
    targets: &'a [String],
}

/// `--seed-existing`: makes the spec's missing data sources in the local cloud.
async fn seed_first(
    spec: &LoadedSpec,
    graph: &Graph,
    conn: &Connection,
    request: &PlanRequest<'_>,
) -> Result<(), Error> {
    if !request.seed {
        return Ok(());
    }
    if !conn.is_local() {
        return Err(Error::Usage("--seed-existing creates data sources in the local cloud only: add --cloud local (or `cloud: local` in the spec)".into()));
    }
    let on_seed = |address: &Address, id: &ArmId| {
        render::diagnostic::info_line(&format!(
            "seeded {address} in the local cloud (a data source that did not exist): {id}"
        ));
    };
    seed::seed_data_sources(conn.client.clone(), spec, graph, &on_seed).await?;
    Ok(())
}

/// Says that refresh waits for a resource still being changed.
fn on_settle_wait(id: &ArmId, status: &str) {
    render::diagnostic::info_line(&format!(
        "waiting for {id}: Azure reports it {status}; a plan is made from finished resources only"
    ));
}

/// The refresh settings of a run.
fn refresh_options(parallelism: u64) -> refresh::Options {
    refresh::Options {
        parallelism: usize::try_from(parallelism).unwrap_or(10),
        settle_timeout: Duration::from_secs(30 * 60),
    }
}

/// The caller's object id, from its ARM token (preflight).
async fn caller_of(conn: &Connection) -> Option<String> {
    conn.client
        .tokens()
        .token(auth::ARM_SCOPE)
        .await
        .ok()
        .and_then(|t| auth::object_id_of(&t.secret))
}

/// Reads Azure, diffs, and checks the caller's rights: the plan, or every
/// problem that stops it. Refresh shows its progress on `progress`.
async fn make_plan(
    spec: &LoadedSpec,
    graph: &Graph,
    state: &State,
    conn: &Connection,
    request: &PlanRequest<'_>,
    verbose: u8,
    progress: &render::progress::Progress,
) -> Result<Plan, Error> {
    seed_first(spec, graph, conn, request).await?;
    let on_read = |done: usize, total: usize| progress.event(&Event::Reading { done, total });
    // What most of the plan waits on is read first, as a streaming run does.
    let order = plan::stream::ReadOrder::of(spec, graph);
    let mut observed = refresh::refresh(
        conn.client.clone(),
        spec,
        state,
        refresh_options(request.parallelism),
        &|u| order.priority(u),
        &on_settle_wait,
        &on_read,
    )
    .await
    .map_err(Error::Refresh)?;
    if verbose > 0 {
        if let Some(name) = conn.client.tokens().answered_by() {
            render::diagnostic::info_line(&format!("credential: {name}"));
        }
    }
    let options = DiffOptions {
        mode: request.mode,
        targets: request.targets.to_vec(),
        spec_hash: spec_hash(spec, request.spec_args),
    };
    let diff = plan::diff::diff(spec, graph, &observed, state, &options);
    let mut errors = diff.errors;
    let caller = caller_of(conn).await;
    let needs = preflight::needs(&diff.plan.changes, caller.as_deref());
    let ids = preflight::to_read(&needs, &observed);
    if !ids.is_empty() {
        let names: std::collections::HashMap<ArmId, String> = spec
            .resources
            .values()
            .filter_map(|r| {
                Some((
                    provider::of(r.address.kind).id(r, spec)?,
                    r.address.to_string(),
                ))
            })
            .collect();
        if let Err(e) = refresh::read_permissions(conn.client.clone(), &ids, &mut observed).await {
            errors.push(PlanError {
                address: "preflight".into(),
                message: format!("cannot read your permissions: {e}"),
                hint: None,
            });
        }
        errors.extend(preflight::check(
            &observed,
            &needs,
            caller.as_deref(),
            &names,
        ));
    }
    if errors.is_empty() {
        Ok(diff.plan)
    } else {
        Err(Error::Plan(errors))
    }
}

/// Progress on stderr: a bar on a terminal with colour, plain lines otherwise.
fn progress_for(
    ui: Ui,
    conn: &Connection,
    activity: &Arc<Activity>,
) -> Arc<render::progress::Progress> {
    Arc::new(render::progress::Progress::new(
        ui.color && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        activity.clone(),
        Some(conn.client.clone()),
    ))
}

fn plan_mode(args: &PlanArgs) -> PlanMode {
    if args.destroy {
        PlanMode::Destroy
    } else if args.refresh_only {
        PlanMode::RefreshOnly
    } else {
        PlanMode::Normal
    }
}

/// A markdown report of a spec that cannot be planned, for `plan --format
/// markdown` (the comment a pull request gets instead of a plan).
fn invalid_spec_markdown(e: &Error, path: &std::path::Path) -> Option<String> {
    match e {
        Error::Spec(spec) => Some(render::diagnostic::markdown(
            spec.path(),
            &spec.diagnostics(),
        )),
        Error::Variables(diagnostics) => Some(render::diagnostic::markdown(path, diagnostics)),
        Error::Cycles { file, cycles } => Some(render::diagnostic::markdown(&file.path, cycles)),
        _ => None,
    }
}

fn plan_command(args: &PlanArgs, ui: Ui) -> Result<Exit, Error> {
    let inv = Invocation::open(
        &args.spec,
        &args.spec.path(),
        &args.cloud,
        "synlink plan",
        ui.verbose,
        ui.color,
    )
    .inspect_err(|e| {
        if args.format == PlanFormat::Markdown {
            if let Some(report) = invalid_spec_markdown(e, &args.spec.path()) {
                render::summary::stdout(&report);
            }
        }
    })?;
    let request = PlanRequest {
        spec_args: &args.spec,
        seed: args.cloud.seed_existing,
        parallelism: args.cloud.parallelism,
        mode: plan_mode(args),
        targets: &args.target,
    };
    let Invocation {
        spec,
        graph,
        state,
        lock,
        runtime,
        conn,
    } = inv;
    let activity = Arc::new(Activity::new());
    let progress = progress_for(ui, &conn, &activity);
    let planned = runtime.block_on(make_plan(
        &spec, &graph, &state, &conn, &request, ui.verbose, &progress,
    ));
    progress.finish();
    if ui.verbose > 0 {
        let s = &conn.client.stats;
        render::diagnostic::info_line(&format!(
            "{} requests, {} retries, {} throttled",
            s.requests.load(Ordering::Relaxed),
            s.retries.load(Ordering::Relaxed),
            s.throttled.load(Ordering::Relaxed)
        ));
    }
    let plan = Invocation::close(&runtime, conn, planned)?;
    drop(lock);
    let out_hint = args.out.as_ref().map(|p| p.display().to_string());
    let text = match args.format {
        PlanFormat::Text => render::plan::text_with(&plan, ui.out_color, ui.verbose > 0),
        PlanFormat::Json => render::plan::json(&plan),
        PlanFormat::Markdown => render::plan::markdown(&plan, out_hint.as_deref()),
    };
    render::summary::stdout(&text);
    if let Some(out) = &args.out {
        plan::file::write(out, &plan).map_err(|source| Error::SavePlan {
            path: out.clone(),
            source,
        })?;
    }
    if args.detailed_exitcode && (plan.has_changes() || !plan.drift.is_empty()) {
        Ok(Exit::Changes)
    } else {
        Ok(Exit::Success)
    }
}

fn apply_command(args: &ApplyArgs, ui: Ui) -> Result<Exit, Error> {
    // A saved plan is checked before anything is opened: an edited file is
    // refused without touching the state or Azure.
    let saved = match &args.planfile {
        Some(path) => {
            let saved = plan::file::read(path).map_err(|source| Error::PlanFile {
                path: path.clone(),
                source,
            })?;
            verify::digest(&saved).map_err(|why| Error::StalePlan {
                path: path.clone(),
                why,
            })?;
            Some((path.clone(), saved))
        }
        None => None,
    };
    let spec_path = args
        .spec
        .file
        .clone()
        .or_else(|| {
            saved
                .as_ref()
                .map(|(_, p)| PathBuf::from(&p.spec_path))
                .filter(|p| !p.as_os_str().is_empty())
        })
        .unwrap_or_else(|| args.spec.path());
    change(
        &args.spec,
        &spec_path,
        &args.cloud,
        &args.run,
        Change {
            mode: PlanMode::Normal,
            targets: &args.target,
            saved,
            verify_first: args.verify_first,
            command: "synlink apply",
        },
        ui,
    )
}

fn destroy_command(args: &DestroyArgs, ui: Ui) -> Result<Exit, Error> {
    change(
        &args.spec,
        &args.spec.path(),
        &args.cloud,
        &args.run,
        Change {
            mode: PlanMode::Destroy,
            targets: &[],
            saved: None,
            verify_first: false,
            command: "synlink destroy",
        },
        ui,
    )
}

/// What `change` runs.
struct Change<'a> {
    /// Normal or destroy, when not given by a saved plan.
    mode: PlanMode,
    /// `--target` globs, when not given by a saved plan.
    targets: &'a [String],
    /// A saved plan, already checked against its digest.
    saved: Option<(PathBuf, Plan)>,
    /// `--verify-first`: check a saved plan whole before the first write.
    verify_first: bool,
    /// The command, for the lock's holder.
    command: &'a str,
}

/// `apply` and `destroy`: plan (or check a saved plan against a fresh one),
/// show it, ask, run it. With `--auto-approve`, or a saved plan, the plan is
/// streamed instead when it can be decided address by address: each change
/// starts as soon as its own reads and dependencies are done (`crate::stream`).
fn change(
    spec_args: &SpecArgs,
    spec_path: &std::path::Path,
    cloud: &CloudArgs,
    run: &RunArgs,
    what: Change<'_>,
    ui: Ui,
) -> Result<Exit, Error> {
    let started = Instant::now();
    let inv = Invocation::open(
        spec_args,
        spec_path,
        cloud,
        what.command,
        ui.verbose,
        ui.color,
    )?;
    let Invocation {
        spec,
        graph,
        state,
        lock,
        runtime,
        conn,
    } = inv;
    let result = runtime.block_on(async {
        let (mode, targets) = match &what.saved {
            Some((path, saved)) => {
                verify::state(saved, &state).map_err(|why| Error::StalePlan {
                    path: path.clone(),
                    why,
                })?;
                (saved.mode, saved.targets.clone())
            }
            None => (what.mode, what.targets.to_vec()),
        };
        let request = PlanRequest {
            spec_args,
            seed: cloud.seed_existing,
            parallelism: cloud.parallelism,
            mode,
            targets: &targets,
        };
        let verb = if mode == PlanMode::Destroy {
            "destroy these resources"
        } else {
            "perform these actions"
        };
        let streams = match &what.saved {
            Some((_, saved)) => !what.verify_first && saved_streams(saved, &spec, &graph, &state),
            None => run.auto_approve && plan::stream::streamable(&spec, &state),
        };
        let activity = Arc::new(Activity::new());
        let progress = progress_for(ui, &conn, &activity);
        if streams {
            if let Some((path, saved)) = &what.saved {
                // What does not depend on Azure is checked before anything is read.
                if saved.spec_hash != spec_hash(&spec, spec_args) {
                    return Err(Error::StalePlan {
                        path: path.clone(),
                        why: verify::Stale::Spec,
                    });
                }
                render::summary::stdout(&render::plan::text_with(
                    saved,
                    ui.out_color,
                    ui.verbose > 0,
                ));
                if saved.has_changes() || saved.rewrites_state() {
                    approve(run, verb)?;
                }
            }
            let stream = Streaming {
                spec: &spec,
                graph: &graph,
                request: &request,
                saved: what.saved.as_ref().map(|(_, p)| p),
            };
            let writer = Arc::new(StateWriter::new(state.clone(), lock));
            return stream_change(
                &conn, &stream, state, &writer, run, started, ui, &progress, &activity,
            )
            .await;
        }
        let fresh = make_plan(
            &spec, &graph, &state, &conn, &request, ui.verbose, &progress,
        )
        .await;
        let reads = progress.reads();
        progress.finish();
        let fresh = fresh?;
        let plan = match what.saved {
            Some((path, saved)) => {
                verify::compare(&saved, &fresh).map_err(|why| Error::StalePlan { path, why })?;
                saved
            }
            None => fresh,
        };
        render::summary::stdout(&render::plan::text_with(
            &plan,
            ui.out_color,
            ui.verbose > 0,
        ));
        // Ask first: a declined run writes nothing, not even adopted resources.
        if plan.has_changes() || plan.rewrites_state() {
            approve(run, verb)?;
        }
        let writer = Arc::new(StateWriter::new(state, lock));
        let progress = progress_for(ui, &conn, &activity);
        execute(
            &conn,
            &plan,
            &writer,
            run,
            mode,
            started,
            ui,
            &progress,
            &activity,
            reads,
            cloud.parallelism,
        )
        .await
    });
    Invocation::close(&runtime, conn, result)
}

/// Whether a saved plan can be checked change by change: the plan is
/// streamable, and holds only changes of the spec's addresses with the
/// dependencies the spec gives them (anything else is refused by the whole
/// comparison, which names it).
fn saved_streams(saved: &Plan, spec: &LoadedSpec, graph: &Graph, state: &State) -> bool {
    plan::stream::streamable(spec, state)
        && saved.changes.iter().all(|c| {
            spec.resources.contains_key(&c.address)
                && c.previous_address.is_none()
                && c.waits_for.is_empty()
                && !matches!(c.action, plan::Action::Move | plan::Action::Forget)
                && graph
                    .dependencies(&c.address)
                    .into_iter()
                    .eq(c.depends_on.iter())
        })
}

/// What a streamed run decides from.
struct Streaming<'a> {
    spec: &'a LoadedSpec,
    graph: &'a Graph,
    request: &'a PlanRequest<'a>,
    saved: Option<&'a Plan>,
}

/// Reads, decides and applies at once (`crate::stream`); then shows the plan
/// decided (a fresh one: it was not shown before), the outputs and the summary.
#[allow(clippy::too_many_arguments)]
async fn stream_change(
    conn: &Connection,
    stream: &Streaming<'_>,
    state: State,
    writer: &Arc<StateWriter>,
    run: &RunArgs,
    started: Instant,
    ui: Ui,
    progress: &Arc<render::progress::Progress>,
    activity: &Arc<Activity>,
) -> Result<Exit, Error> {
    let request = stream.request;
    if stream.saved.is_none() {
        seed_first(stream.spec, stream.graph, conn, request).await?;
    }
    let (cancel, ctrl_c) = interrupt();
    let ticker = tick(progress);
    let inputs = stream::Inputs {
        spec: stream.spec,
        graph: stream.graph,
        state,
        diff: DiffOptions {
            mode: request.mode,
            targets: request.targets.to_vec(),
            spec_hash: spec_hash(stream.spec, request.spec_args),
        },
        caller: caller_of(conn).await,
        refresh: refresh_options(request.parallelism),
        saved: stream.saved,
    };
    let streamed = stream::run(
        conn.client.clone(),
        inputs,
        writer.clone(),
        &run_options(run, request.parallelism),
        events_to(progress),
        cancel,
        activity.clone(),
        &on_settle_wait,
    )
    .await;
    ctrl_c.abort();
    ticker.abort();
    progress.finish();
    if ui.verbose > 0 {
        if let Some(name) = conn.client.tokens().answered_by() {
            render::diagnostic::info_line(&format!("credential: {name}"));
        }
    }
    let outcome = streamed.outcome;
    // Nothing was changed and the plan could not be made: said as a plan
    // that cannot be made is said (the same errors, before anything runs).
    let began = !outcome.done.is_empty() || !outcome.failed.is_empty();
    if stream.saved.is_none() && !began && outcome.state_error.is_none() {
        if !streamed.read_errors.is_empty() {
            return Err(Error::Refresh(streamed.read_errors));
        }
        if !streamed.plan_errors.is_empty() {
            return Err(Error::Plan(streamed.plan_errors));
        }
    }
    let plan = streamed.plan;
    if stream.saved.is_none() {
        // The plan as it was decided, in the form and with the digest
        // `synlink plan` shows.
        render::summary::stdout(&render::plan::text_with(
            &plan,
            ui.out_color,
            ui.verbose > 0,
        ));
    }
    finish_run(
        &plan,
        &outcome,
        writer,
        request.mode,
        started,
        ui,
        progress.reads(),
        activity,
    )
}

/// The changes' settings of a run.
fn run_options(run: &RunArgs, parallelism: u64) -> apply::Options {
    apply::Options {
        // Enough changes queued for requests to keep every throttle bucket
        // busy, few enough that the most urgent go first.
        max_unbegun: usize::try_from(parallelism)
            .unwrap_or(10)
            .saturating_mul(20),
        propagation_timeout: Duration::from_secs(run.propagation_timeout),
        propagation_poll: Duration::from_secs(3),
    }
}

/// Ctrl-C sets the flag the run watches (no new change starts).
fn interrupt() -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let cancel = Arc::new(AtomicBool::new(false));
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::SeqCst);
                render::diagnostic::info_line("interrupted: no new changes start; waiting for those in flight, then saving the state");
            }
        })
    };
    (cancel, ctrl_c)
}

/// Refreshes the bar's message five times a second.
fn tick(progress: &Arc<render::progress::Progress>) -> tokio::task::JoinHandle<()> {
    let progress = progress.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(200));
        loop {
            every.tick().await;
            progress.tick();
        }
    })
}

fn events_to(progress: &Arc<render::progress::Progress>) -> apply::Events {
    let progress = progress.clone();
    Arc::new(move |e: Event| progress.event(&e)) as apply::Events
}

/// Runs an approved plan, shows progress and the summary, then the outputs.
#[allow(clippy::too_many_arguments)]
async fn execute(
    conn: &Connection,
    plan: &Plan,
    writer: &Arc<StateWriter>,
    run: &RunArgs,
    mode: PlanMode,
    started: Instant,
    ui: Ui,
    progress: &Arc<render::progress::Progress>,
    activity: &Arc<Activity>,
    reads: (usize, Duration),
    parallelism: u64,
) -> Result<Exit, Error> {
    let (cancel, ctrl_c) = interrupt();
    let ticker = tick(progress);
    let outcome = apply::apply(
        conn.client.clone(),
        plan,
        writer.clone(),
        run_options(run, parallelism),
        events_to(progress),
        cancel,
        activity.clone(),
    )
    .await;
    ctrl_c.abort();
    ticker.abort();
    progress.finish();
    finish_run(plan, &outcome, writer, mode, started, ui, reads, activity)
}

/// The outputs, then at `-v` where the time went.
fn outputs_and_times(
    writer: &StateWriter,
    ui: Ui,
    activity: &Activity,
    reads: (usize, Duration),
    started: Instant,
) {
    render_outputs_after(writer);
    if ui.verbose > 0 {
        render::diagnostic::emit(&render::progress::time_summary(
            &activity.spent(),
            reads,
            started.elapsed(),
        ));
    }
}

/// The end of a run: the outputs, `-v`'s time per phase, and the summary last.
#[allow(clippy::too_many_arguments)]
fn finish_run(
    plan: &Plan,
    outcome: &apply::Outcome,
    writer: &Arc<StateWriter>,
    mode: PlanMode,
    started: Instant,
    ui: Ui,
    reads: (usize, Duration),
    activity: &Activity,
) -> Result<Exit, Error> {
    let failed = !outcome.failed.is_empty() || !outcome.refused.is_empty();
    if !plan.has_changes() && !failed && outcome.skipped.is_empty() {
        if let Some(e) = &outcome.state_error {
            return Err(Error::Start(format!("the state could not be written: {e}")));
        }
        if plan.rewrites_state() {
            let s = plan.summary();
            render::diagnostic::info_line(&format!(
                "State updated: {} moved, {} forgotten; nothing was sent to Azure.",
                s.moved, s.forget
            ));
        }
        outputs_and_times(writer, ui, activity, reads, started);
        return Ok(Exit::Success);
    }
    let done = if mode == PlanMode::Destroy {
        "Destroy complete"
    } else {
        "Apply complete"
    };
    // The outputs first, so that the summary is the last thing on the screen.
    outputs_and_times(writer, ui, activity, reads, started);
    render::diagnostic::emit(&render::progress::summary(outcome, started.elapsed(), done));
    Ok(if outcome.interrupted {
        Exit::Interrupted
    } else if failed || outcome.state_error.is_some() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// Asks for `yes` on a terminal; refuses without `--auto-approve` elsewhere.
fn approve(run: &RunArgs, what: &str) -> Result<(), Error> {
    app_state::confirm(
        run.auto_approve,
        what,
        "--auto-approve",
        "not applied: the answer was not 'yes'",
    )
}

/// The outputs after an apply: all of them into a pipe or a file; the first
/// 20 on a terminal, where more would push the summary out of sight
/// (`synlink output` shows them all).
fn render_outputs_after(writer: &StateWriter) {
    let text = render::summary::outputs_text(&writer.snapshot());
    if text.is_empty() {
        return;
    }
    let shown = if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        render::summary::first_lines(&text, 20, "synlink output shows them all")
    } else {
        text
    };
    render::summary::stdout(&format!("\nOutputs:\n{shown}"));
}

fn state_command(cmd: &StateCommand, ui: Ui) -> Result<Exit, Error> {
    let v = ui.verbose;
    let (args, command) = match cmd {
        StateCommand::List(a) => (a, "synlink state list"),
        StateCommand::Show { state, .. } => (state, "synlink state show"),
        StateCommand::Rm { state, .. } => (state, "synlink state rm"),
        StateCommand::Mv { state, .. } => (state, "synlink state mv"),
        StateCommand::Unlock { force, state } => return app_state::unlock(state, *force, v),
        StateCommand::History(a) => return app_state::history(a, v),
        StateCommand::Restore {
            snapshot,
            auto_approve,
            state,
        } => return app_state::restore(state, snapshot, *auto_approve, v),
        StateCommand::Pull(a) => return app_state::pull(a, v),
        StateCommand::Push {
            state_file,
            force,
            state,
        } => return app_state::push(state, state_file, *force, v),
        StateCommand::Migrate(a) => return app_state::migrate(a, v),
    };
    // `rm` edits under the lock; `list` and `show` only read.
    let held = match cmd {
        StateCommand::Rm { .. } | StateCommand::Mv { .. } => {
            Some(app_state::lock_existing(args, command, v)?)
        }
        _ => None,
    };
    let (mut state, location) = match &held {
        Some(h) => (h.lock.read()?, h.lock.describe()),
        None => app_state::read(args, command, v)?,
    };
    let not_in_state = |address: &str| Error::NotInState {
        address: address.to_owned(),
        state: PathBuf::from(&location),
    };
    match cmd {
        StateCommand::List(_) => {
            let mut list = String::new();
            for k in state.resources.keys() {
                list.push_str(k);
                list.push('\n');
            }
            render::summary::stdout(&list);
        }
        StateCommand::Show { address, .. } => {
            let rs = state
                .resources
                .get(address)
                .ok_or_else(|| not_in_state(address))?;
            render::summary::stdout(&format!(
                "{}\n",
                serde_json::to_string_pretty(rs).unwrap_or_default()
            ));
        }
        StateCommand::Rm { address, .. } => {
            let removed = state
                .resources
                .shift_remove(address)
                .ok_or_else(|| not_in_state(address))?;
            if let Some(h) = &held {
                h.lock.write(&mut state)?;
            }
            render::diagnostic::info_line(&format!(
                "removed {address} ({}) from the state; nothing was deleted in Azure",
                removed.id
            ));
        }
        StateCommand::Mv { from, to, .. } => {
            let id = state_move(&mut state, from, to).map_err(|why| match why {
                None => not_in_state(from),
                Some(why) => Error::StateMove {
                    from: from.clone(),
                    to: to.clone(),
                    why,
                },
            })?;
            if let Some(h) = &held {
                h.lock.write(&mut state)?;
            }
            render::diagnostic::info_line(&format!(
                "moved {from} to {to} ({id}) in the state; nothing changed in Azure"
            ));
        }
        // The others returned above.
        _ => {}
    }
    Ok(Exit::Success)
}

/// Renames an address of the state in place; `Err(None)` when `from` is not
/// there, `Err(Some(why))` when the move is refused.
fn state_move(state: &mut State, from: &str, to: &str) -> Result<ArmId, Option<String>> {
    let (Some(old), Some(new)) = (Address::parse(from), Address::parse(to)) else {
        return Err(Some("both must be addresses (section.key)".into()));
    };
    if old.kind != new.kind {
        return Err(Some(format!(
            "a move keeps its section ({} is not {})",
            old.kind, new.kind
        )));
    }
    if state.resources.contains_key(to) {
        return Err(Some(format!("the state already records `{to}`")));
    }
    let index = state.resources.get_index_of(from).ok_or(None)?;
    let (_, rs) = state.resources.shift_remove_index(index).ok_or(None)?;
    let id = rs.id.clone();
    // The same place in the file, so that a diff of the state shows a rename.
    state.resources.shift_insert(index, to.to_owned(), rs);
    for other in state.resources.values_mut() {
        for d in &mut other.dependencies {
            if *d == old {
                d.clone_from(&new);
            }
        }
    }
    Ok(id)
}

fn output(args: &OutputArgs, ui: Ui) -> Result<Exit, Error> {
    let (state, _) = app_state::read(&args.state, "synlink output", ui.verbose)?;
    if args.json {
        render::summary::stdout(&render::summary::outputs_json(&state));
    } else {
        render::summary::stdout(&render::summary::outputs_text(&state));
    }
    Ok(Exit::Success)
}

fn import(args: &ImportArgs, ui: Ui) -> Result<Exit, Error> {
    let path = args.spec.path();
    let address =
        Address::parse(&args.address).ok_or_else(|| Error::NotAnAddress(args.address.clone()))?;
    let given = ArmId::new(args.arm_id.trim());
    // The id is checked against the spec before anything is opened.
    {
        let (spec, _) = invocation::load(&args.spec, &path, ui.color)?;
        if !spec.resources.contains_key(&address) {
            return Err(Error::NotInSpec {
                address: address.to_string(),
                spec: spec.file.path.clone(),
            });
        }
        plan::import::check(&spec, &address, &given)?;
    }
    let inv = Invocation::open(
        &args.spec,
        &path,
        &args.cloud,
        "synlink import",
        ui.verbose,
        ui.color,
    )?;
    let Invocation {
        spec,
        graph,
        mut state,
        lock,
        runtime,
        conn,
    } = inv;
    let dependencies = graph.dependencies(&address).into_iter().cloned().collect();
    let read = runtime.block_on(plan::import::read(
        &conn.client,
        &spec,
        &state,
        &address,
        &given,
        dependencies,
    ));
    let record = Invocation::close(&runtime, conn, read.map_err(Error::from))?;
    state.resources.insert(address.to_string(), record);
    lock.write(&mut state)?;
    render::diagnostic::info_line(&format!(
        "imported {address} from {given}; run `synlink plan` to see how it differs from the spec"
    ));
    Ok(Exit::Success)
}

fn run_emulator(args: EmulatorArgs) -> Result<Exit, Error> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Start(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(synlink_emulator::serve(args))?;
    Ok(Exit::Success)
}

/// `synlink discover`: reads the scopes, writes a new spec and its state.
fn discover_command(args: &DiscoverArgs, ui: Ui) -> Result<Exit, Error> {
    if args.out.exists() {
        return Err(Error::Exists {
            path: args.out.clone(),
        });
    }
    let state_path = invocation::state_path(&args.out, args.cloud.state.as_ref());
    let lock = invocation::lock_state(
        state_path.clone(),
        "synlink discover",
        args.cloud.lock_timeout,
    )?;
    if !lock.read()?.resources.is_empty() {
        return Err(Error::Exists { path: state_path });
    }
    let local = args.cloud.cloud.as_deref() == Some("local");
    let cloud = if local {
        Cloud::Named(CloudName::Local)
    } else {
        Cloud::Default
    };
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Error::Start(format!("cannot start the async runtime: {e}")))?;
    let conn = runtime.block_on(invocation::connect_at(
        &cloud,
        &args.out,
        &args.cloud,
        ui.verbose,
    ))?;
    let mut options = discover::Options {
        scopes: discover_scopes(args),
        manage_workspaces: args.manage_workspaces,
        prefer_identity: args.prefer_identity,
        parallelism: usize::try_from(args.cloud.parallelism).unwrap_or(10),
        spec_path: args.out.clone(),
        cloud: local.then(|| "local".to_owned()),
        caller: None,
    };
    let found = runtime.block_on(async {
        options.caller = conn
            .client
            .tokens()
            .token(auth::ARM_SCOPE)
            .await
            .ok()
            .and_then(|t| auth::object_id_of(&t.secret));
        discover::discover(conn.client.clone(), &options).await
    });
    let requests = conn.client.stats.requests.load(Ordering::Relaxed);
    let mut found = Invocation::close(&runtime, conn, found.map_err(Error::from))?;
    discover::write_new(&args.out, &found.spec)
        .map_err(|source| Error::Start(format!("cannot write {}: {source}", args.out.display())))?;
    lock.write(&mut found.state)?;
    render::diagnostic::emit(&render::summary::discovery(
        &found.report,
        requests,
        &args.out,
        &state_path,
    ));
    Ok(Exit::Success)
}

/// The subscriptions, or their resource groups, as ARM ids.
fn discover_scopes(args: &DiscoverArgs) -> Vec<ArmId> {
    args.subscriptions
        .iter()
        .flat_map(|sub| {
            if args.resource_groups.is_empty() {
                vec![ArmId::new(format!("/subscriptions/{sub}"))]
            } else {
                args.resource_groups
                    .iter()
                    .map(|rg| ArmId::resource_group_id(sub, rg))
                    .collect()
            }
        })
        .collect()
}
