//! Helpers to drive the emulator over real HTTP in tests: start it in-process
//! (`start`, `start_with`) or as the real binary (`BinaryEmulator`, reading its
//! `listening on` line), a small JSON client that carries a bearer token (`Api`), and
//! LRO polling to the end (`Api::wait_async`, `Api::wait_location`).

#![allow(
    dead_code,
    reason = "shared helpers: each test module uses a different subset"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
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

/// Credentials and settings from the developer's own machine that must not
/// reach a synlink run under test.
const FOREIGN_ENV: [&str; 9] = [
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
    "SYNLINK_ARM_ENDPOINT",
];

/// Gives a `synlink` command the environment of a test run: no backtraces, no
/// colour, and credentials only from the emulator's managed-identity endpoint
/// (with `identity_header` as its secret), as a real Azure client would get them.
pub trait SynlinkTestEnv {
    /// Sets that environment; chains like the other `Command` builders.
    fn test_env(&mut self, identity_endpoint: &str, identity_header: &str) -> &mut Self;
}

impl SynlinkTestEnv for tokio::process::Command {
    fn test_env(&mut self, identity_endpoint: &str, identity_header: &str) -> &mut Self {
        self.env("RUST_BACKTRACE", "0")
            .env("NO_COLOR", "1")
            .env("IDENTITY_ENDPOINT", identity_endpoint)
            .env("IDENTITY_HEADER", identity_header);
        for var in FOREIGN_ENV {
            self.env_remove(var);
        }
        self
    }
}

/// Knobs for fast tests: 20 ms LROs, no throttling.
pub fn fast_faults() -> Faults {
    Faults {
        lro_ms: 2000,
        time_scale: 0.01,
        throttle: ThrottleSpec {
            enabled: false,
            ..ThrottleSpec::default()
        },
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

    /// Creates a Spark pool and waits for it.
    pub async fn pool(&self, rg: &str, ws: &str, pool: &str) -> Value {
        let path = format!(
            "{}/bigDataPools/{pool}?api-version=2021-06-01",
            synapse_id(rg, ws)
        );
        let a = self.put(&path, pool_body()).await;
        assert_eq!(a.status, 202, "{a:?}");
        let status = self
            .wait_async(&a.header("azure-asyncoperation").expect("async header"))
            .await;
        assert_eq!(status["status"], "Succeeded");
        self.get(&path).await.body
    }

    /// Creates an AML workspace and waits for it.
    pub async fn ml_workspace(&self, rg: &str, ws: &str) -> Value {
        let path = format!("{}?api-version=2024-10-01", ml_id(rg, ws));
        let a = self.put(&path, json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {"friendlyName": ws}})).await;
        assert_eq!(a.status, 201, "{a:?}");
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

/// The emulator run as the real `synlink emulator` binary.
pub struct BinaryEmulator {
    pub child: Child,
    pub url: String,
}

impl BinaryEmulator {
    /// Starts `synlink emulator --listen 127.0.0.1:0 ARGS…` and reads its ready line.
    pub fn start(args: &[&str]) -> BinaryEmulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synlink"))
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("ready line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        BinaryEmulator { child, url }
    }

    /// Sends SIGTERM and waits (5 s at most) for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the emulator did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A token from the control endpoint.
    pub async fn token(&self, principal: Option<&str>, audience: &str) -> String {
        let mut body = json!({"audience": audience});
        if let Some(p) = principal {
            body["principalId"] = json!(p);
        }
        let v: Value = reqwest::Client::new()
            .post(format!("{}/_emulator/token", self.url))
            .json(&body)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        v["accessToken"].as_str().expect("accessToken").to_owned()
    }

    /// A client for the bootstrap principal.
    pub async fn api(&self) -> Api {
        Api {
            base: self.url.clone(),
            token: Some(self.token(None, ARM).await),
            http: reqwest::Client::new(),
        }
    }
}

impl Drop for BinaryEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
