//! Bad requests get Azure's answers, never a panic or a hang: 401s, unknown routes, wrong
//! methods, missing api-versions, malformed and wrongly shaped JSON, and bodies over
//! 20 MB.

use serde_json::json;

use super::support::{start, synapse_id, Api, ARM, SUB};

#[tokio::test]
async fn missing_garbage_and_expired_tokens_answer_401() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let path = format!("/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01");
    let none = api.with_token(None).get(&path).await;
    assert_eq!(
        (none.status, none.code().as_str()),
        (401, "InvalidAuthenticationToken")
    );
    assert!(none.header("x-ms-request-id").is_some());
    let garbage = api
        .with_token(Some("not.a.jwt".to_owned()))
        .get(&path)
        .await;
    assert_eq!(
        (garbage.status, garbage.code().as_str()),
        (401, "InvalidAuthenticationToken")
    );
    let expired: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_emulator/token", emu.url()))
        .json(&json!({"audience": ARM, "lifetimeSecs": 0}))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let expired = api
        .with_token(expired["accessToken"].as_str().map(str::to_owned))
        .get(&path)
        .await;
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (401, "ExpiredAuthenticationToken")
    );
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_versions() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let a = api.get("/no/such/thing").await;
    assert_eq!((a.status, a.code().as_str()), (404, "NotFound"));
    let a = api.get(&format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Foo/bars/x?api-version=2021-01-01")).await;
    assert_eq!(a.status, 400);
    api.resource_group("rg").await;
    let a = api
        .post(
            &format!("{}?api-version=2021-06-01", synapse_id("rg", "ws")),
            json!({}),
        )
        .await;
    assert_eq!(a.status, 405);
    assert!(a.header("allow").is_some());
    let a = api.get(&synapse_id("rg", "ws")).await;
    assert_eq!(
        (a.status, a.code().as_str()),
        (400, "MissingApiVersionParameter")
    );
    let a = api
        .get(&format!(
            "{}?api-version=1999-01-01",
            synapse_id("rg", "ws")
        ))
        .await;
    assert_eq!(a.code(), "NoRegisteredProviderFound");
    let a = api.get(&format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/ws/operationStatuses/nope?api-version=2021-06-01")).await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn malformed_and_wrongly_shaped_bodies_answer_400() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let url = format!(
        "{}{}?api-version=2021-06-01",
        emu.url(),
        synapse_id("rg", "ws")
    );
    let token = api.token.clone().unwrap_or_default();
    for body in [
        "{not json",
        "[1,2]",
        "\"text\"",
        "",
        "{\"location\": 5}",
        "{\"location\":\"x\",\"tags\":{\"a\":1}}",
        "{\"location\":\"x\",\"properties\":[]}",
    ] {
        let resp = reqwest::Client::new()
            .put(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answer");
        assert_eq!(resp.status().as_u16(), 400, "{body}");
        let v: serde_json::Value = resp.json().await.expect("envelope");
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
    }
    let missing = api
        .put(
            &format!("{}?api-version=2021-06-01", synapse_id("rg", "ws")),
            json!({}),
        )
        .await;
    assert_eq!(missing.code(), "MissingRequiredProperty");
}

#[tokio::test]
async fn bodies_over_20_mb_answer_413() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    let big = vec![b' '; 20 * 1024 * 1024 + 10];
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01",
            emu.url()
        ))
        .bearer_auth(api.token.clone().unwrap_or_default())
        .body(big)
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 413);
    let v: serde_json::Value = resp.json().await.expect("envelope");
    assert_eq!(v["error"]["code"], "RequestEntityTooLarge");
    // the server is still fine
    assert_eq!(api.resource_group("rg").await.status, 201);
}

#[tokio::test]
async fn odd_requests_get_enveloped_4xx_and_never_take_the_server_down() {
    let emu = start().await;
    let api = Api::bootstrap(&emu);
    api.resource_group("rg").await;
    let paths = [
        "/",
        "//",
        "/subscriptions",
        "/subscriptions/",
        "/subscriptions//resourceGroups",
        "/subscriptions/x/resourceGroups/rg/providers",
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Synapse",
        "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/ws/bigDataPools/p/extra/more",
        "/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/%zz",
        "/subscriptions/x/providers/Microsoft.Authorization/nothing",
        "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-000000000000",
        "/providers/Microsoft.Authorization/roleDefinitions",
        "/_synapse",
        "/_synapse/",
        "/_synapse/ws/unknown/deeper",
        "/rp/workspaces",
        "/rp/workspaces/subscriptions/x/resourceGroups/rg",
        "/_emulator/nothing",
        "/_identity/other",
        "/tenant/oauth2/v2.0/token",
        "/subscriptions/x/resourceGroups/rg/operationStatuses/abc",
        "/subscriptions/%E2%98%83/resourceGroups/%E2%98%83",
    ];
    for method in ["GET", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"] {
        for path in paths {
            let url = format!(
                "{path}{}api-version=2021-04-01&$filter=%27",
                if path.contains('?') { "&" } else { "?" }
            );
            let a = api
                .send(method, &url, Some(json!({"junk": [1, 2, {"x": null}]})))
                .await;
            assert!(
                (200..500).contains(&a.status),
                "{method} {path}: {}",
                a.status
            );
            if a.status >= 400 {
                assert!(
                    a.body["error"]["code"].is_string() || a.body["error"].is_string(),
                    "{method} {path}: {:?}",
                    a.body
                );
            }
        }
    }
    let resp = reqwest::Client::new()
        .put(format!(
            "{}/subscriptions/{SUB}/resourcegroups/rg2?api-version=2021-04-01",
            emu.url()
        ))
        .bearer_auth(api.token.clone().unwrap_or_default())
        .header("content-type", "application/json")
        .body(vec![0xff, 0xfe, 0x00, 0x7b])
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status().as_u16(), 400);
    let health = api.get("/_emulator/health").await;
    assert_eq!(health.body["status"], "ok");
}
