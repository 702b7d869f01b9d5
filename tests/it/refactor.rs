//! Refactoring a spec never destroys: a renamed key, a block moved into a
//! `for_each` and a `moved:` pattern each plan only moves (and apply sends
//! nothing to Azure), a `removed` entry with `destroy: false` forgets without
//! touching Azure (with `destroy: true` it deletes), and `synlink state mv`
//! repairs by hand. Every test applies a spec first, over data sources made
//! through the emulator's REST API, then changes only the spec.

use serde_json::Value;

use crate::emulator::support::SUB;
use crate::world::{str_of, World};

/// The spec head every test shares: three existing AML workspaces, a Synapse
/// workspace and a pool (data sources).
fn head() -> String {
    format!(
        "version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
ml_workspaces:
  \"{{each}}\":
    for_each: [a, b, c]
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
"
    )
}

/// Team `t` written out: a link, its Spark grant and an attachment, under keys
/// that start with `prefix`.
fn team(prefix: &str, t: &str) -> String {
    format!(
        "links:
  {prefix}{t}:
    ml_workspace: {t}
    synapse_workspace: shared
    name: synapselink1
role_grants:
  {prefix}{t}-spark:
    synapse_workspace: shared
    role: Apache Spark Administrator
    principal: {{ link: {prefix}{t} }}
attachments:
  {prefix}{t}-medium:
    ml_workspace: {t}
    spark_pool: medium
    name: medium-spark
"
    )
}

