//! `Microsoft.MachineLearningServices/workspaces/computes` with `computeType:
//! SynapseSpark` (azure-rest.md §4): PUT answers 201 (200 on overwrite) with
//! `Azure-AsyncOperation`; the attach ends Succeeded with `properties.properties` filled
//! from the pool, or Failed when the pool does not exist (lro.rs finishes it).
//! `properties.properties` is an object at every provisioning state (azureml-core and
//! azure-ai-ml read it right after the PUT and in lists): the pool's settings as far as
//! the pool is known, else what its id names. ARM answers omit unset properties, as the
//! definition has them; AML's regional `/rp/workspaces/…` path, which azureml-core reads
//! computes through, answers every key azureml-core validates (`description`,
//! `provisioningErrors`, … as `null` when unset, as AML's service does). DELETE needs
//! `underlyingResourceAction=Detach` (Delete is refused for attached Synapse pools).
//! The lifecycle is lifecycle.rs's; this file holds the compute's own rules.

use http::StatusCode;
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_bool, opt_str, parse_object, req_str, tags};
use crate::clock::rfc3339;
use crate::lro;
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::operation::OpAction;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    location_or_parent, refuse_if_deleting, required_properties, system_data, Absent, Container,
    Delete, Lifecycle, Located, Patch, PutLro, ResourceType, ASYNC, ASYNC_AND_LOCATION,
};
use crate::routes::ml_workspaces;
use crate::store::{Kind, Resource, Store};

/// Computes of AML workspaces (`SynapseSpark` attachments).
pub struct Computes;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::Compute,
    api: Api::MlComputes,
    container: Container::Parent {
        kind: Kind::MlWorkspace,
        segment: "computes",
    },
    actions: "Microsoft.MachineLearningServices/workspaces/computes",
    allow: "GET, PUT, PATCH, DELETE",
    head: false,
    created: StatusCode::CREATED,
    // The attach may end at once (a zero duration): the answer then shows its outcome.
    put: Some(PutLro {
        action: OpAction::Attach,
        polling: ASYNC,
        answer_settled: true,
    }),
    patch: Patch::Refused(
        "PATCH updates the scale settings of AmlCompute only; a SynapseSpark compute has none.",
    ),
    delete: Delete::Lro {
        polling: ASYNC_AND_LOCATION,
        with_body: false,
    },
    absent: Absent::NoContent,
};

