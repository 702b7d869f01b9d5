//! Refresh: reads what Azure holds for every resource the spec or the state
//! names, concurrently with bounded parallelism, through each kind's provider.
//! Top-level resources (workspaces) are read with one GET each; every other
//! kind with one list call per parent (links and computes per AML workspace,
//! pools and role assignments per Synapse workspace), so a refresh costs about
//! three requests per AML workspace plus a constant, however many children
//! there are. A resource named by the spec or the state that Azure reports as
//! still running (`Creating`, `Updating`, `Deleting`) is read again until it
//! settles, so a plan is never made from a half-finished resource. Nothing here
//! decides anything: `diff` does.
//!
//! The reads are [`Unit`]s (a GET, or a list under a parent, which starts as
//! soon as its parent's GET is in), run by a [`Reader`] that says as each one
//! completes, so that a caller can act on the first resources while the rest
//! are still being read (`plan::stream`); [`refresh`] simply reads them all.
//! Units start by priority (the caller's, else lists before GETs: a team's
//! reads complete together), at most `parallelism` at a time.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::task::JoinSet;

use crate::addr::{ArmId, ResourceKind};
use crate::cloud::activity::{self, Activity, Class, Task};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::{self, Status, PERMISSIONS_API_VERSION};
use crate::spec::LoadedSpec;
use crate::state::State;

/// Everything read.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Resources found (workspaces, pools, links, computes, role assignments), by id.
    resources: HashMap<ArmId, Value>,
    /// Children by their provider's key other than the id: (kind, parent, key) → id.
    by_key: HashMap<(ResourceKind, ArmId, String), ArmId>,
    /// The caller's effective ARM permissions on a resource (preflight).
    pub permissions: HashMap<ArmId, Vec<Value>>,
    /// The ids found under each (child kind, parent): what a list read.
    listed: HashMap<(ResourceKind, ArmId), Vec<ArmId>>,
}

impl Observed {
    /// What Azure holds at an id, if anything.
    pub fn get(&self, id: &ArmId) -> Option<&Value> {
        self.resources.get(id)
    }

    /// Whether the resource exists.
    pub fn exists(&self, id: &ArmId) -> bool {
        self.resources.contains_key(id)
    }

    /// A child of `parent` found by its provider's key.
    pub fn find_key(
        &self,
        kind: ResourceKind,
        parent: &ArmId,
        key: &str,
    ) -> Option<(&ArmId, &Value)> {
        let id = self.by_key.get(&(kind, parent.clone(), key.to_owned()))?;
        self.resources.get_key_value(id)
    }

    /// Records a resource (tests and refresh).
    pub fn insert(&mut self, kind: ResourceKind, id: ArmId, body: Value) {
        if let (Some(key), Some(parent)) = (provider::of(kind).key_of_body(&body), id.parent()) {
            self.by_key.insert((kind, parent, key), id.clone());
        }
        if provider::of(kind).parent_kind().is_some() {
            if let Some(parent) = id.parent() {
                let ids = self.listed.entry((kind, parent)).or_default();
                if !ids.contains(&id) {
                    ids.push(id.clone());
                }
            }
        }
        self.resources.insert(id, body);
    }

    /// Drops what `unit` read: nothing that is still to be decided needs it
    /// (what a run holds follows the work under way, not the size of the spec).
    pub fn forget(&mut self, unit: &Unit) {
        let (kind, ids) = match unit {
            Unit::Top(kind, id) => (*kind, vec![id.clone()]),
            Unit::List(kind, parent) => (
                *kind,
                self.listed
                    .remove(&(*kind, parent.clone()))
                    .unwrap_or_default(),
            ),
        };
        for id in ids {
            let Some(body) = self.resources.remove(&id) else {
                continue;
            };
            if let (Some(key), Some(parent)) = (provider::of(kind).key_of_body(&body), id.parent())
            {
                self.by_key.remove(&(kind, parent, key));
            }
        }
    }
}

/// One read of refresh: a top-level resource's GET, or the list of one
/// kind's resources under one parent (every page of it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// GET of a top-level resource.
    Top(ResourceKind, ArmId),
    /// The list of a child kind under a parent.
    List(ResourceKind, ArmId),
}