/// The three teams as one `for_each`, under keys `{prefix}{each}`.
fn teams_folded(prefix: &str) -> String {
    format!(
        "links:
  \"{prefix}{{each}}\":
    for_each: [a, b, c]
    ml_workspace: \"{{each}}\"
    synapse_workspace: shared
    name: synapselink1
role_grants:
  \"{prefix}{{each}}-spark\":
    for_each: [a, b, c]
    synapse_workspace: shared
    role: Apache Spark Administrator
    principal: {{ link: \"{prefix}{{each}}\" }}
attachments:
  \"{prefix}{{each}}-medium\":
    for_each: [a, b, c]
    ml_workspace: \"{{each}}\"
    spark_pool: medium
    name: medium-spark
"
    )
}

/// The three teams written out one by one (sections merged by hand).
fn teams_explicit(prefix: &str) -> String {
    let mut links = String::from("links:\n");
    let mut grants = String::from("role_grants:\n");
    let mut atts = String::from("attachments:\n");
    for t in ["a", "b", "c"] {
        let block = team(prefix, t);
        let parts: Vec<&str> = block.split("\nrole_grants:\n").collect();
        let (l, rest) = (parts[0], parts[1]);
        let parts: Vec<&str> = rest.split("attachments:\n").collect();
        links.push_str(l.trim_start_matches("links:\n"));
        links.push('\n');
        grants.push_str(parts[0]);
        atts.push_str(parts[1]);
    }
    format!("{links}{grants}{atts}")
}

/// A world with the data sources and the three teams applied from `spec`.
async fn applied(spec: &str) -> World {
    let w = World::new().await;
    w.shared_workspace(&["a", "b", "c"]).await;
    w.api()
        .pool("rg-analytics", "syn-shared-prod", "mediumpool")
        .await;
    w.write("s.yaml", spec);
    w.apply("s.yaml", &[]).await.success();
    w
}

/// Plans `spec` as JSON and returns the changes (data sources read left out).
async fn json_changes(w: &World, spec: &str) -> Vec<Value> {
    w.write("s.yaml", spec);
    let run = w.plan("s.yaml", &["--format", "json"]).await;
    run.success();
    let plan: Value = serde_json::from_str(&run.stdout).expect("a JSON plan");
    plan["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["action"] != "read")
        .collect()
}

/// Applies `spec` (already written) and asserts no write reached Azure, then
/// that a fresh plan has nothing to do.
async fn apply_touches_only_the_state(w: &World) {
    w.clear_log().await;
    let run = w.apply("s.yaml", &[]).await;
    run.success();
    assert!(
        w.writes().await.is_empty(),
        "apply of a plan of moves wrote to Azure: {:?}\n{}",
        w.writes().await,
        run.stderr
    );
    w.plan("s.yaml", &["--detailed-exitcode"])
        .await
        .no_changes("after the moves");
}

#[tokio::test]
async fn renaming_a_key_plans_a_move_and_apply_only_rewrites_the_state() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    let ids_before: Vec<String> = ["links.a", "links.b", "links.c"]
        .iter()
        .map(|a| w.state().resources[*a].id.to_string())
        .collect();
    // Team a's link and grant get new keys; the grant follows the link's key.
    let renamed = format!("{}{}", head(), teams_explicit("")).replace(
        "  a:\n    ml_workspace: a",
        "  team-a:\n    ml_workspace: a",
    );
    let renamed = renamed.replace("principal: { link: a }", "principal: { link: team-a }");
    w.write("s.yaml", &renamed);
    let run = w.plan("s.yaml", &["--detailed-exitcode"]).await;
    run.success()
        .stdout_contains("# links.team-a has moved from links.a")
        .stdout_contains("~> links.team-a {")
        .stdout_contains("~> moved from links.a");
    assert_eq!(
        run.last_line(),
        "Plan: 0 to add, 0 to change, 0 to replace, 0 to destroy, 1 to move."
    );
    assert!(
        run.blocks("-").is_empty(),
        "nothing is deleted: {}",
        run.stdout
    );

    let changes = json_changes(&w, &renamed).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["action"], "move");
    assert_eq!(changes[0]["previous_address"], "links.a");
    assert_eq!(changes[0]["action_reason"], "move_because_same_id");

    apply_touches_only_the_state(&w).await;
    let state = w.state();
    assert!(!state.resources.contains_key("links.a"));
    assert_eq!(
        state.resources["links.team-a"].id.to_string(),
        ids_before[0]
    );
    assert!(
        state.resources["role_grants.a-spark"]
            .dependencies
            .iter()
            .any(|d| d.to_string() == "links.team-a"),
        "the grant depends on the link under its new address"
    );
}

#[tokio::test]
async fn moving_blocks_into_a_for_each_plans_only_moves() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    let folded = format!("{}{}", head(), teams_folded("team-"));
    w.write("s.yaml", &folded);
    let run = w.plan("s.yaml", &[]).await;
    run.success();
    assert_eq!(
        run.last_line(),
        "Plan: 0 to add, 0 to change, 0 to replace, 0 to destroy, 9 to move."
    );
    for t in ["a", "b", "c"] {
        run.stdout_contains(&format!("# links.team-{t} has moved from links.{t}"))
            .stdout_contains(&format!(
                "# attachments.team-{t}-medium has moved from attachments.{t}-medium"
            ))
            .stdout_contains(&format!(
                "# role_grants.team-{t}-spark has moved from role_grants.{t}-spark"
            ));
    }
    apply_touches_only_the_state(&w).await;
    assert_eq!(
        w.managed_in_state(),
        [
            "attachments.team-a-medium",
            "attachments.team-b-medium",
            "attachments.team-c-medium",
            "links.team-a",
            "links.team-b",
            "links.team-c",
            "role_grants.team-a-spark",
            "role_grants.team-b-spark",
            "role_grants.team-c-spark",
        ]
    );
}

