//! The diff: a pure function of (spec, graph, what Azure holds, state) → plan.
//! Desired properties are computed in dependency order so that values known
//! only after apply (a link's principal id) are marked as such; a role grant is
//! matched by its (scope, role id, principal) tuple so that an identical
//! assignment that exists is adopted, not duplicated.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::Value;

use crate::addr::{Address, ResourceKind};
use crate::cloud::resources::{
    attachment, fold_id, identity_outputs, link, ml_workspace, path_matches, role_grant,
    spark_pool, synapse_workspace,
};
use crate::graph::Graph;
use crate::plan::refresh::{parent_of, Observed};
use crate::plan::{Action, Change, Plan, PlanMode, Properties, PLAN_FORMAT_VERSION};
use crate::spec::model::GrantScope;
use crate::spec::{roles, Body, LoadedSpec, Resource};
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

/// What the diff knows about a resource after reading Azure: its id and outputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// ARM id (or for grants `{workspace id}/roleAssignments/{id}`).
    pub id: String,
    /// Outputs (principal ids).
    pub outputs: IndexMap<String, Value>,
    /// Desired properties (for the state after apply).
    pub desired: Properties,
    /// Exists in Azure now.
    pub exists: bool,
}

/// The result of a diff.
#[derive(Debug, Clone)]
pub struct Diff {
    /// The plan.
    pub plan: Plan,
    /// Per address: id, outputs, desired properties (apply and state use them).
    pub known: IndexMap<Address, Known>,
    /// Problems that make the plan unusable.
    pub errors: Vec<PlanError>,
}

struct Ctx<'a> {
    spec: &'a LoadedSpec,
    observed: &'a Observed,
    state: &'a State,
    known: IndexMap<Address, Known>,
    /// Addresses whose resource will be (re)created: their outputs are unknown.
    pending: HashSet<Address>,
    errors: Vec<PlanError>,
}

fn err(address: &Address, message: impl Into<String>, hint: Option<String>) -> PlanError {
    PlanError {
        address: address.to_string(),
        message: message.into(),
        hint,
    }
}

/// Matches a simple glob (`*` any run of characters).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

impl Ctx<'_> {
    fn id_of(&self, kind: ResourceKind, key: &str) -> Option<String> {
        self.known
            .get(&Address::new(kind, key))
            .map(|k| k.id.clone())
    }

    fn state_of(&self, address: &Address) -> Option<&ResourceState> {
        self.state.resources.get(&address.to_string())
    }

    /// The principal id a grant's principal resolves to, `None` when only
    /// known after apply.
    fn principal(&self, r: &Resource) -> Option<(Option<String>, &'static str)> {
        let Body::RoleGrant(g) = &r.body else {
            return None;
        };
        if let Some(id) = &g.principal.object_id {
            let t = match g.principal.principal_type.as_deref() {
                Some("User") => "User",
                Some("Group") => "Group",
                _ => "ServicePrincipal",
            };
            return Some((Some(id.to_ascii_lowercase()), t));
        }
        let target = match (&g.principal.link, &g.principal.attachment) {
            (Some(l), _) => Address::new(ResourceKind::Link, l),
            (_, Some(a)) => Address::new(ResourceKind::Attachment, a),
            _ => return None,
        };
        if self.pending.contains(&target) {
            return Some((None, "ServicePrincipal"));
        }
        let id = self
            .known
            .get(&target)
            .and_then(|k| k.outputs.get("principal_id"))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        Some((id, "ServicePrincipal"))
    }
}

/// What `evaluate` finds for one resource: its id, desired properties, the
/// properties Azure holds (if it exists), the paths that force replacement and
/// the paths known only after apply.
type Evaluated = (
    String,
    Properties,
    Option<Properties>,
    &'static [&'static str],
    Vec<String>,
);

