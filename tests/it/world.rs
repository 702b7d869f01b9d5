//! The one world every integration test that runs synlink starts from, like just's
//! `Test`: a temporary directory, a cloud (an in-process emulator, the real
//! `synlink emulator` binary, or none), the environment of a run (no developer
//! credentials: tokens come from the emulator's managed-identity endpoint), the binary
//! itself, and checks on what a run printed, on the state file and on the emulator's
//! request log. A test reads as its scenario (a run finds the emulator through
//! `SYNLINK_ARM_ENDPOINT`, and the spec where synlink looks by default):
//!
//! ```ignore
//! World::new().await.spec(&quickstart())
//!     .run(["apply", "--auto-approve"]).await
//!     .success()
//!     .stderr_contains("Apply complete: 6 created");
//! ```
//!
//! It owns the binary's path, the run environment and the data sources the examples
//! read. It does not own the emulator's HTTP client (`Api`), its ids or its in-process
//! start helpers: those are in `emulator_support.rs`, shared with the emulator's own tests.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use synlink_emulator::{Config, Emulator};

use crate::emulator::support::{self, Api, ARM, IDENTITY_HEADER, SUB, SYNAPSE};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_synlink");

/// A run that takes longer has hung: the test fails instead of waiting forever.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// Credentials and settings from the developer's own machine that must not reach a
/// synlink run under test (every `SYNLINK_*` variable goes too).
const FOREIGN_ENV: [&str; 13] = [
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
    "IDENTITY_SERVER_THUMBPRINT",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
];

/// Gives `cmd` the environment every run gets: no backtraces, no colour, nothing of
/// the developer's credentials or `SYNLINK_*` settings, stdin closed, output captured.
fn with_test_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    cmd.env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in FOREIGN_ENV {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SYNLINK_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// `synlink` with the environment every run gets.
fn synlink_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    with_test_env(&mut cmd);
    cmd
}

/// How a world is made: which emulator, with which managed-identity secret.
pub struct Builder {
    identity_header: String,
    binary_flags: Option<Vec<String>>,
}

impl Builder {
    /// The emulator's managed-identity endpoint expects `secret` (and runs send it).
    pub fn identity_header(mut self, secret: &str) -> Builder {
        secret.clone_into(&mut self.identity_header);
        self
    }

    /// The real `synlink emulator` binary with these flags, its data in `DIR/emulator`,
    /// instead of an in-process emulator with fast knobs.
    pub fn emulator_binary(mut self, flags: &[&str]) -> Builder {
        self.binary_flags = Some(flags.iter().map(|f| (*f).to_owned()).collect());
        self
    }

    /// Makes the directory and starts the emulator.
    pub async fn start(self) -> World {
        let mut w = World {
            dir: tempfile::tempdir().expect("temp dir"),
            cloud: None,
            identity_header: self.identity_header,
            binary_flags: self.binary_flags,
        };
        w.start_emulator().await;
        w
    }
}

/// The emulator a world talks to and the bootstrap principal's client for it.
struct Cloud {
    process: Process,
    api: Api,
    bootstrap: String,
}

enum Process {
    InProcess(#[allow(dead_code, reason = "held so that it serves")] Emulator),
    Binary(BinaryEmulator),
}

/// A temporary directory, maybe an emulator, and the binary run in between.
pub struct World {
    dir: tempfile::TempDir,
    cloud: Option<Cloud>,
    identity_header: String,
    binary_flags: Option<Vec<String>>,
}

impl World {
    /// A world with an in-process emulator with fast knobs (20 ms LROs, no throttling).
    pub async fn new() -> World {
        World::builder().start().await
    }

    /// A world to configure before it starts.
    pub fn builder() -> Builder {
        Builder {
            identity_header: IDENTITY_HEADER.to_owned(),
            binary_flags: None,
        }
    }

