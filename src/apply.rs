//! The executor: runs a plan's changes, and only those, over a graph built
//! from them. Creates and updates go in dependency order, deletes in reverse
//! (dependents first), a replace is a delete then a create. Independent changes
//! run concurrently under a semaphore; writes under one AML workspace are
//! serialised (Azure answers 409 to concurrent operations on a workspace).
//! Values known only after apply (a link's principal id) flow to the grants that
//! need them. The state is written after every finished change; a failed change
//! skips only its dependents. The executor never prints: it emits `Event`s.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::addr::{Address, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::cloud::resources::{
    attachment, identity_outputs, link, ml_workspace, role_grant, spark_pool, synapse_workspace,
};
use crate::graph::Graph;
use crate::plan::diff::Known;
use crate::plan::refresh::parent_of;
use crate::plan::{Action, Change, Plan, Properties};
use crate::spec::{roles, Body, LoadedSpec};
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

/// How the run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Changes done, in completion order.
    pub done: Vec<(Address, Action)>,
    /// Changes that failed, with Azure's error.
    pub failed: Vec<(Address, Action, String)>,
    /// Changes skipped, with the cause.
    pub skipped: Vec<(Address, String)>,
    /// Whether Ctrl-C stopped the scheduling.
    pub interrupted: bool,
    /// A state write that failed (the run stops at once then).
    pub state_error: Option<String>,
}

/// What every task shares.
struct Shared {
    client: Arc<Client>,
    spec: Arc<LoadedSpec>,
    options: Options,
    /// Outputs known so far (principal ids), by address.
    outputs: Mutex<HashMap<Address, IndexMap<String, Value>>>,
    /// Synapse data-plane endpoints by workspace id (folded).
    endpoints: tokio::sync::Mutex<HashMap<String, String>>,
    /// Resource groups known to exist.
    groups: tokio::sync::Mutex<HashSet<String>>,
    /// One lock per AML workspace (folded id): writes under it are serialised.
    workspace_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    events: Arc<dyn Fn(Event) + Send + Sync>,
}

/// The id of the AML workspace a change writes under, if any.
fn ml_workspace_of(change: &Change) -> Option<String> {
    match change.kind {
        ResourceKind::Link | ResourceKind::Attachment => change
            .id
            .as_deref()
            .and_then(parent_of)
            .map(str::to_ascii_lowercase),
        ResourceKind::MlWorkspace => change.id.as_deref().map(str::to_ascii_lowercase),
        _ => None,
    }
}

/// The dependencies between the plan's own changes, by index: each change
/// lists the changes that must finish before it starts.
///
/// Creates and updates wait for the changes of what they reference (the spec's
/// graph), and for deletes of the same kind under the same parent (a freed name
/// may be reused). A delete waits for the deletes of what depends on it: its
/// dependents in the graph, and its children by id (for what only the state
/// still knows). Every rule is per resource, so a thousand teams run side by side.
fn dependencies(plan: &Plan, graph: &Graph) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let folded = |c: &Change| c.id.as_deref().map(str::to_ascii_lowercase);
    let parent = |c: &Change| {
        c.id.as_deref()
            .and_then(parent_of)
            .map(str::to_ascii_lowercase)
    };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); plan.changes.len()];
    let mut deletes_by_id: HashMap<String, usize> = HashMap::new();
    let mut deletes_by_parent_kind: HashMap<(Option<String>, ResourceKind), Vec<usize>> =
        HashMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        if c.action == Action::Delete {
            if let Some(id) = folded(c) {
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
                for dep in graph.dependencies(&c.address) {
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
                    graph
                        .dependencies(&c.address)
                        .into_iter()
                        .filter_map(|a| index.get(a).copied())
                        .filter(|&d| plan.changes[d].action != Action::Delete),
                );
                if let Some(same) = deletes_by_parent_kind.get(&(parent(c), c.kind)) {
                    deps[i].extend(same.iter().copied().filter(|&d| d != i));
                }
            }
            Action::Read | Action::NoOp => {}
        }
    }
    deps
}

