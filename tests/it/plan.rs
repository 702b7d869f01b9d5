//! `synlink plan` end to end: the real binary against an in-process emulator over
//! HTTP, authenticated as a real Azure client is, through the emulator's App
//! Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
//! Every resource a test needs is made directly in the emulator over raw HTTP,
//! as another tool would, before synlink reads it.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::emulator::support::{
    compute_path, link_path, pool_body, pool_path, synapse_id, SUB, SYNAPSE,
};
use crate::world::{files_under, Run, World};

/// The object id of the group granted `Synapse User` in attach-with-identity.yaml.
const DATA_TEAM: &str = "11111111-2222-3333-4444-555555555555";

/// `plan -f SPEC --state DIR/state.json --arm-endpoint URL --lock-timeout 30 ARGS…`:
/// plans of one world may run at once, each waiting for the state lock.
fn plan_args(w: &World, spec: &Path, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--lock-timeout", "30"];
    all.extend_from_slice(args);
    w.cloud_args(&["plan"], spec, &all)
}

/// `synlink plan` as the bootstrap principal.
async fn plan(w: &World, spec: &Path, args: &[&str]) -> Run {
    w.run(plan_args(w, spec, args)).await
}

/// `synlink plan` as `principal`, named to the managed-identity endpoint.
async fn plan_as(w: &World, principal: &str, spec: &Path, args: &[&str]) -> Run {
    w.synlink(plan_args(w, spec, args))
        .principal(principal)
        .run()
        .await
}

/// A Spark pool made by hand, waiting for it.
async fn put_pool(w: &World, rg: &str, ws: &str, pool: &str, node_size: &str) {
    let path = pool_path(rg, ws, pool);
    let mut body = pool_body();
    body["properties"]["nodeSize"] = json!(node_size);
    let a = w.api().put(&path, body).await;
    assert!(a.status == 200 || a.status == 202, "{a:?}");
    if let Some(op) = a.header("azure-asyncoperation") {
        assert_eq!(w.api().wait_async(&op).await["status"], "Succeeded");
    }
}

