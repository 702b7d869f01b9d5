//! The typed spec: what a `synlink.yaml` holds once variables and `for_each`
//! are expanded. These types are also the source of `schemas/spec.schema.json`,
//! so their doc comments are what editors show.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A synlink spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "synlink spec")]
pub struct Spec {
    /// The spec format version. Only `1` exists.
    pub version: u32,
    /// Where the resources live: `azure` (the default), `local` (the embedded
    /// emulator) or `{ arm_endpoint: URL }`.
    #[serde(default)]
    pub cloud: Cloud,
    /// Values inherited by every resource that does not set its own.
    #[serde(default)]
    pub defaults: Defaults,
    /// Where the state is kept: without this section, in `.synlink/state.json`
    /// beside the spec (or `--state PATH`); `{ azure_blob: {...} }` for a state
    /// a team and CI share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StateSettings>,
    /// Variables and their default values, used as `${name}`. Override them with
    /// `--var name=VALUE`, `--var-file FILE` or `SYNLINK_VAR_name`.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub variables: IndexMap<String, serde_json::Value>,
    /// Azure Machine Learning workspaces, by logical key.
    #[serde(default)]
    pub ml_workspaces: IndexMap<String, MlWorkspace>,
    /// Synapse workspaces, by logical key.
    #[serde(default)]
    pub synapse_workspaces: IndexMap<String, SynapseWorkspace>,
    /// Synapse Spark pools, by logical key.
    #[serde(default)]
    pub spark_pools: IndexMap<String, SparkPool>,
    /// AML linked services to Synapse workspaces (the legacy path), by logical key.
    #[serde(default)]
    pub links: IndexMap<String, Link>,
    /// Synapse data-plane role assignments (Synapse RBAC, not Azure RBAC).
    #[serde(default)]
    pub role_grants: IndexMap<String, RoleGrant>,
    /// Spark pools attached to AML workspaces as `SynapseSpark` compute.
    #[serde(default)]
    pub attachments: IndexMap<String, Attachment>,
    /// Addresses renamed since the state recorded them: the plan moves each
    /// resource to its new address instead of destroying and creating it.
    /// A move of the same Azure resource is found without an entry; these
    /// cover the rest, with `*` patterns.
    #[serde(default)]
    pub moved: Vec<Moved>,
    /// Addresses whose blocks were removed on purpose: forgotten without
    /// touching Azure (`destroy: false`), or deleted (`destroy: true`).
    #[serde(default)]
    pub removed: Vec<Removed>,
}

/// A `moved:` entry: the state's `from` address becomes `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Moved {
    /// The address the state records (`links.fraud`), or a pattern where `*`
    /// matches any text (`links.team-*`).
    pub from: String,
    /// The address in the spec (`links.team-fraud`); `{1}`, `{2}`, … stand
    /// for what each `*` of `from` matched (`links.{1}`).
    pub to: String,
}

/// A `removed:` entry: an address (or pattern) the state records and the spec
/// no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Removed {
    /// The address the state records, or a pattern where `*` matches any text.
    pub from: String,
    /// `false`: forget it, leaving it untouched in Azure; `true`: delete it
    /// (unregister, revoke, detach), as for any block removed from the spec.
    pub destroy: bool,
}

/// Which cloud the spec targets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Cloud {
    /// `azure` or `local`.
    Named(CloudName),
    /// Any ARM-compatible endpoint, such as a standalone `synlink emulator`.
    Endpoint(CloudEndpoint),
    /// Not set: Azure's public cloud.
    #[default]
    #[serde(skip)]
    Default,
}

/// The named clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloudName {
    /// Azure's public cloud (`https://management.azure.com`).
    Azure,
    /// The embedded local emulator, with its data under `.synlink/local-cloud/`.
    Local,
}

/// An explicit ARM endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudEndpoint {
    /// The ARM base URL, e.g. `http://127.0.0.1:8443`.
    pub arm_endpoint: String,
}

/// Where the state is kept, when not in the local file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// In an Azure Storage blob: locked by a 60 s lease renewed while a run
    /// holds it, written with the lease and `If-Match`, a snapshot before each
    /// run's first write. Authorised by `SYNLINK_STATE_SAS` (a SAS, never
    /// printed) or by the credential chain (audience `https://storage.azure.com/`).
    pub azure_blob: AzureBlobState,
}

/// The blob that holds the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AzureBlobState {
    /// The blob service endpoint, e.g. `https://ACCOUNT.blob.core.windows.net`
    /// (or an Azurite URL, served over https). No query: a SAS goes in
    /// `SYNLINK_STATE_SAS`.
    pub account_url: String,
    /// The container (3–63 lower-case letters, digits and single hyphens); it must exist.
    pub container: String,
    /// The blob name, `/` allowed, variables too (`${environment}/teams.json`).
    pub key: String,
}

