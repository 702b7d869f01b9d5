//! Helpers to drive the emulator over real HTTP in tests: start it in-process
//! (`start`, `start_with`), a small JSON client that carries a bearer token (`Api`),
//! LRO polling to the end (`Api::wait_async`, `Api::wait_location`), and the ids and
//! paths of the resources tests make. Running the real binary (the engine or
//! `synlink emulator`) is `world.rs`'s.

#![allow(
    dead_code,
    reason = "shared helpers: each test module uses a different subset"
)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use synlink_emulator::{Config, Emulator, Faults, ThrottleSpec};

/// Management audience.
pub const ARM: &str = "https://management.azure.com/";
/// Synapse data-plane audience.
pub const SYNAPSE: &str = "https://dev.azuresynapse.net";
/// A subscription id for tests.
pub const SUB: &str = "00000000-0000-0000-0000-0000000000a1";

/// The secret the emulator's managed-identity endpoint expects by default.
pub const IDENTITY_HEADER: &str = "synlink-emulator";

/// Knobs for fast tests: 20 ms LROs, polls paced at 1/100 of Azure's, no throttling,
/// and new pools allowed on runtime 3.4 besides the supported ones: the tests' pools made
/// by hand (`pool_body`) stand for pools made before 3.4's end of support. An emulator
/// with Azure's runtimes of today is `start_with(Faults { .. })` from `Faults::default()`.
pub fn fast_faults() -> Faults {
    let mut spark_runtimes = Faults::default().spark_runtimes;
    spark_runtimes.push("3.4".to_owned());
    Faults {
        lro_ms: 2000,
        time_scale: 0.01,
        throttle: ThrottleSpec {
            enabled: false,
            ..ThrottleSpec::default()
        },
        spark_runtimes,
        ..Faults::default()
    }
}

/// Starts an in-process emulator with fast knobs.
pub async fn start() -> Emulator {
    start_with(fast_faults()).await
}

