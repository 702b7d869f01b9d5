//! The knobs: ARM throttling (429 with Retry-After once a bucket is empty, accepted again
//! after it refills), a seeded failure rate that fails the same requests on two runs,
//! targeted faults and latency set at run time, the request log, counts and reset, and
//! writes that are applied but whose answer is lost ("committed, answer lost").

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use synlink_emulator::{Faults, ThrottleSpec};

use super::support::{fast_faults, start_with, Api, SUB};

#[tokio::test]
async fn throttling_answers_429_until_the_bucket_refills() {
    let mut faults = fast_faults();
    faults.time_scale = 0.1;
    faults.throttle = ThrottleSpec::parse("reads=5/1").expect("spec");
    let emu = start_with(faults).await;
    let api = Api::bootstrap(&emu);
    let path = format!("/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01");
    // One token per 100 ms of real time refills the bucket: keep reading until it is empty.
    let mut remaining = Vec::new();
    let throttled = loop {
        let a = api.get(&path).await;
        if a.status == 429 {
            break a;
        }
        assert_eq!(a.status, 200);
        remaining.push(
            a.header("x-ms-ratelimit-remaining-subscription-reads")
                .expect("header"),
        );
        assert!(remaining.len() < 100, "the bucket never emptied");
    };
    assert_eq!(
        remaining.first().map(String::as_str),
        Some("4"),
        "{remaining:?}"
    );
    assert_eq!(
        remaining.last().map(String::as_str),
        Some("0"),
        "{remaining:?}"
    );
    assert_eq!(throttled.code(), "TooManyRequests");
    let retry_after: u64 = throttled
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("integer seconds");
    assert_eq!(
        retry_after, 1,
        "at most 0.1 s of refill at time scale 0.1 rounds up to 1 s"
    );
    let ms: u64 = throttled
        .header("retry-after-ms")
        .expect("ms")
        .parse()
        .expect("ms");
    assert!(ms <= 100, "{ms}");
    // another principal has its own bucket; writes have their own bucket
    let other = Api::as_principal(
        &emu,
        "66666666-6666-6666-6666-666666666666",
        super::support::ARM,
    );
    assert_eq!(
        other.get(&path).await.status,
        403,
        "not throttled, just not allowed"
    );
    assert_eq!(api.resource_group("rg").await.status, 201);
    tokio::time::sleep(Duration::from_millis(ms + 5)).await;
    assert_eq!(api.get(&path).await.status, 200);
}

async fn run_seeded(seed: u64) -> Vec<String> {
    let faults = Faults {
        fail_rate: 0.3,
        seed,
        ..fast_faults()
    };
    let emu = start_with(faults).await;
    let api = Api::bootstrap(&emu);
    let mut outcomes = Vec::new();
    for i in 0..40 {
        let url = format!(
            "{}/subscriptions/{SUB}/resourcegroups/rg{i}?api-version=2021-04-01",
            emu.url()
        );
        let resp = api
            .http
            .get(&url)
            .bearer_auth(api.token.clone().unwrap_or_default())
            .send()
            .await;
        outcomes.push(match resp {
            Ok(r) => r.status().as_u16().to_string(),
            Err(_) => "dropped".to_owned(),
        });
    }
    outcomes
}

#[tokio::test]
async fn a_seeded_failure_rate_fails_the_same_requests_twice() {
    let first = run_seeded(42).await;
    let second = run_seeded(42).await;
    assert_eq!(first, second);
    let failures = first.iter().filter(|o| *o != "404").count();
    assert!(failures > 3 && failures < 30, "{first:?}");
    assert!(first.iter().any(|o| o == "500" || o == "503"), "{first:?}");
    assert_ne!(
        first,
        run_seeded(7).await,
        "another seed fails other requests"
    );
}

