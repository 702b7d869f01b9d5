//! `synlink discover` on estates built by hand, through the emulator's REST API
//! as the Studio or an SDK script would build them (never by synlink): the spec
//! it writes validates, folds the regular teams into `for_each`, writes the
//! irregular ones out with a comment, and the first plan has nothing to do; it
//! reads with list calls only, within its budget (at most three requests per
//! AML workspace plus a constant per Synapse workspace), counted from the
//! emulator's request log. With `--prefer-identity` the first apply moves every
//! linked-service team to an attachment with its own identity, and the log
//! shows that no team's pool was unusable at any moment.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::emulator::support::{
    compute_path, link_path, ml_id, pool_path, synapse_id, Api, SUB, SYNAPSE,
};
use crate::world::{str_of, World};

const RG: &str = "rg-analytics";
const SYN: &str = "syn-shared-prod";
/// The Synapse role every link and attachment identity needs.
const SPARK_ADMIN: &str = "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1";

/// What a team of the estate has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Team {
    /// A link, its Spark grant, and `smallpool` attached.
    Regular,
    /// A link without its grant, and `smallpool` attached.
    NoGrant,
    /// A link with its grant, and a compute whose pool was deleted since.
    PoolGone,
    /// Its link unregistered after its grant was made: the grant's identity is gone.
    LinkGone,
    /// `smallpool` attached with the compute's own identity, granted.
    OwnIdentity,
    /// A link with its grant, `smallpool` and `largepool` attached.
    TwoPools,
}

/// Clients for building: ARM, and the Synapse data plane of `SYN`.
struct Builder {
    arm: Api,
    synapse: Api,
    dev: String,
}

impl Builder {
    async fn new(w: &World) -> Builder {
        Builder {
            arm: w.api().clone(),
            synapse: w.api_as(None, SYNAPSE).await,
            dev: format!("{}/_synapse/{SYN}", w.url()),
        }
    }

    /// The shared Synapse workspace and its pools.
    async fn shared(&self, pools: &[&str]) {
        self.arm.resource_group(RG).await;
        self.arm.synapse_workspace(RG, SYN).await;
        for p in pools {
            self.arm.pool(RG, SYN, p).await;
        }
    }

    async fn link(&self, ml: &str) -> String {
        let a = self
            .arm
            .put(
                &link_path(RG, ml, "synapselink1"),
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                    "properties": {"linkedServiceResourceId": synapse_id(RG, SYN), "linkType": "Synapse"}}),
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
        str_of(&a.body["identity"], "principalId").to_owned()
    }

    async fn grant(&self, principal: &str) {
        let a = self
            .synapse
            .put(
                &format!(
                    "{}/roleAssignments/{}?api-version=2020-12-01",
                    self.dev,
                    uuid::Uuid::new_v4()
                ),
                json!({"roleId": SPARK_ADMIN, "principalId": principal,
                    "scope": format!("workspaces/{SYN}"), "principalType": "ServicePrincipal"}),
            )
            .await;
        assert!(a.status == 200 || a.status == 201, "{a:?}");
    }

    /// Attaches a pool as compute `name`; returns its identity's principal, if any.
    async fn attach(&self, ml: &str, name: &str, pool: &str, identity: bool) -> Option<String> {
        let mut body = json!({"location": "westeurope", "properties": {
            "computeType": "SynapseSpark",
            "resourceId": pool_path(RG, SYN, pool).split('?').next().expect("path"),
        }});
        if identity {
            body["identity"] = json!({"type": "SystemAssigned"});
        }
        let a = self.arm.put(&compute_path(RG, ml, name), body).await;
        assert_eq!(a.status, 201, "{a:?}");
        let done = self
            .arm
            .wait_async(&a.header("azure-asyncoperation").expect("async header"))
            .await;
        assert_eq!(done["status"], "Succeeded");
        identity.then(|| str_of(&a.body["identity"], "principalId").to_owned())
    }

    /// One team, `mlw-{t}`, of shape `team`.
    async fn team(&self, t: &str, team: Team) {
        let ml = format!("mlw-{t}");
        self.arm.ml_workspace(RG, &ml).await;
        match team {
            Team::Regular | Team::NoGrant | Team::PoolGone | Team::LinkGone | Team::TwoPools => {
                let principal = self.link(&ml).await;
                if team != Team::NoGrant {
                    self.grant(&principal).await;
                }
                let pool = if team == Team::PoolGone {
                    "gonepool"
                } else {
                    "smallpool"
                };
                self.attach(&ml, "small-spark", pool, false).await;
                if team == Team::TwoPools {
                    self.attach(&ml, "large-spark", "largepool", false).await;
                }
                if team == Team::LinkGone {
                    let a = self.arm.delete(&link_path(RG, &ml, "synapselink1")).await;
                    assert!(a.status == 200 || a.status == 204, "{a:?}");
                }
            }
            Team::OwnIdentity => {
                let principal = self
                    .attach(&ml, "small-spark", "smallpool", true)
                    .await
                    .expect("an identity");
                self.grant(&principal).await;
            }
        }
    }
}

