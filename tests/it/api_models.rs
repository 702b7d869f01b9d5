//! The API-model check over every example's full lifecycle: the real `synlink` binary
//! applies each file of `examples/` against the real `synlink emulator`, plans again (no
//! changes), applies an update and destroys; then the emulator's request log of those runs
//! goes through `tests/conformance/api_models.py`, which checks every request synlink sent
//! and every answer the emulator gave against Azure's published models for that operation
//! and api-version. Any violation fails the test, each one listed. The checker's own unit
//! tests (`tests/conformance/test_api_models.py`) run first.
//!
//! Python comes from `World::conformance_python` (a venv made by
//! `.ci/conformance-venv.sh`). The data sources an example reads (`existing: true`) are
//! made first over the emulator's REST API, as another tool would (`World::vision`,
//! `research`, `bulk`); the log is cleared after them, so their requests are not checked.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Output;

use crate::world::{quickstart, teams, teams_var, World};

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
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
    let Some(python) = World::conformance_python("the API-model check") else {
        return;
    };
    let out = std::process::Command::new(python)
        .current_dir(conformance_dir())
        .args(["-m", "unittest", "-v", "test_api_models"])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "checker unit tests\n{}", text(&out));
}

/// A world with the real emulator binary (20 ms LROs, polls paced at 1/100 of Azure's,
/// no throttling).
async fn world() -> World {
    World::builder()
        .emulator_binary(&[
            "--lro-ms",
            "2000",
            "--time-scale",
            "0.01",
            "--throttle",
            "off",
        ])
        .start()
        .await
}

/// apply, a plan that shows no changes, an update (`updated`), destroy (`last`).
async fn lifecycle(w: &World, original: &str, updated: &str, last: &str, vars: &[&str]) {
    let spec = w.write("synlink.yaml", original);
    let mut plan = vec!["--detailed-exitcode"];
    plan.extend_from_slice(vars);
    w.apply(&spec, vars).await.success();
    w.plan(&spec, &plan).await.exit(0);
    w.write("synlink.yaml", updated);
    w.plan(&spec, &plan).await.exit(2);
    w.apply(&spec, vars).await.success();
    w.plan(&spec, &plan).await.exit(0);
    w.write("synlink.yaml", last);
    w.destroy(&spec, vars).await.success();
}

/// Runs the checker over the log since the last clear; fails listing every violation.
async fn check(mut w: World, example: &str, python: OsString) {
    let log = serde_json::json!({ "value": w.log().await });
    let path = w.write(
        "requests.json",
        serde_json::to_vec(&log).expect("the log is JSON"),
    );
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
    // The checker's summary (counts of requests and answers checked), for `--nocapture`.
    if let Some(summary) = stdout.lines().find(|l| l.starts_with("api-models:")) {
        let _ = writeln!(std::io::stderr(), "{example}: {summary}");
    }
    assert!(
        stdout.contains("api-models: 0 violation(s)") && out.status.success(),
        "{example}: requests or answers that Azure's published models do not allow\n{}",
        text(&out)
    );
    assert!(w.stop_emulator().success());
}

fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the example still contains {from:?}");
    text.replace(from, to)
}

#[tokio::test]
async fn quickstart_traffic_matches_azures_models() {
    let Some(python) = World::conformance_python("the API-model check") else {
        return;
    };
    let w = world().await;
    w.clear_log().await;
    let text = quickstart();
    let updated = replaced(&text, "{ min: 3, max: 10 }", "{ min: 3, max: 12 }");
    lifecycle(&w, &text, &updated, &updated, &[]).await;
    check(w, "quickstart.yaml", python).await;
}

#[tokio::test]
async fn existing_workspaces_traffic_matches_azures_models() {
    let Some(python) = World::conformance_python("the API-model check") else {
        return;
    };
    let w = world().await;
    w.research().await;
    w.clear_log().await;
    let text = World::example_text("existing-workspaces.yaml");
    let updated = replaced(
        &text,
        "description: Large pool for batch feature engineering",
        "description: Large pool for batch scoring",
    );
    let last = replaced(&updated, "prevent_destroy: true", "prevent_destroy: false");
    lifecycle(&w, &text, &updated, &last, &[]).await;
    check(w, "existing-workspaces.yaml", python).await;
}

#[tokio::test]
async fn attach_with_identity_traffic_matches_azures_models() {
    let Some(python) = World::conformance_python("the API-model check") else {
        return;
    };
    let w = world().await;
    w.vision().await;
    w.clear_log().await;
    let text = World::example_text("attach-with-identity.yaml");
    let updated = replaced(
        &text,
        "    name: medium-spark\n",
        "    name: medium-spark\n    description: Medium pool for the vision team\n",
    );
    lifecycle(&w, &text, &updated, &updated, &[]).await;
    check(w, "attach-with-identity.yaml", python).await;
}

#[tokio::test]
async fn bulk_traffic_matches_azures_models() {
    let Some(python) = World::conformance_python("the API-model check") else {
        return;
    };
    let w = world().await;
    let teams = teams(3);
    w.bulk(&teams, &["sharedpool"]).await;
    w.clear_log().await;
    let text = World::example_text("bulk.yaml");
    let updated = replaced(
        &text,
        "    name: shared-spark\n",
        "    name: shared-spark\n    description: Shared pool\n",
    );
    let var = teams_var(&teams);
    lifecycle(&w, &text, &updated, &updated, &["--var", &var]).await;
    check(w, "bulk.yaml", python).await;
}
