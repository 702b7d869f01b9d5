//! Providers: everything synlink knows about one kind of resource lives in one
//! file here, behind the [`Provider`] trait, like a Terraform provider's
//! resource type: the ARM id an address owns (derived from its settings), the
//! desired properties and the exact request that makes Azure match them, the
//! properties read back from Azure (normalised), the paths that force a
//! replacement, how to read it (its own GET, or a list call under its parent),
//! how to create, update and delete it (requests and long-running operations),
//! its delete rank, whether it mints an identity, and how to tell a finished
//! resource from one that failed or is still running.
//!
//! The engine above (diff, refresh, apply, import, preflight, render) loops
//! over this trait and never matches on the kind; [`of`] is the one place that
//! maps a kind to its provider. Providers know the spec and the cloud client;
//! they know nothing of plans or the state, so what they produce is plain data
//! ([`Desired`], [`Request`], [`Status`], [`Need`]).

pub mod attachment;
pub mod discover;
pub mod link;
pub mod ml_workspace;
pub mod role_grant;
pub mod spark_pool;
pub mod synapse_workspace;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::addr::{Address, ArmId, Properties, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::spec::model::Identity;
use crate::spec::{LoadedSpec, Resource};

/// Outputs of a resource (`principal_id`, `tenant_id`), as Azure reports them.
pub type Outputs = IndexMap<String, Value>;

/// Where a value that is known only at apply time comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fill {
    /// An output of another change of the same plan (a new link's principal id).
    Output {
        /// The address whose output it is.
        #[schemars(with = "String")]
        address: Address,
        /// The output's name, e.g. `principal_id`.
        key: String,
    },
    /// An environment variable read when the request is sent (a password: it is
    /// never written into a plan or the state).
    Env {
        /// The variable's name.
        var: String,
    },
}

impl fmt::Display for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fill::Output { address, key } => write!(f, "{address}.{key}"),
            Fill::Env { var } => write!(f, "env {var}"),
        }
    }
}

/// The write apply sends for a create, an update or a replace: everything it
/// needs, decided at plan time, so that a saved plan is applied exactly as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `PUT` or `PATCH`.
    pub method: String,
    /// The api-version of the call.
    pub api_version: String,
    /// The JSON body, without the values of `fill`.
    pub body: Value,
    /// JSON pointers into `body` whose values are filled at apply time.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub fill: IndexMap<String, Fill>,
}

impl Request {
    /// A request without fills.
    pub fn new(method: &str, api_version: &str, body: Value) -> Request {
        Request {
            method: method.to_owned(),
            api_version: api_version.to_owned(),
            body,
            fill: IndexMap::new(),
        }
    }

    /// The environment variables the request reads (secrets).
    pub fn env_vars(&self) -> impl Iterator<Item = &str> {
        self.fill.values().filter_map(|f| match f {
            Fill::Env { var } => Some(var.as_str()),
            Fill::Output { .. } => None,
        })
    }
}

/// What a provider derives from one spec resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The properties Azure should hold, normalised as `observed` normalises.
    pub properties: Properties,
    /// Paths of `properties` known only after apply, with where each comes from
    /// (`None`: the resource's own output, such as a new link's principal id).
    pub unknown: IndexMap<String, Option<Fill>>,
}

/// Where a resource stands, by Azure's provisioning state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Finished and usable (`Succeeded`, or no provisioning state at all).
    Ready,
    /// Finished and broken (`Failed`, `Canceled`): to be repaired.
    Failed(String),
    /// Still being created, updated or deleted: to be waited for.
    Running(String),
}

/// How a resource that ended `Failed` is repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The same PUT again (ARM retries the provisioning).
    Update,
    /// Delete (detach) and create again.
    Replace,
}

