//! `Microsoft.Synapse/workspaces/bigDataPools` (azure-rest.md §6): PUT (202 when new, 200
//! on update, both with a body and `azure-asyncoperation`) with validation of node size,
//! family, count, autoscale and autopause; PATCH (tags only, 200); DELETE (202 with
//! `azure-asyncoperation` and a `Deleting` body; 204 when absent); GET; list. The
//! lifecycle is lifecycle.rs's; this file holds the pool's own rules.

use http::StatusCode;
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_bool, opt_i64, opt_object, parse_object, req_str, tags, Object};
use crate::clock::rfc3339;
use crate::names;
use crate::operation::OpAction;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    refuse_if_deleting, required_properties, Absent, Container, Delete, Lifecycle, Located, Patch,
    PutLro, ResourceType, ASYNC_AND_LOCATION,
};
use crate::spark_runtimes::SPARK_VERSIONS;
use crate::store::{Kind, Store};

/// Spark pools of Synapse workspaces.
pub struct BigDataPools;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::BigDataPool,
    api: Api::Synapse,
    container: Container::Parent {
        kind: Kind::SynapseWorkspace,
        segment: "bigDataPools",
    },
    actions: "Microsoft.Synapse/workspaces/bigDataPools",
    allow: "GET, PUT, PATCH, DELETE",
    head: false,
    created: StatusCode::ACCEPTED,
    put: Some(PutLro {
        action: OpAction::Provision,
        polling: ASYNC_AND_LOCATION,
        answer_settled: false,
    }),
    // 2021-06-01 bigDataPool.json defines no `systemData` on BigDataPoolResourceInfo.
    patch: Patch::Merge {
        system_data: false,
        lro: None,
    },
    delete: Delete::Lro {
        polling: ASYNC_AND_LOCATION,
        with_body: true,
    },
    absent: Absent::NoContent,
};

const NODE_SIZES: &[&str] = &["Small", "Medium", "Large", "XLarge", "XXLarge", "XXXLarge"];
const FAMILIES: &[&str] = &[
    "MemoryOptimized",
    "HardwareAcceleratedFPGA",
    "HardwareAcceleratedGPU",
];

impl ResourceType for BigDataPools {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn put(&self, _store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        names::check_spark_pool(at.name)?;
        if let Some(parent) = &at.parent {
            refuse_if_deleting(&parent.body, &parent.id)?;
        }
        let req = parse_object(ctx.body)?;
        let location = req_str(&req, "location", "location")?;
        let props = required_properties(&req)?;
        if let Some(r) = &at.existing {
            refuse_if_deleting(&r.body, &r.id)?;
        }
        let prev = at.previous();
        let properties = pool_properties(props, prev, ctx.now, at.existing.is_some())?;
        check_runtime(ctx, prev, &properties)?;
        Ok(json!({
            "id": at.id,
            "name": at.id.rsplit('/').next().unwrap_or(at.name),
            "type": LIFECYCLE.kind.type_name(),
            "location": location,
            "tags": tags(&req)?,
            "properties": properties,
        }))
    }
}

/// A new pool must use a supported runtime; an existing pool keeps the one it has or moves
/// to a supported one. Azure refuses the others (azurerm PR hashicorp/terraform-provider-azurerm#30168:
/// "users can't actually create/update spark pool with 3.2"); its exact code is not
/// published, so the emulator answers Synapse's pool validation envelope, 400
/// `ValidationFailed` with the detail `SparkVersionNotSupported`.
fn check_runtime(ctx: &Ctx<'_>, prev: Option<&Value>, properties: &Value) -> Result<(), ArmError> {
    let wanted = properties
        .get("sparkVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let current = prev
        .and_then(|b| b.pointer("/properties/sparkVersion"))
        .and_then(Value::as_str);
    let supported = &ctx.faults.spark_runtimes;
    if supported.iter().any(|v| v == wanted) || current == Some(wanted) {
        return Ok(());
    }
    Err(ArmError::bad_request(
        "ValidationFailed",
        "Spark pool request validation failed.",
    )
    .with_detail(
        "SparkVersionNotSupported",
        format!(
            "Apache Spark {wanted} is not supported for new or changed Spark pools: its runtime has reached end of support. Supported versions: {}.",
            supported.join(", ")
        ),
    ))
}

fn invalid(message: String) -> ArmError {
    ArmError::bad_request("ValidationFailed", message)
}

fn one_of<'a>(value: &'a str, allowed: &[&'a str], field: &str) -> Result<&'a str, ArmError> {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value))
        .copied()
        .ok_or_else(|| {
            invalid(format!(
                "'{field}' is '{value}'; allowed values are {}.",
                allowed.join(", ")
            ))
        })
}

fn in_range(v: i64, field: &str, lo: i64, hi: i64) -> Result<i64, ArmError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!(
            "'{field}' is {v}; it must be between {lo} and {hi}."
        )))
    }
}

