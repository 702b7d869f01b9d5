//! `Microsoft.MachineLearningServices/workspaces` (azure-rest.md §2): PUT as an LRO (201
//! with a body before api-version 2023-04-01, 202 without one from then on; both with
//! `Azure-AsyncOperation` and `Location`), GET, PATCH (tags, sku, description, friendlyName), DELETE
//! as an LRO (202 with `Azure-AsyncOperation` and `Location`; 204 when absent), and lists by
//! resource group and subscription. `discoveryUrl` points at the emulator's `/discovery`.
//! The lifecycle is lifecycle.rs's; this file holds the workspace's own rules, AML's 409
//! for a busy workspace, and `/discovery`.

use http::StatusCode;
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{
    closed_enum, opt_bool, opt_object, opt_str, parse_object, req_str, tags, Object,
};
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::operation::{OpAction, OpStatus};
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    refuse_if_deleting, system_data, Absent, Container, Delete, Lifecycle, Located, Patch, PutLro,
    ResourceType, ASYNC_AND_LOCATION,
};
use crate::store::{fold, Kind, Store};

/// AML workspaces.
pub struct MlWorkspaces;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::MlWorkspace,
    api: Api::MlWorkspaces,
    container: Container::ResourceGroup,
    actions: "Microsoft.MachineLearningServices/workspaces",
    allow: "GET, PUT, PATCH, DELETE",
    head: false,
    created: StatusCode::CREATED,
    put: Some(PutLro {
        action: OpAction::Provision,
        polling: ASYNC_AND_LOCATION,
        answer_settled: false,
    }),
    patch: Patch::Merge {
        system_data: true,
        lro: None,
    },
    delete: Delete::Lro {
        polling: ASYNC_AND_LOCATION,
        with_body: false,
    },
    absent: Absent::NoContent,
};

/// The first api-version whose definition answers a workspace PUT with 200 or 202 only:
/// `stable/2023-04-01/workspaceRP.json` and `stable/2024-10-01/workspaceRP.json` (no 201);
/// `stable/2018-11-19/machineLearningServices.json` (200, 201) and
/// `preview/2020-09-01-preview/machineLearningServices.json` (200, 201, 202) still have
/// 201 (all in Azure/azure-rest-api-specs, specification/machinelearningservices/…).
const NO_CREATED_FROM: &str = "2023-04-01";

/// `Sku.tier`, a closed enum (`modelAsString: false`): common-types
/// `resource-management/v3/types.json` `#/definitions/Sku`, which the 2023-04-01 and
/// 2024-10-01 workspace definitions use.
const SKU_TIERS: &[&str] = &["Free", "Basic", "Standard", "Premium"];

/// The `sku` of a request, its `tier` checked against the closed enum.
fn sku(req: &Object) -> Result<Option<Value>, ArmError> {
    let Some(sku) = opt_object(req, "sku", "sku")? else {
        return Ok(None);
    };
    if let Some(tier) = opt_str(sku, "tier", "sku.tier")? {
        closed_enum(tier, SKU_TIERS, "sku.tier")?;
    }
    Ok(Some(Value::Object(sku.clone())))
}

impl ResourceType for MlWorkspaces {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn created(&self, ctx: &Ctx<'_>) -> (StatusCode, bool) {
        // Dates compare as text (YYYY-MM-DD, with an optional -preview suffix).
        if ctx.api_version().is_some_and(|v| v >= NO_CREATED_FROM) {
            (StatusCode::ACCEPTED, false)
        } else {
            (StatusCode::CREATED, true)
        }
    }

