//! Managed identities of resources: reads the `identity` block of a PUT (None,
//! `SystemAssigned`, `UserAssigned`, or both), mints a fresh directory principal for a new
//! system-assigned identity (keeping the old one on update), derives stable principal and
//! client ids for user-assigned identities from their ARM ids, and renders the block.

use serde_json::{json, Map, Value};

use crate::arm_error::ArmError;
use crate::body::{closed_enum, opt_object, opt_str, Object};
use crate::principal::Principal;
use crate::store::{fold, Store};

/// Adds a principal created at `now` (subject to the identity replication delay) and
/// returns its object id.
pub fn mint_principal(
    store: &mut Store,
    display_name: &str,
    principal_type: &str,
    now: u64,
) -> String {
    let oid = uuid::Uuid::new_v4().to_string();
    store.principals.insert(
        fold(&oid),
        Principal {
            object_id: oid.clone(),
            display_name: display_name.to_owned(),
            principal_type: principal_type.to_owned(),
            created_ms: now,
        },
    );
    oid
}

/// Which identity types a resource takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Only `SystemAssigned` (linked services).
    SystemOnly,
    /// `SystemAssigned`, `UserAssigned`, both, or `None`.
    Any,
    /// A Synapse workspace: its `ManagedIdentity.type` is a closed enum of exactly
    /// `None`, `SystemAssigned` and `SystemAssigned,UserAssigned` (no `UserAssigned`
    /// alone): Azure/azure-rest-api-specs
    /// specification/synapse/resource-manager/Microsoft.Synapse/stable/2021-06-01/workspace.json.
    SynapseWorkspace,
}

/// The values of the Synapse workspace's closed `ManagedIdentity.type` enum.
const SYNAPSE_IDENTITY_TYPES: &[&str] = &["None", "SystemAssigned", "SystemAssigned,UserAssigned"];

/// Builds the `identity` block of a resource from the request and the stored block.
/// `default_system` makes an absent block mean `SystemAssigned`. `Value::Null` means no
/// identity.
pub fn build(
    store: &mut Store,
    request: &Object,
    previous: Option<&Value>,
    owner_name: &str,
    allowed: Allowed,
    default_system: bool,
    now: u64,
) -> Result<Value, ArmError> {
    let block = opt_object(request, "identity", "identity")?;
    let type_text = match block {
        Some(b) => opt_str(b, "type", "identity.type")?
            .unwrap_or("None")
            .to_owned(),
        None if default_system => "SystemAssigned".to_owned(),
        None => return Ok(previous.cloned().unwrap_or(Value::Null)),
    };
    if allowed == Allowed::SynapseWorkspace {
        closed_enum(&type_text, SYNAPSE_IDENTITY_TYPES, "identity.type")?;
    }
    let kinds: Vec<String> = type_text.split(',').map(|s| fold(s.trim())).collect();
    let system = kinds.iter().any(|k| k == "systemassigned");
    let user = kinds.iter().any(|k| k == "userassigned");
    let none = kinds.iter().all(|k| k == "none");
    if !(system || user || none)
        || kinds
            .iter()
            .any(|k| !matches!(k.as_str(), "systemassigned" | "userassigned" | "none"))
    {
        return Err(ArmError::bad_request(
            "InvalidIdentityType",
            format!("The identity type '{type_text}' is not supported: use None, SystemAssigned, UserAssigned or 'SystemAssigned,UserAssigned'."),
        ));
    }
    if allowed == Allowed::SystemOnly && user {
        return Err(ArmError::bad_request(
            "InvalidIdentityType",
            "This resource supports only a SystemAssigned identity.",
        ));
    }
    if none {
        return Ok(json!({"type": "None"}));
    }
    let canonical = match (system, user) {
        (true, true) => "SystemAssigned,UserAssigned",
        (true, false) => "SystemAssigned",
        _ => "UserAssigned",
    };
    let mut out = Map::new();
    out.insert("type".to_owned(), json!(canonical));
    if system {
        let kept = previous
            .and_then(|p| p.get("principalId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let oid = match kept {
            Some(oid) => oid,
            None => mint_principal(store, owner_name, "ServicePrincipal", now),
        };
        out.insert("principalId".to_owned(), json!(oid));
        out.insert("tenantId".to_owned(), json!(store.tenant_id));
    }
    if user {
        let ids = block
            .and_then(|b| b.get("userAssignedIdentities"))
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidIdentity",
                    "A UserAssigned identity needs at least one entry in 'identity.userAssignedIdentities'.",
                )
            })?;
        let mut rendered = Map::new();
        for id in ids.keys() {
            let principal = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                format!("principal:{}", fold(id)).as_bytes(),
            )
            .to_string();
            let client = uuid::Uuid::new_v5(
                &uuid::Uuid::NAMESPACE_URL,
                format!("client:{}", fold(id)).as_bytes(),
            )
            .to_string();
            store
                .principals
                .entry(fold(&principal))
                .or_insert_with(|| Principal {
                    object_id: principal.clone(),
                    display_name: id.rsplit('/').next().unwrap_or(id).to_owned(),
                    principal_type: "ServicePrincipal".to_owned(),
                    created_ms: 0,
                });
            rendered.insert(
                id.clone(),
                json!({"principalId": principal, "clientId": client}),
            );
        }
        out.insert("userAssignedIdentities".to_owned(), Value::Object(rendered));
    }
    Ok(Value::Object(out))
}
