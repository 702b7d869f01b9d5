//! Access control over HTTP: Azure RBAC (role assignments with filters and 409s,
//! `PrincipalNotFound`, role definitions, permissions, 403s) and the Synapse data plane
//! (role definitions, assignments with paging and `RoleAssignmentAlreadyExists`,
//! checkAccess, who may write).

use serde_json::{json, Value};

use super::support::{fast_faults, start, start_with, synapse_id, Api, ARM, SUB, SYNAPSE};

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const SPARK_ADMIN: &str = "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1";
const SYNAPSE_ADMIN: &str = "6e4bf58a-b8e1-4cc3-bbf9-d73143322b78";

fn ra_path(scope: &str, name: &str) -> String {
    format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"
    )
}

fn ra_body(role: &str, principal: &str) -> Value {
    json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": principal, "principalType": "ServicePrincipal"}})
}

#[tokio::test]
async fn arm_role_assignments_filters_conflicts_and_permissions() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    let ws = synapse_id("rg", "syn1");
    let sp = "22222222-2222-2222-2222-222222222222";
    let sp_api = Api::as_principal(&emu, sp, ARM);
    let name = uuid::Uuid::new_v4().to_string();
    let a = api.put(&ra_path(&ws, &name), ra_body(READER, sp)).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(
        a.body["properties"]["roleDefinitionId"],
        format!("/providers/Microsoft.Authorization/roleDefinitions/{READER}")
    );
    assert_eq!(a.body["properties"]["scope"], ws);
    // same tuple under another name
    let dup = api
        .put(
            &ra_path(&ws, &uuid::Uuid::new_v4().to_string()),
            ra_body(READER, sp),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code().as_str()),
        (409, "RoleAssignmentExists")
    );
    // same name, same tuple: idempotent
    assert_eq!(
        api.put(&ra_path(&ws, &name), ra_body(READER, sp))
            .await
            .status,
        201
    );
    // case-insensitive scope on GET
    assert_eq!(
        api.get(&ra_path(
            &ws.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions"),
            &name
        ))
        .await
        .status,
        200
    );
    // filters
    let list = |filter: &str, scope: &str| {
        let api = api.clone();
        let url = format!("{scope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter={}", urlencode(filter));
        async move {
            api.get(&url).await.body["value"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let at_ws = list("atScope()", &ws).await;
    assert_eq!(
        at_ws.len(),
        2,
        "bootstrap Owner on the subscription + Reader on the workspace"
    );
    let at_sub = list("atScope()", &format!("/subscriptions/{SUB}")).await;
    assert_eq!(at_sub.len(), 1);
    let by_principal = list(
        &format!("principalId eq '{sp}'"),
        &format!("/subscriptions/{SUB}"),
    )
    .await;
    assert_eq!(by_principal.len(), 1, "below the scope too");
    // a Reader cannot write role assignments
    let denied = sp_api
        .put(
            &ra_path(&ws, &uuid::Uuid::new_v4().to_string()),
            ra_body(OWNER, sp),
        )
        .await;
    assert_eq!(
        (denied.status, denied.code().as_str()),
        (403, "AuthorizationFailed")
    );
    // nor write resources
    let denied = sp_api
        .patch(&format!("{ws}?api-version=2021-06-01"), json!({"tags": {}}))
        .await;
    assert_eq!(denied.status, 403);
    // but reads work
    assert_eq!(
        sp_api
            .get(&format!("{ws}?api-version=2021-06-01"))
            .await
            .status,
        200
    );
    // permissions
    let perms = sp_api
        .get(&format!(
            "{ws}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
        ))
        .await;
    assert_eq!(perms.body["value"][0]["actions"][0], "*/read");
    let owner_perms = api
        .get(&format!(
            "{ws}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
        ))
        .await;
    assert_eq!(owner_perms.body["value"][0]["actions"][0], "*");
    // role definitions
    let defs = api
        .get(&format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter={}", urlencode("roleName eq 'Owner'")))
        .await;
    assert_eq!(defs.body["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(defs.body["value"][0]["name"], OWNER);
    let contributor = api.get(&format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c?api-version=2022-04-01")).await;
    assert!(
        contributor.body["properties"]["permissions"][0]["notActions"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("Microsoft.Authorization/*/Write")))
    );
    // unknown role, bad name, unknown principal
    let bad = api
        .put(
            &ra_path(&ws, &uuid::Uuid::new_v4().to_string()),
            ra_body("00000000-0000-0000-0000-000000000000", sp),
        )
        .await;
    assert_eq!(bad.code(), "RoleDefinitionDoesNotExist");
    assert_eq!(
        api.put(&ra_path(&ws, "not-a-guid"), ra_body(READER, sp))
            .await
            .code(),
        "InvalidRoleAssignmentId"
    );
    let ghost = api
        .put(
            &ra_path(&ws, &uuid::Uuid::new_v4().to_string()),
            ra_body(READER, "33333333-3333-3333-3333-333333333333"),
        )
        .await;
    assert_eq!(
        (ghost.status, ghost.code().as_str()),
        (400, "PrincipalNotFound")
    );
    // missing scope resource
    let nowhere = api
        .put(
            &ra_path(&synapse_id("rg", "nope"), &uuid::Uuid::new_v4().to_string()),
            ra_body(READER, sp),
        )
        .await;
    assert_eq!(nowhere.status, 404);
    // delete
    let del = api.delete(&ra_path(&ws, &name)).await;
    assert_eq!(del.status, 200);
    assert_eq!(del.body["name"], name.as_str());
    assert_eq!(api.delete(&ra_path(&ws, &name)).await.status, 204);
    assert_eq!(api.get(&ra_path(&ws, &name)).await.status, 404);
}

#[tokio::test]
async fn new_identities_replicate_before_arm_accepts_them() {
    let mut faults = fast_faults();
    faults.identity_delay_ms = 100_000; // 1 s at the 0.01 time scale
    let emu = start_with(faults).await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    api.ml_workspace("rg", "mlw1").await;
    let link = api
        .put(
            &format!(
                "{}/linkedServices/link1?api-version=2020-09-01-preview",
                super::support::ml_id("rg", "mlw1")
            ),
            json!({"properties": {"linkedServiceResourceId": synapse_id("rg", "syn1")}}),
        )
        .await;
    let mi = link.body["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    let ws = synapse_id("rg", "syn1");
    let early = api
        .put(
            &ra_path(&ws, &uuid::Uuid::new_v4().to_string()),
            ra_body(READER, &mi),
        )
        .await;
    assert_eq!(
        (early.status, early.code().as_str()),
        (400, "PrincipalNotFound")
    );
    tokio::time::sleep(std::time::Duration::from_millis(1050)).await;
    let name = uuid::Uuid::new_v4().to_string();
    let later = api.put(&ra_path(&ws, &name), ra_body(READER, &mi)).await;
    assert_eq!(later.status, 201, "{:?}", later.body);
    // read-after-write lag, when asked for
    let control = Api {
        token: None,
        ..api.clone()
    };
    let set = control
        .put(
            "/_emulator/faults",
            json!({"roleAssignmentReadDelayMs": 100_000}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let name = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        api.put(&ra_path(&ws, &name), ra_body(OWNER, &mi))
            .await
            .status,
        201
    );
    assert_eq!(
        api.get(&ra_path(&ws, &name)).await.code(),
        "RoleAssignmentNotFound"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1050)).await;
    assert_eq!(api.get(&ra_path(&ws, &name)).await.status, 200);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn synapse_data_plane_rbac() {
    let mut faults = fast_faults();
    faults.synapse_page_size = 2;
    faults.rbac_delay_ms = 100_000; // 1 s at the 0.01 time scale
    let emu = start_with(faults).await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let ws = api.synapse_workspace("rg", "syn1").await;
    let dev = ws["properties"]["connectivityEndpoints"]["dev"]
        .as_str()
        .expect("dev endpoint")
        .to_owned();
    let syn = Api::as_principal(&emu, &emu.bootstrap_principal(), SYNAPSE);
    // an ARM token is refused on the data plane
    assert_eq!(
        api.get(&format!("{dev}/roleDefinitions?api-version=2020-12-01"))
            .await
            .status,
        401
    );
    let defs = syn
        .get(&format!("{dev}/roleDefinitions?api-version=2020-12-01"))
        .await;
    let defs = defs.body.as_array().cloned().expect("bare array");
    assert_eq!(defs.len(), 10);
    let spark = defs
        .iter()
        .find(|d| d["name"] == "Apache Spark Administrator")
        .expect("spark admin");
    assert_eq!(spark["id"], SPARK_ADMIN);
    assert_eq!(spark["scopes"], json!(["workspaces/{workspaceName}"]));
    let pool_scoped = syn
        .get(&format!(
            "{dev}/roleDefinitions?api-version=2020-12-01&scope=workspaces/syn1/bigDataPools/p"
        ))
        .await;
    assert!(pool_scoped
        .body
        .as_array()
        .is_some_and(|a| a.iter().all(|d| d["name"] != "Apache Spark Administrator")));
    assert_eq!(
        syn.get(&format!(
            "{dev}/roleDefinitions/{SPARK_ADMIN}?api-version=2020-12-01"
        ))
        .await
        .body["name"],
        "Apache Spark Administrator"
    );
    // the creator is Synapse Administrator
    let mine = syn
        .get(&format!(
            "{dev}/roleAssignments?api-version=2020-12-01&roleId={SYNAPSE_ADMIN}"
        ))
        .await;
    assert_eq!(
        mine.body["value"][0]["principalId"],
        emu.bootstrap_principal()
    );
    // create, duplicate, get
    let mi = "44444444-4444-4444-4444-444444444444";
    let body = json!({"roleId": SPARK_ADMIN, "principalId": mi, "scope": "workspaces/syn1", "principalType": "ServicePrincipal"});
    let id = uuid::Uuid::new_v4().to_string();
    let created = syn
        .put(
            &format!("{dev}/roleAssignments/{id}?api-version=2020-12-01"),
            body.clone(),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["roleDefinitionId"], SPARK_ADMIN);
    let dup = syn
        .put(
            &format!(
                "{dev}/roleAssignments/{}?api-version=2020-12-01",
                uuid::Uuid::new_v4()
            ),
            body.clone(),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code().as_str()),
        (409, "RoleAssignmentAlreadyExists")
    );
    assert!(dup.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("already exists")));
    assert_eq!(
        syn.get(&format!(
            "{dev}/roleAssignments/{id}?api-version=2020-12-01"
        ))
        .await
        .body["principalId"],
        mi
    );
    // Spark Administrator only at workspace scope
    let narrow = syn
        .put(&format!("{dev}/roleAssignments/{}?api-version=2020-12-01", uuid::Uuid::new_v4()), json!({"roleId": SPARK_ADMIN, "principalId": mi, "scope": "workspaces/syn1/bigDataPools/p"}))
        .await;
    assert_eq!(narrow.status, 400);
    // propagation: not yet allowed, then allowed
    let check = json!({"subject": {"principalId": mi, "groupIds": []}, "actions": [{"id": "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action", "isDataAction": true}], "scope": "workspaces/syn1"});
    let early = syn
        .post(
            &format!("{dev}/checkAccessSynapseRbac?api-version=2020-12-01"),
            check.clone(),
        )
        .await;
    assert_eq!(
        early.body["AccessDecisions"][0]["accessDecision"],
        "NotAllowed"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1050)).await;
    let later = syn
        .post(
            &format!("{dev}/checkAccessSynapseRbac?api-version=2020-12-01"),
            check,
        )
        .await;
    assert_eq!(
        later.body["AccessDecisions"][0]["accessDecision"],
        "Allowed"
    );
    assert_eq!(
        later.body["AccessDecisions"][0]["roleAssignment"]["id"],
        id.as_str()
    );
    // paging with x-ms-continuation (page size 2, three assignments)
    syn.put(&format!("{dev}/roleAssignments/{}?api-version=2020-12-01", uuid::Uuid::new_v4()), json!({"roleId": "2a385764-43e8-416c-9825-7b18d05a2c4b", "principalId": mi, "scope": "workspaces/syn1"})).await;
    let first = syn
        .get(&format!("{dev}/roleAssignments?api-version=2020-12-01"))
        .await;
    assert_eq!(first.body["count"], 2);
    let token = first.header("x-ms-continuation").expect("continuation");
    let second = syn
        .http
        .get(format!("{dev}/roleAssignments?api-version=2020-12-01"))
        .bearer_auth(syn.token.clone().unwrap_or_default())
        .header("x-ms-continuation", token)
        .send()
        .await
        .expect("page 2");
    assert!(second.headers().get("x-ms-continuation").is_none());
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["count"], 1);
    let filtered = syn.get(&format!("{dev}/roleAssignments?api-version=2020-12-01&principalId={mi}&roleId={SPARK_ADMIN}&scope=workspaces/syn1")).await;
    assert_eq!(filtered.body["count"], 1);
    // someone without a Synapse role may not write or read
    let stranger = Api::as_principal(&emu, "55555555-5555-5555-5555-555555555555", SYNAPSE);
    assert_eq!(
        stranger
            .put(
                &format!(
                    "{dev}/roleAssignments/{}?api-version=2020-12-01",
                    uuid::Uuid::new_v4()
                ),
                body.clone()
            )
            .await
            .status,
        403
    );
    assert_eq!(
        stranger
            .get(&format!("{dev}/roleAssignments?api-version=2020-12-01"))
            .await
            .status,
        403
    );
    // delete; ids are not reusable
    assert_eq!(
        syn.delete(&format!(
            "{dev}/roleAssignments/{id}?api-version=2020-12-01"
        ))
        .await
        .status,
        200
    );
    assert_eq!(
        syn.delete(&format!(
            "{dev}/roleAssignments/{id}?api-version=2020-12-01"
        ))
        .await
        .status,
        204
    );
    assert_eq!(
        syn.put(
            &format!("{dev}/roleAssignments/{id}?api-version=2020-12-01"),
            body
        )
        .await
        .status,
        409
    );
    let scopes = syn
        .get(&format!("{dev}/rbacScopes?api-version=2020-12-01"))
        .await;
    assert_eq!(scopes.body, json!(["workspaces/syn1"]));
    assert_eq!(
        syn.get(&format!("{dev}/roleAssignments")).await.code(),
        "MissingApiVersionParameter"
    );
    assert_eq!(
        syn.get(&format!(
            "{}/_synapse/nope/roleAssignments?api-version=2020-12-01",
            emu.url()
        ))
        .await
        .status,
        404
    );
}
