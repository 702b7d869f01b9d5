//! `Microsoft.Resources/resourceGroups`: PUT (201, or 200 on update; the location of an
//! existing group cannot change), GET, HEAD (204), PATCH (tags), DELETE (a `Location` LRO
//! that removes everything inside; 404 when absent), and the list of a subscription. The
//! lifecycle is lifecycle.rs's; this file holds the group's own rules.

use http::StatusCode;
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{parse_object, req_str, tags};
use crate::names;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    refuse_if_deleting, Absent, Container, Delete, Lifecycle, Located, Patch, ResourceType,
    LOCATION,
};
use crate::store::{Kind, Store};

/// Resource groups.
pub struct ResourceGroups;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::ResourceGroup,
    api: Api::Resources,
    container: Container::Subscription,
    actions: "Microsoft.Resources/subscriptions/resourceGroups",
    allow: "GET, HEAD, PUT, PATCH, DELETE",
    head: true,
    created: StatusCode::CREATED,
    put: None,
    patch: Patch::Merge {
        system_data: false,
        lro: None,
    },
    delete: Delete::Lro {
        polling: LOCATION,
        with_body: false,
    },
    absent: Absent::NotFound,
};

impl ResourceType for ResourceGroups {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn missing(&self, at: &Located<'_>) -> ArmError {
        ArmError::resource_group_not_found(at.name)
    }

    fn put(&self, _store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        names::check_resource_group(at.name)?;
        let req = parse_object(ctx.body)?;
        let location = req_str(&req, "location", "location")?;
        let tags = tags(&req)?;
        if let Some(r) = &at.existing {
            refuse_if_deleting(&r.body, &r.id)?;
            let old = r
                .body
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !old.eq_ignore_ascii_case(location) {
                return Err(ArmError::bad_request(
                    "InvalidResourceGroupLocation",
                    format!("Invalid resource group location '{location}'. The Resource group already exists in location '{old}'."),
                ));
            }
        }
        Ok(json!({
            "id": at.id,
            "name": at.id.rsplit('/').next().unwrap_or(at.name),
            "type": LIFECYCLE.kind.type_name(),
            "location": location.to_ascii_lowercase().replace(' ', ""),
            "managedBy": req.get("managedBy").cloned().unwrap_or(Value::Null),
            "tags": tags,
            "properties": {"provisioningState": "Succeeded"}
        }))
    }
}