#[tokio::test]
async fn a_moved_pattern_moves_what_it_matches() {
    let w = applied(&format!("{}{}", head(), teams_folded("team-"))).await;
    // The `team-` prefix goes; the `moved` entries say so with captures.
    let spec = format!(
        "{}{}moved:\n  - from: \"links.team-*\"\n    to: \"links.{{1}}\"\n  - from: \"role_grants.team-*-spark\"\n    to: \"role_grants.{{1}}-spark\"\n  - from: \"attachments.team-*\"\n    to: \"attachments.{{1}}\"\n",
        head(),
        teams_folded("")
    );
    let changes = json_changes(&w, &spec).await;
    assert_eq!(changes.len(), 9, "{changes:#?}");
    for c in &changes {
        assert_eq!(c["action"], "move", "{c:#}");
        assert_eq!(c["action_reason"], "move_because_moved_block", "{c:#}");
        let (now, before) = (str_of(c, "address"), str_of(c, "previous_address"));
        assert_eq!(before.replacen(".team-", ".", 1), now);
    }
    apply_touches_only_the_state(&w).await;
}

#[tokio::test]
async fn a_moved_entry_that_would_move_elsewhere_than_the_spec_is_refused() {
    let w = applied(&format!("{}{}", head(), teams_folded("team-"))).await;
    // `links.team-*` → `links.x-{1}`: no such address in the spec.
    let spec = format!(
        "{}{}moved:\n  - {{ from: \"links.team-*\", to: \"links.{{1}}\" }}\n  - {{ from: \"links.zz-*\", to: \"attachments.{{1}}\" }}\n",
        head(),
        teams_folded("")
    );
    w.write("s.yaml", &spec);
    let run = w
        .run(["validate", "-f", &w.arg("s.yaml"), "--format", "json"])
        .await;
    run.exit(1).stdout_contains("a move keeps its section");
    let spec = format!(
        "{}{}moved:\n  - {{ from: \"links.team-*\", to: \"links.x-{{1}}\" }}\n",
        head(),
        teams_folded("")
    );
    w.write("s.yaml", &spec);
    w.run(["validate", "-f", &w.arg("s.yaml")])
        .await
        .exit(1)
        .stderr_contains("no address of the spec has that shape");
    let before = w.state_text();
    // A pattern whose `to` exists for some matches only: the others are refused at plan time.
    let spec = format!(
        "{}{}moved:\n  - {{ from: \"links.team-*\", to: \"links.{{1}}\" }}\n",
        head(),
        teams_folded("").replace("[a, b, c]", "[a, b]")
    );
    w.write("s.yaml", &spec);
    w.plan("s.yaml", &[])
        .await
        .exit(1)
        .stderr_contains("`links.team-c` would move to `links.c`");
    assert_eq!(w.state_text(), before, "a refused plan writes nothing");
}

#[tokio::test]
async fn removed_without_destroy_forgets_and_leaves_azure_untouched() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    let link_id = w.state().resources["links.c"].id.to_string();
    let grant_id = w.state().resources["role_grants.c-spark"].id.to_string();
    // Team c leaves the spec; its link and grant are forgotten, its attachment deleted.
    let spec = format!("{}{}", head(), teams_explicit(""))
        .replace("  c:\n    ml_workspace: c\n    synapse_workspace: shared\n    name: synapselink1\n", "")
        .replace("  c-spark:\n    synapse_workspace: shared\n    role: Apache Spark Administrator\n    principal: { link: c }\n", "")
        .replace("  c-medium:\n    ml_workspace: c\n    spark_pool: medium\n    name: medium-spark\n", "");
    let spec = format!(
        "{spec}removed:\n  - {{ from: links.c, destroy: false }}\n  - {{ from: \"role_grants.c-*\", destroy: false }}\n  - {{ from: attachments.c-medium, destroy: true }}\n"
    );
    w.write("s.yaml", &spec);
    let run = w.plan("s.yaml", &["--detailed-exitcode"]).await;
    run.exit(2)
        .stdout_contains(
            "# links.c will no longer be managed by synlink; it stays in Azure untouched",
        )
        .stdout_contains("  . links.c {")
        .stdout_contains(&format!("# id: {link_id}"))
        .stdout_contains("# attachments.c-medium will be detached");
    assert_eq!(
        run.last_line(),
        "Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy, 2 to forget."
    );
    let changes = json_changes(&w, &spec).await;
    let reasons: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (str_of(c, "address"), str_of(c, "action_reason")))
        .collect();
    assert!(reasons.contains(&("links.c", "forget_because_removed_block")));
    assert!(reasons.contains(&("attachments.c-medium", "delete_because_removed_block")));

    w.clear_log().await;
    w.apply("s.yaml", &[])
        .await
        .success()
        .stderr_contains("1 deleted, 0 failed, 0 skipped, 2 forgotten");
    let writes = w.writes().await;
    assert_eq!(writes.len(), 1, "only the detach: {writes:?}");
    assert!(writes[0].contains("computes/medium-spark"), "{writes:?}");
    let held = w.inventory().await;
    assert!(
        held.contains(&link_id.to_ascii_lowercase()),
        "the link stays in Azure"
    );
    assert!(
        held.contains(&grant_id.to_ascii_lowercase()),
        "the grant stays in Azure"
    );
    let state = w.state();
    assert!(!state.resources.contains_key("links.c"));
    assert!(!state.resources.contains_key("role_grants.c-spark"));
    w.plan("s.yaml", &["--detailed-exitcode"])
        .await
        .no_changes("after the forget");
}

