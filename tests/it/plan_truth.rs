//! The plan is the truth: apply does what the reviewed plan says and nothing
//! else. Each test is a way synlink used to act on, or report, something
//! other than what its plan showed: an import of another address's id, a plan
//! file edited after review (its id, after, request, mode or dependencies, with
//! or without a recomputed digest), a compute that ended `Failed` or is still
//! `Creating`, a lock path that is a dangling symlink, a password variable that
//! is unset, and colour where `--no-color` was asked for. Every refusal leaves
//! the state file and Azure untouched.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use synlink::plan::Plan;

use crate::emulator::support::{compute_path, link_path, ml_id, pool_path, SUB};
use crate::world::{files_under, is_write, str_of, summary, World};

/// Two teams, each with a link and an attachment of one shared pool, on data
/// sources made by hand.
fn two_teams(teams: &[&str]) -> String {
    let list = teams.join(", ");
    format!(
        "version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
ml_workspaces:
  \"team-{{each}}\":
    for_each: [{list}]
    name: \"mlw-{{each}}\"
    existing: true
synapse_workspaces:
  shared:
    name: syn-shared-prod
    existing: true
spark_pools:
  medium:
    synapse_workspace: shared
    name: mediumpool
    existing: true
links:
  \"team-{{each}}\":
    for_each: [{list}]
    ml_workspace: \"team-{{each}}\"
    synapse_workspace: shared
    name: synapselink1
attachments:
  \"team-{{each}}\":
    for_each: [{list}]
    ml_workspace: \"team-{{each}}\"
    spark_pool: medium
    name: medium-spark
"
    )
}

/// The data sources of `two_teams`; the pool only when `with_pool`.
async fn data_sources(w: &World, teams: &[&str], with_pool: bool) {
    w.shared_workspace(teams).await;
    if with_pool {
        w.api()
            .pool("rg-analytics", "syn-shared-prod", "mediumpool")
            .await;
    }
}

/// The state file's bytes (empty when there is none).
fn state_bytes(w: &World) -> Vec<u8> {
    std::fs::read(w.state_path()).unwrap_or_default()
}

/// Reads a plan file, edits it, and writes it back (resealed when `reseal`).
fn edit_plan(path: &Path, reseal: bool, edit: impl FnOnce(&mut Value)) {
    let mut value: Value =
        serde_json::from_slice(&std::fs::read(path).expect("plan file")).expect("plan JSON");
    edit(&mut value);
    if reseal {
        let mut plan: Plan = serde_json::from_value(value.clone()).expect("still a plan");
        plan.seal();
        value = serde_json::to_value(&plan).expect("serialises");
    }
    std::fs::write(path, serde_json::to_vec_pretty(&value).expect("JSON")).expect("write plan");
}

/// The change of `address` in a plan file's JSON.
fn change_of<'a>(plan: &'a mut Value, address: &str) -> &'a mut Value {
    plan["changes"]
        .as_array_mut()
        .expect("changes")
        .iter_mut()
        .find(|c| c["address"] == address)
        .unwrap_or_else(|| panic!("{address} in the plan"))
}

/// Applies a saved plan without `-f` (the plan names its spec).
async fn apply_saved(w: &World, plan: &Path) -> crate::world::Run {
    let state = w.state_path().display().to_string();
    w.run([
        "apply",
        &plan.display().to_string(),
        "--state",
        &state,
        "--auto-approve",
    ])
    .await
}

// ---------------------------------------------------------------------------
// Ids belong to addresses.

