//! `Microsoft.Authorization/permissions` for a resource: the caller's
//! effective actions, used to check "is the caller Owner?" before writing
//! (azure-rest.md §7).

use serde_json::Value;

/// The authorization api-version.
pub const API_VERSION: &str = "2022-04-01";

/// The permissions URL of a resource.
pub fn path(resource_id: &str) -> String {
    format!("{resource_id}/providers/Microsoft.Authorization/permissions")
}

fn covers(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    if p == "*" {
        return true;
    }
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == a;
    }
    let mut rest = a.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    parts.last().is_some_and(|l| l.is_empty()) || rest.is_empty()
}

/// Whether the permission sets allow `action` (allowed by some `actions`
/// entry and not removed by that entry's `notActions`).
pub fn allows(permissions: &[Value], action: &str) -> bool {
    let list = |p: &Value, key: &str| -> Vec<String> {
        p.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    permissions.iter().any(|p| {
        list(p, "actions").iter().any(|a| covers(a, action))
            && !list(p, "notActions").iter().any(|n| covers(n, action))
    })
}

/// Whether the permissions amount to Owner: everything, including writing role assignments.
pub fn is_owner(permissions: &[Value]) -> bool {
    allows(permissions, "Microsoft.Authorization/roleAssignments/write")
        && allows(permissions, "Microsoft.Synapse/workspaces/write")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{allows, is_owner};

    #[test]
    fn owner_has_everything_contributor_lacks_role_assignments() {
        let owner = [json!({ "actions": ["*"], "notActions": [] })];
        let contributor = [
            json!({ "actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"] }),
        ];
        assert!(is_owner(&owner));
        assert!(!is_owner(&contributor));
        assert!(allows(&contributor, "Microsoft.Synapse/workspaces/write"));
        assert!(!is_owner(&[json!({ "actions": ["*/read"] })]));
    }
}