/// A right the caller must hold before a change is written (preflight):
/// Owner (ARM RBAC) on `resource`, or else, when `or_child` is set, an existing
/// child of it of that kind with that key (a role assignment to the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Need {
    /// The resource the right is on.
    pub resource: ArmId,
    /// What also grants the right: a child's kind and key.
    pub or_child: Option<(ResourceKind, String)>,
    /// What the caller lacks, after "the caller"; `{name}` names the resource.
    pub lacking: &'static str,
    /// What to do about it; `{id}` is the resource's id.
    pub hint: &'static str,
}

/// How people read a kind's creation and deletion: "detach", "detached",
/// "attached" for an attachment; "delete", "destroyed", "created" by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// The one word of a delete in a table (`detach`).
    pub delete: &'static str,
    /// A delete under way (`detaching`).
    pub deleting: &'static str,
    /// A delete done, in progress lines (`detached`).
    pub deleted: &'static str,
    /// A delete as a plan announces it ("will be `detached`").
    pub destroyed: &'static str,
    /// The past participle of a create (`attached`).
    pub created: &'static str,
}

/// What a finished write reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The resource's id (for a role assignment, the one Azure now holds).
    pub id: ArmId,
    /// Its outputs (principal ids).
    pub outputs: Outputs,
}

/// An output of another resource, as the plan knows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Known {
    /// Known now.
    Now(Value),
    /// Known only after apply: the resource is created or replaced by this plan.
    AfterApply,
    /// Not available: the resource does not report it.
    Absent,
}

/// Reports what a change waits for: its address and a line.
pub type OnWaiting = Box<dyn Fn(&Address, String) + Send + Sync>;

/// What the desired state of a resource may look up about the others.
pub trait Lookup {
    /// The ARM id of the resource at `address`, as its provider derives it.
    fn id(&self, address: &Address) -> Option<ArmId>;
    /// What Azure holds for the resource at `address`, when it exists.
    fn body(&self, address: &Address) -> Option<&Value>;
    /// An output of the resource at `address`.
    fn output(&self, address: &Address, key: &str) -> Known;
}

/// What a provider may use while applying: the client, caches shared by the
/// run's changes, and a way to say what it waits for.
pub struct ApplyContext {
    /// The one client.
    pub client: Arc<Client>,
    /// The longest wait for a new identity or Synapse role to take effect.
    pub propagation_timeout: Duration,
    /// The pause between two looks through the propagation gate.
    pub propagation_poll: Duration,
    /// Synapse data-plane endpoints by workspace id, read once per run.
    endpoints: tokio::sync::Mutex<HashMap<ArmId, String>>,
    /// Resource groups known to exist.
    groups: tokio::sync::Mutex<HashSet<ArmId>>,
    /// Called with a line when a change waits for something outside synlink.
    waiting: OnWaiting,
}

impl ApplyContext {
    /// A context for one run.
    pub fn new(
        client: Arc<Client>,
        propagation_timeout: Duration,
        propagation_poll: Duration,
        waiting: OnWaiting,
    ) -> ApplyContext {
        ApplyContext {
            client,
            propagation_timeout,
            propagation_poll,
            endpoints: tokio::sync::Mutex::new(HashMap::new()),
            groups: tokio::sync::Mutex::new(HashSet::new()),
            waiting,
        }
    }

    /// Reports a wait.
    pub fn waiting(&self, address: &Address, message: String) {
        (self.waiting)(address, message);
    }

    /// How long to pause before the next look through a propagation gate
    /// started at `started`: soon at first (most grants take effect at once),
    /// then half the time waited so far, at most the poll interval, never past
    /// the timeout.
    pub fn gate_wait(&self, started: std::time::Instant) -> Duration {
        let left = self.propagation_timeout.saturating_sub(started.elapsed());
        (started.elapsed() / 2)
            .clamp(Duration::from_millis(250), self.propagation_poll)
            .min(left)
            .max(Duration::from_millis(10))
    }

