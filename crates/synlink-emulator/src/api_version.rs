//! Which `api-version` values each resource type accepts: the versions real clients send
//! (azure-rest.md §2–§8: the quickstart's `2018-11-19` computes, azurerm's `2023-04-01`,
//! the SDKs' defaults, azureml-core's constants). A missing version answers 400
//! `MissingApiVersionParameter`; an unknown one 400 `NoRegisteredProviderFound`.

use crate::arm_error::ArmError;

/// The API families whose versions are checked separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Microsoft.Resources (subscriptions, resource groups).
    Resources,
    /// Microsoft.MachineLearningServices/workspaces.
    MlWorkspaces,
    /// Microsoft.MachineLearningServices/workspaces/computes.
    MlComputes,
    /// Microsoft.MachineLearningServices/workspaces/linkedServices.
    MlLinkedServices,
    /// Microsoft.Synapse (workspaces, bigDataPools, checkNameAvailability).
    Synapse,
    /// Microsoft.Authorization/roleAssignments.
    RoleAssignments,
    /// Microsoft.Authorization/roleDefinitions.
    RoleDefinitions,
    /// Microsoft.Authorization/permissions.
    Permissions,
    /// The Synapse data plane (Synapse RBAC).
    SynapseDataPlane,
}

const RESOURCES: &[&str] = &[
    "2014-04-01",
    "2015-01-01",
    "2015-11-01",
    "2016-02-01",
    "2016-06-01",
    "2016-07-01",
    "2016-09-01",
    "2017-05-10",
    "2018-02-01",
    "2018-05-01",
    "2019-03-01",
    "2019-05-01",
    "2019-05-10",
    "2019-06-01",
    "2019-07-01",
    "2019-08-01",
    "2019-10-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2020-08-01",
    "2020-10-01",
    "2021-01-01",
    "2021-04-01",
    "2022-01-01",
    "2022-09-01",
    "2022-12-01",
    "2023-07-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];

const ML_STABLE: &[&str] = &[
    "2018-11-19",
    "2019-05-01",
    "2019-06-01",
    "2019-11-01",
    "2020-01-01",
    "2020-03-01",
    "2020-04-01",
    "2020-06-01",
    "2020-08-01",
    "2021-01-01",
    "2021-04-01",
    "2021-07-01",
    "2022-05-01",
    "2022-10-01",
    "2023-04-01",
    "2023-10-01",
    "2024-04-01",
    "2024-10-01",
    "2025-04-01",
    "2025-06-01",
    "2025-09-01",
    "2025-12-01",
    "2026-03-01",
    "2026-05-01",
];

const ML_COMPUTE_EXTRA: &[&str] = &["2018-03-01-preview", "2020-02-02"];

const ML_LINKED_SERVICES: &[&str] = &["2020-04-01-preview", "2020-09-01-preview"];

const SYNAPSE: &[&str] = &[
    "2019-06-01-preview",
    "2020-04-01-preview",
    "2020-12-01",
    "2021-03-01",
    "2021-04-01-preview",
    "2021-05-01",
    "2021-06-01-preview",
    "2021-06-01",
];

const ROLE_ASSIGNMENTS: &[&str] = &[
    "2015-06-01",
    "2015-07-01",
    "2017-10-01-preview",
    "2018-01-01-preview",
    "2018-09-01-preview",
    "2020-03-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
];

const ROLE_DEFINITIONS: &[&str] = &[
    "2015-06-01",
    "2015-07-01",
    "2018-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];

const PERMISSIONS: &[&str] = &[
    "2015-06-01",
    "2015-07-01",
    "2018-01-01-preview",
    "2022-04-01",
    "2022-05-01-preview",
];

const SYNAPSE_DATA_PLANE: &[&str] = &["2020-12-01", "2020-08-01-preview"];

/// Whether `v` looks like `YYYY-MM-DD-preview`.
fn is_preview_shape(v: &str) -> bool {
    let Some(date) = v.strip_suffix("-preview") else {
        return false;
    };
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && date >= "2018-01-01"
}

impl Api {
    /// Accepts or refuses the `api-version` of a request.
    pub fn check(self, version: Option<&str>, type_name: &str) -> Result<(), ArmError> {
        let Some(v) = version.filter(|v| !v.is_empty()) else {
            return Err(ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            ));
        };
        let list = self.versions();
        let accepted = list.contains(&v)
            || (matches!(self, Api::MlWorkspaces | Api::MlComputes) && is_preview_shape(v));
        if accepted {
            return Ok(());
        }
        let code = if self == Api::SynapseDataPlane {
            "InvalidApiVersion"
        } else {
            "NoRegisteredProviderFound"
        };
        Err(ArmError::bad_request(
            code,
            format!(
                "No registered resource provider found for location 'westeurope' and API version '{v}' for type '{type_name}'. The supported api-versions are '{}'.",
                list.join(", ")
            ),
        ))
    }

    fn versions(self) -> Vec<&'static str> {
        match self {
            Api::Resources => RESOURCES.to_vec(),
            Api::MlWorkspaces => ML_STABLE.to_vec(),
            Api::MlComputes => ML_STABLE.iter().chain(ML_COMPUTE_EXTRA).copied().collect(),
            Api::MlLinkedServices => ML_LINKED_SERVICES.to_vec(),
            Api::Synapse => SYNAPSE.to_vec(),
            Api::RoleAssignments => ROLE_ASSIGNMENTS.to_vec(),
            Api::RoleDefinitions => ROLE_DEFINITIONS.to_vec(),
            Api::Permissions => PERMISSIONS.to_vec(),
            Api::SynapseDataPlane => SYNAPSE_DATA_PLANE.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_accept_the_versions_real_clients_send() {
        for v in [
            "2018-11-19",
            "2020-02-02",
            "2021-04-01",
            "2023-04-01",
            "2024-10-01",
        ] {
            assert!(Api::MlComputes.check(Some(v), "t").is_ok(), "{v}");
        }
        assert!(Api::MlLinkedServices
            .check(Some("2020-04-01-preview"), "t")
            .is_ok());
        assert!(Api::MlLinkedServices
            .check(Some("2023-04-01"), "t")
            .is_err());
        assert_eq!(
            Api::Synapse.check(None, "t").unwrap_err().code,
            "MissingApiVersionParameter"
        );
    }
}