/// Computes desired properties, id and observed state of one spec resource.
fn evaluate(ctx: &mut Ctx<'_>, r: &Resource) -> Option<Evaluated> {
    let spec = ctx.spec;
    let (id, desired, observed_body, replace): (
        String,
        Properties,
        Option<&Value>,
        &'static [&'static str],
    ) = match &r.body {
        Body::MlWorkspace(w) => {
            let id = ml_workspace::id(r);
            let body = ctx.observed.get(&id);
            (
                id,
                ml_workspace::desired(r, w, spec),
                body,
                ml_workspace::REPLACE,
            )
        }
        Body::SynapseWorkspace(w) => {
            let id = synapse_workspace::id(r);
            let body = ctx.observed.get(&id);
            (
                id,
                synapse_workspace::desired(r, w, spec),
                body,
                synapse_workspace::REPLACE,
            )
        }
        Body::SparkPool(p) => {
            let id = spark_pool::id(
                &ctx.id_of(ResourceKind::SynapseWorkspace, &p.synapse_workspace)?,
                &r.name,
            );
            let body = ctx.observed.get(&id);
            (
                id,
                spark_pool::desired(r, p, spec),
                body,
                spark_pool::REPLACE,
            )
        }
        Body::Link(l) => {
            let id = link::id(
                &ctx.id_of(ResourceKind::MlWorkspace, &l.ml_workspace)?,
                &r.name,
            );
            let syn = ctx.id_of(ResourceKind::SynapseWorkspace, &l.synapse_workspace)?;
            let body = ctx.observed.get(&id);
            (id, link::desired(&syn), body, link::REPLACE)
        }
        Body::Attachment(a) => {
            let id = attachment::id(
                &ctx.id_of(ResourceKind::MlWorkspace, &a.ml_workspace)?,
                &r.name,
            );
            let pool_id = ctx.id_of(ResourceKind::SparkPool, &a.spark_pool)?;
            let body = ctx
                .observed
                .get(&id)
                .filter(|b| attachment::is_synapse_spark(b));
            (
                id,
                attachment::desired(a, &pool_id, &r.placement.location, spec),
                body,
                attachment::REPLACE,
            )
        }
        Body::RoleGrant(g) => return evaluate_grant(ctx, r, g),
    };
    let observed = observed_body.map(|b| match &r.body {
        Body::MlWorkspace(_) => ml_workspace::observed(b),
        Body::SynapseWorkspace(_) => synapse_workspace::observed(b),
        Body::SparkPool(_) => spark_pool::observed(b),
        Body::Link(_) => link::observed(b),
        _ => attachment::observed(b),
    });
    let outputs = observed_body.map(identity_outputs).unwrap_or_default();
    ctx.known.insert(
        r.address.clone(),
        Known {
            id: id.clone(),
            outputs,
            desired: desired.clone(),
            exists: observed_body.is_some(),
        },
    );
    Some((id, desired, observed, replace, Vec::new()))
}

