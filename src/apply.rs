//! The executor: runs a plan's changes, and only those, over a graph built
//! from the plan alone (each change's `depends_on`, and ids: a child's delete
//! before its parent's, a freed name's delete before its reuse). It never sees
//! the spec: the requests, ids and the sources of values known only after
//! apply are all in the plan, so a saved plan runs exactly as reviewed.
//!
//! Creates and updates go in dependency order, deletes in reverse (dependents
//! first), a replace is a delete then a create. Independent changes run
//! concurrently under a semaphore; writes that share a provider's write lock
//! (one AML workspace) are serialised. Outputs of finished changes (a new
//! link's principal id) fill the requests that wait for them. Reads,
//! adoptions, moves and forgets only write the state; a change that also
//! moves its address drops the old one in the write that records the new. The
//! state is written after every finished change; a failed change skips only
//! its dependents; a lost state lock (a broken or expired lease) or a failed
//! write starts no new change, and those in flight finish. The executor never
//! prints: it emits `Event`s.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::addr::{Address, ArmId};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::plan::{Action, Change, Plan};
use crate::provider::{self, ApplyContext, Fill, Outputs, Request};
use crate::state::writer::StateWriter;
use crate::state::ResourceState;

/// Something that happened during an apply, for progress output.
#[derive(Debug, Clone)]
pub enum Event {
    /// A change started.
    Started {
        /// Its address.
        address: Address,
        /// Its action.
        action: Action,
    },
    /// A change finished.
    Finished {
        /// Its address.
        address: Address,
        /// Its action.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// A change failed.
    Failed {
        /// Its address.
        address: Address,
        /// Its action.
        action: Action,
        /// Azure's error (code and message).
        error: String,
    },
    /// A change was not attempted because something it needs failed.
    Skipped {
        /// Its address.
        address: Address,
        /// The address that failed, and why.
        cause: String,
    },
    /// A change is waiting for something outside synlink (identity propagation).
    Waiting {
        /// Its address.
        address: Address,
        /// What it waits for.
        message: String,
    },
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Changes under way at once (their requests are bounded by the client).
    pub parallelism: usize,
    /// The longest wait for a new identity to be usable (propagation gate).
    pub propagation_timeout: Duration,
    /// Poll interval inside the propagation gate.
    pub propagation_poll: Duration,
}

/// A change that failed, and why.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Its address.
    pub address: Address,
    /// Its action.
    pub action: Action,
    /// The request that failed, when one did.
    pub request: Option<String>,
    /// What went wrong, without the request: failures with one cause (a
    /// missing right on every write) are reported together.
    pub cause: String,
    /// What to do about it.
    pub hint: Option<&'static str>,
}

/// How the run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Changes done, in completion order.
    pub done: Vec<(Address, Action)>,
    /// Changes that failed, with Azure's error.
    pub failed: Vec<Failure>,
    /// Changes skipped, with the cause.
    pub skipped: Vec<(Address, String)>,
    /// Whether Ctrl-C stopped the scheduling.
    pub interrupted: bool,
    /// A state write that failed (the run stops at once then).
    pub state_error: Option<String>,
}