    /// The Synapse data-plane endpoint of a workspace, read once: concurrent
    /// grants wait for the first read instead of each sending their own.
    pub async fn endpoint(&self, workspace: &ArmId) -> Result<String, CloudError> {
        let mut endpoints = self.endpoints.lock().await;
        if let Some(e) = endpoints.get(workspace) {
            return Ok(e.clone());
        }
        let body = self
            .client
            .get(workspace.as_str(), synapse_workspace::API_VERSION)
            .await?
            .ok_or_else(|| CloudError::Unexpected {
                path: workspace.to_string(),
                message: "the Synapse workspace does not exist".into(),
            })?;
        let endpoint =
            synapse_workspace::dev_endpoint(&body).ok_or_else(|| CloudError::Unexpected {
                path: workspace.to_string(),
                message: "the Synapse workspace reports no connectivityEndpoints.dev".into(),
            })?;
        endpoints.insert(workspace.clone(), endpoint.clone());
        Ok(endpoint)
    }

    /// Creates the resource group a new workspace goes into, when missing.
    pub async fn ensure_group(&self, id: &ArmId, location: &Value) -> Result<(), CloudError> {
        const API: &str = "2021-04-01";
        let (Some(subscription), Some(group)) = (id.subscription(), id.resource_group()) else {
            return Ok(());
        };
        let group = ArmId::resource_group_id(subscription, group);
        let mut known = self.groups.lock().await;
        if known.contains(&group) {
            return Ok(());
        }
        if self.client.get(group.as_str(), API).await?.is_none() {
            self.client
                .put(
                    reqwest::Method::PUT,
                    group.as_str(),
                    API,
                    &json!({ "location": location }),
                )
                .await?;
        }
        known.insert(group);
        Ok(())
    }
}

