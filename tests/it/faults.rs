//! Behaviour under faults, end to end: the real binary against an in-process
//! emulator over HTTP on 127.0.0.1, authenticated through the emulator's App
//! Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`).
//! Data sources are made over raw HTTP with every fault off; then a fault is
//! turned on through `/_emulator/faults` and synlink runs through it. Every test
//! ends with `World::assert_converged`: the emulator holds exactly what the spec
//! says (every managed address exists with the spec's properties, nothing extra,
//! no duplicate Synapse role assignment) and the state file matches it.
//!
//! Scenarios: a seeded 10% failure rate; tight throttling buckets (every 429
//! honoured through `Retry-After`); the identity propagation gate (waits, then
//! succeeds; a principal that never appears fails with the address named); the
//! Synapse RBAC propagation delay; AML 409 `Conflict`s; and SIGKILL at ten seeded
//! moments of an apply of 50 teams, each followed by a converging re-run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::emulator::support::{compute_path, link_path, ml_id, synapse_id};
use crate::world::{
    aml_workspace_of, is_write, overlap, str_of, summary, teams, teams_var, Run, World,
};

/// bulk.yaml's placement and shared Synapse resources.
const RG: &str = "rg-analytics";
const SYN: &str = "syn-shared-prod";
const POOL: &str = "sharedpool";
/// The API name of the role bulk.yaml grants.
const SPARK_ADMIN: &str = "Apache Spark Administrator";

fn created(n: usize) -> String {
    summary("Apply complete", n, 0, 0)
}

fn pool_id() -> String {
    format!("{}/bigDataPools/{POOL}", synapse_id(RG, SYN))
}

/// The path of a team's link, as bulk.yaml names it.
fn team_link_path(team: &str) -> String {
    link_path(RG, &format!("mlw-{team}"), "synapselink1")
}

/// The path of compute `name` in a team's AML workspace.
fn team_compute_path(team: &str, name: &str) -> String {
    compute_path(RG, &format!("mlw-{team}"), name)
}

/// The managed addresses of bulk.yaml for these teams, sorted.
fn managed_addresses(teams: &[String]) -> Vec<String> {
    let mut v: Vec<String> = teams
        .iter()
        .flat_map(|t| {
            [
                format!("links.{t}"),
                format!("role_grants.{t}-spark"),
                format!("attachments.{t}-shared"),
            ]
        })
        .collect();
    v.sort();
    v
}

/// The wait each 429 in `log` asked for, in real milliseconds, as the emulator
/// sent it: its `retry-after-ms` response header (the request log records what
/// was sent, so nothing is recomputed here).
fn asked_waits(log: &[Value]) -> BTreeMap<u64, u64> {
    log.iter()
        .filter(|r| r["status"] == 429)
        .map(|r| {
            let ms = r["responseHeaders"]["retry-after-ms"]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("a 429 carries retry-after-ms: {r:#}"));
            (r["seq"].as_u64().unwrap_or(0), ms)
        })
        .collect()
}

/// A small seeded generator (splitmix64): the kill moments are reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A fraction in [0, 1).
    #[allow(clippy::cast_precision_loss, reason = "53 bits are exact")]
    fn fraction(&mut self) -> f64 {
        let x = (self.next_u64() >> 11) as f64;
        x / (1u64 << 53) as f64
    }
}

/// `CMD -f bulk.yaml --state S --arm-endpoint URL --var teams=[…] EXTRA…`.
fn bulk_args(w: &World, cmd: &str, teams: &[String], extra: &[&str]) -> Vec<String> {
    let var = teams_var(teams);
    let mut all = vec!["--var", var.as_str()];
    all.extend_from_slice(extra);
    w.cloud_args(&[cmd], w.spec_path(), &all)
}

/// `synlink apply --auto-approve` of bulk.yaml for these teams.
async fn apply(w: &World, teams: &[String], extra: &[&str]) -> Run {
    let mut all = vec!["--auto-approve"];
    all.extend_from_slice(extra);
    w.run(bulk_args(w, "apply", teams, &all)).await
}

