//! `Microsoft.MachineLearningServices/workspaces/linkedServices`, the AML ⇄
//! Synapse link (azure-rest.md §3). PUT answers 200 with the link's new
//! system-assigned identity; there is no long-running operation.

use serde_json::{json, Value};

use crate::cloud::resources::{fold_id, str_at};
use crate::plan::Properties;

/// The only published api-version of linked services.
pub const API_VERSION: &str = "2020-09-01-preview";

/// A link cannot be pointed at another Synapse workspace.
pub const REPLACE: &[&str] = &["synapse_workspace_id"];

/// The link's ARM id under its AML workspace's id.
pub fn id(ml_workspace_id: &str, name: &str) -> String {
    format!("{ml_workspace_id}/linkedServices/{name}")
}

/// Desired properties.
pub fn desired(synapse_workspace_id: &str) -> Properties {
    let mut p = Properties::new();
    p.insert(
        "synapse_workspace_id".into(),
        json!(fold_id(synapse_workspace_id)),
    );
    p
}

/// The PUT body (as azureml-core sends it).
pub fn body(name: &str, location: &str, synapse_workspace_id: &str) -> Value {
    json!({
        "name": name,
        "location": location,
        "identity": { "type": "SystemAssigned" },
        "properties": { "linkedServiceResourceId": synapse_workspace_id, "linkType": "Synapse" },
    })
}

/// Properties read back.
pub fn observed(body: &Value) -> Properties {
    let mut p = Properties::new();
    if let Some(id) = str_at(body, "/properties/linkedServiceResourceId") {
        p.insert("synapse_workspace_id".into(), json!(fold_id(id)));
    }
    p
}