/// The dependencies between the plan's own changes, by index: each change
/// lists the changes that must finish before it starts.
///
/// Creates and updates wait for the changes of what they depend on, and for
/// deletes of the same kind under the same parent (a freed name may be
/// reused). A delete waits for the deletes of what depends on it: the deletes
/// whose `depends_on` name it, and the deletes of its children by id (for what
/// only the state still knows). A change also waits for every change its
/// `waits_for` names (a delete that would leave a pool unusable waits for what
/// replaces it), and a create never waits for such a delete.
/// Every rule is per resource, so a thousand teams run side by side.
pub fn dependencies(plan: &Plan) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let parent = |c: &Change| c.id.as_ref().and_then(ArmId::parent);
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); plan.changes.len()];
    let mut deletes_by_id: HashMap<&ArmId, usize> = HashMap::new();
    let mut deletes_by_parent_kind: HashMap<
        (Option<ArmId>, crate::addr::ResourceKind),
        Vec<usize>,
    > = HashMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if c.action == Action::Delete {
            if let Some(id) = &c.id {
                deletes_by_id.insert(id, i);
            }
            deletes_by_parent_kind
                .entry((parent(c), c.kind))
                .or_default()
                .push(i);
        }
    }
    for (i, c) in plan.changes.iter().enumerate() {
        match c.action {
            Action::Delete => {
                // `c` must wait until nothing needs what it deletes: for each of
                // its own dependencies that is deleted too, that delete waits for `c`.
                for dep in &c.depends_on {
                    if let Some(&d) = index
                        .get(dep)
                        .filter(|&&d| plan.changes[d].action == Action::Delete)
                    {
                        deps[d].push(i);
                    }
                }
                if let Some(&p) = parent(c).as_ref().and_then(|p| deletes_by_id.get(p)) {
                    if !deps[p].contains(&i) {
                        deps[p].push(i);
                    }
                }
            }
            Action::Create | Action::Update | Action::Replace => {
                deps[i].extend(
                    c.depends_on
                        .iter()
                        .filter_map(|a| index.get(a).copied())
                        .filter(|&d| plan.changes[d].action.writes())
                        .filter(|&d| plan.changes[d].action != Action::Delete),
                );
                if let Some(same) = deletes_by_parent_kind.get(&(parent(c), c.kind)) {
                    // Not a delete that waits for other changes (make before
                    // break): it frees no name a create needs, and waiting
                    // for it could close a circle.
                    deps[i].extend(
                        same.iter()
                            .copied()
                            .filter(|&d| d != i && plan.changes[d].waits_for.is_empty()),
                    );
                }
            }
            Action::Read | Action::Adopt | Action::Move | Action::Forget | Action::NoOp => {}
        }
        for w in &c.waits_for {
            if let Some(&d) = index.get(w) {
                if d != i && !deps[i].contains(&d) {
                    deps[i].push(d);
                }
            }
        }
    }
    deps
}

/// What every task shares.
struct Shared {
    ctx: ApplyContext,
    /// Outputs known so far (principal ids), by address.
    outputs: Mutex<HashMap<Address, Outputs>>,
    /// One lock per provider write lock (an AML workspace): writes under it are serialised.
    write_locks: Mutex<HashMap<ArmId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    fn write_lock(&self, id: &ArmId) -> Arc<tokio::sync::Mutex<()>> {
        self.write_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.clone())
            .or_default()
            .clone()
    }

    /// The value a fill stands for, now.
    fn resolve(&self, fill: &Fill) -> Result<Value, String> {
        match fill {
            Fill::Output { address, key } => self
                .outputs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(address)
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .map(|v| Value::String(v.to_ascii_lowercase()))
                .ok_or_else(|| format!("`{fill}` is not known: {address} reported no {key} (does it have an identity?)")),
            Fill::Env { var } => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Value::String)
                .ok_or_else(|| format!("the environment variable `{var}` is not set (or is empty)")),
        }
    }
}

/// The state's record of a change, once done.
fn record(
    change: &Change,
    id: ArmId,
    shared: &Shared,
    outputs: Outputs,
) -> Result<ResourceState, String> {
    let mut properties = change.after.clone().unwrap_or_default();
    for (path, fill) in &change.sources {
        properties.insert(path.clone(), shared.resolve(fill)?);
    }
    Ok(ResourceState {
        kind: change.kind,
        id,
        existing: change.action == Action::Read,
        properties,
        outputs,
        dependencies: change.depends_on.clone(),
    })
}

/// The request with its fills done.
fn filled(request: &Request, shared: &Shared) -> Result<Request, String> {
    let mut out = request.clone();
    for (pointer, fill) in &request.fill {
        let value = shared.resolve(fill)?;
        if let Some(slot) = out.body.pointer_mut(pointer) {
            *slot = value;
            continue;
        }
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        let target = if parent.is_empty() {
            Some(&mut out.body)
        } else {
            out.body.pointer_mut(parent)
        };
        match target.and_then(Value::as_object_mut) {
            Some(object) => {
                object.insert(key.to_owned(), value);
            }
            None => return Err(format!("the request has no place for {pointer}")),
        }
    }
    out.fill.clear();
    Ok(out)
}

fn unexpected(change: &Change, message: String) -> CloudError {
    CloudError::Unexpected {
        path: change.address.to_string(),
        message,
    }
}

