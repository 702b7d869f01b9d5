//! ARM resources over HTTP: resource groups, AML workspaces, linked services, Synapse
//! Spark computes (also on `/rp/workspaces`), Synapse workspaces and pools, with LROs
//! polled to the end, case-insensitive ids and the 404 family.

use serde_json::{json, Value};

use super::support::{ml_id, pool_body, start, synapse_id, Api, SUB};

#[tokio::test]
async fn resource_groups_put_get_head_list_and_delete_with_location_lro() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let path = format!("/subscriptions/{SUB}/resourcegroups/rg-One?api-version=2021-04-01");
    let a = api
        .put(
            &path,
            json!({"location": "westeurope", "tags": {"team": "a"}}),
        )
        .await;
    assert_eq!(a.status, 201);
    assert!(a.header("x-ms-request-id").is_some());
    assert!(a
        .header("x-ms-ratelimit-remaining-subscription-writes")
        .is_some());
    assert_eq!(
        a.body["id"],
        format!("/subscriptions/{SUB}/resourceGroups/rg-One")
    );
    // same group in another casing: 200, original casing kept
    let again = api
        .put(
            &format!("/subscriptions/{SUB}/resourceGroups/RG-ONE?api-version=2021-04-01"),
            json!({"location": "westeurope"}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["name"], "rg-One");
    assert_eq!(api.send("HEAD", &path, None).await.status, 204);
    let list = api
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
    let del = api.delete(&path).await;
    assert_eq!(del.status, 202);
    let done = api
        .wait_location(&del.header("location").expect("location"))
        .await;
    assert_eq!(done.status, 204);
    let gone = api.get(&path).await;
    assert_eq!(
        (gone.status, gone.code().as_str()),
        (404, "ResourceGroupNotFound")
    );
    assert_eq!(api.send("HEAD", &path, None).await.status, 404);
}