/// Builds the estate: the shared workspace, then the teams, 16 at a time.
async fn estate(w: &World, teams: &[(String, Team)]) {
    let b = std::sync::Arc::new(Builder::new(w).await);
    b.shared(&["smallpool", "largepool", "gonepool"]).await;
    for chunk in teams.chunks(16) {
        let mut set = tokio::task::JoinSet::new();
        for (t, team) in chunk.iter().cloned() {
            let b = b.clone();
            set.spawn(async move { b.team(&t, team).await });
        }
        while let Some(r) = set.join_next().await {
            r.expect("a team is built");
        }
    }
    // The pool of `PoolGone` teams goes after they attached it.
    let a = b.arm.delete(&pool_path(RG, SYN, "gonepool")).await;
    assert!(a.status == 202 || a.status == 200, "{a:?}");
    if let Some(url) = a.header("azure-asyncoperation") {
        b.arm.wait_async(&url).await;
    }
}

/// `synlink discover` of the test subscription into `DIR/spec.yaml`, with the
/// state at `DIR/state.json` (where `World::plan` reads it).
async fn discover(w: &World, extra: &[&str]) -> crate::world::Run {
    let out = w.arg("spec.yaml");
    let state = w.state_path().display().to_string();
    let mut args = vec![
        "discover",
        "--subscription",
        SUB,
        "--out",
        out.as_str(),
        "--state",
        state.as_str(),
    ];
    args.extend_from_slice(extra);
    w.run(args).await
}

