//! The request log (`GET /_emulator/requests`) records what the emulator actually sent:
//! every response header (`responseHeaders`, lower-case names) and the JSON response body
//! (`responseBody`, null when there is none), checked here against what an HTTP client
//! received — for a 429 (its `retry-after-ms`), an LRO's 201 (its polling URL), a HEAD, a
//! 204 and a dropped connection.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};
use synlink_emulator::{BucketSpec, Config, Emulator, FaultTarget, Faults, ThrottleSpec};

const SUB: &str = "00000000-0000-0000-0000-0000000000c1";
const ARM: &str = "https://management.azure.com/";

/// What the client received.
struct Received {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Option<Value>,
}

async fn send(
    http: &reqwest::Client,
    emu: &Emulator,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Received {
    let mut request = http
        .request(method, format!("{}{path}", emu.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().expect("ASCII header").to_owned(),
            )
        })
        .collect();
    let bytes = response.bytes().await.expect("a body");
    let body = serde_json::from_slice(&bytes).ok();
    Received {
        status,
        headers,
        body,
    }
}

/// The log entry of the request the client saw answered with `received`.
fn entry_of<'a>(log: &'a [Value], received: &Received) -> &'a Value {
    let id = &received.headers["x-ms-request-id"];
    log.iter()
        .find(|e| e["requestId"] == json!(id))
        .unwrap_or_else(|| panic!("request {id} is in the log: {log:#?}"))
}

/// Every header the log says was sent is one the client received, with that value, and
/// every header the emulator itself sets is logged (`content-length` and `date` are
/// hyper's own).
fn assert_headers_logged(entry: &Value, received: &Received) {
    let logged = entry["responseHeaders"]
        .as_object()
        .expect("responseHeaders is an object");
    for (name, value) in logged {
        assert_eq!(
            Some(value),
            received.headers.get(name).map(|v| json!(v)).as_ref(),
            "logged header {name}: {entry:#}"
        );
    }
    for name in received.headers.keys() {
        assert!(
            logged.contains_key(name) || name == "content-length" || name == "date",
            "header {name} was sent but not logged: {entry:#}"
        );
    }
}

#[tokio::test]
async fn the_request_log_records_the_headers_and_body_sent() {
    let faults = Faults {
        lro_ms: 100_000,
        // Two reads per principal, then 429s that ask for a refill of one token a second.
        throttle: ThrottleSpec {
            enabled: true,
            reads: BucketSpec {
                capacity: 2,
                refill_per_sec: 1.0,
            },
            ..ThrottleSpec::default()
        },
        targets: vec![FaultTarget {
            path_contains: "resourceGroups/dropped".to_owned(),
            status: 0,
            ..FaultTarget::default()
        }],
        ..Faults::default()
    };
    let emu = Emulator::start(Config {
        faults,
        ..Config::default()
    })
    .await
    .expect("the emulator starts");
    let token = emu.mint_token(&emu.bootstrap_principal(), ARM);
    let http = reqwest::Client::new();
    let rg = format!("/subscriptions/{SUB}/resourceGroups/rg1");
    let version = "api-version=2021-04-01";

    let created = send(
        &http,
        &emu,
        &token,
        Method::PUT,
        &format!("{rg}?{version}"),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(created.status, 201);
    let workspace = send(
        &http,
        &emu,
        &token,
        Method::PUT,
        // 2020-09-01-preview still answers a creating PUT with 201 and the resource.
        &format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/mlw1?api-version=2020-09-01-preview"),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(workspace.status, 201);
    assert!(workspace.headers.contains_key("azure-asyncoperation"));
    let head = send(
        &http,
        &emu,
        &token,
        Method::HEAD,
        &format!("{rg}?{version}"),
        None,
    )
    .await;
    assert_eq!(head.status, 204);
    let gone = send(
        &http,
        &emu,
        &token,
        Method::DELETE,
        &format!("{rg}/providers/Microsoft.MachineLearningServices/workspaces/none?api-version=2023-04-01"),
        None,
    )
    .await;
    assert_eq!(gone.status, 204);
    // HEAD was the first read of the bucket of two.
    let read = send(
        &http,
        &emu,
        &token,
        Method::GET,
        &format!("{rg}?{version}"),
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    let throttled = send(
        &http,
        &emu,
        &token,
        Method::GET,
        &format!("{rg}?{version}"),
        None,
    )
    .await;
    assert_eq!(throttled.status, 429, "the third read is throttled");
    let dropped = http
        .get(format!(
            "{}/subscriptions/{SUB}/resourceGroups/dropped?{version}",
            emu.url()
        ))
        .bearer_auth(&token)
        .send()
        .await;
    assert!(dropped.is_err(), "the connection was dropped: {dropped:?}");

    let log: Value = http
        .get(format!("{}/_emulator/requests", emu.url()))
        .send()
        .await
        .expect("the log")
        .json()
        .await
        .expect("JSON");
    let log = log["value"].as_array().expect("entries").clone();

    // The 429: what it asked the client to wait is in the log as it was sent.
    let entry = entry_of(&log, &throttled);
    assert_eq!(entry["status"], 429);
    assert_headers_logged(entry, &throttled);
    let wait_ms: u64 = throttled.headers["retry-after-ms"].parse().expect("ms");
    assert!(wait_ms > 0 && wait_ms <= 1000, "{wait_ms}");
    assert_eq!(
        entry["responseHeaders"]["retry-after-ms"],
        json!(wait_ms.to_string())
    );
    assert_eq!(
        entry["responseHeaders"]["x-ms-ratelimit-remaining-subscription-reads"],
        "0"
    );
    assert_eq!(Some(&entry["responseBody"]), throttled.body.as_ref());
    assert_eq!(entry["responseBody"]["error"]["code"], "TooManyRequests");

    // An LRO's 201: its body and polling headers.
    let entry = entry_of(&log, &workspace);
    assert_headers_logged(entry, &workspace);
    assert_eq!(
        entry["responseHeaders"]["azure-asyncoperation"],
        json!(workspace.headers["azure-asyncoperation"])
    );
    assert_eq!(Some(&entry["responseBody"]), workspace.body.as_ref());
    assert_eq!(
        entry["responseBody"]["properties"]["provisioningState"],
        "Creating"
    );
    assert_eq!(entry["body"]["location"], "westeurope", "the request body");

    // Other answers, with a body and without (a HEAD, a 204).
    for received in [&head, &gone, &created, &read] {
        let entry = entry_of(&log, received);
        assert_headers_logged(entry, received);
        assert_eq!(
            entry["responseBody"],
            received.body.clone().unwrap_or(Value::Null)
        );
    }
    assert_eq!(entry_of(&log, &head)["responseBody"], Value::Null);
    assert_eq!(entry_of(&log, &gone)["responseBody"], Value::Null);

    // A dropped connection sent nothing.
    let entry = log
        .iter()
        .find(|e| e["status"] == 0)
        .expect("the dropped request is logged");
    assert_eq!(entry["responseHeaders"], json!({}));
    assert_eq!(entry["responseBody"], Value::Null);

    emu.shutdown().await.expect("a clean stop");
}
