//! The plan, decided as Azure is read. A resource's change depends only on
//! what is read for it and for what it depends on (the diff looks at nothing
//! else when the state records only addresses the spec has): so each address
//! is decided as soon as the reads of it and of everything it depends on are
//! in, by the same pure [`diff`] run on that slice of the spec and the state
//! (the address and what it depends on), and its caller's rights are checked
//! then (`preflight`, with the permissions read once per resource). Decisions
//! come out in dependency order (an address after everything it depends on),
//! so an executor can start each change while later ones are still read.
//!
//! Put together, the decisions are the plan a whole refresh and diff would
//! make: [`Planner::into_plan`] orders them as `diff` does and seals the digest.
//! This holds only when the whole plan needs nothing but each address's own
//! slice: no address of the state is missing from the spec (no delete of what
//! left it, no move, no forget, no make-before-break), which
//! [`streamable`] checks; other plans are made whole, as `synlink plan` does.
//! With `--target`, the addresses kept are the targets and what they depend
//! on in the spec.
//!
//! A read that fails, or an address the diff or the preflight refuses, is a
//! decision too ([`Decision::Failed`]); what depends on it is skipped. Nothing
//! here sends a request: the caller reads (`refresh::Reader`) and applies.
//!
//! What it holds follows the work under way: the state's record of an
//! address is dropped, and the reads only it needed are handed back to be
//! forgotten ([`Planner::take_spent`]), once it and everything that depends
//! on it are released.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use globset::GlobMatcher;

use crate::addr::{Address, ArmId};
use crate::cloud::error::CloudError;
use crate::graph::Graph;
use crate::plan::diff::{self, DiffOptions, PlanError};
use crate::plan::preflight::{self, Needs};
use crate::plan::refresh::{Completed, Observed, Unit};
use crate::plan::{handover, Action, Change, Plan, Warning};
use crate::provider;
use crate::spec::source::SourceFile;
use crate::spec::LoadedSpec;
use crate::state::{ResourceState, State};

/// What the plan decides for one address.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A change of the plan (shared with the executor that runs it, never copied).
    Change(Arc<Change>),
    /// Nothing to do (a no-op, or nothing to destroy, or left out by `--target`).
    Nothing,
    /// It cannot be planned: a read failed, or the plan refuses it.
    Failed(PlanError),
    /// Not planned: something it depends on failed.
    Skipped(String),
}

/// Whether a plan of `spec` against `state` can be decided address by
/// address: every address the state records is in the spec (so nothing is
/// deleted because it left the spec, moved, forgotten, or handed over).
pub fn streamable(spec: &LoadedSpec, state: &State) -> bool {
    state
        .resources
        .keys()
        .all(|a| Address::parse(a).is_some_and(|a| spec.resources.contains_key(&a)))
}

/// A batch decided by the diff, waiting for its preflight inputs.
#[derive(Debug)]
struct Pending {
    decisions: Vec<(usize, Decision)>,
    needs: Needs,
}

/// Decides a plan address by address as reads complete.
pub struct Planner<'a> {
    spec: &'a LoadedSpec,
    /// The state as found, without its records (its lineage and serial).
    state: State,
    /// The state's record of each address, with its place in the state;
    /// dropped once no slice still to be decided includes the address.
    records: Vec<Option<(usize, String, ResourceState)>>,
    /// Of each address: the addresses not released yet whose slice includes
    /// it (itself, and what depends on it through every path).
    holders: Vec<usize>,
    /// The reads each address needs (until it is spent).
    needs: Vec<Vec<Unit>>,
    /// Of each read: how many of its users are not spent yet.
    unit_users: HashMap<Unit, usize>,
    /// Reads that nothing still to be decided needs, for the reader to forget.
    spent: Vec<Unit>,
    options: DiffOptions,
    caller: Option<String>,
    /// Every address of the spec, in the order `diff` plans them.
    order: Vec<Address>,
    at: HashMap<Address, usize>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    /// Which addresses need each read.
    users: HashMap<Unit, Vec<usize>>,
    /// Reads of each address not in yet.
    unread: Vec<usize>,
    /// Dependencies whose own and inherited reads are not all in yet.
    unready: Vec<usize>,
    /// The first read of each address that failed.
    failed_read: HashMap<usize, CloudError>,
    /// Its reads and its dependencies' are all in.
    read_done: Vec<bool>,
    /// Ready for the diff (its reads and its dependencies' are in).
    ready: Vec<usize>,
    /// Why an address decided so far cannot be applied (failed or skipped).
    lost: Vec<Option<String>>,
    /// Released to the caller, with their decision.
    released: Vec<Option<Decision>>,
    pending: VecDeque<Pending>,
    /// Top-level reads by the id they read (to know when a resource is known).
    tops: HashMap<ArmId, Unit>,
    /// Every unit the reader reads.
    wanted: HashSet<Unit>,
    /// Units read so far.
    read: HashSet<Unit>,
    /// Permission reads asked for.
    asked: HashSet<ArmId>,
    /// Permission reads that failed.
    permission_errors: HashMap<ArmId, String>,
    /// `--target`: the addresses kept (`None`: all).
    keep: Option<HashSet<Address>>,
    /// Resource ids to addresses, for preflight messages.
    names: HashMap<ArmId, String>,
    /// What the diff said beside the changes.
    drift: HashMap<usize, Vec<Change>>,
    warnings: Vec<(usize, Warning)>,
    /// The order its reads should start in.
    read_order: ReadOrder,
    /// What must be decided before a delete of each address may be applied:
    /// what depends on it, and what lives under it by id.
    gates: Vec<Vec<usize>>,
}

