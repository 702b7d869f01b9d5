//! `Microsoft.Synapse/workspaces/bigDataPools` (azure-rest.md §6).

use serde_json::{json, Value};

use crate::cloud::resources::{fold_location, put_tags, read_tags, str_at, tags_body};
use crate::plan::Properties;
use crate::spec::model::SparkPool;
use crate::spec::{LoadedSpec, Resource};

/// Pools share the Synapse api-version.
pub const API_VERSION: &str = crate::cloud::resources::synapse_workspace::API_VERSION;

/// A pool never moves region; everything else is updated with a PUT.
pub const REPLACE: &[&str] = &["location"];

/// The pool's ARM id under its workspace's id.
pub fn id(workspace_id: &str, name: &str) -> String {
    format!("{workspace_id}/bigDataPools/{name}")
}

/// Desired properties.
pub fn desired(r: &Resource, p: &SparkPool, spec: &LoadedSpec) -> Properties {
    let mut props = Properties::new();
    props.insert(
        "location".into(),
        json!(fold_location(&r.placement.location)),
    );
    if let Some(s) = &p.node_size {
        props.insert("node_size".into(), json!(s));
    }
    props.insert(
        "node_size_family".into(),
        json!(p
            .node_size_family
            .clone()
            .unwrap_or_else(|| "MemoryOptimized".into())),
    );
    if let Some(v) = &p.spark_version {
        props.insert("spark_version".into(), json!(v));
    }
    match (p.node_count, p.autoscale) {
        (_, Some(a)) => {
            props.insert("autoscale.min".into(), json!(a.min));
            props.insert("autoscale.max".into(), json!(a.max));
        }
        (Some(n), None) => {
            props.insert("node_count".into(), json!(n));
        }
        (None, None) => {}
    }
    props.insert("auto_pause_minutes".into(), json!(p.auto_pause_minutes));
    put_tags(&mut props, &spec.defaults.tags, &p.tags);
    props
}

/// The PUT body.
pub fn body(props: &Properties) -> Value {
    let mut properties = serde_json::Map::new();
    for (key, field) in [
        ("node_size", "nodeSize"),
        ("node_size_family", "nodeSizeFamily"),
        ("spark_version", "sparkVersion"),
    ] {
        if let Some(v) = props.get(key) {
            properties.insert(field.into(), v.clone());
        }
    }
    match (
        props.get("autoscale.min"),
        props.get("autoscale.max"),
        props.get("node_count"),
    ) {
        (Some(min), Some(max), _) => {
            properties.insert(
                "autoScale".into(),
                json!({ "enabled": true, "minNodeCount": min, "maxNodeCount": max }),
            );
            properties.insert("nodeCount".into(), min.clone());
        }
        (_, _, Some(n)) => {
            properties.insert("autoScale".into(), json!({ "enabled": false }));
            properties.insert("nodeCount".into(), n.clone());
        }
        _ => {}
    }
    match props.get("auto_pause_minutes").filter(|m| !m.is_null()) {
        Some(m) => properties.insert(
            "autoPause".into(),
            json!({ "enabled": true, "delayInMinutes": m }),
        ),
        None => properties.insert("autoPause".into(), json!({ "enabled": false })),
    };
    json!({ "location": props.get("location"), "tags": tags_body(props), "properties": properties })
}

/// Properties read back. With autoscale on, Azure also reports a node count;
/// it is not a setting then, so it is left out.
pub fn observed(body: &Value) -> Properties {
    let mut p = Properties::new();
    if let Some(l) = str_at(body, "/location") {
        p.insert("location".into(), json!(fold_location(l)));
    }
    for (key, field) in [
        ("node_size", "/properties/nodeSize"),
        ("node_size_family", "/properties/nodeSizeFamily"),
        ("spark_version", "/properties/sparkVersion"),
    ] {
        if let Some(v) = str_at(body, field) {
            p.insert(key.into(), json!(v));
        }
    }
    let autoscale = body
        .pointer("/properties/autoScale/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if autoscale {
        for (key, field) in [
            ("autoscale.min", "/properties/autoScale/minNodeCount"),
            ("autoscale.max", "/properties/autoScale/maxNodeCount"),
        ] {
            if let Some(v) = body.pointer(field) {
                p.insert(key.into(), v.clone());
            }
        }
    } else if let Some(n) = body.pointer("/properties/nodeCount") {
        p.insert("node_count".into(), n.clone());
    }
    let paused = body
        .pointer("/properties/autoPause/enabled")
        .and_then(Value::as_bool)
        == Some(true);
    let delay = body
        .pointer("/properties/autoPause/delayInMinutes")
        .filter(|_| paused)
        .cloned()
        .unwrap_or(Value::Null);
    p.insert("auto_pause_minutes".into(), delay);
    read_tags(&mut p, body);
    p
}
