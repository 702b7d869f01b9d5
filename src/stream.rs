//! Streaming apply: reading Azure, deciding the plan and applying it at once.
//! Every resource's change starts as soon as its own reads and its
//! dependencies are done, not when the whole refresh is, so ARM's read,
//! write and delete buckets work at the same time.
//!
//! Reads come from a `refresh::Reader` (the reads most of the plan waits on
//! first, then team by team), decisions from a `plan::stream::Planner` (the
//! same diff and preflight as a whole plan, per slice), and changes run on
//! the `Engine`. A change is added to the engine once what it waits for is:
//! a create or update after its dependencies (decided before it, always);
//! a delete after everything that depends on it or lives under it has been
//! decided, and, where that is deleted too, after that delete.
//!
//! A fresh plan (`--auto-approve`) applies what it decides; the plan that
//! results is returned whole, ordered and sealed as `synlink plan` would
//! show it. A saved plan is checked change by change against the decision a
//! fresh plan makes now for the same address, just in time: a change that
//! matches in every field that shapes what apply does runs (the saved one);
//! one that does not is refused, naming the first difference, and what
//! depends on it is skipped; the rest of the plan goes on.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::Value;
use tokio::task::JoinSet;

use crate::addr::{Address, ArmId};
use crate::apply::{Engine, Event, Events, Failure, Options, Outcome, Status};
use crate::cloud::activity::Activity;
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::graph::Graph;
use crate::plan::diff::{DiffOptions, PlanError};
use crate::plan::refresh::{self, OnWait, Reader};
use crate::plan::stream::{Decision, Planner};
use crate::plan::{verify, Action, Change, Plan};
use crate::spec::LoadedSpec;
use crate::state::writer::StateWriter;
use crate::state::State;

/// What a streaming run reads and decides from.
pub struct Inputs<'a> {
    /// The spec.
    pub spec: &'a LoadedSpec,
    /// Its dependency graph.
    pub graph: &'a Graph,
    /// The state as the run found it (plans are made against it; each
    /// record is dropped once nothing still to be decided needs it).
    pub state: State,
    /// The mode, targets and spec hash of the plan.
    pub diff: DiffOptions,
    /// The caller's object id (preflight).
    pub caller: Option<String>,
    /// Reads under way at once.
    pub refresh: refresh::Options,
    /// A saved plan to check change by change (`None`: apply what is decided).
    pub saved: Option<&'a Plan>,
}

/// How a streaming run ended.
#[derive(Debug)]
pub struct Streamed {
    /// What was applied, failed, refused and skipped.
    pub outcome: Outcome,
    /// The plan decided (for a saved plan: the saved plan).
    pub plan: Plan,
    /// Reads that failed.
    pub read_errors: Vec<CloudError>,
    /// Addresses the plan refused (the errors a whole plan would have stopped on).
    pub plan_errors: Vec<PlanError>,
}

/// Deletes waiting for what depends on them to be decided.
#[derive(Default)]
struct Gates {
    /// A held delete, what it waits for, and how many of those are not settled.
    held: Vec<(Option<Arc<Change>>, Vec<Address>, usize)>,
    /// Held deletes by an address they wait for.
    waiting_on: HashMap<Address, Vec<usize>>,
}

/// The streaming run's own bookkeeping.
struct Run<'a> {
    planner: Planner<'a>,
    engine: Engine,
    saved: Option<HashMap<Address, &'a Change>>,
    gates: Gates,
    plan_errors: Vec<PlanError>,
    /// Reads and adoptions, recorded in the state when the run ends.
    state_only: Vec<Arc<Change>>,
}