fn evaluate_grant(
    ctx: &mut Ctx<'_>,
    r: &Resource,
    g: &crate::spec::model::RoleGrant,
) -> Option<Evaluated> {
    let ws_res = ctx
        .spec
        .get(ResourceKind::SynapseWorkspace, &g.synapse_workspace)?;
    let ws_id = fold_id(&ctx.id_of(ResourceKind::SynapseWorkspace, &g.synapse_workspace)?);
    let rbac = ctx.observed.synapse.get(&ws_id);
    // Resolve the role through the workspace's own definitions when we have them.
    let builtin = roles::find(&g.role);
    let role_id = match (rbac, builtin) {
        (Some(rbac), _) if !rbac.role_definitions.is_empty() => {
            let wanted = g.role.trim().to_ascii_lowercase();
            let by_name = rbac.role_definitions.iter().find(|(id, name)| {
                *id == wanted
                    || name.eq_ignore_ascii_case(&wanted)
                    || builtin.is_some_and(|b| {
                        b.id == id.as_str() || b.api_name.eq_ignore_ascii_case(name)
                    })
            });
            let Some((id, _)) = by_name else {
                ctx.errors.push(err(
                    &r.address,
                    format!(
                        "the Synapse workspace `{}` has no role `{}`",
                        ws_res.name, g.role
                    ),
                    Some(
                        "list the roles with Synapse Studio or `az synapse role definition list`"
                            .into(),
                    ),
                ));
                return None;
            };
            id.clone()
        }
        (_, Some(b)) => b.id.to_owned(),
        (_, None) => return None,
    };
    let pool = if let Some(GrantScope::SparkPool(p)) = &g.scope {
        ctx.spec
            .get(ResourceKind::SparkPool, p)
            .map(|p| p.name.clone())
    } else {
        None
    };
    let scope = role_grant::scope(&ws_res.name, pool.as_deref());
    let (principal, ptype) = ctx.principal(r)?;
    let desired = role_grant::desired(&role_id, principal.as_deref(), &scope, ptype);
    let mut unknown = Vec::new();
    if principal.is_none() {
        unknown.push("principal_id".to_owned());
    }
    let wanted_tuple = principal
        .as_ref()
        .map(|p| (scope.to_ascii_lowercase(), role_id.clone(), p.clone()));
    let found = rbac.and_then(|rbac| {
        let by_tuple = wanted_tuple.as_ref().and_then(|t| rbac.find_tuple(t));
        // Without a known principal, the assignment recorded in state (if still there) is what exists.
        by_tuple.or_else(|| rbac.find_id(ctx.state_of(&r.address)?.id.rsplit('/').next()?))
    });
    let observed = found.map(|a| role_grant::observed(a, ptype));
    let id = match found.and_then(|a| a.get("id")).and_then(Value::as_str) {
        Some(aid) => format!("{ws_id}/roleAssignments/{aid}"),
        None => ctx
            .state_of(&r.address)
            .map_or_else(|| format!("{ws_id}/roleAssignments/"), |s| s.id.clone()),
    };
    ctx.known.insert(
        r.address.clone(),
        Known {
            id: id.clone(),
            outputs: IndexMap::new(),
            desired: desired.clone(),
            exists: found.is_some(),
        },
    );
    Some((id, desired, observed, role_grant::REPLACE, unknown))
}