impl ResourceType for Computes {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn put(&self, store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        names::check_compute(at.name)?;
        ml_workspaces::refuse_if_busy(store, ctx, parent_id(at), &at.id)?;
        let req = parse_object(ctx.body)?;
        let props = required_properties(&req)?;
        let compute_type = req_str(props, "computeType", "properties.computeType")?;
        if !compute_type.eq_ignore_ascii_case("SynapseSpark") {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("Compute type '{compute_type}' is not supported by the emulator: it serves computeType 'SynapseSpark' only."),
            ));
        }
        let pool_id = req_str(props, "resourceId", "properties.resourceId")?;
        if !is_pool_id(pool_id) {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("Invalid resourceId '{pool_id}': a SynapseSpark compute attaches /subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Synapse/workspaces/{{ws}}/bigDataPools/{{pool}}."),
            ));
        }
        if let Some(r) = &at.existing {
            refuse_if_deleting(&r.body, &r.id)?;
        }
        let prev = at.previous();
        let identity = managed_identity::build(
            store,
            &req,
            prev.and_then(|b| b.get("identity")),
            at.name,
            Allowed::Any,
            false,
            ctx.now,
        )?;
        let location = location_or_parent(&req, at)?;
        let stamp = rfc3339(ctx.now);
        let created = prev
            .and_then(|b| b.pointer("/properties/createdOn"))
            .cloned()
            .unwrap_or_else(|| json!(stamp));
        let pool = store
            .get(pool_id)
            .filter(|p| p.kind == Kind::BigDataPool)
            .cloned();
        let pool_properties = pool.as_ref().map_or_else(
            || lro::pool_properties_from_id(pool_id),
            lro::attached_pool_properties,
        );
        Ok(json!({
            "id": at.id,
            "name": at.id.rsplit('/').next().unwrap_or(at.name),
            "type": LIFECYCLE.kind.type_name(),
            "location": location,
            "tags": tags(&req)?,
            "identity": identity,
            "systemData": system_data(prev, &ctx.caller.oid, ctx.now),
            "properties": {
                "computeType": "SynapseSpark",
                "computeLocation": opt_str(props, "computeLocation", "properties.computeLocation")?.map(str::to_owned).or_else(|| location.clone()),
                "description": opt_str(props, "description", "properties.description")?,
                "resourceId": pool_id,
                "provisioningState": if at.existing.is_some() { "Updating" } else { "Creating" },
                "createdOn": created,
                "modifiedOn": stamp,
                "isAttachedCompute": true,
                "disableLocalAuth": opt_bool(props, "disableLocalAuth", "properties.disableLocalAuth")?.unwrap_or(false),
                "properties": pool_properties,
            }
        }))
    }

    fn shown(&self, mut body: Value, ctx: &Ctx<'_>) -> Value {
        if ctx.regional {
            // azureml-core's `SynapseCompute._validate_get_payload` requires these keys
            // (azureml/core/compute/synapse.py); AML's service sends them, null when unset.
            if body.get("tags").is_none() {
                body["tags"] = Value::Null;
            }
            if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
                for key in ["description", "provisioningErrors", "resourceId"] {
                    props.entry(key).or_insert(Value::Null);
                }
            }
        }
        body
    }

    fn check_delete_request(&self, ctx: &Ctx<'_>) -> Result<(), ArmError> {
        underlying_resource_action(ctx).map(|_| ())
    }

    fn check_delete(
        &self,
        store: &Store,
        ctx: &Ctx<'_>,
        at: &Located<'_>,
        stored: &Resource,
    ) -> Result<(), ArmError> {
        let action = underlying_resource_action(ctx)?;
        if action.eq_ignore_ascii_case("Delete") {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("Compute '{}' is an attached SynapseSpark pool: underlyingResourceAction=Delete is not supported for it; detach it with underlyingResourceAction=Detach.", at.name),
            ));
        }
        if !action.eq_ignore_ascii_case("Detach") {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("Invalid underlyingResourceAction '{action}': 'Delete' or 'Detach'."),
            ));
        }
        refuse_if_deleting(&stored.body, &stored.id)?;
        ml_workspaces::refuse_if_busy(store, ctx, parent_id(at), &stored.id)
    }
}

fn parent_id<'a>(at: &'a Located<'_>) -> &'a str {
    at.parent
        .as_ref()
        .map(|p| p.id.as_str())
        .unwrap_or_default()
}

/// `underlyingResourceAction`, which every compute DELETE must carry.
fn underlying_resource_action<'a>(ctx: &'a Ctx<'_>) -> Result<&'a str, ArmError> {
    ctx.query.get("underlyingResourceAction").ok_or_else(|| {
        ArmError::bad_request(
            "BadRequest",
            "The query parameter 'underlyingResourceAction' is required: 'Delete' or 'Detach'.",
        )
    })
}

/// Whether an id names a Synapse Spark pool (…/Microsoft.Synapse/workspaces/{ws}/bigDataPools/{pool}).
fn is_pool_id(id: &str) -> bool {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    matches!(segs.as_slice(),
        [subs, _, groups, _, providers, ns, workspaces, _, pools, _]
            if eq(subs, "subscriptions") && eq(groups, "resourceGroups") && eq(providers, "providers")
                && eq(ns, "Microsoft.Synapse") && eq(workspaces, "workspaces") && eq(pools, "bigDataPools"))
}
