//! Azure RBAC as the emulator enforces it: the built-in role definitions of
//! azure-rest.md §7 (Owner, Contributor, Reader, User Access Administrator, Storage Blob
//! Data Contributor), which assignments apply at a scope (at or above it), and whether a
//! caller may read, write, delete, or write role assignments there (403
//! `AuthorizationFailed` otherwise); and the Owner assignment that every subscription
//! gives the bootstrap principal when it first appears.

use serde_json::{json, Value};

use crate::arm_error::ArmError;
use crate::store::{fold, ArmAssignment, Store};

/// Owner.
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// Contributor.
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
/// Reader.
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
/// User Access Administrator.
pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
/// Storage Blob Data Contributor.
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

/// A built-in role definition.
pub struct RoleDefinition {
    /// GUID.
    pub guid: &'static str,
    /// Role name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Allowed actions.
    pub actions: &'static [&'static str],
    /// Excluded actions.
    pub not_actions: &'static [&'static str],
    /// Allowed data actions.
    pub data_actions: &'static [&'static str],
}

/// The built-in roles.
pub const ROLES: &[RoleDefinition] = &[
    RoleDefinition {
        guid: OWNER,
        name: "Owner",
        description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions: &["*"],
        not_actions: &[],
        data_actions: &[],
    },
    RoleDefinition {
        guid: CONTRIBUTOR,
        name: "Contributor",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
        ],
        data_actions: &[],
    },
    RoleDefinition {
        guid: READER,
        name: "Reader",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
        not_actions: &[],
        data_actions: &[],
    },
    RoleDefinition {
        guid: USER_ACCESS_ADMINISTRATOR,
        name: "User Access Administrator",
        description: "Lets you manage user access to Azure resources.",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
        data_actions: &[],
    },
    RoleDefinition {
        guid: STORAGE_BLOB_DATA_CONTRIBUTOR,
        name: "Storage Blob Data Contributor",
        description: "Read, write, and delete Azure Storage containers and blobs.",
        actions: &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ],
        not_actions: &[],
        data_actions: &[
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ],
    },
];

/// A built-in role by GUID (any casing).
pub fn role(guid: &str) -> Option<&'static RoleDefinition> {
    ROLES.iter().find(|r| r.guid.eq_ignore_ascii_case(guid))
}

/// The JSON of a role definition, its id under `scope_prefix` (`/subscriptions/S` or "").
pub fn definition_json(def: &RoleDefinition, scope_prefix: &str) -> Value {
    json!({
        "id": format!("{scope_prefix}/providers/Microsoft.Authorization/roleDefinitions/{}", def.guid),
        "name": def.guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": def.name,
            "type": "BuiltInRole",
            "description": def.description,
            "assignableScopes": ["/"],
            "permissions": [permissions_json(def)],
            "createdOn": "2015-02-02T21:55:09.8806423Z",
            "updatedOn": "2021-11-11T20:13:47.8628684Z",
            "createdBy": null,
            "updatedBy": null
        }
    })
}

/// `{actions, notActions, dataActions, notDataActions}` of a role.
pub fn permissions_json(def: &RoleDefinition) -> Value {
    json!({
        "actions": def.actions,
        "notActions": def.not_actions,
        "dataActions": def.data_actions,
        "notDataActions": []
    })
}

/// Whether a scope covers a target (same, or an ancestor on a segment boundary).
pub fn covers(scope: &str, target: &str) -> bool {
    let s = fold(scope.trim_end_matches('/'));
    let t = fold(target.trim_end_matches('/'));
    s.is_empty() || s == t || t.starts_with(&format!("{s}/"))
}

/// The assignments of a principal that apply at `target`.
pub fn applying<'a>(store: &'a Store, oid: &str, target: &str) -> Vec<&'a ArmAssignment> {
    store
        .arm_assignments
        .values()
        .filter(|a| a.principal_id.eq_ignore_ascii_case(oid) && covers(&a.scope, target))
        .collect()
}

/// The kinds of access the emulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET, list.
    Read,
    /// PUT, PATCH, POST.
    Write,
    /// DELETE.
    Delete,
    /// Writing or deleting role assignments.
    ManageRoles,
}

fn grants(role_guid: &str, access: Access) -> bool {
    let Some(def) = role(role_guid) else {
        return false;
    };
    match def.guid {
        OWNER => true,
        CONTRIBUTOR => access != Access::ManageRoles,
        READER => access == Access::Read,
        USER_ACCESS_ADMINISTRATOR => matches!(access, Access::Read | Access::ManageRoles),
        _ => false,
    }
}

/// Whether `oid` has `access` at `target`.
pub fn allowed(store: &Store, oid: &str, target: &str, access: Access) -> bool {
    applying(store, oid, target)
        .iter()
        .any(|a| grants(&a.role_guid, access))
}

/// 403 `AuthorizationFailed` unless `oid` has `access` at `target`; `action` names the
/// operation in the message.
pub fn require(
    store: &Store,
    oid: &str,
    target: &str,
    access: Access,
    action: &str,
) -> Result<(), ArmError> {
    if allowed(store, oid, target, access) {
        Ok(())
    } else {
        Err(ArmError::authorization_failed(oid, action, target))
    }
}

/// Whether `oid` holds role `role_guid` at or above `target`.
pub fn has_role(store: &Store, oid: &str, target: &str, role_guid: &str) -> bool {
    applying(store, oid, target)
        .iter()
        .any(|a| a.role_guid.eq_ignore_ascii_case(role_guid))
}

/// Makes sure a subscription exists (every subscription does, from its first use), with
/// the bootstrap principal as its Owner.
pub fn ensure_subscription(store: &mut Store, sub: &str, now: u64) {
    let key = fold(sub);
    if store.subscriptions.contains_key(&key) {
        return;
    }
    store.subscriptions.insert(key, sub.to_owned());
    let scope = format!("/subscriptions/{sub}");
    let name = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("{scope}/bootstrap-owner").as_bytes(),
    )
    .to_string();
    let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
    store.arm_assignments.insert(
        fold(&id),
        ArmAssignment {
            id,
            name,
            scope,
            role_guid: OWNER.to_owned(),
            principal_id: store.bootstrap.clone(),
            principal_type: "User".to_owned(),
            description: Some("bootstrap principal: Owner of every subscription".to_owned()),
            condition: None,
            condition_version: None,
            created_ms: now,
            created_by: store.bootstrap.clone(),
        },
    );
}
