//! `synlink plan` end to end: the real binary against an in-process emulator over
//! HTTP, authenticated as a real Azure client is, through the emulator's App
//! Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
//! Every resource a test needs is made directly in the emulator over raw HTTP,
//! as another tool would, before synlink reads it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use synlink_emulator::Emulator;

use crate::emulator::support::{
    self, ml_id, synapse_id, Api, SynlinkTestEnv, IDENTITY_HEADER, SUB, SYNAPSE,
};

const BIN: &str = env!("CARGO_BIN_EXE_synlink");
/// The object id of the group granted `Synapse User` in attach-with-identity.yaml.
const DATA_TEAM: &str = "11111111-2222-3333-4444-555555555555";

/// What one run of the binary printed.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The `+`/`~`/`-`/`-/+` lines of the text plan, whitespace folded.
    /// The marked lines of the planned actions (drift, shown above them, is not an action).
    fn marked(&self) -> Vec<String> {
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

    /// The addresses with a block that starts with `symbol`.
    fn blocks(&self, symbol: &str) -> Vec<String> {
        self.marked()
            .iter()
            .filter_map(|l| {
                l.strip_prefix(symbol)?
                    .strip_prefix(' ')?
                    .strip_suffix(" {")
                    .map(str::to_owned)
            })
            .collect()
    }

    fn last_line(&self) -> &str {
        self.stdout.trim_end().lines().last().unwrap_or_default()
    }
}

/// One emulator, one temporary directory with the spec and state, one bootstrap client.
struct World {
    emu: Emulator,
    api: Api,
    dir: tempfile::TempDir,
}

