//! The executor: runs a plan's changes, and only those, over a graph built
//! from the plan alone (each change's `depends_on`, and ids: a child's delete
//! before its parent's, a freed name's delete before its reuse). It never sees
//! the spec: the requests, ids and the sources of values known only after
//! apply are all in the plan, so a saved plan runs exactly as reviewed.
//!
//! Creates and updates go in dependency order, deletes in reverse (dependents
//! first), a replace is a delete then a create. Changes whose dependencies
//! are done start at once; what bounds the work is the client (requests on the
//! wire, `--parallelism`, and its throttle buckets), so a change waiting on a
//! long-running operation holds nothing. Each change's requests queue in the
//! throttle by its class (kind and action): a class whose requests start
//! long-running operations goes first (the client raises it), so attaches
//! and detaches start as early as they can. Writes that share a provider's
//! write lock (one AML workspace) are serialised. Outputs of finished changes
//! (a new link's principal id) fill the requests that wait for them. Reads,
//! adoptions, moves and forgets only write the state; a change that also moves
//! its address drops the old one in the write that records the new. The
//! state is written after every finished change; a failed change skips only
//! its dependents; Ctrl-C, a lost state lock (a broken or expired lease) or a
//! failed write starts no new change: a change that has not put a request on
//! the wire yet is dropped, those that have finish.
//!
//! The [`Engine`] takes a whole plan at once ([`apply`]), or change by change
//! as a plan is decided (`src/stream.rs`): a change is added once what it
//! waits for has been added, and changes that could not be planned or were
//! refused are added as failed, so that what depends on them is skipped. The
//! executor never prints: it emits `Event`s.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::addr::{Address, ArmId, ResourceKind};
use crate::cloud::activity::{self, Activity, Class};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::plan::{Action, Change, Plan};
use crate::provider::{self, ApplyContext, Fill, Outputs, Request};
use crate::state::writer::StateWriter;
use crate::state::ResourceState;

/// Something that happened during an apply, for progress output.
#[derive(Debug, Clone)]
pub enum Event {
    /// A change (or an address refused or skipped) joined the run.
    Planned,
    /// A change put its first request on the wire.
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
        /// How long it took, from its first request.
        elapsed: Duration,
        /// Whether it put a request on the wire (`Started` was sent).
        began: bool,
    },
    /// A change failed.
    Failed {
        /// Its address.
        address: Address,
        /// Its action.
        action: Action,
        /// Azure's error (code and message).
        error: String,
        /// Whether it put a request on the wire (`Started` was sent); a fill
        /// it cannot make fails it before.
        began: bool,
    },
    /// A change was not attempted because something it needs failed.
    Skipped {
        /// Its address.
        address: Address,
        /// The address that failed, and why.
        cause: String,
    },
    /// An address that is not applied: it could not be read or planned, or a
    /// saved plan's change that a fresh plan no longer makes.
    Refused {
        /// Its address.
        address: Address,
        /// Why.
        cause: String,
    },
    /// A change is waiting for something outside synlink (identity propagation).
    Waiting {
        /// Its address.
        address: Address,
        /// What it waits for.
        message: String,
    },
    /// Refresh progress: reads done and in all.
    Reading {
        /// Reads done.
        done: usize,
        /// Reads in all.
        total: usize,
    },
}

/// Where events go.
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Changes started that have not put a request on the wire yet (waiting
    /// for a throttle token, a workspace's write lock, a wire slot): beyond
    /// this many, ready changes wait in the engine, in priority order. Changes
    /// waiting on Azure (an operation, propagation) do not count.
    pub max_unbegun: usize,
    /// The longest wait for a new identity to be usable (propagation gate).
    pub propagation_timeout: Duration,
    /// Poll interval inside the propagation gate.
    pub propagation_poll: Duration,
}

