//! Synapse data-plane role assignments (azure-rest.md §8), at the workspace's
//! `connectivityEndpoints.dev`: listed per Synapse workspace (paged). An
//! assignment is identified by its (scope, role, principal) tuple: an identical
//! one that exists is adopted, never duplicated. Its id is a GUID the client
//! chooses; the plan names it, so a retried or re-applied PUT lands on the same
//! assignment. Assignments cannot be edited: any change is a replacement. A
//! Spark role is written, then checked with `checkAccessSynapseRbac` until it
//! takes effect, so an attachment after it can use the pool.

use std::time::Instant;

use indexmap::IndexMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::addr::{Address, ArmId, Properties, ResourceKind};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::provider::discover::{self, Field, Fields};
use crate::provider::{
    arm_get, id_of, str_at, synapse_workspace, Applied, ApplyContext, Desired, Fill, Known, Lookup,
    Need, Provider, Request, Words,
};
use crate::spec::model::{GrantScope, RoleGrant};
use crate::spec::{roles, Body, LoadedSpec, Resource};

/// The stable data-plane api-version.
pub const API_VERSION: &str = "2020-12-01";

/// The action a Spark role must allow before a pool is usable.
const USE_COMPUTE: &str = "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action";

/// The provider.
pub struct RoleGrants;

fn settings(r: &Resource) -> &RoleGrant {
    match &r.body {
        Body::RoleGrant(g) => g,
        _ => unreachable!("the role grant provider is only given role grants"),
    }
}

/// The Synapse scope string of a workspace or one of its pools, in Azure's
/// casing (`bigDataPools`, as Azure's own scopes read).
pub fn scope(workspace: &str, pool: Option<&str>) -> String {
    match pool {
        Some(p) => format!("workspaces/{workspace}/bigDataPools/{p}"),
        None => format!("workspaces/{workspace}"),
    }
}

/// The (scope, role, principal) key of an assignment body, folded.
fn tuple_of(body: &Value) -> Option<String> {
    Some(format!(
        "{}|{}|{}",
        str_at(body, "/scope")?.to_ascii_lowercase(),
        str_at(body, "/roleDefinitionId")?.to_ascii_lowercase(),
        str_at(body, "/principalId")?.to_ascii_lowercase(),
    ))
}

/// A key of a JSON object, whatever its casing. Azure's data-plane definitions
/// and their own examples disagree on casing in places (`AccessDecisions`);
/// synlink reads both and writes what the definition says.
pub fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Whether a `checkAccessSynapseRbac` answer allows the action. The 2020-12-01
/// definition (checkAccessSynapseRbac.json, `CheckPrincipalAccessResponse`)
/// names the list `AccessDecisions`; its example and the service's answers use
/// `accessDecisions`: both are read.
pub fn access_allowed(answer: &Value) -> bool {
    get_ci(answer, "accessDecisions")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| get_ci(d, "accessDecision"))
        .and_then(Value::as_str)
        .is_some_and(|d| d.eq_ignore_ascii_case("Allowed"))
}

/// The key of a Synapse Administrator assignment to `principal` at the scope
/// of workspace `workspace` (preflight looks for it).
pub fn admin_key(workspace: &str, principal: &str) -> String {
    let admin = roles::find("Synapse Administrator").map_or("", |r| r.id);
    format!(
        "{}|{}|{}",
        scope(workspace, None).to_ascii_lowercase(),
        admin,
        principal.to_ascii_lowercase()
    )
}

/// Whether granting `role_id` makes Spark pools usable (and so is checked
/// until it takes effect).
fn is_spark_role(role_id: &str) -> bool {
    roles::find(role_id).is_some_and(|r| {
        r.api_name == "Apache Spark Administrator" || r.api_name == "Synapse Administrator"
    })
}

#[async_trait::async_trait]
impl Provider for RoleGrants {
    fn kind(&self) -> ResourceKind {
        ResourceKind::RoleGrant
    }

    fn parent_kind(&self) -> Option<ResourceKind> {
        Some(ResourceKind::SynapseWorkspace)
    }