impl World {
    async fn new() -> World {
        let emu = support::start().await;
        let api = Api::bootstrap(&emu);
        World {
            emu,
            api,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn url(&self) -> String {
        self.emu.url()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    fn example(&self, name: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let text = std::fs::read_to_string(&src).expect("example exists");
        self.write(name, &text)
    }

    /// Runs `synlink plan -f SPEC --state DIR/state.json --arm-endpoint URL ARGS…`
    /// as the bootstrap principal (or `principal`, through the MI endpoint's query).
    async fn plan_as(&self, principal: Option<&str>, spec: &Path, args: &[&str]) -> Run {
        self.plan_with_header(principal, IDENTITY_HEADER, spec, args)
            .await
    }

    /// `plan_as` with this `IDENTITY_HEADER` secret.
    async fn plan_with_header(
        &self,
        principal: Option<&str>,
        header: &str,
        spec: &Path,
        args: &[&str],
    ) -> Run {
        let mut endpoint = format!("{}/_identity/msi", self.url());
        if let Some(p) = principal {
            endpoint.push_str(&format!("?principal_id={p}"));
        }
        let out = tokio::process::Command::new(BIN)
            .current_dir(self.dir.path())
            .arg("plan")
            .arg("-f")
            .arg(spec)
            .arg("--state")
            .arg(self.path("state.json"))
            .args(["--arm-endpoint", &self.url(), "--lock-timeout", "30"])
            .args(args)
            .test_env(&endpoint, header)
            .env_remove("CI")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .expect("synlink plan finishes within 60 s")
            .expect("the binary runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn plan(&self, spec: &Path, args: &[&str]) -> Run {
        self.plan_as(None, spec, args).await
    }

    async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let a = self
            .api
            .with_token(None)
            .send(method, &format!("/_emulator/{path}"), body)
            .await;
        assert!(a.status < 300, "{method} /_emulator/{path}: {a:?}");
        a.body
    }

    /// Empties the request log.
    async fn clear_log(&self) {
        self.control("DELETE", "requests", None).await;
    }

    /// The cloud requests (ARM and the Synapse data plane, not control or token
    /// requests) logged since the last clear.
    async fn log(&self) -> Vec<Value> {
        self.control("GET", "requests", None).await["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                let path = r["path"].as_str().unwrap_or_default();
                !path.starts_with("/_emulator/") && !path.starts_with("/_identity/")
            })
            .collect()
    }

    /// The writes (PUT/PATCH/DELETE/POST other than read-only POSTs) in the log.
    async fn writes(&self) -> Vec<String> {
        self.log()
            .await
            .iter()
            .filter(|r| matches!(r["method"].as_str(), Some("PUT" | "PATCH" | "DELETE")))
            .map(|r| format!("{} {}", r["method"], r["path"]))
            .collect()
    }

    /// A Spark pool made by hand, waiting for it.
    async fn put_pool(&self, rg: &str, ws: &str, pool: &str, node_size: &str) {
        let path = format!(
            "{}/bigDataPools/{pool}?api-version=2021-06-01",
            synapse_id(rg, ws)
        );
        let mut body = support::pool_body();
        body["properties"]["nodeSize"] = json!(node_size);
        let a = self.api.put(&path, body).await;
        assert!(a.status == 200 || a.status == 202, "{a:?}");
        if let Some(op) = a.header("azure-asyncoperation") {
            assert_eq!(self.api.wait_async(&op).await["status"], "Succeeded");
        }
    }

    /// A linked service made by hand; returns its identity's principal id.
    async fn put_link(&self, rg: &str, ml: &str, name: &str, syn_rg: &str, syn: &str) -> String {
        let a = self
            .api
            .put(
                &format!(
                    "{}/linkedServices/{name}?api-version=2020-09-01-preview",
                    ml_id(rg, ml)
                ),
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
        &self,
        rg: &str,
        ml: &str,
        name: &str,
        pool_id: &str,
        system_identity: bool,
    ) -> Option<String> {
        let path = format!("{}/computes/{name}?api-version=2023-04-01", ml_id(rg, ml));
        let mut body = json!({"location": "westeurope",
                              "properties": {"computeType": "SynapseSpark", "resourceId": pool_id}});
        if system_identity {
            body["identity"] = json!({"type": "SystemAssigned"});
        }
        let a = self.api.put(&path, body).await;
        assert!(a.status == 201 || a.status == 200, "{a:?}");
        if let Some(op) = a.header("azure-asyncoperation") {
            assert_eq!(self.api.wait_async(&op).await["status"], "Succeeded");
        }
        let got = self.api.get(&path).await;
        got.body["identity"]["principalId"]
            .as_str()
            .map(str::to_owned)
    }

    /// A Synapse role assignment made by hand on the data plane.
    async fn put_grant(
        &self,
        ws: &str,
        role_name: &str,
        principal: &str,
        scope: &str,
        ptype: &str,
    ) {
        let syn = Api::as_principal(&self.emu, &self.emu.bootstrap_principal(), SYNAPSE);
        let dev = format!("{}/_synapse/{ws}", self.url());
        let defs = syn
            .get(&format!("{dev}/roleDefinitions?api-version=2020-12-01"))
            .await;
        let role_id = defs
            .body
            .as_array()
            .expect("role definitions")
            .iter()
            .find(|d| d["name"] == role_name)
            .and_then(|d| d["id"].as_str())
            .expect("the role exists")
            .to_owned();
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

    /// The data sources of attach-with-identity.yaml.
    async fn vision(&self) {
        self.api.resource_group("rg-analytics").await;
        self.api.ml_workspace("rg-analytics", "mlw-vision").await;
        self.api
            .synapse_workspace("rg-analytics", "syn-shared-prod")
            .await;
        self.api
            .pool("rg-analytics", "syn-shared-prod", "mediumpool")
            .await;
    }

    /// The data sources of existing-workspaces.yaml.
    async fn research(&self) {
        self.api.resource_group("rg-analytics").await;
        self.api.resource_group("rg-synapse").await;
        self.api.ml_workspace("rg-analytics", "mlw-research").await;
        self.api
            .synapse_workspace("rg-synapse", "syn-shared-prod")
            .await;
        self.api
            .pool("rg-synapse", "syn-shared-prod", "smallpool")
            .await;
        self.api
            .pool("rg-synapse", "syn-shared-prod", "largepool")
            .await;
    }

    /// Adds a replicated directory principal with one ARM role at the subscription.
    async fn principal_with(&self, arm_role: &str) -> String {
        let oid = uuid::Uuid::new_v4().to_string();
        self.control(
            "POST",
            "principals",
            Some(json!({"objectId": oid, "displayName": "ci", "principalType": "ServicePrincipal", "replicated": true})),
        )
        .await;
        self.control(
            "POST",
            "role-assignments",
            Some(json!({"plane": "arm", "scope": format!("/subscriptions/{SUB}"), "role": arm_role, "principalId": oid})),
        )
        .await;
        oid
    }
}

fn plan_line(add: usize, change: usize, replace: usize, destroy: usize) -> String {
    format!("Plan: {add} to add, {change} to change, {replace} to replace, {destroy} to destroy.")
}

/// Asserts a fresh plan: exit 0, the exact count line, one `+` block per address.
fn assert_creates(run: &Run, addresses: &[String]) {
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.last_line(),
        plan_line(addresses.len(), 0, 0, 0),
        "{run:#?}"
    );
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
    let run = w.plan(&spec, &[]).await;
    assert_creates(&run, &strings(VISION_MANAGED));
}

#[tokio::test]
async fn fresh_existing_workspaces_plans_every_create_and_warns_about_the_link() {
    let w = World::new().await;
    w.research().await;
    let spec = w.example("existing-workspaces.yaml");
    let run = w.plan(&spec, &[]).await;
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
    let run = w.plan(&spec, &[]).await;
    assert_creates(
        &run,
        &strings(&[
            "ml_workspaces.main",
            "synapse_workspaces.analytics",
            "spark_pools.small",
            "links.main",
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
    let principal = w
        .put_link(
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
    w.put_compute("rg-analytics", "mlw-research", "small-spark", &small, false)
        .await;
    let spec = w.example("existing-workspaces.yaml");
    let run = w.plan(&spec, &[]).await;
    // The link and the small attachment exist as the spec says: adopted, not created.
    assert_creates(
        &run,
        &strings(&["role_grants.research-spark", "attachments.research-large"]),
    );
    // Now the link's identity is known, its grant shows it, not (known after apply).
    assert!(run.stdout.contains(&principal), "{}", run.stdout);

    // The grant made by hand with the same (scope, role, principal) is adopted too.
    w.put_grant(
        "syn-shared-prod",
        "Apache Spark Administrator",
        &principal,
        "workspaces/syn-shared-prod",
        "ServicePrincipal",
    )
    .await;
    let run = w.plan(&spec, &[]).await;
    assert_creates(&run, &strings(&["attachments.research-large"]));
}

#[tokio::test]
async fn hand_made_pool_of_another_size_is_an_update_of_node_size_only() {
    let w = World::new().await;
    w.api.resource_group("rg-analytics").await;
    w.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.put_pool("rg-analytics", "syn-shared-prod", "mediumpool", "Large")
        .await;
    let spec = w.write("synlink.yaml", &pool_spec(""));
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 2, "{run:#?}");
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
    w.api.resource_group("rg-analytics").await;
    w.api.ml_workspace("rg-analytics", "mlw-vision").await;
    w.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.put_pool("rg-analytics", "syn-shared-prod", "mediumpool", "Medium")
        .await;
    let pool = format!(
        "{}/bigDataPools/mediumpool",
        synapse_id("rg-analytics", "syn-shared-prod")
    );
    let compute = w
        .put_compute("rg-analytics", "mlw-vision", "medium-spark", &pool, true)
        .await
        .expect("the compute has its own identity");
    w.put_grant(
        "syn-shared-prod",
        "Apache Spark Administrator",
        &compute,
        "workspaces/syn-shared-prod",
        "ServicePrincipal",
    )
    .await;
    w.put_grant(
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
    w.put_grant(
        "syn-shared-prod",
        "Synapse User",
        DATA_TEAM,
        "workspaces/syn-shared-prod/bigDataPools/mediumpool",
        "Group",
    )
    .await;
    let spec = w.example("attach-with-identity.yaml");
    let run = w.plan(&spec, &[]).await;
    assert_creates(
        &run,
        &strings(&[
            "attachments.vision-medium",
            "role_grants.vision-medium-spark",
        ]),
    );
}

// ---------------------------------------------------------------------------
// 3. No changes, then one changed property.

#[tokio::test]
async fn everything_made_by_hand_is_no_changes_then_a_pool_resize_exits_2() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", &vision_spec());
    w.clear_log().await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.last_line(), "No changes.", "{run:#?}");
    assert_eq!(run.marked(), Vec::<String>::new(), "{}", run.stdout);
    assert_eq!(w.writes().await, Vec::<String>::new());

    w.put_pool("rg-analytics", "syn-shared-prod", "mediumpool", "XLarge")
        .await;
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert_eq!(
        run.marked(),
        strings(&[
            "~ spark_pools.medium {",
            "~ node_size = \"XLarge\" -> \"Medium\""
        ]),
        "{}",
        run.stdout
    );
    assert_eq!(run.last_line(), plan_line(0, 1, 0, 0));
    // Without --detailed-exitcode a plan with changes is a success.
    let run = w.plan(&spec, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
}

// ---------------------------------------------------------------------------
// 4. Failures before any write.

#[tokio::test]
async fn a_missing_data_source_fails_naming_it_before_any_write() {
    let w = World::new().await;
    w.api.resource_group("rg-analytics").await;
    w.api.ml_workspace("rg-analytics", "mlw-research").await;
    // No Synapse workspace, no pools.
    let spec = w.example("existing-workspaces.yaml");
    w.clear_log().await;
    let run = w.plan(&spec, &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("error: synapse_workspaces.shared: data source not found")
            && run
                .stderr
                .contains(&synapse_id("rg-synapse", "syn-shared-prod"))
            && run
                .stderr
                .contains("error: spark_pools.small: data source not found")
            && run
                .stderr
                .contains("error: spark_pools.large: data source not found"),
        "{}",
        run.stderr
    );
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
    let contributor = w.principal_with("Contributor").await;
    let spec = w.write("synlink.yaml", &link_spec());
    w.clear_log().await;
    let run = w.plan_as(Some(&contributor), &spec, &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("error: links.research: the caller")
            && run
                .stderr
                .contains("not Owner on Synapse workspace `synapse_workspaces.shared`")
            && run.stderr.contains(&contributor),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    let log = w.log().await;
    assert!(
        log.iter()
            .all(|r| r["principal"].as_str() == Some(contributor.as_str())),
        "synlink called as the principal the MI endpoint named: {log:#?}"
    );
    assert!(!log.is_empty());
    assert_eq!(w.writes().await, Vec::<String>::new());

    // The bootstrap principal (Owner) plans the same spec.
    let run = w.plan(&spec, &[]).await;
    assert_creates(&run, &strings(&["links.research"]));

    // The whole example (a link, a grant to it, two attachments) as Contributor.
    let spec = w.example("existing-workspaces.yaml");
    w.clear_log().await;
    let run = w.plan_as(Some(&contributor), &spec, &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("synapse_workspaces.shared") && run.stderr.contains("Owner"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert_eq!(w.writes().await, Vec::<String>::new());
}

#[tokio::test]
async fn writing_grants_without_owner_or_synapse_administrator_fails_before_any_write() {
    let w = World::new().await;
    w.vision().await;
    let reader = w.principal_with("Reader").await;
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
    let run = w.plan_as(Some(&reader), &spec, &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("error: role_grants.")
            && run.stderr.contains("in `synapse_workspaces.shared`")
            && run.stderr.contains("Synapse Administrator"),
        "{}",
        run.stderr
    );
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
    w.api.resource_group("rg-analytics").await;
    w.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.api
        .pool("rg-analytics", "syn-shared-prod", "sharedpool")
        .await;
    let mut set = tokio::task::JoinSet::new();
    for i in 1..=TEAMS {
        let api = w.api.clone();
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
    let run = w.plan(&spec, &["-v"]).await;
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
    assert!(
        run.stderr
            .contains(&format!("{} requests, 0 retries", requests.len())),
        "{}",
        run.stderr
    );
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
    let md = w.plan(&spec, &md_args).await;
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
fn stable(text: &str, w: &World, spec_hash: &str) -> String {
    let mut out = text
        .replace(&w.url(), "[URL]")
        .replace(&w.dir.path().display().to_string(), "[DIR]")
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
        w.plan(&spec, &[]),
        w.plan(&spec, &["--format", "json"]),
        w.plan(&spec, &["--format", "markdown"]),
    );
    for r in [&text, &json_run, &md] {
        assert_eq!(r.code, 0, "{r:#?}");
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
    let run = w
        .plan(&spec, &["--out", out.to_str().expect("utf-8 path")])
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
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
        w.plan(&spec, &["--target", "links.*"]),
        w.plan(&spec, &["--target", "role_grants.*"]),
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
    w.api.resource_group("rg-analytics").await;
    w.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.put_pool("rg-analytics", "syn-shared-prod", "mediumpool", "Medium")
        .await;
    let spec = w.write("synlink.yaml", &pool_spec(""));
    let state = w.write("state.json", &pool_state());
    let before = std::fs::read(&state).expect("state");
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 0, "as applied: {run:#?}");
    assert_eq!(run.last_line(), "No changes.");

    // Someone resizes the pool outside synlink.
    w.put_pool("rg-analytics", "syn-shared-prod", "mediumpool", "Large")
        .await;
    w.clear_log().await;
    let run = w
        .plan(&spec, &["--refresh-only", "--detailed-exitcode"])
        .await;
    assert_eq!(
        run.code, 2,
        "drift is a change for --detailed-exitcode: {run:#?}"
    );
    assert!(
        run.stdout
            .contains("Objects have changed outside of synlink"),
        "{}",
        run.stdout
    );
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
    let run = w.plan(&spec, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
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
    w.api.resource_group("rg-analytics").await;
    w.api
        .synapse_workspace("rg-analytics", "syn-shared-prod")
        .await;
    w.put_pool("rg-analytics", "syn-shared-prod", "oldpool", "Medium")
        .await;
    let spec = w.write("synlink.yaml", &pool_spec(""));
    w.write("state.json", &two_pool_state());
    (w, spec)
}

#[tokio::test]
async fn state_entries_gone_from_azure_are_recreated_and_removed_ones_destroyed() {
    let (w, spec) = gone_and_removed().await;
    w.clear_log().await;
    let (plan, destroy) = tokio::join!(w.plan(&spec, &[]), w.plan(&spec, &["--destroy"]));
    assert_eq!(plan.code, 0, "{plan:#?}");
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
    assert!(
        plan.stdout
            .contains("recorded in state but gone from Azure"),
        "{}",
        plan.stdout
    );
    assert_eq!(plan.last_line(), plan_line(1, 0, 0, 1));
    // Destroy: what is managed and exists; never a data source.
    assert_eq!(destroy.code, 0, "{destroy:#?}");
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
    let run = w
        .plan(&spec, &["--refresh-only", "--detailed-exitcode"])
        .await;
    assert!(
        run.stdout.contains("# spark_pools.medium has been deleted"),
        "{run:#?}"
    );
    assert_eq!(run.code, 2, "{run:#?}");
}

#[tokio::test]
async fn a_no_op_plan_with_data_sources_prints_only_no_changes() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", &vision_spec());
    let run = w.plan(&spec, &["--detailed-exitcode"]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout.trim(), "No changes.", "{run:#?}");
}

// ---------------------------------------------------------------------------
// 8. No token anywhere; -v names the managed identity.

/// A token the MI endpoint gives the bootstrap principal now, for `resource`.
async fn mi_token(w: &World, resource: &str) -> String {
    let a = w
        .api
        .http
        .get(format!("{}/_identity/msi", w.url()))
        .query(&[("resource", resource), ("api-version", "2019-08-01")])
        .header("X-IDENTITY-HEADER", IDENTITY_HEADER)
        .send()
        .await
        .expect("MI endpoint answers");
    assert_eq!(a.status(), 200);
    let v: Value = a.json().await.expect("json");
    v["access_token"].as_str().expect("access_token").to_owned()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test]
async fn no_token_text_in_any_output_or_file_even_at_verbose() {
    let w = World::new().await;
    vision_by_hand(&w).await;
    let spec = w.write("synlink.yaml", &vision_spec());
    w.write("state.json", &pool_state());
    let mut tokens = Vec::new();
    for r in [
        "https://management.azure.com",
        "https://dev.azuresynapse.net",
    ] {
        tokens.push(mi_token(&w, r).await);
    }
    let out = w.path("tfplan.synlink");
    let out_arg = out.to_str().expect("utf-8").to_owned();
    let verbose_args = ["-v", "--out", out_arg.as_str()];
    let (verbose, json_run) = tokio::join!(
        w.plan(&spec, &verbose_args),
        w.plan(&spec, &["-vv", "--format", "json"]),
    );
    for r in [
        "https://management.azure.com",
        "https://dev.azuresynapse.net",
    ] {
        tokens.push(mi_token(&w, r).await);
    }
    assert_eq!(verbose.code, 0, "{verbose:#?}");
    assert_eq!(json_run.code, 0, "{json_run:#?}");
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
    let mut files = Vec::new();
    files_under(w.dir.path(), &mut files);
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
    let run = w.plan_with_header(None, secret, &spec, &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
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
