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
use crate::plan::refresh::Observed;
use crate::plan::{Action, Change, Plan, PlanMode, Warning, PLAN_FORMAT_VERSION};
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
struct Seen {
    /// The id it owns (found in Azure, derived, or chosen for a new assignment).
    id: Option<ArmId>,
    /// What Azure holds, when it exists and stays.
    body: Option<Value>,
    /// Its outputs are known only after apply (created or replaced).
    pending: bool,
}

struct Ctx {
    seen: HashMap<Address, Seen>,
}

impl Lookup for Ctx {
    fn id(&self, address: &Address) -> Option<ArmId> {
        self.seen.get(address).and_then(|s| s.id.clone())
    }

    fn body(&self, address: &Address) -> Option<&Value> {
        self.seen.get(address).and_then(|s| s.body.as_ref())
    }

    fn output(&self, address: &Address, key: &str) -> Known {
        let Some(seen) = self.seen.get(address) else {
            return Known::Absent;
        };
        if seen.pending {
            return Known::AfterApply;
        }
        seen.body
            .as_ref()
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
    let mut errors: Vec<PlanError> = Vec::new();
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
        let recorded = state.resources.get(&address.to_string());
        let found = find(r, spec, observed, &desired, recorded);
        let id = found
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| planned_id(r, spec, state, &desired.properties));
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
            body: body.cloned(),
            pending: false,
        };

        if r.existing {
            match &before {
                None => errors.push(err(&address, format!("data source not found in Azure: {}", id.map(|i| i.to_string()).unwrap_or_default()), Some("create it, fix its name or placement, or drop `existing: true` to let synlink create it; to try the spec offline, `--cloud local --seed-existing` creates it in the local cloud".into()))),
                Some(obs) => changes.push(Change { action: Action::Read, before: Some(obs.clone()), after: Some(obs.clone()), after_unknown: Vec::new(), sources: IndexMap::new(), outputs, ..base }),
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
                let reason = if recorded.is_some() {
                    "recorded in state but gone from Azure: will be created again"
                } else {
                    "not found in Azure"
                };
                Change {
                    action: Action::Create,
                    before: None,
                    reasons: vec![reason.into()],
                    ..base
                }
            }
            (Some(obs), Some(Status::Failed(state_name))) => {
                let words = p.words();
                let (action, reason) = match p.repair() {
                    Repair::Update => (
                        Action::Update,
                        format!("its provisioning state is {state_name}: it will be written again"),
                    ),
                    Repair::Replace => (
                        Action::Replace,
                        format!(
                            "its provisioning state is {state_name}: it will be {} and {} again",
                            words.destroyed, words.created
                        ),
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
                            ..base
                        }
                    }
                }
            }
        };
        let mut planned = planned;
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

    // Whatever the state manages that the spec no longer has (or everything, for destroy).
    for (addr_text, rs) in &state.resources {
        let Some(address) = Address::parse(addr_text) else {
            continue;
        };
        if rs.existing || spec.resources.contains_key(&address) {
            continue;
        }
        let p = provider::of(rs.kind);
        if let Some(body) = observed.get(&rs.id) {
            let mut c = change(&address, Action::Delete, Some(rs.id.clone()));
            c.before = Some(p.observed(body, Some(&rs.properties)));
            c.depends_on.clone_from(&rs.dependencies);
            c.reasons = vec![if destroy {
                "destroy".into()
            } else {
                "removed from the spec".into()
            }];
            deletes.push(c);
        }
    }
    let order: HashMap<&Address, usize> = graph
        .inner
        .node_weights()
        .enumerate()
        .map(|(i, a)| (a, i))
        .collect();
    deletes.sort_by_key(|c| {
        (
            provider::of(c.kind).delete_rank(),
            order.get(&c.address).copied().unwrap_or(usize::MAX),
            c.address.clone(),
        )
    });

    let mut all: Vec<Change> = if options.mode == PlanMode::RefreshOnly {
        Vec::new()
    } else {
        changes.into_iter().chain(deletes).collect()
    };
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
        while let Some(a) = stack.pop() {
            if keep.insert(a.clone()) {
                stack.extend(graph.dependencies(&a).into_iter().cloned());
            }
        }
        all.retain(|c| keep.contains(&c.address));
        drift.retain(|c| keep.contains(&c.address));
    }
    all.retain(|c| c.action != Action::NoOp);
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
        digest: String::new(),
        spec_path: spec.file.path.display().to_string(),
        spec_hash: options.spec_hash.clone(),
        state_lineage: state.lineage.clone(),
        state_serial: state.serial,
        mode: options.mode,
        targets: options.targets.clone(),
        changes: all,
        drift,
        warnings: warnings.into_values().collect(),
    };
    plan.seal();
    Diff { plan, errors }
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