impl Unit {
    /// The unit that reads `kind` at `id`: its own GET for a top-level kind,
    /// else the list under its parent (`parent`, or the id's parent).
    pub fn of(kind: ResourceKind, id: Option<&ArmId>, parent: Option<ArmId>) -> Option<Unit> {
        match provider::of(kind).parent_kind() {
            None => id.map(|id| Unit::Top(kind, id.clone())),
            Some(_) => parent
                .or_else(|| id.and_then(ArmId::parent))
                .map(|p| Unit::List(kind, p)),
        }
    }
}

/// What refresh must read, gathered from the spec and the state.
#[derive(Debug, Default)]
struct Wanted {
    /// Top-level resources, read with a GET.
    top: BTreeSet<(ResourceKind, ArmId)>,
    /// (child kind, parent id): one list call each.
    children: BTreeSet<(ResourceKind, ArmId)>,
    /// Every id the spec or the state names, with its kind (waited for while running).
    named: HashMap<ArmId, ResourceKind>,
}

impl Wanted {
    fn child(&mut self, kind: ResourceKind, parent: ArmId) {
        if let Some(parent_kind) = provider::of(kind).parent_kind() {
            self.top.insert((parent_kind, parent.clone()));
        }
        self.children.insert((kind, parent));
    }
}

fn wanted(spec: &LoadedSpec, state: &State) -> Wanted {
    let mut w = Wanted::default();
    for r in spec.resources.values() {
        let p = provider::of(r.address.kind);
        if let Some(id) = p.id(r, spec) {
            w.named.insert(id.clone(), r.address.kind);
            if p.parent_kind().is_none() {
                w.top.insert((r.address.kind, id));
            }
        }
        if let Some(parent) = p.parent_id(r, spec) {
            w.child(r.address.kind, parent);
        }
    }
    for rs in state.resources.values() {
        w.named.insert(rs.id.clone(), rs.kind);
        if provider::of(rs.kind).parent_kind().is_none() {
            w.top.insert((rs.kind, rs.id.clone()));
        } else if let Some(parent) = rs.id.parent() {
            w.child(rs.kind, parent);
        }
    }
    w
}

fn units_of(w: &Wanted) -> Vec<Unit> {
    let mut units: Vec<Unit> = w
        .top
        .iter()
        .map(|(k, id)| Unit::Top(*k, id.clone()))
        .collect();
    units.extend(w.children.iter().map(|(k, p)| Unit::List(*k, p.clone())));
    units
}

/// The reads a refresh of `spec` and `state` makes.
pub fn units(spec: &LoadedSpec, state: &State) -> Vec<Unit> {
    units_of(&wanted(spec, state))
}

/// How refresh reports a resource it waits for.
pub type OnWait<'a> = &'a (dyn Fn(&ArmId, &str) + Sync);

/// Settings of a refresh.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Reads under way at once per subscription the reads span.
    pub parallelism: usize,
    /// The longest wait for resources that are still being created, updated or deleted.
    pub settle_timeout: Duration,
}

/// What one unit's request found.
enum Found {
    Top(Option<Value>),
    List(Vec<(ArmId, Value)>),
    /// Re-reads of resources that were still running (`None`: gone).
    Settled(Vec<(ResourceKind, ArmId, Option<Value>)>),
}

type Joined = (Unit, Result<Found, CloudError>);

/// Reads the units of a refresh and says as each completes.
pub struct Reader {
    client: Arc<Client>,
    options: Options,
    named: HashMap<ArmId, ResourceKind>,
    /// Units to start, by (priority, place among its subscription's units,
    /// first wanted): between equals, subscriptions take turns, so that one
    /// subscription's throttle bucket never holds up the others'.
    ready: BinaryHeap<(i64, Reverse<usize>, Reverse<u64>, Unit)>,
    /// Each unit's place among the units of its subscription.
    turn: HashMap<Unit, usize>,
    /// List units waiting for their parent's GET, by parent id.
    blocked: HashMap<ArmId, Vec<Unit>>,
    priorities: HashMap<Unit, i64>,
    seq: u64,
    running: JoinSet<Joined>,
    /// Reads under way that count against `parallelism` (not settling).
    reading: usize,
    /// Units whose running resources are being read again: when they started.
    settling: HashMap<Unit, Instant>,
    observed: Observed,
    units: Vec<Unit>,
    complete: HashSet<Unit>,
    errors: Vec<CloudError>,
    started: bool,
    activity: Option<Arc<Activity>>,
    /// A read found its endpoint unreachable: no new read starts (each would
    /// meet the same, one quick retry after another).
    unreachable: bool,
}