    fn put(&self, store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        names::check_ml_workspace("workspace", at.name)?;
        let req = parse_object(ctx.body)?;
        let location = req_str(&req, "location", "location")?;
        if let Some(r) = &at.existing {
            refuse_if_deleting(&r.body, &r.id)?;
        }
        let props = opt_object(&req, "properties", "properties")?
            .cloned()
            .unwrap_or_default();
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
        let keep = |k: &str, default: Value| {
            prev.and_then(|b| b.pointer(&format!("/properties/{k}")))
                .cloned()
                .unwrap_or(default)
        };
        let mut properties = serde_json::Map::new();
        properties.insert(
            "friendlyName".to_owned(),
            json!(opt_str(&props, "friendlyName", "properties.friendlyName")?.unwrap_or(at.name)),
        );
        // Optional ARM ids and text: omitted when unset (the definition has no x-nullable).
        for key in [
            "description",
            "storageAccount",
            "keyVault",
            "applicationInsights",
            "containerRegistry",
        ] {
            if let Some(v) = opt_str(&props, key, &format!("properties.{key}"))? {
                properties.insert(key.to_owned(), json!(v));
            }
        }
        let rest = json!({
            "hbiWorkspace": opt_bool(&props, "hbiWorkspace", "properties.hbiWorkspace")?.unwrap_or(false),
            "allowPublicAccessWhenBehindVnet": false,
            "publicNetworkAccess": opt_str(&props, "publicNetworkAccess", "properties.publicNetworkAccess")?.unwrap_or("Enabled"),
            "workspaceId": keep("workspaceId", json!(uuid::Uuid::new_v4().to_string())),
            "provisioningState": if at.existing.is_some() { "Updating" } else { "Creating" },
            "discoveryUrl": format!("{}/discovery", ctx.base_url),
            "tenantId": store.tenant_id,
            "privateLinkCount": 0,
            "privateEndpointConnections": [],
            "storageHnsEnabled": false,
            "mlFlowTrackingUri": format!("azureml://{location}.api.azureml.ms/mlflow/v1.0{}", at.id),
        });
        if let Value::Object(rest) = rest {
            properties.extend(rest);
        }
        Ok(json!({
            "id": at.id,
            "name": at.id.rsplit('/').next().unwrap_or(at.name),
            "type": LIFECYCLE.kind.type_name(),
            "location": location,
            "tags": tags(&req)?,
            "sku": sku(&req)?.unwrap_or_else(|| json!({"name": "Basic", "tier": "Basic"})),
            "identity": identity,
            "systemData": system_data(prev, &ctx.caller.oid, ctx.now),
            "properties": properties,
        }))
    }

    fn merge(
        &self,
        _store: &mut Store,
        _ctx: &Ctx<'_>,
        _at: &Located<'_>,
        req: &Object,
        body: &mut Value,
    ) -> Result<(), ArmError> {
        if let Some(sku) = sku(req)? {
            body["sku"] = sku;
        }
        if let Some(props) = opt_object(req, "properties", "properties")? {
            for key in ["description", "friendlyName"] {
                if let Some(v) = opt_str(props, key, &format!("properties.{key}"))? {
                    body["properties"][key] = json!(v);
                }
            }
        }
        Ok(())
    }
}

/// With the `amlConflicts` knob: 409 `Conflict` when an operation on a compute of the
/// AML workspace `parent_id` other than `own_id` is in progress, as AML answers.
pub fn refuse_if_busy(
    store: &Store,
    ctx: &Ctx<'_>,
    parent_id: &str,
    own_id: &str,
) -> Result<(), ArmError> {
    if !ctx.faults.aml_conflicts {
        return Ok(());
    }
    let prefix = format!("{}/", fold(parent_id));
    let own = fold(own_id);
    let busy = store.operations.values().any(|op| {
        op.status == OpStatus::InProgress && {
            let target = fold(&op.resource_id);
            target.starts_with(&prefix) && target != own
        }
    });
    if busy {
        let ws = parent_id.rsplit('/').next().unwrap_or(parent_id);
        Err(ArmError::conflict(
            "Conflict",
            format!("Conflict of operation, another operation on same entity is already running in workspace {ws}."),
        ))
    } else {
        Ok(())
    }
}

/// `GET /discovery`: the service endpoints azureml-core reads from `discoveryUrl`, all
/// pointing at the emulator.
pub fn discovery(base_url: &str) -> Reply {
    Reply::ok(json!({
        "api": base_url,
        "catalog": base_url,
        "experimentation": base_url,
        "gallery": base_url,
        "history": base_url,
        "hyperdrive": base_url,
        "labeling": base_url,
        "modelmanagement": base_url,
        "pipelines": base_url,
        "studio": base_url,
    }))
}
