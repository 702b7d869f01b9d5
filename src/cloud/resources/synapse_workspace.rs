//! `Microsoft.Synapse/workspaces` (azure-rest.md §5).

use serde_json::{json, Value};

use crate::cloud::resources::{
    fold_location, identity_body, identity_type, put_tags, read_identity, read_tags, resource_id,
    str_at, tags_body,
};
use crate::plan::Properties;
use crate::spec::model::SynapseWorkspace;
use crate::spec::{LoadedSpec, Resource};

/// The api-version used for Synapse workspaces and pools.
pub const API_VERSION: &str = "2021-06-01";

/// Create-only properties.
pub const REPLACE: &[&str] = &[
    "location",
    "data_lake.account_url",
    "data_lake.filesystem",
    "sql_admin_login",
    "managed_resource_group",
    "managed_virtual_network",
];

/// The workspace's ARM id.
pub fn id(r: &Resource) -> String {
    resource_id(&r.placement, "Microsoft.Synapse/workspaces", &r.name)
}

/// Desired properties.
pub fn desired(r: &Resource, w: &SynapseWorkspace, spec: &LoadedSpec) -> Properties {
    let mut p = Properties::new();
    p.insert(
        "location".into(),
        json!(fold_location(&r.placement.location)),
    );
    if let Some(dl) = &w.data_lake {
        p.insert(
            "data_lake.account_url".into(),
            json!(dl.account_url.trim_end_matches('/').to_ascii_lowercase()),
        );
        p.insert("data_lake.filesystem".into(), json!(dl.filesystem));
    }
    if let Some(login) = &w.sql_admin_login {
        p.insert("sql_admin_login".into(), json!(login));
    }
    if let Some(mrg) = &w.managed_resource_group {
        p.insert(
            "managed_resource_group".into(),
            json!(mrg.to_ascii_lowercase()),
        );
    }
    p.insert(
        "managed_virtual_network".into(),
        json!(w.managed_virtual_network),
    );
    p.insert(
        "public_network_access".into(),
        json!(w
            .public_network_access
            .clone()
            .unwrap_or_else(|| "Enabled".into())),
    );
    p.insert(
        "identity".into(),
        json!(identity_type(w.identity.as_ref(), "SystemAssigned")),
    );
    put_tags(&mut p, &spec.defaults.tags, &w.tags);
    p
}

/// The PUT body. The SQL password, when any, is read from the environment
/// variable the spec names, at the moment the body is built; it is never in
/// properties, plans or state.
pub fn body(props: &Properties, w: &SynapseWorkspace) -> Value {
    let mut properties = serde_json::Map::new();
    if let Some(dl) = &w.data_lake {
        let mut lake = json!({ "accountUrl": dl.account_url, "filesystem": dl.filesystem });
        if let Some(rid) = &dl.resource_id {
            lake["resourceId"] = json!(rid);
        }
        properties.insert("defaultDataLakeStorage".into(), lake);
    }
    if let Some(login) = &w.sql_admin_login {
        properties.insert("sqlAdministratorLogin".into(), json!(login));
    }
    if let Some(pw) = w
        .sql_admin_password_env
        .as_deref()
        .and_then(|v| std::env::var(v).ok())
    {
        properties.insert("sqlAdministratorLoginPassword".into(), json!(pw));
    }
    if let Some(mrg) = &w.managed_resource_group {
        properties.insert("managedResourceGroupName".into(), json!(mrg));
    }
    if w.managed_virtual_network {
        properties.insert("managedVirtualNetwork".into(), json!("default"));
    }
    properties.insert(
        "publicNetworkAccess".into(),
        props
            .get("public_network_access")
            .cloned()
            .unwrap_or(json!("Enabled")),
    );
    json!({
        "location": props.get("location"),
        "identity": identity_body(w.identity.as_ref(), "SystemAssigned"),
        "tags": tags_body(props),
        "properties": properties,
    })
}

/// The PATCH body for in-place updates (tags, identity, public network access).
pub fn patch_body(props: &Properties, w: &SynapseWorkspace) -> Value {
    json!({
        "tags": tags_body(props),
        "identity": identity_body(w.identity.as_ref(), "SystemAssigned"),
        "properties": { "publicNetworkAccess": props.get("public_network_access") },
    })
}

/// Properties read back.
pub fn observed(body: &Value) -> Properties {
    let mut p = Properties::new();
    if let Some(l) = str_at(body, "/location") {
        p.insert("location".into(), json!(fold_location(l)));
    }
    if let Some(u) = str_at(body, "/properties/defaultDataLakeStorage/accountUrl") {
        p.insert(
            "data_lake.account_url".into(),
            json!(u.trim_end_matches('/').to_ascii_lowercase()),
        );
    }
    if let Some(f) = str_at(body, "/properties/defaultDataLakeStorage/filesystem") {
        p.insert("data_lake.filesystem".into(), json!(f));
    }
    if let Some(l) = str_at(body, "/properties/sqlAdministratorLogin") {
        p.insert("sql_admin_login".into(), json!(l));
    }
    if let Some(m) = str_at(body, "/properties/managedResourceGroupName") {
        p.insert(
            "managed_resource_group".into(),
            json!(m.to_ascii_lowercase()),
        );
    }
    p.insert(
        "managed_virtual_network".into(),
        json!(str_at(body, "/properties/managedVirtualNetwork") == Some("default")),
    );
    p.insert(
        "public_network_access".into(),
        json!(str_at(body, "/properties/publicNetworkAccess").unwrap_or("Enabled")),
    );
    p.insert("identity".into(), json!(read_identity(body)));
    read_tags(&mut p, body);
    p
}

/// The data-plane endpoint of a workspace, as Azure reports it.
pub fn dev_endpoint(body: &Value) -> Option<String> {
    str_at(body, "/properties/connectivityEndpoints/dev")
        .map(|s| s.trim_end_matches('/').to_owned())
}
