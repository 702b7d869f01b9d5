//! Refresh: reads what Azure holds for every resource the spec or the state
//! names, concurrently with bounded parallelism. Children are read with one
//! list call per parent (links and computes per AML workspace, pools per
//! Synapse workspace, Synapse role assignments per workspace with paging)
//! rather than one GET each, so a refresh costs about three requests per AML
//! workspace plus a constant. Nothing here decides anything: `diff` does.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::addr::ResourceKind;
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::cloud::resources::{
    attachment, fold_id, link, ml_workspace, permissions, role_grant, spark_pool, synapse_workspace,
};
use crate::spec::{Body, LoadedSpec};
use crate::state::State;

/// What a Synapse workspace's data plane holds.
#[derive(Debug, Clone, Default)]
pub struct SynapseRbac {
    /// `connectivityEndpoints.dev`.
    pub endpoint: String,
    /// Role definitions: (id, name), folded ids.
    pub role_definitions: Vec<(String, String)>,
    /// Every role assignment (raw).
    pub assignments: Vec<Value>,
    /// Index of `assignments` by (scope, role id, principal), folded.
    pub by_tuple: HashMap<(String, String, String), usize>,
    /// Index of `assignments` by assignment id, folded.
    pub by_id: HashMap<String, usize>,
}

impl SynapseRbac {
    /// Builds the indexes, so that a thousand grants are matched in linear time.
    pub fn new(
        endpoint: String,
        role_definitions: Vec<(String, String)>,
        assignments: Vec<Value>,
    ) -> SynapseRbac {
        let by_tuple = assignments
            .iter()
            .enumerate()
            .filter_map(|(i, a)| role_grant::tuple_of(a).map(|t| (t, i)))
            .collect();
        let by_id = assignments
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.get("id")
                    .and_then(Value::as_str)
                    .map(|id| (id.to_ascii_lowercase(), i))
            })
            .collect();
        SynapseRbac {
            endpoint,
            role_definitions,
            assignments,
            by_tuple,
            by_id,
        }
    }

    /// The assignment with this (scope, role id, principal), folded.
    pub fn find_tuple(&self, tuple: &(String, String, String)) -> Option<&Value> {
        self.by_tuple.get(tuple).map(|i| &self.assignments[*i])
    }

    /// The assignment with this id.
    pub fn find_id(&self, id: &str) -> Option<&Value> {
        self.by_id
            .get(&id.to_ascii_lowercase())
            .map(|i| &self.assignments[*i])
    }
}

/// Everything read, keyed by folded ARM id.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Resources found (workspaces, pools, links, computes), by folded ARM id.
    pub resources: HashMap<String, Value>,
    /// Ids looked up and not found (or whose parent does not exist).
    pub missing: BTreeSet<String>,
    /// The data plane of each Synapse workspace that role grants touch, by folded workspace id.
    pub synapse: HashMap<String, SynapseRbac>,
    /// The caller's effective ARM permissions on a Synapse workspace, by folded id (preflight).
    pub permissions: HashMap<String, Vec<Value>>,
}

impl Observed {
    /// The resource at an id, if found.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.resources.get(&fold_id(id))
    }
}

/// The ARM ids refresh must read, gathered from the spec and the state.
#[derive(Debug, Default)]
struct Wanted {
    ml_workspaces: BTreeSet<String>,
    synapse_workspaces: BTreeSet<String>,
    /// Synapse workspaces whose pools are listed.
    pool_parents: BTreeSet<String>,
    /// AML workspaces whose links and computes are listed.
    ml_children: BTreeSet<String>,
    /// Synapse workspaces whose RBAC is read.
    rbac: BTreeSet<String>,
}

/// The id of a resource's parent workspace, from its own id.
pub fn parent_of(id: &str) -> Option<&str> {
    [
        "/linkedServices/",
        "/computes/",
        "/bigDataPools/",
        "/roleAssignments/",
    ]
    .iter()
    .find_map(|marker| {
        let lower = id.to_ascii_lowercase();
        lower.find(&marker.to_ascii_lowercase()).map(|i| &id[..i])
    })
}

