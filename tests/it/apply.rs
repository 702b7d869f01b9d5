//! `synlink apply`, `destroy`, `state`, `import` and `output` end to end: the real
//! binary against an in-process emulator over HTTP, authenticated through the
//! emulator's App Service managed-identity endpoint. Data sources are made over
//! raw HTTP first, as another tool would; after every step the state file is
//! compared with what the emulator holds, listed over raw HTTP.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::emulator::support::{compute_path, link_path, ml_id, pool_path, synapse_id};
use crate::world::{aml_workspace_of, is_write, overlap, summary, teams, teams_var, World};

/// Sorted, as `World::managed_in_state` and `Run::blocks` give addresses.
fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// 1. Every example: apply, no-op plan, update in place, detach, destroy.

#[tokio::test]
async fn quickstart_lifecycle() {
    let w = World::new().await;
    let baseline = w.inventory().await;
    assert!(baseline.is_empty(), "{baseline:?}");
    let text = World::example_text("quickstart.yaml");
    let spec = w.write("quickstart.yaml", &text);

    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 5, 0, 0));
    run.stdout_contains("Outputs:");
    w.assert_state_matches(&baseline, "apply").await;
    assert_eq!(
        w.managed_in_state(),
        sorted(&[
            "attachments.main-small",
            "ml_workspaces.main",
            "role_grants.main-spark",
            "spark_pools.small",
            "synapse_workspaces.analytics",
        ])
    );
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after apply");

    // Resize the managed pool: an update in place.
    let resized = text.replace("node_size: Small", "node_size: Medium");
    assert_ne!(resized, text);
    let spec = w.write("quickstart.yaml", &resized);
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.exit(2);
    assert_eq!(
        run.marked(),
        vec![
            "~ spark_pools.small {".to_owned(),
            "~ node_size = \"Small\" -> \"Medium\"".to_owned()
        ],
        "{}",
        run.stdout
    );
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 0, 1, 0));
    let pool = w
        .api()
        .get(&pool_path("rg-quickstart", "syn-quickstart", "small"))
        .await;
    assert_eq!(pool.status, 200, "{pool:?}");
    assert_eq!(pool.body["properties"]["nodeSize"], "Medium", "{pool:?}");
    w.assert_state_matches(&baseline, "resize").await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after resize");

    // Remove the attachment (and the grant to its identity): detached, the pool stays.
    let cut = resized
        .find("\nattachments:")
        .expect("an attachments section");
    let spec = w.write("quickstart.yaml", &resized[..=cut]);
    let run = w.plan(&spec, &[]).await;
    assert_eq!(
        run.blocks("-"),
        sorted(&["attachments.main-small", "role_grants.main-spark"]),
        "{}",
        run.stdout
    );
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 0, 0, 2));
    run.stderr_contains("attachments.main-small: detached");
    let compute = w
        .api()
        .get(&compute_path(
            "rg-quickstart",
            "mlw-quickstart",
            "small-spark",
        ))
        .await;
    assert_eq!(compute.status, 404, "detached: {compute:?}");
    let pool = w
        .api()
        .get(&pool_path("rg-quickstart", "syn-quickstart", "small"))
        .await;
    assert_eq!(pool.status, 200, "the pool still exists: {pool:?}");
    w.assert_state_matches(&baseline, "detach").await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after detach");

    // Destroy: nothing is left (everything here was synlink's).
    let run = w.destroy(&spec, &[]).await;
    run.completes(&summary("Destroy complete", 0, 0, 3));
    assert_eq!(w.inventory().await, baseline);
    assert_eq!(w.managed_in_state(), Vec::<String>::new());
    w.assert_state_matches(&baseline, "destroy").await;
}