/// Starts an in-process emulator with these knobs.
pub async fn start_with(faults: Faults) -> Emulator {
    Emulator::start(Config {
        faults,
        ..Config::default()
    })
    .await
    .expect("emulator starts")
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The error code of an ARM envelope.
    pub fn code(&self) -> String {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A JSON client for one principal.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Api {
    /// A client for the bootstrap principal with an ARM token.
    pub fn bootstrap(emu: &Emulator) -> Api {
        Api::as_principal(emu, &emu.bootstrap_principal(), ARM)
    }

    /// A client for `oid` with a token for `audience`.
    pub fn as_principal(emu: &Emulator, oid: &str, audience: &str) -> Api {
        Api {
            base: emu.url(),
            token: Some(emu.mint_token(oid, audience)),
            http: reqwest::Client::new(),
        }
    }

    /// The same client with another token (or none).
    pub fn with_token(&self, token: Option<String>) -> Api {
        Api {
            token,
            ..self.clone()
        }
    }

    /// Sends a request; `path` may be absolute (an LRO URL) or start with `/`.
    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send("PUT", path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send("POST", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send("PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None).await
    }

    /// Polls an `Azure-AsyncOperation` URL until a terminal status; returns the status body.
    pub async fn wait_async(&self, url: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = self.get(url).await;
            assert_eq!(a.status, 200, "status URL answers 200: {:?}", a.body);
            let status = a.body["status"].as_str().unwrap_or_default().to_owned();
            if matches!(status.as_str(), "Succeeded" | "Failed" | "Canceled") {
                return a.body;
            }
            assert_eq!(status, "InProgress");
            assert!(Instant::now() < deadline, "LRO did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls a `Location` URL until it stops answering 202; returns the final answer.
    pub async fn wait_location(&self, url: &str) -> Answer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let a = self.get(url).await;
            if a.status != 202 {
                return a;
            }
            assert!(a.header("retry-after").is_some());
            assert!(Instant::now() < deadline, "LRO did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Creates a resource group.
    pub async fn resource_group(&self, rg: &str) -> Answer {
        let a = self
            .put(
                &format!("/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01"),
                json!({"location": "westeurope"}),
            )
            .await;
        assert!(a.status == 201 || a.status == 200, "{a:?}");
        a
    }

    /// Creates a Synapse workspace and waits for it.
    pub async fn synapse_workspace(&self, rg: &str, ws: &str) -> Value {
        let path = format!("{}?api-version=2021-06-01", synapse_id(rg, ws));
        let a = self.put(&path, json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {}})).await;
        assert_eq!(a.status, 201, "{a:?}");
        let status = self
            .wait_async(&a.header("azure-asyncoperation").expect("async header"))
            .await;
        assert_eq!(status["status"], "Succeeded");
        self.get(&path).await.body
    }

    /// Creates a Spark pool on runtime 3.4 and waits for it: the examples' existing pools
    /// were made before 3.4's end of support, so the emulator's `sparkRuntimes` knob lets
    /// this one PUT create a 3.4 pool, as Azure did then (pools already made keep 3.4).
    pub async fn pool(&self, rg: &str, ws: &str, pool: &str) -> Value {
        // One widened knob at a time across the test binary, so two helpers never restore
        // each other's setting.
        static KNOB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let path = pool_path(rg, ws, pool);
        let control = self.with_token(None);
        let _one = KNOB.lock().await;
        let knobs = control.get("/_emulator/faults").await.body;
        let mut widened = knobs["sparkRuntimes"].clone();
        if let Some(list) = widened.as_array_mut() {
            list.push(json!("3.4"));
        }
        control
            .send(
                "PUT",
                "/_emulator/faults",
                Some(json!({"sparkRuntimes": widened})),
            )
            .await;
        let a = self.put(&path, pool_body()).await;
        control
            .send(
                "PUT",
                "/_emulator/faults",
                Some(json!({"sparkRuntimes": knobs["sparkRuntimes"]})),
            )
            .await;
        assert_eq!(a.status, 202, "{a:?}");
        let status = self
            .wait_async(&a.header("azure-asyncoperation").expect("async header"))
            .await;
        assert_eq!(status["status"], "Succeeded");
        self.get(&path).await.body
    }

    /// Creates an AML workspace and waits for it (202 without a body at 2024-10-01, as
    /// its definition, workspaceRP.json, answers a creating PUT).
    pub async fn ml_workspace(&self, rg: &str, ws: &str) -> Value {
        let path = format!("{}?api-version=2024-10-01", ml_id(rg, ws));
        let a = self.put(&path, json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {"friendlyName": ws}})).await;
        assert_eq!(a.status, 202, "{a:?}");
        let status = self
            .wait_async(&a.header("azure-asyncoperation").expect("async header"))
            .await;
        assert_eq!(status["status"], "Succeeded");
        self.get(&path).await.body
    }
}

/// A valid Spark pool body.
pub fn pool_body() -> Value {
    json!({"location": "westeurope", "properties": {
        "sparkVersion": "3.4", "nodeSize": "Medium", "nodeSizeFamily": "MemoryOptimized",
        "autoScale": {"enabled": true, "minNodeCount": 3, "maxNodeCount": 10},
        "autoPause": {"enabled": true, "delayInMinutes": 15}}})
}

/// ARM id of a Synapse workspace in `SUB`.
pub fn synapse_id(rg: &str, ws: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Synapse/workspaces/{ws}")
}

/// ARM id of an AML workspace in `SUB`.
pub fn ml_id(rg: &str, ws: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}")
}

/// ARM path (with api-version) of a Spark pool in `SUB`.
pub fn pool_path(rg: &str, ws: &str, pool: &str) -> String {
    format!(
        "{}/bigDataPools/{pool}?api-version=2021-06-01",
        synapse_id(rg, ws)
    )
}

/// ARM path (with api-version) of a compute of an AML workspace in `SUB`.
pub fn compute_path(rg: &str, ml: &str, name: &str) -> String {
    format!("{}/computes/{name}?api-version=2023-04-01", ml_id(rg, ml))
}

/// ARM path (with api-version) of a linked service of an AML workspace in `SUB`.
pub fn link_path(rg: &str, ml: &str, name: &str) -> String {
    format!(
        "{}/linkedServices/{name}?api-version=2020-09-01-preview",
        ml_id(rg, ml)
    )
}