/// Values inherited by resources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Subscription id (a GUID).
    pub subscription: Option<String>,
    /// Resource group name.
    pub resource_group: Option<String>,
    /// Azure region, e.g. `westeurope`.
    pub location: Option<String>,
    /// Tags added to every resource that has tags (a resource's own tags win).
    #[serde(default)]
    pub tags: IndexMap<String, String>,
}

/// What protects a resource from change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lifecycle {
    /// A plan that would delete (or replace) this resource fails instead.
    #[serde(default)]
    pub prevent_destroy: bool,
    /// Properties whose drift is ignored, by field path (e.g. `tags`, `autoscale.max`).
    #[serde(default)]
    pub ignore_changes: Vec<String>,
}

/// A managed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// A system-assigned identity, created with the resource.
    SystemAssigned,
    /// User-assigned identities, by ARM id.
    UserAssigned(Vec<String>),
    /// No identity.
    None,
}

/// An Azure Machine Learning workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MlWorkspace {
    /// Expands this entry once per list item or map entry (`{each}`, `{each.key}`, `{each.value}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The Azure name (3–33 characters: letters, digits, `-`, `_`); defaults to the key.
    pub name: Option<String>,
    /// Subscription id; defaults to `defaults.subscription`.
    pub subscription: Option<String>,
    /// Resource group; defaults to `defaults.resource_group`.
    pub resource_group: Option<String>,
    /// Region; defaults to `defaults.location`.
    pub location: Option<String>,
    /// Read only: the workspace must exist and is never changed or deleted.
    #[serde(default)]
    pub existing: bool,
    /// Display name.
    pub friendly_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// ARM id of the storage account (required to create; immutable).
    pub storage_account: Option<String>,
    /// ARM id of the key vault (required to create; immutable).
    pub key_vault: Option<String>,
    /// ARM id of the Application Insights component (required to create; immutable).
    pub application_insights: Option<String>,
    /// ARM id of a container registry (optional; immutable).
    pub container_registry: Option<String>,
    /// The workspace identity (default `system_assigned`).
    pub identity: Option<Identity>,
    /// SKU name (default `Basic`).
    pub sku: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// A Synapse Analytics workspace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SynapseWorkspace {
    /// Expands this entry once per list item or map entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The Azure name (1–50: lowercase letters, digits, `-`; globally unique); defaults to the key.
    pub name: Option<String>,
    /// Subscription id; defaults to `defaults.subscription`.
    pub subscription: Option<String>,
    /// Resource group; defaults to `defaults.resource_group`.
    pub resource_group: Option<String>,
    /// Region; defaults to `defaults.location`.
    pub location: Option<String>,
    /// Read only: the workspace must exist and is never changed or deleted.
    #[serde(default)]
    pub existing: bool,
    /// The default ADLS Gen2 storage (required to create; `account_url` is create-only).
    pub data_lake: Option<DataLake>,
    /// SQL administrator login (required to create).
    pub sql_admin_login: Option<String>,
    /// Name of an environment variable holding the SQL administrator password.
    /// The password itself never appears in a spec, plan or state.
    pub sql_admin_password_env: Option<String>,
    /// Name of the managed resource group (≤ 90 characters; create-only).
    pub managed_resource_group: Option<String>,
    /// Whether the workspace has a managed virtual network (create-only).
    #[serde(default)]
    pub managed_virtual_network: bool,
    /// `Enabled` (default) or `Disabled`.
    pub public_network_access: Option<String>,
    /// The workspace identity (default `system_assigned`).
    pub identity: Option<Identity>,
    /// Tags.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// A Synapse workspace's default data lake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataLake {
    /// The DFS endpoint of the storage account, e.g. `https://acct.dfs.core.windows.net`.
    pub account_url: String,
    /// The filesystem (container) name.
    pub filesystem: String,
    /// ARM id of the storage account (optional).
    pub resource_id: Option<String>,
}

