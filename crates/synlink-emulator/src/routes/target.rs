//! `Target`: what an ARM URL names, parsed case-insensitively (ARM compares names and
//! segments that way): subscriptions, resource groups, the resources of the two provider
//! namespaces served (as items, children and lists), `checkNameAvailability`, the
//! Authorization routes at any scope, and LRO polling URLs. Also each target's
//! subscription (for throttling) and its label (for request counts).

use http::Method;

use crate::arm_error::ArmError;
use crate::store::Kind;

/// What an Authorization URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthTarget {
    /// `roleAssignments` (list) or `roleAssignments/{name}`.
    RoleAssignments(Option<String>),
    /// `roleDefinitions` (list) or `roleDefinitions/{guid}`.
    RoleDefinitions(Option<String>),
    /// `permissions`.
    Permissions,
}

/// What an ARM URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/subscriptions`.
    Subscriptions,
    /// `/subscriptions/{sub}`.
    Subscription { sub: String },
    /// `/subscriptions/{sub}/resourcegroups`.
    ResourceGroups { sub: String },
    /// `/subscriptions/{sub}/resourcegroups/{rg}`.
    ResourceGroup { sub: String, rg: String },
    /// `/subscriptions/{sub}/providers/{ns}/workspaces`.
    SubscriptionList { sub: String, kind: Kind },
    /// `…/resourceGroups/{rg}/providers/{ns}/workspaces`.
    GroupList { sub: String, rg: String, kind: Kind },
    /// `…/providers/{ns}/workspaces/{name}`.
    Item {
        sub: String,
        rg: String,
        kind: Kind,
        name: String,
    },
    /// `…/workspaces/{parent}/{children}`.
    ChildList {
        sub: String,
        rg: String,
        kind: Kind,
        parent: String,
    },
    /// `…/workspaces/{parent}/{children}/{name}`.
    Child {
        sub: String,
        rg: String,
        kind: Kind,
        parent: String,
        name: String,
    },
    /// `/subscriptions/{sub}/providers/Microsoft.Synapse/checkNameAvailability`.
    CheckNameAvailability { sub: String },
    /// `{scope}/providers/Microsoft.Authorization/…`.
    Authorization { scope: String, what: AuthTarget },
    /// `…/operationStatuses/{id}`.
    OperationStatus { sub: String, op: String },
    /// `…/operationResults/{id}`.
    OperationResult { sub: String, op: String },
}

impl Target {
    /// The subscription a request counts against (throttling), if any.
    pub fn subscription(&self) -> Option<&str> {
        match self {
            Target::Subscription { sub }
            | Target::ResourceGroups { sub }
            | Target::ResourceGroup { sub, .. }
            | Target::SubscriptionList { sub, .. }
            | Target::GroupList { sub, .. }
            | Target::Item { sub, .. }
            | Target::ChildList { sub, .. }
            | Target::Child { sub, .. }
            | Target::CheckNameAvailability { sub }
            | Target::OperationStatus { sub, .. }
            | Target::OperationResult { sub, .. } => Some(sub),
            Target::Authorization { scope, .. } => subscription_of(scope),
            Target::Subscriptions => None,
        }
    }

