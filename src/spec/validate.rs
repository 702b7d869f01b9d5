//! Decoding of expanded entries into typed resources, and every check that
//! needs the whole spec: references, duplicate addresses, Azure naming rules,
//! Spark pool sizes, Synapse roles and principals. Problems are collected, never
//! returned early. Cycles are found by `graph`, which owns the edges.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::addr::{Address, ResourceKind};
use crate::spec::de::{decode as decode_node, DeError};
use crate::spec::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::spec::expand::Entry;
use crate::spec::model::{Cloud, Defaults, GrantScope, Identity, Principal, StateSettings};
use crate::spec::node::{Node, Pos, Value};
use crate::spec::{
    naming, refactor, roles, runtimes, Body, Placement, Resource, Settings, SPEC_VERSION,
};

const NODE_SIZES: [&str; 6] = ["Small", "Medium", "Large", "XLarge", "XXLarge", "XXXLarge"];
const NODE_FAMILIES: [&str; 3] = [
    "MemoryOptimized",
    "HardwareAcceleratedGPU",
    "HardwareAcceleratedFPGA",
];
const PRINCIPAL_TYPES: [&str; 3] = ["User", "Group", "ServicePrincipal"];

fn push_de(diags: &mut Vec<Diagnostic>, e: &DeError, address: &str) {
    diags.extend(e.diagnostics(address));
}

/// Decodes and checks the `state` setting: the blob service URL (https only,
/// as a SAS or token is never sent in the clear), the
/// container's naming rule and the blob name. `None` when it has a problem
/// (reported).
pub fn decode_state(node: &Node, diags: &mut Vec<Diagnostic>) -> Option<StateSettings> {
    let settings = match decode_node::<StateSettings>(node) {
        Ok(s) => s,
        Err(e) => {
            push_de(diags, &e, "state");
            return None;
        }
    };
    let before = diags.len();
    let blob = &settings.azure_blob;
    let at = |field: &str| node.pos_at(&format!("azure_blob.{field}"));
    if let Some(problem) = naming::blob_service_url(&blob.account_url) {
        diags.push(
            Diagnostic::error(
                at("account_url"),
                format!("`{}` is not a blob service URL: {problem}", blob.account_url),
            )
            .code(Code::InvalidUrl)
            .at("state")
            .hint("e.g. https://ACCOUNT.blob.core.windows.net; a SAS goes in the environment variable SYNLINK_STATE_SAS, never in the spec"),
        );
    }
    if let Some(problem) = naming::container(&blob.container) {
        diags.push(
            Diagnostic::error(
                at("container"),
                format!("invalid container name `{}`: it {problem}", blob.container),
            )
            .code(Code::NamingRule)
            .at("state"),
        );
    }
    if let Some(problem) = naming::blob_name(&blob.key) {
        diags.push(
            Diagnostic::error(
                at("key"),
                format!("invalid blob name `{}`: it {problem}", blob.key),
            )
            .code(Code::InvalidValue)
            .at("state")
            .hint("e.g. prod/teams.json"),
        );
    }
    (diags.len() == before).then_some(settings)
}

