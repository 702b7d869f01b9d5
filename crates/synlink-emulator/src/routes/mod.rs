//! ARM routing: turns a path into a `Target` (case-insensitively, since ARM compares
//! names and segments that way) and sends it to the handler of its resource type. Every
//! handler is synchronous and works on the locked `Store`; the server does the rest
//! (authentication, throttling, faults, headers, logging).

pub mod authorization;
pub mod big_data_pools;
pub mod computes;
pub mod linked_services;
pub mod ml_workspaces;
pub mod resource_groups;
pub mod synapse_data_plane;
pub mod synapse_workspaces;

use http::Method;

use crate::arm_error::ArmError;
use crate::lro;
use crate::reply::Reply;
use crate::request::Ctx;
use crate::store::{Kind, Store};

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

/// The canonical id of a resource group.
pub fn group_id(sub: &str, rg: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}")
}

/// The resource group a request works in, in its stored casing, or 404.
pub fn existing_group(store: &Store, sub: &str, rg: &str) -> Result<String, ArmError> {
    store
        .get(&group_id(sub, rg))
        .filter(|r| r.kind == Kind::ResourceGroup)
        .map(|r| r.id.clone())
        .ok_or_else(|| ArmError::resource_group_not_found(rg))
}

/// Answers one ARM request.
pub fn handle(store: &mut Store, ctx: &Ctx<'_>, target: &Target) -> Result<Reply, ArmError> {
    match target {
        Target::Subscriptions => resource_groups::subscriptions(store, ctx),
        Target::Subscription { sub } => resource_groups::subscription(store, ctx, sub),
        Target::ResourceGroups { sub } => resource_groups::list(store, ctx, sub),
        Target::ResourceGroup { sub, rg } => resource_groups::item(store, ctx, sub, rg),
        Target::SubscriptionList { sub, kind } | Target::GroupList { sub, kind, .. } => {
            let rg = match target {
                Target::GroupList { rg, .. } => Some(rg.as_str()),
                _ => None,
            };
            match kind {
                Kind::MlWorkspace => ml_workspaces::list(store, ctx, sub, rg),
                _ => synapse_workspaces::list(store, ctx, sub, rg),
            }
        }
        Target::Item {
            sub,
            rg,
            kind,
            name,
        } => match kind {
            Kind::MlWorkspace => ml_workspaces::item(store, ctx, sub, rg, name),
            _ => synapse_workspaces::item(store, ctx, sub, rg, name),
        },
        Target::ChildList {
            sub,
            rg,
            kind,
            parent,
        } => match kind {
            Kind::LinkedService => linked_services::list(store, ctx, sub, rg, parent),
            Kind::Compute => computes::list(store, ctx, sub, rg, parent),
            _ => big_data_pools::list(store, ctx, sub, rg, parent),
        },
        Target::Child {
            sub,
            rg,
            kind,
            parent,
            name,
        } => match kind {
            Kind::LinkedService => linked_services::item(store, ctx, sub, rg, parent, name),
            Kind::Compute => computes::item(store, ctx, sub, rg, parent, name),
            _ => big_data_pools::item(store, ctx, sub, rg, parent, name),
        },
        Target::CheckNameAvailability { .. } => synapse_workspaces::check_name(store, ctx),
        Target::Authorization { scope, what } => authorization::handle(store, ctx, scope, what),
        Target::OperationStatus { op, .. } => {
            only_get(ctx)?;
            require_version(ctx)?;
            lro::status_reply(store, op, ctx.path, ctx.now)
        }
        Target::OperationResult { op, .. } => {
            only_get(ctx)?;
            require_version(ctx)?;
            let url = format!(
                "{}{}?api-version={}",
                ctx.base_url,
                ctx.path,
                ctx.api_version_or_default()
            );
            lro::result_reply(store, op, &url, ctx.now)
        }
    }
}

fn require_version(ctx: &Ctx<'_>) -> Result<(), ArmError> {
    if ctx.api_version().is_some_and(|v| !v.is_empty()) {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ))
    }
}

/// 405 unless the method is GET (or HEAD).
pub fn only_get(ctx: &Ctx<'_>) -> Result<(), ArmError> {
    if *ctx.method == Method::GET || *ctx.method == Method::HEAD {
        Ok(())
    } else {
        Err(ArmError::method_not_allowed(ctx.method.as_str(), "GET"))
    }
}

/// `{value:[…]}`.
pub fn list_reply(items: Vec<serde_json::Value>) -> Reply {
    Reply::ok(serde_json::Value::Object(serde_json::Map::from_iter([(
        "value".to_owned(),
        serde_json::Value::Array(items),
    )])))
}

/// `systemData`, keeping the creation fields of the stored body.
pub fn system_data(previous: Option<&serde_json::Value>, oid: &str, now: u64) -> serde_json::Value {
    let stamp = crate::clock::rfc3339(now);
    let prev = previous.and_then(|p| p.get("systemData"));
    let keep = |k: &str, default: serde_json::Value| {
        prev.and_then(|p| p.get(k)).cloned().unwrap_or(default)
    };
    serde_json::json!({
        "createdBy": keep("createdBy", serde_json::json!(oid)),
        "createdByType": "Application",
        "createdAt": keep("createdAt", serde_json::json!(stamp)),
        "lastModifiedBy": oid,
        "lastModifiedByType": "Application",
        "lastModifiedAt": stamp,
    })
}

/// 409 when a resource is being deleted.
pub fn refuse_if_deleting(body: &serde_json::Value, id: &str) -> Result<(), ArmError> {
    if crate::store::state_of(body) == "Deleting" {
        Err(ArmError::conflict(
            "AnotherOperationInProgress",
            format!("Another operation is in progress on '{id}': it is being deleted."),
        ))
    } else {
        Ok(())
    }
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