#[tokio::test]
async fn state_mv_renames_an_address_and_refuses_what_would_break_the_state() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    let id = w.state().resources["links.a"].id.clone();
    w.local(&["state", "mv", "links.a", "links.team-a"])
        .await
        .success()
        .stderr_contains("moved links.a to links.team-a");
    let state = w.state();
    assert_eq!(state.resources["links.team-a"].id, id);
    assert!(!state.resources.contains_key("links.a"));
    assert!(state.resources["role_grants.a-spark"]
        .dependencies
        .iter()
        .any(|d| d.to_string() == "links.team-a"));
    let text = w.state_text();
    for (args, message) in [
        (
            ["state", "mv", "links.nope", "links.x"],
            "`links.nope` is not in the state",
        ),
        (
            ["state", "mv", "links.b", "attachments.b"],
            "a move keeps its section",
        ),
        (
            ["state", "mv", "links.b", "links.c"],
            "the state already records `links.c`",
        ),
        (["state", "mv", "links.b", "nope"], "both must be addresses"),
    ] {
        w.local(&args).await.exit(1).stderr_contains(message);
        assert_eq!(w.state_text(), text, "a refused move writes nothing");
    }
    // The spec still says `links.a`: the plan moves it back, touching nothing.
    w.write("s.yaml", format!("{}{}", head(), teams_explicit("")));
    let run = w.plan("s.yaml", &[]).await;
    run.success()
        .stdout_contains("# links.a has moved from links.team-a");
}

#[tokio::test]
async fn renaming_a_data_source_moves_it_and_the_state_never_holds_it_twice() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    // The pool's key changes; what refers to it follows.
    let renamed = format!("{}{}", head(), teams_explicit(""))
        .replace("spark_pools:\n  medium:", "spark_pools:\n  shared-medium:")
        .replace("spark_pool: medium", "spark_pool: shared-medium");
    w.write("s.yaml", &renamed);
    let run = w.plan("s.yaml", &[]).await;
    run.success().stdout_contains(
        "# spark_pools.shared-medium will be read (moved from spark_pools.medium)",
    );
    apply_touches_only_the_state(&w).await;
    let state = w.state();
    assert_eq!(state.shared_id(), None);
    assert!(state.resources.contains_key("spark_pools.shared-medium"));
    assert!(!state.resources.contains_key("spark_pools.medium"));
}