    fn collection(&self) -> &'static str {
        "roleAssignments"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn id(&self, _r: &Resource, _spec: &LoadedSpec) -> Option<ArmId> {
        None
    }

    fn parent_id(&self, r: &Resource, spec: &LoadedSpec) -> Option<ArmId> {
        id_of(
            spec,
            ResourceKind::SynapseWorkspace,
            &settings(r).synapse_workspace,
        )
    }

    fn desired(&self, r: &Resource, spec: &LoadedSpec, lookup: &dyn Lookup) -> Desired {
        let g = settings(r);
        let mut p = Properties::new();
        let mut unknown = IndexMap::new();
        let role_id =
            roles::find(&g.role).map_or_else(|| g.role.clone(), |role| role.id.to_owned());
        p.insert("role_id".into(), json!(role_id.to_ascii_lowercase()));
        let source = match (&g.principal.link, &g.principal.attachment) {
            (Some(l), _) => Some(Address::new(ResourceKind::Link, l)),
            (_, Some(a)) => Some(Address::new(ResourceKind::Attachment, a)),
            _ => None,
        };
        let principal = match (&source, &g.principal.object_id) {
            (_, Some(id)) => Some(json!(id.to_ascii_lowercase())),
            (Some(address), None) => {
                if let Known::Now(v) = lookup.output(address, "principal_id") {
                    Some(json!(v.as_str().unwrap_or_default().to_ascii_lowercase()))
                } else {
                    // Known after apply, or (an identity-less attachment) never:
                    // apply says so when it cannot fill it.
                    unknown.insert(
                        "principal_id".to_owned(),
                        Some(Fill::Output {
                            address: address.clone(),
                            key: "principal_id".into(),
                        }),
                    );
                    None
                }
            }
            (None, None) => None,
        };
        if let Some(principal) = principal {
            p.insert("principal_id".into(), principal);
        }
        p.insert(
            "scope".into(),
            json!(grant_scope(r, spec).to_ascii_lowercase()),
        );
        p.insert(
            "principal_type".into(),
            json!(match g.principal.principal_type.as_deref() {
                Some("User") => "User",
                Some("Group") => "Group",
                _ => "ServicePrincipal",
            }),
        );
        Desired {
            properties: p,
            unknown,
        }
    }

    fn request(
        &self,
        r: &Resource,
        spec: &LoadedSpec,
        _lookup: &dyn Lookup,
        desired: &Desired,
        _create: bool,
    ) -> Request {
        let props = &desired.properties;
        let mut request = Request::new(
            "PUT",
            API_VERSION,
            json!({
                "roleId": props.get("role_id"),
                "principalId": props.get("principal_id").cloned().unwrap_or(Value::Null),
                "scope": grant_scope(r, spec),
                "principalType": props.get("principal_type"),
            }),
        );
        if let Some(Some(fill)) = desired.unknown.get("principal_id") {
            request.fill.insert("/principalId".into(), fill.clone());
        }
        request
    }

    /// `principalType` may come back null or numeric: the desired value is
    /// kept when Azure does not say.
    fn observed(&self, body: &Value, desired: Option<&Properties>) -> Properties {
        let mut p = Properties::new();
        for (key, field) in [
            ("role_id", "/roleDefinitionId"),
            ("principal_id", "/principalId"),
            ("scope", "/scope"),
        ] {
            if let Some(v) = str_at(body, field) {
                p.insert(key.into(), json!(v.to_ascii_lowercase()));
            }
        }
        let wanted = desired
            .and_then(|d| d.get("principal_type"))
            .and_then(Value::as_str)
            .unwrap_or("ServicePrincipal");
        let t = str_at(body, "/principalType")
            .filter(|t| ["User", "Group", "ServicePrincipal"].contains(t))
            .unwrap_or(wanted);
        p.insert("principal_type".into(), json!(t));
        p
    }

    fn outputs(&self, _body: &Value) -> IndexMap<String, Value> {
        IndexMap::new()
    }

    fn key_of_body(&self, body: &Value) -> Option<String> {
        tuple_of(body)
    }

