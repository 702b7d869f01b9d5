//! `Microsoft.Synapse/workspaces` (azure-rest.md §5): PUT (201/200), PATCH (200) and
//! DELETE (202; 204 when absent) as LROs with `Location` (operationResults) and
//! `Azure-AsyncOperation` (operationStatuses); GET; lists; `checkNameAvailability`.
//! Names are globally unique. `connectivityEndpoints.dev` is this emulator's data-plane
//! route `{base}/_synapse/{name}`; the creator (and `initialWorkspaceAdminObjectId`)
//! become Synapse Administrators. The lifecycle is lifecycle.rs's; this file holds the
//! workspace's own rules.

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::api_version::Api;
use crate::arm_error::ArmError;
use crate::body::{opt_bool, opt_object, opt_str, parse_object, req_str, tags, Object};
use crate::managed_identity::{self, Allowed};
use crate::names;
use crate::operation::OpAction;
use crate::reply::Reply;
use crate::request::Ctx;
use crate::routes::lifecycle::{
    refuse_if_deleting, Absent, Container, Delete, Lifecycle, Located, Patch, PutLro, ResourceType,
    ASYNC_AND_LOCATION,
};
use crate::store::{fold, Kind, Store, SynapseAssignment};
use crate::synapse_rbac::SYNAPSE_ADMINISTRATOR;

/// Synapse workspaces.
pub struct SynapseWorkspaces;

const LIFECYCLE: Lifecycle = Lifecycle {
    kind: Kind::SynapseWorkspace,
    api: Api::Synapse,
    container: Container::ResourceGroup,
    actions: "Microsoft.Synapse/workspaces",
    allow: "GET, PUT, PATCH, DELETE",
    head: false,
    created: StatusCode::CREATED,
    put: Some(PutLro {
        action: OpAction::Provision,
        polling: ASYNC_AND_LOCATION,
        answer_settled: false,
    }),
    // 2021-06-01 workspace.json defines no `systemData` on Workspace.
    patch: Patch::Merge {
        system_data: false,
        lro: Some(ASYNC_AND_LOCATION),
    },
    delete: Delete::Lro {
        polling: ASYNC_AND_LOCATION,
        with_body: true,
    },
    absent: Absent::NoContent,
};

impl ResourceType for SynapseWorkspaces {
    fn lifecycle(&self) -> &'static Lifecycle {
        &LIFECYCLE
    }

    fn shown(&self, body: Value, ctx: &Ctx<'_>) -> Value {
        with_current_endpoint(body, ctx.base_url)
    }

    fn put(&self, store: &mut Store, ctx: &Ctx<'_>, at: &Located<'_>) -> Result<Value, ArmError> {
        let oid = ctx.caller.oid.as_str();
        names::check_synapse_workspace(at.name)?;
        if at.existing.is_none() && store.synapse_workspace_by_name(at.name).is_some() {
            return Err(ArmError::conflict(
                "WorkspaceNameAlreadyExists",
                format!("The workspace name '{}' is already in use: Synapse workspace names are globally unique.", at.name),
            ));
        }
        let req = parse_object(ctx.body)?;
        let location = req_str(&req, "location", "location")?;
        if let Some(r) = &at.existing {
            refuse_if_deleting(&r.body, &r.id)?;
        }
        let props = opt_object(&req, "properties", "properties")?
            .cloned()
            .unwrap_or_default();
        if let Some(mrg) = opt_str(
            &props,
            "managedResourceGroupName",
            "properties.managedResourceGroupName",
        )? {
            let ok = mrg.len() <= 90
                && !mrg.ends_with('.')
                && mrg
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '(' | ')' | '.'));
            if !ok {
                return Err(ArmError::bad_request(
                    "InvalidManagedResourceGroupName",
                    format!("The managed resource group name '{mrg}' is invalid: at most 90 letters, digits, '-', '_', '(', ')' and '.', not ending with '.'."),
                ));
            }
        }
        let prev = at.previous().cloned();
        let identity = managed_identity::build(
            store,
            &req,
            prev.as_ref().and_then(|b| b.get("identity")),
            at.name,
            Allowed::SynapseWorkspace,
            false,
            ctx.now,
        )?;
        let shown = at.id.rsplit('/').next().unwrap_or(at.name).to_owned();
        let keep = |k: &str, default: Value| {
            prev.as_ref()
                .and_then(|b| b.pointer(&format!("/properties/{k}")))
                .cloned()
                .unwrap_or(default)
        };
        let mut properties = Map::new();
        for key in [
            "defaultDataLakeStorage",
            "sqlAdministratorLogin",
            "virtualNetworkProfile",
            "managedVirtualNetwork",
            "managedVirtualNetworkSettings",
            "encryption",
            "workspaceRepositoryConfiguration",
            "purviewConfiguration",
            "cspWorkspaceAdminProperties",
        ] {
            if let Some(v) = props.get(key).filter(|v| !v.is_null()) {
                properties.insert(key.to_owned(), v.clone());
            }
        }
        properties.insert(
            "managedResourceGroupName".to_owned(),
            keep(
                "managedResourceGroupName",
                json!(opt_str(
                    &props,
                    "managedResourceGroupName",
                    "properties.managedResourceGroupName"
                )?
                .map_or_else(
                    || format!("synapseworkspace-managedrg-{}", uuid::Uuid::new_v4()),
                    str::to_owned
                )),
            ),
        );
        properties.insert(
            "publicNetworkAccess".to_owned(),
            json!(opt_str(
                &props,
                "publicNetworkAccess",
                "properties.publicNetworkAccess"
            )?
            .unwrap_or("Enabled")),
        );
        properties.insert(
            "azureADOnlyAuthentication".to_owned(),
            json!(opt_bool(
                &props,
                "azureADOnlyAuthentication",
                "properties.azureADOnlyAuthentication"
            )?
            .unwrap_or(false)),
        );
        properties.insert(
            "trustedServiceBypassEnabled".to_owned(),
            json!(opt_bool(
                &props,
                "trustedServiceBypassEnabled",
                "properties.trustedServiceBypassEnabled"
            )?
            .unwrap_or(false)),
        );
        properties.insert(
            "provisioningState".to_owned(),
            json!(if at.existing.is_some() {
                "Updating"
            } else {
                "Provisioning"
            }),
        );
        properties.insert(
            "connectivityEndpoints".to_owned(),
            json!({
                "web": format!("https://web.azuresynapse.net?workspace={}", at.id.replace('/', "%2f")),
                "dev": format!("{}/_synapse/{shown}", ctx.base_url),
                "sql": format!("{shown}.sql.azuresynapse.net"),
                "sqlOnDemand": format!("{shown}-ondemand.sql.azuresynapse.net"),
            }),
        );
        properties.insert(
            "workspaceUID".to_owned(),
            keep("workspaceUID", json!(uuid::Uuid::new_v4().to_string())),
        );
        properties.insert(
            "extraProperties".to_owned(),
            json!({"WorkspaceType": "Normal", "IsScopeEnabled": false}),
        );
        properties.insert("privateEndpointConnections".to_owned(), json!([]));
        properties.insert("adlaResourceId".to_owned(), json!(""));
        let body = json!({
            "id": at.id,
            "name": shown,
            "type": LIFECYCLE.kind.type_name(),
            "location": location,
            "tags": tags(&req)?,
            "identity": identity,
            "properties": properties,
        });
        add_admin(store, &shown, oid);
        if let Some(admin) = props
            .get("cspWorkspaceAdminProperties")
            .and_then(|c| c.get("initialWorkspaceAdminObjectId"))
            .and_then(Value::as_str)
        {
            add_admin(store, &shown, admin);
        }
        Ok(body)
    }

    fn merge(
        &self,
        store: &mut Store,
        ctx: &Ctx<'_>,
        at: &Located<'_>,
        req: &Object,
        body: &mut Value,
    ) -> Result<(), ArmError> {
        if req.contains_key("identity") {
            body["identity"] = managed_identity::build(
                store,
                req,
                at.previous().and_then(|b| b.get("identity")),
                at.name,
                Allowed::SynapseWorkspace,
                false,
                ctx.now,
            )?;
        }
        if let Some(props) = opt_object(req, "properties", "properties")? {
            for key in [
                "managedVirtualNetworkSettings",
                "workspaceRepositoryConfiguration",
                "purviewConfiguration",
                "encryption",
                "publicNetworkAccess",
            ] {
                if let Some(v) = props.get(key) {
                    body["properties"][key] = v.clone();
                }
            }
        }
        Ok(())
    }
}

