//! Discover, the half that knows the kinds: what to read, with list calls
//! only, to find an estate built by hand (the AML workspaces of a scope, their
//! links and attached pools, the Synapse workspaces and pools those point at,
//! and the Synapse role assignments held by those links' and computes'
//! identities); which key each resource gets and which team it belongs to (a
//! team is one AML workspace and what hangs off it); what is odd about it (a
//! link without its grant, a compute whose pool is gone, a grant to an
//! identity no link or compute has); and how a linked-service team becomes an
//! attachment with its own identity (`--prefer-identity`).
//!
//! The cost of reading is fixed by the shape of the estate, not by its size
//! in children: one list call per scope and top-level kind, one per AML
//! workspace and child kind (links, computes: two), and per Synapse workspace
//! that something points at, one GET when it lies outside the scopes, one
//! list of pools and the pages of its role assignments.
//!
//! Each kind's own provider turns a body into spec settings
//! (`Provider::spec_fields`); folding teams into `for_each` and writing YAML
//! know nothing of kinds and live in the top-level `discover` module.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::addr::{Address, ArmId, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::{self, str_at};
use crate::spec::roles;

/// The value of a spec field as discover writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A string.
    Text(String),
    /// The key of another resource of the spec (written as that key).
    Key(Address),
    /// Any other value: a number, a boolean, a list, a map of strings.
    Value(Value),
    /// A nested map of fields (`principal`, `autoscale`, `data_lake`).
    Map(Fields),
}

/// Spec fields in the order they are written.
pub type Fields = IndexMap<String, Field>;

/// How a provider names the other resources a body refers to.
pub trait Keys {
    /// The address discover gives the resource at `id`, if it describes it.
    fn address_of(&self, id: &ArmId) -> Option<Address>;
    /// The address of the link or attachment whose identity is `principal`.
    fn holder_of(&self, principal: &str) -> Option<Address>;
}

/// One resource read.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its id (a role assignment's as its workspace's `/roleAssignments/{id}`).
    pub id: ArmId,
    /// What Azure answered.
    pub body: Value,
}

/// Everything read.
#[derive(Debug, Clone, Default)]
pub struct Estate {
    /// The resources, top-level ones first.
    pub items: Vec<Item>,
    /// Synapse workspaces that a link or compute points at and that do not exist.
    pub missing: Vec<ArmId>,
}

/// The Synapse workspace `id` lies in (itself or an ancestor).
fn synapse_of(id: &ArmId) -> Option<ArmId> {
    let workspaces = provider::of(ResourceKind::SynapseWorkspace).collection();
    let mut at = Some(id.clone());
    while let Some(candidate) = at {
        if candidate
            .resource_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(workspaces))
        {
            return Some(candidate);
        }
        at = candidate.parent();
    }
    None
}

