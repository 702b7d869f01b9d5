//! The diff: a pure function of (spec, graph, what Azure holds, state) → plan.
//! It is a loop over the resources in dependency order that asks each one's
//! provider for its id, desired properties and request, and never matches on
//! the kind. Values known only after apply (a new link's principal id) are
//! marked as such with where they come from; a resource found by its
//! provider's key (a role assignment's scope, role and principal) is adopted,
//! not duplicated; a resource that ended `Failed` is planned for repair; every
//! change carries what apply needs, so that apply reads nothing else.

use std::collections::{HashMap, HashSet};

use globset::{Glob, GlobMatcher};
use indexmap::IndexMap;
use serde_json::Value;

use crate::addr::{Address, ArmId, Properties};
use crate::graph::Graph;
use crate::plan::moves::{self, Orphans};
use crate::plan::refresh::Observed;
use crate::plan::{
    handover, Action, ActionReason, Change, Plan, PlanMode, Warning, PLAN_FORMAT_VERSION,
};
use crate::provider::{self, Desired, Known, Lookup, Outputs, Repair, Status};
use crate::spec::{LoadedSpec, Resource};
use crate::state::{ResourceState, State};

/// A problem that stops a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// The address concerned.
    pub address: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

/// Options of a diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Normal, destroy or refresh-only.
    pub mode: PlanMode,
    /// `--target` globs (empty: everything).
    pub targets: Vec<String>,
    /// Hash of the spec and variables.
    pub spec_hash: String,
}

/// The result of a diff.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The plan (sealed: its digest is set).
    pub plan: Plan,
    /// Problems that make the plan unusable.
    pub errors: Vec<PlanError>,
}

/// The namespace of the ids synlink chooses for new Synapse role assignments.
const ASSIGNMENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5d1c_0b1e_7a3e_4c52_9c1f_2a61_8e0d_4b7a);

/// What the diff has learnt about one address, for the ones after it.
struct Seen<'o> {
    /// The id it owns (found in Azure, derived, or chosen for a new assignment).
    id: Option<ArmId>,
    /// What Azure holds, when it exists and stays (borrowed from what refresh
    /// read: thousands of bodies are not copied).
    body: Option<&'o Value>,
    /// Its outputs are known only after apply (created or replaced).
    pending: bool,
}

struct Ctx<'o> {
    seen: HashMap<Address, Seen<'o>>,
}

impl Lookup for Ctx<'_> {
    fn id(&self, address: &Address) -> Option<ArmId> {
        self.seen.get(address).and_then(|s| s.id.clone())
    }

    fn body(&self, address: &Address) -> Option<&Value> {
        self.seen.get(address).and_then(|s| s.body)
    }

    fn output(&self, address: &Address, key: &str) -> Known {
        let Some(seen) = self.seen.get(address) else {
            return Known::Absent;
        };
        if seen.pending {
            return Known::AfterApply;
        }
        seen.body
            .and_then(|body| provider::of(address.kind).outputs(body).get(key).cloned())
            .map_or(Known::Absent, Known::Now)
    }
}

fn err(address: &Address, message: impl Into<String>, hint: Option<String>) -> PlanError {
    PlanError {
        address: address.to_string(),
        message: message.into(),
        hint,
    }
}

/// A `--target` glob (`*` any run of characters).
pub fn glob(pattern: &str) -> Option<GlobMatcher> {
    Glob::new(pattern).ok().map(|g| g.compile_matcher())
}

/// Whether `path` is ignored by one of `ignore` (a path or a prefix of one).
fn ignored(ignore: &[String], path: &str) -> bool {
    ignore.iter().any(|i| {
        path == i
            || path
                .strip_prefix(i.as_str())
                .is_some_and(|r| r.starts_with('.'))
    })
}

/// The paths whose observed value differs from the desired one, honouring
/// `ignore_changes` (a path or a prefix).
fn differing(
    desired: &Properties,
    observed: &Properties,
    ignore: &[String],
    unknown: &[String],
) -> Vec<String> {
    let mut paths: Vec<String> = desired
        .iter()
        .filter(|(k, v)| !ignored(ignore, k) && observed.get(*k).unwrap_or(&Value::Null) != *v)
        .map(|(k, _)| k.clone())
        .collect();
    for u in unknown {
        if !ignored(ignore, u) && !paths.contains(u) {
            paths.push(u.clone());
        }
    }
    // Tags removed from the spec but present in Azure are changes too.
    paths.extend(
        observed
            .keys()
            .filter(|k| k.starts_with("tags.") && !desired.contains_key(*k) && !ignored(ignore, k))
            .cloned(),
    );
    paths
}