fn wanted(spec: &LoadedSpec, state: &State) -> Wanted {
    let mut w = Wanted::default();
    for r in spec.resources.values() {
        match &r.body {
            Body::MlWorkspace(_) => {
                w.ml_workspaces.insert(fold_id(&ml_workspace::id(r)));
            }
            Body::SynapseWorkspace(_) => {
                w.synapse_workspaces
                    .insert(fold_id(&synapse_workspace::id(r)));
            }
            Body::SparkPool(_) | Body::Link(_) | Body::Attachment(_) | Body::RoleGrant(_) => {
                let parent = match &r.body {
                    Body::SparkPool(p) => spec
                        .get(ResourceKind::SynapseWorkspace, &p.synapse_workspace)
                        .map(synapse_workspace::id),
                    Body::RoleGrant(g) => spec
                        .get(ResourceKind::SynapseWorkspace, &g.synapse_workspace)
                        .map(synapse_workspace::id),
                    Body::Link(l) => spec
                        .get(ResourceKind::MlWorkspace, &l.ml_workspace)
                        .map(ml_workspace::id),
                    Body::Attachment(a) => spec
                        .get(ResourceKind::MlWorkspace, &a.ml_workspace)
                        .map(ml_workspace::id),
                    _ => None,
                };
                let Some(parent) = parent.map(|p| fold_id(&p)) else {
                    continue;
                };
                match r.address.kind {
                    ResourceKind::SparkPool => w.pool_parents.insert(parent),
                    ResourceKind::RoleGrant => w.rbac.insert(parent),
                    _ => w.ml_children.insert(parent),
                };
            }
        }
    }
    for (_, rs) in &state.resources {
        let id = fold_id(&rs.id);
        match rs.kind {
            ResourceKind::MlWorkspace => {
                w.ml_workspaces.insert(id);
            }
            ResourceKind::SynapseWorkspace => {
                w.synapse_workspaces.insert(id);
            }
            kind => {
                if let Some(parent) = parent_of(&id).map(str::to_owned) {
                    match kind {
                        ResourceKind::SparkPool => w.pool_parents.insert(parent),
                        ResourceKind::RoleGrant => w.rbac.insert(parent),
                        _ => w.ml_children.insert(parent),
                    };
                }
            }
        }
    }
    // A child's parent workspace must be read first (for its existence and,
    // for Synapse, its data-plane endpoint).
    w.ml_workspaces.extend(w.ml_children.iter().cloned());
    w.synapse_workspaces.extend(w.pool_parents.iter().cloned());
    w.synapse_workspaces.extend(w.rbac.iter().cloned());
    w
}

/// One parent's listing.
enum Listed {
    Children(String, Vec<Value>),
    Rbac(String, SynapseRbac),
}

