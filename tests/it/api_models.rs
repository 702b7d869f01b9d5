//! The API-model check over every example's full lifecycle: the real `synlink` binary
//! applies each file of `examples/` against the real `synlink emulator`, plans again (no
//! changes), applies an update and destroys; then the emulator's request log of those runs
//! goes through `tests/conformance/api_models.py`, which checks every request synlink sent
//! and every answer the emulator gave against Azure's published models for that operation
//! and api-version. Any violation fails the test, each one listed. The checker's own unit
//! tests (`tests/conformance/test_api_models.py`) run first.
//!
//! Python comes from `$SYNLINK_CONFORMANCE_PYTHON` (a venv made by
//! `.ci/conformance-venv.sh`); without it the tests fail under CI (`CI` set) and are
//! skipped with a notice elsewhere, as the SDK conformance test does. The data sources an
//! example reads (`existing: true`) are made first over the emulator's REST API, as
//! another tool would; their requests are left out of the check.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::emulator::support::{Api, BinaryEmulator, SynlinkTestEnv, IDENTITY_HEADER};

const BIN: &str = env!("CARGO_BIN_EXE_synlink");

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// The venv's python, or `None` (with a notice) when the check cannot run here.
fn python() -> Option<std::ffi::OsString> {
    let Some(python) = std::env::var_os("SYNLINK_CONFORMANCE_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "SYNLINK_CONFORMANCE_PYTHON is not set: CI must run the API-model check (bash .ci/conformance-venv.sh DIR and export SYNLINK_CONFORMANCE_PYTHON=DIR/bin/python)"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: set SYNLINK_CONFORMANCE_PYTHON to run the API-model check"
        );
        return None;
    };
    Some(python)
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_checker_finds_each_kind_of_violation_in_synthetic_entries() {
    let Some(python) = python() else { return };
    let out = std::process::Command::new(python)
        .current_dir(conformance_dir())
        .args(["-m", "unittest", "-v", "test_api_models"])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "checker unit tests\n{}", text(&out));
}

/// One emulator (the real binary), one temporary directory, the bootstrap client.
struct Lifecycle {
    emu: BinaryEmulator,
    api: Api,
    dir: tempfile::TempDir,
    since: u64,
}

impl Lifecycle {
    async fn start() -> Lifecycle {
        let emu = BinaryEmulator::start(&["--lro-ms", "20", "--throttle", "off"]);
        let api = emu.api().await;
        Lifecycle {
            emu,
            api,
            dir: tempfile::tempdir().expect("temp dir"),
            since: 0,
        }
    }

    async fn log(&self) -> Vec<Value> {
        let url = format!("{}/_emulator/requests?since={}", self.emu.url, self.since);
        let v: Value = reqwest::get(url)
            .await
            .expect("request log")
            .json()
            .await
            .expect("json");
        v["value"].as_array().cloned().unwrap_or_default()
    }

    /// Starts the checked part of the log here: what came before (the data sources made
    /// over REST) is not synlink's traffic.
    async fn mark(&mut self) {
        let last = self
            .log()
            .await
            .iter()
            .filter_map(|e| e["seq"].as_u64())
            .max();
        self.since = last.unwrap_or(self.since);
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write spec");
        p
    }

    /// `synlink CMD -f SPEC --state … --arm-endpoint URL EXTRA…`, which must exit `want`.
    async fn synlink(&self, cmd: &str, spec: &Path, extra: &[&str], want: i32) {
        let state = self.dir.path().join("state.json");
        let mut command = tokio::process::Command::new(BIN);
        command
            .current_dir(self.dir.path())
            .arg(cmd)
            .arg("-f")
            .arg(spec)
            .arg("--state")
            .arg(&state)
            .args(["--arm-endpoint", &self.emu.url])
            .args(extra)
            .test_env(&format!("{}/_identity/msi", self.emu.url), IDENTITY_HEADER)
            .env("CI", "1")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .unwrap_or_else(|_| panic!("synlink {cmd} finishes within 120 s"))
            .expect("the binary runs");
        assert_eq!(
            out.status.code(),
            Some(want),
            "synlink {cmd} {extra:?}\n{}",
            text(&out)
        );
    }

