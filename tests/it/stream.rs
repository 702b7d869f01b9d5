//! Streaming apply, end to end against the emulator: with `--auto-approve` the
//! first writes go out while Azure is still being read (seen in the request
//! log), and the plan printed at the end is the plan `synlink plan` makes; a
//! saved plan is checked change by change, so one resource Azure moved under
//! it is refused, naming it, what depends on it is skipped and everything
//! else is applied (`--verify-first` refuses the whole plan instead, writing
//! nothing); and the plain-line progress of a small apply, with `-v`'s time
//! per phase, as a snapshot with the times masked.

use serde_json::{json, Value};

use crate::emulator::support::{link_path, synapse_id};
use crate::world::{is_write, str_of, teams, teams_var, World};

/// Whether a request-log entry is one of refresh's reads of a bulk spec: an
/// AML workspace's GET, or the list of its links or computes.
fn is_refresh_read(r: &Value) -> bool {
    matches!(
        str_of(r, "operation"),
        "GET Microsoft.MachineLearningServices/workspaces"
            | "GET Microsoft.MachineLearningServices/workspaces/linkedServices (list)"
            | "GET Microsoft.MachineLearningServices/workspaces/computes (list)"
    )
}

fn start_ms(r: &Value) -> u64 {
    r["startMs"].as_u64().unwrap_or(0)
}