/// Asserts a plan now is `No changes.` (exit 0 with `--detailed-exitcode`).
async fn assert_no_changes(w: &World, teams: &[String], step: &str) {
    w.run(bulk_args(w, "plan", teams, &["--detailed-exitcode"]))
        .await
        .no_changes(step);
}

/// The shared checker: after every fault is turned off, the emulator holds
/// exactly what bulk.yaml says for `teams` and the state matches it.
/// - the state parses, and its managed addresses are exactly the spec's;
/// - every id in the state exists in the emulator, and everything the
///   emulator holds beyond `baseline` (the data sources) is in the state;
/// - each link points at the shared Synapse workspace and its live identity
///   is the state's output; each attachment is a succeeded `SynapseSpark`
///   compute on the shared pool; each grant is the Spark Administrator role
///   at workspace scope for its link's live identity, and the state names it;
/// - no AML workspace holds a link or compute the spec does not name, and no
///   (scope, role, principal) has two Synapse assignments.
async fn assert_converged(w: &World, teams: &[String], baseline: &BTreeSet<String>, step: &str) {
    w.calm().await;
    assert_eq!(
        w.managed_in_state(),
        managed_addresses(teams),
        "{step}: managed addresses in state"
    );
    let holdings = w.assert_state_matches(baseline, step).await;
    let state = w.state();

    let assignments = w.synapse_assignments(SYN).await;
    let mut tuples: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for a in &assignments {
        *tuples
            .entry((
                str_of(a, "scope").to_ascii_lowercase(),
                str_of(a, "roleDefinitionId").to_ascii_lowercase(),
                str_of(a, "principalId").to_ascii_lowercase(),
            ))
            .or_default() += 1;
    }
    let dups: Vec<_> = tuples.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "{step}: duplicate Synapse role assignments: {dups:#?}"
    );
    assert_eq!(assignments.len(), teams.len(), "{step}: {assignments:#?}");

    let role = w
        .synapse_role_id(SYN, SPARK_ADMIN)
        .await
        .to_ascii_lowercase();
    let syn = synapse_id(RG, SYN);
    for t in teams {
        let ml = ml_id(RG, &format!("mlw-{t}")).to_ascii_lowercase();
        let children = |kind: &str| -> Vec<&Value> {
            let prefix = format!("{ml}/{kind}/");
            holdings
                .iter()
                .filter(|(id, _)| id.starts_with(&prefix))
                .map(|(_, v)| v)
                .collect()
        };
        let links = children("linkedservices");
        let names: Vec<&str> = links.iter().map(|l| str_of(l, "name")).collect();
        assert_eq!(names, vec!["synapselink1"], "{step}: links of mlw-{t}");
        let computes = children("computes");
        let names: Vec<&str> = computes.iter().map(|c| str_of(c, "name")).collect();
        assert_eq!(names, vec!["shared-spark"], "{step}: computes of mlw-{t}");

        let link = links[0];
        assert!(
            str_of(&link["properties"], "linkedServiceResourceId").eq_ignore_ascii_case(&syn),
            "{step}: links.{t} points elsewhere: {link:#}"
        );
        let principal = str_of(&link["identity"], "principalId").to_ascii_lowercase();
        assert!(!principal.is_empty(), "{step}: links.{t} has no identity");
        let rs = &state.resources[&format!("links.{t}")];
        assert_eq!(
            rs.outputs["principal_id"]
                .as_str()
                .map(str::to_ascii_lowercase),
            Some(principal.clone()),
            "{step}: links.{t}'s principal in state is its live identity"
        );

        let p = &computes[0]["properties"];
        assert_eq!(str_of(p, "computeType"), "SynapseSpark", "{step}: {p:#}");
        assert!(
            str_of(p, "resourceId").eq_ignore_ascii_case(&pool_id()),
            "{step}: attachments.{t}-shared is not on the shared pool: {p:#}"
        );
        assert_eq!(str_of(p, "provisioningState"), "Succeeded", "{step}: {p:#}");

        let mine: Vec<&Value> = assignments
            .iter()
            .filter(|a| str_of(a, "principalId").eq_ignore_ascii_case(&principal))
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "{step}: grants to links.{t}'s identity: {mine:#?}"
        );
        let a = mine[0];
        assert_eq!(
            str_of(a, "roleDefinitionId").to_ascii_lowercase(),
            role,
            "{step}"
        );
        assert!(
            str_of(a, "scope").eq_ignore_ascii_case(&format!("workspaces/{SYN}")),
            "{step}: {a:#}"
        );
        let grant = &state.resources[&format!("role_grants.{t}-spark")];
        assert!(
            grant
                .id
                .folded()
                .ends_with(&format!("/roleassignments/{}", str_of(a, "id")).to_ascii_lowercase()),
            "{step}: role_grants.{t}-spark names {} in state, the emulator holds {a:#}",
            grant.id
        );
    }
}