/// A unit that completed: `Err` when it could not be read.
pub type Completed = (Unit, Result<(), CloudError>);

impl Reader {
    /// A reader of everything `spec` and `state` name (nothing is sent yet).
    pub fn new(client: Arc<Client>, spec: &LoadedSpec, state: &State, options: Options) -> Reader {
        let w = wanted(spec, state);
        let units = units_of(&w);
        let mut seen: HashMap<String, usize> = HashMap::new();
        let turn: HashMap<Unit, usize> = units
            .iter()
            .map(|u| {
                let (Unit::Top(_, id) | Unit::List(_, id)) = u;
                let sub = id.subscription().unwrap_or_default().to_ascii_lowercase();
                let n = seen.entry(sub).or_default();
                *n += 1;
                (u.clone(), *n)
            })
            .collect();
        // ARM's budget is per subscription: so are the reads under way.
        let options = Options {
            parallelism: options.parallelism.max(1).saturating_mul(seen.len().max(1)),
            ..options
        };
        Reader {
            client,
            options,
            named: w.named,
            ready: BinaryHeap::new(),
            turn,
            blocked: HashMap::new(),
            priorities: HashMap::new(),
            seq: 0,
            running: JoinSet::new(),
            reading: 0,
            settling: HashMap::new(),
            observed: Observed::default(),
            units,
            complete: HashSet::new(),
            errors: Vec::new(),
            started: false,
            activity: None,
            unreachable: false,
        }
    }

    /// Every unit this refresh reads.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Sets the order in which units start (higher first; lists default to 2,
    /// GETs to 1). Call before the first `next`.
    pub fn prioritize(&mut self, priority: impl Fn(&Unit) -> i64) {
        self.priorities = self
            .units
            .iter()
            .map(|u| (u.clone(), priority(u)))
            .collect();
    }

    /// Counts the reads' phases in `activity`.
    pub fn count_in(&mut self, activity: Arc<Activity>) {
        self.activity = Some(activity);
    }

    /// Units read so far, and in all.
    pub fn progress(&self) -> (usize, usize) {
        (self.complete.len(), self.units.len())
    }

    /// What was read so far.
    pub fn observed(&self) -> &Observed {
        &self.observed
    }

    /// Drops what `unit` read, once nothing to decide needs it.
    pub fn forget(&mut self, unit: &Unit) {
        self.observed.forget(unit);
    }

    /// What was read so far, to add to (the caller's own reads, e.g. permissions).
    pub fn observed_mut(&mut self) -> &mut Observed {
        &mut self.observed
    }

    /// Ends the reader with everything it read, or every error it met.
    pub fn finish(self) -> Result<Observed, Vec<CloudError>> {
        if self.errors.is_empty() {
            Ok(self.observed)
        } else {
            Err(self.errors)
        }
    }

    fn priority(&self, unit: &Unit) -> i64 {
        self.priorities.get(unit).copied().unwrap_or(match unit {
            Unit::Top(..) => 1,
            Unit::List(..) => 2,
        })
    }

    fn queue(&mut self, unit: Unit) {
        self.seq += 1;
        let p = self.priority(&unit);
        let turn = self.turn.get(&unit).copied().unwrap_or(0);
        self.ready.push((p, Reverse(turn), Reverse(self.seq), unit));
    }

    fn task(&self, priority: i64) -> Option<Task> {
        self.activity.as_ref().map(|a| {
            let class = Class::new(activity::READS);
            class.raise(priority.clamp(0, activity::READS_SPAN));
            Task::new(a.clone(), Arc::new(class))
        })
    }