#[tokio::test]
async fn attach_with_identity_lifecycle() {
    let w = World::new().await;
    w.vision().await;
    let baseline = w.inventory().await;
    let text = World::example_text("attach-with-identity.yaml");
    let spec = w.write("synlink.yaml", &text);

    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    w.assert_state_matches(&baseline, "apply").await;
    assert_eq!(
        w.managed_in_state(),
        sorted(&[
            "attachments.vision-medium",
            "role_grants.data-team-users",
            "role_grants.vision-medium-spark",
        ])
    );
    // The grant went to the compute's own identity.
    let compute = w
        .api()
        .get(&compute_path("rg-analytics", "mlw-vision", "medium-spark"))
        .await;
    let principal = compute.body["identity"]["principalId"]
        .as_str()
        .expect("the compute has an identity")
        .to_owned();
    let grant = w.state().resources["role_grants.vision-medium-spark"].clone();
    assert_eq!(
        grant.properties["principal_id"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some(principal.to_ascii_lowercase())
    );
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after apply");

    // Remove the attachment (and the grant to its identity): detached and revoked.
    let start = text.find("\nattachments:").expect("attachments");
    let end = text.find("\nrole_grants:").expect("role_grants");
    let mut cut = format!("{}{}", &text[..start], &text[end..]);
    let g0 = cut.find("  vision-medium-spark:").expect("grant");
    let g1 = cut.find("  data-team-users:").expect("grant");
    cut.replace_range(g0..g1, "");
    let spec = w.write("synlink.yaml", &cut);
    let run = w.plan(&spec, &[]).await;
    assert_eq!(
        run.blocks("-"),
        sorted(&[
            "attachments.vision-medium",
            "role_grants.vision-medium-spark"
        ]),
        "{}",
        run.stdout
    );
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 0, 0, 2));
    let compute = w
        .api()
        .get(&compute_path("rg-analytics", "mlw-vision", "medium-spark"))
        .await;
    assert_eq!(compute.status, 404, "{compute:?}");
    let pool = w
        .api()
        .get(&pool_path("rg-analytics", "syn-shared-prod", "mediumpool"))
        .await;
    assert_eq!(pool.status, 200, "{pool:?}");
    w.assert_state_matches(&baseline, "detach").await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after detach");

    let run = w.destroy(&spec, &[]).await;
    run.completes(&summary("Destroy complete", 0, 0, 1));
    assert_eq!(w.inventory().await, baseline);
    assert_eq!(w.managed_in_state(), Vec::<String>::new());
    w.assert_state_matches(&baseline, "destroy").await;
}

#[tokio::test]
async fn existing_workspaces_lifecycle() {
    let w = World::new().await;
    w.research().await;
    let baseline = w.inventory().await;
    let text = World::example_text("existing-workspaces.yaml");
    let spec = w.write("synlink.yaml", &text);

    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 4, 0, 0));
    w.assert_state_matches(&baseline, "apply").await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after apply");

    // Remove the large attachment.
    let start = text.find("  research-large:").expect("large");
    let cut = text[..start].to_owned();
    let spec = w.write("synlink.yaml", &cut);
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 0, 0, 1));
    let compute = w
        .api()
        .get(&compute_path("rg-analytics", "mlw-research", "large-spark"))
        .await;
    assert_eq!(compute.status, 404, "{compute:?}");
    let small = w
        .api()
        .get(&compute_path("rg-analytics", "mlw-research", "small-spark"))
        .await;
    assert_eq!(small.status, 200, "{small:?}");
    let pool = w
        .api()
        .get(&pool_path("rg-synapse", "syn-shared-prod", "largepool"))
        .await;
    assert_eq!(pool.status, 200, "{pool:?}");
    w.assert_state_matches(&baseline, "detach").await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    run.no_changes("after detach");

    // The link has prevent_destroy: destroy stops before any write.
    let before = w.state_text();
    w.clear_log().await;
    let run = w.destroy(&spec, &[]).await;
    run.exit(1)
        .stderr_contains("links.research")
        .stderr_contains("prevent_destroy");
    assert_eq!(w.writes().await, Vec::<String>::new());
    assert_eq!(w.state_text(), before, "state untouched");

    // Without it, destroy removes everything synlink made.
    let spec = w.write(
        "synlink.yaml",
        cut.replace("prevent_destroy: true", "prevent_destroy: false"),
    );
    let run = w.destroy(&spec, &[]).await;
    run.completes(&summary("Destroy complete", 0, 0, 3));
    run.stderr_contains("links.research: unregistered")
        .stderr_contains("role_grants.research-spark: revoked")
        .stderr_contains("attachments.research-small: detached");
    assert_eq!(w.inventory().await, baseline);
    assert_eq!(w.managed_in_state(), Vec::<String>::new());
    w.assert_state_matches(&baseline, "destroy").await;
}

