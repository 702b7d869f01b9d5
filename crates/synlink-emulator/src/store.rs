//! `Store`: everything the emulated cloud holds — subscriptions, resources (by folded,
//! lower-case id, keeping the casing first used), principals, ARM and Synapse role
//! assignments, and long-running operations. It is plain data (serialised as is by
//! persist.rs) with the lookups every route needs (by id, under a prefix, by Synapse
//! workspace name) and subtree removal. What the data means is elsewhere: RBAC in rbac.rs,
//! finishing operations in lro.rs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::operation::Operation;
use crate::principal::Principal;

/// The resource types the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Microsoft.Resources/resourceGroups.
    ResourceGroup,
    /// Microsoft.MachineLearningServices/workspaces.
    MlWorkspace,
    /// Microsoft.MachineLearningServices/workspaces/linkedServices.
    LinkedService,
    /// Microsoft.MachineLearningServices/workspaces/computes.
    Compute,
    /// Microsoft.Synapse/workspaces.
    SynapseWorkspace,
    /// Microsoft.Synapse/workspaces/bigDataPools.
    BigDataPool,
}

impl Kind {
    /// The ARM type name.
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::ResourceGroup => "Microsoft.Resources/resourceGroups",
            Kind::MlWorkspace => "Microsoft.MachineLearningServices/workspaces",
            Kind::LinkedService => "Microsoft.MachineLearningServices/workspaces/linkedServices",
            Kind::Compute => "Microsoft.MachineLearningServices/workspaces/computes",
            Kind::SynapseWorkspace => "Microsoft.Synapse/workspaces",
            Kind::BigDataPool => "Microsoft.Synapse/workspaces/bigDataPools",
        }
    }
}

/// One stored resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    /// The id in the casing first used.
    pub id: String,
    /// Its type.
    pub kind: Kind,
    /// The body GET answers.
    pub body: Value,
}