/// A world with bulk.yaml as its spec and its data sources for `n` teams; returns
/// it, the teams and the baseline inventory.
async fn bulk_world(n: usize) -> (World, Vec<String>, BTreeSet<String>) {
    let w = World::new().await.spec(&World::example_text("bulk.yaml"));
    let t = teams(n);
    w.bulk(&t, &[POOL]).await;
    let baseline = w.inventory().await;
    (w, t, baseline)
}

/// The writes synlink sent under each AML workspace never overlap in time.
fn assert_no_overlapping_writes_per_workspace(log: &[Value]) {
    let writes: Vec<&Value> = log.iter().filter(|r| is_write(r)).collect();
    for (i, a) in writes.iter().enumerate() {
        let Some(ws) = aml_workspace_of(str_of(a, "path")) else {
            continue;
        };
        for b in &writes[i + 1..] {
            if aml_workspace_of(str_of(b, "path")).as_deref() == Some(ws.as_str()) {
                assert!(
                    !overlap(a, b),
                    "two writes at once under AML workspace {ws}:\n{a:#}\n{b:#}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 1. A seeded 10% failure rate: 500, 503 and dropped connections.

#[tokio::test]
async fn a_ten_percent_failure_rate_is_survived_in_one_run() {
    let (w, t, baseline) = bulk_world(10).await;
    w.faults(json!({"failRate": 0.1, "seed": 20_261_127})).await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    assert_eq!(run.code, 0, "one run succeeds through the faults: {run:#?}");
    assert_eq!(run.summary(), created(30), "{}", run.stderr);

    let injected: Vec<&Value> = log
        .iter()
        .filter(|r| str_of(r, "operation").starts_with("fault:"))
        .collect();
    let kinds: BTreeSet<&str> = injected.iter().map(|r| str_of(r, "operation")).collect();
    assert!(
        injected.len() >= 5,
        "the failure rate was felt: {} of {} requests failed",
        injected.len(),
        log.len()
    );
    for kind in ["fault: 500", "fault: 503", "fault: dropped connection"] {
        assert!(kinds.contains(kind), "{kind} among {kinds:?}");
    }
    let retries = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("retry "))
        .count();
    assert!(
        retries >= injected.len(),
        "every injected failure is retried visibly ({retries} retry lines, {} faults):\n{}",
        injected.len(),
        run.stderr
    );
    assert_converged(&w, &t, &baseline, "failure rate").await;
    assert_no_changes(&w, &t, "failure rate").await;
}

/// Azure's hardest case: a write that succeeded whose answer was lost (a
/// timeout, a reset, a 5xx from a gateway after the resource provider
/// committed). At 10% of writes, on a 50-team apply and then its destroy, one
/// run converges each time: retries land on what the lost write made, never
/// beside it (no second link, compute or role assignment; no orphan).
#[tokio::test]
async fn writes_whose_answer_is_lost_converge_in_one_run_without_duplicates() {
    let (w, t, baseline) = bulk_world(50).await;
    w.faults(json!({"lostAnswerRate": 0.1, "seed": 20_261_201}))
        .await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    assert_eq!(
        run.code, 0,
        "one apply converges through lost answers: {run:#?}"
    );
    assert_eq!(run.summary(), created(150), "{}", run.stderr);
    let lost = |log: &[Value]| -> usize {
        log.iter()
            .filter(|r| str_of(r, "operation").contains("answer lost"))
            .count()
    };
    assert!(
        lost(&log) >= 5,
        "answers were lost: {} of {} requests",
        lost(&log),
        log.len()
    );
    // Of every kind of write a team makes: the link, the grant, the attach.
    for kind in ["linkedServices", "roleAssignments", "computes"] {
        assert!(
            log.iter()
                .any(|r| str_of(r, "operation").contains("answer lost")
                    && str_of(r, "path").contains(kind)),
            "an answer to a {kind} write was lost"
        );
    }
    assert_converged(&w, &t, &baseline, "lost answers (apply)").await;
    assert_no_changes(&w, &t, "lost answers (apply)").await;

    w.faults(json!({"lostAnswerRate": 0.1, "seed": 20_261_202}))
        .await;
    w.clear_log().await;
    let run = w
        .run(bulk_args(&w, "destroy", &t, &["--auto-approve", "-v"]))
        .await;
    let log = w.log().await;
    assert_eq!(
        run.code, 0,
        "one destroy converges through lost answers: {run:#?}"
    );
    assert!(lost(&log) >= 5, "answers were lost on destroy too");
    w.calm().await;
    assert_eq!(w.managed_in_state(), Vec::<String>::new());
    assert_eq!(
        w.inventory().await,
        baseline,
        "nothing is left, nothing orphaned"
    );
}

// ---------------------------------------------------------------------------
// 2. Tight throttling buckets: every 429 honoured through Retry-After.

#[tokio::test]
async fn tight_throttling_is_survived_and_every_retry_after_is_honoured() {
    let (w, t, baseline) = bulk_world(10).await;
    // At time scale 0.01: reads 20 + 20/s, writes 5 + 5/s (real time).
    w.faults(json!({"throttle": {"enabled": true,
        "reads": {"capacity": 20, "refillPerSec": 0.2},
        "writes": {"capacity": 5, "refillPerSec": 0.05},
        "deletes": {"capacity": 5, "refillPerSec": 0.05}}}))
        .await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    run.success();
    assert_eq!(run.summary(), created(30), "{}", run.stderr);

    let throttled: Vec<&Value> = log.iter().filter(|r| r["status"] == 429).collect();
    assert!(
        !throttled.is_empty(),
        "the buckets were tight enough to throttle"
    );
    assert!(
        throttled.iter().any(|r| r["method"] == "PUT"),
        "writes were throttled too: {throttled:#?}"
    );
    let asked = asked_waits(&log);
    // Each 429's retry (the next request of that principal with the same method
    // and URL) starts no earlier than Retry-After after the 429 was answered. URLs
    // that two requests used at once are left out: their next use may be the twin.
    let key = |r: &Value| {
        (
            str_of(r, "method").to_owned(),
            str_of(r, "path").to_owned(),
            str_of(r, "principal").to_owned(),
        )
    };
    let mut checked = 0;
    for r in &throttled {
        let same: Vec<&Value> = log.iter().filter(|x| key(x) == key(r)).collect();
        let twins = same
            .iter()
            .enumerate()
            .any(|(i, a)| same[i + 1..].iter().any(|b| overlap(a, b)));
        if twins {
            continue;
        }
        let end = r["endMs"].as_u64().expect("endMs");
        let next = same
            .iter()
            .find(|x| x["seq"].as_u64() > r["seq"].as_u64())
            .unwrap_or_else(|| panic!("a 429 was never retried: {r:#}"));
        let start = next["startMs"].as_u64().expect("startMs");
        let wait = asked[&r["seq"].as_u64().unwrap_or(0)];
        // 5 ms for the log's millisecond clock.
        assert!(
            start + 5 >= end + wait,
            "retried {} ms after a 429 that asked for {wait} ms:\n{r:#}\n{next:#}",
            start.saturating_sub(end)
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "at least one 429 could be checked: {throttled:#?}"
    );
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("retry ") && l.contains("429 TooManyRequests"))
        .collect();
    assert_eq!(
        lines.len(),
        throttled.len(),
        "one visible retry per 429:\n{}",
        run.stderr
    );
    assert_converged(&w, &t, &baseline, "throttling").await;
    assert_no_changes(&w, &t, "throttling").await;
}

// ---------------------------------------------------------------------------
// 3. The identity propagation gate.
//
// The emulator's `identityDelayMs` delays only ARM role assignments
// (`Microsoft.Authorization/roleAssignments`), which synlink never writes; synlink's
// gate waits out `PrincipalNotFound` on the Synapse data-plane role-assignment PUT.
// So the data plane's `PrincipalNotFound` is injected with a targeted fault.

/// A targeted fault: every Synapse role-assignment PUT answers 400 `PrincipalNotFound`
/// (`remaining` times, or forever).
fn principal_not_found(remaining: Option<u64>) -> Value {
    json!({"targets": [{"pathContains": format!("/_synapse/{SYN}/roleAssignments/"),
                        "method": "PUT", "status": 400, "code": "PrincipalNotFound",
                        "remaining": remaining}]})
}

fn grant_puts(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|r| {
            r["method"] == "PUT"
                && str_of(r, "path")
                    .to_ascii_lowercase()
                    .contains("/_synapse/syn-shared-prod/roleassignments/")
        })
        .collect()
}

#[tokio::test]
async fn grants_wait_behind_the_propagation_gate_then_succeed() {
    let (w, t, baseline) = bulk_world(3).await;
    w.faults(principal_not_found(Some(3))).await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    run.success();
    assert_eq!(run.summary(), created(9), "{}", run.stderr);
    assert!(
        run.stderr.lines().any(|l| l.starts_with("role_grants.team")
            && l.contains("-spark: waiting for identity")
            && l.contains("to propagate")),
        "the wait is visible: {}",
        run.stderr
    );
    let puts = grant_puts(&log);
    let refused: Vec<&&Value> = puts.iter().filter(|r| r["status"] == 400).collect();
    assert_eq!(refused.len(), 3, "{puts:#?}");
    // Each refused principal's assignment is written later, after a gate poll.
    for r in &refused {
        let principal = str_of(&r["body"], "principalId");
        let ok: Vec<&&Value> = puts
            .iter()
            .filter(|x| x["status"] == 200 && str_of(&x["body"], "principalId") == principal)
            .collect();
        assert_eq!(ok.len(), 1, "one assignment for {principal}: {puts:#?}");
        let waited = ok[0]["startMs"]
            .as_u64()
            .unwrap_or(0)
            .saturating_sub(r["endMs"].as_u64().unwrap_or(0));
        assert!(
            ok[0]["seq"].as_u64() > r["seq"].as_u64() && waited > 0,
            "written only after the refusal, behind the gate: {r:#}\n{:#}",
            ok[0]
        );
    }
    assert_converged(&w, &t, &baseline, "propagation gate").await;
    assert_no_changes(&w, &t, "propagation gate").await;
}

#[tokio::test]
async fn a_principal_that_never_appears_fails_naming_the_address_and_a_rerun_converges() {
    let (w, t, baseline) = bulk_world(1).await;
    w.faults(principal_not_found(None)).await;
    w.clear_log().await;
    let run = apply(&w, &t, &["--propagation-timeout", "2"]).await;
    let log = w.log().await;
    run.exit(1);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: role_grants.team01-spark:")
                && l.contains("PrincipalNotFound")),
        "the failure names the grant and the cause: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("skipped: attachments.team01-shared (")),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.summary(),
        "Apply failed: 1 created, 0 updated, 0 replaced, 0 deleted, 1 failed, 1 skipped",
        "{}",
        run.stderr
    );
    let puts = grant_puts(&log);
    assert!(
        puts.len() >= 2 && puts.iter().all(|r| r["status"] == 400),
        "retried behind the gate, never written: {puts:#?}"
    );

    // The identity appears: a re-run finishes the job.
    w.calm().await;
    let run = apply(&w, &t, &[]).await;
    run.success();
    assert_eq!(run.summary(), created(2), "{}", run.stderr);
    assert_converged(&w, &t, &baseline, "never appears, then re-run").await;
    assert_no_changes(&w, &t, "never appears, then re-run").await;
}

/// Gives up within `--propagation-timeout` plus a margin, for a principal that
/// never appears (`PrincipalNotFound`) and for a role that never takes effect.
#[tokio::test]
async fn the_propagation_gate_gives_up_within_its_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    const MARGIN: Duration = Duration::from_millis(1500);
    let (w, t, _) = bulk_world(1).await;

    for (what, faults) in [
        ("PrincipalNotFound", principal_not_found(None)),
        // One hour (scaled: 36 s) of Synapse RBAC propagation.
        ("RBAC propagation", json!({"rbacDelayMs": 3_600_000})),
    ] {
        w.calm().await;
        w.faults(faults).await;
        w.clear_log().await;
        let run = apply(&w, &t, &["--propagation-timeout", "2"]).await;
        let log = w.log().await;
        assert_eq!(run.code, 1, "{what}: {run:#?}");
        assert!(
            run.stderr
                .lines()
                .any(|l| l.starts_with("error: role_grants.team01-spark:")),
            "{what}: {}",
            run.stderr
        );
        // From the first grant request to the last one of the gate.
        let gate: Vec<&Value> = log
            .iter()
            .filter(|r| str_of(r, "path").starts_with(&format!("/_synapse/{SYN}/")))
            .filter(|r| r["method"] == "PUT" || r["method"] == "POST")
            .collect();
        let first = gate.first().expect("the gate sent requests")["startMs"]
            .as_u64()
            .unwrap_or(0);
        let last = gate.last().expect("the gate sent requests")["endMs"]
            .as_u64()
            .unwrap_or(0);
        let spent = Duration::from_millis(last.saturating_sub(first));
        assert!(
            spent <= TIMEOUT + MARGIN,
            "{what}: the gate gave up after {spent:?}, beyond its {TIMEOUT:?} timeout + {MARGIN:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. Synapse RBAC propagation delay.

#[tokio::test]
async fn attachments_wait_until_the_synapse_role_takes_effect() {
    let (w, t, baseline) = bulk_world(3).await;
    // 100 s scaled: the role takes effect 1 s after it is written.
    w.faults(json!({"rbacDelayMs": 100_000})).await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    run.success();
    assert_eq!(run.summary(), created(9), "{}", run.stderr);
    assert!(
        run.stderr.lines().any(|l| l.starts_with("role_grants.team")
            && l.contains("waiting for the Synapse role to take effect")),
        "{}",
        run.stderr
    );
    let puts = grant_puts(&log);
    for team in &t {
        let link = w.api().get(&team_link_path(team)).await;
        let principal = str_of(&link.body["identity"], "principalId").to_owned();
        let written = puts
            .iter()
            .find(|r| {
                r["status"] == 200
                    && str_of(&r["body"], "principalId").eq_ignore_ascii_case(&principal)
            })
            .unwrap_or_else(|| panic!("{team}'s grant was written: {puts:#?}"));
        let checks: Vec<&Value> = log
            .iter()
            .filter(|r| {
                r["method"] == "POST"
                    && str_of(r, "path").contains("/checkAccessSynapseRbac")
                    && str_of(&r["body"]["subject"], "principalId").eq_ignore_ascii_case(&principal)
            })
            .collect();
        assert!(
            checks.len() >= 2,
            "{team}: checked, waited, checked again: {checks:#?}"
        );
        // synlink stops checking once Allowed: the last check is the allowed one, and
        // it came after the delay had passed.
        let allowed = checks.last().expect("checks");
        let written_at = written["startMs"].as_u64().unwrap_or(0);
        assert!(
            allowed["startMs"].as_u64().unwrap_or(0) >= written_at + 1000,
            "{team}: the last check came before the role could take effect: {written:#}\n{allowed:#}"
        );
        let compute = log
            .iter()
            .find(|r| {
                r["method"] == "PUT"
                    && str_of(r, "path")
                        .contains(&format!("/workspaces/mlw-{team}/computes/shared-spark"))
            })
            .unwrap_or_else(|| panic!("{team}: the compute was attached"));
        assert!(
            compute["startMs"].as_u64() >= allowed["endMs"].as_u64(),
            "{team}: attached before the role took effect:\n{allowed:#}\n{compute:#}"
        );
    }
    assert_converged(&w, &t, &baseline, "RBAC propagation").await;
    assert_no_changes(&w, &t, "RBAC propagation").await;
}

#[tokio::test]
async fn a_role_that_never_takes_effect_fails_and_a_rerun_adopts_the_written_assignment() {
    let (w, t, baseline) = bulk_world(1).await;
    w.faults(json!({"rbacDelayMs": 3_600_000})).await;
    let run = apply(&w, &t, &["--propagation-timeout", "2"]).await;
    run.exit(1);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: role_grants.team01-spark:")
                && l.contains("did not take effect within 2s")),
        "{}",
        run.stderr
    );
    assert_eq!(
        w.synapse_assignments(SYN).await.len(),
        1,
        "the assignment itself was written"
    );

    // The role takes effect: the re-run adopts the assignment, no second one.
    w.calm().await;
    w.clear_log().await;
    let run = apply(&w, &t, &[]).await;
    run.success();
    assert!(
        grant_puts(&w.log().await).is_empty(),
        "the written assignment is adopted, not written again"
    );
    assert_converged(&w, &t, &baseline, "RBAC never, then re-run").await;
    assert_no_changes(&w, &t, "RBAC never, then re-run").await;
}

// ---------------------------------------------------------------------------
// 5. AML's 409 Conflict while another operation runs on the workspace.

#[tokio::test]
async fn aml_conflicts_from_a_concurrent_operation_are_retried() {
    let (w, t, baseline) = bulk_world(3).await;
    // Another client's compute in every team's workspace, then its detach, slow.
    for team in &t {
        let a = w
            .api()
            .put(
                &team_compute_path(team, "busy-spark"),
                json!({"location": "westeurope",
                       "properties": {"computeType": "SynapseSpark", "resourceId": pool_id()}}),
            )
            .await;
        assert!(a.status == 200 || a.status == 201, "{a:?}");
        if let Some(op) = a.header("azure-asyncoperation") {
            assert_eq!(w.api().wait_async(&op).await["status"], "Succeeded");
        }
    }
    // 1.5 s detaches (scaled); AML refuses other compute and link writes meanwhile.
    w.faults(json!({"amlConflicts": true, "lroMs": 150_000}))
        .await;
    for team in &t {
        let a = w
            .api()
            .delete(&format!(
                "{}&underlyingResourceAction=Detach",
                team_compute_path(team, "busy-spark")
            ))
            .await;
        assert!((200..=202).contains(&a.status), "{a:?}");
    }
    w.faults(json!({"lroMs": 2000})).await;
    w.clear_log().await;
    let run = apply(&w, &t, &["-v"]).await;
    let log = w.log().await;
    run.success();
    assert_eq!(run.summary(), created(9), "{}", run.stderr);
    let conflicts: Vec<&Value> = log
        .iter()
        .filter(|r| r["status"] == 409 && is_write(r))
        .collect();
    assert!(!conflicts.is_empty(), "AML answered 409 Conflict: {log:#?}");
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("retry ") && l.contains("409 Conflict")),
        "the retries are visible: {}",
        run.stderr
    );
    assert_no_overlapping_writes_per_workspace(&log);
    assert_converged(&w, &t, &baseline, "AML conflicts").await;
    assert_no_changes(&w, &t, "AML conflicts").await;
}