/// The lifecycle settings of a resource.
fn lifecycle(r: &Resource) -> (&[String], bool) {
    let l = r.lifecycle();
    (&l.ignore_changes, l.prevent_destroy)
}

/// What Azure holds for `r`: found by its id, by its provider's key among its
/// parent's children, or by the id the state recorded.
fn find<'o>(
    r: &Resource,
    spec: &LoadedSpec,
    observed: &'o Observed,
    desired: &Desired,
    recorded: Option<&ResourceState>,
) -> Option<(ArmId, &'o Value)> {
    let p = provider::of(r.address.kind);
    if let Some(id) = p.id(r, spec) {
        return observed.get(&id).map(|b| (id, b));
    }
    let parent = p.parent_id(r, spec)?;
    let by_key = p
        .key_of_desired(&desired.properties)
        .and_then(|key| observed.find_key(r.address.kind, &parent, &key))
        .map(|(id, body)| (id.clone(), body));
    // Without a known key (its principal is not created yet), what the state
    // recorded under this parent, if still there, is what exists.
    by_key.or_else(|| {
        let id = &recorded?.id;
        (id.parent().as_ref() == Some(&parent))
            .then(|| observed.get(id).map(|b| (id.clone(), b)))
            .flatten()
    })
}

/// The id a new resource that Azure does not name gets: chosen by the plan,
/// the same for every plan made against the same state, so a fresh plan made
/// to check a saved one agrees with it.
fn planned_id(
    r: &Resource,
    spec: &LoadedSpec,
    state: &State,
    desired: &Properties,
) -> Option<ArmId> {
    let p = provider::of(r.address.kind);
    p.id(r, spec).or_else(|| {
        // A state not written yet gets a new lineage each time it is read: it
        // names nothing then, and a plan made against it must name the same ids.
        let lineage = if state.serial == 0 && state.resources.is_empty() {
            ""
        } else {
            state.lineage.as_str()
        };
        let seed = format!(
            "{lineage}/{}/{}/{}",
            state.serial,
            r.address,
            serde_json::to_string(desired).unwrap_or_default()
        );
        let name = uuid::Uuid::new_v5(&ASSIGNMENT_NAMESPACE, seed.as_bytes());
        Some(
            p.parent_id(r, spec)?
                .child(p.collection(), &name.to_string()),
        )
    })
}

/// A change with the fields every action shares.
fn change(address: &Address, action: Action, id: Option<ArmId>) -> Change {
    Change {
        id,
        ..Change::new(address.clone(), action)
    }
}

