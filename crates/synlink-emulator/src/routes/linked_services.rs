//! `Microsoft.MachineLearningServices/workspaces/linkedServices` (azure-rest.md §3), the
//! SDK-v1 Synapse link: PUT answers 200 at once with a system-assigned identity (a fresh
//! principal; kept on update) and needs the caller to be Owner of the Synapse workspace
//! (403 `AuthorizationFailed` otherwise); GET; DELETE (200, or 204 when absent); list
//! `{value}` without paging. The lifecycle is lifecycle.rs's; this file holds the link's
//! own rules.

use http::StatusCode;
use serde_json::{json, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_str, parse_object, req_str};
use crate::clock::rfc3339;
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::rbac;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    location_or_parent, required_properties, Absent, Container, Delete, Lifecycle, Located, Patch,
    ResourceType,
};
use crate::routes::ml_workspaces;
use crate::store::{Kind, Store};

/// Linked services of AML workspaces.
pub struct LinkedServices;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::LinkedService,
    api: Api::MlLinkedServices,
    container: Container::Parent {
        kind: Kind::MlWorkspace,
        segment: "linkedServices",
    },
    actions: "Microsoft.MachineLearningServices/workspaces/linkedServices",
    allow: "GET, PUT, DELETE",
    head: false,
    created: StatusCode::OK,
    put: None,
    patch: Patch::NotAllowed,
    delete: Delete::Immediate,
    absent: Absent::NoContent,
};

impl ResourceType for LinkedServices {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn put(&self, store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        let oid = ctx.caller.oid.as_str();
        names::check_ml_workspace("linked service", at.name)?;
        let parent_id = at
            .parent
            .as_ref()
            .map(|p| p.id.as_str())
            .unwrap_or_default();
        ml_workspaces::refuse_if_busy(store, ctx, parent_id, &at.id)?;
        let req = parse_object(ctx.body)?;
        let props = required_properties(&req)?;
        let target = req_str(
            props,
            "linkedServiceResourceId",
            "properties.linkedServiceResourceId",
        )?;
        if let Some(kind) = opt_str(props, "linkType", "properties.linkType")? {
            if !kind.eq_ignore_ascii_case("Synapse") {
                return Err(ArmError::bad_request(
                    "InvalidLinkType",
                    format!("The link type '{kind}' is not supported: only 'Synapse'."),
                ));
            }
        }
        let (syn_sub, syn_rg, syn_name) = parse_synapse_id(target).ok_or_else(|| {
            ArmError::bad_request(
                "InvalidLinkedServiceResourceId",
                format!("'{target}' is not the resource id of a Synapse workspace (/subscriptions/{{sub}}/resourceGroups/{{rg}}/providers/Microsoft.Synapse/workspaces/{{name}})."),
            )
        })?;
        let synapse_id = format!("/subscriptions/{syn_sub}/resourceGroups/{syn_rg}/providers/Microsoft.Synapse/workspaces/{syn_name}");
        if !store
            .get(&synapse_id)
            .is_some_and(|r| r.kind == Kind::SynapseWorkspace)
        {
            return Err(ArmError::resource_not_found(
                "Microsoft.Synapse/workspaces",
                &syn_name,
                &syn_rg,
            ));
        }
        if !rbac::has_role(store, oid, &synapse_id, rbac::OWNER) {
            return Err(ArmError::authorization_failed(
                oid,
                "Microsoft.Authorization/roleAssignments/write",
                &synapse_id,
            )
            .with_message_suffix(" Linking a Synapse workspace needs the Owner role on it."));
        }
        let prev = at.previous();
        let identity = managed_identity::build(
            store,
            &req,
            prev.and_then(|b| b.get("identity")),
            at.name,
            Allowed::SystemOnly,
            true,
            ctx.now,
        )?;
        let stamp = rfc3339(ctx.now);
        let created = prev
            .and_then(|b| b.pointer("/properties/createdTime"))
            .cloned()
            .unwrap_or_else(|| json!(stamp));
        let location = location_or_parent(&req, at)?;
        Ok(json!({
            "id": at.id,
            "name": at.id.rsplit('/').next().unwrap_or(at.name),
            "type": LIFECYCLE.kind.type_name(),
            "location": location,
            "identity": identity,
            "properties": {
                "linkedServiceResourceId": target,
                "linkType": "Synapse",
                "createdTime": created,
                "modifiedTime": stamp,
            }
        }))
    }
}

/// Parses an ARM id of a Synapse workspace into (sub, rg, name).
pub fn parse_synapse_id(id: &str) -> Option<(String, String, String)> {
    let segs: Vec<&str> = id.trim_matches('/').split('/').collect();
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match segs.as_slice() {
        [s, sub, r, rg, p, ns, w, name]
            if eq(s, "subscriptions")
                && eq(r, "resourceGroups")
                && eq(p, "providers")
                && eq(ns, "Microsoft.Synapse")
                && eq(w, "workspaces") =>
        {
            Some(((*sub).to_owned(), (*rg).to_owned(), (*name).to_owned()))
        }
        _ => None,
    }
}
