//! `Principal`: a directory object (user, service principal, managed identity) the
//! emulator knows. Its creation instant drives the identity replication delay: an ARM
//! role assignment for a principal younger than the delay answers `PrincipalNotFound`.

use serde::{Deserialize, Serialize};

/// A directory object.
#[allow(clippy::struct_field_names, reason = "mirrors Azure's principalType")]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// Object id.
    pub object_id: String,
    /// Display name.
    pub display_name: String,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: String,
    /// Creation instant (epoch ms); 0 means long replicated.
    pub created_ms: u64,
}