/// A change that failed (or was refused), and why.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Its address.
    pub address: Address,
    /// Its action (`None`: it was never planned).
    pub action: Option<Action>,
    /// The request that failed, when one did.
    pub request: Option<String>,
    /// What went wrong, without the request: failures with one cause (a
    /// missing right on every write) are reported together.
    pub cause: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// How the run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Changes done, in completion order.
    pub done: Vec<(Address, Action)>,
    /// Changes that failed, with Azure's error.
    pub failed: Vec<Failure>,
    /// Addresses not applied: not readable, not plannable, or (a saved plan)
    /// no longer what a fresh plan would do.
    pub refused: Vec<Failure>,
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

/// Where a change of the engine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for what it needs.
    Waiting,
    /// Started (it may not have sent anything yet).
    Running,
    /// Done.
    Done,
    /// Failed, refused, or skipped: what needs it is skipped.
    Failed,
}

struct Node {
    address: Address,
    /// The change to run (`None`: a failed or skipped placeholder), shared
    /// with the plan it came from and the task that runs it.
    change: Option<Arc<Change>>,
    waiting: usize,
    dependents: Vec<usize>,
    status: Status,
}

/// How a change's task ended: `None` when it did not start (Ctrl-C or a
/// lost state lock before its first request); else the time from its first
/// request (`None`: it ended without one) and its result.
type Ran = Option<(Option<Duration>, Result<Option<ResourceState>, CloudError>)>;

/// Runs changes as what they wait for is done.
pub struct Engine {
    shared: Arc<Shared>,
    state: Arc<StateWriter>,
    events: Events,
    cancel: Arc<AtomicBool>,
    activity: Arc<Activity>,
    nodes: Vec<Node>,
    by_address: HashMap<Address, usize>,
    /// Ready changes, by class of work (kind and action), each in order.
    ready: Vec<(Arc<Class>, VecDeque<usize>)>,
    classes: HashMap<(ResourceKind, Action), Arc<Class>>,
    /// Changes started that have not put a request on the wire yet.
    unbegun: Arc<AtomicUsize>,
    /// Told when a change puts its first request on the wire (or ends before).
    begun: Arc<tokio::sync::Notify>,
    max_unbegun: usize,
    running: JoinSet<(usize, Ran)>,
    /// Tells the changes not yet begun to give up (Ctrl-C, a lost lock).
    stop: watch::Sender<bool>,
    /// Set when any change puts its first request on the wire.
    began: Arc<AtomicBool>,
    /// Why no new change may start (the plan could not be made).
    halted: Option<String>,
    outcome: Outcome,
}

impl Engine {
    /// An engine for one run; `cancel` is set by Ctrl-C.
    pub fn new(
        client: Arc<Client>,
        state: Arc<StateWriter>,
        options: &Options,
        events: Events,
        cancel: Arc<AtomicBool>,
        activity: Arc<Activity>,
    ) -> Engine {
        let waiting = {
            let events = events.clone();
            Box::new(move |address: &Address, message: String| {
                // A propagation gate pauses after saying so: the task waits
                // on propagation until its next request.
                activity::mark(activity::Phase::Propagation);
                events(Event::Waiting {
                    address: address.clone(),
                    message,
                });
            }) as provider::OnWaiting
        };
        let shared = Arc::new(Shared {
            ctx: ApplyContext::new(
                client,
                options.propagation_timeout,
                options.propagation_poll,
                waiting,
            ),
            outputs: Mutex::new(HashMap::new()),
            write_locks: Mutex::new(HashMap::new()),
        });
        let (stop, _) = watch::channel(false);
        Engine {
            shared,
            state,
            events,
            cancel,
            activity,
            nodes: Vec::new(),
            by_address: HashMap::new(),
            ready: Vec::new(),
            classes: HashMap::new(),
            unbegun: Arc::new(AtomicUsize::new(0)),
            begun: Arc::new(tokio::sync::Notify::new()),
            max_unbegun: options.max_unbegun.max(1),
            running: JoinSet::new(),
            stop,
            began: Arc::new(AtomicBool::new(false)),
            halted: None,
            outcome: Outcome::default(),
        }
    }

