//! `Microsoft.MachineLearningServices/workspaces/computes` of type
//! `SynapseSpark`: a Spark pool attached to an AML workspace (azure-rest.md §4).
//! Listed per AML workspace (other compute types are not synlink's). A PUT
//! overwrites a compute and only `AmlCompute` can be patched, so every change,
//! and the repair of one that ended `Failed`, is a replacement (detach, then
//! attach); removal is always a detach, never a delete of the pool.

use indexmap::IndexMap;
use serde_json::{json, Value};

use crate::addr::{Address, ArmId, Properties, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{
    arm_get, arm_list, fold_id, fold_location, id_of, identity_body, identity_type, method,
    provisioning_status, put_tags, read_identity, read_tags, str_at, tags_body, Applied,
    ApplyContext, Desired, Lookup, Provider, Repair, Request, Status, Words,
};
use crate::spec::model::{Attachment, Identity};
use crate::spec::{Body, LoadedSpec, Resource};

/// The computes api-version (the one azurerm uses for Synapse Spark).
pub const API_VERSION: &str = "2023-04-01";

/// The provider.
pub struct Attachments;

fn settings(r: &Resource) -> &Attachment {
    match &r.body {
        Body::Attachment(a) => a,
        _ => unreachable!("the attachment provider is only given attachments"),
    }
}

/// Whether a compute is an attached Synapse pool (and so ours to manage).
fn is_synapse_spark(body: &Value) -> bool {
    str_at(body, "/properties/computeType").is_some_and(|t| t.eq_ignore_ascii_case("SynapseSpark"))
}

#[async_trait::async_trait]
impl Provider for Attachments {
    fn kind(&self) -> ResourceKind {
        ResourceKind::Attachment
    }

    fn parent_kind(&self) -> Option<ResourceKind> {
        Some(ResourceKind::MlWorkspace)
    }

    fn collection(&self) -> &'static str {
        "computes"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn parent_id(&self, r: &Resource, spec: &LoadedSpec) -> Option<ArmId> {
        id_of(spec, ResourceKind::MlWorkspace, &settings(r).ml_workspace)
    }

    fn desired(&self, r: &Resource, spec: &LoadedSpec, _lookup: &dyn Lookup) -> Desired {
        let a = settings(r);
        let mut p = Properties::new();
        if let Some(pool) = id_of(spec, ResourceKind::SparkPool, &a.spark_pool) {
            p.insert("resource_id".into(), json!(pool.folded()));
        }
        p.insert(
            "location".into(),
            json!(fold_location(&r.placement.location)),
        );
        p.insert(
            "identity".into(),
            json!(identity_type(a.identity.as_ref(), "None")),
        );
        if let Some(d) = &a.description {
            p.insert("description".into(), json!(d));
        }
        put_tags(&mut p, &spec.defaults.tags, &a.tags);
        Desired {
            properties: p,
            unknown: IndexMap::new(),
        }
    }

    fn request(
        &self,
        r: &Resource,
        spec: &LoadedSpec,
        _lookup: &dyn Lookup,
        desired: &Desired,
        _create: bool,
    ) -> Request {
        let a = settings(r);
        let props = &desired.properties;
        let pool = id_of(spec, ResourceKind::SparkPool, &a.spark_pool)
            .map(|id| id.to_string())
            .unwrap_or_default();
        let mut properties = json!({ "computeType": "SynapseSpark", "resourceId": pool });
        if let Some(d) = &a.description {
            properties["description"] = json!(d);
        }
        Request::new(
            "PUT",
            API_VERSION,
            json!({
                "location": props.get("location"),
                "identity": identity_body(a.identity.as_ref(), "None"),
                "tags": tags_body(props),
                "properties": properties,
            }),
        )
    }

    fn observed(&self, body: &Value, _desired: Option<&Properties>) -> Properties {
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

    fn replace_paths(&self) -> &'static [&'static str] {
        &[
            "resource_id",
            "location",
            "identity",
            "description",
            "tags.*",
        ]
    }

    fn mints_identity(&self, r: &Resource) -> bool {
        matches!(settings(r).identity, Some(Identity::SystemAssigned))
    }

    fn points_at(&self, body: &Value) -> Option<ArmId> {
        str_at(body, "/properties/resourceId").map(ArmId::new)
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
        let target = self.points_at(body).ok_or("it names no Spark pool")?;
        let pool = keys
            .address_of(&target)
            .ok_or_else(|| format!("it attaches Spark pool {target}, which does not exist"))?;
        f.insert("ml_workspace".into(), Field::Key(ml));
        f.insert("spark_pool".into(), Field::Key(pool));
        f.insert("name".into(), Field::Text(id.name().to_owned()));
        if let Some(identity) = discover::identity_field(body, "None") {
            f.insert("identity".into(), identity);
        }
        if let Some(d) = str_at(body, "/properties/description") {
            f.insert("description".into(), Field::Text(d.to_owned()));
        }
        if let Some(tags) = discover::tags_field(body) {
            f.insert("tags".into(), tags);
        }
        Ok(f)
    }

    fn serves(&self, id: &ArmId, properties: &Properties) -> Option<(ArmId, ArmId)> {
        let pool = ArmId::new(properties.get("resource_id")?.as_str()?);
        Some((id.parent()?, pool.parent()?))
    }

    fn repair(&self) -> Repair {
        Repair::Replace
    }

    fn delete_rank(&self) -> u8 {
        1
    }

    fn words(&self) -> Words {
        Words {
            delete: "detach",
            deleting: "detaching",
            deleted: "detached",
            destroyed: "detached",
            created: "attached",
        }
    }

    fn write_lock(&self, id: &ArmId) -> Option<ArmId> {
        id.parent()
    }

    async fn read(
        &self,
        client: &Client,
        id: &ArmId,
        _parent: Option<&Value>,
    ) -> Result<Option<Value>, CloudError> {
        Ok(arm_get(client, id, API_VERSION)
            .await?
            .filter(is_synapse_spark))
    }

    async fn list(
        &self,
        client: &Client,
        parent_id: &ArmId,
        _parent: &Value,
    ) -> Result<Vec<(ArmId, Value)>, CloudError> {
        arm_list(
            client,
            parent_id,
            self.collection(),
            API_VERSION,
            is_synapse_spark,
        )
        .await
    }

    async fn write(
        &self,
        ctx: &ApplyContext,
        _address: &Address,
        id: &ArmId,
        request: &Request,
    ) -> Result<Applied, CloudError> {
        // The compute's identity is read back only when it has one; a failed
        // attach ends the operation `Failed`, which the client reports.
        let read_back = str_at(&request.body, "/identity/type").is_some_and(|t| t != "None");
        let body = ctx
            .client
            .put_with(
                method(request),
                id.as_str(),
                &request.api_version,
                &request.body,
                read_back,
            )
            .await?;
        if let Status::Failed(state) = provisioning_status(&body).clone() {
            return Err(CloudError::OperationFailed {
                path: id.to_string(),
                status: state,
                code: "AttachFailed".into(),
                message: "the compute was attached but its provisioning state is not Succeeded"
                    .into(),
            });
        }
        Ok(Applied {
            id: id.clone(),
            outputs: self.outputs(&body),
        })
    }

    async fn delete(&self, ctx: &ApplyContext, id: &ArmId) -> Result<(), CloudError> {
        // Never delete the pool through its attachment: detach only.
        ctx.client
            .delete(
                &format!("{id}?underlyingResourceAction=Detach"),
                API_VERSION,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{is_synapse_spark, Attachments};
    use crate::provider::{Provider, Repair, Status};

    #[test]
    fn only_synapse_spark_computes_are_attachments() {
        assert!(is_synapse_spark(
            &json!({ "properties": { "computeType": "SynapseSpark" } })
        ));
        assert!(!is_synapse_spark(
            &json!({ "properties": { "computeType": "AmlCompute" } })
        ));
        assert!(!is_synapse_spark(&json!({})));
    }

    #[test]
    fn a_failed_attach_is_repaired_by_detaching_and_attaching_again() {
        assert_eq!(Attachments.repair(), Repair::Replace);
        let failed = json!({ "properties": { "computeType": "SynapseSpark", "provisioningState": "Failed" } });
        assert_eq!(Attachments.status(&failed), Status::Failed("Failed".into()));
        let creating = json!({ "properties": { "provisioningState": "Creating" } });
        assert_eq!(
            Attachments.status(&creating),
            Status::Running("Creating".into())
        );
    }

    #[test]
    fn observed_reads_pool_identity_and_tags() {
        let p = Attachments.observed(
            &json!({
                "location": "westeurope",
                "identity": { "type": "SystemAssigned", "principalId": "p" },
                "tags": { "a": "b" },
                "properties": { "computeType": "SynapseSpark", "resourceId": "/subscriptions/S/X" }
            }),
            None,
        );
        assert_eq!(p["resource_id"], json!("/subscriptions/s/x"));
        assert_eq!(p["identity"], json!("SystemAssigned"));
        assert_eq!(p["tags.a"], json!("b"));
        assert!(Attachments.replace_paths().contains(&"tags.*"));
    }
}
