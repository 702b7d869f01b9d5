//! `synlink import`: reads one existing resource by id and gives the
//! properties and outputs the state records for it.

use indexmap::IndexMap;
use reqwest::Method;
use serde_json::Value;

use crate::addr::{Address, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::cloud::resources::{
    attachment, identity_outputs, link, ml_workspace, role_grant, spark_pool, synapse_workspace,
};
use crate::plan::refresh::parent_of;
use crate::plan::Properties;

/// Reads the resource; `None` when it does not exist.
pub async fn read(
    client: &Client,
    address: &Address,
    id: &str,
) -> Result<Option<(Properties, IndexMap<String, Value>)>, CloudError> {
    let api = match address.kind {
        ResourceKind::MlWorkspace => ml_workspace::API_VERSION,
        ResourceKind::SynapseWorkspace => synapse_workspace::API_VERSION,
        ResourceKind::SparkPool => spark_pool::API_VERSION,
        ResourceKind::Link => link::API_VERSION,
        ResourceKind::Attachment => attachment::API_VERSION,
        ResourceKind::RoleGrant => {
            let workspace = parent_of(id).unwrap_or_default();
            let Some(ws) = client
                .get(workspace, synapse_workspace::API_VERSION)
                .await?
            else {
                return Ok(None);
            };
            let Some(endpoint) = synapse_workspace::dev_endpoint(&ws) else {
                return Ok(None);
            };
            let aid = id.rsplit('/').next().unwrap_or_default();
            return match client
                .data_plane(
                    Method::GET,
                    &format!("{endpoint}/roleAssignments/{aid}"),
                    role_grant::API_VERSION,
                    None,
                )
                .await
            {
                Ok(r) => Ok(Some((
                    role_grant::observed(&r.body, "ServicePrincipal"),
                    IndexMap::new(),
                ))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            };
        }
    };
    let Some(body) = client.get(id, api).await? else {
        return Ok(None);
    };
    let props = match address.kind {
        ResourceKind::MlWorkspace => ml_workspace::observed(&body),
        ResourceKind::SynapseWorkspace => synapse_workspace::observed(&body),
        ResourceKind::SparkPool => spark_pool::observed(&body),
        ResourceKind::Link => link::observed(&body),
        _ => attachment::observed(&body),
    };
    Ok(Some((props, identity_outputs(&body))))
}