/// The paths whose observed value differs from the desired one, honouring
/// `ignore_changes` (a path or a prefix).
fn differing(
    desired: &Properties,
    observed: &Properties,
    ignore: &[String],
    unknown: &[String],
) -> Vec<String> {
    let ignored = |p: &str| {
        ignore.iter().any(|i| {
            p == i
                || p.strip_prefix(i.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
    };
    let mut paths: Vec<String> = desired
        .iter()
        .filter(|(k, v)| !ignored(k) && observed.get(*k).unwrap_or(&Value::Null) != *v)
        .map(|(k, _)| k.clone())
        .collect();
    for u in unknown {
        if !ignored(u) && !paths.contains(u) {
            paths.push(u.clone());
        }
    }
    // Tags removed from the spec but present in Azure are changes too.
    paths.extend(
        observed
            .keys()
            .filter(|k| k.starts_with("tags.") && !desired.contains_key(*k) && !ignored(k))
            .cloned(),
    );
    paths
}

fn lifecycle(r: &Resource) -> (&[String], bool) {
    let l = match &r.body {
        Body::MlWorkspace(x) => &x.lifecycle,
        Body::SynapseWorkspace(x) => &x.lifecycle,
        Body::SparkPool(x) => &x.lifecycle,
        Body::Link(x) => &x.lifecycle,
        Body::RoleGrant(x) => &x.lifecycle,
        Body::Attachment(x) => &x.lifecycle,
    };
    (&l.ignore_changes, l.prevent_destroy)
}

/// Deletion order of kinds: dependents first.
fn delete_rank(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::RoleGrant => 0,
        ResourceKind::Attachment => 1,
        ResourceKind::Link => 2,
        ResourceKind::SparkPool => 3,
        ResourceKind::MlWorkspace | ResourceKind::SynapseWorkspace => 4,
    }
}

fn observed_by_state(kind: ResourceKind, body: &Value) -> Properties {
    match kind {
        ResourceKind::MlWorkspace => ml_workspace::observed(body),
        ResourceKind::SynapseWorkspace => synapse_workspace::observed(body),
        ResourceKind::SparkPool => spark_pool::observed(body),
        ResourceKind::Link => link::observed(body),
        ResourceKind::Attachment => attachment::observed(body),
        ResourceKind::RoleGrant => role_grant::observed(body, "ServicePrincipal"),
    }
}

/// Finds what Azure holds for a state entry that the spec no longer has.
fn observe_state_entry(observed: &Observed, rs: &ResourceState) -> Option<Value> {
    if rs.kind == ResourceKind::RoleGrant {
        let parent = fold_id(parent_of(&rs.id)?);
        let aid = rs.id.rsplit('/').next()?;
        return observed.synapse.get(&parent)?.find_id(aid).cloned();
    }
    observed.get(&rs.id).cloned()
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
        spec,
        observed,
        state,
        known: IndexMap::new(),
        pending: HashSet::new(),
        errors: Vec::new(),
    };
    let mut changes: Vec<Change> = Vec::new();
    let mut drift: Vec<Change> = Vec::new();
    let mut deletes: Vec<Change> = Vec::new();
    let mut warnings = Vec::new();
    let destroy = options.mode == PlanMode::Destroy;

    for address in graph.order() {
        let Some(r) = spec.resources.get(&address) else {
            continue;
        };
        let Some((id, desired, observed_props, replace, unknown)) = evaluate(&mut ctx, r) else {
            continue;
        };
        let (ignore, prevent_destroy) = lifecycle(r);
        let in_state = ctx.state_of(&address).cloned();
        let base = Change {
            address: address.clone(),
            kind: address.kind,
            action: Action::NoOp,
            id: Some(id.clone()).filter(|i| !i.ends_with('/')),
            before: observed_props.clone(),
            after: Some(desired.clone()),
            after_unknown: unknown.clone(),
            reasons: Vec::new(),
            replace_paths: Vec::new(),
        };
        if r.existing {
            match observed_props {
                None => ctx.errors.push(err(&address, format!("data source not found in Azure: {id}"), Some("create it, fix its name or placement, or drop `existing: true` to let synlink create it".into()))),
                Some(obs) => changes.push(Change { action: Action::Read, before: Some(obs.clone()), after: Some(obs), after_unknown: Vec::new(), ..base }),
            }
            continue;
        }
        // Drift: gone from Azure since the last apply.
        if let (None, Some(rs)) = (&observed_props, &in_state) {
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
        if let (Some(obs), Some(rs)) = (&observed_props, &in_state) {
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
            if observed_props.is_some() {
                if prevent_destroy {
                    ctx.errors.push(err(
                        &address,
                        "lifecycle.prevent_destroy forbids destroying this resource",
                        Some("remove prevent_destroy first, or leave it out with --target".into()),
                    ));
                }
                deletes.push(Change {
                    action: Action::Delete,
                    after: None,
                    after_unknown: Vec::new(),
                    reasons: vec!["destroy".into()],
                    ..base
                });
            }
            continue;
        }
        match observed_props {
            None => {
                ctx.pending.insert(address.clone());
                // A new link or a new attachment with its own identity gets a principal only once created.
                let mints_identity = match &r.body {
                    Body::Link(_) => true,
                    Body::Attachment(a) => matches!(
                        a.identity,
                        Some(crate::spec::model::Identity::SystemAssigned)
                    ),
                    _ => false,
                };
                let base = if mints_identity {
                    let mut b = base;
                    b.after_unknown.push("principal_id".into());
                    b
                } else {
                    base
                };
                let reason = if in_state.is_some() {
                    "recorded in state but gone from Azure: will be created again"
                } else {
                    "not found in Azure"
                };
                if address.kind == ResourceKind::Link {
                    warnings.push(format!(
                        "{address}: Azure no longer registers new linked services for new Synapse workspaces; the recommended path is an attachment with `identity: system_assigned` and a role grant to it (see examples/attach-with-identity.yaml)"
                    ));
                }
                changes.push(Change {
                    action: Action::Create,
                    before: None,
                    reasons: vec![reason.into()],
                    ..base
                });
            }
            Some(obs) => {
                let paths = differing(&desired, &obs, ignore, &unknown);
                if paths.is_empty() {
                    let reason = if in_state.is_none() {
                        "exists in Azure and matches the spec: adopted into state"
                    } else {
                        "up to date"
                    };
                    changes.push(Change {
                        reasons: vec![reason.into()],
                        ..base
                    });
                    continue;
                }
                let forcing: Vec<String> = paths
                    .iter()
                    .filter(|p| path_matches(p, replace))
                    .cloned()
                    .collect();
                // Properties ignored by lifecycle keep Azure's value.
                let mut after = desired.clone();
                for (k, v) in &obs {
                    if ignore.iter().any(|i| {
                        k == i
                            || k.strip_prefix(i.as_str())
                                .is_some_and(|r| r.starts_with('.'))
                    }) {
                        after.insert(k.clone(), v.clone());
                    }
                }
                let mut reasons: Vec<String> = paths
                    .iter()
                    .filter(|p| !forcing.contains(p))
                    .map(|p| format!("`{p}` differs from the spec"))
                    .collect();
                if forcing.is_empty() {
                    changes.push(Change {
                        action: Action::Update,
                        after: Some(after),
                        reasons,
                        ..base
                    });
                } else {
                    if prevent_destroy {
                        ctx.errors.push(err(&address, format!("lifecycle.prevent_destroy forbids replacing this resource (forced by {})", forcing.join(", ")), Some("change the spec back, or remove prevent_destroy".into())));
                    }
                    ctx.pending.insert(address.clone());
                    reasons.extend(
                        forcing
                            .iter()
                            .map(|p| format!("`{p}` cannot change in place")),
                    );
                    changes.push(Change {
                        action: Action::Replace,
                        after: Some(after),
                        reasons,
                        replace_paths: forcing,
                        ..base
                    });
                }
            }
        }
    }

    // Whatever the state manages that the spec no longer has (or everything, for destroy).
    for (addr_text, rs) in &state.resources {
        let Some(address) = Address::parse(addr_text) else {
            continue;
        };
        if rs.existing
            || (spec.resources.contains_key(&address) && !destroy)
            || (destroy && spec.resources.contains_key(&address))
        {
            continue;
        }
        if let Some(body) = observe_state_entry(observed, rs) {
            deletes.push(Change {
                address: address.clone(),
                kind: rs.kind,
                action: Action::Delete,
                id: Some(rs.id.clone()),
                before: Some(observed_by_state(rs.kind, &body)),
                after: None,
                after_unknown: Vec::new(),
                reasons: vec![if destroy {
                    "destroy".into()
                } else {
                    "removed from the spec".into()
                }],
                replace_paths: Vec::new(),
            });
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
            delete_rank(c.kind),
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
        let mut keep: HashSet<Address> = HashSet::new();
        let mut stack: Vec<Address> = all
            .iter()
            .map(|c| c.address.clone())
            .filter(|a| {
                options
                    .targets
                    .iter()
                    .any(|t| glob_match(t, &a.to_string()))
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
    let (state_lineage, state_serial) = (state.lineage.clone(), state.serial);
    Diff {
        plan: Plan {
            format_version: PLAN_FORMAT_VERSION,
            synlink_version: env!("CARGO_PKG_VERSION").to_owned(),
            spec_hash: options.spec_hash.clone(),
            state_lineage,
            state_serial,
            mode: options.mode,
            changes: all,
            drift,
            warnings,
        },
        known: ctx.known,
        errors: ctx.errors,
    }
}