/// Computes the plan.
pub fn diff(
    spec: &LoadedSpec,
    graph: &Graph,
    observed: &Observed,
    state: &State,
    options: &DiffOptions,
) -> Diff {
    let mut ctx = Ctx {
        seen: HashMap::new(),
    };
    // The state as the moves leave it: `moved:` entries first, then the same
    // ids found again under new addresses as the loop meets them.
    let explicit = moves::explicit(spec, state);
    let view = &explicit.state;
    let mut moved_from = explicit.from.clone();
    let mut orphans = Orphans::of(spec, view);
    let mut errors: Vec<PlanError> = explicit
        .errors
        .iter()
        .map(|e| PlanError {
            address: "moved".into(),
            message: e.message.clone(),
            hint: Some(e.hint.clone()),
        })
        .collect();
    let mut changes: Vec<Change> = Vec::new();
    let mut drift: Vec<Change> = Vec::new();
    let mut deletes: Vec<Change> = Vec::new();
    let mut warnings: IndexMap<(crate::addr::ResourceKind, &str), Warning> = IndexMap::new();
    let mut owners: HashMap<ArmId, Address> = HashMap::new();
    let destroy = options.mode == PlanMode::Destroy;

    for address in graph.order() {
        let Some(r) = spec.resources.get(&address) else {
            continue;
        };
        let p = provider::of(address.kind);
        let desired = p.desired(r, spec, &ctx);
        let mut recorded = view.resources.get(&address.to_string());
        let found = find(r, spec, observed, &desired, recorded);
        let id = found
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| planned_id(r, spec, state, &desired.properties));
        if recorded.is_none() {
            if let Some(old) = id
                .as_ref()
                .and_then(|id| orphans.get(id, &address))
                .cloned()
            {
                match moves::removal(&spec.removed, &old) {
                    // Deleting the old address would delete this one's resource.
                    Some(rule) if rule.destroy => errors.push(err(
                        &address,
                        format!("`{old}` is to be destroyed (`removed` with `destroy: true`), but `{address}` describes the same Azure resource: {}", id.as_ref().map(ToString::to_string).unwrap_or_default()),
                        Some(format!("drop the `removed` entry to move `{old}` to `{address}`, or give `{address}` another resource")),
                    )),
                    // Forgotten there, adopted here.
                    Some(_) => {}
                    None => {
                        orphans.claim(&old);
                        recorded = view.resources.get(&old.to_string());
                        moved_from.insert(address.clone(), (old, ActionReason::MoveBecauseSameId));
                    }
                }
            }
        }
        if let (Some((old, ActionReason::MoveBecauseMovedBlock)), Some(rs)) =
            (moved_from.get(&address), recorded)
        {
            let owned = found
                .as_ref()
                .map(|(id, _)| id.clone())
                .or_else(|| p.id(r, spec));
            if let Some(owned) = owned.filter(|o| *o != rs.id) {
                errors.push(err(
                    &address,
                    format!("`moved` from `{old}`, which records {}, but the spec gives `{address}` {owned}: a move cannot change which Azure resource an address owns", rs.id),
                    Some(format!("fix the `moved` entry, or drop it to let the plan delete `{old}` and create `{address}`")),
                ));
            }
        }
        let move_of = moved_from.get(&address).cloned();
        if let Some(id) = &id {
            if let Some(other) = owners.insert(id.clone(), address.clone()) {
                errors.push(err(
                    &address,
                    format!("`{other}` and `{address}` describe the same Azure resource: {id}"),
                    Some("give each address its own resource (name, workspace, or role and principal)".into()),
                ));
            }
        }
        let body = found.as_ref().map(|(_, b)| *b);
        let before = body.map(|b| p.observed(b, Some(&desired.properties)));
        let outputs: Outputs = body.map(|b| p.outputs(b)).unwrap_or_default();
        let (ignore, prevent_destroy) = lifecycle(r);
        let mut base = change(&address, Action::NoOp, id.clone());
        base.before.clone_from(&before);
        base.after = Some(desired.properties.clone());
        base.after_unknown = desired.unknown.keys().cloned().collect();
        base.depends_on = graph.dependencies(&address).into_iter().cloned().collect();
        for (path, fill) in &desired.unknown {
            if let Some(fill) = fill {
                base.sources.insert(path.clone(), fill.clone());
            }
        }
        let mut seen = Seen {
            id: id.clone(),
            body,
            pending: false,
        };

        if r.existing {
            match &before {
                None => errors.push(err(&address, format!("data source not found in Azure: {}", id.map(|i| i.to_string()).unwrap_or_default()), Some("create it, fix its name or placement, or drop `existing: true` to let synlink create it; to try the spec offline, `--cloud local --seed-existing` creates it in the local cloud".into()))),
                Some(obs) => changes.push(Change {
                    action: Action::Read,
                    before: Some(obs.clone()),
                    after: Some(obs.clone()),
                    after_unknown: Vec::new(),
                    sources: IndexMap::new(),
                    outputs,
                    action_reason: Some(ActionReason::ReadBecauseDataSource),
                    previous_address: move_of.map(|(old, _)| old),
                    ..base
                }),
            }
            ctx.seen.insert(address, seen);
            continue;
        }
        // Drift: gone from Azure since the last apply.
        if let (None, Some(rs)) = (&before, recorded) {
            drift.push(Change {
                action: Action::Delete,
                before: Some(rs.properties.clone()),
                after: None,
                after_unknown: Vec::new(),
                reasons: vec!["deleted outside synlink".into()],
                ..base.clone()
            });
        }
        // Drift: Azure differs from what was last applied.
        if let (Some(obs), Some(rs)) = (&before, recorded) {
            let drifted = differing(&rs.properties, obs, ignore, &[]);
            if !drifted.is_empty() {
                drift.push(Change {
                    action: Action::Update,
                    before: Some(rs.properties.clone()),
                    after: Some(obs.clone()),
                    after_unknown: Vec::new(),
                    reasons: drifted
                        .iter()
                        .map(|p| format!("`{p}` changed outside synlink"))
                        .collect(),
                    ..base.clone()
                });
            }
        }
        if destroy {
            if before.is_some() {
                if prevent_destroy {
                    errors.push(err(
                        &address,
                        "lifecycle.prevent_destroy forbids destroying this resource",
                        Some("remove prevent_destroy first, or leave it out with --target".into()),
                    ));
                }
                deletes.push(Change {
                    action: Action::Delete,
                    after: None,
                    after_unknown: Vec::new(),
                    sources: IndexMap::new(),
                    reasons: vec!["destroy".into()],
                    action_reason: Some(ActionReason::DeleteBecauseDestroy),
                    previous_address: move_of.map(|(old, _)| old),
                    ..base
                });
            }
            ctx.seen.insert(address, seen);
            continue;
        }
        let planned = match (&before, body.map(|b| p.status(b))) {
            (None, _) => {
                seen.pending = true;
                // A new resource that mints an identity gets a principal only once created.
                if p.mints_identity(r) && !base.after_unknown.iter().any(|u| u == "principal_id") {
                    base.after_unknown.push("principal_id".into());
                }
                if let Some((headline, detail)) = p.creation_warning() {
                    warnings
                        .entry((address.kind, headline))
                        .or_insert_with(|| Warning {
                            headline: headline.to_owned(),
                            detail: detail.to_owned(),
                            addresses: Vec::new(),
                        })
                        .addresses
                        .push(address.clone());
                }
                let (reason, why) = if recorded.is_some() {
                    (
                        "recorded in state but gone from Azure: will be created again",
                        ActionReason::CreateBecauseGone,
                    )
                } else {
                    ("not found in Azure", ActionReason::CreateBecauseMissing)
                };
                Change {
                    action: Action::Create,
                    before: None,
                    reasons: vec![reason.into()],
                    action_reason: Some(why),
                    ..base
                }
            }
            (Some(obs), Some(Status::Failed(state_name))) => {
                let words = p.words();
                let (action, reason, why) = match p.repair() {
                    Repair::Update => (
                        Action::Update,
                        format!("its provisioning state is {state_name}: it will be written again"),
                        ActionReason::UpdateBecauseFailed,
                    ),
                    Repair::Replace => (
                        Action::Replace,
                        format!(
                            "its provisioning state is {state_name}: it will be {} and {} again",
                            words.destroyed, words.created
                        ),
                        ActionReason::ReplaceBecauseFailed,
                    ),
                };
                if action == Action::Replace {
                    seen.pending = true;
                    if prevent_destroy {
                        errors.push(err(&address, format!("lifecycle.prevent_destroy forbids replacing this resource (its provisioning state is {state_name})"), Some("repair it by hand, or remove prevent_destroy".into())));
                    }
                }
                Change {
                    action,
                    after: Some(keep_ignored(&desired.properties, obs, ignore)),
                    reasons: vec![reason],
                    action_reason: Some(why),
                    ..base
                }
            }
            (Some(_), Some(Status::Running(state_name))) => {
                errors.push(err(
                    &address,
                    format!("Azure still reports it as {state_name}"),
                    Some("wait for the operation to finish, then plan again".into()),
                ));
                base
            }
            (Some(obs), _) => {
                let unknown = base.after_unknown.clone();
                let paths = differing(&desired.properties, obs, ignore, &unknown);
                if paths.is_empty() {
                    if recorded.is_none_or(|rs| Some(&rs.id) != id.as_ref()) {
                        Change {
                            action: Action::Adopt,
                            outputs,
                            reasons: vec![
                                "exists in Azure and matches the spec: adopted into the state"
                                    .into(),
                            ],
                            action_reason: Some(ActionReason::AdoptBecauseUnrecorded),
                            ..base
                        }
                    } else if move_of.is_some() {
                        Change {
                            action: Action::Move,
                            outputs,
                            ..base
                        }
                    } else {
                        base
                    }
                } else {
                    let forcing: Vec<String> = paths
                        .iter()
                        .filter(|path| provider::path_matches(path, p.replace_paths()))
                        .cloned()
                        .collect();
                    let mut reasons: Vec<String> = paths
                        .iter()
                        .filter(|path| !forcing.contains(path))
                        .map(|path| format!("`{path}` differs from the spec"))
                        .collect();
                    let after = Some(keep_ignored(&desired.properties, obs, ignore));
                    if forcing.is_empty() {
                        Change {
                            action: Action::Update,
                            after,
                            reasons,
                            action_reason: Some(ActionReason::UpdateBecauseDiffers),
                            ..base
                        }
                    } else {
                        if prevent_destroy {
                            errors.push(err(&address, format!("lifecycle.prevent_destroy forbids replacing this resource (forced by {})", forcing.join(", ")), Some("change the spec back, or remove prevent_destroy".into())));
                        }
                        seen.pending = true;
                        reasons.extend(
                            forcing
                                .iter()
                                .map(|path| format!("`{path}` cannot change in place")),
                        );
                        Change {
                            action: Action::Replace,
                            after,
                            reasons,
                            replace_paths: forcing,
                            action_reason: Some(ActionReason::ReplaceBecauseCannotUpdate),
                            ..base
                        }
                    }
                }
            }
        };
        let mut planned = planned;
        if let Some((old, why)) = move_of {
            if planned.action == Action::Move {
                planned.reasons = vec![match why {
                    ActionReason::MoveBecauseMovedBlock => format!("a `moved` entry renames `{old}`: only the state changes"),
                    _ => format!("`{old}` left the spec and `{address}` names the same Azure resource: only the state changes"),
                }];
                planned.action_reason = Some(why);
            }
            planned.previous_address = Some(old);
        }
        if matches!(
            planned.action,
            Action::Create | Action::Update | Action::Replace
        ) {
            if planned.action == Action::Replace && p.id(r, spec).is_none() {
                // Azure never reuses an assignment id: the new one gets its own.
                planned.replacement_id = planned_id(r, spec, state, &desired.properties);
            }
            let after = Desired {
                properties: planned.after.clone().unwrap_or_default(),
                unknown: desired.unknown.clone(),
            };
            if planned.action != Action::Update {
                if let Some((message, hint)) = p.cannot_create(r) {
                    errors.push(err(&address, message, Some(hint)));
                }
            }
            let request = p.request(r, spec, &ctx, &after, planned.action != Action::Update);
            for var in request.env_vars() {
                if std::env::var(var).map_or(true, |v| v.is_empty()) {
                    errors.push(err(
                        &address,
                        format!("the environment variable `{var}` is not set (or is empty); this change sends the secret it holds"),
                        Some(format!("set {var} before running synlink (the spec names it; its value is never written to a plan or the state)")),
                    ));
                }
            }
            planned.request = Some(request);
        }
        ctx.seen.insert(address, seen);
        changes.push(planned);
    }

    // Whatever the state manages that the spec no longer has (or everything,
    // for destroy): deleted, or forgotten when a `removed` entry says so.
    let renamed: HashMap<&Address, &Address> = moved_from
        .iter()
        .map(|(new, (old, _))| (old, new))
        .collect();
    let mut forgets: Vec<Change> = Vec::new();
    for (addr_text, rs) in &view.resources {
        let Some(address) = Address::parse(addr_text) else {
            continue;
        };
        if rs.existing || spec.resources.contains_key(&address) || orphans.is_claimed(&address) {
            continue;
        }
        let p = provider::of(rs.kind);
        let before = observed
            .get(&rs.id)
            .map(|body| p.observed(body, Some(&rs.properties)));
        let rule = moves::removal(&spec.removed, &address);
        let mut c = change(&address, Action::Delete, Some(rs.id.clone()));
        // What it depends on, under the addresses the moves give them.
        c.depends_on = rs
            .dependencies
            .iter()
            .map(|d| renamed.get(d).map_or_else(|| d.clone(), |n| (*n).clone()))
            .collect();
        if let Some(rule) = rule.filter(|r| !r.destroy) {
            forgets.push(Change {
                action: Action::Forget,
                before: Some(before.unwrap_or_else(|| rs.properties.clone())),
                reasons: vec![format!(
                    "`removed` (`from: {}`, `destroy: false`): the state forgets it; Azure keeps it as it is",
                    rule.from
                )],
                action_reason: Some(ActionReason::ForgetBecauseRemovedBlock),
                ..c
            });
            continue;
        }
        if let Some(before) = before {
            c.before = Some(before);
            let (reason, why) = match rule {
                _ if destroy => ("destroy".to_owned(), ActionReason::DeleteBecauseDestroy),
                Some(rule) => (
                    format!("`removed` (`from: {}`, `destroy: true`)", rule.from),
                    ActionReason::DeleteBecauseRemovedBlock,
                ),
                None => (
                    "removed from the spec".to_owned(),
                    ActionReason::DeleteBecauseNoResourceConfig,
                ),
            };
            c.reasons = vec![reason];
            c.action_reason = Some(why);
            deletes.push(c);
        }
    }
    sort_deletes(&mut deletes, spec);

    let mut all: Vec<Change> = if options.mode == PlanMode::RefreshOnly {
        Vec::new()
    } else {
        changes.into_iter().chain(deletes).chain(forgets).collect()
    };
    handover::order(&mut all);
    if !options.targets.is_empty() {
        let globs: Vec<GlobMatcher> = options.targets.iter().filter_map(|t| glob(t)).collect();
        let mut keep: HashSet<Address> = HashSet::new();
        let mut stack: Vec<Address> = all
            .iter()
            .map(|c| c.address.clone())
            .filter(|a| {
                let text = a.to_string();
                globs.iter().any(|g| g.is_match(&text))
            })
            .collect();
        let waits: HashMap<&Address, &[Address]> = all
            .iter()
            .map(|c| (&c.address, c.waits_for.as_slice()))
            .collect();
        while let Some(a) = stack.pop() {
            if keep.insert(a.clone()) {
                stack.extend(graph.dependencies(&a).into_iter().cloned());
                // What a kept change waits for is kept too (make before break).
                stack.extend(waits.get(&a).into_iter().flat_map(|w| w.iter().cloned()));
            }
        }
        all.retain(|c| keep.contains(&c.address));
        drift.retain(|c| keep.contains(&c.address));
    }
    all.retain(|c| c.action != Action::NoOp);
    let mut plan = Plan {
        changes: all,
        drift,
        warnings: warnings.into_values().collect(),
        ..empty_plan(spec, state, options)
    };
    plan.seal();
    Diff { plan, errors }
}

