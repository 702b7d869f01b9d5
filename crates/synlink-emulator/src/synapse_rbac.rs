//! Synapse RBAC semantics (azure-rest.md §8): the built-in Synapse role definitions with
//! their ids, assignable scope kinds and data actions; scope coverage
//! (`workspaces/{ws}` covers its pools); and the access decision of
//! `checkAccessSynapseRbac`, which only sees an assignment once the Synapse RBAC
//! propagation delay has passed. The HTTP side is `routes/synapse_data_plane.rs`.

use serde_json::{json, Value};

use crate::store::{fold, Store, SynapseAssignment};

/// Synapse Administrator.
pub const SYNAPSE_ADMINISTRATOR: &str = "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78";

/// The kinds of Synapse RBAC scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// `workspaces/{ws}`.
    Workspace,
    /// `…/bigDataPools/{pool}`.
    BigDataPools,
    /// `…/scopePools/{pool}`.
    ScopePools,
    /// `…/integrationRuntimes/{ir}`.
    IntegrationRuntimes,
    /// `…/linkedServices/{ls}`.
    LinkedServices,
    /// `…/credentials/{cred}`.
    Credentials,
}

impl ScopeKind {
    fn template(self) -> &'static str {
        match self {
            ScopeKind::Workspace => "workspaces/{workspaceName}",
            ScopeKind::BigDataPools => "workspaces/{workspaceName}/bigDataPools/{bigDataPoolName}",
            ScopeKind::ScopePools => "workspaces/{workspaceName}/scopePools/{scopePoolName}",
            ScopeKind::IntegrationRuntimes => {
                "workspaces/{workspaceName}/integrationRuntimes/{integrationRuntimeName}"
            }
            ScopeKind::LinkedServices => {
                "workspaces/{workspaceName}/linkedServices/{linkedServiceName}"
            }
            ScopeKind::Credentials => "workspaces/{workspaceName}/credentials/{credentialName}",
        }
    }

    fn from_segment(segment: &str) -> Option<ScopeKind> {
        Some(match fold(segment).as_str() {
            "bigdatapools" => ScopeKind::BigDataPools,
            "scopepools" => ScopeKind::ScopePools,
            "integrationruntimes" => ScopeKind::IntegrationRuntimes,
            "linkedservices" => ScopeKind::LinkedServices,
            "credentials" => ScopeKind::Credentials,
            _ => return None,
        })
    }
}

/// A built-in Synapse role.
pub struct SynapseRole {
    /// GUID.
    pub id: &'static str,
    /// API name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Where it may be assigned.
    pub scopes: &'static [ScopeKind],
    /// Data actions it grants (`*` at the end matches a prefix).
    pub data_actions: &'static [&'static str],
}

use ScopeKind::{
    BigDataPools, Credentials, IntegrationRuntimes, LinkedServices, ScopePools, Workspace,
};

const ALL_SCOPES: &[ScopeKind] = &[
    Workspace,
    BigDataPools,
    ScopePools,
    IntegrationRuntimes,
    LinkedServices,
    Credentials,
];