#[tokio::test]
async fn bulk_lifecycle() {
    let w = World::new().await;
    let t = teams(3);
    w.bulk(&t, &["sharedpool"]).await;
    let baseline = w.inventory().await;
    let text = World::example_text("bulk.yaml");
    let spec = w.write("synlink.yaml", &text);
    let var = teams_var(&t);

    let run = w.apply(&spec, &["--var", &var]).await;
    run.completes(&summary("Apply complete", 9, 0, 0));
    w.assert_state_matches(&baseline, "apply").await;
    let run = w.plan(&spec, &["--var", &var, "--detailed-exitcode"]).await;
    run.no_changes("after apply");

    // Attach the shared pool to team01 only: the others are detached.
    let attached = text.replace(
        "\"{each}-shared\":\n    for_each: ${teams}",
        "\"{each}-shared\":\n    for_each: [team01]",
    );
    assert_ne!(attached, text);
    let spec = w.write("synlink.yaml", &attached);
    let run = w.apply(&spec, &["--var", &var]).await;
    run.completes(&summary("Apply complete", 0, 0, 2));
    for team in ["team02", "team03"] {
        let c = w
            .api()
            .get(&compute_path(
                "rg-analytics",
                &format!("mlw-{team}"),
                "shared-spark",
            ))
            .await;
        assert_eq!(c.status, 404, "{team}: {c:?}");
    }
    let c = w
        .api()
        .get(&compute_path("rg-analytics", "mlw-team01", "shared-spark"))
        .await;
    assert_eq!(c.status, 200, "{c:?}");
    let pool = w
        .api()
        .get(&pool_path("rg-analytics", "syn-shared-prod", "sharedpool"))
        .await;
    assert_eq!(pool.status, 200, "{pool:?}");
    w.assert_state_matches(&baseline, "detach").await;
    let run = w.plan(&spec, &["--var", &var, "--detailed-exitcode"]).await;
    run.no_changes("after detach");

    let run = w.destroy(&spec, &["--var", &var]).await;
    run.completes(&summary("Destroy complete", 0, 0, 7));
    assert_eq!(w.inventory().await, baseline);
    assert_eq!(w.managed_in_state(), Vec::<String>::new());
    w.assert_state_matches(&baseline, "destroy").await;
}

// ---------------------------------------------------------------------------
// 2. A failed link fails only its dependents; a re-run finishes the job.