/// A plan of nothing yet, made against `spec` and `state` with `options`.
pub fn empty_plan(spec: &LoadedSpec, state: &State, options: &DiffOptions) -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
        digest: String::new(),
        spec_path: spec.file.path.display().to_string(),
        spec_hash: options.spec_hash.clone(),
        state_lineage: state.lineage.clone(),
        state_serial: state.serial,
        mode: options.mode,
        targets: options.targets.clone(),
        changes: Vec::new(),
        drift: Vec::new(),
        warnings: Vec::new(),
    }
}

/// Deletes in the order they run: by kind (dependents first), then in the
/// spec's order, then by address (what left the spec).
pub fn sort_deletes(deletes: &mut [Change], spec: &LoadedSpec) {
    let node = |a: &Address| spec.resources.get_index_of(a).unwrap_or(usize::MAX);
    deletes.sort_by_key(|c| {
        (
            provider::of(c.kind).delete_rank(),
            node(&c.address),
            c.address.clone(),
        )
    });
}

/// The desired properties, where lifecycle ignores a path keeping Azure's value.
fn keep_ignored(desired: &Properties, observed: &Properties, ignore: &[String]) -> Properties {
    let mut after = desired.clone();
    for (k, v) in observed {
        if ignored(ignore, k) {
            after.insert(k.clone(), v.clone());
        }
    }
    after
}