/// Everything the engine needs to know about one kind of resource.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The kind.
    fn kind(&self) -> ResourceKind;

    /// The kind of the resource it lives under, when refresh reads it through
    /// its parent's list call (`None`: read with its own GET).
    fn parent_kind(&self) -> Option<ResourceKind> {
        None
    }

    /// The collection it lives in under its parent (`computes`, `bigDataPools`),
    /// or its resource type for a top-level kind.
    fn collection(&self) -> &'static str;

    /// The api-version of its requests.
    fn api_version(&self) -> &'static str;

    /// Whether a create first makes the resource group when it is missing
    /// (the top-level workspaces synlink creates).
    fn creates_group(&self) -> bool {
        false
    }

    /// The ARM id the resource's settings give it: by default its name in its
    /// collection under its parent. `None` when the client names it at
    /// creation (a Synapse role assignment): the plan then names it
    /// `{parent}/{collection}/{uuid}` and apply creates exactly that id.
    fn id(&self, r: &Resource, spec: &LoadedSpec) -> Option<ArmId> {
        Some(self.parent_id(r, spec)?.child(self.collection(), &r.name))
    }

    /// The id of the resource it lives under (for kinds with a parent).
    fn parent_id(&self, _r: &Resource, _spec: &LoadedSpec) -> Option<ArmId> {
        None
    }

    /// The properties Azure should hold for `r`.
    fn desired(&self, r: &Resource, spec: &LoadedSpec, lookup: &dyn Lookup) -> Desired;

    /// The request that creates (`create`) or updates the resource to `desired`.
    fn request(
        &self,
        r: &Resource,
        spec: &LoadedSpec,
        lookup: &dyn Lookup,
        desired: &Desired,
        create: bool,
    ) -> Request;

    /// Properties of a body read from Azure, normalised like `desired`'s
    /// (`desired` fills what Azure does not say).
    fn observed(&self, body: &Value, desired: Option<&Properties>) -> Properties;

    /// Outputs of a body read from Azure or returned by a write.
    fn outputs(&self, body: &Value) -> Outputs {
        identity_outputs(body)
    }

    /// A key other than the id that identifies an existing resource among its
    /// parent's children (a role assignment's scope, role and principal).
    fn key_of_body(&self, _body: &Value) -> Option<String> {
        None
    }

    /// The same key for desired properties (`None` while not all known).
    fn key_of_desired(&self, _desired: &Properties) -> Option<String> {
        None
    }

    /// Property paths that cannot change in place (`prefix.*` for a group).
    fn replace_paths(&self) -> &'static [&'static str];

    /// Whether a new resource gets a managed identity whose principal id is
    /// known only once it exists.
    fn mints_identity(&self, _r: &Resource) -> bool {
        false
    }

    /// Where the resource stands: finished, failed or still running.
    fn status(&self, body: &Value) -> Status {
        provisioning_status(body)
    }

    /// How a resource that ended `Failed` or `Canceled` is repaired.
    fn repair(&self) -> Repair {
        Repair::Update
    }

    /// Deletion order: lower ranks are deleted first (dependents first).
    fn delete_rank(&self) -> u8;

    /// The words people read for its creation and deletion.
    fn words(&self) -> Words {
        Words {
            delete: "delete",
            deleting: "deleting",
            deleted: "deleted",
            destroyed: "destroyed",
            created: "created",
        }
    }

    /// Writes under the same id returned here are serialised (Azure answers
    /// 409 to concurrent operations on one AML workspace).
    fn write_lock(&self, _id: &ArmId) -> Option<ArmId> {
        None
    }

    /// Rights `caller` (an object id, when known) needs to write (`request`)
    /// or delete (`None`) it.
    fn needs(&self, _id: &ArmId, _request: Option<&Request>, _caller: Option<&str>) -> Vec<Need> {
        Vec::new()
    }

    /// A plausible create request for `r` when it is a data source that does
    /// not exist (`--seed-existing` in the local cloud): its settings from the
    /// spec, and defaults where a data source leaves creation-only ones out.
    fn seed(&self, r: &Resource, spec: &LoadedSpec, lookup: &dyn Lookup) -> Request {
        let desired = self.desired(r, spec, lookup);
        self.request(r, spec, lookup, &desired, true)
    }

    /// Why Azure would refuse to create `r` as the spec describes it (message,
    /// hint): a plan that creates or replaces it fails with this instead.
    fn cannot_create(&self, _r: &Resource) -> Option<(String, String)> {
        None
    }

    /// A note for the reviewer when the resource is created (a deprecated
    /// path): what new ones have in common, and why it matters.
    fn creation_warning(&self) -> Option<(&'static str, &'static str)> {
        None
    }

    /// Describes a property value for people (a role id gets its name).
    fn describe(&self, _path: &str, _value: &Value) -> Option<String> {
        None
    }

    /// For a kind that lets an AML workspace use the Spark pools of a Synapse
    /// workspace (a link, an attachment): that (AML workspace, Synapse
    /// workspace) pair, from its id and properties. A plan never lets the
    /// delete of one take effect before the create of another that serves the
    /// same pair (make before break).
    fn serves(&self, _id: &ArmId, _properties: &Properties) -> Option<(ArmId, ArmId)> {
        None
    }

    /// Reads one resource by id (an ARM GET by default); `parent` is what
    /// Azure holds for its parent (kinds read through a data plane find their
    /// endpoint there).
    async fn read(
        &self,
        client: &Client,
        id: &ArmId,
        _parent: Option<&Value>,
    ) -> Result<Option<Value>, CloudError> {
        arm_get(client, id, self.api_version()).await
    }

    /// For discover: lists the resources of this top-level kind in a scope
    /// (a subscription's or a resource group's id), with one list call.
    async fn list_in(
        &self,
        _client: &Client,
        _scope: &ArmId,
    ) -> Result<Vec<(ArmId, Value)>, CloudError> {
        Ok(Vec::new())
    }

    /// For discover: the resource a body points at outside its parent (a
    /// link's Synapse workspace, an attachment's Spark pool).
    fn points_at(&self, _body: &Value) -> Option<ArmId> {
        None
    }

    /// For discover: the spec settings that describe `body`, an existing
    /// resource of this kind at `id`, with references by key through `keys`;
    /// `existing` asks for a data source (only what identifies it). `Err`
    /// says why it cannot be described (what it refers to is gone).
    fn spec_fields(
        &self,
        _id: &ArmId,
        _body: &Value,
        _keys: &dyn discover::Keys,
        _existing: bool,
    ) -> Result<discover::Fields, String> {
        Err("synlink does not describe this kind".into())
    }

    /// Lists the resources of this kind under a parent (kinds with a parent).
    async fn list(
        &self,
        client: &Client,
        parent_id: &ArmId,
        _parent: &Value,
    ) -> Result<Vec<(ArmId, Value)>, CloudError> {
        arm_list(
            client,
            parent_id,
            self.collection(),
            self.api_version(),
            |_| true,
        )
        .await
    }

    /// Sends a create or update (`request`, its fills done) to `id` and waits
    /// for it to finish; returns what the state records. By default one ARM
    /// PUT or PATCH and its long-running operation, after the resource group
    /// where the kind makes it.
    async fn write(
        &self,
        ctx: &ApplyContext,
        _address: &Address,
        id: &ArmId,
        request: &Request,
    ) -> Result<Applied, CloudError> {
        if self.creates_group() && request.method == "PUT" {
            ctx.ensure_group(id, &request.body["location"]).await?;
        }
        let body = ctx
            .client
            .put(
                method(request),
                id.as_str(),
                &request.api_version,
                &request.body,
            )
            .await?;
        Ok(Applied {
            id: id.clone(),
            outputs: self.outputs(&body),
        })
    }

    /// Deletes (detaches, unregisters, revokes) the resource; absent is fine.
    /// By default an ARM DELETE and its long-running operation.
    async fn delete(&self, ctx: &ApplyContext, id: &ArmId) -> Result<(), CloudError> {
        ctx.client.delete(id.as_str(), self.api_version()).await
    }
}