/// The collection a list path ends with (`linkedServices`, `roleAssignments`).
fn collection(path: &str) -> &str {
    path.split('?')
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_estate_of_200_teams_is_discovered_with_list_calls_and_plans_no_changes() {
    let w = World::new().await;
    let irregular = [
        (10, Team::NoGrant),
        (20, Team::PoolGone),
        (30, Team::LinkGone),
        (40, Team::OwnIdentity),
        (50, Team::TwoPools),
    ];
    let teams: Vec<(String, Team)> = (0..200)
        .map(|i| {
            let shape = irregular
                .iter()
                .find(|(n, _)| *n == i)
                .map_or(Team::Regular, |(_, t)| *t);
            (format!("t{i:03}"), shape)
        })
        .collect();
    estate(&w, &teams).await;

    w.clear_log().await;
    let run = discover(&w, &[]).await;
    run.success();
    let log = w.log().await;
    // List calls only: every request a GET of a collection.
    let mut by_collection: BTreeMap<String, usize> = BTreeMap::new();
    for r in &log {
        assert_eq!(r["method"], "GET", "discover only reads: {r:#}");
        *by_collection
            .entry(collection(str_of(r, "path")).to_owned())
            .or_default() += 1;
    }
    let aml = 200;
    let synapse = 1;
    // Per AML workspace: its links and its computes. Per Synapse workspace: its
    // pools and the pages of its role assignments (100 a page). Per scope: one
    // list of each workspace kind.
    assert_eq!(by_collection["linkedServices"], aml, "{by_collection:?}");
    assert_eq!(by_collection["computes"], aml, "{by_collection:?}");
    assert_eq!(by_collection["workspaces"], 2, "{by_collection:?}");
    assert_eq!(by_collection["bigDataPools"], synapse, "{by_collection:?}");
    assert!(by_collection["roleAssignments"] <= 3, "{by_collection:?}");
    assert_eq!(by_collection.len(), 5, "only lists: {by_collection:?}");
    let budget = 3 * aml + 5 * synapse;
    assert!(
        log.len() <= budget,
        "{} requests for {aml} AML workspaces, over the budget of {budget}",
        log.len()
    );
    run.stderr_contains(&format!(
        "with {} requests: 200 teams, 195 folded into for_each, 5 written out",
        log.len()
    ));

    let spec = std::fs::read_to_string(w.path("spec.yaml")).expect("the spec was written");
    w.run(["validate", "-f", &w.arg("spec.yaml")])
        .await
        .success()
        .stdout_contains("valid:");
    // The regular teams are one `for_each` per section over one variable.
    assert!(spec.contains("  teams: [\n"), "{spec}");
    let listed = spec
        .split("  teams: [\n")
        .nth(1)
        .and_then(|rest| rest.split("    ]").next())
        .expect("the list");
    let items: Vec<&str> = listed
        .split([',', '\n', ' '])
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(items.len(), 195, "{listed}");
    for t in ["t010", "t020", "t030", "t040", "t050"] {
        assert!(
            !items.contains(&t),
            "{t} is irregular: written out, not folded"
        );
    }
    assert_eq!(spec.matches("for_each: ${teams}").count(), 4, "{spec}");
    // The irregular ones, written out with what is odd about them.
    for (needle, what) in [
        ("  # odd: this link's identity", "the link without a grant"),
        ("  t010:\n    ml_workspace: t010", "written out"),
        (
            "  # t020-small-spark:\n  #   name: small-spark\n",
            "the compute whose pool is gone, commented out",
        ),
        (
            "  # odd: no link or compute in the scanned scope has this identity",
            "the orphan grant",
        ),
        ("      object_id: ", "by its object id"),
        (
            "  # odd: neither a link from its AML workspace",
            "t030's attachment",
        ),
        (
            "  t040-smallpool:\n",
            "the attachment with its own identity",
        ),
        ("    identity: system_assigned\n", "its identity"),
        ("  t050-largepool:\n", "the second pool"),
    ] {
        assert!(spec.contains(needle), "{what}: no {needle:?} in\n{spec}");
    }
    for note in [
        "note: links.t010: this link's identity",
        "holds no Spark role in Synapse workspace `syn-shared-prod`",
        "note: attachments.t020-small-spark: it attaches Spark pool",
        "bigDataPools/gonepool, which does not exist",
        "no link or compute in the scanned scope has this identity",
        "note: attachments.t030-smallpool: neither a link",
    ] {
        run.stderr_contains(note);
    }
    let state = w.state();
    assert_eq!(state.shared_id(), None);
    // 200 AML workspaces, the Synapse workspace, 2 pools; 198 links (t030's is
    // gone, t040 has none); 199 grants (197 to links, t030's orphan, t040's to
    // its compute); 200 computes (201, less t020's, which is left out).
    assert_eq!(state.resources.len(), 203 + 198 + 199 + 200);

    // The first plan: nothing to do.
    let run = w.plan("spec.yaml", &["--detailed-exitcode"]).await;
    run.no_changes("the first plan of a discovered estate");
}

#[tokio::test]
async fn discover_never_overwrites_and_says_when_there_is_nothing() {
    let w = World::new().await;
    w.api().resource_group(RG).await;
    discover(&w, &[])
        .await
        .exit(1)
        .stderr_contains("no AML workspace in /subscriptions/");
    assert!(!w.path("spec.yaml").exists());
    w.write("spec.yaml", "version: 1\n");
    discover(&w, &[])
        .await
        .exit(1)
        .stderr_contains("already exists");
    assert_eq!(
        std::fs::read_to_string(w.path("spec.yaml")).expect("kept"),
        "version: 1\n"
    );
}

/// The seq of the first logged request matching `method` and `path_has`.
fn seq_of(log: &[Value], method: &str, path_has: &str) -> Option<u64> {
    log.iter()
        .find(|r| r["method"] == method && str_of(r, "path").contains(path_has))
        .and_then(|r| r["seq"].as_u64())
}

/// For each team of `teams` (AML workspace `mlw-{t}`), the request log of a
/// migration shows: the new compute attached, the new identity granted and its
/// grant checked in effect, and only then the old compute detached, the link's
/// grant revoked and the link unregistered. At every moment one identity could
/// use the pool.
pub fn assert_made_before_broken(
    log: &[Value],
    teams: &[&str],
    old_compute: &str,
    new_compute: &str,
) {
    for t in teams {
        let ml = ml_id(RG, &format!("mlw-{t}"));
        let attach = log
            .iter()
            .find(|r| {
                r["method"] == "PUT"
                    && str_of(r, "path").starts_with(&format!("{ml}/computes/{new_compute}"))
            })
            .unwrap_or_else(|| panic!("{t}: the new compute is attached"));
        let principal = attach["responseBody"]["identity"]["principalId"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                log.iter()
                    .filter(|r| {
                        str_of(r, "path").starts_with(&format!("{ml}/computes/{new_compute}"))
                    })
                    .find_map(|r| {
                        r["responseBody"]["identity"]["principalId"]
                            .as_str()
                            .map(str::to_owned)
                    })
            })
            .unwrap_or_else(|| panic!("{t}: the new compute has an identity"));
        let granted = log
            .iter()
            .find(|r| {
                r["method"] == "PUT"
                    && str_of(r, "path").contains("/roleAssignments/")
                    && r["body"]["principalId"].as_str() == Some(principal.as_str())
            })
            .and_then(|r| r["seq"].as_u64())
            .unwrap_or_else(|| panic!("{t}: the new identity is granted"));
        let in_effect = log
            .iter()
            .filter(|r| {
                r["method"] == "POST"
                    && str_of(r, "path").contains("checkAccessSynapseRbac")
                    && r["body"]["subject"]["principalId"].as_str() == Some(principal.as_str())
            })
            .find(|r| {
                let answer = &r["responseBody"];
                let decisions = answer
                    .get("accessDecisions")
                    .or_else(|| answer.get("AccessDecisions"));
                decisions.and_then(|d| d[0]["accessDecision"].as_str()) == Some("Allowed")
            })
            .and_then(|r| r["seq"].as_u64())
            .unwrap_or_else(|| panic!("{t}: the new grant is checked in effect"));
        assert!(attach["seq"].as_u64() < Some(granted));
        assert!(granted < in_effect);
        let detach = seq_of(log, "DELETE", &format!("{ml}/computes/{old_compute}?"))
            .unwrap_or_else(|| panic!("{t}: the old compute is detached"));
        let unregister = seq_of(log, "DELETE", &format!("{ml}/linkedServices/synapselink1"))
            .unwrap_or_else(|| panic!("{t}: the link is unregistered"));
        assert!(
            in_effect < detach && in_effect < unregister,
            "{t}: the old path went (detach {detach}, unregister {unregister}) before the new grant was in effect ({in_effect})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prefer_identity_moves_linked_teams_to_their_own_identity_without_a_gap() {
    let w = World::new().await;
    let names = ["fraud", "churn", "forecast", "vision"];
    let teams: Vec<(String, Team)> = names
        .iter()
        .map(|t| ((*t).to_owned(), Team::Regular))
        .collect();
    estate(&w, &teams).await;
    let run = discover(&w, &["--prefer-identity"]).await;
    run.success()
        .stderr_contains("shows the move to identities");
    let spec = std::fs::read_to_string(w.path("spec.yaml")).expect("spec");
    assert!(spec.contains("identity: system_assigned"), "{spec}");
    assert!(
        spec.contains("attachment: \"{each}-smallpool-mi\""),
        "{spec}"
    );
    assert!(!spec.contains("\nlinks:"), "no link left: {spec}");
    assert!(spec.contains("removed:\n"), "{spec}");

    let plan = w.plan("spec.yaml", &["--detailed-exitcode"]).await;
    plan.exit(2);
    assert_eq!(
        plan.last_line(),
        "Plan: 8 to add, 0 to change, 0 to replace, 12 to destroy."
    );
    plan.stdout_contains(
        "# waits for: attachments.fraud-smallpool-mi, role_grants.fraud-smallpool-mi-spark",
    );

    w.clear_log().await;
    w.apply("spec.yaml", &[])
        .await
        .completes(&crate::world::summary("Apply complete", 8, 0, 12));
    let log = w.log().await;
    assert_made_before_broken(&log, &names, "small-spark", "small-spark-mi");
    w.plan("spec.yaml", &["--detailed-exitcode"])
        .await
        .no_changes("after the migration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manage_workspaces_describes_them_in_full_and_still_plans_no_changes() {
    let w = World::new().await;
    let b = Builder::new(&w).await;
    b.arm.resource_group(RG).await;
    // A Synapse workspace with what a managed one needs, and a pool.
    let syn = format!("{}?api-version=2021-06-01", synapse_id(RG, SYN));
    let a = b
        .arm
        .put(
            &syn,
            json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                "tags": {"owner": "data-platform"},
                "properties": {
                    "defaultDataLakeStorage": {"accountUrl": "https://lake.dfs.core.windows.net", "filesystem": "synapse"},
                    "sqlAdministratorLogin": "sqladmin",
                    "sqlAdministratorLoginPassword": "Not-a-secret-1"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{a:?}");
    b.arm
        .wait_async(&a.header("azure-asyncoperation").expect("async"))
        .await;
    b.arm.pool(RG, SYN, "smallpool").await;
    // AML workspaces with their storage, key vault and insights, as the portal makes them.
    let dep = |kind: &str, name: &str| {
        format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/{kind}/{name}")
    };
    for t in ["fraud", "churn", "forecast"] {
        let ml = format!("mlw-{t}");
        let a = b
            .arm
            .put(
                &format!("{}?api-version=2024-10-01", ml_id(RG, &ml)),
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                    "sku": {"name": "Basic", "tier": "Basic"},
                    "properties": {
                        "friendlyName": ml,
                        "storageAccount": dep("Microsoft.Storage/storageAccounts", &format!("st{t}")),
                        "keyVault": dep("Microsoft.KeyVault/vaults", &format!("kv-{t}")),
                        "applicationInsights": dep("Microsoft.Insights/components", &format!("ai-{t}"))}}),
            )
            .await;
        // workspaceRP.json (2024-10-01): a create answers 202 (no body).
        assert_eq!(a.status, 202, "{a:?}");
        b.arm
            .wait_async(&a.header("azure-asyncoperation").expect("async"))
            .await;
        let principal = b.link(&ml).await;
        b.grant(&principal).await;
        b.attach(&ml, "small-spark", "smallpool", false).await;
    }
    discover(&w, &["--manage-workspaces"]).await.success();
    let spec = std::fs::read_to_string(w.path("spec.yaml")).expect("spec");
    assert!(!spec.contains("existing: true"), "{spec}");
    for needle in [
        "    storage_account: \"/subscriptions/",
        "    sql_admin_login: sqladmin\n",
        "      account_url: \"https://lake.dfs.core.windows.net\"\n",
        "    node_size: Medium\n",
        "    tags: { owner: data-platform }\n",
    ] {
        assert!(spec.contains(needle), "no {needle:?} in\n{spec}");
    }
    w.run(["validate", "-f", &w.arg("spec.yaml")])
        .await
        .success();
    w.plan("spec.yaml", &["--detailed-exitcode"])
        .await
        .no_changes("a discovered estate with its workspaces managed");
}

/// The lines above what discover writes in `examples/discovered.yaml`.
const DISCOVERED_INTRO: &str = "# yaml-language-server: $schema=../schemas/spec.schema.json
#
# What `synlink discover --subscription 00000000-0000-0000-0000-0000000000a1` writes for an
# estate made by hand: five AML workspaces linked to one Synapse workspace. Three teams share
# one shape and are folded into `for_each` over the `teams` variable; `vision`'s link has no
# grant and `research`'s compute attaches a pool that was deleted, so both are written out
# with a comment, the compute commented out. A test rebuilds this estate in the emulator and
# checks that discover writes exactly this file (below this header), and that `synlink plan`
# on it says `No changes.`. Regenerate it with
# `SYNLINK_UPDATE_EXAMPLES=1 cargo test --test it discover::the_discovered_example`.
#
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_discovered_example_is_what_discover_writes_and_plans_no_changes() {
    let w = World::new().await;
    let teams: Vec<(String, Team)> = [
        ("fraud", Team::Regular),
        ("churn", Team::Regular),
        ("forecast", Team::Regular),
        ("vision", Team::NoGrant),
        ("research", Team::PoolGone),
    ]
    .iter()
    .map(|(t, s)| ((*t).to_owned(), *s))
    .collect();
    estate(&w, &teams).await;
    discover(&w, &[]).await.success();
    let written = std::fs::read_to_string(w.path("spec.yaml")).expect("spec");
    let example = format!("{DISCOVERED_INTRO}{written}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/discovered.yaml");
    if std::env::var_os("SYNLINK_UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, &example).expect("write the example");
    }
    let shipped = World::example_text("discovered.yaml");
    assert_eq!(
        shipped, example,
        "examples/discovered.yaml is not what discover writes; regenerate it with \
         SYNLINK_UPDATE_EXAMPLES=1 cargo test --test it discover::the_discovered_example"
    );
    let spec = w.example("discovered.yaml");
    w.plan(&spec, &["--detailed-exitcode"])
        .await
        .no_changes("the discovered example, with the state discover wrote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_migration_example_makes_before_it_breaks() {
    let w = World::new().await;
    let b = Builder::new(&w).await;
    b.shared(&["mediumpool"]).await;
    let teams = ["fraud", "churn", "forecast"];
    for t in teams {
        b.arm.ml_workspace(RG, &format!("mlw-{t}")).await;
    }
    // The linked-service path, as bulk linking made it.
    let before = format!(
        "version: 1
defaults: {{ subscription: {SUB}, resource_group: {RG}, location: westeurope }}
ml_workspaces:
  \"team-{{each}}\": {{ for_each: [fraud, churn, forecast], name: \"mlw-{{each}}\", existing: true }}
synapse_workspaces:
  shared: {{ name: {SYN}, existing: true }}
spark_pools:
  medium: {{ synapse_workspace: shared, name: mediumpool, existing: true }}
links:
  \"team-{{each}}\": {{ for_each: [fraud, churn, forecast], ml_workspace: \"team-{{each}}\", synapse_workspace: shared, name: synapselink1 }}
role_grants:
  \"team-{{each}}-spark\":
    for_each: [fraud, churn, forecast]
    synapse_workspace: shared
    role: Apache Spark Administrator
    principal: {{ link: \"team-{{each}}\" }}
attachments:
  \"team-{{each}}-medium\": {{ for_each: [fraud, churn, forecast], ml_workspace: \"team-{{each}}\", spark_pool: medium, name: medium-spark }}
"
    );
    w.write("before.yaml", &before);
    w.apply("before.yaml", &[]).await.success();
    let spec = w.example("migrate-to-identity.yaml");
    let plan = w.plan(&spec, &["--detailed-exitcode"]).await;
    plan.exit(2).stdout_contains(
        "# waits for: attachments.team-fraud-medium-mi, role_grants.team-fraud-medium-mi-spark",
    );
    assert_eq!(
        plan.last_line(),
        "Plan: 6 to add, 0 to change, 0 to replace, 9 to destroy."
    );
    w.clear_log().await;
    w.apply(&spec, &[])
        .await
        .completes(&crate::world::summary("Apply complete", 6, 0, 9));
    assert_made_before_broken(&w.log().await, &teams, "medium-spark", "medium-spark-mi");
    w.plan(&spec, &["--detailed-exitcode"])
        .await
        .no_changes("after the migration example");
}

#[tokio::test]
async fn a_synapse_workspace_outside_the_resource_groups_read_is_read_by_id() {
    let w = World::new().await;
    let api = w.api();
    api.resource_group("rg-ml").await;
    api.resource_group(RG).await;
    api.synapse_workspace(RG, SYN).await;
    api.pool(RG, SYN, "smallpool").await;
    let b = Builder::new(&w).await;
    for t in ["a", "b"] {
        let ml = format!("mlw-{t}");
        api.ml_workspace("rg-ml", &ml).await;
        let a = api
            .put(
                &format!(
                    "{}/linkedServices/synapselink1?api-version=2020-09-01-preview",
                    ml_id("rg-ml", &ml)
                ),
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                    "properties": {"linkedServiceResourceId": synapse_id(RG, SYN), "linkType": "Synapse"}}),
            )
            .await;
        assert_eq!(a.status, 200, "{a:?}");
        b.grant(str_of(&a.body["identity"], "principalId")).await;
    }
    w.clear_log().await;
    discover(&w, &["--resource-group", "rg-ml"]).await.success();
    let log = w.log().await;
    let item_reads: Vec<&str> = log
        .iter()
        .map(|r| str_of(r, "path"))
        .filter(|p| collection(p) == SYN)
        .collect();
    assert_eq!(
        item_reads.len(),
        1,
        "one GET of the Synapse workspace: {log:#?}"
    );
    // 2 lists in the group, 2 per AML workspace, the workspace's GET, its pools and assignments.
    assert_eq!(log.len(), 2 + 2 * 2 + 1 + 2, "{log:#?}");
    let spec = std::fs::read_to_string(w.path("spec.yaml")).expect("spec");
    assert!(spec.contains("  resource_group: rg-ml\n"), "{spec}");
    assert!(
        spec.contains(&format!("    resource_group: {RG}\n")),
        "{spec}"
    );
    w.plan("spec.yaml", &["--detailed-exitcode"])
        .await
        .no_changes("a discovery limited to one resource group");
}