/// A Synapse Spark pool (`bigDataPools`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SparkPool {
    /// Expands this entry once per list item or map entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The Azure name (1–15 letters and digits, starting with a letter); defaults to the key.
    pub name: Option<String>,
    /// The key of the Synapse workspace the pool lives in.
    pub synapse_workspace: String,
    /// Region; defaults to the workspace's.
    pub location: Option<String>,
    /// Read only: the pool must exist and is never changed or deleted.
    #[serde(default)]
    pub existing: bool,
    /// `Small`, `Medium`, `Large`, `XLarge`, `XXLarge` or `XXXLarge` (required to create).
    pub node_size: Option<String>,
    /// `MemoryOptimized` (default), `HardwareAcceleratedGPU` or `HardwareAcceleratedFPGA`.
    pub node_size_family: Option<String>,
    /// Spark runtime version, e.g. `"3.4"` (required to create).
    pub spark_version: Option<String>,
    /// A fixed number of nodes (3–200); exactly one of `node_count` and `autoscale`.
    pub node_count: Option<i64>,
    /// Autoscale bounds (3–200 nodes); exactly one of `node_count` and `autoscale`.
    pub autoscale: Option<Autoscale>,
    /// Minutes of idleness before the pool pauses (5–10080); unset: never pauses.
    pub auto_pause_minutes: Option<i64>,
    /// Tags.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// Autoscale bounds of a Spark pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Autoscale {
    /// The fewest nodes (≥ 3).
    pub min: i64,
    /// The most nodes (≤ 200).
    pub max: i64,
}

/// An AML linked service to a Synapse workspace. Azure no longer accepts new
/// links for new Synapse workspaces; prefer an attachment with its own identity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Expands this entry once per list item or map entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The link's name inside the AML workspace (3–33 characters); defaults to the key.
    pub name: Option<String>,
    /// The key of the AML workspace.
    pub ml_workspace: String,
    /// The key of the Synapse workspace.
    pub synapse_workspace: String,
    /// Read only: the link must exist and is never changed or deleted.
    #[serde(default)]
    pub existing: bool,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// A Synapse RBAC role assignment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleGrant {
    /// Expands this entry once per list item or map entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The key of the Synapse workspace whose RBAC holds the grant.
    pub synapse_workspace: String,
    /// A Synapse built-in role by API name (`Apache Spark Administrator`), Studio
    /// name (`Synapse Apache Spark Administrator`) or id.
    pub role: String,
    /// Who receives the role.
    pub principal: Principal,
    /// Where the role applies: the workspace (default) or one Spark pool.
    pub scope: Option<GrantScope>,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// The receiver of a role grant: exactly one of `link`, `attachment` or `object_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    /// The key of a link: its managed identity.
    pub link: Option<String>,
    /// The key of an attachment with a system-assigned identity.
    pub attachment: Option<String>,
    /// An Entra object id (a GUID); needs `type`.
    pub object_id: Option<String>,
    /// `User`, `Group` or `ServicePrincipal` (with `object_id`).
    #[serde(rename = "type")]
    pub principal_type: Option<String>,
}

/// The scope of a role grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantScope {
    /// The whole workspace.
    Workspace,
    /// One Spark pool, by key.
    SparkPool(String),
}

/// A Spark pool attached to an AML workspace as compute.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// Expands this entry once per list item or map entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<ForEach>")]
    pub for_each: Option<serde_json::Value>,
    /// The compute name inside the AML workspace (2–16: letters, digits, `-`); defaults to the key.
    pub name: Option<String>,
    /// The key of the AML workspace.
    pub ml_workspace: String,
    /// The key of the Spark pool.
    pub spark_pool: String,
    /// The compute's own identity: `system_assigned`, `{ user_assigned: [ids] }` or `none` (default).
    pub identity: Option<Identity>,
    /// Description of the compute.
    pub description: Option<String>,
    /// Read only: the compute must exist and is never changed or detached.
    #[serde(default)]
    pub existing: bool,
    /// Tags.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// Addresses this resource must wait for, beyond its references.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Protection against destructive changes.
    #[serde(default)]
    pub lifecycle: Lifecycle,
}

/// The values a `for_each` iterates: a list (`{each}`), a map (`{each.key}`,
/// `{each.value}`) or a `${variable}` holding either.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum ForEach {
    /// One resource per item.
    List(Vec<serde_json::Value>),
    /// One resource per entry.
    Map(IndexMap<String, serde_json::Value>),
    /// A `${variable}` reference.
    Variable(String),
}

impl<'de> Deserialize<'de> for Cloud {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cloud, D::Error> {
        struct CloudVisitor;
        impl<'de> serde::de::Visitor<'de> for CloudVisitor {
            type Value = Cloud;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`azure`, `local` or `{ arm_endpoint: URL }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Cloud, E> {
                match v {
                    "azure" => Ok(Cloud::Named(CloudName::Azure)),
                    "local" => Ok(Cloud::Named(CloudName::Local)),
                    other => Err(E::unknown_variant(other, &["azure", "local"])),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Cloud, A::Error> {
                CloudEndpoint::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Cloud::Endpoint)
            }
        }
        d.deserialize_any(CloudVisitor)
    }
}

/// The JSON Schema of a spec file, as checked in at `schemas/spec.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Spec);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