#[tokio::test]
async fn a_failing_workspace_fails_only_its_team_and_a_rerun_creates_only_what_is_missing() {
    let w = World::new().await;
    let t = teams(10);
    w.bulk(&t, &["sharedpool"]).await;
    let baseline = w.inventory().await;
    let spec = w.example("bulk.yaml");
    let var = teams_var(&t);
    // Every write under team04's AML workspace fails (reads work, so the plan is made).
    w.faults(
        json!({"targets": [{"pathContains": "/workspaces/mlw-team04/", "method": "PUT",
                                 "status": 400, "code": "InjectedLinkFailure"}]}),
    )
    .await;
    let run = w.apply(&spec, &["--var", &var]).await;
    run.exit(1);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: links.team04:") && l.contains("InjectedLinkFailure")),
        "the failed link with Azure's code: {}",
        run.stderr
    );
    for skipped in ["role_grants.team04-spark", "attachments.team04-shared"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with(&format!("skipped: {skipped} (")) && l.contains("team04")),
            "{skipped} skipped because of the link: {}",
            run.stderr
        );
    }
    assert_eq!(
        run.summary(),
        "Apply failed: 27 created, 0 updated, 0 replaced, 0 deleted, 1 failed, 2 skipped",
        "{}",
        run.stderr
    );
    let mut want = Vec::new();
    for team in t.iter().filter(|x| *x != "team04") {
        want.push(format!("attachments.{team}-shared"));
        want.push(format!("links.{team}"));
        want.push(format!("role_grants.{team}-spark"));
    }
    want.sort();
    assert_eq!(w.managed_in_state(), want);
    w.assert_state_matches(&baseline, "failed apply").await;
    let link = w
        .api()
        .get(&link_path("rg-analytics", "mlw-team04", "synapselink1"))
        .await;
    assert_eq!(link.status, 404, "{link:?}");

    // The fault is lifted: the plan adds exactly team04's three resources.
    w.faults(json!({"targets": []})).await;
    let run = w.plan(&spec, &["--var", &var]).await;
    run.success();
    assert_eq!(
        run.blocks("+"),
        sorted(&[
            "attachments.team04-shared",
            "links.team04",
            "role_grants.team04-spark"
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.last_line(),
        "Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy."
    );
    let run = w.apply(&spec, &["--var", &var]).await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    w.assert_state_matches(&baseline, "re-run").await;
    assert_eq!(w.managed_in_state().len(), 30);
    let run = w.plan(&spec, &["--var", &var, "--detailed-exitcode"]).await;
    run.no_changes("after the re-run");
}

// ---------------------------------------------------------------------------
// 3. Concurrency seen from the emulator's request log.

/// bulk.yaml's shape with two pools attached to every team, so that two
/// independent writes fall under one AML workspace.
const TWO_POOLS: &str = r#"version: 1
defaults:
  subscription: 00000000-0000-0000-0000-0000000000a1
  resource_group: rg-analytics
  location: westeurope
variables:
  teams: [team01, team02, team03, team04]
synapse_workspaces:
  shared:
    name: syn-shared-prod
    existing: true
spark_pools:
  one:
    synapse_workspace: shared
    name: poolone
    existing: true
  two:
    synapse_workspace: shared
    name: pooltwo
    existing: true
ml_workspaces:
  "{each}":
    for_each: ${teams}
    name: "mlw-{each}"
    existing: true
links:
  "{each}":
    for_each: ${teams}
    ml_workspace: "{each}"
    synapse_workspace: shared
    name: synapselink1
role_grants:
  "{each}-spark":
    for_each: ${teams}
    synapse_workspace: shared
    role: Synapse Apache Spark Administrator
    principal: { link: "{each}" }
attachments:
  "{each}-one":
    for_each: ${teams}
    ml_workspace: "{each}"
    spark_pool: one
    name: one-spark
  "{each}-two":
    for_each: ${teams}
    ml_workspace: "{each}"
    spark_pool: two
    name: two-spark
"#;

#[tokio::test]
async fn links_are_created_in_parallel_and_writes_under_one_aml_workspace_never_overlap() {
    let w = World::new().await;
    let t = teams(4);
    w.bulk(&t, &["poolone", "pooltwo"]).await;
    let baseline = w.inventory().await;
    let spec = w.write("synlink.yaml", TWO_POOLS);
    // 60 ms per request (scaled by the fast time scale), so overlaps are visible.
    w.faults(json!({"latencyMs": 6000})).await;
    w.clear_log().await;
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 16, 0, 0));
    let log = w.log().await;
    w.assert_state_matches(&baseline, "apply").await;

    let link_puts: Vec<&Value> = log
        .iter()
        .filter(|r| {
            r["method"] == "PUT"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.to_ascii_lowercase().contains("/linkedservices/"))
        })
        .collect();
    assert_eq!(link_puts.len(), 4, "{link_puts:#?}");
    let parallel = link_puts
        .iter()
        .enumerate()
        .any(|(i, a)| link_puts[i + 1..].iter().any(|b| overlap(a, b)));
    assert!(
        parallel,
        "independent links were created one at a time: {link_puts:#?}"
    );

    let writes: Vec<&Value> = log.iter().filter(|r| is_write(r)).collect();
    let mut under = 0;
    for (i, a) in writes.iter().enumerate() {
        let Some(ws) = a["path"].as_str().and_then(aml_workspace_of) else {
            continue;
        };
        under += 1;
        for b in &writes[i + 1..] {
            if b["path"].as_str().and_then(aml_workspace_of).as_deref() == Some(ws.as_str()) {
                assert!(
                    !overlap(a, b),
                    "two writes at once under AML workspace {ws}:\n{a:#}\n{b:#}"
                );
            }
        }
    }
    // 4 links and 8 attachments.
    assert_eq!(under, 12, "{writes:#?}");
}