impl Run<'_> {
    /// Takes decisions: checks saved changes, records state-only ones, adds
    /// the rest to the engine.
    fn take(&mut self, released: Vec<(Address, Decision)>) {
        for (address, decision) in released {
            let decision = match &self.saved {
                Some(saved) => {
                    let saved = saved.get(&address).copied();
                    // What depends on a refused change is skipped, naming it,
                    // rather than compared (it would differ for that reason).
                    let after = saved.map(|s| s.depends_on.as_slice()).or(match &decision {
                        Decision::Change(f) => Some(f.depends_on.as_slice()),
                        _ => None,
                    });
                    let refused = after.and_then(|deps| {
                        deps.iter()
                            .find(|d| self.engine.status(d) == Some(Status::Failed))
                            .cloned()
                    });
                    match refused {
                        Some(d) if saved.is_some() => {
                            Decision::Skipped(format!("{d} was refused or failed"))
                        }
                        _ => check(saved, &address, decision),
                    }
                }
                None => decision,
            };
            match decision {
                Decision::Change(c) if c.action.only_state() => {
                    // A saved plan's outputs are all known from the start.
                    if self.saved.is_none() {
                        self.engine.know_outputs(std::iter::once(&*c));
                    }
                    self.state_only.push(c);
                    self.settled(&address);
                }
                Decision::Change(c) if c.action == Action::Delete => self.hold(c),
                Decision::Change(c) => {
                    let after = c.depends_on.clone();
                    self.engine.add(c, &after);
                    self.settled(&address);
                }
                Decision::Nothing => self.settled(&address),
                Decision::Failed(e) => {
                    self.engine.refuse(Failure {
                        address: address.clone(),
                        action: None,
                        request: None,
                        cause: e.message.clone(),
                        hint: e.hint.clone(),
                    });
                    if self.saved.is_none() {
                        // A plan that cannot be made whole stops here, as it
                        // always did: nothing new starts (and when nothing
                        // began yet, nothing at all is written).
                        self.engine.halt("the plan cannot be made");
                        self.plan_errors.push(e);
                    }
                    self.settled(&address);
                }
                Decision::Skipped(cause) => {
                    self.engine.skip(address.clone(), cause);
                    self.settled(&address);
                }
            }
        }
    }

    /// A delete waits for every gate of it to be decided (and, when deleted
    /// too, added to the engine first).
    fn hold(&mut self, c: Arc<Change>) {
        let gates = self.planner.delete_gates(&c.address);
        let open: Vec<Address> = gates
            .iter()
            .filter(|g| !self.is_settled(g))
            .cloned()
            .collect();
        if open.is_empty() {
            let address = c.address.clone();
            self.engine.add(c, &gates);
            self.settled(&address);
            return;
        }
        let h = self.gates.held.len();
        for g in &open {
            self.gates.waiting_on.entry(g.clone()).or_default().push(h);
        }
        self.gates.held.push((Some(c), gates, open.len()));
    }

    /// Whether `address` no longer holds back a delete of what it depends on.
    fn is_settled(&self, address: &Address) -> bool {
        match self.planner.decision(address) {
            None => false,
            Some(Decision::Change(c)) if c.action == Action::Delete => {
                self.engine.status(address).is_some()
            }
            Some(_) => true,
        }
    }

    /// `address` was decided and, when it is a delete, added: the deletes it
    /// held back may go.
    fn settled(&mut self, address: &Address) {
        let mut stack = vec![address.clone()];
        while let Some(a) = stack.pop() {
            for h in self.gates.waiting_on.remove(&a).unwrap_or_default() {
                let entry = &mut self.gates.held[h];
                entry.2 = entry.2.saturating_sub(1);
                if entry.2 == 0 {
                    let Some(c) = entry.0.take() else {
                        continue;
                    };
                    let gates = std::mem::take(&mut entry.1);
                    let released = c.address.clone();
                    self.engine.add(c, &gates);
                    stack.push(released);
                }
            }
        }
    }
}

/// The start of a saved-plan refusal's message.
const REFUSED: &str = "Azure changed since the plan was made";

/// A saved plan's change for `address` against a fresh decision: the saved
/// change when they agree, a refusal naming the first difference otherwise.
fn check(saved: Option<&Change>, address: &Address, fresh: Decision) -> Decision {
    let refuse = |why: String| {
        Decision::Failed(PlanError {
            address: address.to_string(),
            message: format!("{REFUSED}: {why}"),
            hint: Some("make a new plan and review it".into()),
        })
    };
    match (saved, fresh) {
        (Some(s), Decision::Change(f)) => match verify::first_difference(s, &f) {
            None => Decision::Change(Arc::new(s.clone())),
            Some(d) => refuse(d.replacen(&format!("{address}: "), "", 1)),
        },
        (Some(s), Decision::Nothing) => refuse(format!(
            "the saved plan would {} it, a fresh plan has nothing to do",
            serde_json::to_string(&s.action).unwrap_or_default()
        )),
        (None, Decision::Change(f)) => refuse(format!(
            "a fresh plan would {} it, and the saved plan does not",
            serde_json::to_string(&f.action).unwrap_or_default()
        )),
        (_, other) => other,
    }
}