#[tokio::test]
async fn ml_workspaces_are_lros_with_discovery_and_lists() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let ws = api.ml_workspace("rg", "mlw-fraud").await;
    assert_eq!(ws["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        ws["properties"]["discoveryUrl"],
        format!("{}/discovery", emu.url())
    );
    assert!(ws["identity"]["principalId"].as_str().is_some());
    let disc = api.get("/discovery").await;
    assert_eq!(disc.body["api"], emu.url());
    let by_rg = api.get(&format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces?api-version=2023-04-01")).await;
    assert_eq!(by_rg.body["value"].as_array().map(Vec::len), Some(1));
    let by_sub = api.get(&format!("/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/workspaces?api-version=2023-04-01")).await;
    assert_eq!(by_sub.body["value"].as_array().map(Vec::len), Some(1));
    let patched = api
        .patch(
            &format!("{}?api-version=2024-10-01", ml_id("rg", "mlw-fraud")),
            json!({"tags": {"x": "y"}}),
        )
        .await;
    assert_eq!(patched.body["tags"]["x"], "y");
    let del = api
        .delete(&format!(
            "{}?api-version=2024-10-01",
            ml_id("rg", "MLW-FRAUD")
        ))
        .await;
    assert_eq!(del.status, 202);
    assert_eq!(
        api.wait_async(&del.header("azure-asyncoperation").expect("async"))
            .await["status"],
        "Succeeded"
    );
    assert_eq!(
        api.get(&format!(
            "{}?api-version=2024-10-01",
            ml_id("rg", "mlw-fraud")
        ))
        .await
        .status,
        404
    );
    assert_eq!(
        api.delete(&format!(
            "{}?api-version=2024-10-01",
            ml_id("rg", "mlw-fraud")
        ))
        .await
        .status,
        204
    );
    // a bad name
    let bad = api
        .put(
            &format!("{}?api-version=2024-10-01", ml_id("rg", "x")),
            json!({"location": "westeurope"}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.code().as_str()),
        (400, "InvalidResourceName")
    );
}

#[tokio::test]
async fn synapse_workspace_and_pool_lifecycle() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let ws = api.synapse_workspace("rg", "syn-shared").await;
    assert_eq!(ws["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        ws["properties"]["connectivityEndpoints"]["dev"],
        format!("{}/_synapse/syn-shared", emu.url())
    );
    // Location polling of the PUT answers the resource
    let put = api
        .put(
            &format!("{}?api-version=2021-06-01", synapse_id("rg", "syn-shared")),
            json!({"location": "westeurope"}),
        )
        .await;
    assert_eq!(put.status, 200);
    let final_answer = api
        .wait_location(&put.header("location").expect("location"))
        .await;
    assert_eq!(final_answer.status, 200);
    assert_eq!(final_answer.body["name"], "syn-shared");
    // names are global
    api.resource_group("rg2").await;
    let dup = api
        .put(
            &format!("{}?api-version=2021-06-01", synapse_id("rg2", "syn-shared")),
            json!({"location": "westeurope"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    let name_check = api
        .post(&format!("/subscriptions/{SUB}/providers/Microsoft.Synapse/checkNameAvailability?api-version=2021-06-01"), json!({"name": "syn-shared", "type": "Microsoft.Synapse/workspaces"}))
        .await;
    assert_eq!(name_check.body["available"], false);
    // PATCH
    let patch = api
        .patch(
            &format!("{}?api-version=2021-06-01", synapse_id("rg", "syn-shared")),
            json!({"tags": {"a": "b"}}),
        )
        .await;
    assert_eq!(patch.status, 200);
    api.wait_async(&patch.header("azure-asyncoperation").expect("async"))
        .await;

    let pool = api.pool("rg", "syn-shared", "small").await;
    assert_eq!(pool["properties"]["nodeCount"], 3);
    assert_eq!(pool["properties"]["provisioningState"], "Succeeded");
    let pool_path = format!(
        "{}/bigDataPools/small?api-version=2021-06-01",
        synapse_id("rg", "syn-shared")
    );
    let tagged = api
        .patch(&pool_path, json!({"tags": {"env": "test"}}))
        .await;
    assert_eq!(
        (tagged.status, tagged.body["tags"]["env"].clone()),
        (200, json!("test"))
    );
    let list = api
        .get(&format!(
            "{}/bigDataPools?api-version=2021-06-01",
            synapse_id("rg", "syn-shared")
        ))
        .await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
    // validation
    for (field, value) in [
        ("nodeSize", json!("Huge")),
        ("nodeCount", json!(2)),
        ("sparkVersion", json!("1.0")),
    ] {
        let mut body = pool_body();
        body["properties"]["autoScale"] = json!({"enabled": false});
        body["properties"]["nodeCount"] = json!(3);
        body["properties"][field] = value;
        let bad = api
            .put(
                &format!(
                    "{}/bigDataPools/bad?api-version=2021-06-01",
                    synapse_id("rg", "syn-shared")
                ),
                body,
            )
            .await;
        assert_eq!(bad.status, 400, "{field}: {:?}", bad.body);
    }
    let mut body = pool_body();
    body["properties"]["autoScale"] =
        json!({"enabled": true, "minNodeCount": 10, "maxNodeCount": 3});
    assert_eq!(
        api.put(
            &format!(
                "{}/bigDataPools/bad?api-version=2021-06-01",
                synapse_id("rg", "syn-shared")
            ),
            body
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api.put(
            &format!(
                "{}/bigDataPools/bad-name?api-version=2021-06-01",
                synapse_id("rg", "syn-shared")
            ),
            pool_body()
        )
        .await
        .code(),
        "InvalidResourceName"
    );
    // missing parent
    let orphan = api
        .put(
            &format!(
                "{}/bigDataPools/p1?api-version=2021-06-01",
                synapse_id("rg", "nope")
            ),
            pool_body(),
        )
        .await;
    assert_eq!(
        (orphan.status, orphan.code().as_str()),
        (404, "ParentResourceNotFound")
    );
    // delete the pool, then the workspace
    let del = api.delete(&pool_path).await;
    assert_eq!(del.status, 202);
    assert_eq!(del.body["properties"]["provisioningState"], "Deleting");
    api.wait_async(&del.header("azure-asyncoperation").expect("async"))
        .await;
    assert_eq!(api.get(&pool_path).await.code(), "ResourceNotFound");
    let del = api
        .delete(&format!(
            "{}?api-version=2021-06-01",
            synapse_id("rg", "syn-shared")
        ))
        .await;
    assert_eq!(del.status, 202);
    assert_eq!(
        api.wait_location(&del.header("location").expect("location"))
            .await
            .status,
        204
    );
    assert_eq!(
        api.delete(&format!(
            "{}?api-version=2021-06-01",
            synapse_id("rg", "syn-shared")
        ))
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn linked_services_need_owner_on_the_synapse_workspace() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    api.ml_workspace("rg", "mlw1").await;
    // azureml-core spells the id with lower-case resourcegroups
    let target = format!(
        "/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.Synapse/workspaces/syn1"
    );
    let path = format!(
        "{}/linkedServices/synapselink1?api-version=2020-09-01-preview",
        ml_id("rg", "mlw1")
    );
    let body = json!({"name": "synapselink1", "location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {"linkedServiceResourceId": target}});
    let a = api.put(&path, body.clone()).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let principal = a.body["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    assert_eq!(a.body["identity"]["tenantId"], emu.tenant_id());
    assert_eq!(a.body["properties"]["linkType"], "Synapse");
    // update keeps the identity
    let again = api
        .put(
            &path.replace("2020-09-01-preview", "2020-04-01-preview"),
            body.clone(),
        )
        .await;
    assert_eq!(again.body["identity"]["principalId"], principal.as_str());
    let list = api
        .get(&format!(
            "{}/linkedServices?api-version=2020-09-01-preview",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(list.body["value"].as_array().map(Vec::len), Some(1));
    // a Contributor on the subscription may not link
    let other = "11111111-1111-1111-1111-111111111111";
    let contributor = Api::as_principal(&emu, other, super::support::ARM);
    let grant = api
        .put(
            &format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01", uuid::Uuid::new_v4()),
            json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"), "principalId": other}}),
        )
        .await;
    assert_eq!(grant.status, 201, "{:?}", grant.body);
    let denied = contributor
        .put(&path.replace("synapselink1", "link2"), body)
        .await;
    assert_eq!(
        (denied.status, denied.code().as_str()),
        (403, "AuthorizationFailed")
    );
    // unsupported api-version
    assert_eq!(
        api.get(&path.replace("2020-09-01-preview", "2023-04-01"))
            .await
            .code(),
        "NoRegisteredProviderFound"
    );
    assert_eq!(api.delete(&path).await.status, 200);
    assert_eq!(api.get(&path).await.status, 404);
    assert_eq!(api.delete(&path).await.status, 204);
}

#[tokio::test]
async fn synapse_spark_computes_attach_detach_and_regional_path() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    api.pool("rg", "syn1", "pool1").await;
    api.ml_workspace("rg", "mlw1").await;
    let pool_id = format!("/subscriptions/{SUB}/resourcegroups/rg/providers/Microsoft.Synapse/workspaces/syn1/bigDataPools/pool1");
    for version in [
        "2018-11-19",
        "2020-02-02",
        "2021-04-01",
        "2023-04-01",
        "2024-10-01",
    ] {
        let name = format!("spark-{}", &version[..4]);
        let path = format!(
            "{}/computes/{name}?api-version={version}",
            ml_id("rg", "mlw1")
        );
        let a = api
            .put(&path, json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}}))
            .await;
        assert_eq!(a.status, 201, "{version}: {:?}", a.body);
        let status = api
            .wait_async(
                &a.header("azure-asyncoperation")
                    .expect("Azure-AsyncOperation"),
            )
            .await;
        assert_eq!(status["status"], "Succeeded", "{version}");
    }
    let path = format!(
        "{}/computes/spark-2023?api-version=2023-04-01",
        ml_id("rg", "mlw1")
    );
    let c = api.get(&path).await.body;
    // ARM answers as the definition (2023-04-01 ComputeResource) has it: no nulls.
    assert!(
        !c.to_string().contains("null"),
        "no null where the definition has no x-nullable: {c}"
    );
    // AML's regional path, which azureml-core reads computes through, carries every key
    // azureml-core's `_validate_get_payload` checks (null when unset).
    let rp = api.get(&format!("/rp/workspaces{path}")).await;
    for key in ["location", "id", "tags"] {
        assert!(rp.body.get(key).is_some(), "{key}");
    }
    for key in [
        "computeType",
        "properties",
        "provisioningErrors",
        "description",
        "provisioningState",
        "resourceId",
    ] {
        assert!(rp.body["properties"].get(key).is_some(), "properties.{key}");
    }
    assert_eq!(c["properties"]["isAttachedCompute"], true);
    assert_eq!(c["properties"]["properties"]["poolName"], "pool1");
    assert_eq!(c["properties"]["properties"]["nodeSize"], "Medium");
    assert_eq!(
        c["properties"]["properties"]["autoScaleProperties"]["maxNodeCount"],
        10
    );
    assert!(c["identity"]["principalId"].as_str().is_some());
    // regional path of azureml-core
    let rp = api.get(&format!("/rp/workspaces{path}")).await;
    assert_eq!(rp.status, 200);
    assert_eq!(rp.body["id"], c["id"]);
    let listed = api
        .get(&format!(
            "/rp/workspaces{}/computes?api-version=2023-04-01",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(listed.body["value"].as_array().map(Vec::len), Some(5));
    // user-assigned identity
    let uai = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai1");
    let a = api
        .put(&format!("{}/computes/spark-uai?api-version=2023-04-01", ml_id("rg", "mlw1")), json!({"location": "westeurope", "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai.clone(): {}}}, "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}}))
        .await;
    assert!(
        a.body["identity"]["userAssignedIdentities"][&uai]["principalId"]
            .as_str()
            .is_some()
    );
    // a pool that does not exist: the attach fails
    let missing = pool_id.replace("pool1", "nopool");
    let a = api
        .put(
            &format!(
                "{}/computes/spark-bad?api-version=2023-04-01",
                ml_id("rg", "mlw1")
            ),
            json!({"properties": {"computeType": "SynapseSpark", "resourceId": missing}}),
        )
        .await;
    let status = api
        .wait_async(&a.header("azure-asyncoperation").expect("async"))
        .await;
    assert_eq!(status["status"], "Failed");
    assert!(status["error"]["message"].as_str().is_some());
    let failed = api
        .get(&format!(
            "{}/computes/spark-bad?api-version=2023-04-01",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(failed.body["properties"]["provisioningState"], "Failed");
    assert!(failed.body["properties"]["provisioningErrors"]
        .as_array()
        .is_some());
    // delete: Delete refused, Detach accepted
    let refused = api
        .delete(&format!(
            "{}/computes/spark-2023?api-version=2023-04-01&underlyingResourceAction=Delete",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        api.delete(&format!(
            "{}/computes/spark-2023?api-version=2023-04-01",
            ml_id("rg", "mlw1")
        ))
        .await
        .status,
        400
    );
    let detach = api
        .delete(&format!(
            "{}/computes/spark-2023?api-version=2023-04-01&underlyingResourceAction=Detach",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(detach.status, 202);
    api.wait_async(&detach.header("azure-asyncoperation").expect("async"))
        .await;
    assert_eq!(api.get(&path).await.status, 404);
    let unsupported = api
        .put(
            &format!(
                "{}/computes/aks1?api-version=2023-04-01",
                ml_id("rg", "mlw1")
            ),
            json!({"properties": {"computeType": "AKS"}}),
        )
        .await;
    assert_eq!(unsupported.status, 400);
    let bad_version = api
        .get(&format!(
            "{}/computes?api-version=2017-01-01",
            ml_id("rg", "mlw1")
        ))
        .await;
    assert_eq!(bad_version.code(), "NoRegisteredProviderFound");
}

#[tokio::test]
async fn missing_parents_and_groups_answer_the_right_404() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let a = api
        .get(&format!(
            "{}?api-version=2021-06-01",
            synapse_id("nogroup", "ws")
        ))
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (404, "ResourceGroupNotFound")
    );
    api.resource_group("rg").await;
    let a = api
        .get(&format!(
            "{}?api-version=2021-06-01",
            synapse_id("rg", "ws")
        ))
        .await;
    assert_eq!((a.status, a.code().as_str()), (404, "ResourceNotFound"));
    let a = api
        .get(&format!(
            "{}/computes/c1?api-version=2023-04-01",
            ml_id("rg", "nows")
        ))
        .await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (404, "ParentResourceNotFound")
    );
    let a = api
        .get(&format!(
            "{}/linkedServices?api-version=2020-09-01-preview",
            ml_id("rg", "nows")
        ))
        .await;
    assert_eq!(a.code(), "ParentResourceNotFound");
    let sub: Value = api
        .get(&format!("/subscriptions/{SUB}?api-version=2020-01-01"))
        .await
        .body;
    assert_eq!(sub["state"], "Enabled");
}