/// Runs the plan. `known` carries ids and outputs read during planning;
/// `cancel` is set by Ctrl-C.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    client: Arc<Client>,
    spec: Arc<LoadedSpec>,
    graph: &Graph,
    plan: &Plan,
    known: &IndexMap<Address, Known>,
    state: Arc<StateWriter>,
    options: Options,
    events: Arc<dyn Fn(Event) + Send + Sync>,
    cancel: Arc<AtomicBool>,
) -> Outcome {
    let mut outputs: HashMap<Address, IndexMap<String, Value>> = known
        .iter()
        .filter(|(_, k)| !k.outputs.is_empty())
        .map(|(a, k)| (a.clone(), k.outputs.clone()))
        .collect();
    for (addr, rs) in &state.snapshot().resources {
        if let Some(a) = Address::parse(addr) {
            outputs.entry(a).or_insert_with(|| rs.outputs.clone());
        }
    }
    let shared = Arc::new(Shared {
        client,
        spec,
        options: options.clone(),
        outputs: Mutex::new(outputs),
        endpoints: tokio::sync::Mutex::new(HashMap::new()),
        groups: tokio::sync::Mutex::new(HashSet::new()),
        workspace_locks: Mutex::new(HashMap::new()),
        events: events.clone(),
    });
    let mut outcome = Outcome::default();
    let deps = dependencies(plan, graph);
    let work: Vec<usize> = (0..plan.changes.len())
        .filter(|i| {
            matches!(
                plan.changes[*i].action,
                Action::Create | Action::Update | Action::Replace | Action::Delete
            )
        })
        .collect();
    // Kahn's algorithm: each change counts what it still waits for, and
    // becomes ready when that reaches zero.
    let is_work: Vec<bool> = (0..plan.changes.len()).map(|i| work.contains(&i)).collect();
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
    let mut ready: std::collections::VecDeque<usize> =
        work.iter().copied().filter(|&i| waiting[i] == 0).collect();
    let mut settled: HashSet<usize> = HashSet::new();
    let limit = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut running: JoinSet<(usize, Duration, Result<Option<ResourceState>, CloudError>)> =
        JoinSet::new();

    loop {
        if !cancel.load(Ordering::SeqCst) && outcome.state_error.is_none() {
            while let Some(i) = ready.pop_front() {
                let (shared, limit, change) =
                    (shared.clone(), limit.clone(), plan.changes[i].clone());
                running.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    (shared.events)(Event::Started {
                        address: change.address.clone(),
                        action: change.action,
                    });
                    let started = Instant::now();
                    let result = run_change(&shared, &change).await;
                    (i, started.elapsed(), result)
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
            Ok(r) => r,
            Err(e) => {
                outcome.state_error = Some(format!("a task failed: {e}"));
                continue;
            }
        };
        settled.insert(i);
        let change = &plan.changes[i];
        match result {
            Ok(recorded) => {
                let address = change.address.clone();
                let write = state.update(|s| match recorded {
                    Some(rs) => {
                        s.resources.insert(address.to_string(), rs);
                    }
                    None => {
                        s.resources.shift_remove(&address.to_string());
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
                outcome
                    .failed
                    .push((change.address.clone(), change.action, e.to_string()));
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
        outcome.state_error.get_or_insert(e.to_string());
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

impl Shared {
    /// How long to wait before the next look through the propagation gate:
    /// the poll interval, but never past the gate's timeout.
    fn gate_wait(&self, started: Instant) -> Duration {
        let left = self
            .options
            .propagation_timeout
            .saturating_sub(started.elapsed());
        self.options
            .propagation_poll
            .min(left)
            .max(Duration::from_millis(10))
    }

    fn emit(&self, e: Event) {
        (self.events)(e);
    }

    fn workspace_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.workspace_locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    fn output(&self, address: &Address, key: &str) -> Option<String> {
        self.outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(address)
            .and_then(|o| o.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The Synapse data-plane endpoint of a workspace, read once: concurrent
    /// grants wait for the first read instead of each sending their own.
    async fn endpoint(&self, workspace_id: &str) -> Result<String, CloudError> {
        let key = workspace_id.to_ascii_lowercase();
        let mut endpoints = self.endpoints.lock().await;
        if let Some(e) = endpoints.get(&key) {
            return Ok(e.clone());
        }
        let body = self
            .client
            .get(workspace_id, synapse_workspace::API_VERSION)
            .await?
            .ok_or_else(|| CloudError::Unexpected {
                path: workspace_id.to_owned(),
                message: "the Synapse workspace does not exist".into(),
            })?;
        let endpoint =
            synapse_workspace::dev_endpoint(&body).ok_or_else(|| CloudError::Unexpected {
                path: workspace_id.to_owned(),
                message: "the Synapse workspace reports no connectivityEndpoints.dev".into(),
            })?;
        endpoints.insert(key, endpoint.clone());
        Ok(endpoint)
    }

    /// Creates the resource group of a workspace synlink creates, if missing.
    async fn ensure_group(
        &self,
        subscription: &str,
        group: &str,
        location: &str,
    ) -> Result<(), CloudError> {
        let path = format!("/subscriptions/{subscription}/resourcegroups/{group}");
        let mut known = self.groups.lock().await;
        if known.contains(&path.to_ascii_lowercase()) {
            return Ok(());
        }
        if self.client.get(&path, "2021-04-01").await?.is_none() {
            self.client
                .put(
                    Method::PUT,
                    &path,
                    "2021-04-01",
                    &json!({ "location": location }),
                )
                .await?;
        }
        known.insert(path.to_ascii_lowercase());
        Ok(())
    }
}

fn record(
    change: &Change,
    id: String,
    properties: Properties,
    outputs: IndexMap<String, Value>,
) -> ResourceState {
    ResourceState {
        kind: change.kind,
        id,
        existing: false,
        properties,
        outputs,
    }
}

/// Runs one change; returns what the state should hold for it afterwards
/// (`None`: forget it).
async fn run_change(shared: &Shared, change: &Change) -> Result<Option<ResourceState>, CloudError> {
    let lock = ml_workspace_of(change).map(|id| shared.workspace_lock(&id));
    let _guard = match &lock {
        Some(l) => Some(l.lock().await),
        None => None,
    };
    match change.action {
        Action::Delete => {
            delete(shared, change).await?;
            Ok(None)
        }
        Action::Replace => {
            delete(shared, change).await?;
            create_or_update(shared, change, true).await.map(Some)
        }
        Action::Create => create_or_update(shared, change, true).await.map(Some),
        Action::Update => create_or_update(shared, change, false).await.map(Some),
        Action::Read | Action::NoOp => Ok(None),
    }
}

async fn delete(shared: &Shared, change: &Change) -> Result<(), CloudError> {
    let id = change.id.clone().unwrap_or_default();
    let client = &shared.client;
    match change.kind {
        ResourceKind::MlWorkspace => client.delete(&id, ml_workspace::API_VERSION).await,
        ResourceKind::SynapseWorkspace => client.delete(&id, synapse_workspace::API_VERSION).await,
        ResourceKind::SparkPool => client.delete(&id, spark_pool::API_VERSION).await,
        ResourceKind::Link => client.delete(&id, link::API_VERSION).await,
        // Never delete the pool through its attachment: detach only.
        ResourceKind::Attachment => {
            client
                .delete(
                    &format!("{id}?underlyingResourceAction=Detach"),
                    attachment::API_VERSION,
                )
                .await
        }
        ResourceKind::RoleGrant => {
            let workspace = parent_of(&id).unwrap_or_default().to_owned();
            let assignment = id.rsplit('/').next().unwrap_or_default();
            let endpoint = shared.endpoint(&workspace).await?;
            match client
                .data_plane(
                    Method::DELETE,
                    &format!("{endpoint}/roleAssignments/{assignment}"),
                    role_grant::API_VERSION,
                    None,
                )
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.is_not_found() => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

async fn create_or_update(
    shared: &Shared,
    change: &Change,
    create: bool,
) -> Result<ResourceState, CloudError> {
    let spec = &shared.spec;
    let r = spec
        .resources
        .get(&change.address)
        .ok_or_else(|| CloudError::Unexpected {
            path: change.address.to_string(),
            message: "the resource is not in the spec".into(),
        })?;
    let mut props = change.after.clone().unwrap_or_default();
    let id = change.id.clone().unwrap_or_default();
    let client = &shared.client;
    let method = if create { Method::PUT } else { Method::PATCH };
    let (id, outputs) = match &r.body {
        Body::MlWorkspace(w) => {
            if create {
                shared
                    .ensure_group(
                        &r.placement.subscription,
                        &r.placement.resource_group,
                        &r.placement.location,
                    )
                    .await?;
            }
            let body = client
                .put(
                    Method::PUT,
                    &id,
                    ml_workspace::API_VERSION,
                    &ml_workspace::body(&props, w),
                )
                .await?;
            (id, identity_outputs(&body))
        }
        Body::SynapseWorkspace(w) => {
            let body = if create {
                shared
                    .ensure_group(
                        &r.placement.subscription,
                        &r.placement.resource_group,
                        &r.placement.location,
                    )
                    .await?;
                client
                    .put(
                        Method::PUT,
                        &id,
                        synapse_workspace::API_VERSION,
                        &synapse_workspace::body(&props, w),
                    )
                    .await?
            } else {
                client
                    .put(
                        method,
                        &id,
                        synapse_workspace::API_VERSION,
                        &synapse_workspace::patch_body(&props, w),
                    )
                    .await?
            };
            (id, identity_outputs(&body))
        }
        Body::SparkPool(_) => {
            let body = client
                .put(
                    Method::PUT,
                    &id,
                    spark_pool::API_VERSION,
                    &spark_pool::body(&props),
                )
                .await?;
            let _ = body;
            (id, IndexMap::new())
        }
        Body::Link(l) => {
            let ml = spec
                .get(ResourceKind::MlWorkspace, &l.ml_workspace)
                .map(|m| m.placement.location.clone())
                .unwrap_or_default();
            let syn = spec
                .get(ResourceKind::SynapseWorkspace, &l.synapse_workspace)
                .map(synapse_workspace::id)
                .unwrap_or_default();
            let body = client
                .put(
                    Method::PUT,
                    &id,
                    link::API_VERSION,
                    &link::body(&r.name, &ml, &syn),
                )
                .await?;
            (id, identity_outputs(&body))
        }
        Body::Attachment(a) => {
            let pool = spec.get(ResourceKind::SparkPool, &a.spark_pool);
            let pool_id = pool
                .and_then(|p| match &p.body {
                    Body::SparkPool(sp) => spec
                        .get(ResourceKind::SynapseWorkspace, &sp.synapse_workspace)
                        .map(|w| spark_pool::id(&synapse_workspace::id(w), &p.name)),
                    _ => None,
                })
                .unwrap_or_default();
            // The plan was made from a fresh read, so the compute is absent (or was
            // just detached by a replace): a PUT cannot overwrite another. Its identity
            // is read back only when it has one.
            let read_back = !matches!(a.identity, None | Some(crate::spec::model::Identity::None));
            let body = client
                .put_with(
                    Method::PUT,
                    &id,
                    attachment::API_VERSION,
                    &attachment::body(&props, a, &pool_id),
                    read_back,
                )
                .await?;
            (id, identity_outputs(&body))
        }
        Body::RoleGrant(g) => {
            let principal = match (
                &g.principal.link,
                &g.principal.attachment,
                &g.principal.object_id,
            ) {
                (Some(l), _, _) => {
                    shared.output(&Address::new(ResourceKind::Link, l), "principal_id")
                }
                (_, Some(a), _) => {
                    shared.output(&Address::new(ResourceKind::Attachment, a), "principal_id")
                }
                (_, _, Some(o)) => Some(o.clone()),
                _ => None,
            }
            .ok_or_else(|| CloudError::Unexpected {
                path: change.address.to_string(),
                message: "the principal's id is not known (its link or attachment has no identity)"
                    .into(),
            })?;
            props.insert("principal_id".into(), json!(principal.to_ascii_lowercase()));
            let workspace = spec
                .get(ResourceKind::SynapseWorkspace, &g.synapse_workspace)
                .map(synapse_workspace::id)
                .unwrap_or_default();
            let aid = grant(shared, change, &workspace, &props, roles::find(&g.role)).await?;
            (
                format!("{}/roleAssignments/{aid}", workspace.to_ascii_lowercase()),
                IndexMap::new(),
            )
        }
    };
    if !outputs.is_empty() {
        shared
            .outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(change.address.clone(), outputs.clone());
    }
    Ok(record(change, id, props, outputs))
}

/// Writes a Synapse role assignment, adopting an identical one that exists,
/// then waits (bounded) until it takes effect for Spark roles.
async fn grant(
    shared: &Shared,
    change: &Change,
    workspace: &str,
    props: &Properties,
    role: Option<&roles::SynapseRole>,
) -> Result<String, CloudError> {
    let endpoint = shared.endpoint(workspace).await?;
    let client = &shared.client;
    let s = |k: &str| {
        props
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (role_id, principal, scope) = (s("role_id"), s("principal_id"), s("scope"));
    let wanted = (scope.clone(), role_id.clone(), principal.clone());
    // The plan was made from a fresh read of the assignments: the grant is new.
    // Should it exist after all (another client raced us), it is adopted.
    let aid = {
        let aid = uuid::Uuid::new_v4().to_string();
        let body = role_grant::body(props);
        let started = Instant::now();
        loop {
            match client
                .data_plane(
                    Method::PUT,
                    &format!("{endpoint}/roleAssignments/{aid}"),
                    role_grant::API_VERSION,
                    Some(&body),
                )
                .await
            {
                Ok(_) => break aid,
                Err(e) if e.code() == Some("RoleAssignmentAlreadyExists") => {
                    let list_url = format!("{endpoint}/roleAssignments?roleId={role_id}&principalId={principal}");
                    let existing = client.data_plane_list(&list_url, role_grant::API_VERSION).await?;
                    let found = existing
                        .iter()
                        .find(|a| role_grant::tuple_of(a).as_ref() == Some(&wanted))
                        .and_then(|a| a.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    break found.unwrap_or(aid);
                }
                Err(e)
                    if e.code() == Some("PrincipalNotFound")
                        && started.elapsed() < shared.options.propagation_timeout =>
                {
                    shared.emit(Event::Waiting {
                        address: change.address.clone(),
                        message: format!(
                            "waiting for identity {principal} to propagate ({}s so far)",
                            started.elapsed().as_secs()
                        ),
                    });
                    tokio::time::sleep(shared.gate_wait(started)).await;
                }
                Err(e) if e.code() == Some("PrincipalNotFound") => {
                    return Err(CloudError::Unexpected {
                        path: change.address.to_string(),
                        message: format!(
                            "identity {principal} did not propagate within {}s (--propagation-timeout): {e}",
                            shared.options.propagation_timeout.as_secs()
                        ),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    };
    // The grant is written; Synapse RBAC takes minutes to apply. A Spark role is
    // checked until it allows using pools, so the attachment after it works.
    if role.is_some_and(|r| {
        r.api_name == "Apache Spark Administrator" || r.api_name == "Synapse Administrator"
    }) {
        let check = json!({
            "subject": { "principalId": principal, "groupIds": [] },
            "actions": [{ "id": "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action", "isDataAction": true }],
            "scope": scope,
        });
        let started = Instant::now();
        loop {
            let r = client
                .data_plane(
                    Method::POST,
                    &format!("{endpoint}/checkAccessSynapseRbac"),
                    role_grant::API_VERSION,
                    Some(&check),
                )
                .await?;
            let allowed = r
                .body
                .pointer("/accessDecisions/0/accessDecision")
                .and_then(Value::as_str)
                == Some("Allowed");
            if allowed {
                break;
            }
            if started.elapsed() >= shared.options.propagation_timeout {
                return Err(CloudError::Unexpected {
                    path: change.address.to_string(),
                    message: format!(
                        "the role assignment was written but did not take effect within {}s (Synapse RBAC propagation); re-run apply later",
                        shared.options.propagation_timeout.as_secs()
                    ),
                });
            }
            shared.emit(Event::Waiting {
                address: change.address.clone(),
                message: format!(
                    "waiting for the Synapse role to take effect ({}s so far)",
                    started.elapsed().as_secs()
                ),
            });
            tokio::time::sleep(shared.gate_wait(started)).await;
        }
    }
    Ok(aid)
}