/// How a change's task ended: `None` when it did not start (the state lock
/// was lost while it waited).
type Ran = Option<Result<Option<ResourceState>, CloudError>>;

/// The provider's write lock a change must hold (writes under one AML
/// workspace go one at a time).
fn write_lock_of(shared: &Shared, change: &Change) -> Option<Arc<tokio::sync::Mutex<()>>> {
    let id = change.id.as_ref()?;
    provider::of(change.kind)
        .write_lock(id)
        .map(|l| shared.write_lock(&l))
}

/// Runs one change, its write lock held by the caller; returns what the
/// state should hold for it afterwards (`None`: forget it).
async fn run_change(shared: &Shared, change: &Change) -> Result<Option<ResourceState>, CloudError> {
    let p = provider::of(change.kind);
    let id = change
        .id
        .clone()
        .ok_or_else(|| unexpected(change, "the plan gives this change no id".into()))?;
    let ctx = &shared.ctx;
    if matches!(change.action, Action::Delete | Action::Replace) {
        p.delete(ctx, &id).await?;
        if change.action == Action::Delete {
            return Ok(None);
        }
    }
    let request = change
        .request
        .as_ref()
        .ok_or_else(|| unexpected(change, "the plan gives this change no request".into()))?;
    let request = filled(request, shared).map_err(|m| unexpected(change, m))?;
    let target = change.replacement_id.clone().unwrap_or(id);
    let applied = p.write(ctx, &change.address, &target, &request).await?;
    if !applied.outputs.is_empty() {
        shared
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(change.address.clone(), applied.outputs.clone());
    }
    record(change, applied.id, shared, applied.outputs)
        .map(Some)
        .map_err(|m| unexpected(change, m))
}