/// Runs `lists` with at most `parallelism` in flight; every item, or the first error.
async fn gather(
    client: &Arc<Client>,
    parallelism: usize,
    lists: Vec<(ResourceKind, ArmId, Option<Value>)>,
    top: bool,
) -> Result<Vec<Item>, CloudError> {
    let limit = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut set = JoinSet::new();
    for (kind, at, parent) in lists {
        let (client, limit) = (client.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let p = provider::of(kind);
            let found = match (&parent, top) {
                (_, true) => p.list_in(&client, &at).await,
                (Some(parent), false) => p.list(&client, &at, parent).await,
                (None, false) => Ok(Vec::new()),
            };
            found.map(|list| {
                list.into_iter()
                    .map(|(id, body)| Item { kind, id, body })
                    .collect::<Vec<_>>()
            })
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = set.join_next().await {
        let items = joined.map_err(|e| CloudError::Unexpected {
            path: String::new(),
            message: e.to_string(),
        })??;
        out.extend(items);
    }
    out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// Reads the estate of `scopes` (subscription or resource group ids).
pub async fn read(
    client: Arc<Client>,
    scopes: &[ArmId],
    parallelism: usize,
) -> Result<Estate, CloudError> {
    let anchor = ResourceKind::MlWorkspace;
    let target = ResourceKind::SynapseWorkspace;
    let children_of = |parent: ResourceKind| -> Vec<ResourceKind> {
        ResourceKind::ALL
            .into_iter()
            .filter(|k| provider::of(*k).parent_kind() == Some(parent))
            .collect()
    };
    let tops = scopes
        .iter()
        .flat_map(|s| [(anchor, s.clone(), None), (target, s.clone(), None)])
        .collect();
    let top = gather(&client, parallelism, tops, true).await?;
    let (ml, listed_synapse): (Vec<Item>, Vec<Item>) =
        top.into_iter().partition(|i| i.kind == anchor);

    let lists = ml
        .iter()
        .flat_map(|w| {
            children_of(anchor)
                .into_iter()
                .map(|k| (k, w.id.clone(), Some(w.body.clone())))
        })
        .collect();
    let ml_children = gather(&client, parallelism, lists, false).await?;

    // The Synapse workspaces something points at: listed, or read by id.
    let mut wanted: Vec<ArmId> = Vec::new();
    for item in &ml_children {
        if let Some(ws) = provider::of(item.kind)
            .points_at(&item.body)
            .and_then(|p| synapse_of(&p))
        {
            if !wanted.contains(&ws) {
                wanted.push(ws);
            }
        }
    }
    let mut synapse: Vec<Item> = listed_synapse
        .into_iter()
        .filter(|s| wanted.contains(&s.id))
        .collect();
    let mut missing = Vec::new();
    let unlisted: Vec<ArmId> = wanted
        .iter()
        .filter(|w| !synapse.iter().any(|s| &s.id == *w))
        .cloned()
        .collect();
    for ws in &unlisted {
        match provider::of(target).read(&client, ws, None).await? {
            Some(body) => synapse.push(Item {
                kind: target,
                id: ws.clone(),
                body,
            }),
            None => missing.push(ws.clone()),
        }
    }
    let lists = synapse
        .iter()
        .flat_map(|w| {
            children_of(target)
                .into_iter()
                .map(|k| (k, w.id.clone(), Some(w.body.clone())))
        })
        .collect();
    let synapse_children = gather(&client, parallelism, lists, false).await?;

    let mut items = ml;
    items.extend(synapse);
    items.extend(ml_children);
    items.extend(synapse_children);
    items.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    Ok(Estate { items, missing })
}

/// One resource as the spec will describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its address.
    pub address: Address,
    /// Its id.
    pub id: ArmId,
    /// What Azure holds.
    pub body: Value,
    /// Its settings.
    pub fields: Fields,
    /// A data source.
    pub existing: bool,
    /// The team it belongs to: the key of its AML workspace.
    pub team: Option<String>,
    /// What is odd about it, one line each (written as comments).
    pub odd: Vec<String>,
    /// Why synlink cannot manage it: written commented out, left alone.
    pub left_out: Option<String>,
}

/// The separators a team's name is cut at.
fn is_separator(c: char) -> bool {
    matches!(c, '-' | '_' | '.')
}

/// The team token of each name: the name without the prefix and suffix all
/// names share (cut at separators, `mlw-fraud` → `fraud`).
pub fn team_tokens(names: &[String]) -> Vec<String> {
    if names.len() < 2 {
        return names.to_vec();
    }
    let first: Vec<char> = names[0].chars().collect();
    let mut prefix = first.len();
    let mut suffix = first.len();
    for n in &names[1..] {
        let c: Vec<char> = n.chars().collect();
        prefix = prefix.min(first.iter().zip(&c).take_while(|(a, b)| a == b).count());
        suffix = suffix.min(
            first
                .iter()
                .rev()
                .zip(c.iter().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    // A prefix ends with a separator and a suffix starts with one.
    while prefix > 0 && !is_separator(first[prefix - 1]) {
        prefix -= 1;
    }
    while suffix > 0 && !is_separator(first[first.len() - suffix]) {
        suffix -= 1;
    }
    names
        .iter()
        .map(|n| {
            let c: Vec<char> = n.chars().collect();
            if prefix + suffix >= c.len() {
                return n.clone();
            }
            c[prefix..c.len() - suffix].iter().collect()
        })
        .collect()
}

/// A key made of safe characters.
fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Unique keys per section: a taken key gets `-2`, `-3`, ….
#[derive(Default)]
struct Namer {
    taken: HashSet<Address>,
}

impl Namer {
    fn name(&mut self, kind: ResourceKind, wanted: &str) -> Address {
        let base = slug(wanted);
        let mut address = Address::new(kind, base.clone());
        let mut n = 2;
        while !self.taken.insert(address.clone()) {
            address = Address::new(kind, format!("{base}-{n}"));
            n += 1;
        }
        address
    }
}

/// The short word of a role in a grant's key (`spark` for Apache Spark Administrator).
fn role_word(role_id: &str) -> String {
    match roles::find(role_id) {
        Some(r) if r.api_name == "Apache Spark Administrator" => "spark".into(),
        Some(r) if r.api_name == "Synapse Administrator" => "admin".into(),
        Some(r) => slug(
            &r.api_name
                .trim_start_matches("Synapse ")
                .to_ascii_lowercase(),
        ),
        None => "role".into(),
    }
}

/// The principal of an identity in a body, lower-cased.
fn principal_of(body: &Value) -> Option<String> {
    str_at(body, "/identity/principalId").map(str::to_ascii_lowercase)
}

/// What discover knows while it names things.
struct Names {
    by_id: HashMap<ArmId, Address>,
    holders: HashMap<String, Address>,
}

impl Keys for Names {
    fn address_of(&self, id: &ArmId) -> Option<Address> {
        self.by_id.get(id).cloned()
    }

    fn holder_of(&self, principal: &str) -> Option<Address> {
        self.holders.get(&principal.to_ascii_lowercase()).cloned()
    }
}

/// What an assignment says: (workspace id, principal, role id, scope).
fn assignment(item: &Item) -> (ArmId, String, String, String) {
    let text = |p: &str| {
        str_at(&item.body, p)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    (
        item.id.parent().unwrap_or_else(|| item.id.clone()),
        text("/principalId"),
        text("/roleDefinitionId"),
        text("/scope"),
    )
}

/// Whether a role lets an identity use Spark pools.
fn is_spark_role(role_id: &str) -> bool {
    roles::find(role_id).is_some_and(|r| {
        r.api_name == "Apache Spark Administrator" || r.api_name == "Synapse Administrator"
    })
}

/// Turns the estate into entries: keys, teams, settings and what is odd.
/// Workspaces and pools are data sources unless `manage_workspaces`. Role
/// assignments are those held by the links' and computes' identities, and
/// the Spark ones held by a service principal that no link or compute has
/// (an orphan, written with a comment); `caller` is never one of them.
pub fn entries(estate: &Estate, manage_workspaces: bool, caller: Option<&str>) -> Vec<Entry> {
    use ResourceKind as K;
    let of = |kind: K| -> Vec<&Item> { estate.items.iter().filter(|i| i.kind == kind).collect() };
    let mut namer = Namer::default();
    let mut by_id: HashMap<ArmId, Address> = HashMap::new();
    let mut team_of: HashMap<ArmId, String> = HashMap::new();

    // AML workspaces: the team anchors, keyed by their team token.
    let ml = of(K::MlWorkspace);
    let names: Vec<String> = ml.iter().map(|i| i.id.name().to_owned()).collect();
    for (item, token) in ml.iter().zip(team_tokens(&names)) {
        let a = namer.name(K::MlWorkspace, &token);
        team_of.insert(item.id.clone(), a.key.clone());
        by_id.insert(item.id.clone(), a);
    }
    for item in of(K::SynapseWorkspace) {
        by_id.insert(
            item.id.clone(),
            namer.name(K::SynapseWorkspace, item.id.name()),
        );
    }
    // Pools: by name, or with their workspace's key when two share a name.
    let pools = of(K::SparkPool);
    for item in &pools {
        let shared = pools
            .iter()
            .filter(|p| p.id.name().eq_ignore_ascii_case(item.id.name()))
            .count()
            > 1;
        let key = match (
            shared,
            item.id.parent().and_then(|w| by_id.get(&w).cloned()),
        ) {
            (true, Some(ws)) => format!("{}-{}", ws.key, item.id.name()),
            _ => item.id.name().to_owned(),
        };
        by_id.insert(item.id.clone(), namer.name(K::SparkPool, &key));
    }
    // Links and attachments: by their team, and the compute's pool or the link's name.
    let mut holders: HashMap<String, Address> = HashMap::new();
    for kind in [K::Link, K::Attachment] {
        let items = of(kind);
        for item in &items {
            let parent = item.id.parent();
            let team = parent.as_ref().and_then(|p| team_of.get(p)).cloned();
            let Some(team) = team else { continue };
            let siblings = items.iter().filter(|i| i.id.parent() == parent).count();
            let key = match kind {
                K::Link if siblings == 1 => team.clone(),
                K::Attachment => {
                    let pool = provider::of(kind)
                        .points_at(&item.body)
                        .and_then(|p| by_id.get(&p).cloned());
                    match pool {
                        Some(p) => format!("{team}-{}", p.key),
                        None => format!("{team}-{}", item.id.name()),
                    }
                }
                _ => format!("{team}-{}", item.id.name()),
            };
            let a = namer.name(kind, &key);
            if let Some(p) = principal_of(&item.body) {
                holders.insert(p, a.clone());
            }
            team_of.insert(item.id.clone(), team);
            by_id.insert(item.id.clone(), a);
        }
    }
    // Role assignments held by those identities, and Spark ones held by no one known.
    let workspace_identities: HashSet<String> = of(K::SynapseWorkspace)
        .iter()
        .filter_map(|w| principal_of(&w.body))
        .chain(caller.map(str::to_ascii_lowercase))
        .collect();
    let mut grants: Vec<&Item> = Vec::new();
    for item in of(K::RoleGrant) {
        let (_, principal, role, _) = assignment(item);
        let service_principal = str_at(&item.body, "/principalType")
            .is_none_or(|t| t.eq_ignore_ascii_case("ServicePrincipal"));
        let known = holders.contains_key(&principal);
        let orphan = !known
            && service_principal
            && roles::find(&role).is_some_and(|r| r.api_name == "Apache Spark Administrator")
            && !workspace_identities.contains(&principal);
        if !known && !orphan {
            continue;
        }
        let holder = holders.get(&principal);
        let stem = match holder {
            Some(h) => h.key.clone(),
            None => format!("unknown-{}", principal.get(..8).unwrap_or(&principal)),
        };
        let a = namer.name(K::RoleGrant, &format!("{stem}-{}", role_word(&role)));
        if let Some(team) = holder.and_then(|h| {
            estate
                .items
                .iter()
                .find(|i| by_id.get(&i.id) == Some(h))
                .and_then(|i| team_of.get(&i.id))
        }) {
            team_of.insert(item.id.clone(), team.clone());
        }
        by_id.insert(item.id.clone(), a);
        grants.push(item);
    }
    let names = Names { by_id, holders };

    // Which pools matter: those attached or named by a grant's scope.
    let used_pools: HashSet<ArmId> = estate
        .items
        .iter()
        .filter(|i| i.kind == K::Attachment)
        .filter_map(|i| provider::of(i.kind).points_at(&i.body))
        .chain(grants.iter().filter_map(|g| {
            let (ws, _, _, scope) = assignment(g);
            let pool = scope.split_once("/bigdatapools/")?.1.to_owned();
            Some(ws.child(provider::of(K::SparkPool).collection(), &pool))
        }))
        .collect();
    let granted: HashSet<(ArmId, String)> = grants
        .iter()
        .map(|g| assignment(g))
        .filter(|(_, _, role, _)| is_spark_role(role))
        .map(|(ws, principal, _, _)| (ws, principal))
        .collect();
    let linked: HashSet<(ArmId, ArmId)> = of(K::Link)
        .iter()
        .filter_map(|l| {
            let ws = provider::of(K::Link).points_at(&l.body)?;
            Some((l.id.parent()?, ws))
        })
        .collect();

    let mut out = Vec::new();
    for item in &estate.items {
        let Some(address) = names.by_id.get(&item.id).cloned() else {
            continue;
        };
        let p = provider::of(item.kind);
        if item.kind == K::SparkPool && !used_pools.contains(&item.id) {
            continue;
        }
        let existing = !manage_workspaces
            && matches!(
                item.kind,
                K::MlWorkspace | K::SynapseWorkspace | K::SparkPool
            );
        let mut odd = Vec::new();
        let mut left_out = None;
        let described = match p.spec_fields(&item.id, &item.body, &names, existing) {
            // A workspace or pool that cannot be managed is read as a data source.
            Err(why)
                if !existing
                    && matches!(
                        item.kind,
                        K::MlWorkspace | K::SynapseWorkspace | K::SparkPool
                    ) =>
            {
                odd.push(format!("left a data source (`existing: true`): {why}"));
                p.spec_fields(&item.id, &item.body, &names, true)
                    .map(|f| (f, true))
            }
            other => other.map(|f| (f, existing)),
        };
        let (fields, existing) = match described {
            Ok(f) => f,
            Err(why) => {
                left_out = Some(why);
                let mut f = Fields::new();
                f.insert("name".into(), Field::Text(item.id.name().to_owned()));
                (f, existing)
            }
        };
        let principal = principal_of(&item.body);
        let synapse = p.points_at(&item.body).and_then(|t| synapse_of(&t));
        match item.kind {
            K::Link => {
                if let (Some(pr), Some(ws)) = (&principal, &synapse) {
                    if !granted.contains(&(ws.clone(), pr.clone())) {
                        odd.push(format!("this link's identity holds no Spark role in Synapse workspace `{}`: Spark sessions through it fail until it is granted `Synapse Apache Spark Administrator`", ws.name()));
                    }
                }
            }
            K::Attachment if left_out.is_none() => match (&principal, &synapse) {
                (Some(pr), Some(ws)) if !granted.contains(&(ws.clone(), pr.clone())) => {
                    odd.push(format!("this compute's own identity holds no Spark role in Synapse workspace `{}`: grant it `Synapse Apache Spark Administrator`", ws.name()));
                }
                (None, Some(ws))
                    if !item
                        .id
                        .parent()
                        .is_some_and(|ml| linked.contains(&(ml, ws.clone()))) =>
                {
                    odd.push(format!("neither a link from its AML workspace to `{}` nor an identity of its own lets this compute use the pool", ws.name()));
                }
                _ => {}
            },
            K::RoleGrant if !names.holders.contains_key(&assignment(item).1) => {
                odd.push(format!("no link or compute in the scanned scope has this identity ({}): its link may have been unregistered or its compute detached. Revoke it by deleting this entry, or keep it", assignment(item).1));
            }
            _ => {}
        }
        out.push(Entry {
            address,
            id: item.id.clone(),
            body: item.body.clone(),
            fields,
            existing,
            team: team_of.get(&item.id).cloned(),
            odd,
            left_out,
        });
    }
    // A stable order that does not depend on ids Azure chose (role
    // assignments): by kind, then team in the order of their workspaces, then key.
    let rank: HashMap<&str, usize> = ml
        .iter()
        .enumerate()
        .filter_map(|(i, w)| Some((team_of.get(&w.id)?.as_str(), i)))
        .collect();
    out.sort_by(|a, b| {
        let key = |e: &Entry| {
            let team = e.team.as_deref().and_then(|t| rank.get(t)).copied();
            (
                e.address.kind,
                team.unwrap_or(usize::MAX),
                e.address.key.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    out
}

/// The name, subscription, resource group and region of a top-level resource.
pub fn placement(id: &ArmId, body: &Value) -> Fields {
    let mut f = Fields::new();
    f.insert("name".into(), Field::Text(id.name().to_owned()));
    for (key, value) in [
        ("subscription", id.subscription()),
        ("resource_group", id.resource_group()),
    ] {
        if let Some(v) = value {
            f.insert(key.into(), Field::Text(v.to_owned()));
        }
    }
    if let Some(l) = str_at(body, "/location") {
        f.insert("location".into(), Field::Text(provider::fold_location(l)));
    }
    f
}

/// The `tags` field of a body, when it has tags.
pub fn tags_field(body: &Value) -> Option<Field> {
    body.get("tags")
        .and_then(Value::as_object)
        .filter(|t| !t.is_empty())
        .map(|t| Field::Value(Value::Object(t.clone())))
}

/// The `identity` field of a body, unless its type is `default`:
/// `system_assigned`, `none` or `{ user_assigned: [ids] }`.
pub fn identity_field(body: &Value, default: &str) -> Option<Field> {
    let kind = provider::read_identity(body);
    if kind.eq_ignore_ascii_case(default) {
        return None;
    }
    if kind.to_ascii_lowercase().contains("userassigned") {
        let ids: Vec<Value> = body
            .pointer("/identity/userAssignedIdentities")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(|k| Value::String(k.clone())).collect())
            .unwrap_or_default();
        return Some(Field::Value(serde_json::json!({ "user_assigned": ids })));
    }
    Some(Field::Text(
        if kind.eq_ignore_ascii_case("None") {
            "none"
        } else {
            "system_assigned"
        }
        .into(),
    ))
}

/// Lists a top-level collection in a scope (`{scope}/providers/{type}`).
pub async fn list_top(
    client: &Client,
    scope: &ArmId,
    resource_type: &str,
    api_version: &str,
) -> Result<Vec<(ArmId, Value)>, CloudError> {
    let items = client
        .list(&format!("{scope}/providers/{resource_type}"), api_version)
        .await?;
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let id = ArmId::new(item.get("id").and_then(Value::as_str)?);
            Some((id, item))
        })
        .collect())
}

/// The compute name of an attachment's identity twin: `{name}-mi`, within the
/// 16 characters a compute name may have.
fn twin_name(name: &str) -> String {
    let mut stem: String = name.chars().take(13).collect();
    while stem.ends_with('-') {
        stem.pop();
    }
    format!("{stem}-mi")
}

/// The Synapse workspace a pool entry lives in (its `synapse_workspace` key).
fn workspace_of_pool<'e>(entries: &'e [Entry], pool: &Address) -> Option<&'e Address> {
    let entry = entries.iter().find(|e| &e.address == pool)?;
    match entry.fields.get("synapse_workspace")? {
        Field::Key(a) => Some(a),
        _ => None,
    }
}

/// A field holding a key.
fn key_field<'f>(fields: &'f Fields, name: &str) -> Option<&'f Address> {
    match fields.get(name)? {
        Field::Key(a) => Some(a),
        _ => None,
    }
}

/// For `--prefer-identity`: each linked-service team moves to attachments
/// with their own identity. Every attachment of the team that uses the link
/// (no identity of its own, a pool of the link's Synapse workspace) gets an
/// identity twin under a new key and compute name (`{name}-mi`) with its own
/// Spark grant, so that old and new stand side by side during the migration;
/// the link, its grants and the old attachments leave the spec, and the plan
/// removes them only once the twins are in effect. A team whose link no
/// attachment uses keeps its link, with a note. Returns the entries and the
/// addresses that left.
pub fn prefer_identity(entries: Vec<Entry>) -> (Vec<Entry>, Vec<Address>) {
    use ResourceKind as K;
    let mut taken: HashSet<Address> = entries.iter().map(|e| e.address.clone()).collect();
    let mut unique = |kind: K, key: &str| {
        let mut a = Address::new(kind, key);
        let mut n = 2;
        while !taken.insert(a.clone()) {
            a = Address::new(kind, format!("{key}-{n}"));
            n += 1;
        }
        a
    };
    let mut gone: Vec<Address> = Vec::new();
    let mut twins: HashMap<Address, Vec<Entry>> = HashMap::new();
    let mut lonely: HashSet<Address> = HashSet::new();
    let links: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.address.kind == K::Link && e.left_out.is_none())
        .collect();
    for link in links {
        let Some(synapse) = key_field(&link.fields, "synapse_workspace") else {
            continue;
        };
        let users: Vec<&Entry> = entries
            .iter()
            .filter(|a| {
                a.address.kind == K::Attachment
                    && a.left_out.is_none()
                    && a.team == link.team
                    && !a.fields.contains_key("identity")
                    && key_field(&a.fields, "spark_pool")
                        .and_then(|p| workspace_of_pool(&entries, p))
                        == Some(synapse)
            })
            .collect();
        if users.is_empty() {
            lonely.insert(link.address.clone());
            continue;
        }
        for old in users {
            let name = match old.fields.get("name") {
                Some(Field::Text(n)) => twin_name(n),
                _ => twin_name(old.id.name()),
            };
            let address = unique(K::Attachment, &format!("{}-mi", old.address.key));
            let mut fields = old.fields.clone();
            fields.insert("name".into(), Field::Text(name.clone()));
            fields.insert("identity".into(), Field::Text("system_assigned".into()));
            let id = old
                .id
                .parent()
                .map_or_else(|| old.id.clone(), |ml| ml.child("computes", &name));
            let mut grant = Fields::new();
            grant.insert("synapse_workspace".into(), Field::Key(synapse.clone()));
            grant.insert(
                "role".into(),
                Field::Text("Apache Spark Administrator".into()),
            );
            let mut principal = Fields::new();
            principal.insert("attachment".into(), Field::Key(address.clone()));
            grant.insert("principal".into(), Field::Map(principal));
            let grant_address = unique(K::RoleGrant, &format!("{}-spark", address.key));
            let twin = Entry {
                address,
                id: id.clone(),
                body: Value::Null,
                fields,
                existing: false,
                team: old.team.clone(),
                odd: Vec::new(),
                left_out: None,
            };
            let grant = Entry {
                address: grant_address,
                id,
                body: Value::Null,
                fields: grant,
                existing: false,
                team: old.team.clone(),
                odd: Vec::new(),
                left_out: None,
            };
            twins.insert(old.address.clone(), vec![twin, grant]);
            gone.push(old.address.clone());
        }
        gone.push(link.address.clone());
        for g in entries.iter().filter(|g| {
            g.address.kind == K::RoleGrant
                && matches!(g.fields.get("principal"), Some(Field::Map(p)) if key_field(p, "link") == Some(&link.address))
        }) {
            gone.push(g.address.clone());
        }
    }
    let mut out = Vec::with_capacity(entries.len());
    for mut e in entries {
        if let Some(new) = twins.remove(&e.address) {
            out.extend(new);
        } else if !gone.contains(&e.address) {
            if lonely.contains(&e.address) {
                e.odd.push("no attachment uses this link, so there is nothing to move to an identity of its own: keep the link, or attach a pool with `identity: system_assigned` and grant it the Spark role".into());
            }
            out.push(e);
        }
    }
    (out, gone)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::{json, Value};

    use super::{entries, team_tokens, twin_name, Estate, Field, Item, Keys};
    use crate::addr::{Address, ArmId, ResourceKind as K};
    use crate::provider;

    const SUB: &str = "/subscriptions/s/resourceGroups/rg/providers";
    const SPARK: &str = "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1";

    fn ml(name: &str) -> String {
        format!("{SUB}/Microsoft.MachineLearningServices/workspaces/{name}")
    }

    fn syn() -> String {
        format!("{SUB}/Microsoft.Synapse/workspaces/syn")
    }

    fn item(kind: K, id: &str, body: Value) -> Item {
        Item {
            kind,
            id: ArmId::new(id),
            body,
        }
    }

    struct Fixed(HashMap<ArmId, Address>, HashMap<String, Address>);

    impl Keys for Fixed {
        fn address_of(&self, id: &ArmId) -> Option<Address> {
            self.0.get(id).cloned()
        }
        fn holder_of(&self, principal: &str) -> Option<Address> {
            self.1.get(principal).cloned()
        }
    }

    fn keys() -> Fixed {
        let mut ids = HashMap::new();
        ids.insert(ArmId::new(ml("mlw-a")), Address::new(K::MlWorkspace, "a"));
        ids.insert(ArmId::new(syn()), Address::new(K::SynapseWorkspace, "syn"));
        ids.insert(
            ArmId::new(format!("{}/bigDataPools/small", syn())),
            Address::new(K::SparkPool, "small"),
        );
        let mut holders = HashMap::new();
        holders.insert("p-link".to_owned(), Address::new(K::Link, "a"));
        Fixed(ids, holders)
    }

    fn text(f: Option<&Field>) -> &str {
        match f {
            Some(Field::Text(t)) => t,
            Some(Field::Key(a)) => &a.key,
            _ => "",
        }
    }

    #[test]
    fn each_kind_describes_a_body_by_keys_or_says_why_not() {
        let k = keys();
        let link = provider::of(K::Link);
        let id = ArmId::new(format!("{}/linkedServices/l1", ml("mlw-a")));
        let f = link
            .spec_fields(
                &id,
                &json!({"properties": {"linkedServiceResourceId": syn()}}),
                &k,
                false,
            )
            .expect("described");
        assert_eq!(
            (
                text(f.get("ml_workspace")),
                text(f.get("synapse_workspace")),
                text(f.get("name"))
            ),
            ("a", "syn", "l1")
        );
        let gone = link.spec_fields(&id, &json!({"properties": {"linkedServiceResourceId": format!("{SUB}/Microsoft.Synapse/workspaces/gone")}}), &k, false);
        assert!(gone.expect_err("gone").contains("does not exist"));

        let att = provider::of(K::Attachment);
        let id = ArmId::new(format!("{}/computes/c1", ml("mlw-a")));
        let body = json!({"identity": {"type": "SystemAssigned", "principalId": "p"},
            "properties": {"resourceId": format!("{}/bigDataPools/small", syn())}});
        let f = att.spec_fields(&id, &body, &k, false).expect("described");
        assert_eq!(text(f.get("spark_pool")), "small");
        assert_eq!(text(f.get("identity")), "system_assigned");
        let body = json!({"properties": {"resourceId": format!("{}/bigDataPools/gone", syn())}});
        assert!(att.spec_fields(&id, &body, &k, false).is_err());

        let grant = provider::of(K::RoleGrant);
        let id = ArmId::new(format!("{}/roleAssignments/r1", syn()));
        let f = grant
            .spec_fields(&id, &json!({"roleDefinitionId": SPARK, "principalId": "p-link", "scope": "workspaces/syn"}), &k, false)
            .expect("described");
        assert_eq!(text(f.get("role")), "Apache Spark Administrator");
        match f.get("principal") {
            Some(Field::Map(p)) => assert_eq!(text(p.get("link")), "a"),
            other => panic!("{other:?}"),
        }
        let f = grant
            .spec_fields(&id, &json!({"roleDefinitionId": SPARK, "principalId": "P-Other", "principalType": "Group", "scope": "workspaces/syn/bigDataPools/small"}), &k, false)
            .expect("described");
        match (f.get("principal"), f.get("scope")) {
            (Some(Field::Map(p)), Some(Field::Map(s))) => {
                assert_eq!(
                    (text(p.get("object_id")), text(p.get("type"))),
                    ("p-other", "Group")
                );
                assert_eq!(text(s.get("spark_pool")), "small");
            }
            other => panic!("{other:?}"),
        }
        assert!(grant
            .spec_fields(
                &id,
                &json!({"roleDefinitionId": "0000", "principalId": "p"}),
                &k,
                false
            )
            .is_err());

        let pool = provider::of(K::SparkPool);
        let id = ArmId::new(format!("{}/bigDataPools/small", syn()));
        let body = json!({"location": "West Europe", "properties": {"nodeSize": "Small", "sparkVersion": "3.5",
            "nodeSizeFamily": "MemoryOptimized", "autoScale": {"enabled": true, "minNodeCount": 3, "maxNodeCount": 6},
            "autoPause": {"enabled": false}}});
        let existing = pool.spec_fields(&id, &body, &k, true).expect("described");
        assert_eq!(
            existing.keys().collect::<Vec<_>>(),
            ["name", "synapse_workspace"]
        );
        let managed = pool.spec_fields(&id, &body, &k, false).expect("described");
        assert_eq!(text(managed.get("location")), "westeurope");
        assert!(matches!(managed.get("autoscale"), Some(Field::Map(_))));
        assert!(
            !managed.contains_key("node_size_family")
                && !managed.contains_key("auto_pause_minutes")
        );

        let ws = provider::of(K::MlWorkspace);
        let id = ArmId::new(ml("mlw-a"));
        let f = ws
            .spec_fields(&id, &json!({"location": "westeurope"}), &k, true)
            .expect("a data source");
        assert_eq!(text(f.get("resource_group")), "rg");
        assert!(ws
            .spec_fields(&id, &json!({"location": "westeurope"}), &k, false)
            .is_err());
        let synapse = provider::of(K::SynapseWorkspace);
        assert!(synapse
            .spec_fields(
                &ArmId::new(syn()),
                &json!({"location": "westeurope", "properties": {}}),
                &k,
                false
            )
            .expect_err("no data lake")
            .contains("data lake"));
    }

    #[test]
    fn entries_name_teams_and_say_what_is_odd() {
        let link = |ml_name: &str, principal: &str| {
            item(
                K::Link,
                &format!("{}/linkedServices/l", ml(ml_name)),
                json!({"identity": {"principalId": principal}, "properties": {"linkedServiceResourceId": syn()}}),
            )
        };
        let compute = |ml_name: &str, pool: &str| {
            item(
                K::Attachment,
                &format!("{}/computes/c", ml(ml_name)),
                json!({"location": "westeurope", "properties": {"computeType": "SynapseSpark", "resourceId": format!("{}/bigDataPools/{pool}", syn())}}),
            )
        };
        let grant = |n: &str, principal: &str| {
            item(
                K::RoleGrant,
                &format!("{}/roleAssignments/{n}", syn()),
                json!({"id": n, "roleDefinitionId": SPARK, "principalId": principal, "scope": "workspaces/syn", "principalType": "ServicePrincipal"}),
            )
        };
        let estate = Estate {
            items: vec![
                item(
                    K::MlWorkspace,
                    &ml("mlw-a"),
                    json!({"location": "westeurope"}),
                ),
                item(
                    K::MlWorkspace,
                    &ml("mlw-b"),
                    json!({"location": "westeurope"}),
                ),
                item(
                    K::SynapseWorkspace,
                    &syn(),
                    json!({"location": "westeurope", "identity": {"principalId": "ws"}}),
                ),
                item(
                    K::SparkPool,
                    &format!("{}/bigDataPools/small", syn()),
                    json!({}),
                ),
                item(
                    K::SparkPool,
                    &format!("{}/bigDataPools/unused", syn()),
                    json!({}),
                ),
                link("mlw-a", "pa"),
                link("mlw-b", "pb"),
                grant("g1", "pa"),
                grant("g2", "gone"),
                grant("g3", "ws"),
                compute("mlw-a", "small"),
                compute("mlw-b", "missing"),
            ],
            missing: Vec::new(),
        };
        let found = entries(&estate, false, None);
        let by: HashMap<String, &super::Entry> =
            found.iter().map(|e| (e.address.to_string(), e)).collect();
        assert!(by.contains_key("ml_workspaces.a") && by.contains_key("ml_workspaces.b"));
        assert!(
            !by.contains_key("spark_pools.unused"),
            "a pool nothing uses is left out"
        );
        assert!(by["links.a"].odd.is_empty());
        assert!(by["links.b"].odd[0].contains("holds no Spark role"));
        assert_eq!(by["role_grants.a-spark"].team.as_deref(), Some("a"));
        assert!(by["role_grants.unknown-gone-spark"].odd[0].contains("no link or compute"));
        assert!(
            !found.iter().any(|e| e.id.name() == "g3"),
            "the workspace's own identity is not an orphan"
        );
        assert!(by["attachments.b-c"]
            .left_out
            .as_deref()
            .is_some_and(|w| w.contains("does not exist")));
        assert_eq!(by["attachments.a-small"].team.as_deref(), Some("a"));
        assert!(by["ml_workspaces.a"].existing && !by["links.a"].existing);
    }

    #[test]
    fn team_tokens_drop_what_every_name_shares_at_separators() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            team_tokens(&names(&["mlw-fraud", "mlw-forecast", "mlw-churn"])),
            ["fraud", "forecast", "churn"]
        );
        assert_eq!(
            team_tokens(&names(&["ml-fraud-prod", "ml-big-data-prod"])),
            ["fraud", "big-data"]
        );
        // `mlw-f…` is no separator-bounded prefix: only `mlw-` goes.
        assert_eq!(team_tokens(&names(&["mlw-fa", "mlw-fb"])), ["fa", "fb"]);
        assert_eq!(team_tokens(&names(&["alpha", "beta"])), ["alpha", "beta"]);
        assert_eq!(team_tokens(&names(&["only-one"])), ["only-one"]);
        assert_eq!(team_tokens(&names(&["x-a", "x-a-b"])), ["a", "a-b"]);
    }

    #[test]
    fn twins_keep_within_the_compute_name_rule() {
        assert_eq!(twin_name("small-spark"), "small-spark-mi");
        assert_eq!(twin_name("abcdefghijkl-nop"), "abcdefghijkl-mi");
        assert!(twin_name("abcdefghijklmnop").len() <= 16);
    }
}