/// The plan a run printed on stdout, without its digest (a plan made before
/// any state exists names a lineage of the moment, so two runs' digests
/// differ) and without the outputs after it.
fn plan_text(stdout: &str) -> String {
    let plan = stdout.split("\nOutputs:").next().unwrap_or_default();
    assert!(plan.contains("Plan digest: sha256:"), "a plan in {stdout}");
    plan.lines()
        .filter(|l| !l.starts_with("Plan digest: sha256:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn writes_begin_before_the_last_refresh_read_of_a_100_team_apply() {
    let w = World::new().await;
    let t = teams(100);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = teams_var(&t);
    let planned = w.plan(&spec, &["--var", &var]).await;
    planned.success();
    // Every request takes 5 ms (500 ms at the emulator's time scale), as
    // Azure's take their time: 300 reads are not over in a blink.
    w.faults(json!({"latencyMs": 500})).await;
    w.clear_log().await;
    let run = w.apply(&spec, &["--var", &var]).await;
    run.success()
        .stderr_contains("Apply complete: 300 created, 0 updated, 0 replaced, 0 deleted");
    let log = w.log().await;
    let reads: Vec<&Value> = log.iter().filter(|r| is_refresh_read(r)).collect();
    assert_eq!(reads.len(), 300, "one GET and two lists per team");
    let last_read = reads.iter().map(|r| start_ms(r)).max().expect("reads");
    let writes: Vec<&Value> = log.iter().filter(|r| is_write(r)).collect();
    let first_write = writes.iter().map(|r| start_ms(r)).min().expect("writes");
    let early = writes.iter().filter(|r| start_ms(r) < last_read).count();
    assert!(
        first_write < last_read && early >= 10,
        "writes start before the last refresh read: first write at {first_write} ms, last read at {last_read} ms, {early} writes before it"
    );
    // The plan printed at the end is the one `synlink plan` showed.
    assert_eq!(plan_text(&run.stdout), plan_text(&planned.stdout));
    w.plan(&spec, &["--var", &var, "--detailed-exitcode"])
        .await
        .no_changes("after the streamed apply");
}

/// Three teams of bulk.yaml, a plan saved for them, and then team02's link
/// made by hand (as a colleague would): the saved plan's create of it is no
/// longer what a fresh plan would do.
async fn saved_plan_then_azure_moves(w: &World) -> (std::path::PathBuf, String) {
    let t = teams(3);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = teams_var(&t);
    let out = w.path("reviewed.plan");
    w.plan(&spec, &["--var", &var, "--out", &out.display().to_string()])
        .await
        .success();
    let made = w
        .api()
        .put(
            &link_path("rg-analytics", "mlw-team02", "synapselink1"),
            json!({
                "name": "synapselink1",
                "location": "westeurope",
                "identity": {"type": "SystemAssigned"},
                "properties": {
                    "linkedServiceResourceId": synapse_id("rg-analytics", "syn-shared-prod"),
                    "linkType": "Synapse"
                }
            }),
        )
        .await;
    assert!(made.status < 300, "{made:?}");
    (out, var)
}

/// `synlink apply PLANFILE --var …` (the plan names its spec; the variables
/// given on the command line are part of what it was made from).
async fn apply_saved(
    w: &World,
    plan: &std::path::Path,
    var: &str,
    extra: &[&str],
) -> crate::world::Run {
    let state = w.state_path().display().to_string();
    let plan = plan.display().to_string();
    let mut args = vec![
        "apply",
        plan.as_str(),
        "--var",
        var,
        "--state",
        &state,
        "--auto-approve",
    ];
    args.extend_from_slice(extra);
    w.run(args).await
}

#[tokio::test]
async fn a_saved_plan_applies_every_independent_change_and_refuses_the_one_azure_moved() {
    let w = World::new().await;
    let (plan, var) = saved_plan_then_azure_moves(&w).await;
    w.clear_log().await;
    let run = apply_saved(&w, &plan, &var, &[]).await;
    run.exit(1);
    assert_eq!(
        run.summary(),
        "Apply failed: 6 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 2 skipped, 1 refused",
        "{run:#?}"
    );
    run.stderr_contains("refused: links.team02: Azure changed since the plan was made: `action` differs: the saved plan has \"create\", a fresh plan has \"adopt\"")
        .stderr_contains("skipped: role_grants.team02-spark (links.team02 was refused or failed)")
        .stderr_contains("skipped: attachments.team02-shared");
    // Every other team is linked, granted and attached; team02 only has the
    // link made by hand.
    let managed = w.managed_in_state();
    for team in ["team01", "team03"] {
        for address in [
            format!("links.{team}"),
            format!("role_grants.{team}-spark"),
            format!("attachments.{team}-shared"),
        ] {
            assert!(managed.contains(&address), "{address}: {managed:?}");
        }
    }
    assert!(
        !managed.iter().any(|a| a.contains("team02")),
        "nothing of team02 applied: {managed:?}"
    );
    let writes = w.writes().await;
    assert!(
        !writes.iter().any(|r| r.contains("mlw-team02")),
        "nothing written for team02: {writes:#?}"
    );
    // A fresh plan picks up what was left: the link is adopted.
    let spec = w.path("bulk.yaml");
    let again = w.apply(&spec, &["--var", &var]).await;
    again.success().stderr_contains("Apply complete: 2 created");
    assert!(w.managed_in_state().contains(&"links.team02".to_owned()));
}

#[tokio::test]
async fn verify_first_refuses_the_whole_saved_plan_before_anything_is_written() {
    let w = World::new().await;
    let (plan, var) = saved_plan_then_azure_moves(&w).await;
    let before = w.state_text();
    w.clear_log().await;
    let run = apply_saved(&w, &plan, &var, &["--verify-first"]).await;
    run.exit(1)
        .stderr_contains("the saved plan cannot be applied")
        .stderr_contains("links.team02: `action` differs");
    assert_eq!(w.state_text(), before, "the state is untouched");
    assert!(
        w.log().await.iter().all(|r| !is_write(r)),
        "nothing written: {:#?}",
        w.writes().await
    );
}

/// Times and the emulator's address masked: `(0.3s)` → `(…s)`, `in 0.9s.` →
/// `in …s.`, every figure of `-v`'s time per phase → `…`.
fn masked(text: &str, w: &World) -> String {
    let text = text.replace(&w.url(), "[URL]");
    let mut out = String::new();
    for line in text.lines() {
        let mut l = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_ascii_digit() {
                let mut number = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_digit() || n == '.' || n == ',' {
                        number.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                // Durations (`0.3s`) are masked, counts and names kept.
                if chars.peek() == Some(&'s') && number.contains('.') {
                    l.push('…');
                } else {
                    l.push_str(&number);
                }
            } else {
                l.push(c);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn plain_progress_of_a_small_apply() {
    let w = World::new().await;
    let t = teams(1);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = teams_var(&t);
    let run = w.apply(&spec, &["--var", &var, "-v"]).await;
    run.success();
    insta::assert_snapshot!("plain_progress_of_a_small_apply", masked(&run.stderr, &w));
}
