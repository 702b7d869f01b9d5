//! `Microsoft.MachineLearningServices/workspaces` (azure-rest.md §2).

use serde_json::{json, Value};

use crate::cloud::resources::{
    fold_id, fold_location, identity_body, identity_type, put_tags, read_identity, read_tags,
    resource_id, str_at, tags_body,
};
use crate::plan::Properties;
use crate::spec::model::MlWorkspace;
use crate::spec::{LoadedSpec, Resource};

/// The api-version used for workspaces.
pub const API_VERSION: &str = "2024-10-01";

/// Properties that cannot change in place (the linked resources are immutable
/// after creation; a region never moves).
pub const REPLACE: &[&str] = &[
    "location",
    "storage_account",
    "key_vault",
    "application_insights",
    "container_registry",
];

/// The workspace's ARM id.
pub fn id(r: &Resource) -> String {
    resource_id(
        &r.placement,
        "Microsoft.MachineLearningServices/workspaces",
        &r.name,
    )
}

/// Desired properties.
pub fn desired(r: &Resource, w: &MlWorkspace, spec: &LoadedSpec) -> Properties {
    let mut p = Properties::new();
    p.insert(
        "location".into(),
        json!(fold_location(&r.placement.location)),
    );
    p.insert(
        "sku".into(),
        json!(w
            .sku
            .clone()
            .unwrap_or_else(|| "Basic".into())
            .to_ascii_lowercase()),
    );
    for (key, value) in [
        ("storage_account", &w.storage_account),
        ("key_vault", &w.key_vault),
        ("application_insights", &w.application_insights),
        ("container_registry", &w.container_registry),
    ] {
        if let Some(v) = value {
            p.insert(key.into(), json!(fold_id(v)));
        }
    }
    for (key, value) in [
        ("friendly_name", &w.friendly_name),
        ("description", &w.description),
    ] {
        if let Some(v) = value {
            p.insert(key.into(), json!(v));
        }
    }
    p.insert(
        "identity".into(),
        json!(identity_type(w.identity.as_ref(), "SystemAssigned")),
    );
    put_tags(&mut p, &spec.defaults.tags, &w.tags);
    p
}

/// The PUT body.
pub fn body(props: &Properties, w: &MlWorkspace) -> Value {
    let mut properties = serde_json::Map::new();
    for (key, field) in [
        ("storage_account", "storageAccount"),
        ("key_vault", "keyVault"),
        ("application_insights", "applicationInsights"),
        ("container_registry", "containerRegistry"),
        ("friendly_name", "friendlyName"),
        ("description", "description"),
    ] {
        if let Some(v) = props.get(key) {
            properties.insert(field.into(), v.clone());
        }
    }
    // Send the ids as written (Azure keeps their casing), not folded.
    for (field, value) in [
        ("storageAccount", &w.storage_account),
        ("keyVault", &w.key_vault),
        ("applicationInsights", &w.application_insights),
        ("containerRegistry", &w.container_registry),
    ] {
        if let Some(v) = value {
            properties.insert(field.into(), json!(v));
        }
    }
    let sku = props.get("sku").and_then(Value::as_str).unwrap_or("basic");
    json!({
        "location": props.get("location"),
        "sku": { "name": sku, "tier": sku },
        "identity": identity_body(w.identity.as_ref(), "SystemAssigned"),
        "tags": tags_body(props),
        "properties": properties,
    })
}

/// Properties read back.
pub fn observed(body: &Value) -> Properties {
    let mut p = Properties::new();
    if let Some(l) = str_at(body, "/location") {
        p.insert("location".into(), json!(fold_location(l)));
    }
    if let Some(s) = str_at(body, "/sku/name") {
        p.insert("sku".into(), json!(s.to_ascii_lowercase()));
    }
    for (key, field) in [
        ("storage_account", "/properties/storageAccount"),
        ("key_vault", "/properties/keyVault"),
        ("application_insights", "/properties/applicationInsights"),
        ("container_registry", "/properties/containerRegistry"),
    ] {
        if let Some(v) = str_at(body, field).filter(|v| !v.is_empty()) {
            p.insert(key.into(), json!(fold_id(v)));
        }
    }
    for (key, field) in [
        ("friendly_name", "/properties/friendlyName"),
        ("description", "/properties/description"),
    ] {
        if let Some(v) = str_at(body, field) {
            p.insert(key.into(), json!(v));
        }
    }
    p.insert("identity".into(), json!(read_identity(body)));
    read_tags(&mut p, body);
    p
}