/// The provider of a kind: the one place that maps kinds to providers.
pub fn of(kind: ResourceKind) -> &'static dyn Provider {
    match kind {
        ResourceKind::MlWorkspace => &ml_workspace::MlWorkspaces,
        ResourceKind::SynapseWorkspace => &synapse_workspace::SynapseWorkspaces,
        ResourceKind::SparkPool => &spark_pool::SparkPools,
        ResourceKind::Link => &link::Links,
        ResourceKind::RoleGrant => &role_grant::RoleGrants,
        ResourceKind::Attachment => &attachment::Attachments,
    }
}

/// Every api-version synlink sends, with the published definition it was
/// checked against (Azure/azure-rest-api-specs), for operators whose policy
/// pins versions.
pub const API_VERSIONS: &[(&str, &str, &str)] = &[
    (
        "Microsoft.MachineLearningServices/workspaces",
        ml_workspace::API_VERSION,
        "specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2024-10-01/workspaceRP.json",
    ),
    (
        "Microsoft.MachineLearningServices/workspaces/linkedServices",
        link::API_VERSION,
        "specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/preview/2020-09-01-preview/machineLearningServices.json",
    ),
    (
        "Microsoft.MachineLearningServices/workspaces/computes",
        attachment::API_VERSION,
        "specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2023-04-01/machineLearningServices.json",
    ),
    (
        "Microsoft.Synapse/workspaces",
        synapse_workspace::API_VERSION,
        "specification/synapse/resource-manager/Microsoft.Synapse/stable/2021-06-01/workspace.json",
    ),
    (
        "Microsoft.Synapse/workspaces/bigDataPools",
        spark_pool::API_VERSION,
        "specification/synapse/resource-manager/Microsoft.Synapse/stable/2021-06-01/bigDataPool.json",
    ),
    (
        "Synapse data plane: roleAssignments, roleDefinitions, checkAccessSynapseRbac",
        role_grant::API_VERSION,
        "specification/synapse/data-plane/Microsoft.Synapse/stable/2020-12-01/roleAssignments.json, checkAccessSynapseRbac.json",
    ),
    (
        "Microsoft.Authorization/permissions",
        PERMISSIONS_API_VERSION,
        "specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-ProviderOperationsCalls.json",
    ),
    (
        "Microsoft.Resources/resourceGroups",
        "2021-04-01",
        "specification/resources/resource-manager/Microsoft.Resources/stable/2021-04-01/resources.json",
    ),
];

