//! `Microsoft.Synapse/workspaces/bigDataPools` (azure-rest.md §6): listed per
//! Synapse workspace; created and updated with one PUT (a long-running
//! operation); a pool never moves region.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::addr::{ArmId, Properties, ResourceKind};
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{
    fold_location, id_of, put_tags, read_tags, str_at, synapse_workspace, tags_body, Desired,
    Lookup, Provider, Request,
};
use crate::spec::model::SparkPool;
use crate::spec::{runtimes, Body, LoadedSpec, Resource};

/// Pools share the Synapse api-version.
pub const API_VERSION: &str = synapse_workspace::API_VERSION;

/// The provider.
pub struct SparkPools;

fn settings(r: &Resource) -> &SparkPool {
    match &r.body {
        Body::SparkPool(p) => p,
        _ => unreachable!("the Spark pool provider is only given Spark pools"),
    }
}

/// The PUT body of a pool from its desired properties.
fn body(props: &Properties) -> Value {
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

#[async_trait::async_trait]
impl Provider for SparkPools {
    fn kind(&self) -> ResourceKind {
        ResourceKind::SparkPool
    }

    fn parent_kind(&self) -> Option<ResourceKind> {
        Some(ResourceKind::SynapseWorkspace)
    }

    fn collection(&self) -> &'static str {
        "bigDataPools"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn parent_id(&self, r: &Resource, spec: &LoadedSpec) -> Option<ArmId> {
        id_of(
            spec,
            ResourceKind::SynapseWorkspace,
            &settings(r).synapse_workspace,
        )
    }

    fn desired(&self, r: &Resource, spec: &LoadedSpec, _lookup: &dyn Lookup) -> Desired {
        let p = settings(r);
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
            json!(p.node_size_family.as_deref().unwrap_or("MemoryOptimized")),
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
        Desired {
            properties: props,
            unknown: IndexMap::new(),
        }
    }

    fn request(
        &self,
        _r: &Resource,
        _spec: &LoadedSpec,
        _lookup: &dyn Lookup,
        desired: &Desired,
        _create: bool,
    ) -> Request {
        Request::new("PUT", API_VERSION, body(&desired.properties))
    }

    /// With autoscale on, Azure also reports a node count; it is not a setting
    /// then, so it is left out.
    fn observed(&self, body: &Value, _desired: Option<&Properties>) -> Properties {
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

    fn outputs(&self, _body: &Value) -> IndexMap<String, Value> {
        IndexMap::new()
    }

    /// A small autoscaled pool on the current runtime, where the spec (a data
    /// source's) leaves size, runtime or scale out.
    fn seed(&self, r: &Resource, spec: &LoadedSpec, lookup: &dyn Lookup) -> Request {
        let mut desired = self.desired(r, spec, lookup);
        let p = &mut desired.properties;
        p.entry("node_size".to_owned()).or_insert(json!("Small"));
        if !p.contains_key("spark_version") {
            let current = runtimes::RUNTIMES
                .iter()
                .rev()
                .find(|rt| rt.end_of_support.is_none())
                .map_or("3.5", |rt| rt.version);
            p.insert("spark_version".to_owned(), json!(current));
        }
        if !p.contains_key("node_count") && !p.contains_key("autoscale.min") {
            p.insert("autoscale.min".to_owned(), json!(3));
            p.insert("autoscale.max".to_owned(), json!(10));
        }
        if p.get("auto_pause_minutes").is_none_or(Value::is_null) {
            p.insert("auto_pause_minutes".to_owned(), json!(15));
        }
        self.request(r, spec, lookup, &desired, true)
    }

    fn cannot_create(&self, r: &Resource) -> Option<(String, String)> {
        let version = settings(r).spark_version.as_deref()?;
        let end = runtimes::find(version)?.end_of_support?;
        Some((
            format!("the Synapse runtime `{version}` reached end of support on {end}: Azure creates no new pool on it"),
            format!("set spark_version to {} (a pool that exists on `{version}` is still managed)", runtimes::supported()),
        ))
    }

    fn replace_paths(&self) -> &'static [&'static str] {
        // A pool never moves region; everything else is updated with a PUT.
        &["location"]
    }

    fn spec_fields(
        &self,
        id: &ArmId,
        body: &Value,
        keys: &dyn discover::Keys,
        existing: bool,
    ) -> Result<Fields, String> {
        let mut f = Fields::new();
        f.insert("name".into(), Field::Text(id.name().to_owned()));
        let workspace = id
            .parent()
            .and_then(|w| keys.address_of(&w))
            .ok_or("its Synapse workspace is not described")?;
        f.insert("synapse_workspace".into(), Field::Key(workspace));
        if existing {
            return Ok(f);
        }
        let observed = self.observed(body, None);
        let text = |k: &str| observed.get(k).and_then(Value::as_str).map(str::to_owned);
        if let Some(l) = text("location") {
            f.insert("location".into(), Field::Text(l));
        }
        for key in ["node_size", "spark_version"] {
            let v = text(key).ok_or_else(|| format!("Azure reports no `{key}` for it"))?;
            f.insert(key.into(), Field::Text(v));
        }
        if let Some(family) = text("node_size_family").filter(|f| f != "MemoryOptimized") {
            f.insert("node_size_family".into(), Field::Text(family));
        }
        match (
            observed.get("autoscale.min"),
            observed.get("autoscale.max"),
            observed.get("node_count"),
        ) {
            (Some(min), Some(max), _) => {
                let mut a = Fields::new();
                a.insert("min".into(), Field::Value(min.clone()));
                a.insert("max".into(), Field::Value(max.clone()));
                f.insert("autoscale".into(), Field::Map(a));
            }
            (_, _, Some(n)) => {
                f.insert("node_count".into(), Field::Value(n.clone()));
            }
            _ => {
                return Err("Azure reports neither autoscale bounds nor a node count for it".into())
            }
        }
        if let Some(m) = observed.get("auto_pause_minutes").filter(|m| !m.is_null()) {
            f.insert("auto_pause_minutes".into(), Field::Value(m.clone()));
        }
        if let Some(tags) = discover::tags_field(body) {
            f.insert("tags".into(), tags);
        }
        Ok(f)
    }

    fn delete_rank(&self) -> u8 {
        3
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{body, SparkPools};
    use crate::addr::Properties;
    use crate::provider::Provider;

    fn props(pairs: &[(&str, serde_json::Value)]) -> Properties {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn autoscale_and_fixed_counts_make_different_bodies() {
        let auto = body(&props(&[
            ("location", json!("westeurope")),
            ("autoscale.min", json!(3)),
            ("autoscale.max", json!(10)),
            ("auto_pause_minutes", json!(15)),
        ]));
        assert_eq!(
            auto["properties"]["autoScale"],
            json!({ "enabled": true, "minNodeCount": 3, "maxNodeCount": 10 })
        );
        assert_eq!(
            auto["properties"]["autoPause"],
            json!({ "enabled": true, "delayInMinutes": 15 })
        );
        let fixed = body(&props(&[
            ("node_count", json!(4)),
            ("auto_pause_minutes", json!(null)),
        ]));
        assert_eq!(
            fixed["properties"]["autoScale"],
            json!({ "enabled": false })
        );
        assert_eq!(fixed["properties"]["nodeCount"], json!(4));
        assert_eq!(
            fixed["properties"]["autoPause"],
            json!({ "enabled": false })
        );
    }

    #[test]
    fn observed_round_trips_what_body_sends() {
        let wanted = props(&[
            ("location", json!("westeurope")),
            ("node_size", json!("Small")),
            ("node_size_family", json!("MemoryOptimized")),
            ("spark_version", json!("3.5")),
            ("autoscale.min", json!(3)),
            ("autoscale.max", json!(10)),
            ("auto_pause_minutes", json!(15)),
            ("tags.team", json!("a")),
        ]);
        let mut sent = body(&wanted);
        // Azure reports a node count with autoscale on: not a setting then.
        sent["properties"]["nodeCount"] = json!(7);
        assert_eq!(SparkPools.observed(&sent, None), wanted);
    }
}
