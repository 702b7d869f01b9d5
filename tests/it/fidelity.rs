//! What synlink sends and how it reads answers, held against Azure's own
//! contract (not against the emulator's convenience): long-running operations
//! are polled at the pace the server announces, `checkAccessSynapseRbac` is
//! understood as its definition spells it, pool-scoped grants use Azure's
//! casing, a Synapse workspace's identity uses a type its definition allows,
//! and no pool is created on a retired Spark runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::emulator::support::SUB;
use crate::world::{str_of, summary, World};

/// A world holding attach-with-identity.yaml's data sources, its request log
/// cleared, and the path of that example.
async fn vision_ready() -> (World, PathBuf) {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    w.clear_log().await;
    (w, spec)
}

/// The `retry-after-ms` an answer announced, if any.
fn announced_ms(r: &Value) -> Option<u64> {
    r["responseHeaders"]["retry-after-ms"]
        .as_str()
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn operations_are_polled_at_the_pace_the_server_announces() {
    let (w, spec) = vision_ready().await;
    w.apply(&spec, &[]).await.success();
    let log = w.log().await;
    // Each operation's requests in order: the write, then its status polls.
    let mut by_operation: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &log {
        let path = str_of(r, "path");
        if let Some(i) = path.find("/operationStatuses/") {
            let op = path[i..].split('?').next().unwrap_or_default().to_owned();
            by_operation.entry(op).or_default().push(r);
        }
    }
    assert!(
        !by_operation.is_empty(),
        "the attach was a long-running operation"
    );
    let mut checked = 0;
    for polls in by_operation.values() {
        // The first poll follows the write that started the operation.
        let write = log
            .iter()
            .rev()
            .find(|r| r["seq"].as_u64() < polls[0]["seq"].as_u64() && r["status"] == 201)
            .expect("the write that started it");
        let mut previous: &Value = write;
        for poll in polls {
            let asked = announced_ms(previous).expect("each answer announces when to poll");
            let waited = poll["startMs"]
                .as_u64()
                .unwrap_or(0)
                .saturating_sub(previous["endMs"].as_u64().unwrap_or(0));
            // Never before the server asked (the log's clock is in whole ms) ...
            assert!(
                waited + 5 >= asked,
                "polled after {waited} ms, asked {asked} ms: {poll:#}"
            );
            // ... and following it, not a fixed client interval of its own.
            assert!(
                waited <= 2 * asked + 500,
                "polled after {waited} ms when the server asked {asked} ms: {poll:#}"
            );
            previous = poll;
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[tokio::test]
async fn a_spark_grant_is_understood_as_the_definition_spells_the_answer() {
    let (w, spec) = vision_ready().await;
    // A short gate: an answer not understood would wait it out and fail.
    let run = w.apply(&spec, &["--propagation-timeout", "20"]).await;
    run.completes(&summary("Apply complete", 3, 0, 0));
    let log = w.log().await;
    let checks: Vec<&Value> = log
        .iter()
        .filter(|r| str_of(r, "path").contains("/checkAccessSynapseRbac"))
        .collect();
    assert_eq!(checks.len(), 1, "one look was enough: {checks:#?}");
    // The emulator answers as checkAccessSynapseRbac.json (2020-12-01) defines it.
    assert!(
        checks[0]["responseBody"].get("AccessDecisions").is_some(),
        "{:#}",
        checks[0]
    );
}

#[tokio::test]
async fn pool_scoped_grants_use_azures_casing() {
    let (w, spec) = vision_ready().await;
    w.apply(&spec, &[]).await.success();
    let scopes: Vec<String> = w
        .log()
        .await
        .iter()
        .filter(|r| r["method"] == "PUT" && str_of(r, "path").contains("/roleAssignments/"))
        .map(|r| str_of(&r["body"], "scope").to_owned())
        .collect();
    assert!(
        scopes.contains(&"workspaces/syn-shared-prod/bigDataPools/mediumpool".to_owned()),
        "{scopes:?}"
    );
}

#[tokio::test]
async fn a_synapse_workspace_with_user_assigned_identities_keeps_its_system_identity() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    let uami = format!(
        "/subscriptions/{SUB}/resourceGroups/rg-analytics/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-syn"
    );
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
    name: syn-uami
    data_lake:
      account_url: https://stsynuami.dfs.core.windows.net
      filesystem: synapse
    sql_admin_login: sqladmin
    identity:
      user_assigned: [{uami}]
"
        ),
    );
    w.clear_log().await;
    w.apply(&spec, &[])
        .await
        .completes(&summary("Apply complete", 1, 0, 0));
    let put = w
        .first_put("/workspaces/syn-uami")
        .await
        .expect("the workspace PUT");
    // workspace.json (2021-06-01): ManagedIdentity.type is None | SystemAssigned |
    // "SystemAssigned,UserAssigned"; "UserAssigned" alone is refused.
    assert_eq!(
        put["body"]["identity"]["type"],
        "SystemAssigned,UserAssigned"
    );
    assert_eq!(
        put["body"]["identity"]["userAssignedIdentities"][&uami],
        json!({})
    );
    w.plan(&spec, &["--detailed-exitcode"])
        .await
        .no_changes("the identity reads back as written");
}

#[tokio::test]
async fn no_pool_is_created_on_a_retired_runtime() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    let spec_text = |version: &str| {
        format!(
            "version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
synapse_workspaces:
  shared:
    name: syn-shared-prod
    existing: true
spark_pools:
  small:
    synapse_workspace: shared
    name: smallpool
    node_size: Small
    spark_version: \"{version}\"
    node_count: 3
"
        )
    };
    let spec = w.write("synlink.yaml", spec_text("3.4"));
    // Validation warns; a plan that would create it fails, naming the runtime.
    let run = w.run(["validate", "-f", &spec.display().to_string()]).await;
    run.success()
        .stderr_contains("reached end of support on 2026-03-31");
    w.clear_log().await;
    let run = w.plan(&spec, &[]).await;
    run.exit(1)
        .stderr_contains("the Synapse runtime `3.4` reached end of support on 2026-03-31")
        .stderr_contains("\"3.5\"");
    assert!(w.writes().await.is_empty());
    // On the current runtime it is created.
    let spec = w.write("synlink.yaml", spec_text("3.5"));
    w.apply(&spec, &[])
        .await
        .completes(&summary("Apply complete", 1, 0, 0));
}
