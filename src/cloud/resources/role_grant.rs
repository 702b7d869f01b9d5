//! Synapse data-plane role assignments (azure-rest.md §8), at the workspace's
//! `connectivityEndpoints.dev`. An assignment is identified by its (scope, role
//! id, principal) tuple, never by name: an identical one that exists is adopted.
//! Assignments cannot be edited: any change is a replacement.

use serde_json::{json, Value};

use crate::cloud::resources::str_at;
use crate::plan::Properties;

/// The stable data-plane api-version.
pub const API_VERSION: &str = "2020-12-01";

/// Everything forces replacement.
pub const REPLACE: &[&str] = &["role_id", "principal_id", "scope", "principal_type"];

/// The Synapse scope string of a workspace or one of its pools.
pub fn scope(workspace: &str, pool: Option<&str>) -> String {
    match pool {
        Some(p) => format!("workspaces/{workspace}/bigDataPools/{p}"),
        None => format!("workspaces/{workspace}"),
    }
}

/// Desired properties; `principal_id` is `None` while unknown (its link or
/// attachment is not created yet).
pub fn desired(
    role_id: &str,
    principal_id: Option<&str>,
    scope: &str,
    principal_type: &str,
) -> Properties {
    let mut p = Properties::new();
    p.insert("role_id".into(), json!(role_id.to_ascii_lowercase()));
    if let Some(id) = principal_id {
        p.insert("principal_id".into(), json!(id.to_ascii_lowercase()));
    }
    p.insert("scope".into(), json!(scope.to_ascii_lowercase()));
    p.insert("principal_type".into(), json!(principal_type));
    p
}

/// The PUT body.
pub fn body(props: &Properties) -> Value {
    json!({
        "roleId": props.get("role_id"),
        "principalId": props.get("principal_id"),
        "scope": props.get("scope"),
        "principalType": props.get("principal_type"),
    })
}

/// Properties of an assignment read back (`principalType` may come back null
/// or numeric: the desired value is kept when Azure does not say).
pub fn observed(body: &Value, desired_type: &str) -> Properties {
    let mut p = Properties::new();
    for (key, field) in [
        ("role_id", "/roleDefinitionId"),
        ("principal_id", "/principalId"),
        ("scope", "/scope"),
    ] {
        if let Some(v) = str_at(body, field) {
            p.insert(key.into(), json!(v.to_ascii_lowercase()));
        }
    }
    let t = str_at(body, "/principalType")
        .filter(|t| ["User", "Group", "ServicePrincipal"].contains(t))
        .unwrap_or(desired_type);
    p.insert("principal_type".into(), json!(t));
    p
}

/// The (scope, role, principal) tuple of an assignment, folded.
pub fn tuple_of(body: &Value) -> Option<(String, String, String)> {
    Some((
        str_at(body, "/scope")?.to_ascii_lowercase(),
        str_at(body, "/roleDefinitionId")?.to_ascii_lowercase(),
        str_at(body, "/principalId")?.to_ascii_lowercase(),
    ))
}