/// Reads everything the spec and state name. `parallelism` bounds the requests in flight.
pub async fn refresh(
    client: Arc<Client>,
    spec: &LoadedSpec,
    state: &State,
    parallelism: usize,
) -> Result<Observed, Vec<CloudError>> {
    let w = wanted(spec, state);
    let limit = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut observed = Observed::default();
    let mut errors = Vec::new();

    // Phase 1: the workspaces.
    let mut set = JoinSet::new();
    for (id, api) in w
        .ml_workspaces
        .iter()
        .map(|id| (id.clone(), ml_workspace::API_VERSION))
        .chain(
            w.synapse_workspaces
                .iter()
                .map(|id| (id.clone(), synapse_workspace::API_VERSION)),
        )
    {
        let (client, limit) = (client.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (id.clone(), client.get(&id, api).await)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((id, Ok(Some(body)))) => {
                observed.resources.insert(id, body);
            }
            Ok((id, Ok(None))) => {
                observed.missing.insert(id);
            }
            Ok((_, Err(e))) => errors.push(e),
            Err(e) => errors.push(CloudError::Unexpected {
                path: String::new(),
                message: e.to_string(),
            }),
        }
    }

    // Phase 2: children, one list per parent that exists.
    let mut set: JoinSet<Result<Listed, CloudError>> = JoinSet::new();
    let exists = |id: &String| observed.resources.contains_key(id);
    for parent in w.ml_children.iter().filter(|id| exists(id)) {
        for (suffix, api) in [
            ("linkedServices", link::API_VERSION),
            ("computes", attachment::API_VERSION),
        ] {
            let (client, limit, parent) = (client.clone(), limit.clone(), parent.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let items = client.list(&format!("{parent}/{suffix}"), api).await?;
                Ok(Listed::Children(parent, items))
            });
        }
    }
    for parent in w.pool_parents.iter().filter(|id| exists(id)) {
        let (client, limit, parent) = (client.clone(), limit.clone(), parent.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let items = client
                .list(&format!("{parent}/bigDataPools"), spark_pool::API_VERSION)
                .await?;
            Ok(Listed::Children(parent, items))
        });
    }
    for parent in w.rbac.iter().filter(|id| exists(id)) {
        let Some(endpoint) = observed
            .resources
            .get(parent)
            .and_then(synapse_workspace::dev_endpoint)
        else {
            errors.push(CloudError::Unexpected {
                path: parent.clone(),
                message: "the Synapse workspace reports no connectivityEndpoints.dev".into(),
            });
            continue;
        };
        let (client, limit, parent) = (client.clone(), limit.clone(), parent.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let defs = client
                .data_plane(
                    Method::GET,
                    &format!("{endpoint}/roleDefinitions"),
                    role_grant::API_VERSION,
                    None,
                )
                .await?;
            let role_definitions = match &defs.body {
                Value::Array(items) => items.clone(),
                other => other
                    .get("value")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            }
            .iter()
            .filter_map(|d| {
                Some((
                    d.get("id")?.as_str()?.to_ascii_lowercase(),
                    d.get("name")?.as_str()?.to_owned(),
                ))
            })
            .collect();
            let assignments = client
                .data_plane_list(
                    &format!("{endpoint}/roleAssignments"),
                    role_grant::API_VERSION,
                )
                .await?;
            Ok(Listed::Rbac(
                parent,
                SynapseRbac::new(endpoint, role_definitions, assignments),
            ))
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(Listed::Children(parent, items))) => {
                for item in items {
                    if let Some(id) = item.get("id").and_then(Value::as_str) {
                        let id = fold_id(id);
                        // Keep only what is under the parent we listed (defensive against odd ids).
                        if id.starts_with(&parent) {
                            observed.resources.insert(id, item);
                        }
                    }
                }
            }
            Ok(Ok(Listed::Rbac(parent, rbac))) => {
                observed.synapse.insert(parent, rbac);
            }
            Ok(Err(e)) => errors.push(e),
            Err(e) => errors.push(CloudError::Unexpected {
                path: String::new(),
                message: e.to_string(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(observed)
    } else {
        Err(errors)
    }
}

/// Reads the caller's permissions on Synapse workspaces (preflight), concurrently.
pub async fn read_permissions(
    client: Arc<Client>,
    workspace_ids: &[String],
    observed: &mut Observed,
) -> Result<(), CloudError> {
    let mut set = JoinSet::new();
    for id in workspace_ids {
        let (client, id) = (client.clone(), id.clone());
        set.spawn(async move {
            let items = client
                .list(&permissions::path(&id), permissions::API_VERSION)
                .await;
            (id, items)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (id, items) = joined.map_err(|e| CloudError::Unexpected {
            path: String::new(),
            message: e.to_string(),
        })?;
        observed.permissions.insert(fold_id(&id), items?);
    }
    Ok(())
}