// ---------------------------------------------------------------------------
// 6. SIGKILL at ten seeded moments of an apply of 50 teams.

#[tokio::test]
async fn sigkill_at_ten_seeded_moments_then_a_rerun_converges() {
    /// Requests in flight (synlink's default).
    const PARALLELISM: &str = "10";
    /// Latency per request (scaled by 0.01: 15 ms), so that an apply of 50 teams
    /// takes a couple of seconds.
    const LATENCY: u64 = 1500;
    let (w, t, baseline) = bulk_world(50).await;

    // One uninterrupted run, measured.
    w.faults(json!({"latencyMs": LATENCY})).await;
    let run = apply(&w, &t, &["--parallelism", PARALLELISM]).await;
    run.success();
    assert_eq!(run.summary(), created(150), "{}", run.stderr);
    let full = run.elapsed;
    assert_converged(&w, &t, &baseline, "uninterrupted").await;

    let mut rng = SplitMix(0x005E_ED0F_C4A5);
    let mut report = Vec::new();
    for round in 1..=10 {
        let mut marks = vec![Instant::now()];
        // A fresh cloud with the same data sources, and no state.
        w.control("POST", "reset", None).await;
        let _ = std::fs::remove_file(w.state_path());
        let _ = std::fs::remove_file(w.lock_path());
        w.bulk(&t, &[POOL]).await;
        let baseline = w.inventory().await;
        w.faults(json!({"latencyMs": LATENCY})).await;
        marks.push(Instant::now());

        let delay = full.mul_f64(0.02 + 0.78 * rng.fraction());
        let step = format!("round {round} (SIGKILL after {delay:?} of {full:?})");
        let mut child = w
            .synlink(bulk_args(
                &w,
                "apply",
                &t,
                &["--auto-approve", "--parallelism", PARALLELISM],
            ))
            .quiet()
            .spawn();
        tokio::time::sleep(delay).await;
        let finished_first = child.try_wait().expect("try_wait").is_some();
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        marks.push(Instant::now());

        // The state file parses or is absent; the lock names a dead holder or is absent.
        let recorded = match std::fs::read_to_string(w.state_path()) {
            Ok(text) => serde_json::from_str::<synlink::state::State>(&text)
                .unwrap_or_else(|e| panic!("{step}: the state file does not parse: {e}\n{text}"))
                .resources
                .values()
                .filter(|r| !r.existing)
                .count(),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{step}: {e}");
                0
            }
        };
        let stale_lock = w.lock_path().exists();
        if stale_lock {
            let text = std::fs::read_to_string(w.lock_path()).expect("lock readable");
            if let Ok(info) = serde_json::from_str::<synlink::state::LockInfo>(&text) {
                assert_eq!(info.command, "synlink apply", "{step}: {text}");
            }
        }

        // The next run: takes the stale lock over, or reports it with a hint to follow.
        w.calm().await;
        let mut rerun = apply(
            &w,
            &t,
            &["--lock-timeout", "0", "--parallelism", PARALLELISM],
        )
        .await;
        if rerun.code != 0 && rerun.stderr.contains("state lock") {
            assert!(
                rerun.stderr.contains("hint:"),
                "{step}: a stale lock is reported with a hint: {}",
                rerun.stderr
            );
            // Unreadable locks are stale after a few seconds: wait, as a user would.
            tokio::time::sleep(Duration::from_secs(6)).await;
            rerun = apply(
                &w,
                &t,
                &["--lock-timeout", "10", "--parallelism", PARALLELISM],
            )
            .await;
        }
        assert_eq!(rerun.code, 0, "{step}: the re-run converges: {rerun:#?}");
        marks.push(Instant::now());
        assert!(!w.lock_path().exists(), "{step}: the lock is released");
        assert_converged(&w, &t, &baseline, &step).await;
        marks.push(Instant::now());
        assert_no_changes(&w, &t, &step).await;
        marks.push(Instant::now());
        let phases: Vec<u128> = marks
            .windows(2)
            .map(|m| (m[1] - m[0]).as_millis())
            .collect();
        report.push(format!(
            "{step}: {recorded} recorded, stale lock {stale_lock}, finished first {finished_first}, re-run: {}, phases {phases:?}",
            rerun.summary()
        ));
    }
    // Kills that hit nothing (after the run had ended) would test nothing.
    assert!(
        report
            .iter()
            .filter(|r| r.contains("finished first false"))
            .count()
            >= 7,
        "{report:#?}"
    );
}