/// The api-version of `Microsoft.Authorization/permissions` (preflight).
pub const PERMISSIONS_API_VERSION: &str = "2022-04-01";

/// The state of a body by its `properties.provisioningState`.
pub fn provisioning_status(body: &Value) -> Status {
    match body
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
    {
        None => Status::Ready,
        Some(s) if s.eq_ignore_ascii_case("Succeeded") => Status::Ready,
        Some(s) if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled") => {
            Status::Failed(s.to_owned())
        }
        Some(s) => Status::Running(s.to_owned()),
    }
}

/// Regions come back as `westeurope` or `West Europe`; properties hold the short form.
pub fn fold_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// An id as properties hold it: folded, so that Azure's casing never shows as a change.
pub fn fold_id(id: &str) -> String {
    ArmId::new(id).folded()
}

/// Adds `tags.K` entries: the spec's default tags, then the resource's own.
pub fn put_tags(
    props: &mut Properties,
    defaults: &IndexMap<String, String>,
    own: &IndexMap<String, String>,
) {
    let mut tags: IndexMap<&str, &str> = defaults
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (k, v) in own {
        tags.insert(k, v);
    }
    for (k, v) in tags {
        props.insert(format!("tags.{k}"), json!(v));
    }
}

/// The `tags` object of a request body, from `tags.K` properties.
pub fn tags_body(props: &Properties) -> Value {
    Value::Object(
        props
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("tags.").map(|t| (t.to_owned(), v.clone())))
            .collect(),
    )
}

/// `tags.K` properties from a response.
pub fn read_tags(props: &mut Properties, body: &Value) {
    if let Some(tags) = body.get("tags").and_then(Value::as_object) {
        for (k, v) in tags {
            props.insert(format!("tags.{k}"), v.clone());
        }
    }
}

/// The identity type as properties hold it.
pub fn identity_type(identity: Option<&Identity>, default: &str) -> String {
    match identity {
        None => default.to_owned(),
        Some(Identity::SystemAssigned) => "SystemAssigned".into(),
        Some(Identity::UserAssigned(_)) => "UserAssigned".into(),
        Some(Identity::None) => "None".into(),
    }
}

/// The `identity` object of a request body.
pub fn identity_body(identity: Option<&Identity>, default: &str) -> Value {
    match identity {
        Some(Identity::UserAssigned(ids)) => {
            let map: serde_json::Map<String, Value> =
                ids.iter().map(|id| (id.clone(), json!({}))).collect();
            json!({ "type": "UserAssigned", "userAssignedIdentities": map })
        }
        other => json!({ "type": identity_type(other, default) }),
    }
}

/// The identity type read back (`None` when absent).
pub fn read_identity(body: &Value) -> String {
    body.pointer("/identity/type")
        .and_then(Value::as_str)
        .unwrap_or("None")
        .to_owned()
}

/// A string at a JSON pointer.
pub fn str_at<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer).and_then(Value::as_str)
}

/// Whether a property path is among `paths` (exact, or a `prefix.*` entry).
pub fn path_matches(path: &str, paths: &[&str]) -> bool {
    paths.iter().any(|p| match p.strip_suffix(".*") {
        Some(prefix) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => *p == path,
    })
}