/// The built-in Synapse roles (table of azure-rest.md §8).
pub const ROLES: &[SynapseRole] = &[
    SynapseRole {
        id: SYNAPSE_ADMINISTRATOR,
        name: "Synapse Administrator",
        description: "Full Synapse access to SQL pools, Data Explorer pools, Apache Spark pools, and Integration runtimes. Includes create, read, update, and delete access to all published code artifacts. Includes Compute Operator, Linked Data Manager, and Credential User permissions on the workspace system identity credential. Includes assigning Synapse RBAC roles.",
        scopes: ALL_SCOPES,
        data_actions: &["Microsoft.Synapse/workspaces/*"],
    },
    SynapseRole {
        id: "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1",
        name: "Apache Spark Administrator",
        description: "Full Synapse access to Apache Spark Pools. Create, read, update, and delete access to published Spark job definitions, notebooks and their outputs, and to libraries, linked services, and credentials.",
        scopes: &[Workspace],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action",
            "Microsoft.Synapse/workspaces/bigDataPools/viewLogs/action",
            "Microsoft.Synapse/workspaces/notebooks/viewOutputs/action",
            "Microsoft.Synapse/workspaces/notebooks/write",
            "Microsoft.Synapse/workspaces/notebooks/delete",
            "Microsoft.Synapse/workspaces/sparkJobDefinitions/write",
            "Microsoft.Synapse/workspaces/sparkJobDefinitions/delete",
            "Microsoft.Synapse/workspaces/libraries/write",
            "Microsoft.Synapse/workspaces/libraries/delete",
            "Microsoft.Synapse/workspaces/linkedServices/write",
            "Microsoft.Synapse/workspaces/linkedServices/delete",
            "Microsoft.Synapse/workspaces/credentials/write",
            "Microsoft.Synapse/workspaces/credentials/delete",
        ],
    },
    SynapseRole {
        id: "7af0c69a-a548-47d6-aea3-d00e69bd83aa",
        name: "Synapse SQL Administrator",
        description: "Full Synapse access to serverless SQL pools. Create, read, update, and delete access to published SQL scripts, credentials, and linked services.",
        scopes: &[Workspace],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/sqlScripts/write",
            "Microsoft.Synapse/workspaces/sqlScripts/delete",
            "Microsoft.Synapse/workspaces/linkedServices/write",
            "Microsoft.Synapse/workspaces/linkedServices/delete",
            "Microsoft.Synapse/workspaces/credentials/write",
            "Microsoft.Synapse/workspaces/credentials/delete",
        ],
    },
    SynapseRole {
        id: "7572bffe-f453-4b66-912a-46cc5ef38fda",
        name: "Synapse Contributor",
        description: "Full Synapse access to Apache Spark pools and Integration runtimes. Includes create, read, update, and delete access to all published code artifacts and their outputs, including credentials and linked services.",
        scopes: &[Workspace, BigDataPools, ScopePools, IntegrationRuntimes],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action",
            "Microsoft.Synapse/workspaces/bigDataPools/viewLogs/action",
            "Microsoft.Synapse/workspaces/integrationRuntimes/useCompute/action",
            "Microsoft.Synapse/workspaces/integrationRuntimes/viewLogs/action",
            "Microsoft.Synapse/workspaces/artifacts/read",
            "Microsoft.Synapse/workspaces/notebooks/*",
            "Microsoft.Synapse/workspaces/sparkJobDefinitions/*",
            "Microsoft.Synapse/workspaces/sqlScripts/*",
            "Microsoft.Synapse/workspaces/pipelines/*",
            "Microsoft.Synapse/workspaces/libraries/*",
        ],
    },
    SynapseRole {
        id: "05930f57-09a3-4c0d-9fa9-6d1eb91c178b",
        name: "Synapse Artifact Publisher",
        description: "Create, read, update, and delete access to published code artifacts and their outputs. Doesn't include permission to run code or pipelines, or to grant access.",
        scopes: &[Workspace],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/artifacts/read",
            "Microsoft.Synapse/workspaces/notebooks/*",
            "Microsoft.Synapse/workspaces/sparkJobDefinitions/*",
            "Microsoft.Synapse/workspaces/sqlScripts/*",
        ],
    },
    SynapseRole {
        id: "53faaa0e-40b6-40c8-a2ff-e38f2d388875",
        name: "Synapse Artifact User",
        description: "Read access to published code artifacts and their outputs. Can create new artifacts but can't publish changes or run code without additional permissions.",
        scopes: &[Workspace],
        data_actions: &["Microsoft.Synapse/workspaces/read", "Microsoft.Synapse/workspaces/artifacts/read"],
    },
    SynapseRole {
        id: "e3844cc7-4670-42cb-9349-9bdac1ee7881",
        name: "Synapse Compute Operator",
        description: "Submit Spark jobs and notebooks and view logs. Includes canceling Spark jobs submitted by any user. Requires additional use credential permissions on the workspace system identity to run pipelines, view pipeline runs and outputs.",
        scopes: &[Workspace, BigDataPools, ScopePools, IntegrationRuntimes],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action",
            "Microsoft.Synapse/workspaces/bigDataPools/viewLogs/action",
            "Microsoft.Synapse/workspaces/integrationRuntimes/useCompute/action",
            "Microsoft.Synapse/workspaces/integrationRuntimes/viewLogs/action",
        ],
    },
    SynapseRole {
        id: "5eb298b4-692c-4241-9cf0-f58a3b42bb25",
        name: "Synapse Credential User",
        description: "Runtime and configuration-time use of secrets within credentials and linked services in activities like pipeline runs.",
        scopes: &[Workspace, LinkedServices, Credentials],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/linkedServices/useSecret/action",
            "Microsoft.Synapse/workspaces/credentials/useSecret/action",
        ],
    },
    SynapseRole {
        id: "dd665582-e433-40ca-b183-1b1b33e73375",
        name: "Synapse Linked Data Manager",
        description: "Creation and management of managed private endpoints, linked services, and credentials.",
        scopes: &[Workspace],
        data_actions: &[
            "Microsoft.Synapse/workspaces/read",
            "Microsoft.Synapse/workspaces/managedPrivateEndpoint/write",
            "Microsoft.Synapse/workspaces/managedPrivateEndpoint/delete",
            "Microsoft.Synapse/workspaces/linkedServices/write",
            "Microsoft.Synapse/workspaces/linkedServices/delete",
            "Microsoft.Synapse/workspaces/credentials/write",
            "Microsoft.Synapse/workspaces/credentials/delete",
        ],
    },
    SynapseRole {
        id: "2a385764-43e8-416c-9825-7b18d05a2c4b",
        name: "Synapse User",
        description: "List and view details of SQL pools, Apache Spark pools, Integration runtimes, and published linked services and credentials.",
        scopes: ALL_SCOPES,
        data_actions: &["Microsoft.Synapse/workspaces/read"],
    },
];