#[tokio::test]
async fn faults_change_at_run_time_and_the_log_records_requests() {
    let emu = start_with(fast_faults()).await;
    let api = Api::bootstrap(&emu);
    let control = Api {
        token: None,
        ..api.clone()
    };
    api.resource_group("rg").await;
    api.ml_workspace("rg", "mlw-a").await;
    api.ml_workspace("rg", "mlw-b").await;
    let set = control
        .put("/_emulator/faults", json!({"latencyMs": 5000, "targets": [{"pathContains": "workspaces/mlw-a", "status": 503}]}))
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["latencyMs"], 5000);
    assert_eq!(
        set.body["lroMs"], 2000,
        "a partial PUT keeps the other knobs"
    );
    let started = Instant::now();
    let a = api
        .get(&format!(
            "{}?api-version=2024-10-01",
            super::support::ml_id("rg", "MLW-A")
        ))
        .await;
    assert_eq!((a.status, a.code().as_str()), (503, "ServiceUnavailable"));
    assert!(
        started.elapsed() >= Duration::from_millis(45),
        "latency 5000 ms × 0.01"
    );
    assert_eq!(
        api.get(&format!(
            "{}?api-version=2024-10-01",
            super::support::ml_id("rg", "mlw-b")
        ))
        .await
        .status,
        200
    );
    let bad = control
        .put("/_emulator/faults", json!({"failRate": 2.0}))
        .await;
    assert_eq!(bad.status, 400);
    let bad = control
        .put("/_emulator/faults", json!({"noSuchKnob": 1}))
        .await;
    assert_eq!(bad.status, 400);
    let log = control.get("/_emulator/requests").await;
    let entries = log.body["value"].as_array().cloned().unwrap_or_default();
    let failed: Vec<&Value> = entries.iter().filter(|e| e["status"] == 503).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["method"], "GET");
    for key in [
        "path",
        "durationMs",
        "startMs",
        "endMs",
        "requestId",
        "operation",
    ] {
        assert!(failed[0].get(key).is_some(), "{key}");
    }
    let put = entries
        .iter()
        .find(|e| {
            e["method"] == "PUT"
                && e["operation"] == "PUT Microsoft.MachineLearningServices/workspaces"
        })
        .expect("a PUT");
    assert_eq!(put["principal"], emu.bootstrap_principal());
    assert_eq!(put["body"]["location"], "westeurope");
    let counts = control.get("/_emulator/counts").await;
    assert_eq!(
        counts.body["byOperation"]["PUT Microsoft.MachineLearningServices/workspaces"],
        2
    );
    assert_eq!(control.get("/_emulator/health").await.body["status"], "ok");
    // reset empties the cloud and restores the knobs
    assert_eq!(
        control.post("/_emulator/reset", json!({})).await.status,
        204
    );
    assert_eq!(control.get("/_emulator/faults").await.body["latencyMs"], 0);
    assert_eq!(
        api.get(&format!(
            "/subscriptions/{SUB}/resourcegroups/rg?api-version=2021-04-01"
        ))
        .await
        .status,
        404
    );
    // principals and direct role assignments
    let p = control
        .post("/_emulator/principals", json!({"displayName": "app"}))
        .await;
    assert_eq!(p.status, 201);
    let oid = p.body["objectId"].as_str().expect("oid").to_owned();
    let ra = control.post("/_emulator/role-assignments", json!({"plane": "arm", "scope": format!("/subscriptions/{SUB}"), "role": "Reader", "principalId": oid})).await;
    assert_eq!(ra.status, 201, "{:?}", ra.body);
    let reader = Api::as_principal(&emu, &oid, super::support::ARM);
    assert_eq!(
        reader
            .get(&format!(
                "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
            ))
            .await
            .status,
        200
    );
    let token = control
        .post(
            "/_emulator/token",
            json!({"principalId": oid, "audience": "https://dev.azuresynapse.net"}),
        )
        .await;
    assert!(token.body["accessToken"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
}

#[tokio::test]
async fn aml_conflicts_and_dropped_connections_on_demand() {
    let emu = start_with(Faults {
        aml_conflicts: true,
        ..fast_faults()
    })
    .await;
    let api = Api::bootstrap(&emu);
    let control = Api {
        token: None,
        ..api.clone()
    };
    api.resource_group("rg").await;
    api.synapse_workspace("rg", "syn1").await;
    let pool = api.pool("rg", "syn1", "pool1").await;
    api.ml_workspace("rg", "mlw1").await;
    control
        .put("/_emulator/faults", json!({"lroMs": 100_000}))
        .await;
    let compute = |name: &str| {
        format!(
            "{}/computes/{name}?api-version=2023-04-01",
            super::support::ml_id("rg", "mlw1")
        )
    };
    let body = json!({"properties": {"computeType": "SynapseSpark", "resourceId": pool["id"]}});
    assert_eq!(api.put(&compute("c1"), body.clone()).await.status, 201);
    let busy = api.put(&compute("c2"), body.clone()).await;
    assert_eq!((busy.status, busy.code().as_str()), (409, "Conflict"));
    assert!(busy.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("another operation on same entity")));
    // a dropped connection, twice, then normal answers again
    control
        .put("/_emulator/faults", json!({"lroMs": 2000, "targets": [{"pathContains": "resourcegroups/rg-drop", "status": 0, "remaining": 2}]}))
        .await;
    let url = format!(
        "{}/subscriptions/{SUB}/resourcegroups/rg-drop?api-version=2021-04-01",
        emu.url()
    );
    for _ in 0..2 {
        let r = api
            .http
            .get(&url)
            .bearer_auth(api.token.clone().unwrap_or_default())
            .send()
            .await;
        assert!(r.is_err(), "the connection is dropped: {r:?}");
    }
    let r = api
        .http
        .get(&url)
        .bearer_auth(api.token.clone().unwrap_or_default())
        .send()
        .await
        .expect("answered");
    assert_eq!(r.status().as_u16(), 404);
    let subs = api.get("/subscriptions?api-version=2022-12-01").await;
    assert_eq!(subs.body["value"][0]["subscriptionId"], SUB);
}