/// `from` and everything it depends on, through every path, each once.
fn closure_of(deps: &[Vec<usize>], from: &[usize]) -> Vec<usize> {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = from.to_vec();
    let mut out = Vec::new();
    while let Some(i) = stack.pop() {
        if seen.insert(i) {
            out.push(i);
            stack.extend(deps[i].iter().copied());
        }
    }
    out
}

/// The spec's addresses in dependency order, with the edges by position.
struct Indexed {
    order: Vec<Address>,
    at: HashMap<Address, usize>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl Indexed {
    fn of(graph: &Graph) -> Indexed {
        let order = graph.order();
        let at: HashMap<Address, usize> = order
            .iter()
            .enumerate()
            .map(|(i, a)| (a.clone(), i))
            .collect();
        let n = order.len();
        let mut deps = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, a) in order.iter().enumerate() {
            for d in graph.dependencies(a) {
                if let Some(&j) = at.get(d) {
                    deps[i].push(j);
                    dependents[j].push(i);
                }
            }
        }
        Indexed {
            order,
            at,
            deps,
            dependents,
        }
    }
}

/// The order reads should start in, for a whole refresh as for a streaming
/// one: the reads most of the plan waits on first (a shared Synapse
/// workspace and its lists before a team's), and a parent's lists as soon as
/// the parent is read (a team completes before the next starts).
pub struct ReadOrder {
    /// Resource ids the spec names, by position in `weight`.
    ids: HashMap<ArmId, usize>,
    weight: Vec<i64>,
}

impl ReadOrder {
    /// The read order of `spec`'s refresh.
    pub fn of(spec: &LoadedSpec, graph: &Graph) -> ReadOrder {
        let ix = Indexed::of(graph);
        let ids = ix
            .order
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let r = spec.resources.get(a)?;
                Some((provider::of(a.kind).id(r, spec)?, i))
            })
            .collect();
        ReadOrder::new(ids, &ix.deps, &ix.dependents)
    }

    /// The read order of the addresses with these ids and edges.
    fn new(
        ids: HashMap<ArmId, usize>,
        deps: &[Vec<usize>],
        dependents: &[Vec<usize>],
    ) -> ReadOrder {
        ReadOrder {
            ids,
            weight: weights(deps, dependents),
        }
    }

    /// A read's priority (higher first).
    pub fn priority(&self, unit: &Unit) -> i64 {
        let of_id = |id: &ArmId| self.ids.get(id).map_or(1, |&i| self.weight[i]);
        match unit {
            Unit::Top(_, id) => of_id(id),
            Unit::List(_, parent) => of_id(parent).saturating_add(1),
        }
    }
}

/// How much of the plan hangs on each address: itself and, through every
/// path, what depends on it (capped; only the order matters).
fn weights(deps: &[Vec<usize>], dependents: &[Vec<usize>]) -> Vec<i64> {
    let n = deps.len();
    let mut weight = vec![1_i64; n];
    // `order` lists dependencies first: walk it backwards.
    for i in (0..n).rev() {
        let below: i64 = dependents[i]
            .iter()
            .map(|&d| weight[d])
            .fold(0_i64, i64::saturating_add);
        weight[i] = below.saturating_add(1).min(1 << 40);
    }
    weight
}

