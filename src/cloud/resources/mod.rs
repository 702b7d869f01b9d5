//! One file per resource kind: its URL and api-version, the desired properties
//! of a spec resource, the request body built from them, the properties read
//! back from Azure (normalised: read-only and server-filled fields dropped, ids
//! and regions case-folded), the properties that force replacement, and its
//! outputs. Properties are flat maps of dotted paths so that plans can show and
//! compare them one by one.

pub mod attachment;
pub mod link;
pub mod ml_workspace;
pub mod permissions;
pub mod role_grant;
pub mod spark_pool;
pub mod synapse_workspace;

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::plan::Properties;
use crate::spec::model::Identity;
use crate::spec::Placement;

/// ARM ids compare case-insensitively; properties hold them folded.
pub fn fold_id(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// Regions come back as `westeurope` or `West Europe`; properties hold the short form.
pub fn fold_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}`.
pub fn resource_id(p: &Placement, namespace_type: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/{namespace_type}/{name}",
        p.subscription, p.resource_group
    )
}

/// Adds `tags.K` entries.
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

/// The identity type as Azure writes it.
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
pub fn identity_outputs(body: &Value) -> IndexMap<String, Value> {
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