// ---------------------------------------------------------------------------
// 4. Saved plans and the state lock.

#[tokio::test]
async fn a_saved_plan_applies_only_against_the_state_it_was_made_from() {
    let w = World::new().await;
    w.vision().await;
    let baseline = w.inventory().await;
    let spec = w.example("attach-with-identity.yaml");
    // A state exists (a fresh one is covered by the test below).
    let run = w
        .apply(&spec, &["--target", "role_grants.data-team-users"])
        .await;
    run.completes(&summary("Apply complete", 1, 0, 0));
    let (one, two) = (w.path("one.plan"), w.path("two.plan"));
    let (one_arg, two_arg) = (one.display().to_string(), two.display().to_string());
    let a = w.plan(&spec, &["--out", &one_arg]).await;
    let b = w.plan(&spec, &["--out", &two_arg]).await;
    a.success();
    b.success();
    assert_eq!(
        a.blocks("+"),
        sorted(&[
            "attachments.vision-medium",
            "role_grants.vision-medium-spark"
        ]),
        "{}",
        a.stdout
    );

    // Applied right away: exactly that plan.
    let run = w
        .run(w.cloud_args(&["apply", &one_arg], &spec, &["--auto-approve"]))
        .await;
    run.completes(&summary("Apply complete", 2, 0, 0));
    w.assert_state_matches(&baseline, "saved plan").await;

    // The second plan was made before that apply: refused, nothing written.
    let before = w.state_text();
    w.clear_log().await;
    let run = w
        .run(w.cloud_args(&["apply", &two_arg], &spec, &["--auto-approve"]))
        .await;
    run.exit(1)
        .stderr_contains("the saved plan cannot be applied")
        .stderr_contains("state changed");
    assert_eq!(w.writes().await, Vec::<String>::new());
    assert_eq!(w.state_text(), before);

    // A plan with a change (revoke the group's grant), then `state rm` in between.
    let text = World::example_text("attach-with-identity.yaml");
    let cut = &text[..text.find("  data-team-users:").expect("grant")];
    let spec = w.write("synlink.yaml", cut);
    let three = w.path("three.plan").display().to_string();
    let run = w.plan(&spec, &["--out", &three]).await;
    assert_eq!(
        run.blocks("-"),
        sorted(&["role_grants.data-team-users"]),
        "{run:#?}"
    );
    let run = w.local(&["state", "rm", "attachments.vision-medium"]).await;
    run.success();
    let before = w.state_text();
    w.clear_log().await;
    let run = w
        .run(w.cloud_args(&["apply", &three], &spec, &["--auto-approve"]))
        .await;
    run.exit(1)
        .stderr_contains("the saved plan cannot be applied");
    assert_eq!(w.writes().await, Vec::<String>::new());
    assert_eq!(w.state_text(), before);
    let grant = w.state_text().expect("state");
    assert!(grant.contains("role_grants.data-team-users"));
}