#[tokio::test]
async fn import_of_another_addresss_id_is_refused_and_the_state_is_untouched() {
    let w = World::new().await;
    data_sources(&w, &["a", "b"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a", "b"]));
    w.apply(&spec, &[]).await.success();
    w.local(&["state", "rm", "links.team-a"]).await.success();
    let before = state_bytes(&w);
    w.clear_log().await;

    let b_link = link_path("rg-analytics", "mlw-b", "synapselink1");
    let b_link = b_link.split('?').next().expect("path");
    let run = w
        .run(w.cloud_args(&["import", "links.team-a", b_link], &spec, &[]))
        .await;
    run.exit(1);
    let a_link = format!(
        "{}/linkedServices/synapselink1",
        ml_id("rg-analytics", "mlw-a")
    );
    run.stderr_contains(b_link).stderr_contains(&a_link);
    assert_eq!(state_bytes(&w), before, "the state is untouched");
    assert!(w.writes().await.is_empty(), "nothing written to Azure");

    // Its own id is accepted.
    let run = w
        .run(w.cloud_args(&["import", "links.team-a", &a_link], &spec, &[]))
        .await;
    run.success();
    assert_eq!(w.state().resources["links.team-a"].id.as_str(), a_link);
}

#[tokio::test]
async fn a_state_where_two_addresses_share_one_id_is_refused_naming_both() {
    let w = World::new().await;
    data_sources(&w, &["a", "b"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a", "b"]));
    w.apply(&spec, &[]).await.success();
    let mut state: Value = serde_json::from_slice(&state_bytes(&w)).expect("the state is JSON");
    let b_id = state["resources"]["links.team-b"]["id"].clone();
    state["resources"]["links.team-a"]["id"] = b_id.clone();
    std::fs::write(
        w.state_path(),
        serde_json::to_vec_pretty(&state).expect("JSON"),
    )
    .expect("write state");
    let before = state_bytes(&w);
    w.clear_log().await;

    let run = w.plan(&spec, &[]).await;
    run.exit(1)
        .stderr_contains("`links.team-a`")
        .stderr_contains("`links.team-b`")
        .stderr_contains("both record")
        .stderr_contains(b_id.as_str().expect("id"));
    let run = w.apply(&spec, &[]).await;
    run.exit(1).stderr_contains("both record");
    assert_eq!(state_bytes(&w), before);
    assert!(w.log().await.is_empty(), "refused before reading Azure");
}

// ---------------------------------------------------------------------------
// Saved plans are bound to what was reviewed.

#[tokio::test]
async fn an_untouched_saved_plan_applies_without_naming_its_spec() {
    let w = World::new().await;
    data_sources(&w, &["a"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    let out = w.path("reviewed.plan");
    let run = w.plan(&spec, &["--out", &out.display().to_string()]).await;
    run.success().stdout_contains("Plan digest: sha256:");
    let saved = synlink::plan::file::read(&out).expect("a plan");
    run.stdout_contains(&saved.digest);
    apply_saved(&w, &out)
        .await
        .completes(&summary("Apply complete", 2, 0, 0));
    w.plan(&spec, &["--detailed-exitcode"])
        .await
        .no_changes("after the saved plan");
}

/// Makes a plan that creates team b's link and attachment and deletes team
/// a's: the cases below edit it before it is applied.
async fn reviewed_plan(w: &World) -> std::path::PathBuf {
    data_sources(w, &["a", "b"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    w.apply(&spec, &[]).await.success();
    w.write("synlink.yaml", two_teams(&["b"]));
    let out = w.path("reviewed.plan");
    w.plan(&spec, &["--out", &out.display().to_string()])
        .await
        .success();
    out
}

/// Applies the edited plan and checks it is refused with `says`, leaving the
/// state and Azure as they were.
async fn assert_refused(w: &World, plan: &Path, says: &[&str]) {
    let before = state_bytes(w);
    let held = w.inventory().await;
    w.clear_log().await;
    let run = apply_saved(w, plan).await;
    run.exit(1)
        .stderr_contains("the saved plan cannot be applied");
    for s in says {
        run.stderr_contains(s);
    }
    assert_eq!(state_bytes(w), before, "the state is untouched");
    assert!(
        w.log().await.iter().all(|r| !is_write(r)),
        "nothing written to Azure: {:#?}",
        w.writes().await
    );
    assert_eq!(w.inventory().await, held, "Azure holds what it held");
}

#[tokio::test]
async fn a_plan_file_whose_delete_id_was_edited_and_resealed_is_refused() {
    let w = World::new().await;
    let out = reviewed_plan(&w).await;
    // Point team a's detach at an unrelated compute of team a's workspace.
    let other = compute_path("rg-analytics", "mlw-a", "unrelated");
    let other = other.split('?').next().expect("path").to_owned();
    edit_plan(&out, true, |p| {
        change_of(p, "attachments.team-a")["id"] = json!(other);
    });
    assert_refused(&w, &out, &["attachments.team-a: `id` differs", &other]).await;
}

#[tokio::test]
async fn a_plan_file_whose_after_or_request_was_edited_and_resealed_is_refused() {
    let w = World::new().await;
    let out = reviewed_plan(&w).await;
    let original = std::fs::read(&out).expect("plan");
    edit_plan(&out, true, |p| {
        change_of(p, "attachments.team-b")["after"]["location"] = json!("eastus");
    });
    assert_refused(&w, &out, &["attachments.team-b: `after` differs"]).await;

    std::fs::write(&out, &original).expect("restore");
    edit_plan(&out, true, |p| {
        change_of(p, "attachments.team-b")["request"]["body"]["properties"]["resourceId"] =
            json!(pool_path("rg-analytics", "syn-shared-prod", "otherpool"));
    });
    assert_refused(&w, &out, &["attachments.team-b: `request` differs"]).await;
}

#[tokio::test]
async fn a_plan_file_whose_mode_or_dependencies_were_edited_and_resealed_is_refused() {
    let w = World::new().await;
    let out = reviewed_plan(&w).await;
    let original = std::fs::read(&out).expect("plan");
    edit_plan(&out, true, |p| {
        change_of(p, "attachments.team-b")["depends_on"] = json!([]);
    });
    assert_refused(&w, &out, &["attachments.team-b: `depends_on` differs"]).await;

    std::fs::write(&out, &original).expect("restore");
    edit_plan(&out, true, |p| {
        p["mode"] = json!("destroy");
    });
    // A destroy plan made now differs from the edited one at its first change.
    assert_refused(
        &w,
        &out,
        &["links.team-b: the saved plan has a change (\"create\") that a fresh plan does not"],
    )
    .await;
}

#[tokio::test]
async fn a_plan_file_edited_without_its_digest_is_refused_before_anything_is_read() {
    let w = World::new().await;
    let out = reviewed_plan(&w).await;
    edit_plan(&out, false, |p| {
        change_of(p, "attachments.team-a")["id"] = json!("/subscriptions/x/y/z");
    });
    assert_refused(&w, &out, &["does not match its digest"]).await;
    w.clear_log().await;
    apply_saved(&w, &out).await.exit(1);
    assert!(w.log().await.is_empty(), "refused before reading Azure");
}

// ---------------------------------------------------------------------------
// Only finished resources converge.

#[tokio::test]
async fn a_compute_left_failed_is_planned_for_repair_and_repaired() {
    let w = World::new().await;
    data_sources(&w, &["a"], false).await;
    // Attached before its pool existed: the attach ended Failed.
    let pool = pool_path("rg-analytics", "syn-shared-prod", "mediumpool");
    let pool_id = pool.split('?').next().expect("path").to_owned();
    let compute = compute_path("rg-analytics", "mlw-a", "medium-spark");
    let a = w
        .api()
        .put(
            &compute,
            json!({"location": "westeurope",
                   "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}}),
        )
        .await;
    assert!(a.status == 200 || a.status == 201, "{a:?}");
    if let Some(op) = a.header("azure-asyncoperation") {
        assert_eq!(w.api().wait_async(&op).await["status"], "Failed");
    }
    let before = w.api().get(&compute).await;
    assert_eq!(before.body["properties"]["provisioningState"], "Failed");
    let ready = w
        .api()
        .pool("rg-analytics", "syn-shared-prod", "mediumpool")
        .await;
    assert_eq!(ready["properties"]["provisioningState"], "Succeeded");

    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.exit(2)
        .stdout_contains("-/+ attachments.team-a")
        .stdout_contains(
            "its provisioning state is Failed: it will be detached and attached again",
        );
    let run = w.apply(&spec, &[]).await;
    run.success();
    assert_eq!(
        run.summary(),
        "Apply complete: 1 created, 0 updated, 1 replaced, 0 deleted, 0 failed, 0 skipped"
    );
    let after = w.api().get(&compute).await;
    assert_eq!(after.body["properties"]["provisioningState"], "Succeeded");
    w.plan(&spec, &["--detailed-exitcode"])
        .await
        .no_changes("after the repair");
}

#[tokio::test]
async fn a_compute_still_creating_after_a_killed_apply_is_waited_for() {
    let w = World::new().await;
    data_sources(&w, &["a"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    // Attaches take 10 s (time-scaled) from now on: long enough to outlast the
    // kill on a loaded machine.
    w.faults(json!({"lroMs": 1_000_000})).await;
    w.clear_log().await;
    let mut child = w
        .synlink(w.cloud_args(&["apply"], &spec, &["--auto-approve"]))
        .quiet()
        .spawn();
    let compute_url = compute_path("rg-analytics", "mlw-a", "medium-spark");
    let compute = compute_url.split('?').next().expect("path").to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let log = w.log().await;
        if log
            .iter()
            .any(|r| r["method"] == "PUT" && str_of(r, "path").starts_with(&compute))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the attach started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    let creating = w.api().get(&compute_url).await;
    assert_eq!(creating.body["properties"]["provisioningState"], "Creating");

    // The kill may have come before or after team a's link was made: only the
    // attachment matters here.
    let run = w.plan(&spec, &[]).await;
    run.success()
        .stderr_contains("waiting for")
        .stderr_contains("Creating");
    let touched = |symbol: &str| {
        run.blocks(symbol)
            .contains(&"attachments.team-a".to_owned())
    };
    assert!(!touched("+") && !touched("-/+"), "{}", run.stdout);
    assert!(
        run.adopted().contains(&"attachments.team-a".to_owned()),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------
// Small truths.

#[tokio::test]
async fn a_dangling_symlink_at_the_lock_is_an_error_not_a_wait() {
    let w = World::new().await;
    data_sources(&w, &["a"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    let lock = w.path("state.json.lock");
    std::os::unix::fs::symlink(w.path("nowhere/at/all"), &lock).expect("symlink");
    for args in [
        w.cloud_args(&["plan"], &spec, &["--lock-timeout", "2"]),
        w.cloud_args(
            &["apply"],
            &spec,
            &["--lock-timeout", "2", "--auto-approve"],
        ),
    ] {
        let run = w.synlink(args).timeout(Duration::from_secs(60)).run().await;
        run.exit(1).stderr_contains("is a symbolic link");
    }
    // `state list` of a state that exists, behind the same lock path.
    std::fs::write(
        w.state_path(),
        r#"{"version": 1, "lineage": "l", "serial": 1, "synlink_version": "0", "resources": {}}"#,
    )
    .expect("a state");
    let run = w
        .synlink([
            "state",
            "list",
            "--lock-timeout",
            "2",
            "--state",
            &w.state_path().display().to_string(),
        ])
        .timeout(Duration::from_secs(60))
        .run()
        .await;
    run.exit(1).stderr_contains("is a symbolic link");
    assert!(std::fs::symlink_metadata(&lock).is_ok(), "left as found");
}

#[tokio::test]
async fn an_unset_or_empty_password_variable_fails_before_any_write() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    let spec = w.write(
        "synlink.yaml",
        format!(
            "version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
synapse_workspaces:
  analytics:
    name: syn-analytics-pw
    data_lake:
      account_url: https://stsynpw.dfs.core.windows.net
      filesystem: synapse
    sql_admin_login: sqladmin
    sql_admin_password_env: SYN_TEST_SQL_PASSWORD
"
        ),
    );
    for value in [None, Some("")] {
        w.clear_log().await;
        let mut plan = w.synlink(w.cloud_args(&["plan"], &spec, &[]));
        let mut apply = w.synlink(w.cloud_args(&["apply"], &spec, &["--auto-approve"]));
        if let Some(v) = value {
            plan = plan.env("SYN_TEST_SQL_PASSWORD", v);
            apply = apply.env("SYN_TEST_SQL_PASSWORD", v);
        }
        plan.run()
            .await
            .exit(1)
            .stderr_contains("`SYN_TEST_SQL_PASSWORD` is not set");
        apply
            .run()
            .await
            .exit(1)
            .stderr_contains("`SYN_TEST_SQL_PASSWORD` is not set");
        assert!(
            w.writes().await.is_empty(),
            "nothing written: {:?}",
            w.writes().await
        );
    }
    // Set, the workspace is created and the password is nowhere in the plan or state.
    let out = w.path("pw.plan");
    w.synlink(w.cloud_args(&["plan"], &spec, &["--out", &out.display().to_string()]))
        .env("SYN_TEST_SQL_PASSWORD", "Sup3r-secret-pw!")
        .run()
        .await
        .success();
    let run = w
        .synlink(w.cloud_args(&["apply"], &spec, &["--auto-approve"]))
        .env("SYN_TEST_SQL_PASSWORD", "Sup3r-secret-pw!")
        .run()
        .await;
    run.completes(&summary("Apply complete", 1, 0, 0));
    let plan_text = std::fs::read_to_string(&out).expect("plan");
    assert!(!plan_text.contains("Sup3r-secret-pw!") && plan_text.contains("SYN_TEST_SQL_PASSWORD"));
    assert!(!String::from_utf8_lossy(&state_bytes(&w)).contains("Sup3r-secret-pw!"));
    let sent = w
        .first_put("syn-analytics-pw")
        .await
        .expect("the workspace PUT");
    assert_eq!(
        sent["body"]["properties"]["sqlAdministratorLoginPassword"],
        "Sup3r-secret-pw!"
    );
}

#[tokio::test]
async fn no_color_and_no_color_env_win_on_a_terminal() {
    let w = World::new().await;
    data_sources(&w, &["a"], true).await;
    let spec = w.write("synlink.yaml", two_teams(&["a"]));
    let plan = w.cloud_args(&["plan"], &spec, &[]);
    let coloured = crate::world::under_a_terminal(&w, &plan, false).await;
    assert!(
        coloured.contains("\u{1b}["),
        "on a terminal the plan is coloured (else this test proves nothing): {coloured}"
    );
    let mut flagged = plan.clone();
    flagged.push("--no-color".into());
    let plain = crate::world::under_a_terminal(&w, &flagged, false).await;
    assert!(plain.contains("Plan: 2 to add"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "--no-color: {plain:?}");
    let plain = crate::world::under_a_terminal(&w, &plan, true).await;
    assert!(plain.contains("Plan: 2 to add"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
}

// ---------------------------------------------------------------------------
// The house: the executor knows only the plan.

#[test]
fn the_executor_imports_nothing_from_the_spec_and_takes_a_plan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let source = std::fs::read_to_string(root.join("apply.rs")).expect("src/apply.rs");
    // The executor is one file; a submodule under src/apply/ would be part
    // of it and is held to the same rule.
    let mut files = vec![("src/apply.rs".to_owned(), source.clone())];
    if let Ok(dir) = std::fs::read_dir(root.join("apply")) {
        for entry in dir.flatten() {
            let text = std::fs::read_to_string(entry.path()).expect("source");
            files.push((entry.path().display().to_string(), text));
        }
    }
    for (file, text) in &files {
        for forbidden in ["crate::spec", "crate::graph", "crate::plan::diff"] {
            assert!(!text.contains(forbidden), "{file} uses {forbidden}");
        }
    }
    let signature = source
        .split("pub async fn apply(")
        .nth(1)
        .and_then(|s| s.split(") ->").next())
        .expect("apply's signature");
    assert!(signature.contains("plan: &Plan"), "{signature}");
}

#[test]
fn no_code_outside_the_providers_matches_on_a_resource_kind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let kinds = [
        "ResourceKind::MlWorkspace",
        "ResourceKind::SynapseWorkspace",
        "ResourceKind::SparkPool",
        "ResourceKind::Link",
        "ResourceKind::RoleGrant",
        "ResourceKind::Attachment",
    ];
    let mut offenders = Vec::new();
    for path in files_under(&root) {
        let rel = path
            .strip_prefix(&root)
            .expect("under src")
            .display()
            .to_string();
        // The vocabulary, the spec model (its sections are kinds) and the providers.
        if rel == "addr.rs"
            || rel.starts_with("spec/")
            || rel.starts_with("provider/")
            || rel == "graph.rs"
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        if kinds.iter().any(|k| code.contains(k)) {
            offenders.push(rel);
        }
    }
    assert!(
        offenders.is_empty(),
        "kind-specific code outside provider/: {offenders:?}"
    );
}
