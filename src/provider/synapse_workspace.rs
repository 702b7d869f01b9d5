//! `Microsoft.Synapse/workspaces` (azure-rest.md §5): read with its own GET;
//! created with a PUT and updated with a PATCH (both long-running operations),
//! into a resource group made first if missing. The SQL administrator password
//! is never a property: the request names the environment variable it is read
//! from when the PUT is sent.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::addr::{ArmId, Properties, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{
    fold_location, identity_type, put_tags, read_identity, read_tags, str_at, tags_body, Desired,
    Fill, Lookup, Provider, Request,
};
use crate::spec::model::{Identity, SynapseWorkspace};
use crate::spec::{Body, LoadedSpec, Resource};

/// The api-version used for Synapse workspaces and pools.
pub const API_VERSION: &str = "2021-06-01";

/// Where the password goes in a create request.
const PASSWORD: &str = "/properties/sqlAdministratorLoginPassword";

/// The provider.
pub struct SynapseWorkspaces;

fn settings(r: &Resource) -> &SynapseWorkspace {
    match &r.body {
        Body::SynapseWorkspace(w) => w,
        _ => unreachable!("the Synapse workspace provider is only given Synapse workspaces"),
    }
}

/// The identity type as the 2021-06-01 definition allows it: its
/// `ManagedIdentity.type` is a closed enum of `None`, `SystemAssigned` and
/// `SystemAssigned,UserAssigned` (workspace.json), so user-assigned identities
/// always come with the system-assigned one.
fn synapse_identity_type(identity: Option<&Identity>) -> String {
    match identity {
        Some(Identity::UserAssigned(_)) => "SystemAssigned,UserAssigned".into(),
        other => identity_type(other, "SystemAssigned"),
    }
}

fn synapse_identity_body(identity: Option<&Identity>) -> Value {
    let mut body = json!({ "type": synapse_identity_type(identity) });
    if let Some(Identity::UserAssigned(ids)) = identity {
        body["userAssignedIdentities"] = ids.iter().map(|id| (id.clone(), json!({}))).collect();
    }
    body
}

/// The data-plane endpoint of a workspace, as Azure reports it.
pub fn dev_endpoint(body: &Value) -> Option<String> {
    str_at(body, "/properties/connectivityEndpoints/dev")
        .map(|s| s.trim_end_matches('/').to_owned())
}

#[async_trait::async_trait]
impl Provider for SynapseWorkspaces {
    fn kind(&self) -> ResourceKind {
        ResourceKind::SynapseWorkspace
    }