#[tokio::test]
async fn a_second_apply_waits_for_the_lock_then_fails_naming_the_holder() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");

    // A lock held by a live process (this test) in the format synlink writes.
    let holder = synlink::state::LockInfo::current("synlink apply (held by the test)");
    let lock = w.path("state.json.lock");
    std::fs::write(
        &lock,
        serde_json::to_string_pretty(&holder).expect("json") + "\n",
    )
    .expect("lock file");
    let started = Instant::now();
    let run = w.apply(&spec, &["--lock-timeout", "1"]).await;
    let waited = started.elapsed();
    run.exit(1);
    assert!(waited >= Duration::from_millis(900), "waited {waited:?}");
    run.stderr_contains("synlink apply (held by the test)")
        .stderr_contains(&format!("pid {}", std::process::id()));
    assert!(w.state_text().is_none(), "nothing written");
    std::fs::remove_file(&lock).expect("unlock");

    // A real apply, slowed down, holds it while a second one waits and gives up.
    w.faults(json!({"latencyMs": 20000})).await;
    let first = w
        .synlink(w.cloud_args(&["apply"], &spec, &["--auto-approve"]))
        .spawn();
    let pid = first.id().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock.exists() {
        assert!(
            Instant::now() < deadline,
            "the first apply never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = w.apply(&spec, &["--lock-timeout", "1"]).await;
    second
        .exit(1)
        .stderr_contains("the state is locked by synlink apply")
        .stderr_contains(&format!("pid {pid}"));
    w.faults(json!({"latencyMs": 0})).await;
    let out = tokio::time::timeout(Duration::from_secs(60), first.wait_with_output())
        .await
        .expect("the first apply ends")
        .expect("output");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// 5. Ctrl-C.

#[tokio::test]
async fn ctrl_c_saves_what_finished_and_a_rerun_finishes_the_job() {
    let w = World::new().await;
    let t = teams(6);
    w.bulk(&t, &["sharedpool"]).await;
    let baseline = w.inventory().await;
    let spec = w.example("bulk.yaml");
    let var = teams_var(&t);
    w.faults(json!({"latencyMs": 8000})).await;
    let args = w.cloud_args(
        &["apply"],
        &spec,
        &["--auto-approve", "--parallelism", "2", "--var", &var],
    );
    let child = w.synlink(&args).spawn();
    let pid = child.id().expect("pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let some = w
            .state_text()
            .and_then(|s| serde_json::from_str::<synlink::state::State>(&s).ok())
            .is_some_and(|s| s.resources.values().any(|r| !r.existing));
        if some {
            break;
        }
        assert!(Instant::now() < deadline, "nothing finished in 30 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the apply stops after Ctrl-C")
        .expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("Interrupted:"), "{stderr}");
    let done = w.managed_in_state();
    assert!(!done.is_empty() && done.len() < 18, "{done:?}\n{stderr}");
    w.faults(json!({"latencyMs": 0})).await;
    w.assert_state_matches(&baseline, "after Ctrl-C").await;

    let run = w.apply(&spec, &["--var", &var]).await;
    run.completes(&summary("Apply complete", 18 - done.len(), 0, 0));
    w.assert_state_matches(&baseline, "re-run").await;
    let run = w.plan(&spec, &["--var", &var, "--detailed-exitcode"]).await;
    run.no_changes("after the re-run");
}

// ---------------------------------------------------------------------------
// 6. state list/show/rm, import, output.

#[tokio::test]
async fn state_import_and_output_commands() {
    let w = World::new().await;
    w.research().await;
    let baseline = w.inventory().await;
    let spec = w.example("existing-workspaces.yaml");

    // A link made by hand, imported.
    let link_id = format!(
        "{}/linkedServices/synapselink1",
        ml_id("rg-analytics", "mlw-research")
    );
    let a = w
        .api()
        .put(
            &format!("{link_id}?api-version=2020-09-01-preview"),
            json!({"name": "synapselink1", "location": "westeurope",
                   "identity": {"type": "SystemAssigned"},
                   "properties": {"linkedServiceResourceId": synapse_id("rg-synapse", "syn-shared-prod"),
                                  "linkType": "Synapse"}}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    let principal = a.body["identity"]["principalId"]
        .as_str()
        .expect("identity")
        .to_owned();

    // An id of another kind is refused.
    let ml = ml_id("rg-analytics", "mlw-research");
    let run = w
        .run(w.cloud_args(&["import", "links.research", &ml], &spec, &[]))
        .await;
    run.exit(1).stderr_contains("is not the id of a");
    assert!(w.state_text().is_none(), "nothing written");

    let run = w
        .run(w.cloud_args(&["import", "links.research", &link_id], &spec, &[]))
        .await;
    run.success();
    let rs = w.state().resources["links.research"].clone();
    assert!(rs.id.as_str().eq_ignore_ascii_case(&link_id), "{rs:?}");
    assert_eq!(
        rs.outputs["principal_id"].as_str(),
        Some(principal.as_str())
    );
    let run = w.plan(&spec, &[]).await;
    run.success();
    assert_eq!(
        run.blocks("+"),
        sorted(&[
            "attachments.research-large",
            "attachments.research-small",
            "role_grants.research-spark"
        ]),
        "no create for the imported link: {}",
        run.stdout
    );

    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    w.assert_state_matches(&baseline, "apply").await;

    // state list / show.
    let run = w.local(&["state", "list"]).await;
    run.success();
    let mut listed: Vec<String> = run.stdout.lines().map(str::to_owned).collect();
    listed.sort();
    let mut all: Vec<String> = w.state().resources.keys().cloned().collect();
    all.sort();
    assert_eq!(listed, all);
    for a in [
        "links.research",
        "role_grants.research-spark",
        "attachments.research-small",
        "attachments.research-large",
    ] {
        assert!(listed.iter().any(|l| l == a), "{a} in {listed:?}");
    }
    let run = w.local(&["state", "show", "links.research"]).await;
    run.success();
    let shown: Value = serde_json::from_str(&run.stdout).expect("state show prints JSON");
    assert!(
        shown["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&link_id)),
        "{shown:#}"
    );
    assert_eq!(shown["kind"], "link", "{shown:#}");
    let run = w.local(&["state", "show", "links.nope"]).await;
    run.exit(1);

    // output: each link's principal id is its identity in the emulator.
    let got = w
        .api()
        .get(&format!("{link_id}?api-version=2020-09-01-preview"))
        .await;
    let live = got.body["identity"]["principalId"]
        .as_str()
        .expect("identity")
        .to_owned();
    assert_eq!(live, principal);
    let run = w.local(&["output", "--json"]).await;
    run.success();
    let out: Value = serde_json::from_str(&run.stdout).expect("output --json is JSON");
    assert_eq!(
        out["links.research"]["principal_id"].as_str(),
        Some(live.as_str()),
        "{out:#}"
    );
    assert!(out["links.research"]["id"]
        .as_str()
        .is_some_and(|i| i.eq_ignore_ascii_case(&link_id)));
    for a in [
        "attachments.research-small",
        "attachments.research-large",
        "role_grants.research-spark",
    ] {
        assert!(out[a]["id"].is_string(), "{a}: {out:#}");
    }
    let run = w.local(&["output"]).await;
    run.success()
        .stdout_contains(&format!("links.research.principal_id = \"{live}\""));

    // state rm forgets; the resource stays; the next plan adopts it with no create.
    let small = compute_path("rg-analytics", "mlw-research", "small-spark");
    let small_id = w.state().resources["attachments.research-small"].id.clone();
    let run = w
        .local(&["state", "rm", "attachments.research-small"])
        .await;
    run.success();
    assert!(!w
        .state()
        .resources
        .contains_key("attachments.research-small"));
    assert_eq!(w.api().get(&small).await.status, 200);
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert!(run.blocks("+").is_empty(), "{}", run.stdout);
    // Forgotten but still in Azure: the plan adopts it back, visibly.
    run.success();
    assert_eq!(
        run.adopted(),
        vec!["attachments.research-small".to_owned()],
        "{}",
        run.stdout
    );
    let run = w.apply(&spec, &[]).await;
    run.success();
    assert_eq!(
        w.state().resources["attachments.research-small"].id,
        small_id,
        "adopted again"
    );
    w.assert_state_matches(&baseline, "re-adopted").await;
    let run = w
        .local(&["state", "rm", "attachments.research-small-nope"])
        .await;
    run.exit(1);
}

// ---------------------------------------------------------------------------
// 7. No terminal, no --auto-approve: refused.

#[tokio::test]
async fn apply_and_destroy_refuse_without_auto_approve_when_stdin_is_not_a_terminal() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    w.clear_log().await;
    let run = w.run(w.cloud_args(&["apply"], &spec, &[])).await;
    run.exit(1)
        .stderr_contains("stdin is not a terminal")
        .stderr_contains("--auto-approve");
    assert_eq!(w.writes().await, Vec::<String>::new());
    if w.state_text().is_some() {
        assert_eq!(w.managed_in_state(), Vec::<String>::new());
    }

    let run = w.apply(&spec, &[]).await;
    run.success();
    let managed = w.managed_in_state();
    assert_eq!(managed.len(), 3);
    w.clear_log().await;
    let run = w.run(w.cloud_args(&["destroy"], &spec, &[])).await;
    run.exit(1).stderr_contains("--auto-approve");
    assert_eq!(w.writes().await, Vec::<String>::new());
    assert_eq!(w.managed_in_state(), managed);
}

#[tokio::test]
async fn a_refused_apply_or_destroy_writes_no_state() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    let run = w.run(w.cloud_args(&["apply"], &spec, &[])).await;
    run.exit(1);
    assert!(
        w.state_text().is_none(),
        "nothing written, not even the state: {:?}",
        w.state_text()
    );
    let run = w.apply(&spec, &[]).await;
    run.success();
    let before = w.state_text();
    let run = w.run(w.cloud_args(&["destroy"], &spec, &[])).await;
    run.exit(1);
    assert_eq!(
        w.state_text(),
        before,
        "a refused destroy rewrote the state"
    );
}

#[tokio::test]
async fn a_saved_plan_made_before_any_state_exists_applies() {
    let w = World::new().await;
    w.vision().await;
    let baseline = w.inventory().await;
    let spec = w.example("attach-with-identity.yaml");
    let plan = w.path("first.plan").display().to_string();
    let run = w.plan(&spec, &["--out", &plan]).await;
    run.success();
    let run = w
        .run(w.cloud_args(&["apply", &plan], &spec, &["--auto-approve"]))
        .await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    w.assert_state_matches(&baseline, "saved plan").await;
}

#[tokio::test]
async fn an_apply_with_no_changes_leaves_the_state_untouched() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    let run = w.apply(&spec, &[]).await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    let before = w.state();
    let run = w.apply(&spec, &[]).await;
    run.success();
    assert_eq!(
        run.last_line_before_outputs(),
        "No changes.",
        "{}",
        run.stdout
    );
    assert_eq!(
        w.state().serial,
        before.serial,
        "a no-op apply wrote the state"
    );

    // So a plan saved now still applies after such a run.
    let text = World::example_text("attach-with-identity.yaml");
    let cut = &text[..text.find("  data-team-users:").expect("grant")];
    let spec = w.write("synlink.yaml", cut);
    let saved = w.path("saved.plan").display().to_string();
    let run = w.plan(&spec, &["--out", &saved]).await;
    run.success();
    let run = w.apply(&spec, &["--target", "attachments.*"]).await;
    run.success();
    let run = w
        .run(w.cloud_args(&["apply", &saved], &spec, &["--auto-approve"]))
        .await;
    run.completes(&summary("Apply complete", 0, 0, 1));
}
