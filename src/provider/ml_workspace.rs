//! `Microsoft.MachineLearningServices/workspaces` (azure-rest.md §2): read with
//! its own GET; created and updated with one PUT (a long-running operation) into
//! a resource group made first if missing; its linked resources are immutable.

use serde_json::{json, Value};

use crate::addr::{ArmId, Properties, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{
    fold_id, fold_location, identity_body, identity_type, put_tags, read_identity, read_tags,
    str_at, tags_body, Desired, Lookup, Provider, Request,
};
use crate::spec::model::MlWorkspace;
use crate::spec::{Body, LoadedSpec, Resource};

/// The api-version used for workspaces.
pub const API_VERSION: &str = "2024-10-01";

/// `Sku.tier` of the 2024-10-01 definition is a closed enum (`modelAsString:
/// false`) with these values, in this casing (workspaceRP.json, `Sku`).
const SKU_TIERS: [&str; 4] = ["Free", "Basic", "Standard", "Premium"];

/// The provider.
pub struct MlWorkspaces;

fn settings(r: &Resource) -> &MlWorkspace {
    match &r.body {
        Body::MlWorkspace(w) => w,
        _ => unreachable!("the ML workspace provider is only given ML workspaces"),
    }
}

/// The `sku` object of a request: the name as written, the tier in the
/// definition's casing when the name is one of its tiers.
fn sku_body(sku: &str) -> Value {
    match SKU_TIERS.iter().find(|t| t.eq_ignore_ascii_case(sku)) {
        Some(tier) => json!({ "name": tier, "tier": tier }),
        None => json!({ "name": sku }),
    }
}

#[async_trait::async_trait]
impl Provider for MlWorkspaces {
    fn kind(&self) -> ResourceKind {
        ResourceKind::MlWorkspace
    }

    fn collection(&self) -> &'static str {
        "Microsoft.MachineLearningServices/workspaces"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn creates_group(&self) -> bool {
        true
    }

    fn id(&self, r: &Resource, _spec: &LoadedSpec) -> Option<ArmId> {
        Some(ArmId::resource(
            &r.placement.subscription,
            &r.placement.resource_group,
            self.collection(),
            &r.name,
        ))
    }

    fn desired(&self, r: &Resource, spec: &LoadedSpec, _lookup: &dyn Lookup) -> Desired {
        let w = settings(r);
        let mut p = Properties::new();
        p.insert(
            "location".into(),
            json!(fold_location(&r.placement.location)),
        );
        p.insert(
            "sku".into(),
            json!(w.sku.as_deref().unwrap_or("Basic").to_ascii_lowercase()),
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
        Desired {
            properties: p,
            unknown: indexmap::IndexMap::new(),
        }
    }

    fn request(
        &self,
        r: &Resource,
        _spec: &LoadedSpec,
        _lookup: &dyn Lookup,
        desired: &Desired,
        _create: bool,
    ) -> Request {
        let w = settings(r);
        let props = &desired.properties;
        let mut properties = serde_json::Map::new();
        // Ids as written (Azure keeps their casing), not folded as properties hold them.
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
        // From the properties, which keep Azure's value where lifecycle ignores a change.
        for (key, field) in [
            ("friendly_name", "friendlyName"),
            ("description", "description"),
        ] {
            if let Some(v) = props.get(key) {
                properties.insert(field.into(), v.clone());
            }
        }
        Request::new(
            "PUT",
            API_VERSION,
            json!({
                "location": props.get("location"),
                "sku": sku_body(props.get("sku").and_then(Value::as_str).unwrap_or("Basic")),
                "identity": identity_body(w.identity.as_ref(), "SystemAssigned"),
                "tags": tags_body(props),
                "properties": properties,
            }),
        )
    }

    fn observed(&self, body: &Value, _desired: Option<&Properties>) -> Properties {
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

    fn replace_paths(&self) -> &'static [&'static str] {
        // The linked resources are immutable after creation; a region never moves.
        &[
            "location",
            "storage_account",
            "key_vault",
            "application_insights",
            "container_registry",
        ]
    }

    async fn list_in(
        &self,
        client: &Client,
        scope: &ArmId,
    ) -> Result<Vec<(ArmId, Value)>, CloudError> {
        discover::list_top(client, scope, self.collection(), API_VERSION).await
    }

    fn spec_fields(
        &self,
        id: &ArmId,
        body: &Value,
        _keys: &dyn discover::Keys,
        existing: bool,
    ) -> Result<Fields, String> {
        let mut f = discover::placement(id, body);
        if existing {
            return Ok(f);
        }
        for (key, field) in [
            ("storage_account", "/properties/storageAccount"),
            ("key_vault", "/properties/keyVault"),
            ("application_insights", "/properties/applicationInsights"),
        ] {
            let value = str_at(body, field)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    format!("Azure reports no `{field}` for it, which a managed workspace needs")
                })?;
            f.insert(key.into(), Field::Text(value.to_owned()));
        }
        for (key, field) in [
            ("container_registry", "/properties/containerRegistry"),
            ("friendly_name", "/properties/friendlyName"),
            ("description", "/properties/description"),
        ] {
            if let Some(v) = str_at(body, field).filter(|v| !v.is_empty()) {
                f.insert(key.into(), Field::Text(v.to_owned()));
            }
        }
        if let Some(identity) = discover::identity_field(body, "SystemAssigned") {
            f.insert("identity".into(), identity);
        }
        if let Some(sku) = str_at(body, "/sku/name").filter(|s| !s.eq_ignore_ascii_case("Basic")) {
            f.insert("sku".into(), Field::Text(sku.to_owned()));
        }
        if let Some(tags) = discover::tags_field(body) {
            f.insert("tags".into(), tags);
        }
        Ok(f)
    }

    fn delete_rank(&self) -> u8 {
        4
    }

    fn write_lock(&self, id: &ArmId) -> Option<ArmId> {
        Some(id.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{sku_body, MlWorkspaces};
    use crate::provider::Provider;

    #[test]
    fn sku_tier_uses_the_closed_enum_casing() {
        // workspaceRP.json (2024-10-01): Sku.tier is Free|Basic|Standard|Premium, modelAsString false.
        assert_eq!(
            sku_body("basic"),
            json!({ "name": "Basic", "tier": "Basic" })
        );
        assert_eq!(
            sku_body("Premium"),
            json!({ "name": "Premium", "tier": "Premium" })
        );
        assert_eq!(sku_body("Enterprise"), json!({ "name": "Enterprise" }));
    }

    #[test]
    fn observed_reads_ids_folded_and_drops_empty_ones() {
        let body = json!({
            "location": "West Europe",
            "sku": { "name": "Basic", "tier": "Basic" },
            "identity": { "type": "SystemAssigned", "principalId": "p" },
            "tags": { "team": "a" },
            "properties": {
                "storageAccount": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/St",
                "containerRegistry": "",
                "friendlyName": "Team A"
            }
        });
        let p = MlWorkspaces.observed(&body, None);
        assert_eq!(p["location"], json!("westeurope"));
        assert_eq!(p["sku"], json!("basic"));
        assert_eq!(
            p["storage_account"],
            json!(
                "/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/st"
            )
        );
        assert!(!p.contains_key("container_registry"));
        assert_eq!(p["friendly_name"], json!("Team A"));
        assert_eq!(p["identity"], json!("SystemAssigned"));
        assert_eq!(p["tags.team"], json!("a"));
        assert_eq!(MlWorkspaces.outputs(&body)["principal_id"], json!("p"));
    }

    #[test]
    fn the_linked_resources_and_region_force_replacement() {
        let paths = MlWorkspaces.replace_paths();
        for p in [
            "location",
            "storage_account",
            "key_vault",
            "application_insights",
        ] {
            assert!(paths.contains(&p), "{p}");
        }
        assert!(!paths.contains(&"tags.*") && !paths.contains(&"description"));
    }
}