impl<'a> Planner<'a> {
    /// A planner of `spec` against `state`, with the reads `units` (the
    /// reader's) and `caller`'s object id for the preflight.
    pub fn new(
        spec: &'a LoadedSpec,
        graph: &Graph,
        mut state: State,
        options: DiffOptions,
        caller: Option<String>,
        units: &[Unit],
    ) -> Planner<'a> {
        let Indexed {
            order,
            at,
            deps,
            dependents,
        } = Indexed::of(graph);
        let n = order.len();
        let wanted: HashSet<Unit> = units.iter().cloned().collect();
        let tops: HashMap<ArmId, Unit> = units
            .iter()
            .filter_map(|u| match u {
                Unit::Top(_, id) => Some((id.clone(), u.clone())),
                Unit::List(..) => None,
            })
            .collect();
        let mut unread = vec![0; n];
        let mut users: HashMap<Unit, Vec<usize>> = HashMap::new();
        let mut needs: Vec<Vec<Unit>> = vec![Vec::new(); n];
        let mut names = HashMap::new();
        let mut ids: HashMap<ArmId, usize> = HashMap::new();
        for (i, a) in order.iter().enumerate() {
            let Some(r) = spec.resources.get(a) else {
                continue;
            };
            let p = provider::of(a.kind);
            let id = p.id(r, spec);
            if let Some(id) = &id {
                names.insert(id.clone(), a.to_string());
                ids.insert(id.clone(), i);
            }
            let mut mine: Vec<Unit> = Vec::new();
            mine.extend(Unit::of(a.kind, id.as_ref(), p.parent_id(r, spec)));
            if let Some(rs) = state.resources.get(&a.to_string()) {
                mine.extend(Unit::of(rs.kind, Some(&rs.id), None));
            }
            mine.sort();
            mine.dedup();
            mine.retain(|u| wanted.contains(u));
            for u in &mine {
                users.entry(u.clone()).or_default().push(i);
            }
            unread[i] = mine.len();
            needs[i] = mine;
        }
        // The records move out of the state: each is dropped once spent.
        let mut records: Vec<Option<(usize, String, ResourceState)>> = vec![None; n];
        for (place, (a, rs)) in std::mem::take(&mut state.resources).into_iter().enumerate() {
            if let Some(&i) = Address::parse(&a).and_then(|p| at.get(&p)) {
                records[i] = Some((place, a, rs));
            }
        }
        let mut holders = vec![0_usize; n];
        for i in 0..n {
            for a in closure_of(&deps, &[i]) {
                holders[a] += 1;
            }
        }
        let unit_users: HashMap<Unit, usize> = users
            .iter()
            .map(|(u, who)| (u.clone(), who.len()))
            .collect();
        let unready: Vec<usize> = deps.iter().map(Vec::len).collect();
        let keep = (!options.targets.is_empty()).then(|| {
            let globs: Vec<GlobMatcher> = options
                .targets
                .iter()
                .filter_map(|t| diff::glob(t))
                .collect();
            let mut keep = HashSet::new();
            let mut stack: Vec<usize> = (0..n)
                .filter(|&i| {
                    let text = order[i].to_string();
                    globs.iter().any(|g| g.is_match(&text))
                })
                .collect();
            while let Some(i) = stack.pop() {
                if keep.insert(order[i].clone()) {
                    stack.extend(deps[i].iter().copied());
                }
            }
            keep
        });
        let mut gates = dependents.clone();
        for (id, &i) in &ids {
            if let Some(&parent) = id.parent().as_ref().and_then(|p| ids.get(p)) {
                if !gates[parent].contains(&i) {
                    gates[parent].push(i);
                }
            }
        }
        let read_order = ReadOrder::new(ids, &deps, &dependents);
        let mut planner = Planner {
            spec,
            state,
            records,
            holders,
            needs,
            unit_users,
            spent: Vec::new(),
            options,
            caller,
            order,
            at,
            deps,
            dependents,
            users,
            unread,
            unready,
            failed_read: HashMap::new(),
            read_done: vec![false; n],
            ready: Vec::new(),
            lost: vec![None; n],
            released: vec![None; n],
            pending: VecDeque::new(),
            tops,
            wanted,
            read: HashSet::new(),
            asked: HashSet::new(),
            permission_errors: HashMap::new(),
            keep,
            names,
            drift: HashMap::new(),
            warnings: Vec::new(),
            read_order,
            gates,
        };
        for i in 0..n {
            if planner.unread[i] == 0 {
                planner.became_read(i);
            }
        }
        planner
    }

    /// The order its reads should start in (see `ReadOrder`).
    pub fn read_priority(&self, unit: &Unit) -> i64 {
        self.read_order.priority(unit)
    }

    /// Records reads that completed.
    pub fn read(&mut self, completed: &[Completed]) {
        for (unit, result) in completed {
            if !self.read.insert(unit.clone()) {
                continue;
            }
            let users = self.users.get(unit).cloned().unwrap_or_default();
            for i in users {
                if let Err(e) = result {
                    self.failed_read.entry(i).or_insert_with(|| e.clone());
                }
                self.unread[i] = self.unread[i].saturating_sub(1);
                if self.unread[i] == 0 {
                    self.became_read(i);
                }
            }
        }
    }

    /// Everything `i` reads is in: when its dependencies' reads are in too,
    /// it is ready, and its dependents may be.
    fn became_read(&mut self, i: usize) {
        let mut stack = vec![i];
        while let Some(i) = stack.pop() {
            if self.read_done[i] || self.unread[i] != 0 || self.unready[i] != 0 {
                continue;
            }
            self.read_done[i] = true;
            self.ready.push(i);
            for d in self.dependents[i].clone() {
                self.unready[d] = self.unready[d].saturating_sub(1);
                stack.push(d);
            }
        }
    }

    /// Decides every address whose reads (and its dependencies' reads) are
    /// in, with one diff of their slice.
    pub fn decide(&mut self, observed: &Observed) {
        if self.ready.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.ready);
        batch.sort_unstable();
        let mut decisions: Vec<(usize, Decision)> = Vec::new();
        let mut to_diff: Vec<usize> = Vec::new();
        for &i in &batch {
            if let Some(e) = self.failed_read.get(&i) {
                let error = PlanError {
                    address: self.order[i].to_string(),
                    message: format!("cannot be read: {}", e.cause()),
                    hint: e.hint().map(str::to_owned),
                };
                self.lost[i] = Some(format!("{} cannot be read", self.order[i]));
                decisions.push((i, Decision::Failed(error)));
                continue;
            }
            // A dependency that could not be read: nothing to decide from.
            if let Some(cause) = self.deps[i].iter().find_map(|&d| self.lost[d].clone()) {
                self.lost[i] = Some(cause.clone());
                decisions.push((i, Decision::Skipped(cause)));
                continue;
            }
            to_diff.push(i);
        }
        if !to_diff.is_empty() {
            decisions.extend(self.diff_slice(&to_diff, observed));
        }
        decisions.sort_by_key(|(i, _)| *i);
        let needs = preflight::needs(
            decisions.iter().filter_map(|(_, d)| match d {
                Decision::Change(c) => Some(&**c),
                _ => None,
            }),
            self.caller.as_deref(),
        );
        self.pending.push_back(Pending { decisions, needs });
    }

    /// Runs the diff on the slice of `batch` and what it depends on.
    fn diff_slice(&mut self, batch: &[usize], observed: &Observed) -> Vec<(usize, Decision)> {
        let closure: HashSet<usize> = closure_of(&self.deps, batch).into_iter().collect();
        // The slice, in the spec's order (as the diff would meet it), and
        // the state's records of it: looked up, never a walk of the whole.
        let mut members: Vec<(usize, &Address, &crate::spec::Resource)> = closure
            .iter()
            .filter_map(|&i| {
                let (at, a, r) = self.spec.resources.get_full(&self.order[i])?;
                Some((at, a, r))
            })
            .collect();
        members.sort_by_key(|(at, _, _)| *at);
        let spec = LoadedSpec {
            file: SourceFile {
                path: self.spec.file.path.clone(),
                text: String::new(),
            },
            cloud: self.spec.cloud.clone(),
            defaults: self.spec.defaults.clone(),
            state: None,
            resources: members
                .iter()
                .map(|(_, a, r)| ((*a).clone(), (*r).clone()))
                .collect(),
            moved: self.spec.moved.clone(),
            removed: self.spec.removed.clone(),
            warnings: Vec::new(),
        };
        let mut recorded: Vec<(usize, String, ResourceState)> = closure
            .iter()
            .filter_map(|&i| self.records[i].clone())
            .collect();
        recorded.sort_by_key(|(at, _, _)| *at);
        let state = State {
            resources: recorded.into_iter().map(|(_, a, r)| (a, r)).collect(),
            version: self.state.version,
            lineage: self.state.lineage.clone(),
            serial: self.state.serial,
            synlink_version: self.state.synlink_version.clone(),
        };
        let fail_all = |message: String| -> Vec<(usize, Decision)> {
            batch
                .iter()
                .map(|&i| {
                    (
                        i,
                        Decision::Failed(PlanError {
                            address: self.order[i].to_string(),
                            message: message.clone(),
                            hint: None,
                        }),
                    )
                })
                .collect()
        };
        let Ok(graph) = Graph::build(&spec) else {
            return fail_all("a dependency cycle in a slice of the spec".into());
        };
        let options = DiffOptions {
            mode: self.options.mode,
            targets: Vec::new(),
            spec_hash: self.options.spec_hash.clone(),
        };
        let d = diff::diff(&spec, &graph, observed, &state, &options);
        let mine: HashSet<&Address> = batch.iter().map(|&i| &self.order[i]).collect();
        // Errors go to the addresses they name; one that names none of the
        // batch (a whole-plan error) goes to every address of it.
        let mut errors: HashMap<usize, PlanError> = HashMap::new();
        for e in d.errors {
            let named: Vec<usize> = e
                .address
                .split(", ")
                .filter_map(Address::parse)
                .filter_map(|a| self.at.get(&a).copied())
                .filter(|i| closure.contains(i))
                .collect();
            let targets: Vec<usize> = if named.is_empty() {
                batch.to_vec()
            } else {
                named.into_iter().filter(|i| batch.contains(i)).collect()
            };
            for i in targets {
                errors.entry(i).or_insert_with(|| e.clone());
            }
        }
        for c in d.plan.drift {
            if let Some(&i) = self
                .at
                .get(&c.address)
                .filter(|_| mine.contains(&c.address))
            {
                if self.kept(i) {
                    self.drift.entry(i).or_default().push(c);
                }
            }
        }
        // Warnings are not limited by `--target` (a whole plan's are not either).
        for w in d.plan.warnings {
            let first = w
                .addresses
                .iter()
                .filter(|a| mine.contains(a))
                .filter_map(|a| self.at.get(a).copied())
                .min();
            if let Some(first) = first {
                let addresses = w
                    .addresses
                    .iter()
                    .filter(|a| mine.contains(a))
                    .cloned()
                    .collect();
                self.warnings.push((first, Warning { addresses, ..w }));
            }
        }
        let mut changes: HashMap<Address, Change> = d
            .plan
            .changes
            .into_iter()
            .filter(|c| mine.contains(&c.address))
            .map(|c| (c.address.clone(), c))
            .collect();
        batch
            .iter()
            .map(|&i| {
                let decision = match errors.remove(&i) {
                    Some(e) => Decision::Failed(e),
                    None => match changes.remove(&self.order[i]) {
                        Some(c) if self.kept(i) => Decision::Change(Arc::new(c)),
                        _ => Decision::Nothing,
                    },
                };
                (i, decision)
            })
            .collect()
    }

    /// `i` is released: what only its slice (and slices already released)
    /// needed is dropped, and the reads nothing needs any more are spent.
    fn spend(&mut self, i: usize) {
        for a in closure_of(&self.deps, &[i]) {
            self.holders[a] = self.holders[a].saturating_sub(1);
            if self.holders[a] > 0 {
                continue;
            }
            self.records[a] = None;
            for u in std::mem::take(&mut self.needs[a]) {
                if let Some(left) = self.unit_users.get_mut(&u) {
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        self.unit_users.remove(&u);
                        self.spent.push(u);
                    }
                }
            }
        }
    }

    /// Reads that nothing still to be decided needs: the caller may forget
    /// what they read.
    pub fn take_spent(&mut self) -> Vec<Unit> {
        std::mem::take(&mut self.spent)
    }

    fn kept(&self, i: usize) -> bool {
        self.keep
            .as_ref()
            .is_none_or(|k| k.contains(&self.order[i]))
    }

    fn empty_plan(&self) -> Plan {
        diff::empty_plan(self.spec, &self.state, &self.options)
    }

    /// Whether what the preflight of `needs` looks at has been read.
    fn inputs_read(&self, needs: &Needs, observed: &Observed) -> bool {
        needs.keys().all(|need| {
            let top_in = self
                .tops
                .get(&need.resource)
                .is_none_or(|u| self.read.contains(u));
            let child_in = need.or_child.as_ref().is_none_or(|(kind, _)| {
                let u = Unit::List(*kind, need.resource.clone());
                !self.wanted.contains(&u) || self.read.contains(&u)
            });
            let permissions_in = !observed.exists(&need.resource)
                || observed.permissions.contains_key(&need.resource)
                || self.permission_errors.contains_key(&need.resource);
            top_in && child_in && permissions_in
        })
    }

    /// Resources whose ARM permissions the preflight needs and nobody asked
    /// for yet: the caller reads them and gives them back with
    /// `permissions_read`.
    pub fn permissions_to_read(&mut self, observed: &Observed) -> Vec<ArmId> {
        let mut out = Vec::new();
        for p in &self.pending {
            for id in preflight::to_read(&p.needs, observed) {
                if !observed.permissions.contains_key(&id) && self.asked.insert(id.clone()) {
                    out.push(id);
                }
            }
        }
        out
    }

    /// A permission read that failed (its preflight fails with it).
    pub fn permissions_failed(&mut self, id: ArmId, error: &CloudError) {
        self.permission_errors.insert(id, error.to_string());
    }

    /// Decisions whose preflight is done, in the order they were decided
    /// (an address always after what it depends on).
    pub fn release(&mut self, observed: &Observed) -> Vec<(Address, Decision)> {
        let mut out = Vec::new();
        while let Some(front) = self.pending.front() {
            if !self.inputs_read(&front.needs, observed) {
                break;
            }
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            let mut errors: Vec<PlanError> = p
                .needs
                .keys()
                .filter_map(|n| self.permission_errors.get(&n.resource))
                .map(|e| PlanError {
                    address: "preflight".into(),
                    message: format!("cannot read your permissions: {e}"),
                    hint: None,
                })
                .collect();
            errors.extend(preflight::check(
                observed,
                &p.needs,
                self.caller.as_deref(),
                &self.names,
            ));
            let batch: Vec<usize> = p.decisions.iter().map(|(i, _)| *i).collect();
            let mut refused: HashMap<usize, PlanError> = HashMap::new();
            for e in errors {
                let named: Vec<usize> = e
                    .address
                    .split(", ")
                    .filter_map(Address::parse)
                    .filter_map(|a| self.at.get(&a).copied())
                    .filter(|i| batch.contains(i))
                    .collect();
                let targets = if named.is_empty() {
                    batch.clone()
                } else {
                    named
                };
                for i in targets {
                    refused.entry(i).or_insert_with(|| PlanError {
                        address: self.order[i].to_string(),
                        ..e.clone()
                    });
                }
            }
            for (i, decision) in p.decisions {
                let decision = match refused.remove(&i) {
                    Some(e) if matches!(decision, Decision::Change(_)) => Decision::Failed(e),
                    _ => decision,
                };
                if self.released[i].replace(decision.clone()).is_none() {
                    self.spend(i);
                }
                out.push((self.order[i].clone(), decision));
            }
        }
        out
    }

    /// Whether every address is decided and released.
    #[cfg(test)]
    pub fn finished(&self) -> bool {
        self.released.iter().all(Option::is_some)
    }

    /// The decision released for `address`, if any.
    pub fn decision(&self, address: &Address) -> Option<&Decision> {
        self.at
            .get(address)
            .and_then(|&i| self.released[i].as_ref())
    }

    /// What must be decided (and, if deleted, deleted first) before a delete
    /// of `address` may be applied: what depends on it in the spec, and what
    /// lives under it by id.
    pub fn delete_gates(&self, address: &Address) -> Vec<Address> {
        self.at.get(address).map_or_else(Vec::new, |&i| {
            self.gates[i]
                .iter()
                .map(|&d| self.order[d].clone())
                .collect()
        })
    }

    /// The plan of every change released, ordered and sealed as `diff`
    /// orders and seals a whole plan.
    pub fn into_plan(self) -> Plan {
        let mut changes: Vec<Change> = Vec::new();
        let mut deletes: Vec<Change> = Vec::new();
        let empty = self.empty_plan();
        for d in self.released {
            if let Some(Decision::Change(c)) = d {
                // The executor is done with its share by now: no copy.
                let c = Arc::unwrap_or_clone(c);
                if c.action == Action::Delete {
                    deletes.push(c);
                } else {
                    changes.push(c);
                }
            }
        }
        diff::sort_deletes(&mut deletes, self.spec);
        let mut all: Vec<Change> = changes.into_iter().chain(deletes).collect();
        handover::order(&mut all);
        let mut drift: Vec<(usize, Change)> = self
            .drift
            .iter()
            .flat_map(|(i, cs)| cs.iter().map(|c| (*i, c.clone())))
            .collect();
        drift.sort_by_key(|(i, _)| *i);
        let mut warnings: Vec<(usize, Warning)> = Vec::new();
        for (first, w) in &self.warnings {
            match warnings
                .iter_mut()
                .find(|(_, x)| x.headline == w.headline && x.detail == w.detail)
            {
                Some((at, x)) => {
                    *at = (*at).min(*first);
                    x.addresses.extend(w.addresses.iter().cloned());
                }
                None => warnings.push((*first, w.clone())),
            }
        }
        warnings.sort_by_key(|(i, _)| *i);
        let position: HashMap<Address, usize> = all
            .iter()
            .enumerate()
            .map(|(i, c)| (c.address.clone(), i))
            .collect();
        let mut plan = Plan {
            changes: all,
            drift: drift.into_iter().map(|(_, c)| c).collect(),
            warnings: warnings
                .into_iter()
                .map(|(_, mut w)| {
                    w.addresses
                        .sort_by_key(|a| position.get(a).copied().unwrap_or(usize::MAX));
                    w
                })
                .collect(),
            ..empty
        };
        plan.seal();
        plan
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{streamable, Decision, Planner};
    use crate::addr::{ArmId, ResourceKind};
    use crate::graph::Graph;
    use crate::plan::diff::{diff, DiffOptions};
    use crate::plan::refresh::{units, Observed, Unit};
    use crate::plan::{Plan, PlanMode};
    use crate::spec::source::SourceFile;
    use crate::spec::variables::Overrides;
    use crate::spec::LoadedSpec;
    use crate::state::{ResourceState, State};

    const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

    fn spec() -> LoadedSpec {
        let text = format!(
            "version: 1
defaults: {{ subscription: {SUB}, resource_group: rg, location: westeurope }}
variables:
  teams: [a, b, c, d]
synapse_workspaces:
  shared: {{ name: syn, existing: true }}
spark_pools:
  pool: {{ synapse_workspace: shared, name: pool, existing: true }}
ml_workspaces:
  \"{{each}}\":
    for_each: ${{teams}}
    name: \"mlw-{{each}}\"
    existing: true
links:
  \"{{each}}\":
    for_each: ${{teams}}
    ml_workspace: \"{{each}}\"
    synapse_workspace: shared
    name: link1
role_grants:
  \"{{each}}\":
    for_each: ${{teams}}
    synapse_workspace: shared
    role: Synapse Apache Spark Administrator
    principal: {{ link: \"{{each}}\" }}
attachments:
  \"{{each}}\":
    for_each: ${{teams}}
    ml_workspace: \"{{each}}\"
    spark_pool: pool
    name: spark
"
        );
        crate::spec::load_text(
            SourceFile {
                path: "s.yaml".into(),
                text,
            },
            &Overrides::default(),
        )
        .expect("a valid spec")
    }

    fn rg() -> String {
        format!("/subscriptions/{SUB}/resourceGroups/rg/providers")
    }

    /// Azure as the test has it: every data source; team a fully linked
    /// (adopted), team b's link only, team c's attach `Failed` (replaced),
    /// team d nothing.
    fn azure() -> Observed {
        let mut o = Observed::default();
        let syn = ArmId::new(format!("{}/Microsoft.Synapse/workspaces/syn", rg()));
        o.insert(
            ResourceKind::SynapseWorkspace,
            syn.clone(),
            json!({"id": syn.as_str(), "location": "westeurope",
                   "properties": {"connectivityEndpoints": {"dev": "https://syn.dev"}}}),
        );
        let pool = syn.child("bigDataPools", "pool");
        o.insert(
            ResourceKind::SparkPool,
            pool.clone(),
            json!({"id": pool.as_str(), "location": "westeurope", "properties": {"nodeSize": "Small"}}),
        );
        o.permissions.insert(
            syn.clone(),
            vec![json!({"actions": ["*"], "notActions": []})],
        );
        for t in ["a", "b", "c", "d"] {
            let ml = ArmId::new(format!(
                "{}/Microsoft.MachineLearningServices/workspaces/mlw-{t}",
                rg()
            ));
            o.insert(
                ResourceKind::MlWorkspace,
                ml.clone(),
                json!({"id": ml.as_str(), "location": "westeurope",
                       "identity": {"type": "SystemAssigned", "principalId": format!("ml-{t}")}}),
            );
            if t == "a" || t == "b" {
                let link = ml.child("linkedServices", "link1");
                o.insert(
                    ResourceKind::Link,
                    link.clone(),
                    json!({"id": link.as_str(), "name": "link1", "location": "westeurope",
                           "identity": {"type": "SystemAssigned", "principalId": format!("p-{t}")},
                           "properties": {"linkedServiceResourceId": syn.as_str(), "linkType": "Synapse"}}),
                );
            }
            if t == "a" {
                let role = crate::spec::roles::find("Apache Spark Administrator")
                    .expect("role")
                    .id;
                let grant = syn.child("roleAssignments", "g-a");
                o.insert(
                    ResourceKind::RoleGrant,
                    grant,
                    json!({"id": "g-a", "roleDefinitionId": role, "principalId": "p-a",
                           "scope": "workspaces/syn", "principalType": "ServicePrincipal"}),
                );
            }
            if t == "a" || t == "c" {
                let compute = ml.child("computes", "spark");
                let state = if t == "c" { "Failed" } else { "Succeeded" };
                o.insert(
                    ResourceKind::Attachment,
                    compute.clone(),
                    json!({"id": compute.as_str(), "location": "westeurope",
                           "properties": {"computeType": "SynapseSpark", "resourceId": pool.as_str(),
                                          "provisioningState": state}}),
                );
            }
        }
        o
    }

    /// The plan decided unit by unit, reads given in `order`; what the
    /// planner says is spent is forgotten at once (so a read it still needed
    /// would change the plan).
    fn streamed(
        spec: &LoadedSpec,
        graph: &Graph,
        state: &State,
        options: &DiffOptions,
        observed: &Observed,
        reversed: bool,
    ) -> (Plan, Vec<String>) {
        let all = units(spec, state);
        let mut planner = Planner::new(spec, graph, state.clone(), options.clone(), None, &all);
        let mut observed = observed.clone();
        let mut spent = 0;
        let mut feed: Vec<Unit> = all.clone();
        feed.sort_by_key(|u| std::cmp::Reverse(planner.read_priority(u)));
        if reversed {
            feed.reverse();
        }
        let mut order = Vec::new();
        for u in feed {
            planner.read(&[(u, Ok(()))]);
            planner.decide(&observed);
            assert!(planner.permissions_to_read(&observed).is_empty());
            for (address, decision) in planner.release(&observed) {
                assert!(
                    !matches!(decision, Decision::Failed(_) | Decision::Skipped(_)),
                    "{address}: {decision:?}"
                );
                order.push(address.to_string());
            }
            for u in planner.take_spent() {
                observed.forget(&u);
                spent += 1;
            }
        }
        assert!(planner.finished(), "every address decided");
        // Once everything is decided, nothing read is held any more.
        assert_eq!(spent, all.len(), "every read is spent by the end");
        assert!(planner.records.iter().all(Option::is_none));
        (planner.into_plan(), order)
    }

    fn options(mode: PlanMode, targets: &[&str]) -> DiffOptions {
        DiffOptions {
            mode,
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            spec_hash: "h".into(),
        }
    }

    #[test]
    fn the_plan_decided_as_reads_come_in_is_the_whole_plan_digest_and_all() {
        let spec = spec();
        let graph = Graph::build(&spec).expect("no cycle");
        let state = State::new();
        let observed = azure();
        let opts = options(PlanMode::Normal, &[]);
        let whole = diff(&spec, &graph, &observed, &state, &opts);
        assert!(whole.errors.is_empty(), "{:?}", whole.errors);
        let actions: Vec<String> = whole
            .plan
            .changes
            .iter()
            .map(|c| format!("{} {:?}", c.address, c.action))
            .collect();
        // The fixture covers reads, adoptions, creates and a replacement.
        for want in [
            "ml_workspaces.a Read",
            "links.a Adopt",
            "links.d Create",
            "role_grants.b Create",
            "attachments.c Replace",
        ] {
            assert!(actions.iter().any(|a| a == want), "{want}: {actions:#?}");
        }
        for reversed in [false, true] {
            let (plan, order) = streamed(&spec, &graph, &state, &opts, &observed, reversed);
            assert_eq!(plan.changes, whole.plan.changes, "reversed: {reversed}");
            assert_eq!(plan.warnings, whole.plan.warnings);
            assert_eq!(plan.drift, whole.plan.drift);
            assert_eq!(plan.digest, whole.plan.digest);
            // Every address comes after what it depends on.
            for (i, a) in order.iter().enumerate() {
                let address = crate::addr::Address::parse(a).expect("address");
                for d in graph.dependencies(&address) {
                    let j = order.iter().position(|x| *x == d.to_string());
                    assert!(j.is_some_and(|j| j < i), "{d} before {a}: {order:?}");
                }
            }
        }
    }

    #[test]
    fn destroy_and_target_plans_are_the_whole_plans_too() {
        let spec = spec();
        let graph = Graph::build(&spec).expect("no cycle");
        let observed = azure();
        // A state that records team a's and b's resources, as an apply would.
        let mut state = State::new();
        state.serial = 3;
        for c in diff(
            &spec,
            &graph,
            &observed,
            &State::new(),
            &options(PlanMode::Normal, &[]),
        )
        .plan
        .changes
        {
            let Some(id) = c.id.clone() else { continue };
            if !observed.exists(&id) {
                continue;
            }
            state.resources.insert(
                c.address.to_string(),
                ResourceState {
                    kind: c.kind,
                    id,
                    existing: c.action == crate::plan::Action::Read,
                    properties: c.after.clone().unwrap_or_default(),
                    outputs: c.outputs.clone(),
                    dependencies: c.depends_on.clone(),
                },
            );
        }
        assert!(streamable(&spec, &state));
        for opts in [
            options(PlanMode::Destroy, &[]),
            options(PlanMode::Normal, &["attachments.b"]),
            options(PlanMode::Normal, &["links.*"]),
        ] {
            let whole = diff(&spec, &graph, &observed, &state, &opts);
            assert!(whole.errors.is_empty(), "{:?}", whole.errors);
            let (plan, _) = streamed(&spec, &graph, &state, &opts, &observed, false);
            assert_eq!(plan.changes, whole.plan.changes, "{opts:?}");
            assert_eq!(plan.digest, whole.plan.digest, "{opts:?}");
        }
        // A state address the spec no longer has is not streamable.
        let mut gone = state.clone();
        let rs = gone.resources["links.a"].clone();
        gone.resources.insert("links.old".into(), rs);
        assert!(!streamable(&spec, &gone));
    }

    #[test]
    fn an_address_whose_read_failed_fails_and_what_depends_on_it_is_skipped() {
        let spec = spec();
        let graph = Graph::build(&spec).expect("no cycle");
        let state = State::new();
        let observed = azure();
        let all = units(&spec, &state);
        let mut planner = Planner::new(
            &spec,
            &graph,
            state.clone(),
            options(PlanMode::Normal, &[]),
            None,
            &all,
        );
        let ml_b = ArmId::new(format!(
            "{}/Microsoft.MachineLearningServices/workspaces/mlw-b",
            rg()
        ));
        let error = crate::cloud::error::CloudError::Unexpected {
            path: ml_b.to_string(),
            message: "boom".into(),
        };
        let completed: Vec<_> = all
            .iter()
            .map(|u| {
                let failed = matches!(u, Unit::Top(_, id) if *id == ml_b)
                    || matches!(u, Unit::List(_, p) if *p == ml_b);
                (u.clone(), if failed { Err(error.clone()) } else { Ok(()) })
            })
            .collect();
        planner.read(&completed);
        planner.decide(&observed);
        let released: Vec<(String, Decision)> = planner
            .release(&observed)
            .into_iter()
            .map(|(a, d)| (a.to_string(), d))
            .collect();
        let of = |a: &str| {
            released
                .iter()
                .find(|(x, _)| x == a)
                .map(|(_, d)| d.clone())
                .expect(a)
        };
        assert!(matches!(of("ml_workspaces.b"), Decision::Failed(_)));
        assert!(
            matches!(of("links.b"), Decision::Failed(_)),
            "its own list failed too"
        );
        assert!(matches!(of("role_grants.b"), Decision::Skipped(_)));
        assert!(
            matches!(of("attachments.b"), Decision::Failed(_)),
            "its own list failed too"
        );
        assert!(matches!(of("links.d"), Decision::Change(_)));
    }
}