/// Decodes settings and entries; duplicate addresses and undecodable entries are
/// reported and left out.
pub fn decode(
    settings: &IndexMap<String, (Pos, Node)>,
    entries: Vec<Entry>,
    diags: &mut Vec<Diagnostic>,
) -> (Settings, IndexMap<Address, Resource>) {
    let mut out = Settings::default();
    match settings.get("version") {
        None => diags.push(
            Diagnostic::error(Some(Pos { line: 1, col: 1 }), "missing `version`")
                .code(Code::MissingVersion)
                .hint(format!("add `version: {SPEC_VERSION}` at the top")),
        ),
        Some((_, node)) => match decode_node::<u32>(node) {
            Ok(SPEC_VERSION) => out.version = Some(SPEC_VERSION),
            Ok(v) => diags.push(
                Diagnostic::error(Some(node.pos), format!("unsupported spec version {v}"))
                    .code(Code::UnsupportedVersion)
                    .at("version")
                    .hint(format!("this synlink reads version {SPEC_VERSION}")),
            ),
            Err(e) => push_de(diags, &e, "version"),
        },
    }
    if let Some((_, node)) = settings.get("cloud") {
        match decode_node::<Cloud>(node) {
            Ok(Cloud::Endpoint(ep))
                if !(ep.arm_endpoint.starts_with("http://")
                    || ep.arm_endpoint.starts_with("https://")) =>
            {
                diags.push(
                    Diagnostic::error(
                        node.pos_at("arm_endpoint"),
                        format!("`{}` is not an http(s) URL", ep.arm_endpoint),
                    )
                    .code(Code::InvalidUrl)
                    .at("cloud"),
                );
            }
            Ok(cloud) => out.cloud = cloud,
            Err(e) => push_de(diags, &e, "cloud"),
        }
    }
    if let Some((_, node)) = settings.get("defaults") {
        match decode_node::<Defaults>(node) {
            Ok(d) => {
                if let Some(sub) = d.subscription.as_deref().filter(|s| !naming::is_guid(s)) {
                    diags.push(
                        Diagnostic::error(
                            node.pos_at("subscription"),
                            format!("subscription `{sub}` is not a GUID"),
                        )
                        .code(Code::InvalidGuid)
                        .at("defaults")
                        .hint("a subscription id looks like 00000000-0000-0000-0000-000000000000"),
                    );
                }
                if let Some(problem) = d
                    .resource_group
                    .as_deref()
                    .and_then(|rg| naming::resource_group(rg).map(|p| (rg, p)))
                {
                    diags.push(
                        Diagnostic::error(
                            node.pos_at("resource_group"),
                            format!(
                                "invalid resource group name `{}`: it {}",
                                problem.0, problem.1
                            ),
                        )
                        .code(Code::NamingRule)
                        .at("defaults"),
                    );
                }
                out.defaults = d;
            }
            Err(e) => push_de(diags, &e, "defaults"),
        }
    }

    if let Some((_, node)) = settings.get("moved") {
        out.moved = refactor::decode_moved(node, diags);
    }
    if let Some((_, node)) = settings.get("removed") {
        out.removed = refactor::decode_removed(node, diags);
    }
    if let Some((_, node)) = settings.get("state") {
        out.state = decode_state(node, diags);
    }

    let mut resources: IndexMap<Address, Resource> = IndexMap::with_capacity(entries.len());
    for entry in entries {
        let address = Address::new(entry.kind, entry.key.clone());
        if let Some(first) = resources.get(&address) {
            diags.push(
                Diagnostic::error(Some(entry.key_pos), format!("duplicate address `{address}`"))
.code(Code::DuplicateAddress)
                    .at(&address)
                    .hint(if first.key_pos == entry.key_pos {
                        "this for_each produces the same key twice: its list has a repeated item".to_owned()
                    } else {
                        format!("the first `{address}` is at line {}; keys must be unique after for_each expansion", first.key_pos.line)
                    }),
            );
            continue;
        }
        let addr_text = address.to_string();
        let Some(body) = decode_body(&entry, &addr_text, diags) else {
            out.broken.insert(address);
            continue;
        };
        let (name, existing) = match &body {
            Body::MlWorkspace(r) => (r.name.clone(), r.existing),
            Body::SynapseWorkspace(r) => (r.name.clone(), r.existing),
            Body::SparkPool(r) => (r.name.clone(), r.existing),
            Body::Link(r) => (r.name.clone(), r.existing),
            Body::RoleGrant(_) => (None, false),
            Body::Attachment(r) => (r.name.clone(), r.existing),
        };
        resources.insert(
            address.clone(),
            Resource {
                address,
                key_pos: entry.key_pos,
                node: entry.node,
                name: name.unwrap_or(entry.key),
                existing,
                placement: Placement::default(),
                body,
            },
        );
    }
    place(&out.defaults, &mut resources, diags);
    (out, resources)
}