    /// A label for request counts, e.g. `Microsoft.Synapse/workspaces`.
    pub fn label(&self) -> String {
        match self {
            Target::Subscription { .. } => "subscriptions".to_owned(),
            Target::Subscriptions => "subscriptions (list)".to_owned(),
            Target::ResourceGroups { .. } => "resourceGroups (list)".to_owned(),
            Target::ResourceGroup { .. } => "resourceGroups".to_owned(),
            Target::SubscriptionList { kind, .. }
            | Target::GroupList { kind, .. }
            | Target::ChildList { kind, .. } => {
                format!("{} (list)", kind.type_name())
            }
            Target::Item { kind, .. } | Target::Child { kind, .. } => kind.type_name().to_owned(),
            Target::CheckNameAvailability { .. } => {
                "Microsoft.Synapse/checkNameAvailability".to_owned()
            }
            Target::Authorization { what, .. } => match what {
                AuthTarget::RoleAssignments(None) => {
                    "Microsoft.Authorization/roleAssignments (list)".to_owned()
                }
                AuthTarget::RoleAssignments(Some(_)) => {
                    "Microsoft.Authorization/roleAssignments".to_owned()
                }
                AuthTarget::RoleDefinitions(None) => {
                    "Microsoft.Authorization/roleDefinitions (list)".to_owned()
                }
                AuthTarget::RoleDefinitions(Some(_)) => {
                    "Microsoft.Authorization/roleDefinitions".to_owned()
                }
                AuthTarget::Permissions => "Microsoft.Authorization/permissions".to_owned(),
            },
            Target::OperationStatus { .. } => "operationStatuses".to_owned(),
            Target::OperationResult { .. } => "operationResults".to_owned(),
        }
    }
}

/// The subscription named at the start of a scope.
pub fn subscription_of(scope: &str) -> Option<&str> {
    let mut parts = scope.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(sub)) if s.eq_ignore_ascii_case("subscriptions") && !sub.is_empty() => {
            Some(sub)
        }
        _ => None,
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Parses an ARM path (`/subscriptions/…` or `/providers/…`).
pub fn parse(method: &Method, path: &str) -> Result<Target, ArmError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let none = || ArmError::no_route(method.as_str(), path);
    if segs.iter().any(|s| s.is_empty()) {
        return Err(none());
    }
    let n = segs.len();
    if n == 1 && eq(segs[0], "subscriptions") {
        return Ok(Target::Subscriptions);
    }
    if n >= 4 && eq(segs[0], "subscriptions") {
        let sub = segs[1].to_owned();
        if eq(segs[n - 2], "operationStatuses") {
            return Ok(Target::OperationStatus {
                sub,
                op: segs[n - 1].to_owned(),
            });
        }
        if eq(segs[n - 2], "operationResults") {
            return Ok(Target::OperationResult {
                sub,
                op: segs[n - 1].to_owned(),
            });
        }
    }
    if let Some(i) = (0..n.saturating_sub(1))
        .rev()
        .find(|&i| eq(segs[i], "providers") && eq(segs[i + 1], "Microsoft.Authorization"))
    {
        let scope = if i == 0 {
            String::new()
        } else {
            format!("/{}", segs[..i].join("/"))
        };
        let what = match &segs[i + 2..] {
            [t] if eq(t, "roleAssignments") => AuthTarget::RoleAssignments(None),
            [t, name] if eq(t, "roleAssignments") => {
                AuthTarget::RoleAssignments(Some((*name).to_owned()))
            }
            [t] if eq(t, "roleDefinitions") => AuthTarget::RoleDefinitions(None),
            [t, id] if eq(t, "roleDefinitions") => {
                AuthTarget::RoleDefinitions(Some((*id).to_owned()))
            }
            [t] if eq(t, "permissions") => AuthTarget::Permissions,
            _ => return Err(none()),
        };
        return Ok(Target::Authorization { scope, what });
    }
    if !eq(segs[0], "subscriptions") || n < 2 {
        return Err(none());
    }
    let sub = segs[1].to_owned();
    match &segs[2..] {
        [] => Ok(Target::Subscription { sub }),
        [rgs] if eq(rgs, "resourceGroups") => Ok(Target::ResourceGroups { sub }),
        [rgs, rg] if eq(rgs, "resourceGroups") => Ok(Target::ResourceGroup {
            sub,
            rg: (*rg).to_owned(),
        }),
        [rgs, rg, p, ns, rest @ ..]
            if eq(rgs, "resourceGroups") && eq(p, "providers") && !rest.is_empty() =>
        {
            provider_path(method, path, sub, Some((*rg).to_owned()), ns, rest)
        }
        [p, ns, rest @ ..] if eq(p, "providers") && !rest.is_empty() => {
            provider_path(method, path, sub, None, ns, rest)
        }
        _ => Err(none()),
    }
}