/// Runs the plan. `cancel` is set by Ctrl-C.
pub async fn apply(
    client: Arc<Client>,
    plan: &Plan,
    state: Arc<StateWriter>,
    options: Options,
    events: Arc<dyn Fn(Event) + Send + Sync>,
    cancel: Arc<AtomicBool>,
) -> Outcome {
    let waiting = {
        let events = events.clone();
        Box::new(move |address: &Address, message: String| {
            events(Event::Waiting {
                address: address.clone(),
                message,
            });
        }) as provider::OnWaiting
    };
    let outputs: HashMap<Address, Outputs> = plan
        .changes
        .iter()
        .filter(|c| !c.outputs.is_empty())
        .map(|c| (c.address.clone(), c.outputs.clone()))
        .collect();
    let shared = Arc::new(Shared {
        ctx: ApplyContext::new(
            client,
            options.propagation_timeout,
            options.propagation_poll,
            waiting,
        ),
        outputs: Mutex::new(outputs),
        write_locks: Mutex::new(HashMap::new()),
    });
    let mut outcome = Outcome::default();

    // Reads, adoptions, moves and forgets touch only the state: recorded
    // first, in one write, and only what is new (so a run with nothing to do
    // leaves the state, and its serial that saved plans check, as it is).
    let current = state.snapshot();
    let mut records: Vec<(String, ResourceState)> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for c in plan.changes.iter().filter(|c| c.action.only_state()) {
        if let Some(previous) = &c.previous_address {
            dropped.push(previous.to_string());
        }
        if c.action == Action::Forget {
            dropped.push(c.address.to_string());
            continue;
        }
        let Some(rs) =
            c.id.clone()
                .and_then(|id| record(c, id, &shared, c.outputs.clone()).ok())
        else {
            continue;
        };
        let address = c.address.to_string();
        if current.resources.get(&address) != Some(&rs) {
            records.push((address, rs));
        }
    }
    dropped.retain(|a| current.resources.contains_key(a));
    let renames: HashMap<Address, Address> = plan
        .changes
        .iter()
        .filter_map(|c| Some((c.previous_address.clone()?, c.address.clone())))
        .collect();
    if !records.is_empty() || !dropped.is_empty() {
        let write = state.update(|s| {
            for a in &dropped {
                s.resources.shift_remove(a);
            }
            s.resources.extend(records);
            // What the others depend on, under the new addresses.
            for rs in s.resources.values_mut() {
                for d in &mut rs.dependencies {
                    if let Some(new) = renames.get(d) {
                        d.clone_from(new);
                    }
                }
            }
        });
        if let Err(e) = write {
            outcome.state_error = Some(e.to_string());
        }
    }
    for c in plan.changes.iter().filter(|c| {
        c.action == Action::Forget || (c.action == Action::Move && c.previous_address.is_some())
    }) {
        outcome.done.push((c.address.clone(), c.action));
    }

    let deps = dependencies(plan);
    let is_work: Vec<bool> = plan.changes.iter().map(|c| c.action.writes()).collect();
    let work: Vec<usize> = (0..plan.changes.len()).filter(|&i| is_work[i]).collect();
    // Kahn's algorithm: each change counts what it still waits for, and
    // becomes ready when that reaches zero.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); plan.changes.len()];
    let mut waiting: Vec<usize> = vec![0; plan.changes.len()];
    for &i in &work {
        for &d in &deps[i] {
            if is_work[d] {
                dependents[d].push(i);
                waiting[i] += 1;
            }
        }
    }
    let mut ready: VecDeque<usize> = work.iter().copied().filter(|&i| waiting[i] == 0).collect();
    let mut settled: HashSet<usize> = HashSet::new();
    let limit = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut running: JoinSet<(usize, Duration, Ran)> = JoinSet::new();

    loop {
        // A state lock that is lost (a remote lease broken or expired) stops
        // the run as a failed write does: no new change starts, those in
        // flight finish, and nothing more is written.
        if outcome.state_error.is_none() {
            if let Err(e) = state.check_lock() {
                outcome.state_error = Some(e.to_string());
            }
        }
        if !cancel.load(Ordering::SeqCst) && outcome.state_error.is_none() {
            while let Some(i) = ready.pop_front() {
                let (shared, limit, change, events, gate) = (
                    shared.clone(),
                    limit.clone(),
                    plan.changes[i].clone(),
                    events.clone(),
                    state.clone(),
                );
                running.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let _write = match write_lock_of(&shared, &change) {
                        Some(l) => Some(l.lock_owned().await),
                        None => None,
                    };
                    // It may have waited: the lock is checked again just
                    // before the change starts.
                    if gate.check_lock().is_err() {
                        return (i, Duration::ZERO, None);
                    }
                    events(Event::Started {
                        address: change.address.clone(),
                        action: change.action,
                    });
                    let started = Instant::now();
                    let result = run_change(&shared, &change).await;
                    (i, started.elapsed(), Some(result))
                });
            }
        }
        if running.is_empty() {
            break;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, elapsed, result) = match joined {
            Ok((i, elapsed, Some(result))) => (i, elapsed, result),
            // Not started: the lock was lost (reported above on the next turn).
            Ok((_, _, None)) => continue,
            Err(e) => {
                outcome.state_error = Some(format!("a task failed: {e}"));
                continue;
            }
        };
        settled.insert(i);
        let change = &plan.changes[i];
        match result {
            Ok(recorded) => {
                let address = change.address.to_string();
                let previous = change.previous_address.as_ref().map(ToString::to_string);
                let write = state.update(|s| {
                    // A moved resource leaves its old address in the same write.
                    if let Some(previous) = &previous {
                        s.resources.shift_remove(previous);
                    }
                    match recorded {
                        Some(rs) => {
                            s.resources.insert(address, rs);
                        }
                        None => {
                            s.resources.shift_remove(&address);
                        }
                    }
                });
                if let Err(e) = write {
                    outcome.state_error = Some(e.to_string());
                }
                outcome.done.push((change.address.clone(), change.action));
                events(Event::Finished {
                    address: change.address.clone(),
                    action: change.action,
                    elapsed,
                });
                for &j in &dependents[i] {
                    waiting[j] -= 1;
                    if waiting[j] == 0 && !settled.contains(&j) {
                        ready.push_back(j);
                    }
                }
            }
            Err(e) => {
                outcome.failed.push(Failure {
                    address: change.address.clone(),
                    action: change.action,
                    request: e.request(),
                    cause: e.cause(),
                    hint: e.hint(),
                });
                events(Event::Failed {
                    address: change.address.clone(),
                    action: change.action,
                    error: e.to_string(),
                });
                // Everything that needs it, directly or not, is skipped, naming this failure.
                let mut stack: Vec<usize> = dependents[i].clone();
                while let Some(j) = stack.pop() {
                    if settled.insert(j) {
                        let cause = format!("{} failed", change.address);
                        outcome
                            .skipped
                            .push((plan.changes[j].address.clone(), cause.clone()));
                        events(Event::Skipped {
                            address: plan.changes[j].address.clone(),
                            cause,
                        });
                        stack.extend(dependents[j].iter().copied());
                    }
                }
            }
        }
    }
    if let Err(e) = state.flush() {
        // A lost lock says what happened better than the write it refused.
        let why = state
            .check_lock()
            .err()
            .map_or(e.to_string(), |l| l.to_string());
        outcome.state_error.get_or_insert(why);
    }
    let unstarted: Vec<usize> = work
        .iter()
        .copied()
        .filter(|i| !settled.contains(i))
        .collect();
    if cancel.load(Ordering::SeqCst) && !unstarted.is_empty() {
        outcome.interrupted = true;
    }
    for i in unstarted {
        let cause = if outcome.interrupted {
            "interrupted"
        } else {
            "not started"
        };
        outcome
            .skipped
            .push((plan.changes[i].address.clone(), cause.into()));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::dependencies;
    use crate::addr::{Address, ArmId};
    use crate::plan::{Action, Change, Plan, PlanMode, PLAN_FORMAT_VERSION};

    const ML: &str = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/ml";

    fn change(address: &str, action: Action, id: &str, depends_on: &[&str]) -> Change {
        Change {
            id: Some(ArmId::new(id)),
            depends_on: depends_on
                .iter()
                .map(|a| Address::parse(a).expect("address"))
                .collect(),
            ..Change::new(Address::parse(address).expect("address"), action)
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            synlink_version: "0".into(),
            digest: String::new(),
            spec_path: String::new(),
            spec_hash: String::new(),
            state_lineage: String::new(),
            state_serial: 0,
            mode: PlanMode::Normal,
            targets: Vec::new(),
            changes,
            drift: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn creates_wait_for_what_they_depend_on_and_reads_are_not_waited_for() {
        let p = plan(vec![
            change("ml_workspaces.ml", Action::Read, ML, &[]),
            change(
                "links.a",
                Action::Create,
                &format!("{ML}/linkedServices/a"),
                &["ml_workspaces.ml"],
            ),
            change(
                "role_grants.a",
                Action::Create,
                "/subscriptions/s/w/roleAssignments/1",
                &["links.a"],
            ),
            change(
                "attachments.a",
                Action::Create,
                &format!("{ML}/computes/a"),
                &["ml_workspaces.ml", "role_grants.a"],
            ),
        ]);
        let deps = dependencies(&p);
        assert!(deps[0].is_empty());
        assert!(deps[1].is_empty(), "a read is not work to wait for");
        assert_eq!(deps[2], vec![1]);
        assert_eq!(deps[3], vec![2]);
    }

    #[test]
    fn deletes_go_dependents_first_and_children_before_parents() {
        let p = plan(vec![
            change("ml_workspaces.ml", Action::Delete, ML, &[]),
            change(
                "links.a",
                Action::Delete,
                &format!("{ML}/linkedServices/a"),
                &["ml_workspaces.ml"],
            ),
            // Known only to the state: no depends_on, found by its id.
            change(
                "attachments.old",
                Action::Delete,
                &format!("{ML}/computes/old"),
                &[],
            ),
        ]);
        let deps = dependencies(&p);
        assert!(deps[0].contains(&1), "the workspace waits for its link");
        assert!(deps[0].contains(&2), "and for its child known by id");
        assert!(deps[1].is_empty() && deps[2].is_empty());
    }

    #[test]
    fn a_create_waits_for_the_delete_that_frees_its_name() {
        let p = plan(vec![
            change(
                "attachments.old",
                Action::Delete,
                &format!("{ML}/computes/old"),
                &[],
            ),
            change(
                "attachments.new",
                Action::Create,
                &format!("{ML}/computes/new"),
                &[],
            ),
        ]);
        assert_eq!(dependencies(&p)[1], vec![0]);
    }
}