/// Decodes one entry. On a type error, the offending field is dropped and the
/// entry decoded again, so that every bad field of the entry is reported at once.
fn decode_body(entry: &Entry, address: &str, diags: &mut Vec<Diagnostic>) -> Option<Body> {
    let decode_once = |node: &Node| match entry.kind {
        ResourceKind::MlWorkspace => decode_node(node).map(Body::MlWorkspace),
        ResourceKind::SynapseWorkspace => decode_node(node).map(Body::SynapseWorkspace),
        ResourceKind::SparkPool => decode_node(node).map(Body::SparkPool),
        ResourceKind::Link => decode_node(node).map(Body::Link),
        ResourceKind::RoleGrant => decode_node(node).map(Body::RoleGrant),
        ResourceKind::Attachment => decode_node(node).map(Body::Attachment),
    };
    let mut node = entry.node.clone();
    let mut failed = false;
    let mut dropped: Vec<String> = Vec::new();
    loop {
        match decode_once(&node) {
            Ok(body) => return (!failed).then_some(body),
            Err(mut e) => {
                failed = true;
                let missing = e.message.starts_with("missing required");
                // A field dropped after its own error is not missing too.
                if missing
                    && dropped
                        .iter()
                        .any(|f| e.message == format!("missing required field `{f}`"))
                {
                    return None;
                }
                if missing || e.pos.is_none() {
                    e.pos = Some(entry.key_pos);
                }
                let culprit = e
                    .pos
                    .filter(|_| !missing)
                    .and_then(|pos| field_at(&node, pos));
                let unknown: Vec<Pos> = std::iter::once(&e)
                    .chain(&e.also)
                    .filter_map(|e| e.pos)
                    .collect();
                push_de(diags, &e, address);
                match (&mut node.value, culprit) {
                    (Value::Map(fields), Some(i)) => {
                        // Unknown fields were all reported at once: drop them all.
                        let key_pos = fields[i].0.pos;
                        dropped.push(fields[i].0.text.clone());
                        fields.retain(|(k, _)| k.pos != key_pos && !unknown.contains(&k.pos));
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// The index of the top-level field whose key or value holds `pos`: the last
/// field that starts at or before it.
fn field_at(node: &Node, pos: Pos) -> Option<usize> {
    let Value::Map(fields) = &node.value else {
        return None;
    };
    fields.iter().rposition(|(k, _)| k.pos <= pos)
}

/// Fills in every resource's placement: workspaces from their own settings and
/// `defaults`, children from their parent workspace.
fn place(
    defaults: &Defaults,
    resources: &mut IndexMap<Address, Resource>,
    diags: &mut Vec<Diagnostic>,
) {
    for r in resources.values_mut() {
        let (sub, rg, loc) = match &r.body {
            Body::MlWorkspace(w) => (&w.subscription, &w.resource_group, &w.location),
            Body::SynapseWorkspace(w) => (&w.subscription, &w.resource_group, &w.location),
            _ => continue,
        };
        let mut pick = |own: &Option<String>, default: &Option<String>, field: &str| {
            own.clone().or_else(|| default.clone()).unwrap_or_else(|| {
                diags.push(
                    Diagnostic::error(
                        Some(r.key_pos),
                        format!(
                            "no {} for this {}",
                            field.replace('_', " "),
                            r.address.kind.noun()
                        ),
                    )
                    .code(Code::MissingField)
                    .at(&r.address)
                    .hint(format!("set `{field}` here or `defaults.{field}`")),
                );
                String::new()
            })
        };
        let placement = Placement {
            subscription: pick(sub, &defaults.subscription, "subscription"),
            resource_group: pick(rg, &defaults.resource_group, "resource_group"),
            location: pick(loc, &defaults.location, "location"),
        };
        r.placement = placement;
    }
    let parent_of = |r: &Resource| -> Option<Address> {
        match &r.body {
            Body::SparkPool(p) => Some(Address::new(
                ResourceKind::SynapseWorkspace,
                &p.synapse_workspace,
            )),
            Body::Link(l) => Some(Address::new(ResourceKind::MlWorkspace, &l.ml_workspace)),
            Body::RoleGrant(g) => Some(Address::new(
                ResourceKind::SynapseWorkspace,
                &g.synapse_workspace,
            )),
            Body::Attachment(a) => Some(Address::new(ResourceKind::MlWorkspace, &a.ml_workspace)),
            Body::MlWorkspace(_) | Body::SynapseWorkspace(_) => None,
        }
    };
    let parents: Vec<(usize, Placement)> = resources
        .values()
        .enumerate()
        .filter_map(|(i, r)| {
            parent_of(r)
                .and_then(|p| resources.get(&p))
                .map(|p| (i, p.placement.clone()))
        })
        .collect();
    for (i, mut placement) in parents {
        if let Some((_, r)) = resources.get_index_mut(i) {
            if let Body::SparkPool(p) = &r.body {
                if let Some(loc) = &p.location {
                    placement.location.clone_from(loc);
                }
            }
            r.placement = placement;
        }
    }
}

/// Every whole-spec check.
pub fn check(
    settings: &Settings,
    resources: &IndexMap<Address, Resource>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut by_kind: HashMap<ResourceKind, Vec<&str>> = HashMap::new();
    for a in resources.keys() {
        by_kind.entry(a.kind).or_default().push(a.key.as_str());
    }
    for r in resources.values() {
        check_references(r, resources, settings, &by_kind, diags);
        check_depends_on(r, resources, settings, diags);
        check_placement(r, diags);
        match &r.body {
            Body::MlWorkspace(w) => {
                name_rule(r, naming::ml_workspace, diags);
                if !w.existing {
                    for (field, value) in [
                        ("storage_account", &w.storage_account),
                        ("key_vault", &w.key_vault),
                        ("application_insights", &w.application_insights),
                    ] {
                        require(r, field, value.is_some(), diags);
                        if let Some(id) = value {
                            arm_id_rule(r, field, id, diags);
                        }
                    }
                }
                identity_rule(r, "identity", w.identity.as_ref(), diags);
            }
            Body::SynapseWorkspace(w) => {
                name_rule(r, naming::synapse_workspace, diags);
                if !w.existing {
                    require(r, "data_lake", w.data_lake.is_some(), diags);
                    require(r, "sql_admin_login", w.sql_admin_login.is_some(), diags);
                }
                if let Some(dl) = &w.data_lake {
                    if !dl.account_url.starts_with("https://") {
                        diags.push(
                            Diagnostic::error(Some(r.pos_of("data_lake.account_url")), format!("`{}` is not an https URL", dl.account_url))
.code(Code::InvalidUrl)
                                .at(&r.address)
                                .hint("the data lake's DFS endpoint, e.g. https://acct.dfs.core.windows.net"),
                        );
                    }
                }
                if let Some(mrg) = &w.managed_resource_group {
                    if let Some(rule) = naming::managed_resource_group(mrg) {
                        diags.push(
                            Diagnostic::error(
                                Some(r.pos_of("managed_resource_group")),
                                format!("managed resource group `{mrg}` {rule}"),
                            )
                            .code(Code::NamingRule)
                            .at(&r.address),
                        );
                    }
                }
                if let Some(pna) = &w.public_network_access {
                    one_of(
                        r,
                        "public_network_access",
                        pna,
                        &["Enabled", "Disabled"],
                        diags,
                    );
                }
                identity_rule(r, "identity", w.identity.as_ref(), diags);
            }
            Body::SparkPool(_) => {
                name_rule(r, naming::spark_pool, diags);
                check_pool(r, diags);
            }
            Body::Link(_) => name_rule(r, naming::link, diags),
            Body::RoleGrant(_) => check_grant(r, resources, diags),
            Body::Attachment(a) => {
                name_rule(r, naming::compute, diags);
                identity_rule(r, "identity", a.identity.as_ref(), diags);
                check_reachable(r, resources, settings, diags);
            }
        }
        check_lifecycle(r, diags);
    }
    check_azure_duplicates(resources, diags);
}

fn require(r: &Resource, field: &str, present: bool, diags: &mut Vec<Diagnostic>) {
    if !present {
        diags.push(
            Diagnostic::error(
                Some(r.key_pos),
                format!(
                    "missing `{field}`, required to create this {}",
                    r.address.kind.noun()
                ),
            )
            .code(Code::MissingField)
            .at(&r.address)
            .hint(format!(
                "set `{field}`, or `existing: true` if the {} already exists",
                r.address.kind.noun()
            )),
        );
    }
}

fn one_of(r: &Resource, field: &str, value: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) {
    if !allowed.contains(&value) {
        diags.push(
            Diagnostic::error(
                Some(r.pos_of(field)),
                format!("`{value}` is not a valid {}", field.replace('_', " ")),
            )
            .code(Code::InvalidValue)
            .at(&r.address)
            .maybe_hint(
                did_you_mean(value, allowed.iter().copied())
                    .or_else(|| Some(format!("expected one of: {}", allowed.join(", ")))),
            ),
        );
    }
}

fn name_rule(r: &Resource, rule: fn(&str) -> Option<String>, diags: &mut Vec<Diagnostic>) {
    if let Some(problem) = rule(&r.name) {
        let pos = r.node.pos_at("name").unwrap_or(r.key_pos);
        let origin = if r.node.pos_at("name").is_some() {
            ""
        } else {
            " (taken from the key; set `name` to choose another)"
        };
        diags.push(
            Diagnostic::error(
                Some(pos),
                format!(
                    "invalid {} name `{}`: it {problem}{origin}",
                    r.address.kind.noun(),
                    r.name
                ),
            )
            .code(Code::NamingRule)
            .at(&r.address),
        );
    }
}

fn arm_id_rule(r: &Resource, field: &str, id: &str, diags: &mut Vec<Diagnostic>) {
    let parts: Vec<&str> = id.split('/').collect();
    let ok = id.starts_with("/subscriptions/")
        && parts.len() >= 9
        && parts.iter().skip(1).all(|p| !p.is_empty());
    if !ok {
        diags.push(
            Diagnostic::error(
                Some(r.pos_of(field)),
                format!("`{id}` is not an ARM resource id"),
            )
            .code(Code::InvalidArmId)
            .at(&r.address)
            .hint("expected /subscriptions/SUB/resourceGroups/RG/providers/NAMESPACE/TYPE/NAME"),
        );
    }
}

fn identity_rule(
    r: &Resource,
    field: &str,
    identity: Option<&Identity>,
    diags: &mut Vec<Diagnostic>,
) {
    if let Some(Identity::UserAssigned(ids)) = identity {
        if ids.is_empty() {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of(field)),
                    "`user_assigned` needs at least one identity id",
                )
                .code(Code::InvalidValue)
                .at(&r.address),
            );
        }
        for id in ids {
            arm_id_rule(r, field, id, diags);
        }
    }
}

fn check_placement(r: &Resource, diags: &mut Vec<Diagnostic>) {
    let (sub, rg) = match &r.body {
        Body::MlWorkspace(w) => (&w.subscription, &w.resource_group),
        Body::SynapseWorkspace(w) => (&w.subscription, &w.resource_group),
        _ => return,
    };
    let sub_value = &r.placement.subscription;
    // A bad `defaults.subscription` is reported once, at its own line.
    if !sub_value.is_empty() && !naming::is_guid(sub_value) && sub.is_some() {
        let pos = if sub.is_some() {
            r.pos_of("subscription")
        } else {
            r.key_pos
        };
        diags.push(
            Diagnostic::error(
                Some(pos),
                format!("subscription `{sub_value}` is not a GUID"),
            )
            .code(Code::InvalidGuid)
            .at(&r.address)
            .hint("a subscription id looks like 00000000-0000-0000-0000-000000000000"),
        );
    }
    let rg_value = &r.placement.resource_group;
    if let Some(problem) = (!rg_value.is_empty() && rg.is_some())
        .then(|| naming::resource_group(rg_value))
        .flatten()
    {
        let pos = if rg.is_some() {
            r.pos_of("resource_group")
        } else {
            r.key_pos
        };
        diags.push(
            Diagnostic::error(
                Some(pos),
                format!("invalid resource group name `{rg_value}`: it {problem}"),
            )
            .code(Code::NamingRule)
            .at(&r.address),
        );
    }
}

fn check_references(
    r: &Resource,
    resources: &IndexMap<Address, Resource>,
    settings: &Settings,
    by_kind: &HashMap<ResourceKind, Vec<&str>>,
    diags: &mut Vec<Diagnostic>,
) {
    for (field, kind, key) in r.references() {
        let target = Address::new(kind, key);
        if resources.contains_key(&target) || settings.refused(&target) {
            continue;
        }
        let wrong_kind = ResourceKind::ALL.into_iter().find(|k| {
            let other = Address::new(*k, key);
            *k != kind && other != r.address && resources.contains_key(&other)
        });
        let suggestion = did_you_mean(key, by_kind.get(&kind).into_iter().flatten().copied());
        let mut d = Diagnostic::error(
            Some(r.pos_of(field)),
            format!(
                "`{field}` refers to `{key}`, but there is no {} `{key}`",
                kind.noun()
            ),
        )
        .code(Code::DanglingReference)
        .at(&r.address);
        d = match (suggestion, wrong_kind) {
            (Some(s), _) => d.hint(s),
            (None, Some(other)) => d.hint(format!(
                "`{other}.{key}` is {}; `{field}` takes the key of {}",
                other.a_noun(),
                kind.a_noun()
            )),
            (None, None) => d.hint(format!("declare it under `{}:`", kind.section())),
        };
        diags.push(d);
    }
}

fn check_depends_on(
    r: &Resource,
    resources: &IndexMap<Address, Resource>,
    settings: &Settings,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, dep) in r.depends_on().iter().enumerate() {
        let pos = r.node.get("depends_on").and_then(|n| match &n.value {
            Value::Seq(items) => items.get(i).map(|n| n.pos),
            _ => None,
        });
        let Some(address) = Address::parse(dep) else {
            let guess = ResourceKind::ALL
                .into_iter()
                .map(|k| Address::new(k, dep))
                .find(|a| resources.contains_key(a));
            diags.push(
                Diagnostic::error(pos, format!("`{dep}` in depends_on is not an address"))
                    .code(Code::InvalidAddress)
                    .at(&r.address)
                    .hint(match guess {
                        Some(a) => format!("addresses are `section.key`: did you mean `{a}`?"),
                        None => "addresses are `section.key`, e.g. `links.team-fraud`".to_owned(),
                    }),
            );
            continue;
        };
        if address == r.address {
            diags.push(
                Diagnostic::error(pos, "a resource cannot depend on itself")
                    .code(Code::SelfDependency)
                    .at(&r.address),
            );
        } else if !resources.contains_key(&address) && !settings.refused(&address) {
            let candidates: Vec<String> = resources.keys().map(ToString::to_string).collect();
            diags.push(
                Diagnostic::error(
                    pos,
                    format!("depends_on names `{address}`, which is not in the spec"),
                )
                .code(Code::DanglingReference)
                .at(&r.address)
                .maybe_hint(did_you_mean(dep, candidates.iter().map(String::as_str))),
            );
        }
    }
}

fn check_pool(r: &Resource, diags: &mut Vec<Diagnostic>) {
    let Body::SparkPool(p) = &r.body else { return };
    if let Some(size) = &p.node_size {
        one_of(r, "node_size", size, &NODE_SIZES, diags);
    } else if !p.existing {
        require(r, "node_size", false, diags);
    }
    if let Some(family) = &p.node_size_family {
        one_of(r, "node_size_family", family, &NODE_FAMILIES, diags);
    }
    match p.spark_version.as_deref().map(|v| (v, runtimes::find(v))) {
        Some((v, None)) => diags.push(
            Diagnostic::error(
                Some(r.pos_of("spark_version")),
                format!("Spark version `{v}` is not supported"),
            )
            .code(Code::InvalidValue)
            .at(&r.address)
            .hint(format!(
                "supported runtimes: {} for new pools; pools that exist may still run {}",
                runtimes::supported_list(),
                runtimes::retired_list()
            )),
        ),
        // Creating a pool on it fails (the plan says so); managing one that
        // exists on it still works.
        Some((
            v,
            Some(runtimes::Runtime {
                end_of_support: Some(end),
                ..
            }),
        )) if !p.existing => {
            diags.push(
                Diagnostic::warning(
                    Some(r.pos_of("spark_version")),
                    format!("Synapse runtime `{v}` reached end of support on {end}: a new pool cannot be created on it"),
                )
                .code(Code::InvalidValue)
                .at(&r.address)
                .hint(format!("upgrade to {} (an existing pool on `{v}` is still managed)", runtimes::supported())),
            );
        }
        None if !p.existing => require(r, "spark_version", false, diags),
        _ => {}
    }
    match (p.node_count, p.autoscale) {
        (Some(_), Some(_)) => diags.push(
            Diagnostic::error(
                Some(r.pos_of("autoscale")),
                "set either `node_count` or `autoscale`, not both",
            )
            .code(Code::ConflictingFields)
            .at(&r.address),
        ),
        (None, None) if !p.existing => diags.push(
            Diagnostic::error(
                Some(r.key_pos),
                "a Spark pool needs `node_count` or `autoscale`",
            )
            .code(Code::MissingField)
            .at(&r.address)
            .hint("e.g. `autoscale: { min: 3, max: 10 }` or `node_count: 3`"),
        ),
        _ => {}
    }
    let range = |field: &str, v: i64, lo: i64, hi: i64, diags: &mut Vec<Diagnostic>| {
        if !(lo..=hi).contains(&v) {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of(field)),
                    format!("`{field}` is {v}; it must be between {lo} and {hi}"),
                )
                .code(Code::OutOfRange)
                .at(&r.address),
            );
        }
    };
    if let Some(n) = p.node_count {
        range("node_count", n, 3, 200, diags);
    }
    if let Some(a) = p.autoscale {
        range("autoscale.min", a.min, 3, 200, diags);
        range("autoscale.max", a.max, 3, 200, diags);
        if a.min > a.max {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of("autoscale.min")),
                    format!(
                        "autoscale `min` ({}) is larger than `max` ({})",
                        a.min, a.max
                    ),
                )
                .code(Code::OutOfRange)
                .at(&r.address),
            );
        }
    }
    if let Some(m) = p.auto_pause_minutes {
        range("auto_pause_minutes", m, 5, 10_080, diags);
    }
}