fn provider_path(
    method: &Method,
    path: &str,
    sub: String,
    rg: Option<String>,
    ns: &str,
    rest: &[&str],
) -> Result<Target, ArmError> {
    let (top, child) = if eq(ns, "Microsoft.MachineLearningServices") {
        (
            Kind::MlWorkspace,
            [
                ("linkedServices", Kind::LinkedService),
                ("computes", Kind::Compute),
            ],
        )
    } else if eq(ns, "Microsoft.Synapse") {
        (
            Kind::SynapseWorkspace,
            [
                ("bigDataPools", Kind::BigDataPool),
                ("bigDataPools", Kind::BigDataPool),
            ],
        )
    } else {
        return Err(ArmError::bad_request(
            "InvalidResourceNamespace",
            format!("The resource namespace '{ns}' is invalid (the emulator serves Microsoft.MachineLearningServices, Microsoft.Synapse, Microsoft.Authorization and resource groups)."),
        ));
    };
    let child_kind = |seg: &str| child.iter().find(|(s, _)| eq(s, seg)).map(|(_, k)| *k);
    let Some(rg) = rg else {
        return match rest {
            [t] if eq(t, "workspaces") => Ok(Target::SubscriptionList { sub, kind: top }),
            [t] if top == Kind::SynapseWorkspace && eq(t, "checkNameAvailability") => {
                Ok(Target::CheckNameAvailability { sub })
            }
            [t, ..] if !eq(t, "workspaces") && !eq(t, "locations") => Err(invalid_type(ns, t)),
            _ => Err(ArmError::no_route(method.as_str(), path)),
        };
    };
    match rest {
        [t] if eq(t, "workspaces") => Ok(Target::GroupList { sub, rg, kind: top }),
        [t, name] if eq(t, "workspaces") => Ok(Target::Item {
            sub,
            rg,
            kind: top,
            name: (*name).to_owned(),
        }),
        [t, parent, c] if eq(t, "workspaces") => match child_kind(c) {
            Some(kind) => Ok(Target::ChildList {
                sub,
                rg,
                kind,
                parent: (*parent).to_owned(),
            }),
            None => Err(invalid_type(ns, &format!("workspaces/{c}"))),
        },
        [t, parent, c, name] if eq(t, "workspaces") => match child_kind(c) {
            Some(kind) => Ok(Target::Child {
                sub,
                rg,
                kind,
                parent: (*parent).to_owned(),
                name: (*name).to_owned(),
            }),
            None => Err(invalid_type(ns, &format!("workspaces/{c}"))),
        },
        [t, ..] if !eq(t, "workspaces") => Err(invalid_type(ns, t)),
        _ => Err(ArmError::no_route(method.as_str(), path)),
    }
}

fn invalid_type(ns: &str, t: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidResourceType",
        format!("The resource type '{t}' could not be found in the namespace '{ns}'."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_case_insensitively() {
        let t = parse(
            &Method::GET,
            "/subscriptions/S/resourcegroups/rg/providers/microsoft.synapse/WORKSPACES/ws/bigdatapools/p",
        )
        .unwrap();
        assert_eq!(
            t,
            Target::Child {
                sub: "S".into(),
                rg: "rg".into(),
                kind: Kind::BigDataPool,
                parent: "ws".into(),
                name: "p".into()
            }
        );
        let t = parse(
            &Method::GET,
            "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/ws/providers/Microsoft.Authorization/permissions",
        )
        .unwrap();
        assert_eq!(
            t,
            Target::Authorization {
                scope:
                    "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/ws"
                        .into(),
                what: AuthTarget::Permissions
            }
        );
        assert!(parse(&Method::GET, "/nothing/here").is_err());
        assert!(parse(
            &Method::GET,
            "/subscriptions/S/resourceGroups/rg/providers/Microsoft.Foo/bars"
        )
        .is_err());
    }
}