/// Validates the pool properties and renders the stored ones.
fn pool_properties(
    props: &Object,
    prev: Option<&Value>,
    now: u64,
    updating: bool,
) -> Result<Value, ArmError> {
    let node_size = one_of(
        req_str(props, "nodeSize", "properties.nodeSize")?,
        NODE_SIZES,
        "properties.nodeSize",
    )?;
    let family = one_of(
        req_str(props, "nodeSizeFamily", "properties.nodeSizeFamily")?,
        FAMILIES,
        "properties.nodeSizeFamily",
    )?;
    let spark = one_of(
        req_str(props, "sparkVersion", "properties.sparkVersion")?,
        SPARK_VERSIONS,
        "properties.sparkVersion",
    )?;
    let auto_scale = opt_object(props, "autoScale", "properties.autoScale")?;
    let scale_on = match auto_scale {
        Some(a) => opt_bool(a, "enabled", "properties.autoScale.enabled")?.unwrap_or(false),
        None => false,
    };
    let node_count = opt_i64(props, "nodeCount", "properties.nodeCount")?;
    let (auto_scale_json, count) = if let (true, Some(a)) = (scale_on, auto_scale) {
        let min =
            opt_i64(a, "minNodeCount", "properties.autoScale.minNodeCount")?.ok_or_else(|| {
                invalid(
                    "'properties.autoScale.minNodeCount' is required when autoscale is enabled."
                        .to_owned(),
                )
            })?;
        let max =
            opt_i64(a, "maxNodeCount", "properties.autoScale.maxNodeCount")?.ok_or_else(|| {
                invalid(
                    "'properties.autoScale.maxNodeCount' is required when autoscale is enabled."
                        .to_owned(),
                )
            })?;
        in_range(min, "properties.autoScale.minNodeCount", 3, 200)?;
        in_range(max, "properties.autoScale.maxNodeCount", 3, 200)?;
        if min > max {
            return Err(invalid(format!(
                "'properties.autoScale.minNodeCount' ({min}) is above 'maxNodeCount' ({max})."
            )));
        }
        (
            json!({"enabled": true, "minNodeCount": min, "maxNodeCount": max}),
            node_count.unwrap_or(min).clamp(min, max),
        )
    } else {
        let count = node_count.ok_or_else(|| {
            invalid(
                "Either 'properties.nodeCount' or an enabled 'properties.autoScale' is required."
                    .to_owned(),
            )
        })?;
        (
            json!({"enabled": false, "minNodeCount": null, "maxNodeCount": null}),
            in_range(count, "properties.nodeCount", 3, 200)?,
        )
    };
    let auto_pause = match opt_object(props, "autoPause", "properties.autoPause")? {
        Some(p) if opt_bool(p, "enabled", "properties.autoPause.enabled")?.unwrap_or(false) => {
            let delay = opt_i64(p, "delayInMinutes", "properties.autoPause.delayInMinutes")?
                .ok_or_else(|| invalid("'properties.autoPause.delayInMinutes' is required when autopause is enabled.".to_owned()))?;
            json!({"enabled": true, "delayInMinutes": in_range(delay, "properties.autoPause.delayInMinutes", 5, 10080)?})
        }
        _ => json!({"enabled": false, "delayInMinutes": null}),
    };
    let keep = |k: &str, default: Value| {
        prev.and_then(|b| b.pointer(&format!("/properties/{k}")))
            .cloned()
            .unwrap_or(default)
    };
    let passthrough = |k: &str, default: Value| {
        props
            .get(k)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let library = props
        .get("libraryRequirements")
        .filter(|v| !v.is_null())
        .map(|l| {
            let mut l = l.clone();
            l["time"] = json!(rfc3339(now));
            l
        });
    Ok(json!({
        "provisioningState": if updating { "Updating" } else { "Provisioning" },
        "autoScale": auto_scale_json,
        "autoPause": auto_pause,
        "nodeCount": count,
        "nodeSize": node_size,
        "nodeSizeFamily": family,
        "sparkVersion": spark,
        "isComputeIsolationEnabled": passthrough("isComputeIsolationEnabled", json!(false)),
        "sessionLevelPackagesEnabled": passthrough("sessionLevelPackagesEnabled", json!(false)),
        "dynamicExecutorAllocation": passthrough("dynamicExecutorAllocation", json!({"enabled": false})),
        "cacheSize": passthrough("cacheSize", json!(0)),
        "sparkEventsFolder": passthrough("sparkEventsFolder", json!("/events")),
        "defaultSparkLogFolder": passthrough("defaultSparkLogFolder", json!("/logs")),
        "libraryRequirements": library,
        "sparkConfigProperties": passthrough("sparkConfigProperties", Value::Null),
        "customLibraries": passthrough("customLibraries", json!([])),
        "isAutotuneEnabled": passthrough("isAutotuneEnabled", json!(false)),
        "creationDate": keep("creationDate", json!(rfc3339(now))),
        "lastSucceededTimestamp": keep("lastSucceededTimestamp", Value::Null),
    }))
}