fn check_grant(r: &Resource, resources: &IndexMap<Address, Resource>, diags: &mut Vec<Diagnostic>) {
    let Body::RoleGrant(g) = &r.body else { return };
    let role = roles::find(&g.role);
    if role.is_none() {
        let d = Diagnostic::error(
            Some(r.pos_of("role")),
            format!("`{}` is not a Synapse role", g.role),
        )
        .code(Code::UnknownRole)
        .at(&r.address);
        diags.push(if roles::is_azure_rbac(&g.role) {
            d.hint(format!(
                "`{}` is an Azure RBAC role, not a Synapse RBAC role; role_grants are Synapse data-plane roles such as `Synapse Administrator` or `Synapse Apache Spark Administrator`",
                g.role
            ))
        } else {
            d.maybe_hint(did_you_mean(&g.role, roles::all_names()).or_else(|| {
                Some(format!("the Synapse built-in roles are: {}", roles::SYNAPSE_ROLES.map(|r| r.api_name).join(", ")))
            }))
        });
    }
    check_principal(r, &g.principal, resources, diags);
    if let (Some(role), Some(GrantScope::SparkPool(pool))) = (role, &g.scope) {
        if !role.pool_scope {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of("scope")),
                    format!("`{}` can only be granted at workspace scope", role.api_name),
                )
                .code(Code::InvalidScope)
                .at(&r.address)
                .hint("remove `scope` (the workspace is the default)"),
            );
        }
        let pool_ws = resources
            .get(&Address::new(ResourceKind::SparkPool, pool))
            .and_then(|p| match &p.body {
                Body::SparkPool(p) => Some(p.synapse_workspace.as_str()),
                _ => None,
            });
        if let Some(ws) = pool_ws.filter(|ws| *ws != g.synapse_workspace) {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of("scope")),
                    format!(
                        "Spark pool `{pool}` is in Synapse workspace `{ws}`, not `{}`",
                        g.synapse_workspace
                    ),
                )
                .code(Code::InvalidScope)
                .at(&r.address),
            );
        }
    }
}

