//! The emulator answers as Azure's published definitions describe, over real HTTP: no
//! `null` where a definition has no `x-nullable` and no property a definition lacks,
//! closed enums refused with 400, status codes per api-version, `properties.properties`
//! of a `SynapseSpark` compute at every provisioning state, the emulator's own URL as an
//! ARM audience, ARM's cloud metadata, a fixed `Retry-After` per resource provider, Spark
//! runtimes, writes whose answer is lost after they were applied, and the GitHub OIDC and
//! client-assertion token endpoints. (The whole-lifecycle check against the models is
//! `api_models.rs`; the SDKs' own check is `emulator_conformance.rs`.)

use std::time::Duration;

use serde_json::{json, Value};
use synlink_emulator::{Emulator, Faults};

use super::support::{
    fast_faults, ml_id, pool_body, pool_path, start, start_with, synapse_id, Api, ARM, SUB, SYNAPSE,
};

/// Every member of `v` that is `null`, as JSON paths.
fn nulls(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(path.to_owned()),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| nulls(x, &format!("{path}.{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| nulls(x, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

/// An emulator whose operations last 200 s: 2 s at the time scale of `fast_faults`.
async fn start_with_200s_operations() -> Emulator {
    start_with(Faults {
        lro_ms: 200_000,
        ..fast_faults()
    })
    .await
}

fn assert_no_nulls(v: &Value, what: &str) {
    let mut found = Vec::new();
    nulls(v, "", &mut found);
    assert!(found.is_empty(), "{what}: null at {found:?} in {v}");
}

#[tokio::test]
async fn arm_answers_omit_unset_properties_and_those_the_definitions_lack() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let rg = api.resource_group("rg").await;
    assert_no_nulls(&rg.body, "resource group (managedBy)");
    let ws = api.synapse_workspace("rg", "syn1").await;
    assert_no_nulls(&ws, "Synapse workspace");
    assert!(
        ws.get("systemData").is_none(),
        "2021-06-01 workspace.json has no systemData"
    );
    // A pool with a fixed node count: no autoscale bounds, no library requirements.
    let mut body = pool_body();
    body["properties"]["sparkVersion"] = json!("3.5");
    body["properties"]["autoScale"] = json!({"enabled": false});
    body["properties"]["nodeCount"] = json!(3);
    let path = pool_path("rg", "syn1", "fixed");
    let made = api.put(&path, body).await;
    assert_eq!(made.status, 202, "{made:?}");
    assert_no_nulls(&made.body, "pool PUT answer");
    assert!(made.body["properties"]
        .get("lastSucceededTimestamp")
        .is_none());
    api.wait_async(&made.header("azure-asyncoperation").expect("async"))
        .await;
    let pool = api.get(&path).await.body;
    assert_no_nulls(&pool, "pool");
    assert!(
        pool.get("systemData").is_none(),
        "2021-06-01 bigDataPool.json has no systemData"
    );
    assert!(
        pool["properties"]["lastSucceededTimestamp"].is_string(),
        "set once the pool succeeded: {pool}"
    );
    let ml = api.ml_workspace("rg", "mlw1").await;
    assert_no_nulls(&ml, "AML workspace");
    assert!(
        ml["properties"].get("creationTime").is_none(),
        "not in 2024-10-01 workspaceRP.json"
    );
    let link = api
        .put(
            &format!("{}/linkedServices/link1?api-version=2020-09-01-preview", ml_id("rg", "mlw1")),
            json!({"name": "link1", "location": "westeurope", "identity": {"type": "SystemAssigned"},
                   "properties": {"linkedServiceResourceId": synapse_id("rg", "syn1")}}),
        )
        .await;
    assert_eq!(link.status, 200, "{link:?}");
    assert!(
        link.body.get("systemData").is_none(),
        "2020-09-01-preview has no systemData"
    );
}

#[tokio::test]
async fn closed_enums_are_refused_as_azure_refuses_them() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let ml = format!("{}?api-version=2024-10-01", ml_id("rg", "mlw1"));
    let lower = api
        .put(
            &ml,
            json!({"location": "westeurope", "sku": {"name": "basic", "tier": "basic"}}),
        )
        .await;
    assert_eq!(
        (lower.status, lower.code().as_str()),
        (400, "InvalidRequestContent"),
        "{lower:?}"
    );
    assert!(lower.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("sku.tier"));
    let exact = api
        .put(
            &ml,
            json!({"location": "westeurope", "sku": {"name": "Basic", "tier": "Basic"}}),
        )
        .await;
    assert_eq!(exact.status, 202, "{exact:?}");
    let syn = format!("{}?api-version=2021-06-01", synapse_id("rg", "syn1"));
    let uai = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u1");
    let user_only = api
        .put(&syn, json!({"location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai.clone(): {}}}}))
        .await;
    assert_eq!(
        (user_only.status, user_only.code().as_str()),
        (400, "InvalidRequestContent"),
        "{user_only:?}"
    );
    let both = api
        .put(&syn, json!({"location": "westeurope", "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {uai: {}}}}))
        .await;
    assert_eq!(both.status, 201, "{both:?}");
}

#[tokio::test]
async fn an_aml_workspace_put_answers_the_codes_its_api_version_defines() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    for (version, status, with_body) in [
        ("2018-11-19", 201, true),
        ("2020-09-01-preview", 201, true),
        ("2023-04-01", 202, false),
        ("2024-10-01", 202, false),
    ] {
        let name = format!("mlw-{}", &version[..4]);
        let a = api
            .put(
                &format!("{}?api-version={version}", ml_id("rg", &name)),
                json!({"location": "westeurope"}),
            )
            .await;
        assert_eq!(a.status, status, "{version}: {a:?}");
        assert_eq!(!a.body.is_null(), with_body, "{version}: {a:?}");
        assert!(a.header("azure-asyncoperation").is_some(), "{version}");
        if status == 202 {
            assert!(
                a.header("location").is_some(),
                "the definition's 202 has Location"
            );
        }
        let again = api
            .put(
                &format!("{}?api-version={version}", ml_id("rg", &name)),
                json!({"location": "westeurope"}),
            )
            .await;
        assert_eq!(
            again.status, 200,
            "an update answers 200 with the resource: {again:?}"
        );
    }
}

#[tokio::test]
async fn a_synapse_spark_compute_carries_its_pool_properties_at_every_state_on_both_paths() {
    // Operations last 2 s here, so the attach is seen while Creating.
    let emu = start_with_200s_operations().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    api.pool("rg", "syn1", "pool1").await;
    api.ml_workspace("rg", "mlw1").await;
    let pool_id = synapse_id("rg", "syn1") + "/bigDataPools/pool1";
    let compute = format!(
        "{}/computes/spark1?api-version=2023-04-01",
        ml_id("rg", "mlw1")
    );
    let put = api
        .put(&compute, json!({"location": "westeurope", "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}}))
        .await;
    assert_eq!(put.status, 201, "{put:?}");
    let props = &put.body["properties"]["properties"];
    assert_eq!(
        props["sparkVersion"], "3.4",
        "from the pool at once: {props}"
    );
    assert_eq!(props["poolName"], "pool1");
    for path in [compute.clone(), format!("/rp/workspaces{compute}")] {
        let c = api.get(&path).await.body;
        assert_eq!(c["properties"]["provisioningState"], "Creating", "{path}");
        assert!(c["properties"]["properties"].is_object(), "{path}: {c}");
    }
    // A pool that does not exist: Failed, still with what the pool's id names.
    let bad = format!(
        "{}/computes/sparkbad?api-version=2023-04-01",
        ml_id("rg", "mlw1")
    );
    let missing = synapse_id("rg", "syn1") + "/bigDataPools/nopool";
    let a = api
        .put(&bad, json!({"location": "westeurope", "properties": {"computeType": "SynapseSpark", "resourceId": missing}}))
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["properties"]["properties"]["poolName"], "nopool");
    let status = api
        .wait_async(&a.header("azure-asyncoperation").expect("async"))
        .await;
    assert_eq!(status["status"], "Failed");
    for path in [bad.clone(), format!("/rp/workspaces{bad}")] {
        let c = api.get(&path).await.body;
        assert_eq!(c["properties"]["provisioningState"], "Failed", "{path}");
        assert_eq!(
            c["properties"]["properties"]["workspaceName"], "syn1",
            "{path}: {c}"
        );
    }
    let list = api
        .get(&format!(
            "/rp/workspaces{}/computes?api-version=2023-04-01",
            ml_id("rg", "mlw1")
        ))
        .await;
    for c in list.body["value"].as_array().expect("a list") {
        assert!(c["properties"]["properties"].is_object(), "{c}");
        assert!(
            c["properties"].get("description").is_some(),
            "azureml-core's key: {c}"
        );
    }
}

#[tokio::test]
async fn the_emulators_own_url_is_an_arm_audience_and_others_are_not() {
    let emu = start().await;
    let me = emu.bootstrap_principal();
    let url = emu.url();
    let path = format!("/subscriptions/{SUB}?api-version=2021-04-01");
    for audience in [url.clone(), format!("{url}/"), ARM.to_owned()] {
        let api = Api::as_principal(&emu, &me, &audience);
        assert_eq!(api.get(&path).await.status, 200, "{audience}");
    }
    for audience in ["https://127.0.0.1:1/", SYNAPSE] {
        let a = Api::as_principal(&emu, &me, audience).get(&path).await;
        assert_eq!(
            (a.status, a.code().as_str()),
            (401, "InvalidAuthenticationTokenAudience"),
            "{audience}"
        );
    }
}

#[tokio::test]
async fn arm_cloud_metadata_names_the_emulator() {
    let emu = start().await;
    let a = Api::bootstrap(&emu)
        .with_token(None)
        .get("/metadata/endpoints?api-version=2019-05-01")
        .await;
    assert_eq!(a.status, 200, "public, as ARM's own");
    let cloud = &a.body[0];
    assert_eq!(cloud["name"], "SynlinkEmulator");
    assert_eq!(cloud["resourceManager"], format!("{}/", emu.url()));
    assert!(cloud["authentication"]["audiences"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
}

#[tokio::test]
async fn operations_announce_a_fixed_interval_per_provider_never_the_time_left() {
    // 200 s operations, time scale 0.01: each lasts 2 s; Azure's intervals scale alike.
    let emu = start_with_200s_operations().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let syn = api
        .put(
            &format!("{}?api-version=2021-06-01", synapse_id("rg", "syn1")),
            json!({"location": "westeurope"}),
        )
        .await;
    let ml = api
        .put(
            &format!("{}?api-version=2024-10-01", ml_id("rg", "mlw1")),
            json!({"location": "westeurope"}),
        )
        .await;
    for (answer, ms) in [(&syn, "300"), (&ml, "300")] {
        assert_eq!(
            answer.header("retry-after-ms").as_deref(),
            Some(ms),
            "{answer:?}"
        );
        assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
        let status_url = answer.header("azure-asyncoperation").expect("async");
        let first = api.get(&status_url).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let later = api.get(&status_url).await;
        assert_eq!(first.body["status"], "InProgress");
        assert_eq!(later.body["status"], "InProgress");
        assert_eq!(
            first.header("retry-after-ms").as_deref(),
            Some(ms),
            "{first:?}"
        );
        assert_eq!(
            later.header("retry-after-ms").as_deref(),
            Some(ms),
            "the same, not less: {later:?}"
        );
    }
    let deleted = api
        .delete(&format!(
            "/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(deleted.status, 202);
    assert_eq!(
        deleted.header("retry-after-ms").as_deref(),
        Some("150"),
        "ARM announces 15 s"
    );
    let polled = api
        .get(&deleted.header("location").expect("location"))
        .await;
    assert_eq!(polled.status, 202);
    assert_eq!(polled.header("retry-after-ms").as_deref(), Some("150"));
}

#[tokio::test]
async fn new_pools_need_a_supported_runtime_and_existing_ones_keep_theirs() {
    let today = Faults {
        spark_runtimes: Faults::default().spark_runtimes,
        ..fast_faults()
    };
    assert_eq!(today.spark_runtimes, ["3.5"]);
    let emu = start_with(today).await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    let refused = api.put(&pool_path("rg", "syn1", "old"), pool_body()).await;
    assert_eq!(
        (refused.status, refused.code().as_str()),
        (400, "ValidationFailed"),
        "{refused:?}"
    );
    assert_eq!(
        refused.body["error"]["details"][0]["code"],
        "SparkVersionNotSupported"
    );
    assert!(
        api.get(&pool_path("rg", "syn1", "old")).await.status == 404,
        "nothing made"
    );
    let mut current = pool_body();
    current["properties"]["sparkVersion"] = json!("3.5");
    assert_eq!(
        api.put(&pool_path("rg", "syn1", "new"), current.clone())
            .await
            .status,
        202
    );
    // A pool made before 3.4's end of support (the helper widens the knob for its PUT).
    api.pool("rg", "syn1", "legacy").await;
    let mut update = pool_body();
    update["tags"] = json!({"team": "fraud"});
    let kept = api
        .put(&pool_path("rg", "syn1", "legacy"), update.clone())
        .await;
    assert_eq!(
        kept.status, 200,
        "an existing 3.4 pool updates on 3.4: {kept:?}"
    );
    update["properties"]["sparkVersion"] = json!("3.3");
    let older = api.put(&pool_path("rg", "syn1", "legacy"), update).await;
    assert_eq!(older.status, 400, "{older:?}");
    let upgraded = api.put(&pool_path("rg", "syn1", "legacy"), current).await;
    assert_eq!(upgraded.status, 200, "{upgraded:?}");
}