    fn key_of_desired(&self, desired: &Properties) -> Option<String> {
        let s = |k: &str| desired.get(k).and_then(Value::as_str);
        Some(format!(
            "{}|{}|{}",
            s("scope")?,
            s("role_id")?,
            s("principal_id")?
        ))
    }

    fn replace_paths(&self) -> &'static [&'static str] {
        &["role_id", "principal_id", "scope", "principal_type"]
    }

    fn spec_fields(
        &self,
        id: &ArmId,
        body: &Value,
        keys: &dyn discover::Keys,
        _existing: bool,
    ) -> Result<Fields, String> {
        let mut f = Fields::new();
        let workspace = id.parent().ok_or("it names no Synapse workspace")?;
        let ws_key = keys
            .address_of(&workspace)
            .ok_or("its Synapse workspace is not described")?;
        f.insert("synapse_workspace".into(), Field::Key(ws_key));
        let role_id = str_at(body, "/roleDefinitionId").unwrap_or_default();
        let role = roles::find(role_id).ok_or_else(|| {
            format!("its role {role_id} is not a Synapse built-in role synlink knows")
        })?;
        f.insert("role".into(), Field::Text(role.api_name.to_owned()));
        let principal_id = str_at(body, "/principalId").unwrap_or_default();
        let mut principal = Fields::new();
        if let Some(holder) = keys.holder_of(principal_id) {
            let field = match holder.kind {
                ResourceKind::Attachment => "attachment",
                _ => "link",
            };
            principal.insert(field.into(), Field::Key(holder));
        } else {
            principal.insert(
                "object_id".into(),
                Field::Text(principal_id.to_ascii_lowercase()),
            );
            let kind = str_at(body, "/principalType")
                .filter(|t| ["User", "Group", "ServicePrincipal"].contains(t))
                .unwrap_or("ServicePrincipal");
            principal.insert("type".into(), Field::Text(kind.to_owned()));
        }
        f.insert("principal".into(), Field::Map(principal));
        let scope = str_at(body, "/scope").unwrap_or_default();
        if let Some((_, pool)) = scope
            .split_once("/bigDataPools/")
            .or_else(|| scope.split_once("/bigdatapools/"))
        {
            let pool_key = keys
                .address_of(&workspace.child("bigDataPools", pool))
                .ok_or_else(|| {
                    format!("its scope names Spark pool `{pool}`, which does not exist")
                })?;
            let mut s = Fields::new();
            s.insert("spark_pool".into(), Field::Key(pool_key));
            f.insert("scope".into(), Field::Map(s));
        }
        Ok(f)
    }

    fn delete_rank(&self) -> u8 {
        0
    }

    fn words(&self) -> Words {
        Words {
            delete: "revoke",
            deleting: "revoking",
            deleted: "revoked",
            destroyed: "revoked",
            created: "granted",
        }
    }

    fn needs(&self, id: &ArmId, _request: Option<&Request>, caller: Option<&str>) -> Vec<Need> {
        id.parent()
            .map(|ws| Need {
                or_child: caller.map(|c| (ResourceKind::RoleGrant, admin_key(ws.name(), c))),
                resource: ws,
                lacking: "may not write Synapse role assignments in `{name}`: neither Synapse Administrator there nor Owner of it",
                hint: "ask a Synapse Administrator of the workspace to grant you Synapse Administrator, or an Owner of it",
            })
            .into_iter()
            .collect()
    }

    fn describe(&self, path: &str, value: &Value) -> Option<String> {
        (path == "role_id")
            .then(|| roles::find(value.as_str()?).map(|r| r.api_name.to_owned()))
            .flatten()
    }

    async fn read(
        &self,
        client: &Client,
        id: &ArmId,
        parent: Option<&Value>,
    ) -> Result<Option<Value>, CloudError> {
        let Some(workspace) = id.parent() else {
            return Ok(None);
        };
        let fetched;
        let parent = match parent {
            Some(p) => p,
            None => match arm_get(client, &workspace, synapse_workspace::API_VERSION).await? {
                Some(p) => {
                    fetched = p;
                    &fetched
                }
                None => return Ok(None),
            },
        };
        let Some(endpoint) = synapse_workspace::dev_endpoint(parent) else {
            return Ok(None);
        };
        match client
            .data_plane(
                Method::GET,
                &format!("{endpoint}/roleAssignments/{}", id.name()),
                API_VERSION,
                None,
            )
            .await
        {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(
        &self,
        client: &Client,
        parent_id: &ArmId,
        parent: &Value,
    ) -> Result<Vec<(ArmId, Value)>, CloudError> {
        let endpoint =
            synapse_workspace::dev_endpoint(parent).ok_or_else(|| CloudError::Unexpected {
                path: parent_id.to_string(),
                message: "the Synapse workspace reports no connectivityEndpoints.dev".into(),
            })?;
        let items = client
            .data_plane_list(&format!("{endpoint}/roleAssignments"), API_VERSION)
            .await?;
        Ok(items
            .into_iter()
            .filter_map(|a| {
                let aid = a.get("id").and_then(Value::as_str)?.to_owned();
                Some((parent_id.child(self.collection(), &aid), a))
            })
            .collect())
    }

    async fn write(
        &self,
        ctx: &ApplyContext,
        address: &Address,
        id: &ArmId,
        request: &Request,
    ) -> Result<Applied, CloudError> {
        let workspace = id.parent().ok_or_else(|| CloudError::Unexpected {
            path: id.to_string(),
            message: "a role assignment id names its workspace".into(),
        })?;
        let endpoint = ctx.endpoint(&workspace).await?;
        let client = &ctx.client;
        let body = &request.body;
        let text = |k: &str| str_at(body, k).unwrap_or_default().to_owned();
        let (role_id, principal, scope) = (text("/roleId"), text("/principalId"), text("/scope"));
        let started = Instant::now();
        let written = loop {
            match client
                .data_plane(
                    Method::PUT,
                    &format!("{endpoint}/roleAssignments/{}", id.name()),
                    &request.api_version,
                    Some(body),
                )
                .await
            {
                Ok(_) => break id.clone(),
                // The same (scope, role, principal) exists under another id (made
                // by another client, or by us before an answer was lost): adopt it.
                Err(e) if e.code() == Some("RoleAssignmentAlreadyExists") => {
                    let existing = client
                        .data_plane_list(
                            &format!(
                                "{endpoint}/roleAssignments?roleId={role_id}&principalId={principal}"
                            ),
                            &request.api_version,
                        )
                        .await?;
                    let wanted = tuple_of(body);
                    let found = existing
                        .iter()
                        .find(|a| tuple_of(a) == wanted)
                        .and_then(|a| a.get("id"))
                        .and_then(Value::as_str);
                    break found.map_or_else(
                        || id.clone(),
                        |aid| workspace.child(self.collection(), aid),
                    );
                }
                Err(e)
                    if e.code() == Some("PrincipalNotFound")
                        && started.elapsed() < ctx.propagation_timeout =>
                {
                    ctx.waiting(
                        address,
                        format!(
                            "waiting for identity {principal} to propagate ({}s so far)",
                            started.elapsed().as_secs()
                        ),
                    );
                    tokio::time::sleep(ctx.gate_wait(started)).await;
                }
                Err(e) if e.code() == Some("PrincipalNotFound") => {
                    return Err(CloudError::Unexpected {
                        path: address.to_string(),
                        message: format!(
                            "identity {principal} did not propagate within {}s (--propagation-timeout): {e}",
                            ctx.propagation_timeout.as_secs()
                        ),
                    })
                }
                Err(e) => return Err(e),
            }
        };
        // Synapse RBAC takes minutes to apply. A Spark role is checked until it
        // allows using pools, so the attachment after it works.
        if is_spark_role(&role_id) {
            let check = json!({
                "subject": { "principalId": principal, "groupIds": [] },
                "actions": [{ "id": USE_COMPUTE, "isDataAction": true }],
                "scope": scope,
            });
            let started = Instant::now();
            loop {
                let answer = client
                    .data_plane(
                        Method::POST,
                        &format!("{endpoint}/checkAccessSynapseRbac"),
                        &request.api_version,
                        Some(&check),
                    )
                    .await?;
                if access_allowed(&answer.body) {
                    break;
                }
                if started.elapsed() >= ctx.propagation_timeout {
                    return Err(CloudError::Unexpected {
                        path: address.to_string(),
                        message: format!(
                            "the role assignment was written but did not take effect within {}s (Synapse RBAC propagation); re-run apply later",
                            ctx.propagation_timeout.as_secs()
                        ),
                    });
                }
                ctx.waiting(
                    address,
                    format!(
                        "waiting for the Synapse role to take effect ({}s so far)",
                        started.elapsed().as_secs()
                    ),
                );
                tokio::time::sleep(ctx.gate_wait(started)).await;
            }
        }
        Ok(Applied {
            id: written,
            outputs: IndexMap::new(),
        })
    }

    async fn delete(&self, ctx: &ApplyContext, id: &ArmId) -> Result<(), CloudError> {
        let Some(workspace) = id.parent() else {
            return Ok(());
        };
        let endpoint = ctx.endpoint(&workspace).await?;
        match ctx
            .client
            .data_plane(
                Method::DELETE,
                &format!("{endpoint}/roleAssignments/{}", id.name()),
                API_VERSION,
                None,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The scope of a grant in Azure's casing.
fn grant_scope(r: &Resource, spec: &LoadedSpec) -> String {
    let g = settings(r);
    let workspace = spec
        .get(ResourceKind::SynapseWorkspace, &g.synapse_workspace)
        .map_or(g.synapse_workspace.as_str(), |w| w.name.as_str());
    let pool = match &g.scope {
        Some(GrantScope::SparkPool(p)) => Some(
            spec.get(ResourceKind::SparkPool, p)
                .map_or(p.as_str(), |p| p.name.as_str()),
        ),
        _ => None,
    };
    scope(workspace, pool)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{access_allowed, is_spark_role, scope, tuple_of, RoleGrants};
    use crate::provider::Provider;

    #[test]
    fn access_decisions_are_read_in_either_casing() {
        // checkAccessSynapseRbac.json (2020-12-01): the definition says
        // `AccessDecisions`, its example `accessDecisions`.
        let definition =
            json!({ "AccessDecisions": [{ "accessDecision": "Allowed", "actionId": "x" }] });
        let example = json!({ "accessDecisions": [{ "accessDecision": "Allowed" }] });
        let denied = json!({ "accessDecisions": [{ "accessDecision": "NotAllowed" }] });
        assert!(access_allowed(&definition));
        assert!(access_allowed(&example));
        assert!(!access_allowed(&denied));
        assert!(!access_allowed(&json!({})));
    }

    #[test]
    fn pool_scopes_use_azures_casing() {
        assert_eq!(
            scope("syn", Some("small")),
            "workspaces/syn/bigDataPools/small"
        );
        assert_eq!(scope("syn", None), "workspaces/syn");
    }

    #[test]
    fn assignments_are_keyed_by_scope_role_and_principal() {
        let body = json!({ "id": "a1", "scope": "workspaces/Syn", "roleDefinitionId": "R", "principalId": "P" });
        assert_eq!(tuple_of(&body).as_deref(), Some("workspaces/syn|r|p"));
        let desired = RoleGrants.observed(&body, None);
        assert_eq!(
            RoleGrants.key_of_desired(&desired),
            RoleGrants.key_of_body(&body)
        );
        assert_eq!(desired["principal_type"], json!("ServicePrincipal"));
    }

    #[test]
    fn spark_roles_are_checked_and_others_are_not() {
        assert!(is_spark_role("Apache Spark Administrator"));
        assert!(is_spark_role("Synapse Administrator"));
        assert!(!is_spark_role("Synapse Contributor"));
        assert_eq!(
            RoleGrants.describe("role_id", &json!("c3a6d2f1-a26f-4810-9b0f-591308d5cbf1")),
            Some("Apache Spark Administrator".into())
        );
    }
}