    /// apply, a plan that shows no changes, an update (`updated`), destroy (`last`).
    async fn run(&self, name: &str, original: &str, updated: &str, last: &str, vars: &[&str]) {
        let spec = self.write(name, original);
        let mut apply = vec!["--auto-approve"];
        apply.extend_from_slice(vars);
        let mut plan = vec!["--detailed-exitcode"];
        plan.extend_from_slice(vars);
        self.synlink("apply", &spec, &apply, 0).await;
        self.synlink("plan", &spec, &plan, 0).await;
        let spec = self.write(name, updated);
        self.synlink("plan", &spec, &plan, 2).await;
        self.synlink("apply", &spec, &apply, 0).await;
        self.synlink("plan", &spec, &plan, 0).await;
        let spec = self.write(name, last);
        self.synlink("destroy", &spec, &apply, 0).await;
    }

    /// Runs the checker over the log since `mark`; fails listing every violation.
    async fn check(self, example: &str, python: std::ffi::OsString) {
        let log = serde_json::json!({ "value": self.log().await });
        let path = self.dir.path().join("requests.json");
        std::fs::write(&path, serde_json::to_vec(&log).expect("json")).expect("write log");
        let script = conformance_dir().join("api_models.py");
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .arg(&path)
                .output()
                .expect("python runs")
        })
        .await
        .expect("join");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("api-models: 0 violation(s)") && out.status.success(),
            "{example}: requests or answers that Azure's published models do not allow\n{}",
            text(&out)
        );
        assert!(self.emu.terminate().success());
    }
}

fn example(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
    .expect("example exists")
}

fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example still contains {from:?}");
    text.replace(from, to)
}

#[tokio::test]
async fn quickstart_traffic_matches_azures_models() {
    let Some(python) = python() else { return };
    let mut l = Lifecycle::start().await;
    l.mark().await;
    let text = example("quickstart.yaml");
    let updated = replaced(&text, "{ min: 3, max: 10 }", "{ min: 3, max: 12 }");
    l.run("quickstart.yaml", &text, &updated, &updated, &[])
        .await;
    l.check("quickstart.yaml", python).await;
}

#[tokio::test]
async fn existing_workspaces_traffic_matches_azures_models() {
    let Some(python) = python() else { return };
    let mut l = Lifecycle::start().await;
    l.api.resource_group("rg-analytics").await;
    l.api.ml_workspace("rg-analytics", "mlw-research").await;
    l.api.resource_group("rg-synapse").await;
    l.api
        .synapse_workspace("rg-synapse", "syn-shared-prod")
        .await;
    for pool in ["smallpool", "largepool"] {
        l.api.pool("rg-synapse", "syn-shared-prod", pool).await;
    }
    l.mark().await;
    let text = example("existing-workspaces.yaml");
    let updated = replaced(
        &text,
        "description: Large pool for batch feature engineering",
        "description: Large pool for batch scoring",
    );
    let last = replaced(&updated, "prevent_destroy: true", "prevent_destroy: false");
    l.run("synlink.yaml", &text, &updated, &last, &[]).await;
    l.check("existing-workspaces.yaml", python).await;
}

#[tokio::test]
async fn attach_with_identity_traffic_matches_azures_models() {
    let Some(python) = python() else { return };
    let mut l = Lifecycle::start().await;
    l.api.resource_group("rg-analytics").await;
    l.api.ml_workspace("rg-analytics", "mlw-vision").await;
    l.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    l.api
        .pool("rg-analytics", "syn-shared-prod", "mediumpool")
        .await;
    l.mark().await;
    let text = example("attach-with-identity.yaml");
    let updated = replaced(
        &text,
        "    name: medium-spark\n",
        "    name: medium-spark\n    description: Medium pool for the vision team\n",
    );
    l.run("synlink.yaml", &text, &updated, &updated, &[]).await;
    l.check("attach-with-identity.yaml", python).await;
}

#[tokio::test]
async fn bulk_traffic_matches_azures_models() {
    let Some(python) = python() else { return };
    let mut l = Lifecycle::start().await;
    let teams = ["team01", "team02", "team03"];
    l.api.resource_group("rg-analytics").await;
    l.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    l.api
        .pool("rg-analytics", "syn-shared-prod", "sharedpool")
        .await;
    for t in teams {
        l.api
            .ml_workspace("rg-analytics", &format!("mlw-{t}"))
            .await;
    }
    l.mark().await;
    let text = example("bulk.yaml");
    let updated = replaced(
        &text,
        "    name: shared-spark\n",
        "    name: shared-spark\n    description: Shared pool\n",
    );
    let var = format!("teams=[{}]", teams.join(", "));
    l.run("synlink.yaml", &text, &updated, &updated, &["--var", &var])
        .await;
    l.check("bulk.yaml", python).await;
}