/// The data-plane endpoint points at this emulator as it runs now: a restart
/// on another port (persisted data) must not leave workspaces pointing at the
/// old one.
fn with_current_endpoint(mut body: serde_json::Value, base_url: &str) -> serde_json::Value {
    let name = body
        .get("name")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(dev) = body.pointer_mut("/properties/connectivityEndpoints/dev") {
        *dev = serde_json::Value::String(format!("{base_url}/_synapse/{name}"));
    }
    body
}

/// Adds a Synapse Administrator assignment effective at once (the creator's).
fn add_admin(store: &mut Store, ws: &str, principal: &str) {
    let scope = format!("workspaces/{ws}");
    let folded = fold(ws);
    let exists = store.synapse_assignments.values().any(|a| {
        a.workspace == folded
            && a.principal_id.eq_ignore_ascii_case(principal)
            && a.role_id == SYNAPSE_ADMINISTRATOR
            && a.scope.eq_ignore_ascii_case(&scope)
    });
    if exists {
        return;
    }
    let id = uuid::Uuid::new_v4().to_string();
    store.next_seq += 1;
    store.synapse_assignments.insert(
        format!("{}/{}", fold(ws), fold(&id)),
        SynapseAssignment {
            id,
            workspace: fold(ws),
            role_id: SYNAPSE_ADMINISTRATOR.to_owned(),
            principal_id: principal.to_owned(),
            scope,
            principal_type: Some("User".to_owned()),
            created_ms: 0,
            seq: store.next_seq,
        },
    );
}

/// `POST /subscriptions/{sub}/providers/Microsoft.Synapse/checkNameAvailability`.
pub fn check_name(store: &mut Store, ctx: &Ctx<'_>) -> Result<Reply, ArmError> {
    if *ctx.method != Method::POST {
        return Err(ArmError::method_not_allowed(ctx.method.as_str(), "POST"));
    }
    Api::Synapse.check(ctx.api_version(), LIFECYCLE.kind.type_name())?;
    let req = parse_object(ctx.body)?;
    let name = req_str(&req, "name", "name")?;
    let (available, reason, message) = if let Err(e) = names::check_synapse_workspace(name) {
        (false, "Invalid", e.message)
    } else if store.synapse_workspace_by_name(name).is_some() {
        (
            false,
            "AlreadyExists",
            format!("The workspace name '{name}' is already in use."),
        )
    } else {
        (true, "", String::new())
    };
    Ok(Reply::ok(json!({
        "name": name,
        "available": available,
        "reason": if available { Value::Null } else { json!(reason) },
        "message": if available { Value::Null } else { json!(message) },
    })))
}