#[tokio::test]
async fn the_refactor_example_only_moves_and_forgets() {
    let w = World::new().await;
    let api = w.api();
    api.resource_group("rg-analytics").await;
    for t in ["fraud", "churn", "forecast", "legacy"] {
        api.ml_workspace("rg-analytics", &format!("mlw-{t}")).await;
    }
    api.synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    api.pool("rg-analytics", "syn-shared-prod", "mediumpool")
        .await;
    // Before the refactor: links keyed `{team}-link`, and a `legacy` team.
    let before = format!(
        "version: 1
defaults: {{ subscription: {SUB}, resource_group: rg-analytics, location: westeurope }}
ml_workspaces:
  \"{{each}}\": {{ for_each: [fraud, churn, forecast, legacy], name: \"mlw-{{each}}\", existing: true }}
synapse_workspaces:
  shared: {{ name: syn-shared-prod, existing: true }}
spark_pools:
  medium: {{ synapse_workspace: shared, name: mediumpool, existing: true }}
links:
  \"{{each}}-link\": {{ for_each: [fraud, churn, forecast], ml_workspace: \"{{each}}\", synapse_workspace: shared, name: synapselink1 }}
  legacy: {{ ml_workspace: legacy, synapse_workspace: shared, name: synapselink1 }}
role_grants:
  \"{{each}}-spark\":
    for_each: [fraud, churn, forecast]
    synapse_workspace: shared
    role: Apache Spark Administrator
    principal: {{ link: \"{{each}}-link\" }}
attachments:
  \"{{each}}-medium\": {{ for_each: [fraud, churn, forecast], ml_workspace: \"{{each}}\", spark_pool: medium, name: medium-spark }}
"
    );
    w.write("s.yaml", &before);
    w.apply("s.yaml", &[]).await.success();
    let legacy = w.state().resources["links.legacy"].id.to_string();
    w.write("s.yaml", World::example_text("refactor.yaml"));
    // Nothing would change in Azure: `--detailed-exitcode` exits 0, as for adoptions.
    let run = w.plan("s.yaml", &["--detailed-exitcode"]).await;
    run.success()
        .stdout_contains("# links.team-fraud has moved from links.fraud-link")
        .stdout_contains("  . links.legacy {");
    assert_eq!(
        run.last_line(),
        "Plan: 0 to add, 0 to change, 0 to replace, 0 to destroy, 3 to move, 1 to forget."
    );
    apply_touches_only_the_state(&w).await;
    assert!(w.inventory().await.contains(&legacy.to_ascii_lowercase()));
}

#[tokio::test]
async fn a_saved_plan_of_moves_is_applied_as_reviewed_and_refused_when_edited() {
    let w = applied(&format!("{}{}", head(), teams_explicit(""))).await;
    w.write("s.yaml", format!("{}{}", head(), teams_folded("team-")));
    let out = w.arg("moves.plan");
    w.plan("s.yaml", &["--out", &out]).await.success();
    let text = std::fs::read_to_string(&out).expect("plan file");
    let plan: Value = serde_json::from_str(&text).expect("JSON");
    let moved: Vec<&Value> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "move")
        .collect();
    assert_eq!(moved.len(), 9);
    // Point one move at another old address and reseal: a fresh plan disagrees.
    let mut edited: synlink::plan::Plan = serde_json::from_str(&text).expect("a plan");
    let i = edited
        .changes
        .iter()
        .position(|c| c.address.to_string() == "links.team-a")
        .expect("the move of links.a");
    edited.changes[i].previous_address = synlink::addr::Address::parse("links.b");
    edited.seal();
    let forged = w.arg("forged.plan");
    std::fs::write(&forged, serde_json::to_vec_pretty(&edited).expect("JSON")).expect("write");
    let state = w.state_path().display().to_string();
    let before = w.state_text();
    w.run(["apply", &forged, "--auto-approve", "--state", &state])
        .await
        .exit(1)
        .stderr_contains("links.team-a: `previous_address` differs");
    assert_eq!(w.state_text(), before, "a refused plan writes nothing");
    // The plan as reviewed applies, touching only the state.
    w.clear_log().await;
    w.run(["apply", &out, "--auto-approve", "--state", &state])
        .await
        .success()
        .stderr_contains("State updated: 9 moved, 0 forgotten");
    assert!(w.writes().await.is_empty());
    assert!(w.state().resources.contains_key("links.team-a"));
}