fn check_principal(
    r: &Resource,
    p: &Principal,
    resources: &IndexMap<Address, Resource>,
    diags: &mut Vec<Diagnostic>,
) {
    let given = [
        p.link.is_some(),
        p.attachment.is_some(),
        p.object_id.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let pos = Some(r.pos_of("principal"));
    if given != 1 {
        diags.push(
            Diagnostic::error(pos, if given == 0 { "the principal names no one" } else { "the principal names more than one identity" })
.code(Code::InvalidPrincipal)
                .at(&r.address)
                .hint("set exactly one of `link: KEY`, `attachment: KEY` or `object_id: GUID` with `type`"),
        );
        return;
    }
    if let Some(id) = &p.object_id {
        if !naming::is_guid(id) {
            diags.push(
                Diagnostic::error(
                    Some(r.pos_of("principal.object_id")),
                    format!("object_id `{id}` is not a GUID"),
                )
                .code(Code::InvalidGuid)
                .at(&r.address),
            );
        }
        match &p.principal_type {
            None => diags.push(
                Diagnostic::error(pos, "an `object_id` principal needs a `type`")
                    .code(Code::MissingField)
                    .at(&r.address)
                    .hint("type: User, Group or ServicePrincipal"),
            ),
            Some(t) => one_of(r, "principal.type", t, &PRINCIPAL_TYPES, diags),
        }
    } else if p.principal_type.is_some() {
        diags.push(
            Diagnostic::error(
                Some(r.pos_of("principal.type")),
                "`type` goes with `object_id` only",
            )
            .code(Code::InvalidPrincipal)
            .at(&r.address)
            .hint("a link's or an attachment's identity is always a ServicePrincipal"),
        );
    }
    if let Some(att) = &p.attachment {
        if let Some(Body::Attachment(a)) = resources
            .get(&Address::new(ResourceKind::Attachment, att))
            .map(|a| &a.body)
        {
            match &a.identity {
                Some(Identity::SystemAssigned) => {}
                Some(Identity::UserAssigned(_)) => diags.push(
                    Diagnostic::error(Some(r.pos_of("principal.attachment")), format!("attachment `{att}` uses user-assigned identities"))
.code(Code::InvalidPrincipal)
                        .at(&r.address)
                        .hint("grant to the identity itself: `principal: { object_id: GUID, type: ServicePrincipal }`"),
                ),
                None | Some(Identity::None) => diags.push(
                    Diagnostic::error(Some(r.pos_of("principal.attachment")), format!("attachment `{att}` has no identity to grant a role to"))
.code(Code::InvalidPrincipal)
                        .at(&r.address)
                        .hint(format!("set `identity: system_assigned` on attachments.{att}")),
                ),
            }
        }
    }
}

/// An attachment whose pool's workspace neither a link (from the same AML
/// workspace) nor the attachment's own identity can reach will not run jobs.
fn check_reachable(
    r: &Resource,
    resources: &IndexMap<Address, Resource>,
    settings: &Settings,
    diags: &mut Vec<Diagnostic>,
) {
    let Body::Attachment(a) = &r.body else { return };
    // A link that was refused may be the one that reaches it: say nothing.
    if settings.unkeyed.contains(&ResourceKind::Link)
        || settings.broken.iter().any(|b| b.kind == ResourceKind::Link)
    {
        return;
    }
    if matches!(
        a.identity,
        Some(Identity::SystemAssigned | Identity::UserAssigned(_))
    ) {
        return;
    }
    let Some(Body::SparkPool(pool)) = resources
        .get(&Address::new(ResourceKind::SparkPool, &a.spark_pool))
        .map(|p| &p.body)
    else {
        return;
    };
    let linked = resources.values().any(|other| match &other.body {
        Body::Link(l) => {
            l.ml_workspace == a.ml_workspace && l.synapse_workspace == pool.synapse_workspace
        }
        _ => false,
    });
    if !linked {
        diags.push(
            Diagnostic::warning(Some(r.pos_of("spark_pool")), format!(
                "no link from `{}` to Synapse workspace `{}` and no identity on this attachment: Spark sessions on it will fail",
                a.ml_workspace, pool.synapse_workspace
            ))
.code(Code::UnusableAttachment)
            .at(&r.address)
            .hint("set `identity: system_assigned` and grant it `Synapse Apache Spark Administrator`"),
        );
    }
}

fn check_lifecycle(r: &Resource, diags: &mut Vec<Diagnostic>) {
    if r.existing && r.node.pos_at("lifecycle.prevent_destroy").is_some() {
        diags.push(
            Diagnostic::warning(
                Some(r.pos_of("lifecycle.prevent_destroy")),
                "`prevent_destroy` has no effect on a data source (`existing: true`)",
            )
            .code(Code::IneffectiveSetting)
            .at(&r.address),
        );
    }
}

/// Two addresses that would name the same Azure object.
fn check_azure_duplicates(resources: &IndexMap<Address, Resource>, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, &Address> = HashMap::new();
    for r in resources.values() {
        let identity = match &r.body {
            Body::MlWorkspace(_) => format!(
                "mlw/{}/{}/{}",
                r.placement.subscription, r.placement.resource_group, r.name
            ),
            Body::SynapseWorkspace(_) => format!("syn/{}", r.name),
            Body::SparkPool(p) => format!("pool/{}/{}", p.synapse_workspace, r.name),
            Body::Link(l) => format!("link/{}/{}", l.ml_workspace, r.name),
            Body::Attachment(a) => format!("compute/{}/{}", a.ml_workspace, r.name),
            Body::RoleGrant(g) => {
                let role = roles::find(&g.role).map_or(g.role.as_str(), |r| r.id);
                format!(
                    "grant/{}/{role}/{:?}/{:?}",
                    g.synapse_workspace, g.principal, g.scope
                )
            }
        }
        .to_lowercase();
        if let Some(first) = seen.get(&identity) {
            diags.push(
                Diagnostic::error(
                    Some(r.key_pos),
                    format!(
                        "`{}` and `{first}` describe the same Azure resource",
                        r.address
                    ),
                )
                .code(Code::DuplicateResource)
                .at(&r.address)
                .hint(if r.address.kind == ResourceKind::RoleGrant {
                    "the same role, principal and scope are granted twice".to_owned()
                } else {
                    format!("give one of them another `name` (both are `{}`)", r.name)
                }),
            );
        } else {
            seen.insert(identity, &r.address);
        }
    }
}