/// Reads, decides and applies at once; see the file's header.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: Arc<Client>,
    inputs: Inputs<'_>,
    writer: Arc<StateWriter>,
    options: &Options,
    events: Events,
    cancel: Arc<AtomicBool>,
    activity: Arc<Activity>,
    on_wait: OnWait<'_>,
) -> Streamed {
    let mut reader = Reader::new(client.clone(), inputs.spec, &inputs.state, inputs.refresh);
    let planner = Planner::new(
        inputs.spec,
        inputs.graph,
        inputs.state,
        inputs.diff.clone(),
        inputs.caller.clone(),
        reader.units(),
    );
    reader.prioritize(|u| planner.read_priority(u));
    reader.count_in(activity.clone());
    let engine = Engine::new(
        client.clone(),
        writer,
        options,
        events.clone(),
        cancel,
        activity,
    );
    let mut run = Run {
        planner,
        engine,
        saved: inputs
            .saved
            .map(|p| p.changes.iter().map(|c| (c.address.clone(), c)).collect()),
        gates: Gates::default(),
        plan_errors: Vec::new(),
        state_only: Vec::new(),
    };
    if let Some(saved) = inputs.saved {
        run.engine.know_outputs(saved.changes.iter());
    }
    let mut permissions: JoinSet<(ArmId, Result<Vec<Value>, CloudError>)> = JoinSet::new();
    let mut reading = true;
    let mut read_errors: Vec<CloudError> = Vec::new();
    loop {
        run.planner.decide(reader.observed());
        for id in run.planner.permissions_to_read(reader.observed()) {
            permissions.spawn(refresh::permissions_of(client.clone(), id));
        }
        let released = run.planner.release(reader.observed());
        run.take(released);
        for unit in run.planner.take_spent() {
            reader.forget(&unit);
        }
        // Once nothing new may start (Ctrl-C, a lost lock), reading on is useless.
        if !run.engine.start_ready() {
            reading = false;
        }
        let (held_back, begun) = (run.engine.held_back(), run.engine.begun_signal());
        tokio::select! {
            completed = reader.next(on_wait), if reading => match completed {
                Some(mut completed) => {
                    // Every read already in joins this one: one slice of the
                    // plan is decided for all of them.
                    for _ in 0..256 {
                        match futures::FutureExt::now_or_never(reader.next(on_wait)) {
                            Some(Some(more)) => completed.extend(more),
                            Some(None) => {
                                reading = false;
                                break;
                            }
                            None => break,
                        }
                    }
                    for (_, result) in &completed {
                        if let Err(e) = result {
                            read_errors.push(e.clone());
                        }
                    }
                    run.planner.read(&completed);
                    let (done, total) = reader.progress();
                    events(Event::Reading { done, total });
                }
                None => reading = false,
            },
            Some(joined) = permissions.join_next(), if !permissions.is_empty() => {
                if let Ok((id, result)) = joined {
                    match result {
                        Ok(items) => {
                            reader.observed_mut().permissions.insert(id, items);
                        }
                        Err(e) => run.planner.permissions_failed(id, &e),
                    }
                }
            }
            _ = run.engine.next(), if run.engine.busy() => {}
            () = begun.notified(), if held_back => {}
            else => break,
        }
    }
    // Reads and adoptions are recorded at the end, in one write, unless the
    // run only met problems before it changed anything (a plan refused
    // whole writes nothing, as before).
    let refused_whole =
        !run.engine.began() && (!read_errors.is_empty() || !run.plan_errors.is_empty());
    if !refused_whole && !run.state_only.is_empty() {
        let state_only = std::mem::take(&mut run.state_only);
        run.engine
            .record_state_only(state_only.iter().map(|c| &**c));
    }
    // Everything is read and decided: what was read is no longer needed.
    drop(reader);
    let unchecked: Vec<Address> = inputs
        .saved
        .map(|saved| {
            saved
                .changes
                .iter()
                .filter(|c| run.planner.decision(&c.address).is_none())
                .map(|c| c.address.clone())
                .collect()
        })
        .unwrap_or_default();
    let Run {
        planner,
        engine,
        plan_errors,
        ..
    } = run;
    let mut outcome = engine.finish();
    let plan = match inputs.saved {
        Some(saved) => saved.clone(),
        None => planner.into_plan(),
    };
    // Changes of the saved plan that were never checked (the run stopped
    // before their reads were in) were not applied either.
    for address in unchecked {
        outcome.skipped.push((
            address,
            "not checked against Azure: the run stopped first".into(),
        ));
    }
    Streamed {
        outcome,
        plan,
        read_errors,
        plan_errors,
    }
}
