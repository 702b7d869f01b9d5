//! `Microsoft.MachineLearningServices/workspaces/linkedServices`, the AML ⇄
//! Synapse link (azure-rest.md §3): listed per AML workspace; a PUT answers
//! 200 with the link's new system-assigned identity (no long-running
//! operation); removal is an unregister. Creating one needs Owner on the
//! Synapse workspace, and Azure no longer registers links for new Synapse
//! workspaces, which the plan says.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::addr::{Address, ArmId, Properties, ResourceKind};
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{fold_id, id_of, str_at, Desired, Lookup, Need, Provider, Request, Words};
use crate::spec::model::Link;
use crate::spec::{Body, LoadedSpec, Resource};

/// The only published api-version of linked services.
pub const API_VERSION: &str = "2020-09-01-preview";

/// The provider.
pub struct Links;

fn settings(r: &Resource) -> &Link {
    match &r.body {
        Body::Link(l) => l,
        _ => unreachable!("the link provider is only given links"),
    }
}

#[async_trait::async_trait]
impl Provider for Links {
    fn kind(&self) -> ResourceKind {
        ResourceKind::Link
    }

    fn parent_kind(&self) -> Option<ResourceKind> {
        Some(ResourceKind::MlWorkspace)
    }

    fn collection(&self) -> &'static str {
        "linkedServices"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn parent_id(&self, r: &Resource, spec: &LoadedSpec) -> Option<ArmId> {
        id_of(spec, ResourceKind::MlWorkspace, &settings(r).ml_workspace)
    }

    fn desired(&self, r: &Resource, spec: &LoadedSpec, _lookup: &dyn Lookup) -> Desired {
        let mut p = Properties::new();
        if let Some(syn) = id_of(
            spec,
            ResourceKind::SynapseWorkspace,
            &settings(r).synapse_workspace,
        ) {
            p.insert("synapse_workspace_id".into(), json!(syn.folded()));
        }
        Desired {
            properties: p,
            unknown: IndexMap::new(),
        }
    }

    /// The PUT body, as azureml-core sends it. The location is the AML
    /// workspace's, as Azure reports it when it exists.
    fn request(
        &self,
        r: &Resource,
        spec: &LoadedSpec,
        lookup: &dyn Lookup,
        _desired: &Desired,
        _create: bool,
    ) -> Request {
        let l = settings(r);
        let ml = Address::new(ResourceKind::MlWorkspace, &l.ml_workspace);
        let location = lookup
            .body(&ml)
            .and_then(|b| str_at(b, "/location"))
            .map(str::to_owned)
            .or_else(|| {
                spec.resources
                    .get(&ml)
                    .map(|m| m.placement.location.clone())
            })
            .unwrap_or_default();
        let syn = id_of(spec, ResourceKind::SynapseWorkspace, &l.synapse_workspace)
            .map(|id| id.to_string())
            .unwrap_or_default();
        Request::new(
            "PUT",
            API_VERSION,
            json!({
                "name": r.name,
                "location": location,
                "identity": { "type": "SystemAssigned" },
                "properties": { "linkedServiceResourceId": syn, "linkType": "Synapse" },
            }),
        )
    }

    fn observed(&self, body: &Value, _desired: Option<&Properties>) -> Properties {
        let mut p = Properties::new();
        if let Some(id) = str_at(body, "/properties/linkedServiceResourceId") {
            p.insert("synapse_workspace_id".into(), json!(fold_id(id)));
        }
        p
    }

    fn replace_paths(&self) -> &'static [&'static str] {
        // A link cannot be pointed at another Synapse workspace.
        &["synapse_workspace_id"]
    }

    fn mints_identity(&self, _r: &Resource) -> bool {
        true
    }

    fn points_at(&self, body: &Value) -> Option<ArmId> {
        str_at(body, "/properties/linkedServiceResourceId").map(ArmId::new)
    }

    fn spec_fields(
        &self,
        id: &ArmId,
        body: &Value,
        keys: &dyn discover::Keys,
        _existing: bool,
    ) -> Result<Fields, String> {
        let mut f = Fields::new();
        let ml = id
            .parent()
            .and_then(|p| keys.address_of(&p))
            .ok_or("its AML workspace is not described")?;
        let target = self
            .points_at(body)
            .ok_or("it names no Synapse workspace")?;
        let synapse = keys.address_of(&target).ok_or_else(|| {
            format!("it points at Synapse workspace {target}, which does not exist")
        })?;
        f.insert("ml_workspace".into(), Field::Key(ml));
        f.insert("synapse_workspace".into(), Field::Key(synapse));
        f.insert("name".into(), Field::Text(id.name().to_owned()));
        Ok(f)
    }

    fn serves(&self, id: &ArmId, properties: &Properties) -> Option<(ArmId, ArmId)> {
        let synapse = properties.get("synapse_workspace_id")?.as_str()?;
        Some((id.parent()?, ArmId::new(synapse)))
    }

    fn delete_rank(&self) -> u8 {
        2
    }

    fn words(&self) -> Words {
        Words {
            delete: "unregister",
            deleting: "unregistering",
            deleted: "unregistered",
            destroyed: "unregistered",
            created: "registered",
        }
    }

    fn write_lock(&self, id: &ArmId) -> Option<ArmId> {
        id.parent()
    }

    fn needs(&self, _id: &ArmId, request: Option<&Request>, _caller: Option<&str>) -> Vec<Need> {
        request
            .and_then(|r| str_at(&r.body, "/properties/linkedServiceResourceId"))
            .map(|ws| {
                vec![Need {
                    resource: ArmId::new(ws),
                    or_child: None,
                    lacking: "is not Owner on Synapse workspace `{name}`; creating a link needs Owner",
                    hint: "ask for the Owner role on {id} (Contributor can only use existing links), or attach pools with their own identity instead",
                }]
            })
            .unwrap_or_default()
    }

    fn creation_warning(&self) -> Option<(&'static str, &'static str)> {
        Some((
            "on the deprecated linked-service path",
            "Azure no longer registers new linked services for new Synapse workspaces; the recommended path is an attachment with `identity: system_assigned` and a role grant to it (see examples/attach-with-identity.yaml)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Links;
    use crate::addr::ArmId;
    use crate::provider::{Provider, Request};

    #[test]
    fn observed_folds_the_linked_workspace_id() {
        let p = Links.observed(
            &json!({ "properties": { "linkedServiceResourceId": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Synapse/workspaces/Syn" } }),
            None,
        );
        assert_eq!(
            p["synapse_workspace_id"],
            json!("/subscriptions/s/resourcegroups/rg/providers/microsoft.synapse/workspaces/syn")
        );
    }

    #[test]
    fn creating_a_link_needs_owner_on_its_synapse_workspace_and_deleting_does_not() {
        let ws = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Synapse/workspaces/syn";
        let id = ArmId::new("/subscriptions/S/resourceGroups/RG/providers/Microsoft.MachineLearningServices/workspaces/ml/linkedServices/l");
        let request = Request::new(
            "PUT",
            "v",
            json!({ "properties": { "linkedServiceResourceId": ws } }),
        );
        let needs = Links.needs(&id, Some(&request), None);
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].resource, ArmId::new(ws));
        assert_eq!(needs[0].or_child, None);
        assert!(Links.needs(&id, None, None).is_empty());
        assert_eq!(
            Links.write_lock(&id).map(|w| w.name().to_owned()),
            Some("ml".into())
        );
    }
}
