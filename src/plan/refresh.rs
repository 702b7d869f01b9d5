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

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::addr::{ArmId, ResourceKind};
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
        self.resources.insert(id, body);
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

/// How refresh reports a resource it waits for.
pub type OnWait<'a> = &'a (dyn Fn(&ArmId, &str) + Sync);

/// Settings of a refresh.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Requests in flight at once.
    pub parallelism: usize,
    /// The longest wait for resources that are still being created, updated or deleted.
    pub settle_timeout: Duration,
}

/// Reads everything the spec and state name.
pub async fn refresh(
    client: Arc<Client>,
    spec: &LoadedSpec,
    state: &State,
    options: Options,
    on_wait: OnWait<'_>,
) -> Result<Observed, Vec<CloudError>> {
    let w = wanted(spec, state);
    let limit = Arc::new(Semaphore::new(options.parallelism.max(1)));
    let mut observed = Observed::default();
    let mut errors = Vec::new();

    // Phase 1: top-level resources (and the parents of every child).
    let mut set = JoinSet::new();
    for (kind, id) in &w.top {
        let (client, limit, kind, id) = (client.clone(), limit.clone(), *kind, id.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let found = provider::of(kind).read(&client, &id, None).await;
            (kind, id, found)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((kind, id, Ok(Some(body)))) => observed.insert(kind, id, body),
            Ok((_, _, Ok(None))) => {}
            Ok((_, _, Err(e))) => errors.push(e),
            Err(e) => errors.push(joined_error(&e)),
        }
    }

    // Phase 2: children, one list per parent that exists.
    let mut set = JoinSet::new();
    for (kind, parent) in &w.children {
        let Some(parent_body) = observed.get(parent).cloned() else {
            continue;
        };
        let (client, limit, kind, parent) = (client.clone(), limit.clone(), *kind, parent.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let items = provider::of(kind)
                .list(&client, &parent, &parent_body)
                .await;
            (kind, items)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((kind, Ok(items))) => {
                for (id, body) in items {
                    observed.insert(kind, id, body);
                }
            }
            Ok((_, Err(e))) => errors.push(e),
            Err(e) => errors.push(joined_error(&e)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    settle(&client, &mut observed, &w, options, on_wait)
        .await
        .map_err(|e| vec![e])?;
    Ok(observed)
}

/// Reads again, with growing pauses, every named resource Azure reports as
/// still running, until each has settled (or is gone) or the time is up.
async fn settle(
    client: &Client,
    observed: &mut Observed,
    w: &Wanted,
    options: Options,
    on_wait: OnWait<'_>,
) -> Result<(), CloudError> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        let running: Vec<(ArmId, ResourceKind, String)> = w
            .named
            .iter()
            .filter_map(
                |(id, kind)| match provider::of(*kind).status(observed.get(id)?) {
                    Status::Running(s) => Some((id.clone(), *kind, s)),
                    _ => None,
                },
            )
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        if started.elapsed() >= options.settle_timeout {
            let (id, _, s) = &running[0];
            return Err(CloudError::OperationTimeout {
                path: format!("{id} (still {s})"),
                waited: started.elapsed(),
            });
        }
        for (id, _, s) in &running {
            on_wait(id, s);
        }
        tokio::time::sleep(pause.min(options.settle_timeout.saturating_sub(started.elapsed())))
            .await;
        pause = (pause * 2).min(Duration::from_secs(15));
        for (id, kind, _) in running {
            let parent = id.parent().and_then(|p| observed.get(&p).cloned());
            match provider::of(kind)
                .read(client, &id, parent.as_ref())
                .await?
            {
                Some(body) => observed.insert(kind, id, body),
                None => {
                    observed.resources.remove(&id);
                }
            }
        }
    }
}

fn joined_error(e: &tokio::task::JoinError) -> CloudError {
    CloudError::Unexpected {
        path: String::new(),
        message: e.to_string(),
    }
}

/// Reads the caller's permissions on resources (preflight), concurrently.
pub async fn read_permissions(
    client: Arc<Client>,
    ids: &[ArmId],
    observed: &mut Observed,
) -> Result<(), CloudError> {
    let mut set = JoinSet::new();
    for id in ids {
        let (client, id) = (client.clone(), id.clone());
        set.spawn(async move {
            let items = client
                .list(
                    &format!("{id}/providers/Microsoft.Authorization/permissions"),
                    PERMISSIONS_API_VERSION,
                )
                .await;
            (id, items)
        });
    }
    while let Some(joined) = set.join_next().await {
        let (id, items) = joined.map_err(|e| joined_error(&e))?;
        observed.permissions.insert(id, items?);
    }
    Ok(())
}