    /// The python of the SDK conformance venvs (`$SYNLINK_CONFORMANCE_PYTHON`, made by
    /// `.ci/conformance-venv.sh`), or `None` with a notice: `what` is skipped here. Under
    /// CI (`CI` set) a missing venv fails the test instead: CI must run `what`.
    pub fn conformance_python(what: &str) -> Option<OsString> {
        let Some(python) = std::env::var_os("SYNLINK_CONFORMANCE_PYTHON") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "SYNLINK_CONFORMANCE_PYTHON is not set: CI must run {what} (bash .ci/conformance-venv.sh DIR and export SYNLINK_CONFORMANCE_PYTHON=DIR/bin/python)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set SYNLINK_CONFORMANCE_PYTHON to run {what}"
            );
            return None;
        };
        Some(python)
    }

    /// A world without a cloud, for commands that never reach one (validate, graph,
    /// a refused `synlink emulator`); usable from tests that are not async.
    pub fn offline() -> World {
        World {
            dir: tempfile::tempdir().expect("temp dir"),
            cloud: None,
            identity_header: IDENTITY_HEADER.to_owned(),
            binary_flags: None,
        }
    }

    // -- the emulator ------------------------------------------------------------

    /// Starts the world's emulator (again, after `stop_emulator`, with the same data).
    pub async fn start_emulator(&mut self) {
        assert!(self.cloud.is_none(), "the emulator is running");
        let (process, url) = match &self.binary_flags {
            None => {
                let emu = Emulator::start(Config {
                    faults: support::fast_faults(),
                    identity_header: self.identity_header.clone(),
                    ..Config::default()
                })
                .await
                .expect("emulator starts");
                let url = emu.url();
                (Process::InProcess(emu), url)
            }
            Some(flags) => {
                let data = self.emulator_data().display().to_string();
                let mut args = vec!["--data", data.as_str()];
                args.extend(flags.iter().map(String::as_str));
                let emu = BinaryEmulator::start(&args);
                let url = emu.url.clone();
                (Process::Binary(emu), url)
            }
        };
        let mut http = reqwest::Client::builder();
        if url.starts_with("https:") {
            let pem = std::fs::read(self.emulator_data().join("tls/ca.pem")).expect("the CA");
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("pem"));
        }
        let api = Api {
            base: url,
            token: None,
            http: http.build().expect("client"),
        };
        let health = api.get("/_emulator/health").await;
        assert_eq!(health.status, 200, "{health:?}");
        let bootstrap = health.body["bootstrapPrincipal"]
            .as_str()
            .expect("bootstrap principal")
            .to_owned();
        let token = mint(&api, None, ARM).await;
        self.cloud = Some(Cloud {
            process,
            api: api.with_token(Some(token)),
            bootstrap,
        });
    }

    /// Stops the real emulator binary with SIGTERM and returns how it exited.
    pub fn stop_emulator(&mut self) -> ExitStatus {
        match self.cloud.take().map(|c| c.process) {
            Some(Process::Binary(emu)) => emu.terminate(),
            _ => panic!("only the emulator binary stops and starts again"),
        }
    }

    fn cloud(&self) -> &Cloud {
        self.cloud.as_ref().expect("this world has an emulator")
    }

    /// The emulator's base URL.
    pub fn url(&self) -> String {
        self.cloud().api.base.clone()
    }

    /// The directory the emulator binary keeps its data in.
    pub fn emulator_data(&self) -> PathBuf {
        self.path("emulator")
    }

    /// The bootstrap principal's ARM client (it owns every subscription).
    pub fn api(&self) -> &Api {
        &self.cloud().api
    }

    /// The bootstrap principal's object id.
    pub fn bootstrap_principal(&self) -> &str {
        &self.cloud().bootstrap
    }

    /// A client for `principal` (the bootstrap one by default) with a token for `audience`.
    pub async fn api_as(&self, principal: Option<&str>, audience: &str) -> Api {
        let token = mint(self.api(), principal, audience).await;
        self.api().with_token(Some(token))
    }

    /// A token from the managed-identity endpoint, asked for exactly as synlink's
    /// credential asks (App Service protocol, 2019-08-01), for the bootstrap principal.
    pub async fn mi_token(&self, resource: &str) -> String {
        let resp = self
            .api()
            .http
            .get(format!("{}/_identity/msi", self.url()))
            .query(&[("resource", resource), ("api-version", "2019-08-01")])
            .header("X-IDENTITY-HEADER", &self.identity_header)
            .send()
            .await
            .expect("the MI endpoint answers");
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.expect("token json");
        let token = v["access_token"].as_str().expect("access_token").to_owned();
        assert!(token.starts_with("eyJ"), "a JWT: {token}");
        token
    }

    /// Calls `/_emulator/PATH` (no token) and returns the answer's body.
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let a = self
            .api()
            .with_token(None)
            .send(method, &format!("/_emulator/{path}"), body)
            .await;
        assert!(a.status < 300, "{method} /_emulator/{path}: {a:?}");
        a.body
    }

    /// Changes the emulator's faults at run time.
    pub async fn faults(&self, body: Value) {
        self.control("PUT", "faults", Some(body)).await;
    }

    /// Every fault off, so a checker's own reads go through.
    pub async fn calm(&self) {
        self.faults(json!({
            "failRate": 0.0, "targets": [], "latencyMs": 0, "identityDelayMs": 0,
            "rbacDelayMs": 0, "amlConflicts": false, "lroMs": 2000,
            "throttle": {"enabled": false}
        }))
        .await;
    }

    // -- the request log ---------------------------------------------------------

    /// Empties the request log.
    pub async fn clear_log(&self) {
        self.control("DELETE", "requests", None).await;
    }

    /// The cloud requests (ARM and the Synapse data plane; not control or token
    /// requests) logged since the last clear, in arrival order.
    pub async fn log(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self.control("GET", "requests", None).await["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                let p = str_of(r, "path");
                !p.starts_with("/_emulator/") && !p.starts_with("/_identity/")
            })
            .collect();
        v.sort_by_key(|r| r["seq"].as_u64().unwrap_or(0));
        v
    }

    /// The writes (PUT/PATCH/DELETE) in the log, as `"METHOD" "PATH"`.
    pub async fn writes(&self) -> Vec<String> {
        self.log()
            .await
            .iter()
            .filter(|r| is_write(r))
            .map(|r| format!("{} {}", r["method"], r["path"]))
            .collect()
    }

    /// The first PUT in the log whose path contains `path_part`.
    pub async fn first_put(&self, path_part: &str) -> Option<Value> {
        self.log()
            .await
            .into_iter()
            .find(|r| r["method"] == "PUT" && str_of(r, "path").contains(path_part))
    }

    // -- what the emulator holds -------------------------------------------------

    /// The `value` of a list call that must answer 200.
    pub async fn list(&self, path: &str) -> Vec<Value> {
        let a = self.api().get(path).await;
        assert_eq!(a.status, 200, "{path}: {a:?}");
        a.body["value"].as_array().cloned().unwrap_or_default()
    }

    /// Every Synapse role assignment of workspace `ws` except the bootstrap
    /// principal's own, every page.
    pub async fn synapse_assignments(&self, ws: &str) -> Vec<Value> {
        let syn = self.api_as(None, SYNAPSE).await;
        let url = format!(
            "{}/_synapse/{ws}/roleAssignments?api-version=2020-12-01",
            self.url()
        );
        let mut out = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let mut req = syn
                .http
                .get(&url)
                .bearer_auth(syn.token.as_deref().unwrap_or_default());
            if let Some(c) = &continuation {
                req = req.header("x-ms-continuation", c);
            }
            let resp = req.send().await.expect("the data plane answers");
            assert_eq!(resp.status().as_u16(), 200);
            continuation = resp
                .headers()
                .get("x-ms-continuation")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: Value = resp.json().await.expect("json");
            out.extend(
                body["value"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| {
                        !str_of(a, "principalId").eq_ignore_ascii_case(self.bootstrap_principal())
                    }),
            );
            if continuation.is_none() {
                return out;
            }
        }
    }

    /// The id of the Synapse role `name` in workspace `ws`.
    pub async fn synapse_role_id(&self, ws: &str, name: &str) -> String {
        let syn = self.api_as(None, SYNAPSE).await;
        let defs = syn
            .get(&format!(
                "{}/_synapse/{ws}/roleDefinitions?api-version=2020-12-01",
                self.url()
            ))
            .await;
        defs.body
            .as_array()
            .expect("role definitions")
            .iter()
            .find(|d| d["name"] == name)
            .and_then(|d| d["id"].as_str())
            .expect("the role exists")
            .to_owned()
    }

    /// Everything synlink can manage that the emulator holds, by folded id, with the
    /// body its list answered. Role assignments are keyed as the state writes them
    /// (`{workspace id}/roleassignments/{id}`, also their `id` here). Resource groups
    /// and the bootstrap principal's own Synapse assignments are left out.
    pub async fn holdings(&self) -> BTreeMap<String, Value> {
        let mut ids = BTreeMap::new();
        let mut put = |v: Value| {
            ids.insert(str_of(&v, "id").to_ascii_lowercase(), v);
        };
        let groups = self
            .list(&format!(
                "/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"
            ))
            .await;
        for g in groups {
            let rg = str_of(&g, "name").to_owned();
            let ml = self
                .list(&format!(
                    "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces?api-version=2024-10-01"
                ))
                .await;
            for w in ml {
                let id = str_of(&w, "id").to_owned();
                let (links_url, computes_url) = (
                    format!("{id}/linkedServices?api-version=2020-09-01-preview"),
                    format!("{id}/computes?api-version=2023-04-01"),
                );
                let (links, computes) =
                    tokio::join!(self.list(&links_url), self.list(&computes_url));
                links.into_iter().chain(computes).for_each(&mut put);
                put(w);
            }
            let syns = self
                .list(&format!(
                    "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Synapse/workspaces?api-version=2021-06-01"
                ))
                .await;
            for w in syns {
                let id = str_of(&w, "id").to_owned();
                self.list(&format!("{id}/bigDataPools?api-version=2021-06-01"))
                    .await
                    .into_iter()
                    .for_each(&mut put);
                for mut a in self.synapse_assignments(str_of(&w, "name")).await {
                    a["id"] = json!(format!("{id}/roleassignments/{}", str_of(&a, "id")));
                    put(a);
                }
                put(w);
            }
        }
        ids
    }

    /// The folded ids of `holdings`.
    pub async fn inventory(&self) -> BTreeSet<String> {
        self.holdings().await.into_keys().collect()
    }

    /// The state matches the emulator: every id in the state exists there, it is a
    /// data source exactly when the test made it (it is in `baseline`), and everything
    /// the emulator holds beyond `baseline` is in the state as a managed resource.
    /// Returns the `holdings` it compared.
    pub async fn assert_state_matches(
        &self,
        baseline: &BTreeSet<String>,
        step: &str,
    ) -> BTreeMap<String, Value> {
        let holdings = self.holdings().await;
        let held: BTreeSet<String> = holdings.keys().cloned().collect();
        let state = self.state();
        let mut in_state = BTreeSet::new();
        for (address, r) in &state.resources {
            let id = r.id.folded();
            assert!(
                held.contains(&id),
                "{step}: {address} ({}) is in the state but not in the emulator: {held:#?}",
                r.id
            );
            assert_eq!(
                r.existing,
                baseline.contains(&id),
                "{step}: {address} is a data source exactly when the test made it"
            );
            in_state.insert(id);
        }
        let orphans: Vec<&String> = held
            .iter()
            .filter(|id| !baseline.contains(*id) && !in_state.contains(*id))
            .collect();
        assert!(
            orphans.is_empty(),
            "{step}: the emulator holds resources the state does not know (orphans): {orphans:#?}\nstate: {:#?}",
            state.resources.keys().collect::<Vec<_>>()
        );
        holdings
    }

    // -- data sources, made over raw HTTP as another tool would ------------------

    /// The data sources of attach-with-identity.yaml.
    pub async fn vision(&self) {
        let api = self.api();
        api.resource_group("rg-analytics").await;
        api.ml_workspace("rg-analytics", "mlw-vision").await;
        api.synapse_workspace("rg-analytics", "syn-shared-prod")
            .await;
        api.pool("rg-analytics", "syn-shared-prod", "mediumpool")
            .await;
    }

    /// The data sources of existing-workspaces.yaml.
    pub async fn research(&self) {
        let api = self.api();
        api.resource_group("rg-analytics").await;
        api.resource_group("rg-synapse").await;
        api.ml_workspace("rg-analytics", "mlw-research").await;
        api.synapse_workspace("rg-synapse", "syn-shared-prod").await;
        api.pool("rg-synapse", "syn-shared-prod", "smallpool").await;
        api.pool("rg-synapse", "syn-shared-prod", "largepool").await;
    }

    /// The data sources of teams sharing one Synapse workspace: `rg-analytics`,
    /// `mlw-{team}` for each team and `syn-shared-prod` (no pool).
    pub async fn shared_workspace(&self, teams: &[&str]) {
        let api = self.api();
        api.resource_group("rg-analytics").await;
        for t in teams {
            api.ml_workspace("rg-analytics", &format!("mlw-{t}")).await;
        }
        api.synapse_workspace("rg-analytics", "syn-shared-prod")
            .await;
    }

    /// The data sources of bulk.yaml for these teams (made concurrently), with these pools.
    pub async fn bulk(&self, teams: &[String], pools: &[&str]) {
        let api = self.api();
        api.resource_group("rg-analytics").await;
        api.synapse_workspace("rg-analytics", "syn-shared-prod")
            .await;
        for p in pools {
            api.pool("rg-analytics", "syn-shared-prod", p).await;
        }
        let mut set = tokio::task::JoinSet::new();
        for t in teams {
            let api = api.clone();
            let name = format!("mlw-{t}");
            set.spawn(async move { api.ml_workspace("rg-analytics", &name).await });
        }
        while let Some(r) = set.join_next().await {
            r.expect("workspace made");
        }
    }

    // -- files -------------------------------------------------------------------

    /// The temporary directory every run works in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `name` in the directory (an absolute `name` stays as it is).
    pub fn path(&self, name: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `path(name)` as an argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Writes a file into the directory.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).expect("write file");
        p
    }

    /// The text of `examples/NAME`.
    pub fn example_text(name: &str) -> String {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        std::fs::read_to_string(&src).expect("example exists")
    }

    /// Copies `examples/NAME` into the directory under the same name.
    pub fn example(&self, name: &str) -> PathBuf {
        self.write(name, Self::example_text(name))
    }

    /// Writes `text` as the spec, `synlink.yaml`, where synlink looks by default.
    pub fn spec(self, text: &str) -> World {
        self.write("synlink.yaml", text);
        self
    }

    /// Where `spec` wrote the spec.
    pub fn spec_path(&self) -> PathBuf {
        self.path("synlink.yaml")
    }

    /// Every file under the directory (relative path) with the SHA-256 of its content;
    /// directories are listed with an empty hash.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).expect("readable dir") {
                let path = entry.expect("entry").path();
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .display()
                    .to_string();
                if path.is_dir() {
                    out.insert(format!("{rel}/"), String::new());
                    walk(root, &path, out);
                } else {
                    let bytes = std::fs::read(&path).expect("readable file");
                    let hash = Sha256::digest(&bytes);
                    out.insert(rel, format!("{hash:x}"));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), self.dir.path(), &mut out);
        out
    }

    // -- the state file ----------------------------------------------------------

    /// The state file the cloud commands of `cloud_args` use: `DIR/state.json`.
    pub fn state_path(&self) -> PathBuf {
        self.path("state.json")
    }

    /// The lock file of `state_path`.
    pub fn lock_path(&self) -> PathBuf {
        self.path("state.json.lock")
    }

    /// The state file's text, if there is one.
    pub fn state_text(&self) -> Option<String> {
        std::fs::read_to_string(self.state_path()).ok()
    }

    /// The state file, parsed.
    pub fn state(&self) -> synlink::state::State {
        let text = self.state_text().expect("a state file");
        serde_json::from_str(&text).expect("the state file parses")
    }

    /// Addresses of managed (not `existing`) resources in the state, sorted.
    pub fn managed_in_state(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .state()
            .resources
            .iter()
            .filter(|(_, r)| !r.existing)
            .map(|(a, _)| a.clone())
            .collect();
        v.sort();
        v
    }

    // -- running synlink ---------------------------------------------------------

    /// `synlink ARGS…` in the directory, to configure before it runs.
    pub fn synlink<I, S>(&self, args: I) -> Synlink<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Synlink {
            world: self,
            subdir: None,
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
            principal: None,
            umask0: false,
            quiet: false,
            timeout: RUN_TIMEOUT,
        }
    }

    /// Runs `synlink ARGS…` to its end.
    pub async fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.synlink(args).run().await
    }

    /// `CMD… -f SPEC --state DIR/state.json --arm-endpoint URL EXTRA…` (a relative
    /// `spec` is in the directory).
    pub fn cloud_args(&self, cmd: &[&str], spec: impl AsRef<Path>, extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        v.extend([
            "-f".to_owned(),
            self.path(spec).display().to_string(),
            "--state".to_owned(),
            self.state_path().display().to_string(),
            "--arm-endpoint".to_owned(),
            self.url(),
        ]);
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    }

    /// `synlink plan` of `spec` (see `cloud_args`).
    pub async fn plan(&self, spec: impl AsRef<Path>, extra: &[&str]) -> Run {
        self.run(self.cloud_args(&["plan"], spec, extra)).await
    }

    /// `synlink apply --auto-approve` of `spec` (see `cloud_args`).
    pub async fn apply(&self, spec: impl AsRef<Path>, extra: &[&str]) -> Run {
        let mut all = vec!["--auto-approve"];
        all.extend_from_slice(extra);
        self.run(self.cloud_args(&["apply"], spec, &all)).await
    }

    /// `synlink destroy --auto-approve` of `spec` (see `cloud_args`).
    pub async fn destroy(&self, spec: impl AsRef<Path>, extra: &[&str]) -> Run {
        let mut all = vec!["--auto-approve"];
        all.extend_from_slice(extra);
        self.run(self.cloud_args(&["destroy"], spec, &all)).await
    }

    /// `synlink ARGS… --state DIR/state.json`, for the commands that read only the state.
    pub async fn local(&self, args: &[&str]) -> Run {
        let state = self.state_path().display().to_string();
        let mut all = args.to_vec();
        all.extend(["--state", state.as_str()]);
        self.run(&all).await
    }
}

