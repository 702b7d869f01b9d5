//! `Microsoft.MachineLearningServices/workspaces/computes` of type
//! `SynapseSpark`: a Spark pool attached to an AML workspace (azure-rest.md §4).
//! A PUT overwrites a compute and only `AmlCompute` can be patched, so every
//! change is a replacement (detach, then attach); removal is always a detach.

use serde_json::{json, Value};

use crate::cloud::resources::{
    fold_id, fold_location, identity_body, identity_type, put_tags, read_identity, read_tags,
    str_at, tags_body,
};
use crate::plan::Properties;
use crate::spec::model::Attachment;
use crate::spec::LoadedSpec;

/// The computes api-version (the one azurerm uses for Synapse Spark).
pub const API_VERSION: &str = "2023-04-01";

/// Everything forces replacement.
pub const REPLACE: &[&str] = &[
    "resource_id",
    "location",
    "identity",
    "description",
    "tags.*",
];

/// The compute's ARM id under its AML workspace's id.
pub fn id(ml_workspace_id: &str, name: &str) -> String {
    format!("{ml_workspace_id}/computes/{name}")
}

/// Desired properties.
pub fn desired(a: &Attachment, pool_id: &str, location: &str, spec: &LoadedSpec) -> Properties {
    let mut p = Properties::new();
    p.insert("resource_id".into(), json!(fold_id(pool_id)));
    p.insert("location".into(), json!(fold_location(location)));
    p.insert(
        "identity".into(),
        json!(identity_type(a.identity.as_ref(), "None")),
    );
    if let Some(d) = &a.description {
        p.insert("description".into(), json!(d));
    }
    put_tags(&mut p, &spec.defaults.tags, &a.tags);
    p
}

/// The PUT body.
pub fn body(props: &Properties, a: &Attachment, pool_id: &str) -> Value {
    let mut properties = json!({ "computeType": "SynapseSpark", "resourceId": pool_id });
    if let Some(d) = &a.description {
        properties["description"] = json!(d);
    }
    json!({
        "location": props.get("location"),
        "identity": identity_body(a.identity.as_ref(), "None"),
        "tags": tags_body(props),
        "properties": properties,
    })
}

/// Properties read back.
pub fn observed(body: &Value) -> Properties {
    let mut p = Properties::new();
    if let Some(id) = str_at(body, "/properties/resourceId") {
        p.insert("resource_id".into(), json!(fold_id(id)));
    }
    if let Some(l) = str_at(body, "/location") {
        p.insert("location".into(), json!(fold_location(l)));
    }
    p.insert("identity".into(), json!(read_identity(body)));
    if let Some(d) = str_at(body, "/properties/description") {
        p.insert("description".into(), json!(d));
    }
    read_tags(&mut p, body);
    p
}

/// Whether a compute is an attached Synapse pool (and so ours to manage).
pub fn is_synapse_spark(body: &Value) -> bool {
    str_at(body, "/properties/computeType").is_some_and(|t| t.eq_ignore_ascii_case("SynapseSpark"))
}