/// An Azure RBAC role assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmAssignment {
    /// Full id (`{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`).
    pub id: String,
    /// The GUID name.
    pub name: String,
    /// The scope in the casing first used.
    pub scope: String,
    /// GUID of the role definition.
    pub role_guid: String,
    /// Object id of the assignee.
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal`, `ForeignGroup`.
    pub principal_type: String,
    /// Optional description.
    pub description: Option<String>,
    /// Optional ABAC condition.
    pub condition: Option<String>,
    /// Optional condition version.
    pub condition_version: Option<String>,
    /// Creation instant (epoch ms).
    pub created_ms: u64,
    /// Object id of the creator.
    pub created_by: String,
}

/// A Synapse RBAC role assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SynapseAssignment {
    /// The client-chosen id.
    pub id: String,
    /// Lower-case name of the Synapse workspace.
    pub workspace: String,
    /// GUID of the Synapse role.
    pub role_id: String,
    /// Object id of the assignee.
    pub principal_id: String,
    /// `workspaces/{ws}` or a narrower scope.
    pub scope: String,
    /// Principal type as sent (may be absent).
    pub principal_type: Option<String>,
    /// Creation instant (epoch ms): checkAccess sees it after the propagation delay.
    pub created_ms: u64,
    /// Creation order, for stable paging.
    pub seq: u64,
}

/// The emulated cloud's whole state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    /// The directory's tenant id.
    pub tenant_id: String,
    /// Object id of the bootstrap principal (Owner of every subscription).
    pub bootstrap: String,
    /// Known subscriptions: folded id → id as first used.
    pub subscriptions: BTreeMap<String, String>,
    /// Resources by folded id.
    pub resources: BTreeMap<String, Resource>,
    /// Principals by folded object id.
    pub principals: BTreeMap<String, Principal>,
    /// ARM role assignments by folded id.
    pub arm_assignments: BTreeMap<String, ArmAssignment>,
    /// Synapse role assignments by `{workspace}/{folded id}`.
    pub synapse_assignments: BTreeMap<String, SynapseAssignment>,
    /// Synapse role assignment ids once used (ids are not reusable).
    pub synapse_tombstones: BTreeSet<String>,
    /// Long-running operations by id.
    pub operations: BTreeMap<String, Operation>,
    /// No operation falls due or expires before this time (ms): requests before it
    /// skip the scan of `operations`. Not saved; 0 after a load (scan once).
    #[serde(skip)]
    pub settle_after_ms: u64,
    /// Counter for `SynapseAssignment::seq`.
    pub next_seq: u64,
}

/// Case-folds an id or name for lookups.
pub fn fold(text: &str) -> String {
    text.to_ascii_lowercase()
}

impl Store {
    /// A new empty cloud with these identities.
    pub fn new(tenant_id: String, bootstrap: String) -> Store {
        let mut store = Store {
            tenant_id,
            bootstrap: bootstrap.clone(),
            ..Store::default()
        };
        store.principals.insert(
            fold(&bootstrap),
            Principal {
                object_id: bootstrap,
                display_name: "bootstrap".to_owned(),
                principal_type: "User".to_owned(),
                created_ms: 0,
            },
        );
        store
    }

    /// A resource by id (any casing).
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&fold(id))
    }

    /// A resource by id, mutable.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(&fold(id))
    }

    /// Stores a resource under its id.
    pub fn put(&mut self, resource: Resource) {
        self.resources.insert(fold(&resource.id), resource);
    }

    /// Resources of a kind directly or indirectly under `prefix_id` (any casing).
    pub fn under(&self, prefix_id: &str, kind: Kind) -> Vec<&Resource> {
        let prefix = format!("{}/", fold(prefix_id));
        // Keys are folded ids, so what lies under a prefix is one range of the map.
        self.resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, r)| r.kind == kind)
            .map(|(_, r)| r)
            .collect()
    }

    /// A Synapse workspace by (globally unique) name.
    pub fn synapse_workspace_by_name(&self, name: &str) -> Option<&Resource> {
        self.resources.values().find(|r| {
            r.kind == Kind::SynapseWorkspace
                && r.id
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Removes a resource, everything under it, the role assignments scoped to it, and
    /// the Synapse RBAC of the Synapse workspaces removed.
    pub fn remove_tree(&mut self, id: &str) {
        let key = fold(id);
        let prefix = format!("{key}/");
        let mut doomed: Vec<String> = self
            .resources
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        if self.resources.contains_key(&key) {
            doomed.push(key.clone());
        }
        for k in doomed {
            if let Some(r) = self.resources.remove(&k) {
                if r.kind == Kind::SynapseWorkspace {
                    if let Some(name) = r.body.get("name").and_then(Value::as_str) {
                        let ws = format!("{}/", fold(name));
                        self.synapse_assignments.retain(|k, _| !k.starts_with(&ws));
                    }
                }
            }
        }
        self.arm_assignments.retain(|_, a| {
            let scope = fold(&a.scope);
            scope != key && !scope.starts_with(&prefix)
        });
    }

    /// Points the URLs that name the emulator itself (`connectivityEndpoints.dev`,
    /// `discoveryUrl`) at `base_url`: a restart on another port keeps them right.
    pub fn rebase(&mut self, base_url: &str) {
        for r in self.resources.values_mut() {
            let name = r.id.rsplit('/').next().unwrap_or_default().to_owned();
            let (pointer, url) = match r.kind {
                Kind::SynapseWorkspace => (
                    "/properties/connectivityEndpoints/dev",
                    format!("{base_url}/_synapse/{name}"),
                ),
                Kind::MlWorkspace => ("/properties/discoveryUrl", format!("{base_url}/discovery")),
                _ => continue,
            };
            if let Some(slot) = r.body.pointer_mut(pointer) {
                *slot = Value::String(url);
            }
        }
    }
}

/// Sets `properties.provisioningState` of a body.
pub fn set_state(body: &mut Value, state: &str) {
    if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("provisioningState".to_owned(), json!(state));
    }
}

/// `properties.provisioningState` of a body ("Succeeded" when absent).
pub fn state_of(body: &Value) -> &str {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded")
}