/// A Synapse role by id (any casing).
pub fn role(id: &str) -> Option<&'static SynapseRole> {
    ROLES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// The JSON of a role definition (`SynapseRoleDefinition`).
pub fn definition_json(r: &SynapseRole) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "isBuiltIn": true,
        "description": r.description,
        "permissions": [{
            "actions": [],
            "notActions": [],
            "dataActions": r.data_actions,
            "notDataActions": []
        }],
        "scopes": r.scopes.iter().map(|s| s.template()).collect::<Vec<_>>(),
        "availabilityStatus": "Available"
    })
}

/// The JSON of an assignment (`RoleAssignmentDetails`).
pub fn assignment_json(a: &SynapseAssignment) -> Value {
    json!({
        "id": a.id,
        "roleDefinitionId": a.role_id,
        "principalId": a.principal_id,
        "scope": a.scope,
        "principalType": a.principal_type,
    })
}

/// The kind of a scope string inside workspace `ws`, or `None` when it is not one.
pub fn scope_kind(scope: &str, ws: &str) -> Option<ScopeKind> {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [w, name] if fold(w) == "workspaces" && fold(name) == fold(ws) => {
            Some(ScopeKind::Workspace)
        }
        [w, name, kind, item]
            if fold(w) == "workspaces" && fold(name) == fold(ws) && !item.is_empty() =>
        {
            ScopeKind::from_segment(kind)
        }
        _ => None,
    }
}

/// Whether the assignment scope `outer` covers the scope `inner`.
pub fn covers(outer: &str, inner: &str) -> bool {
    let o = fold(outer.trim_matches('/'));
    let i = fold(inner.trim_matches('/'));
    o == i || i.starts_with(&format!("{o}/"))
}

/// Whether a role grants a data action.
pub fn grants(r: &SynapseRole, action: &str) -> bool {
    let action = fold(action);
    r.data_actions.iter().any(|pattern| {
        let p = fold(pattern);
        match p.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => p == action,
        }
    })
}

/// The assignments of workspace `ws`, in creation order.
pub fn of_workspace<'a>(store: &'a Store, ws: &str) -> Vec<&'a SynapseAssignment> {
    let prefix = format!("{}/", fold(ws));
    let mut list: Vec<&SynapseAssignment> = store
        .synapse_assignments
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .map(|(_, a)| a)
        .collect();
    list.sort_by_key(|a| a.seq);
    list
}

/// Whether `oid` is a Synapse Administrator of workspace `ws` (at workspace scope).
pub fn is_admin(store: &Store, oid: &str, ws: &str) -> bool {
    let ws_scope = format!("workspaces/{ws}");
    of_workspace(store, ws).iter().any(|a| {
        a.principal_id.eq_ignore_ascii_case(oid)
            && a.role_id.eq_ignore_ascii_case(SYNAPSE_ADMINISTRATOR)
            && covers(&a.scope, &ws_scope)
    })
}

/// Whether `oid` holds any Synapse role in workspace `ws`.
pub fn has_any(store: &Store, oid: &str, ws: &str) -> bool {
    of_workspace(store, ws)
        .iter()
        .any(|a| a.principal_id.eq_ignore_ascii_case(oid))
}

/// The decision of `checkAccessSynapseRbac` for one action: the first assignment (visible
/// after `delay_ms`) of one of `principals` that covers `scope` and grants `action`.
pub fn decide<'a>(
    store: &'a Store,
    ws: &str,
    principals: &[String],
    scope: &str,
    action: &str,
    now: u64,
    delay_ms: u64,
) -> Option<&'a SynapseAssignment> {
    of_workspace(store, ws).into_iter().find(|a| {
        a.created_ms.saturating_add(delay_ms) <= now
            && principals
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&a.principal_id))
            && covers(&a.scope, scope)
            && role(&a.role_id).is_some_and(|r| grants(r, action))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_admin_grants_use_compute_only_at_workspace_scope() {
        let spark = role("C3A6D2F1-A26F-4810-9B0F-591308D5CBF1").unwrap();
        assert!(grants(
            spark,
            "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action"
        ));
        assert!(!grants(
            spark,
            "Microsoft.Synapse/workspaces/roleAssignments/write"
        ));
        assert_eq!(spark.scopes, &[ScopeKind::Workspace]);
        assert_eq!(
            scope_kind("workspaces/ws1/bigDataPools/p", "WS1"),
            Some(ScopeKind::BigDataPools)
        );
        assert_eq!(scope_kind("workspaces/other", "ws1"), None);
        assert!(covers("workspaces/ws1", "workspaces/WS1/bigDataPools/p"));
    }
}