/// A token from the control endpoint for `principal` (the bootstrap one by default).
async fn mint(api: &Api, principal: Option<&str>, audience: &str) -> String {
    let mut body = json!({"audience": audience});
    if let Some(p) = principal {
        body["principalId"] = json!(p);
    }
    let a = api.with_token(None).post("/_emulator/token", body).await;
    assert_eq!(a.status, 200, "{a:?}");
    a.body["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

/// The example specs in `dir` (its `*.yaml` files, sorted): what the tests
/// read, whatever else a run of the examples leaves there (`.synlink/`).
pub fn example_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("examples/ is readable")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples found in {}", dir.display());
    files
}

/// Every file below `dir`, at any depth, sorted (directories themselves left out).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The repository's examples.
pub fn repo_examples() -> Vec<PathBuf> {
    example_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
}

/// Runs the binary with no cloud in `dir`, a directory a table-driven test made
/// itself, and returns its raw output.
pub fn offline_output(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(BIN);
    with_test_env(&mut cmd);
    cmd.current_dir(dir).args(args).envs(env.iter().copied());
    cmd.output().expect("the synlink binary runs")
}

/// Runs `synlink ARGS…` under a pseudo-terminal (util-linux `script`), with
/// nothing in the environment that turns colour off, and returns what it wrote.
pub async fn under_a_terminal(w: &World, args: &[String], no_color_env: bool) -> String {
    let bin = env!("CARGO_BIN_EXE_synlink");
    let line = std::iter::once(bin.to_owned())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(w.dir())
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .env("TERM", "xterm-256color")
        .env("IDENTITY_ENDPOINT", format!("{}/_identity/msi", w.url()))
        .env("IDENTITY_HEADER", IDENTITY_HEADER)
        .stdin(std::process::Stdio::null());
    if no_color_env {
        cmd.env("NO_COLOR", "1");
    }
    let out = cmd
        .output()
        .await
        .expect("util-linux `script` runs (it gives the test a terminal)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One run of the binary, configured like a `Command`, then run, run blocking or spawned.
pub struct Synlink<'w> {
    world: &'w World,
    /// Where it runs, under the world's directory (`None`: the directory itself).
    subdir: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    principal: Option<String>,
    umask0: bool,
    quiet: bool,
    timeout: Duration,
}

impl Synlink<'_> {
    /// Sets (or overrides) an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets these environment variables.
    pub fn envs(mut self, vars: &[(&str, &str)]) -> Self {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Authenticates as `object_id`, named to the managed-identity endpoint.
    pub fn principal(mut self, object_id: &str) -> Self {
        self.principal = Some(object_id.to_owned());
        self
    }

    /// Runs in `dir` under the world's directory (made if absent), as another
    /// machine's checkout of the same repository would.
    pub fn in_dir(mut self, dir: &str) -> Self {
        let path = self.world.path(dir);
        std::fs::create_dir_all(&path).expect("the run's directory");
        self.subdir = Some(path);
        self
    }

    /// Runs under `umask 000`, so that any mode narrower than 0666 is synlink's doing.
    pub fn umask0(mut self) -> Self {
        self.umask0 = true;
        self
    }

    /// Discards stdout and stderr (for a run that is killed, whose output nobody reads).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Fails the test when the run takes longer than this (90 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The configured command. With an emulator: credentials from its managed-identity
    /// endpoint and `SYNLINK_ARM_ENDPOINT` set to it.
    pub fn command(&self) -> std::process::Command {
        let mut cmd = if self.umask0 {
            let mut sh = std::process::Command::new("sh");
            sh.args(["-c", "umask 000 && exec \"$0\" \"$@\"", BIN]);
            sh
        } else {
            std::process::Command::new(BIN)
        };
        with_test_env(&mut cmd);
        cmd.current_dir(self.subdir.as_deref().unwrap_or(self.world.dir()))
            .args(&self.args);
        if let Some(cloud) = &self.world.cloud {
            let mut endpoint = format!("{}/_identity/msi", cloud.api.base);
            if let Some(p) = &self.principal {
                endpoint.push_str(&format!("?principal_id={p}"));
            }
            cmd.env("IDENTITY_ENDPOINT", endpoint)
                .env("IDENTITY_HEADER", &self.world.identity_header)
                .env("SYNLINK_ARM_ENDPOINT", &cloud.api.base);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if self.quiet {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd
    }

    fn describe(&self) -> String {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        format!("synlink {}", args.join(" "))
    }

    /// Runs to the end and returns what it printed.
    pub async fn run(self) -> Run {
        let started = Instant::now();
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.kill_on_drop(true);
        let out = tokio::time::timeout(self.timeout, cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{} finishes within {:?}", self.describe(), self.timeout))
            .expect("the binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("synlink prints UTF-8 on stdout"),
            stderr: String::from_utf8(out.stderr).expect("synlink prints UTF-8 on stderr"),
            elapsed: started.elapsed(),
        }
    }

    /// `run` from a test that is not async.
    pub fn run_blocking(self) -> Run {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(self.run())
    }

    /// Starts it and returns at once; the process is killed when the handle is dropped.
    pub fn spawn(self) -> tokio::process::Child {
        let mut cmd = tokio::process::Command::from(self.command());
        cmd.kill_on_drop(true);
        cmd.spawn().expect("the binary starts")
    }
}

/// What one run of the binary printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.exit(0)
    }

    /// Asserts this exit code.
    #[track_caller]
    pub fn exit(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }

    /// Asserts stdout contains `text`.
    #[track_caller]
    pub fn stdout_contains(&self, text: &str) -> &Run {
        assert!(self.stdout.contains(text), "{}", self.stdout);
        self
    }

    /// Asserts stderr contains `text`.
    #[track_caller]
    pub fn stderr_contains(&self, text: &str) -> &Run {
        assert!(self.stderr.contains(text), "{}", self.stderr);
        self
    }

    /// Asserts an apply or destroy succeeded with this summary line (see `summary`).
    #[track_caller]
    pub fn completes(&self, summary: &str) -> &Run {
        assert_eq!(self.code, 0, "{self:#?}");
        assert_eq!(self.summary(), summary, "{}", self.stderr);
        self
    }

    /// Asserts a plan (with `--detailed-exitcode`) has nothing to do.
    #[track_caller]
    pub fn no_changes(&self, step: &str) -> &Run {
        assert_eq!(self.code, 0, "{step}: {self:#?}");
        assert_eq!(self.last_line(), "No changes.", "{step}: {}", self.stdout);
        self
    }

    /// The `+`/`~`/`-`/`-/+` lines of the planned actions, whitespace folded (drift,
    /// shown above the actions, is not an action).
    pub fn marked(&self) -> Vec<String> {
        let actions = self
            .stdout
            .split_once("synlink will perform the following actions:")
            .map_or(self.stdout.as_str(), |(_, rest)| rest);
        actions
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| ["+ ", "~ ", "- ", "-/+ "].iter().any(|m| l.starts_with(m)))
            .collect()
    }

    /// The addresses a plan adopts into the state (`<= adopt`), sorted.
    pub fn adopted(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .stdout
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("# ")?
                    .strip_suffix(" will be adopted into the state")
                    .map(str::to_owned)
            })
            .collect();
        out.sort();
        out
    }

    /// The addresses with a plan block that starts with `symbol`, sorted.
    pub fn blocks(&self, symbol: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .marked()
            .iter()
            .filter_map(|l| {
                l.strip_prefix(symbol)?
                    .strip_prefix(' ')?
                    .strip_suffix(" {")
                    .map(str::to_owned)
            })
            .collect();
        out.sort();
        out
    }

    /// The summary line of an apply or destroy (`Apply complete: …`), without the time.
    pub fn summary(&self) -> String {
        let line = self
            .stderr
            .lines()
            .rev()
            .find(|l| {
                [
                    "Apply complete:",
                    "Destroy complete:",
                    "Apply failed:",
                    "Interrupted:",
                ]
                .iter()
                .any(|p| l.starts_with(p))
            })
            .unwrap_or_default();
        line.rsplit_once(" in ")
            .map_or(line, |(head, _)| head)
            .to_owned()
    }

    /// The last line of the plan, before any `Outputs:` block.
    pub fn last_line_before_outputs(&self) -> &str {
        let plan = self.stdout.split("\nOutputs:").next().unwrap_or_default();
        plan.trim_end().lines().last().unwrap_or_default()
    }

    /// The last line of stdout.
    pub fn last_line(&self) -> &str {
        self.stdout.trim_end().lines().last().unwrap_or_default()
    }
}