    fn start(&mut self) {
        if !self.started {
            self.started = true;
            let units = std::mem::take(&mut self.units);
            for u in &units {
                match u {
                    Unit::Top(..) => self.queue(u.clone()),
                    Unit::List(_, parent) => self
                        .blocked
                        .entry(parent.clone())
                        .or_default()
                        .push(u.clone()),
                }
            }
            self.units = units;
        }
        while self.reading < self.options.parallelism.max(1) && !self.unreachable {
            let Some((priority, _, _, unit)) = self.ready.pop() else {
                break;
            };
            let client = self.client.clone();
            let parent = match &unit {
                Unit::List(_, p) => self.observed.get(p).cloned(),
                Unit::Top(..) => None,
            };
            let task = self.task(priority);
            self.reading += 1;
            self.running.spawn(async move {
                let read = async {
                    match &unit {
                        Unit::Top(kind, id) => provider::of(*kind)
                            .read(&client, id, None)
                            .await
                            .map(Found::Top),
                        Unit::List(kind, parent_id) => provider::of(*kind)
                            .list(&client, parent_id, parent.as_ref().unwrap_or(&Value::Null))
                            .await
                            .map(Found::List),
                    }
                };
                let found = match task {
                    Some(t) => activity::scope(t, read).await,
                    None => read.await,
                };
                (unit, found)
            });
        }
    }

    /// Re-reads, after a pause, the resources of `unit` Azure reports as running.
    fn settle(&mut self, unit: Unit, running: Vec<(ArmId, ResourceKind)>, on_wait: OnWait<'_>) {
        let since = *self
            .settling
            .entry(unit.clone())
            .or_insert_with(Instant::now);
        let waited = since.elapsed();
        for (id, kind) in &running {
            if let Some(Status::Running(s)) =
                self.observed.get(id).map(|b| provider::of(*kind).status(b))
            {
                on_wait(id, &s);
            }
        }
        // Growing pauses: 1 s, 2 s, 4 s … at most 15 s, never past the timeout.
        let pause = Duration::from_secs(1)
            .max(waited)
            .min(Duration::from_secs(15))
            .min(self.options.settle_timeout.saturating_sub(waited));
        let client = self.client.clone();
        let parents: Vec<Option<Value>> = running
            .iter()
            .map(|(id, _)| id.parent().and_then(|p| self.observed.get(&p).cloned()))
            .collect();
        self.running.spawn(async move {
            tokio::time::sleep(pause).await;
            let mut out = Vec::new();
            for ((id, kind), parent) in running.into_iter().zip(parents) {
                match provider::of(kind).read(&client, &id, parent.as_ref()).await {
                    Ok(body) => out.push((kind, id, body)),
                    Err(e) => return (unit, Err(e)),
                }
            }
            (unit, Ok(Found::Settled(out)))
        });
    }

    /// The named resources among `ids` that Azure reports as still running.
    fn running_among(&self, ids: impl Iterator<Item = ArmId>) -> Vec<(ArmId, ResourceKind)> {
        ids.filter_map(|id| {
            let kind = *self.named.get(&id)?;
            matches!(
                provider::of(kind).status(self.observed.get(&id)?),
                Status::Running(_)
            )
            .then_some((id, kind))
        })
        .collect()
    }

    fn completed(&mut self, unit: Unit, result: Result<(), CloudError>, out: &mut Vec<Completed>) {
        self.settling.remove(&unit);
        self.complete.insert(unit.clone());
        if let Unit::Top(_, id) = &unit {
            let children = self.blocked.remove(id).unwrap_or_default();
            for child in children {
                match (&result, self.observed.exists(id)) {
                    (Ok(()), true) => self.queue(child),
                    // Nothing to list under a parent that is not there.
                    (Ok(()), false) => {
                        self.complete.insert(child.clone());
                        out.push((child, Ok(())));
                    }
                    (Err(e), _) => {
                        self.complete.insert(child.clone());
                        out.push((child, Err(e.clone())));
                    }
                }
            }
        }
        if let Err(e) = &result {
            self.errors.push(e.clone());
        }
        out.push((unit, result));
    }