/// Outputs read from a response: `principal_id` and `tenant_id` of its identity.
pub fn identity_outputs(body: &Value) -> Outputs {
    let mut out = IndexMap::new();
    for (key, pointer) in [
        ("principal_id", "/identity/principalId"),
        ("tenant_id", "/identity/tenantId"),
    ] {
        if let Some(v) = body.pointer(pointer).filter(|v| !v.is_null()) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    out
}

/// The ARM id of the resource a key of `kind` names in the spec.
pub fn id_of(spec: &LoadedSpec, kind: ResourceKind, key: &str) -> Option<ArmId> {
    let r = spec.get(kind, key)?;
    of(kind).id(r, spec)
}

/// Reads an ARM resource by id; `None` when absent.
pub async fn arm_get(
    client: &Client,
    id: &ArmId,
    api_version: &str,
) -> Result<Option<Value>, CloudError> {
    client.get(id.as_str(), api_version).await
}

/// Lists an ARM collection under a parent (`{parent}/{collection}`), keeping
/// what `keep` accepts and lies under that parent.
pub async fn arm_list(
    client: &Client,
    parent: &ArmId,
    collection: &str,
    api_version: &str,
    keep: impl Fn(&Value) -> bool + Send,
) -> Result<Vec<(ArmId, Value)>, CloudError> {
    let items = client
        .list(&format!("{parent}/{collection}"), api_version)
        .await?;
    Ok(items
        .into_iter()
        .filter(&keep)
        .filter_map(|item| {
            let id = ArmId::new(item.get("id").and_then(Value::as_str)?);
            // Keep only what is under the parent listed (defensive against odd ids).
            (id.parent().as_ref() == Some(parent)).then_some((id, item))
        })
        .collect())
}

/// The method of a request as reqwest wants it.
pub fn method(request: &Request) -> reqwest::Method {
    reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::PUT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{of, path_matches, provisioning_status, Fill, Status};
    use crate::addr::{Address, ResourceKind};

    #[test]
    fn provisioning_states_sort_into_ready_failed_and_running() {
        let with = |s: &str| json!({ "properties": { "provisioningState": s } });
        assert_eq!(provisioning_status(&json!({})), Status::Ready);
        assert_eq!(provisioning_status(&with("Succeeded")), Status::Ready);
        assert_eq!(
            provisioning_status(&with("Failed")),
            Status::Failed("Failed".into())
        );
        assert_eq!(
            provisioning_status(&with("Canceled")),
            Status::Failed("Canceled".into())
        );
        for running in ["Creating", "Updating", "Deleting", "Accepted"] {
            assert_eq!(
                provisioning_status(&with(running)),
                Status::Running(running.into())
            );
        }
    }

    #[test]
    fn every_kind_has_its_own_provider() {
        for kind in ResourceKind::ALL {
            assert_eq!(of(kind).kind(), kind);
        }
    }

    #[test]
    fn delete_ranks_put_dependents_first() {
        let rank = |k| of(k).delete_rank();
        assert!(rank(ResourceKind::RoleGrant) < rank(ResourceKind::Link));
        assert!(rank(ResourceKind::Attachment) < rank(ResourceKind::Link));
        assert!(rank(ResourceKind::Link) < rank(ResourceKind::SparkPool));
        assert!(rank(ResourceKind::SparkPool) < rank(ResourceKind::SynapseWorkspace));
        assert!(rank(ResourceKind::Attachment) < rank(ResourceKind::MlWorkspace));
    }

    #[test]
    fn replace_paths_match_exactly_or_by_prefix() {
        assert!(path_matches("tags.env", &["tags.*"]));
        assert!(!path_matches("tagsx", &["tags.*"]));
        assert!(path_matches("location", &["location"]));
        assert!(!path_matches("location.x", &["location"]));
    }

    #[test]
    fn fills_read_as_their_source() {
        let f = Fill::Output {
            address: Address::new(ResourceKind::Link, "a"),
            key: "principal_id".into(),
        };
        assert_eq!(f.to_string(), "links.a.principal_id");
        assert_eq!(Fill::Env { var: "PW".into() }.to_string(), "env PW");
        let json = serde_json::to_value(&f).expect("serialises");
        assert_eq!(
            json,
            json!({ "from": "output", "address": "links.a", "key": "principal_id" })
        );
    }
}