    /// No new change starts from now on (those that put a request on the
    /// wire finish): the plan cannot be made whole.
    pub fn halt(&mut self, why: &str) {
        self.halted.get_or_insert_with(|| why.to_owned());
    }

    /// Outputs a plan already knows (of reads and adoptions), for the fills
    /// of the changes that use them.
    pub fn know_outputs<'c>(&self, changes: impl Iterator<Item = &'c Change>) {
        let mut outputs = self
            .shared
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for c in changes.filter(|c| !c.outputs.is_empty()) {
            outputs.insert(c.address.clone(), c.outputs.clone());
        }
    }

    /// Records the changes that touch only the state (reads, adoptions,
    /// moves, forgets), in one write, and only what is new (so a run with
    /// nothing to do leaves the state, and its serial that saved plans check,
    /// as it is).
    pub fn record_state_only<'c>(&mut self, changes: impl Iterator<Item = &'c Change> + Clone) {
        self.know_outputs(changes.clone());
        let current = self.state.snapshot();
        let mut records: Vec<(String, ResourceState)> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        let renames: HashMap<Address, Address> = changes
            .clone()
            .filter_map(|c| Some((c.previous_address.clone()?, c.address.clone())))
            .collect();
        for c in changes.filter(|c| c.action.only_state()) {
            if let Some(previous) = &c.previous_address {
                dropped.push(previous.to_string());
            }
            if c.action == Action::Forget
                || (c.action == Action::Move && c.previous_address.is_some())
            {
                self.outcome.done.push((c.address.clone(), c.action));
            }
            if c.action == Action::Forget {
                dropped.push(c.address.to_string());
                continue;
            }
            let Some(rs) =
                c.id.clone()
                    .and_then(|id| record(c, id, &self.shared, c.outputs.clone()).ok())
            else {
                continue;
            };
            let address = c.address.to_string();
            if current.resources.get(&address) != Some(&rs) {
                records.push((address, rs));
            }
        }
        dropped.retain(|a| current.resources.contains_key(a));
        if records.is_empty() && dropped.is_empty() {
            return;
        }
        let write = self.state.update(|s| {
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
            self.outcome.state_error = Some(e.to_string());
        }
    }

    fn push(&mut self, address: Address, change: Option<Arc<Change>>, status: Status) -> usize {
        (self.events)(Event::Planned);
        let i = self.nodes.len();
        self.by_address.insert(address.clone(), i);
        self.nodes.push(Node {
            address,
            change,
            waiting: 0,
            dependents: Vec::new(),
            status,
        });
        i
    }

    /// Adds every writing change of a whole plan, with the order between them.
    pub fn add_plan(&mut self, plan: &Plan) {
        let deps = dependencies(plan);
        let is_work: Vec<bool> = plan.changes.iter().map(|c| c.action.writes()).collect();
        let mut node_of: Vec<Option<usize>> = vec![None; plan.changes.len()];
        for (i, c) in plan.changes.iter().enumerate() {
            if is_work[i] {
                node_of[i] = Some(self.push(
                    c.address.clone(),
                    Some(Arc::new(c.clone())),
                    Status::Waiting,
                ));
            }
        }
        for (i, d) in deps.iter().enumerate() {
            let Some(n) = node_of[i] else { continue };
            for &j in d {
                if let Some(m) = node_of[j] {
                    self.nodes[m].dependents.push(n);
                    self.nodes[n].waiting += 1;
                }
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].status == Status::Waiting && self.nodes[i].waiting == 0 {
                self.make_ready(i);
            }
        }
    }

    /// Adds one writing change that must wait for the changes of `after`
    /// (addresses already added; others are ignored). When one of them
    /// failed, it is skipped at once.
    pub fn add(&mut self, change: Arc<Change>, after: &[Address]) {
        let address = change.address.clone();
        let blockers: Vec<usize> = after
            .iter()
            .filter_map(|a| self.by_address.get(a).copied())
            .filter(|&j| self.nodes[j].status != Status::Done)
            .collect();
        if let Some(&failed) = blockers
            .iter()
            .find(|&&j| self.nodes[j].status == Status::Failed)
        {
            let cause = format!("{} failed", self.nodes[failed].address);
            self.skip(address, cause);
            return;
        }
        let i = self.push(address, Some(change), Status::Waiting);
        for j in blockers {
            self.nodes[j].dependents.push(i);
            self.nodes[i].waiting += 1;
        }
        if self.nodes[i].waiting == 0 {
            self.make_ready(i);
        }
    }

    /// Queues a change whose dependencies are done, in its class's lane.
    fn make_ready(&mut self, i: usize) {
        let Some(c) = &self.nodes[i].change else {
            return;
        };
        let class = self.class(c.kind, c.action);
        match self.ready.iter_mut().find(|(k, _)| Arc::ptr_eq(k, &class)) {
            Some((_, lane)) => lane.push_back(i),
            None => self.ready.push((class, VecDeque::from([i]))),
        }
    }

    /// The next ready change: the front of the lane whose class has the
    /// highest priority now (kinds whose changes start long-running
    /// operations are raised by the client as soon as one does).
    fn next_ready(&mut self) -> Option<usize> {
        let best = self
            .ready
            .iter()
            .enumerate()
            .filter(|(_, (_, lane))| !lane.is_empty())
            .max_by_key(|(n, (class, _))| (class.priority(), std::cmp::Reverse(*n)))
            .map(|(n, _)| n)?;
        self.ready[best].1.pop_front()
    }

    /// Whether a ready change waits for one started to put a request on the wire.
    pub fn held_back(&self) -> bool {
        self.ready.iter().any(|(_, lane)| !lane.is_empty())
            && self.unbegun.load(Ordering::SeqCst) >= self.max_unbegun
    }

    /// What is told when a started change puts its first request on the
    /// wire (or ends): wait on it while `held_back`.
    pub fn begun_signal(&self) -> Arc<tokio::sync::Notify> {
        self.begun.clone()
    }

    /// Records an address that is not applied (refused, or not plannable):
    /// what waits for it is skipped.
    pub fn refuse(&mut self, failure: Failure) {
        self.push(failure.address.clone(), None, Status::Failed);
        (self.events)(Event::Refused {
            address: failure.address.clone(),
            cause: failure.cause.clone(),
        });
        self.outcome.refused.push(failure);
    }

    /// Records an address skipped because something it needs failed.
    pub fn skip(&mut self, address: Address, cause: String) {
        self.push(address.clone(), None, Status::Failed);
        (self.events)(Event::Skipped {
            address: address.clone(),
            cause: cause.clone(),
        });
        self.outcome.skipped.push((address, cause));
    }

    /// Whether any change has put a request on the wire.
    pub fn began(&self) -> bool {
        self.began.load(Ordering::SeqCst)
    }

    /// Where the change of `address` stands, if it was added.
    pub fn status(&self, address: &Address) -> Option<Status> {
        self.by_address.get(address).map(|&i| self.nodes[i].status)
    }

    /// Whether new changes may start: no Ctrl-C, a state lock still held, no
    /// failed state write. Tells the changes not yet begun to give up otherwise.
    pub fn may_start(&mut self) -> bool {
        if self.outcome.state_error.is_none() {
            if let Err(e) = self.state.check_lock() {
                self.outcome.state_error = Some(e.to_string());
            }
        }
        let go = !self.cancel.load(Ordering::SeqCst)
            && self.outcome.state_error.is_none()
            && self.halted.is_none();
        if !go {
            self.stop.send_if_modified(|s| !std::mem::replace(s, true));
        }
        go
    }

    fn class(&mut self, kind: ResourceKind, action: Action) -> Arc<Class> {
        self.classes
            .entry((kind, action))
            .or_insert_with(|| Arc::new(Class::new(activity::UNDER_WAY)))
            .clone()
    }

    /// Starts every change whose dependencies are done; says whether changes
    /// may still start (`may_start`).
    pub fn start_ready(&mut self) -> bool {
        if !self.may_start() {
            return false;
        }
        while self.unbegun.load(Ordering::SeqCst) < self.max_unbegun {
            let Some(i) = self.next_ready() else {
                break;
            };
            let Some(change) = self.nodes[i].change.clone() else {
                continue;
            };
            self.nodes[i].status = Status::Running;
            let class = self.class(change.kind, change.action);
            self.unbegun.fetch_add(1, Ordering::SeqCst);
            let started = {
                let (events, address, action, began, unbegun, notify) = (
                    self.events.clone(),
                    change.address.clone(),
                    change.action,
                    self.began.clone(),
                    self.unbegun.clone(),
                    self.begun.clone(),
                );
                Arc::new(move || {
                    unbegun.fetch_sub(1, Ordering::SeqCst);
                    notify.notify_one();
                    began.store(true, Ordering::SeqCst);
                    events(Event::Started {
                        address: address.clone(),
                        action,
                    });
                }) as Arc<dyn Fn() + Send + Sync>
            };
            let task = activity::Task::new(self.activity.clone(), class).on_begin(started);
            let (shared, gate, mut stop) = (
                self.shared.clone(),
                self.state.clone(),
                self.stop.subscribe(),
            );
            let (unbegun, notify) = (self.unbegun.clone(), self.begun.clone());
            self.running.spawn(async move {
                let watched = task.clone();
                // A change that ends without a request (a fill it cannot
                // make, a lost lock) frees its place too.
                let ended_unbegun = move |w: &activity::Task| {
                    if w.begun().is_none() {
                        unbegun.fetch_sub(1, Ordering::SeqCst);
                        notify.notify_one();
                    }
                };
                let work = activity::scope(task, async move {
                    let _write = match write_lock_of(&shared, &change) {
                        Some(l) => Some(l.lock_owned().await),
                        None => None,
                    };
                    // It may have waited: the lock is checked again just
                    // before the change starts.
                    if gate.check_lock().is_err() {
                        return None;
                    }
                    Some(run_change(&shared, &change).await)
                });
                tokio::pin!(work);
                loop {
                    tokio::select! {
                        result = &mut work => {
                            ended_unbegun(&watched);
                            let elapsed = watched.begun().map(|b| b.elapsed());
                            return (i, result.map(|r| (elapsed, r)));
                        }
                        changed = stop.changed(), if watched.begun().is_none() => {
                            // Nothing was sent yet: Azure knows nothing of it.
                            if changed.is_err() || (*stop.borrow() && watched.begun().is_none()) {
                                ended_unbegun(&watched);
                                return (i, None);
                            }
                        }
                    }
                }
            });
        }
        true
    }

    /// Whether changes are under way.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Waits for the next change to end and records it; `false` when none
    /// is under way. Cancel-safe: nothing is lost when the wait is dropped.
    pub async fn next(&mut self) -> bool {
        let Some(joined) = self.running.join_next().await else {
            return false;
        };
        let (i, ran) = match joined {
            Ok(j) => j,
            Err(e) => {
                self.outcome.state_error = Some(format!("a task failed: {e}"));
                return true;
            }
        };
        let Some((elapsed, result)) = ran else {
            // Not started (Ctrl-C, or the lock was lost): said at the end.
            self.nodes[i].status = Status::Waiting;
            return true;
        };
        // Done with, either way: the plan keeps its own copy.
        let Some(change) = self.nodes[i].change.take() else {
            return true;
        };
        match result {
            Ok(recorded) => {
                self.nodes[i].status = Status::Done;
                let address = change.address.to_string();
                let previous = change.previous_address.as_ref().map(ToString::to_string);
                let write = self.state.update(|s| {
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
                    self.outcome.state_error = Some(e.to_string());
                }
                self.outcome
                    .done
                    .push((change.address.clone(), change.action));
                (self.events)(Event::Finished {
                    address: change.address.clone(),
                    action: change.action,
                    elapsed: elapsed.unwrap_or_default(),
                    began: elapsed.is_some(),
                });
                for j in self.nodes[i].dependents.clone() {
                    self.nodes[j].waiting = self.nodes[j].waiting.saturating_sub(1);
                    if self.nodes[j].waiting == 0 && self.nodes[j].status == Status::Waiting {
                        self.make_ready(j);
                    }
                }
            }
            Err(e) => {
                self.nodes[i].status = Status::Failed;
                self.outcome.failed.push(Failure {
                    address: change.address.clone(),
                    action: Some(change.action),
                    request: e.request(),
                    cause: e.cause(),
                    hint: e.hint().map(str::to_owned),
                });
                (self.events)(Event::Failed {
                    address: change.address.clone(),
                    action: change.action,
                    error: e.to_string(),
                    began: elapsed.is_some(),
                });
                // Everything that needs it, directly or not, is skipped, naming this failure.
                let cause = format!("{} failed", change.address);
                let mut stack: Vec<usize> = self.nodes[i].dependents.clone();
                while let Some(j) = stack.pop() {
                    if self.nodes[j].status == Status::Waiting {
                        self.nodes[j].status = Status::Failed;
                        let address = self.nodes[j].address.clone();
                        self.outcome.skipped.push((address.clone(), cause.clone()));
                        (self.events)(Event::Skipped {
                            address,
                            cause: cause.clone(),
                        });
                        stack.extend(self.nodes[j].dependents.iter().copied());
                    }
                }
            }
        }
        true
    }

    /// Ends the run: waits for the state to be written and says what never started.
    pub fn finish(mut self) -> Outcome {
        self.stop.send_if_modified(|s| !std::mem::replace(s, true));
        if let Err(e) = self.state.flush() {
            // A lost lock says what happened better than the write it refused.
            let why = self
                .state
                .check_lock()
                .err()
                .map_or(e.to_string(), |l| l.to_string());
            self.outcome.state_error.get_or_insert(why);
        }
        let unstarted: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].change.is_some() && self.nodes[i].status == Status::Waiting)
            .collect();
        if self.cancel.load(Ordering::SeqCst) && !unstarted.is_empty() {
            self.outcome.interrupted = true;
        }
        for i in unstarted {
            let cause = if self.outcome.interrupted {
                "interrupted".to_owned()
            } else if let Some(why) = &self.halted {
                format!("not started: {why}")
            } else {
                "not started".to_owned()
            };
            self.outcome
                .skipped
                .push((self.nodes[i].address.clone(), cause));
        }
        self.outcome
    }
}

/// Runs a whole plan. `cancel` is set by Ctrl-C.
pub async fn apply(
    client: Arc<Client>,
    plan: &Plan,
    state: Arc<StateWriter>,
    options: Options,
    events: Events,
    cancel: Arc<AtomicBool>,
    activity: Arc<Activity>,
) -> Outcome {
    let mut engine = Engine::new(client, state, &options, events, cancel, activity);
    // Records the reads and adoptions, and knows every output the plan has.
    engine.record_state_only(plan.changes.iter());
    engine.add_plan(plan);
    loop {
        let _ = engine.start_ready();
        if !engine.busy() {
            break;
        }
        if engine.held_back() {
            let begun = engine.begun_signal();
            tokio::select! {
                _ = engine.next() => {}
                () = begun.notified() => {}
            }
        } else {
            engine.next().await;
        }
    }
    engine.finish()
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