    /// Waits for the next units to complete; `None` when every unit has.
    pub async fn next(&mut self, on_wait: OnWait<'_>) -> Option<Vec<Completed>> {
        loop {
            self.start();
            let joined = self.running.join_next().await?;
            let mut out = Vec::new();
            let (unit, found) = match joined {
                Ok(j) => j,
                Err(e) => {
                    self.errors.push(joined_error(&e));
                    continue;
                }
            };
            let was_settling = self.settling.contains_key(&unit);
            if !was_settling {
                self.reading -= 1;
            }
            let ids: Vec<ArmId> = match found {
                Err(e) => {
                    self.unreachable |= e.is_unreachable();
                    self.completed(unit, Err(e), &mut out);
                    return Some(out);
                }
                Ok(Found::Top(body)) => {
                    let Unit::Top(kind, id) = &unit else {
                        continue;
                    };
                    if let Some(body) = body {
                        self.observed.insert(*kind, id.clone(), body);
                    }
                    vec![id.clone()]
                }
                Ok(Found::List(items)) => {
                    let Unit::List(kind, _) = &unit else {
                        continue;
                    };
                    let ids = items.iter().map(|(id, _)| id.clone()).collect();
                    for (id, body) in items {
                        self.observed.insert(*kind, id, body);
                    }
                    ids
                }
                Ok(Found::Settled(bodies)) => {
                    let ids = bodies.iter().map(|(_, id, _)| id.clone()).collect();
                    for (kind, id, body) in bodies {
                        match body {
                            Some(body) => self.observed.insert(kind, id, body),
                            None => {
                                self.observed.resources.remove(&id);
                            }
                        }
                    }
                    ids
                }
            };
            let running = self.running_among(ids.into_iter());
            if running.is_empty() {
                self.completed(unit, Ok(()), &mut out);
                return Some(out);
            }
            let waited = self
                .settling
                .get(&unit)
                .map_or(Duration::ZERO, Instant::elapsed);
            if waited >= self.options.settle_timeout {
                let (id, kind) = &running[0];
                let state = self
                    .observed
                    .get(id)
                    .map(|b| match provider::of(*kind).status(b) {
                        Status::Running(s) => s,
                        _ => String::new(),
                    })
                    .unwrap_or_default();
                let e = CloudError::OperationTimeout {
                    path: format!("{id} (still {state})"),
                    waited,
                };
                self.completed(unit, Err(e), &mut out);
                return Some(out);
            }
            self.settle(unit, running, on_wait);
        }
    }
}

/// Reads everything the spec and state name.
pub async fn refresh(
    client: Arc<Client>,
    spec: &LoadedSpec,
    state: &State,
    options: Options,
    priority: &dyn Fn(&Unit) -> i64,
    on_wait: OnWait<'_>,
    on_read: &(dyn Fn(usize, usize) + Sync),
) -> Result<Observed, Vec<CloudError>> {
    let mut reader = Reader::new(client, spec, state, options);
    reader.prioritize(priority);
    while reader.next(on_wait).await.is_some() {
        let (done, total) = reader.progress();
        on_read(done, total);
    }
    reader.finish()
}

fn joined_error(e: &tokio::task::JoinError) -> CloudError {
    CloudError::Unexpected {
        path: String::new(),
        message: e.to_string(),
    }
}

/// The caller's permissions on one resource (preflight), with its id.
pub async fn permissions_of(
    client: Arc<Client>,
    id: ArmId,
) -> (ArmId, Result<Vec<Value>, CloudError>) {
    let items = client
        .list(
            &format!("{id}/providers/Microsoft.Authorization/permissions"),
            PERMISSIONS_API_VERSION,
        )
        .await;
    (id, items)
}

/// Reads the caller's permissions on resources (preflight), concurrently.
pub async fn read_permissions(
    client: Arc<Client>,
    ids: &[ArmId],
    observed: &mut Observed,
) -> Result<(), CloudError> {
    let mut set = JoinSet::new();
    for id in ids {
        set.spawn(permissions_of(client.clone(), id.clone()));
    }
    while let Some(joined) = set.join_next().await {
        let (id, items) = joined.map_err(|e| joined_error(&e))?;
        observed.permissions.insert(id, items?);
    }
    Ok(())
}