/// The summary line of an apply or destroy with no failure, as `Run::summary` gives it.
pub fn summary(verb: &str, created: usize, updated: usize, deleted: usize) -> String {
    format!(
        "{verb}: {created} created, {updated} updated, 0 replaced, {deleted} deleted, 0 failed, 0 skipped"
    )
}

/// quickstart.yaml without its `cloud: local` line (every run names the endpoint).
pub fn quickstart() -> String {
    let text = World::example_text("quickstart.yaml");
    let without: Vec<&str> = text.lines().filter(|l| !l.starts_with("cloud:")).collect();
    let out = without.join("\n") + "\n";
    assert!(out.contains("node_size: Small") && !out.contains("cloud: local"));
    out
}

/// bulk.yaml's team names: `team01`, `team02`, ….
pub fn teams(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("team{i:02}")).collect()
}

/// `--var teams=[…]` for these teams.
pub fn teams_var(teams: &[String]) -> String {
    format!("teams=[{}]", teams.join(", "))
}

/// A string field of a JSON object (a request-log entry), or "".
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// A request-log entry that writes: PUT, PATCH or DELETE.
pub fn is_write(r: &Value) -> bool {
    matches!(r["method"].as_str(), Some("PUT" | "PATCH" | "DELETE"))
}

/// Two request-log entries were served at the same time.
pub fn overlap(a: &Value, b: &Value) -> bool {
    let (s1, e1) = (
        a["startMs"].as_u64().unwrap_or(0),
        a["endMs"].as_u64().unwrap_or(0),
    );
    let (s2, e2) = (
        b["startMs"].as_u64().unwrap_or(0),
        b["endMs"].as_u64().unwrap_or(0),
    );
    s1 < e2 && s2 < e1
}

/// The AML workspace a request path writes under, folded.
pub fn aml_workspace_of(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    let marker = "/providers/microsoft.machinelearningservices/workspaces/";
    let rest = &lower[lower.find(marker)? + marker.len()..];
    rest.split(['/', '?']).next().map(str::to_owned)
}

/// The emulator run as the real `synlink emulator` binary.
struct BinaryEmulator {
    child: Child,
    url: String,
}

impl BinaryEmulator {
    /// Starts `synlink emulator --listen 127.0.0.1:0 ARGS…` and reads its ready line.
    fn start(args: &[&str]) -> BinaryEmulator {
        let mut child = synlink_command()
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
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
    fn terminate(mut self) -> ExitStatus {
        let _ = std::process::Command::new("kill")
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
}

impl Drop for BinaryEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