    fn collection(&self) -> &'static str {
        "Microsoft.Synapse/workspaces"
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
            json!(w.public_network_access.as_deref().unwrap_or("Enabled")),
        );
        p.insert(
            "identity".into(),
            json!(synapse_identity_type(w.identity.as_ref())),
        );
        put_tags(&mut p, &spec.defaults.tags, &w.tags);
        Desired {
            properties: p,
            unknown: IndexMap::new(),
        }
    }

    fn request(
        &self,
        r: &Resource,
        _spec: &LoadedSpec,
        _lookup: &dyn Lookup,
        desired: &Desired,
        create: bool,
    ) -> Request {
        let w = settings(r);
        let props = &desired.properties;
        if !create {
            return Request::new(
                "PATCH",
                API_VERSION,
                json!({
                    "tags": tags_body(props),
                    "identity": synapse_identity_body(w.identity.as_ref()),
                    "properties": { "publicNetworkAccess": props.get("public_network_access") },
                }),
            );
        }
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
        let mut request = Request::new(
            "PUT",
            API_VERSION,
            json!({
                "location": props.get("location"),
                "identity": synapse_identity_body(w.identity.as_ref()),
                "tags": tags_body(props),
                "properties": properties,
            }),
        );
        if let Some(var) = &w.sql_admin_password_env {
            request
                .fill
                .insert(PASSWORD.into(), Fill::Env { var: var.clone() });
        }
        request
    }

    fn observed(&self, body: &Value, _desired: Option<&Properties>) -> Properties {
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

    fn replace_paths(&self) -> &'static [&'static str] {
        &[
            "location",
            "data_lake.account_url",
            "data_lake.filesystem",
            "sql_admin_login",
            "managed_resource_group",
            "managed_virtual_network",
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
        let lake = |k: &str| str_at(body, &format!("/properties/defaultDataLakeStorage/{k}"));
        let (Some(url), Some(filesystem)) = (lake("accountUrl"), lake("filesystem")) else {
            return Err(
                "Azure reports no default data lake for it, which a managed workspace needs".into(),
            );
        };
        let mut data_lake = Fields::new();
        data_lake.insert("account_url".into(), Field::Text(url.to_owned()));
        data_lake.insert("filesystem".into(), Field::Text(filesystem.to_owned()));
        if let Some(rid) = lake("resourceId") {
            data_lake.insert("resource_id".into(), Field::Text(rid.to_owned()));
        }
        f.insert("data_lake".into(), Field::Map(data_lake));
        let login = str_at(body, "/properties/sqlAdministratorLogin").ok_or(
            "Azure reports no SQL administrator login for it, which a managed workspace needs",
        )?;
        f.insert("sql_admin_login".into(), Field::Text(login.to_owned()));
        if let Some(m) = str_at(body, "/properties/managedResourceGroupName") {
            f.insert("managed_resource_group".into(), Field::Text(m.to_owned()));
        }
        if str_at(body, "/properties/managedVirtualNetwork") == Some("default") {
            f.insert("managed_virtual_network".into(), Field::Value(json!(true)));
        }
        if let Some(pna) =
            str_at(body, "/properties/publicNetworkAccess").filter(|p| *p != "Enabled")
        {
            f.insert("public_network_access".into(), Field::Text(pna.to_owned()));
        }
        if let Some(identity) = discover::identity_field(body, "SystemAssigned") {
            f.insert("identity".into(), identity);
        }
        if let Some(tags) = discover::tags_field(body) {
            f.insert("tags".into(), tags);
        }
        Ok(f)
    }

    fn delete_rank(&self) -> u8 {
        4
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{dev_endpoint, synapse_identity_body, SynapseWorkspaces};
    use crate::provider::Provider;
    use crate::spec::model::Identity;

    #[test]
    fn user_assigned_identities_come_with_the_system_assigned_one() {
        // workspace.json (2021-06-01): ManagedIdentity.type is None | SystemAssigned |
        // "SystemAssigned,UserAssigned" (closed); "UserAssigned" alone is refused.
        let ids = vec!["/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u".to_owned()];
        let body = synapse_identity_body(Some(&Identity::UserAssigned(ids.clone())));
        assert_eq!(body["type"], json!("SystemAssigned,UserAssigned"));
        assert_eq!(body["userAssignedIdentities"][&ids[0]], json!({}));
        assert_eq!(
            synapse_identity_body(None),
            json!({ "type": "SystemAssigned" })
        );
        assert_eq!(
            synapse_identity_body(Some(&Identity::None)),
            json!({ "type": "None" })
        );
    }

    #[test]
    fn observed_defaults_what_azure_leaves_out() {
        let p = SynapseWorkspaces.observed(
            &json!({ "location": "westeurope", "properties": {
                "defaultDataLakeStorage": { "accountUrl": "https://A.dfs.core.windows.net/", "filesystem": "fs" }
            }}),
            None,
        );
        assert_eq!(
            p["data_lake.account_url"],
            json!("https://a.dfs.core.windows.net")
        );
        assert_eq!(p["public_network_access"], json!("Enabled"));
        assert_eq!(p["managed_virtual_network"], json!(false));
        assert_eq!(p["identity"], json!("None"));
    }

    #[test]
    fn the_data_plane_endpoint_loses_its_trailing_slash() {
        let body = json!({ "properties": { "connectivityEndpoints": { "dev": "https://w.dev.azuresynapse.net/" } } });
        assert_eq!(
            dev_endpoint(&body).as_deref(),
            Some("https://w.dev.azuresynapse.net")
        );
        assert_eq!(dev_endpoint(&json!({})), None);
    }
}