/// What a client saw of one request: a status, or 0 for a dropped connection.
async fn status_of(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Value,
) -> u16 {
    match http
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_was_applied_all_the_same() {
    let emu = start_with(Faults {
        lost_answer_rate: 1.0,
        ..fast_faults()
    })
    .await;
    let api = Api::bootstrap(&emu);
    let token = api.token.clone().expect("token");
    let http = reqwest::Client::new();
    let rg = format!(
        "{}/subscriptions/{SUB}/resourcegroups/rg-lost?api-version=2021-04-01",
        emu.url()
    );
    let seen = status_of(
        &http,
        reqwest::Method::PUT,
        &rg,
        &token,
        json!({"location": "westeurope"}),
    )
    .await;
    assert!(
        [0, 500, 502, 504].contains(&seen),
        "the answer was lost: {seen}"
    );
    // Reads keep their answers: the group exists.
    assert_eq!(
        api.get(&format!(
            "/subscriptions/{SUB}/resourcegroups/rg-lost?api-version=2021-04-01"
        ))
        .await
        .status,
        200
    );
    // The Synapse data plane too: the assignment exists although its PUT's answer was lost.
    api.with_token(None)
        .send(
            "PUT",
            "/_emulator/faults",
            Some(json!({"lostAnswerRate": 0.0})),
        )
        .await;
    let ws = api.synapse_workspace("rg-lost", "syn-lost").await;
    let dev = ws["properties"]["connectivityEndpoints"]["dev"]
        .as_str()
        .expect("dev")
        .to_owned();
    api.with_token(None)
        .send(
            "PUT",
            "/_emulator/faults",
            Some(json!({"lostAnswerRate": 1.0})),
        )
        .await;
    let syn_token = emu.mint_token(&emu.bootstrap_principal(), super::support::SYNAPSE);
    let principal = uuid::Uuid::new_v4().to_string();
    let url = format!(
        "{dev}/roleAssignments/{}?api-version=2020-12-01",
        uuid::Uuid::new_v4()
    );
    let seen = status_of(&http, reqwest::Method::PUT, &url, &syn_token,
        json!({"roleId": "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1", "principalId": principal, "scope": "workspaces/syn-lost"})).await;
    assert!(
        [0, 500, 502, 504].contains(&seen),
        "the answer was lost: {seen}"
    );
    let listed: Value = http
        .get(format!(
            "{dev}/roleAssignments?api-version=2020-12-01&principalId={principal}"
        ))
        .bearer_auth(&syn_token)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["count"], 1, "the assignment was made: {listed}");
    // The log says what happened.
    let log = api.with_token(None).get("/_emulator/requests").await.body;
    assert!(
        log["value"]
            .as_array()
            .expect("log")
            .iter()
            .any(|e| e["operation"]
                .as_str()
                .unwrap_or_default()
                .contains("applied; answer lost")),
        "{log}"
    );
}

/// The statuses clients saw of the same 40 writes against a fresh emulator.
async fn lost_pattern(seed: u64) -> Vec<u16> {
    let emu = start_with(Faults {
        lost_answer_rate: 0.3,
        seed,
        ..fast_faults()
    })
    .await;
    let api = Api::bootstrap(&emu);
    let token = api.token.clone().expect("token");
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for i in 0..40 {
        let url = format!(
            "{}/subscriptions/{SUB}/resourcegroups/rg-{i}?api-version=2021-04-01",
            emu.url()
        );
        seen.push(
            status_of(
                &http,
                reqwest::Method::PUT,
                &url,
                &token,
                json!({"location": "westeurope"}),
            )
            .await,
        );
    }
    let groups = api
        .get(&format!(
            "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
        ))
        .await;
    assert_eq!(
        groups.body["value"].as_array().map(Vec::len),
        Some(40),
        "every write applied"
    );
    seen
}

#[tokio::test]
async fn lost_answers_are_chosen_by_the_seed() {
    let a = lost_pattern(7).await;
    assert!(a.iter().any(|s| *s != 201), "some answers lost: {a:?}");
    assert!(a.contains(&201), "not all: {a:?}");
    assert_eq!(
        a,
        lost_pattern(7).await,
        "the same seed loses the same answers"
    );
    assert_ne!(a, lost_pattern(8).await, "another seed, other answers");
}
