//! The Synapse RBAC built-in roles (azure-rest.md §8): API name, Studio name, id
//! and the scopes each may be assigned at, plus the Azure RBAC role names that
//! users confuse them with.

/// Where a Synapse role may be assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeKind {
    /// `workspaces/{ws}`.
    Workspace,
    /// `workspaces/{ws}/bigDataPools/{pool}`.
    SparkPool,
}

/// A Synapse built-in role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynapseRole {
    /// The role definition name the data plane uses.
    pub api_name: &'static str,
    /// The name Synapse Studio and the docs show, when different.
    pub studio_name: Option<&'static str>,
    /// The role definition id.
    pub id: &'static str,
    /// Whether it may be assigned at a Spark pool (all may at the workspace).
    pub pool_scope: bool,
}

/// The built-ins of azure-rest.md §8 (Synapse Monitoring Operator is left out:
/// its id is not confirmed).
pub const SYNAPSE_ROLES: [SynapseRole; 10] = [
    SynapseRole {
        api_name: "Synapse Administrator",
        studio_name: None,
        id: "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78",
        pool_scope: true,
    },
    SynapseRole {
        api_name: "Apache Spark Administrator",
        studio_name: Some("Synapse Apache Spark Administrator"),
        id: "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse SQL Administrator",
        studio_name: None,
        id: "7af0c69a-a548-47d6-aea3-d00e69bd83aa",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse Contributor",
        studio_name: None,
        id: "7572bffe-f453-4b66-912a-46cc5ef38fda",
        pool_scope: true,
    },
    SynapseRole {
        api_name: "Synapse Artifact Publisher",
        studio_name: None,
        id: "05930f57-09a3-4c0d-9fa9-6d1eb91c178b",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse Artifact User",
        studio_name: None,
        id: "53faaa0e-40b6-40c8-a2ff-e38f2d388875",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse Compute Operator",
        studio_name: None,
        id: "e3844cc7-4670-42cb-9349-9bdac1ee7881",
        pool_scope: true,
    },
    SynapseRole {
        api_name: "Synapse Credential User",
        studio_name: None,
        id: "5eb298b4-692c-4241-9cf0-f58a3b42bb25",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse Linked Data Manager",
        studio_name: None,
        id: "dd665582-e433-40ca-b183-1b1b33e73375",
        pool_scope: false,
    },
    SynapseRole {
        api_name: "Synapse User",
        studio_name: None,
        id: "2a385764-43e8-416c-9825-7b18d05a2c4b",
        pool_scope: true,
    },
];

/// Common Azure RBAC role names, which are not Synapse roles.
pub const AZURE_RBAC_ROLES: [&str; 8] = [
    "Owner",
    "Contributor",
    "Reader",
    "User Access Administrator",
    "Storage Blob Data Contributor",
    "Storage Blob Data Owner",
    "Storage Blob Data Reader",
    "AzureML Data Scientist",
];

/// Finds a built-in by API name, Studio name (case-insensitive) or id.
pub fn find(name_or_id: &str) -> Option<&'static SynapseRole> {
    let wanted = name_or_id.trim();
    SYNAPSE_ROLES.iter().find(|r| {
        r.api_name.eq_ignore_ascii_case(wanted)
            || r.studio_name
                .is_some_and(|s| s.eq_ignore_ascii_case(wanted))
            || r.id.eq_ignore_ascii_case(wanted)
    })
}

/// Every name a user may write, for suggestions.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    SYNAPSE_ROLES
        .iter()
        .flat_map(|r| std::iter::once(r.api_name).chain(r.studio_name))
}

/// Whether the name is an Azure RBAC role rather than a Synapse one.
pub fn is_azure_rbac(name: &str) -> bool {
    AZURE_RBAC_ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name.trim()))
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_roles_by_api_name_studio_name_and_id() {
        let by_api = find("Apache Spark Administrator").expect("api name");
        assert_eq!(find("synapse apache spark administrator"), Some(by_api));
        assert_eq!(find("C3A6D2F1-A26F-4810-9B0F-591308D5CBF1"), Some(by_api));
        assert!(!by_api.pool_scope);
        assert_eq!(find("Owner"), None);
    }
}