/// A linked service made by hand; returns its identity's principal id.
async fn put_link(w: &World, rg: &str, ml: &str, name: &str, syn_rg: &str, syn: &str) -> String {
    let a = w
        .api()
        .put(
            &link_path(rg, ml, name),
            json!({"name": name, "location": "westeurope",
                   "identity": {"type": "SystemAssigned"},
                   "properties": {"linkedServiceResourceId": synapse_id(syn_rg, syn),
                                  "linkType": "Synapse"}}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
    a.body["identity"]["principalId"]
        .as_str()
        .expect("the link has an identity")
        .to_owned()
}

/// A Synapse Spark compute made by hand; returns its identity's principal id, if any.
async fn put_compute(
    w: &World,
    rg: &str,
    ml: &str,
    name: &str,
    pool_id: &str,
    system_identity: bool,
) -> Option<String> {
    let path = compute_path(rg, ml, name);
    let mut body = json!({"location": "westeurope",
                          "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}});
    if system_identity {
        body["identity"] = json!({"type": "SystemAssigned"});
    }
    let a = w.api().put(&path, body).await;
    assert!(a.status == 201 || a.status == 200, "{a:?}");
    if let Some(op) = a.header("azure-asyncoperation") {
        assert_eq!(w.api().wait_async(&op).await["status"], "Succeeded");
    }
    let got = w.api().get(&path).await;
    got.body["identity"]["principalId"]
        .as_str()
        .map(str::to_owned)
}

/// A Synapse role assignment made by hand on the data plane.
async fn put_grant(
    w: &World,
    ws: &str,
    role_name: &str,
    principal: &str,
    scope: &str,
    ptype: &str,
) {
    let syn = w.api_as(None, SYNAPSE).await;
    let dev = format!("{}/_synapse/{ws}", w.url());
    let role_id = w.synapse_role_id(ws, role_name).await;
    let a = syn
        .put(
            &format!(
                "{dev}/roleAssignments/{}?api-version=2020-12-01",
                uuid::Uuid::new_v4()
            ),
            json!({"roleId": role_id, "principalId": principal, "scope": scope,
                   "principalType": ptype}),
        )
        .await;
    assert_eq!(a.status, 200, "{a:?}");
}

/// Adds a replicated directory principal with one ARM role at the subscription.
async fn principal_with(w: &World, arm_role: &str) -> String {
    let oid = uuid::Uuid::new_v4().to_string();
    w.control(
        "POST",
        "principals",
        Some(json!({"objectId": oid, "displayName": "ci", "principalType": "ServicePrincipal", "replicated": true})),
    )
    .await;
    w.control(
        "POST",
        "role-assignments",
        Some(json!({"plane": "arm", "scope": format!("/subscriptions/{SUB}"), "role": arm_role, "principalId": oid})),
    )
    .await;
    oid
}

fn plan_line(add: usize, change: usize, replace: usize, destroy: usize) -> String {
    format!("Plan: {add} to add, {change} to change, {replace} to replace, {destroy} to destroy.")
}

/// The count line of a plan that also adopts existing resources into the state.
fn plan_line_adopting(add: usize, change: usize, destroy: usize, adopt: usize) -> String {
    format!("Plan: {add} to add, {change} to change, 0 to replace, {destroy} to destroy, {adopt} to adopt.")
}

/// Asserts a fresh plan: exit 0, the exact count line, one `+` block per address.
fn assert_creates(run: &Run, addresses: &[String]) {
    assert_creates_adopting(run, addresses, &[]);
}

/// As `assert_creates`, for a plan that also adopts `adopted` (what exists
/// and matches the spec but is not in the state): a `<= adopt` each, counted.
fn assert_creates_adopting(run: &Run, addresses: &[String], adopted: &[&str]) {
    run.success();
    let line = if adopted.is_empty() {
        plan_line(addresses.len(), 0, 0, 0)
    } else {
        plan_line_adopting(addresses.len(), 0, 0, adopted.len())
    };
    assert_eq!(run.last_line(), line, "{run:#?}");
    let mut want_adopted = strings(adopted);
    want_adopted.sort();
    assert_eq!(run.adopted(), want_adopted, "{}", run.stdout);
    let mut created = run.blocks("+");
    created.sort();
    let mut want = addresses.to_vec();
    want.sort();
    assert_eq!(created, want, "{}", run.stdout);
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const VISION_MANAGED: &[&str] = &[
    "attachments.vision-medium",
    "role_grants.vision-medium-spark",
    "role_grants.data-team-users",
];

// ---------------------------------------------------------------------------
// 1. A fresh environment plans every create of each example.

#[tokio::test]
async fn fresh_attach_with_identity_plans_every_create() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    let run = plan(&w, &spec, &[]).await;
    assert_creates(&run, &strings(VISION_MANAGED));
}

#[tokio::test]
async fn fresh_existing_workspaces_plans_every_create_and_warns_about_the_link() {
    let w = World::new().await;
    w.research().await;
    let spec = w.example("existing-workspaces.yaml");
    let run = plan(&w, &spec, &[]).await;
    assert_creates(
        &run,
        &strings(&[
            "links.research",
            "role_grants.research-spark",
            "attachments.research-small",
            "attachments.research-large",
        ]),
    );
    assert!(
        run.stdout.contains("links.research") && run.stdout.contains("Warnings:"),
        "a new link is warned about: {}",
        run.stdout
    );
}

#[tokio::test]
async fn fresh_quickstart_against_an_endpoint_plans_every_create() {
    let w = World::new().await;
    // `cloud: local` in the file; --arm-endpoint wins, so this emulator is read.
    let spec = w.example("quickstart.yaml");
    w.clear_log().await;
    let run = plan(&w, &spec, &[]).await;
    assert_creates(
        &run,
        &strings(&[
            "ml_workspaces.main",
            "synapse_workspaces.analytics",
            "spark_pools.small",
            "role_grants.main-spark",
            "attachments.main-small",
        ]),
    );
    assert!(
        !w.log().await.is_empty(),
        "the plan read this emulator, not an embedded one"
    );
    assert!(
        !w.path(".synlink/local-cloud").exists(),
        "no local cloud was started"
    );
    assert_eq!(w.writes().await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------
// 2. Resources made by hand are adopted, or shown as drift.

#[tokio::test]
async fn hand_made_link_attachment_and_grant_are_adopted() {
    let w = World::new().await;
    w.research().await;
    // Another tool spells the Synapse workspace's id in its own case: ids are
    // compared case-insensitively.
    let principal = put_link(
        &w,
        "rg-analytics",
        "mlw-research",
        "synapselink1",
        "RG-Synapse",
        "SYN-SHARED-PROD",
    )
    .await;
    let small = format!(
        "{}/bigDataPools/smallpool",
        synapse_id("rg-synapse", "syn-shared-prod")
    );
    put_compute(
        &w,
        "rg-analytics",
        "mlw-research",
        "small-spark",
        &small,
        false,
    )
    .await;
    let spec = w.example("existing-workspaces.yaml");
    let run = plan(&w, &spec, &[]).await;
    // The link and the small attachment exist as the spec says: adopted, not created.
    assert_creates_adopting(
        &run,
        &strings(&["role_grants.research-spark", "attachments.research-large"]),
        &["attachments.research-small", "links.research"],
    );
    // Now the link's identity is known, its grant shows it, not (known after apply).
    run.stdout_contains(&principal);

    // The grant made by hand with the same (scope, role, principal) is adopted too.
    put_grant(
        &w,
        "syn-shared-prod",
        "Apache Spark Administrator",
        &principal,
        "workspaces/syn-shared-prod",
        "ServicePrincipal",
    )
    .await;
    let run = plan(&w, &spec, &[]).await;
    assert_creates_adopting(
        &run,
        &strings(&["attachments.research-large"]),
        &[
            "attachments.research-small",
            "links.research",
            "role_grants.research-spark",
        ],
    );
}

#[tokio::test]
async fn hand_made_pool_of_another_size_is_an_update_of_node_size_only() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    put_pool(&w, "rg-analytics", "syn-shared-prod", "mediumpool", "Large").await;
    let spec = w.write("synlink.yaml", pool_spec(""));
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    run.exit(2);
    assert_eq!(
        run.marked(),
        strings(&[
            "~ spark_pools.medium {",
            "~ node_size = \"Large\" -> \"Medium\""
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(run.last_line(), plan_line(0, 1, 0, 0));
}

/// A spec of an existing Synapse workspace and a managed pool matching `pool_body`.
fn pool_spec(extra: &str) -> String {
    format!(
        r#"version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
synapse_workspaces:
  shared:
    name: syn-shared-prod
    existing: true
spark_pools:
  medium:
    synapse_workspace: shared
    name: mediumpool
    node_size: Medium
    node_size_family: MemoryOptimized
    spark_version: "3.4"
    autoscale: {{ min: 3, max: 10 }}
    auto_pause_minutes: 15
{extra}"#
    )
}

/// attach-with-identity.yaml with the pool managed instead of a data source.
fn vision_spec() -> String {
    pool_spec(&format!(
        r"ml_workspaces:
  vision:
    name: mlw-vision
    existing: true
attachments:
  vision-medium:
    ml_workspace: vision
    spark_pool: medium
    name: medium-spark
    identity: system_assigned
role_grants:
  vision-medium-spark:
    synapse_workspace: shared
    role: Synapse Apache Spark Administrator
    principal: {{ attachment: vision-medium }}
  data-team-users:
    synapse_workspace: shared
    role: Synapse User
    scope: {{ spark_pool: medium }}
    principal: {{ object_id: {DATA_TEAM}, type: Group }}
"
    ))
}

/// Everything of `vision_spec` made by hand, as the spec says.
async fn vision_by_hand(w: &World) {
    w.api().resource_group("rg-analytics").await;
    w.api().ml_workspace("rg-analytics", "mlw-vision").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    put_pool(w, "rg-analytics", "syn-shared-prod", "mediumpool", "Medium").await;
    let pool = format!(
        "{}/bigDataPools/mediumpool",
        synapse_id("rg-analytics", "syn-shared-prod")
    );
    let compute = put_compute(w, "rg-analytics", "mlw-vision", "medium-spark", &pool, true)
        .await
        .expect("the compute has its own identity");
    put_grant(
        w,
        "syn-shared-prod",
        "Apache Spark Administrator",
        &compute,
        "workspaces/syn-shared-prod",
        "ServicePrincipal",
    )
    .await;
    put_grant(
        w,
        "syn-shared-prod",
        "Synapse User",
        DATA_TEAM,
        "workspaces/syn-shared-prod/bigDataPools/mediumpool",
        "Group",
    )
    .await;
}

#[tokio::test]
async fn hand_made_grant_to_an_object_id_is_not_created_again() {
    let w = World::new().await;
    w.vision().await;
    // One assignment per page: the grant is found on the second page (the
    // workspace's creator, Synapse Administrator, is on the first).
    w.control("PUT", "faults", Some(json!({"synapsePageSize": 1})))
        .await;
    put_grant(
        &w,
        "syn-shared-prod",
        "Synapse User",
        DATA_TEAM,
        "workspaces/syn-shared-prod/bigDataPools/mediumpool",
        "Group",
    )
    .await;
    let spec = w.example("attach-with-identity.yaml");
    let run = plan(&w, &spec, &[]).await;
    assert_creates_adopting(
        &run,
        &strings(&[
            "attachments.vision-medium",
            "role_grants.vision-medium-spark",
        ]),
        &["role_grants.data-team-users"],
    );
}

// ---------------------------------------------------------------------------
// 3. No changes, then one changed property.

#[tokio::test]
async fn everything_made_by_hand_is_no_changes_then_a_pool_resize_exits_2() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", vision_spec());
    w.clear_log().await;
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    run.success();
    // Nothing to change in Azure; what exists is adopted into the state, visibly.
    assert_eq!(run.last_line(), plan_line_adopting(0, 0, 0, 4), "{run:#?}");
    assert_eq!(run.marked(), Vec::<String>::new(), "{}", run.stdout);
    assert_eq!(w.writes().await, Vec::<String>::new());

    put_pool(
        &w,
        "rg-analytics",
        "syn-shared-prod",
        "mediumpool",
        "XLarge",
    )
    .await;
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    run.exit(2);
    assert_eq!(
        run.marked(),
        strings(&[
            "~ spark_pools.medium {",
            "~ node_size = \"XLarge\" -> \"Medium\""
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(run.last_line(), plan_line_adopting(0, 1, 0, 3));
    // Without --detailed-exitcode a plan with changes is a success.
    let run = plan(&w, &spec, &[]).await;
    run.success();
}

// ---------------------------------------------------------------------------
// 4. Failures before any write.

#[tokio::test]
async fn a_missing_data_source_fails_naming_it_before_any_write() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api().ml_workspace("rg-analytics", "mlw-research").await;
    // No Synapse workspace, no pools.
    let spec = w.example("existing-workspaces.yaml");
    w.clear_log().await;
    let run = plan(&w, &spec, &[]).await;
    run.exit(1)
        .stderr_contains("error: synapse_workspaces.shared: data source not found")
        .stderr_contains(&synapse_id("rg-synapse", "syn-shared-prod"))
        .stderr_contains("error: spark_pools.small: data source not found")
        .stderr_contains("error: spark_pools.large: data source not found");
    assert_eq!(run.stdout, "", "no plan is printed");
    assert!(!w.log().await.is_empty(), "Azure was read");
    assert_eq!(w.writes().await, Vec::<String>::new());
}

/// A spec that creates one link (the legacy path) on data sources.
fn link_spec() -> String {
    format!(
        r"version: 1
defaults:
  subscription: {SUB}
  resource_group: rg-analytics
  location: westeurope
ml_workspaces:
  research:
    name: mlw-research
    existing: true
synapse_workspaces:
  shared:
    name: syn-shared-prod
    resource_group: rg-synapse
    existing: true
links:
  research:
    ml_workspace: research
    synapse_workspace: shared
    name: synapselink1
"
    )
}

#[tokio::test]
async fn creating_a_link_as_contributor_fails_before_any_write() {
    let w = World::new().await;
    w.research().await;
    let contributor = principal_with(&w, "Contributor").await;
    let spec = w.write("synlink.yaml", link_spec());
    w.clear_log().await;
    let run = plan_as(&w, &contributor, &spec, &[]).await;
    run.exit(1)
        .stderr_contains("error: links.research: the caller")
        .stderr_contains("not Owner on Synapse workspace `synapse_workspaces.shared`")
        .stderr_contains(&contributor);
    run.stderr_contains("nothing was written");
    let log = w.log().await;
    assert!(
        log.iter()
            .all(|r| r["principal"].as_str() == Some(contributor.as_str())),
        "synlink called as the principal the MI endpoint named: {log:#?}"
    );
    assert!(!log.is_empty());
    assert_eq!(w.writes().await, Vec::<String>::new());

    // The bootstrap principal (Owner) plans the same spec.
    let run = plan(&w, &spec, &[]).await;
    assert_creates(&run, &strings(&["links.research"]));

    // The whole example (a link, a grant to it, two attachments) as Contributor.
    let spec = w.example("existing-workspaces.yaml");
    w.clear_log().await;
    let run = plan_as(&w, &contributor, &spec, &[]).await;
    run.exit(1)
        .stderr_contains("synapse_workspaces.shared")
        .stderr_contains("Owner");
    assert_eq!(run.stdout, "");
    assert_eq!(w.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn writing_grants_without_owner_or_synapse_administrator_fails_before_any_write() {
    let w = World::new().await;
    w.vision().await;
    let reader = principal_with(&w, "Reader").await;
    // Able to read the workspace's RBAC, not to write it.
    w.control(
        "POST",
        "role-assignments",
        Some(json!({"plane": "synapse", "workspace": "syn-shared-prod", "role": "Synapse User",
                    "principalId": reader, "scope": "workspaces/syn-shared-prod", "immediate": true})),
    )
    .await;
    let spec = w.example("attach-with-identity.yaml");
    w.clear_log().await;
    let run = plan_as(&w, &reader, &spec, &[]).await;
    run.exit(1)
        .stderr_contains("error: role_grants.")
        .stderr_contains("in `synapse_workspaces.shared`")
        .stderr_contains("Synapse Administrator");
    assert_eq!(run.stdout, "");
    assert_eq!(w.writes().await, Vec::<String>::new());
}

// ---------------------------------------------------------------------------
// 5. Request count of a bulk refresh.

#[tokio::test]
#[allow(
    clippy::print_stdout,
    reason = "the count is the point: see it with --nocapture"
)]
async fn bulk_refresh_costs_at_most_three_requests_per_team() {
    const TEAMS: usize = 50;
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.api()
        .pool("rg-analytics", "syn-shared-prod", "sharedpool")
        .await;
    let mut set = tokio::task::JoinSet::new();
    for i in 1..=TEAMS {
        let api = w.api().clone();
        set.spawn(async move {
            api.ml_workspace("rg-analytics", &format!("mlw-team{i:02}"))
                .await
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("workspace made");
    }
    let spec = w.example("bulk.yaml");
    w.clear_log().await;
    let run = plan(&w, &spec, &["-v"]).await;
    let requests = w.log().await;
    println!(
        "bulk.yaml refresh ({TEAMS} teams): {} requests to the emulator",
        requests.len()
    );
    let mut want = Vec::new();
    for i in 1..=TEAMS {
        want.push(format!("links.team{i:02}"));
        want.push(format!("role_grants.team{i:02}-spark"));
        want.push(format!("attachments.team{i:02}-shared"));
    }
    assert_creates(&run, &want);
    assert!(
        requests.len() <= 3 * TEAMS + 10,
        "{} requests: {:#?}",
        requests.len(),
        requests
            .iter()
            .map(|r| format!("{} {}", r["method"], r["path"]))
            .collect::<Vec<_>>()
    );
    // synlink's own count at -v agrees with the emulator's.
    run.stderr_contains(&format!("{} requests, 0 retries", requests.len()));
    assert_eq!(w.writes().await, Vec::<String>::new());

    // The markdown plan of 150 creates and 52 reads stays under the comment
    // limit, cut with a note that names the saved plan.
    let out = w.path("bulk.plan");
    let md_args = [
        "--format",
        "markdown",
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let md = plan(&w, &spec, &md_args).await;
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(md.stdout.len() <= 60_000, "{} bytes", md.stdout.len());
    assert!(md
        .stdout
        .starts_with("## synlink plan: 150 to add, 0 to change, 0 to replace, 0 to destroy\n"));
    if md.stdout.len() > 50_000 {
        assert!(md.stdout.contains("bulk.plan"), "the cut names --out");
    }
    let saved = synlink::plan::file::read(&out).expect("a plan");
    assert_eq!(
        saved
            .changes
            .iter()
            .filter(|c| c.action == synlink::plan::Action::Create)
            .count(),
        150
    );
}

// ---------------------------------------------------------------------------
// 6. Formats.

/// Uuids that are the same in every run: the subscription, the group of the
/// spec, and Synapse's built-in role ids.
const STABLE_UUIDS: &[&str] = &[
    SUB,
    DATA_TEAM,
    "c3a6d2f1-a26f-4810-9b0f-591308d5cbf1",
    "2a385764-43e8-416c-9825-7b18d05a2c4b",
];

/// Replaces every uuid but the stable ones by `[UUID]`.
fn mask_uuids(text: &str) -> String {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let is_uuid = |s: &str| {
        s.len() == 36
            && s.split('-').map(str::len).eq(GROUPS)
            && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let candidate = text.get(i..i + 36).filter(|s| is_uuid(s));
        let boundary = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_hexdigit());
        match candidate {
            Some(u)
                if boundary(text[..i].chars().last())
                    && boundary(text[i + 36..].chars().next()) =>
            {
                if STABLE_UUIDS.iter().any(|s| s.eq_ignore_ascii_case(u)) {
                    out.push_str(u);
                } else {
                    out.push_str("[UUID]");
                }
                i += 36;
            }
            _ => {
                let c = text[i..].chars().next().expect("a char");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// Replaces what differs from run to run (or with the version or the example's
/// text) by placeholders.
/// `text` with plan digests (full, and the 12-digit short form) masked.
fn mask_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("sha256:").or_else(|| rest.find("\"digest\": \"")) {
        let head = if rest[i..].starts_with("sha256:") {
            7
        } else {
            11
        };
        out.push_str(&rest[..i + head]);
        rest = &rest[i + head..];
        let hex = rest.chars().take_while(char::is_ascii_hexdigit).count();
        if hex >= 12 {
            out.push_str("[DIGEST]");
        }
        rest = &rest[hex..];
    }
    out.push_str(rest);
    out
}

fn stable(text: &str, w: &World, spec_hash: &str) -> String {
    let text = mask_digests(text);
    let mut out = text
        .replace(&w.url(), "[URL]")
        .replace(&w.dir().display().to_string(), "[DIR]")
        .replace(
            &format!("\"synlink_version\": \"{}\"", env!("CARGO_PKG_VERSION")),
            "\"synlink_version\": \"[VERSION]\"",
        );
    if !spec_hash.is_empty() {
        out = out.replace(spec_hash, "[SPEC_HASH]");
    }
    mask_uuids(&out)
}

#[tokio::test]
async fn json_and_markdown_plans_validate_and_match_their_snapshots() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    let (text, json_run, md) = tokio::join!(
        plan(&w, &spec, &[]),
        plan(&w, &spec, &["--format", "json"]),
        plan(&w, &spec, &["--format", "markdown"]),
    );
    for r in [&text, &json_run, &md] {
        r.success();
    }
    let plan: Value = serde_json::from_str(&json_run.stdout).expect("the JSON plan is JSON");
    let schema_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json"),
    )
    .expect("schema");
    let schema: Value = serde_json::from_str(&schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let creates: Vec<&str> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .filter_map(|c| c["address"].as_str())
        .collect();
    assert_eq!(creates.len(), VISION_MANAGED.len(), "{plan:#}");
    for c in VISION_MANAGED {
        assert!(creates.contains(c), "{c} in {creates:?}");
    }

    let first = md.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "## synlink plan: 3 to add, 0 to change, 0 to replace, 0 to destroy"
    );
    let table = md.stdout.find("| --- |").expect("a summary table");
    let details = md.stdout.find("<details>").unwrap_or(usize::MAX);
    assert!(table < details, "the summary table comes first");

    let hash = plan["spec_hash"].as_str().unwrap_or_default().to_owned();
    insta::assert_snapshot!("attach_with_identity_text", stable(&text.stdout, &w, &hash));
    insta::assert_snapshot!(
        "attach_with_identity_json",
        stable(&json_run.stdout, &w, &hash)
    );
    insta::assert_snapshot!(
        "attach_with_identity_markdown",
        stable(&md.stdout, &w, &hash)
    );
}

// ---------------------------------------------------------------------------
// 7. --out, --target, --refresh-only.

#[tokio::test]
async fn out_writes_a_private_plan_file_that_reads_back() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = World::new().await;
    w.research().await;
    let spec = w.example("existing-workspaces.yaml");
    let out = w.path("tfplan.synlink");
    let run = plan(&w, &spec, &["--out", out.to_str().expect("utf-8 path")]).await;
    run.success();
    let mode = std::fs::metadata(&out)
        .expect("plan file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    let plan = synlink::plan::file::read(&out).expect("a synlink plan");
    let mut addresses: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == synlink::plan::Action::Create)
        .map(|c| c.address.to_string())
        .collect();
    addresses.sort();
    assert_eq!(
        addresses,
        strings(&[
            "attachments.research-large",
            "attachments.research-small",
            "links.research",
            "role_grants.research-spark",
        ])
    );
    // The text plan and the saved plan agree.
    assert_eq!(run.last_line(), plan_line(4, 0, 0, 0));
}

#[tokio::test]
async fn target_limits_the_plan_to_links_and_what_they_need() {
    let w = World::new().await;
    w.research().await;
    let spec = w.example("existing-workspaces.yaml");
    let (links, grants) = tokio::join!(
        plan(&w, &spec, &["--target", "links.*"]),
        plan(&w, &spec, &["--target", "role_grants.*"]),
    );
    assert_creates(&links, &strings(&["links.research"]));
    // A grant to a link's identity needs the link.
    assert_creates(
        &grants,
        &strings(&["links.research", "role_grants.research-spark"]),
    );
}

/// A state that records `spark_pools.medium` of `pool_spec` as applied.
fn pool_state() -> String {
    let id = format!(
        "{}/bigDataPools/mediumpool",
        synapse_id("rg-analytics", "syn-shared-prod")
    );
    serde_json::to_string_pretty(&json!({
        "version": 1,
        "lineage": "6f1c2b1e-0000-4000-8000-000000000001",
        "serial": 3,
        "synlink_version": env!("CARGO_PKG_VERSION"),
        "resources": {
            "spark_pools.medium": {
                "kind": "spark_pool",
                "id": id,
                "existing": false,
                "properties": {
                    "location": "westeurope",
                    "node_size": "Medium",
                    "node_size_family": "MemoryOptimized",
                    "spark_version": "3.4",
                    "autoscale.min": 3,
                    "autoscale.max": 10,
                    "auto_pause_minutes": 15
                },
                "outputs": {}
            }
        }
    }))
    .expect("json")
}

#[tokio::test]
async fn refresh_only_prints_drift_and_changes_nothing() {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    put_pool(
        &w,
        "rg-analytics",
        "syn-shared-prod",
        "mediumpool",
        "Medium",
    )
    .await;
    let spec = w.write("synlink.yaml", pool_spec(""));
    let state = w.write("state.json", pool_state());
    let before = std::fs::read(&state).expect("state");
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 0, "as applied: {run:#?}");
    assert_eq!(run.last_line(), "No changes.");

    // Someone resizes the pool outside synlink.
    put_pool(&w, "rg-analytics", "syn-shared-prod", "mediumpool", "Large").await;
    w.clear_log().await;
    let run = plan(&w, &spec, &["--refresh-only", "--detailed-exitcode"]).await;
    assert_eq!(
        run.code, 2,
        "drift is a change for --detailed-exitcode: {run:#?}"
    );
    run.stdout_contains("Objects have changed outside of synlink");
    assert_eq!(
        run.marked(),
        strings(&[
            "~ spark_pools.medium {",
            "~ node_size = \"Medium\" -> \"Large\""
        ]),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("will be updated"),
        "refresh-only plans no change: {}",
        run.stdout
    );
    assert_eq!(
        run.last_line(),
        "Drift: 1 resource changed outside synlink."
    );
    assert_eq!(w.writes().await, Vec::<String>::new());
    assert_eq!(
        std::fs::read(&state).expect("state"),
        before,
        "state untouched"
    );

    // A normal plan shows the drift, then the change that undoes it.
    let run = plan(&w, &spec, &[]).await;
    run.success();
    let (drift, _) = run
        .stdout
        .split_once("synlink will perform")
        .expect("actions follow the drift");
    assert!(
        drift.contains("~ node_size") && drift.contains("\"Medium\" -> \"Large\""),
        "{drift}"
    );
    assert_eq!(
        run.marked(),
        strings(&[
            "~ spark_pools.medium {",
            "~ node_size = \"Large\" -> \"Medium\""
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(run.last_line(), plan_line(0, 1, 0, 0));
}

/// A state that also records a pool the spec no longer has.
fn two_pool_state() -> String {
    let mut state: Value = serde_json::from_str(&pool_state()).expect("json");
    let mut old = state["resources"]["spark_pools.medium"].clone();
    old["id"] = json!(format!(
        "{}/bigDataPools/oldpool",
        synapse_id("rg-analytics", "syn-shared-prod")
    ));
    state["resources"]["spark_pools.old"] = old;
    serde_json::to_string_pretty(&state).expect("json")
}

/// The state's `spark_pools.medium` is gone from Azure; its `spark_pools.old` is
/// still there but no longer in the spec.
async fn gone_and_removed() -> (World, PathBuf) {
    let w = World::new().await;
    w.api().resource_group("rg-analytics").await;
    w.api()
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    put_pool(&w, "rg-analytics", "syn-shared-prod", "oldpool", "Medium").await;
    // The pool is created again: on the runtime Azure creates pools on.
    let spec = w.write("synlink.yaml", pool_spec("").replace("\"3.4\"", "\"3.5\""));
    w.write("state.json", two_pool_state());
    (w, spec)
}

#[tokio::test]
async fn state_entries_gone_from_azure_are_recreated_and_removed_ones_destroyed() {
    let (w, spec) = gone_and_removed().await;
    w.clear_log().await;
    let (plan, destroy) = tokio::join!(plan(&w, &spec, &[]), plan(&w, &spec, &["--destroy"]));
    plan.success();
    assert_eq!(
        plan.blocks("+"),
        strings(&["spark_pools.medium"]),
        "{}",
        plan.stdout
    );
    assert_eq!(
        plan.blocks("-"),
        strings(&["spark_pools.old"]),
        "{}",
        plan.stdout
    );
    plan.stdout_contains("recorded in state but gone from Azure");
    assert_eq!(plan.last_line(), plan_line(1, 0, 0, 1));
    // Destroy: what is managed and exists; never a data source.
    destroy.success();
    assert_eq!(
        destroy.blocks("-"),
        strings(&["spark_pools.old"]),
        "{}",
        destroy.stdout
    );
    assert_eq!(destroy.blocks("+"), Vec::<String>::new());
    assert_eq!(destroy.last_line(), plan_line(0, 0, 0, 1));
    assert_eq!(w.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn refresh_only_reports_a_resource_deleted_outside_synlink() {
    let (w, spec) = gone_and_removed().await;
    let run = plan(&w, &spec, &["--refresh-only", "--detailed-exitcode"]).await;
    assert!(
        run.stdout.contains("# spark_pools.medium has been deleted"),
        "{run:#?}"
    );
    run.exit(2);
}

#[tokio::test]
async fn a_no_op_plan_with_data_sources_prints_only_no_changes() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", vision_spec());
    // The first plan adopts what was made by hand; data sources are not shown.
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    run.success();
    assert!(!run.stdout.contains("will be read"), "{run:#?}");
    assert_eq!(run.last_line(), plan_line_adopting(0, 0, 0, 4), "{run:#?}");
    w.apply(&spec, &[]).await.success();
    let run = plan(&w, &spec, &["--detailed-exitcode"]).await;
    run.success();
    assert_eq!(run.stdout.trim(), "No changes.", "{run:#?}");
}

// ---------------------------------------------------------------------------
// 8. No token anywhere; -v names the managed identity.

#[tokio::test]
async fn no_token_text_in_any_output_or_file_even_at_verbose() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", vision_spec());
    w.write("state.json", pool_state());
    let mut tokens = Vec::new();
    for r in [
        "https://management.azure.com",
        "https://dev.azuresynapse.net",
    ] {
        tokens.push(w.mi_token(r).await);
    }
    let out = w.path("tfplan.synlink");
    let out_arg = out.to_str().expect("utf-8").to_owned();
    let verbose_args = ["-v", "--out", out_arg.as_str()];
    let (verbose, json_run) = tokio::join!(
        plan(&w, &spec, &verbose_args),
        plan(&w, &spec, &["-vv", "--format", "json"]),
    );
    for r in [
        "https://management.azure.com",
        "https://dev.azuresynapse.net",
    ] {
        tokens.push(w.mi_token(r).await);
    }
    verbose.success();
    json_run.success();
    assert!(
        verbose
            .stderr
            .contains("credential: managed identity (IDENTITY_ENDPOINT)"),
        "-v names the answering credential: {}",
        verbose.stderr
    );
    let mut texts = vec![
        ("stdout -v".to_owned(), verbose.stdout.clone()),
        ("stderr -v".to_owned(), verbose.stderr.clone()),
        ("stdout -vv json".to_owned(), json_run.stdout.clone()),
        ("stderr -vv json".to_owned(), json_run.stderr.clone()),
    ];
    let files = files_under(w.dir());
    assert!(files.contains(&out), "{files:?}");
    assert!(files.contains(&w.path("state.json")), "{files:?}");
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).expect("file")).into_owned();
        texts.push((f.display().to_string(), text));
    }
    for (name, text) in &texts {
        for t in &tokens {
            let signature = t.rsplit('.').next().unwrap_or_default();
            assert!(!text.contains(t.as_str()), "a token in {name}");
            assert!(!text.contains(signature), "a token signature in {name}");
        }
        // Any JWT (a base64url JSON header) and the scheme word.
        assert!(!text.contains("eyJ"), "a JWT in {name}:\n{text}");
        assert!(!text.contains("Bearer"), "`Bearer` in {name}:\n{text}");
        assert!(!text.contains("bearer "), "`bearer` in {name}:\n{text}");
    }
}

#[tokio::test]
async fn a_failing_credential_chain_says_what_it_tried_in_one_message() {
    let w = World::new().await;
    w.vision().await;
    let spec = w.example("attach-with-identity.yaml");
    let secret = "not-the-emulator-header-3f9a";
    w.clear_log().await;
    let run = w
        .synlink(plan_args(&w, &spec, &[]))
        .env("IDENTITY_HEADER", secret)
        .run()
        .await;
    run.exit(1);
    for tried in [
        "service principal secret",
        "workload identity",
        "managed identity",
    ] {
        assert!(run.stderr.contains(tried), "{tried}: {}", run.stderr);
    }
    assert!(!run.stderr.contains(secret), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(w.log().await.len(), 0, "no cloud request without a token");
}

/// `--parallelism` is per subscription: ARM's budget is, so a spec spanning
/// two subscriptions reads both at once, each no more than N at a time.
#[tokio::test]
async fn parallelism_bounds_the_requests_on_the_wire_per_subscription() {
    const OTHER: &str = "00000000-0000-0000-0000-0000000000a2";
    let w = World::new().await;
    let api = w.api();
    let mut spec = String::from(
        "version: 1\ndefaults:\n  resource_group: rg-analytics\n  location: westeurope\nml_workspaces:\n",
    );
    for sub in [SUB, OTHER] {
        let rg = format!("/subscriptions/{sub}/resourcegroups/rg-analytics?api-version=2021-04-01");
        let a = api.put(&rg, json!({"location": "westeurope"})).await;
        assert!(a.status == 201 || a.status == 200, "{a:?}");
        for i in 0..4 {
            let name = format!("mlw-{}-{i}", &sub[sub.len() - 2..]);
            let path = format!("/subscriptions/{sub}/resourceGroups/rg-analytics/providers/Microsoft.MachineLearningServices/workspaces/{name}?api-version=2024-10-01");
            let a = api
                .put(
                    &path,
                    json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {}}),
                )
                .await;
            assert_eq!(a.status, 202, "{a:?}");
            let url = a.header("azure-asyncoperation").expect("async header");
            assert_eq!(api.wait_async(&url).await["status"], "Succeeded");
            spec.push_str(&format!(
                "  {name}:\n    name: {name}\n    subscription: \"{sub}\"\n    existing: true\n"
            ));
        }
    }
    let path = w.write("two-subscriptions.yaml", spec);
    // Every request takes 20 ms: requests on the wire at once show in the log.
    w.faults(json!({"latencyMs": 2000})).await;
    w.clear_log().await;
    plan(&w, &path, &["--parallelism", "1"]).await.success();
    let log = w.log().await;
    let of = |sub: &str| -> Vec<&Value> {
        log.iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
                    .starts_with(&format!("/subscriptions/{sub}/"))
            })
            .collect()
    };
    let (first, second) = (of(SUB), of(OTHER));
    assert_eq!((first.len(), second.len()), (4, 4), "{log:#?}");
    for reads in [&first, &second] {
        for (i, a) in reads.iter().enumerate() {
            for b in &reads[i + 1..] {
                assert!(
                    !crate::world::overlap(a, b),
                    "one subscription, two requests at once:\n{a:#}\n{b:#}"
                );
            }
        }
    }
    assert!(
        first
            .iter()
            .any(|a| second.iter().any(|b| crate::world::overlap(a, b))),
        "the two subscriptions were read at once: {log:#?}"
    );
}

/// A whole plan reads first what most of it waits on: the shared Synapse
/// workspace and its lists go before the teams' workspaces, not after them.
#[tokio::test]
async fn a_plan_reads_the_shared_synapse_workspace_before_the_teams() {
    let w = World::new().await;
    let t = crate::world::teams(30);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = crate::world::teams_var(&t);
    w.faults(json!({"latencyMs": 500})).await;
    w.clear_log().await;
    plan(&w, &spec, &["--var", &var]).await.success();
    let log = w.log().await;
    let start = |r: &Value| r["startMs"].as_u64().unwrap_or(0);
    let first = |op: &str| {
        log.iter()
            .filter(|r| r["operation"] == op)
            .map(start)
            .min()
            .unwrap_or_else(|| panic!("no {op} in {log:#?}"))
    };
    let last_team = log
        .iter()
        .filter(|r| r["operation"] == "GET Microsoft.MachineLearningServices/workspaces")
        .map(start)
        .max()
        .expect("the teams' workspaces were read");
    for shared in [
        "GET Microsoft.Synapse/workspaces",
        "GET Microsoft.Synapse/workspaces/bigDataPools (list)",
        "GET synapse:roleAssignments (list)",
    ] {
        assert!(
            first(shared) < last_team,
            "{shared} at {} ms, the last team's workspace at {last_team} ms",
            first(shared)
        );
    }
}
