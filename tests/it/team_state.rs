//! Team use of a remote state, through the real binary: the spec's
//! `state: { azure_blob }` section against Azurite (SAS over http, as CI
//! would use it), with ARM served by the emulator. Two applies from two
//! directories at once, a holder killed with SIGKILL, a lease broken mid-run,
//! the blob changed behind a run's back, a plan made in one directory and
//! applied in another, history and restore, migrate/pull/push, the spec
//! section's diagnostics, and no secret in any output.
//!
//! Each test starts its own Azurite (`azurite.rs`) and World (its emulator
//! on a multi-threaded runtime of the test's own, so the tests stay
//! synchronous and can call Azurite directly).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use synlink::state::State;

use crate::azurite::{signature, Azurite, ACCOUNT_KEY, CONTAINER};
use crate::world::{quickstart, Run, Synlink, World};

/// The blob the specs name (`${environment}/teams.json`).
const KEY: &str = "prod/teams.json";

/// The quickstart, keeping its state in Azurite's `KEY`, its key written
/// with a variable.
fn team_spec(azurite: &Azurite) -> String {
    format!(
        "{}\nvariables:\n  environment: prod\n\nstate:\n  azure_blob:\n    account_url: {}\n    container: {CONTAINER}\n    key: ${{environment}}/teams.json\n",
        quickstart(),
        azurite.account_url
    )
}

/// A world with its own runtime (kept alive with it).
struct Team {
    azurite: Azurite,
    rt: tokio::runtime::Runtime,
    w: World,
}

impl Team {
    /// Azurite (`None` when it is not installed outside CI), an emulator, and
    /// the team spec in `a/` and `b/`.
    fn start(logged: bool) -> Option<Team> {
        let azurite = if logged {
            Azurite::start_logged()?
        } else {
            Azurite::start()?
        };
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let w = rt.block_on(World::new());
        let spec = team_spec(&azurite);
        for dir in ["a", "b", "c"] {
            std::fs::create_dir_all(w.path(dir)).expect("dir");
            w.write(&format!("{dir}/synlink.yaml"), &spec);
        }
        Some(Team { azurite, rt, w })
    }

    /// `synlink ARGS…` in `dir`, with the SAS.
    fn synlink<'t>(&'t self, dir: &str, args: &[&str]) -> Synlink<'t> {
        self.w
            .synlink(args)
            .in_dir(dir)
            .env("SYNLINK_STATE_SAS", &self.azurite.sas)
            .env("SSL_CERT_FILE", &self.azurite.ca_file.display().to_string())
    }

    fn run(&self, dir: &str, args: &[&str]) -> Run {
        self.synlink(dir, args).run_blocking()
    }

    fn faults(&self, body: Value) {
        self.rt.block_on(self.w.faults(body));
    }

    /// The state in the blob.
    fn state(&self) -> State {
        serde_json::from_slice(&self.azurite.blob(KEY)).expect("a state")
    }

    /// Waits (90 s at most) until the run `pid` holds the lease and wrote
    /// the state at least once.
    fn wait_for_holder_with_a_write(&self, pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let held = self.azurite.properties(KEY).is_some_and(|p| {
                p.get("x-ms-lease-state").map(String::as_str) == Some("leased")
                    && p.get("x-ms-meta-synlink_holder_pid") == Some(&pid.to_string())
                    && p.get("x-ms-meta-synlink_serial")
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_some_and(|s| s >= 1)
            });
            if held {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "run {pid} never held the lease with a write"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Spawns `run` and returns it with its pid once it holds the lease and
    /// has written the state at least once.
    fn spawn_holding_the_lease(&self, run: Synlink<'_>) -> (tokio::process::Child, u32) {
        let child = {
            let _entered = self.rt.enter();
            run.spawn()
        };
        let pid = child.id().expect("a pid");
        self.wait_for_holder_with_a_write(pid);
        (child, pid)
    }

    /// `plan --detailed-exitcode` in `dir` has nothing to do.
    fn converged(&self, dir: &str, step: &str) {
        self.run(dir, &["plan", "--detailed-exitcode"])
            .no_changes(step);
    }
}

/// Every cloud request's `METHOD path`, PUTs only.
fn puts(team: &Team) -> Vec<String> {
    team.rt
        .block_on(team.w.log())
        .iter()
        .filter(|r| r["method"] == "PUT")
        .map(|r| r["path"].as_str().unwrap_or_default().to_ascii_lowercase())
        .collect()
}

#[test]
fn two_applies_from_two_directories_take_turns_and_write_every_change_once() {
    let Some(team) = Team::start(true) else {
        return;
    };
    // Long enough operations that the two runs overlap.
    team.faults(json!({"lroMs": 1500}));
    let started = Instant::now();
    let (a, b) = team.rt.block_on(async {
        let args = ["apply", "--auto-approve", "--lock-timeout", "120"];
        tokio::join!(
            team.synlink("a", &args).run(),
            team.synlink("b", &args).run()
        )
    });
    let _ = writeln!(
        std::io::stderr(),
        "two applies at once: both done in {:.1}s ({:.1}s and {:.1}s)",
        started.elapsed().as_secs_f64(),
        a.elapsed.as_secs_f64(),
        b.elapsed.as_secs_f64()
    );
    a.success();
    b.success();
    let (first, second) = if a.stderr.contains("Apply complete") {
        (&a, &b)
    } else {
        (&b, &a)
    };
    first.stderr_contains("Apply complete: 5 created");
    // The second waited for the lease, then planned from the first's state.
    second.stdout_contains("No changes.");
    let waited = team.azurite.requests().iter().any(|r| {
        r.comp() == Some("lease")
            && r.header("x-ms-lease-action") == Some("acquire")
            && r.status == Some(409)
    });
    assert!(
        waited,
        "one run was refused the lease while the other held it"
    );

    // Nothing was made twice (a Synapse role assignment gets its id at plan
    // time: two plans from two unlocked states would have made two).
    let puts = puts(&team);
    let distinct: BTreeSet<&String> = puts.iter().collect();
    assert_eq!(
        distinct.len(),
        puts.len(),
        "a resource written twice: {puts:#?}"
    );
    assert_eq!(
        puts.iter()
            .filter(|p| p.contains("/roleassignments/"))
            .count(),
        1
    );
    // The blob's serial counts every state write the two runs made.
    let state = team.state();
    assert_eq!(state.resources.len(), 5);
    assert_eq!(state.serial, team.azurite.state_writes(KEY) as u64);
    assert!(state.serial >= 1);
    team.converged("a", "from a");
    team.converged("b", "from b");
}

#[test]
fn a_killed_holder_frees_the_lock_within_a_lease_and_the_next_run_converges() {
    let Some(team) = Team::start(false) else {
        return;
    };
    // The first run sits in long operations when it is killed.
    team.faults(json!({"lroMs": 8000}));
    let (mut holder, pid) =
        team.spawn_holding_the_lease(team.synlink("a", &["apply", "--auto-approve"]).quiet());
    holder.start_kill().expect("SIGKILL");
    let killed = Instant::now();
    team.rt.block_on(holder.wait()).expect("reaped");
    team.faults(json!({"lroMs": 20}));

    // The next run waits for the lease to end by itself: 60 s, plus a margin.
    let taken_over = std::thread::scope(|s| {
        let watcher = s.spawn(|| loop {
            let props = team.azurite.properties(KEY).unwrap_or_default();
            let holder_pid = props.get("x-ms-meta-synlink_holder_pid");
            if holder_pid.is_some_and(|p| *p != pid.to_string())
                && props.get("x-ms-lease-state").map(String::as_str) == Some("leased")
            {
                return killed.elapsed();
            }
            if killed.elapsed() > Duration::from_secs(200) {
                return Duration::MAX;
            }
            std::thread::sleep(Duration::from_millis(200));
        });
        let next = team
            .synlink("b", &["apply", "--auto-approve", "--lock-timeout", "75"])
            .timeout(Duration::from_secs(180))
            .run_blocking();
        next.success();
        watcher.join().expect("watcher")
    });
    assert!(taken_over < Duration::MAX, "the lock was never taken over");
    let _ = writeln!(
        std::io::stderr(),
        "SIGKILL of the lock holder: the next run took the lock {:.1}s later (lease 60 s, renewed every 20 s)",
        taken_over.as_secs_f64()
    );
    team.converged("a", "after the takeover");
    assert_eq!(team.state().resources.len(), 5);
}

#[test]
fn a_lease_broken_mid_run_stops_the_run_without_writing_and_a_rerun_converges() {
    let Some(team) = Team::start(false) else {
        return;
    };
    team.faults(json!({"lroMs": 3000}));
    let (run, pid) = team.spawn_holding_the_lease(team.synlink("a", &["apply", "--auto-approve"]));

    // Someone breaks the lock by hand: it names the holder first.
    let unlock = team.run("b", &["state", "unlock", "--force"]);
    unlock
        .success()
        .stdout_contains("is locked by synlink apply (")
        .stdout_contains(&format!("pid {pid} on"))
        .stderr_contains("broke the lock");
    let at_break = team.azurite.blob(KEY);

    let out = team.rt.block_on(run.wait_with_output()).expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the lease on the state at"), "{stderr}");
    assert!(stderr.contains("was lost"), "{stderr}");
    assert!(stderr.contains("Apply failed"), "{stderr}");
    assert!(stderr.contains("(not started)"), "{stderr}");
    assert_eq!(
        team.azurite.blob(KEY),
        at_break,
        "nothing was written after the lease was broken"
    );

    team.faults(json!({"lroMs": 20}));
    team.run("a", &["apply", "--auto-approve"]).success();
    team.converged("a", "after the re-run");
}

#[test]
fn a_state_changed_behind_a_runs_back_is_not_written_over() {
    let Some(team) = Team::start(true) else {
        return;
    };
    team.faults(json!({"lroMs": 3000}));
    let (run, _) = team.spawn_holding_the_lease(team.synlink("a", &["apply", "--auto-approve"]));

    // Someone who has the run's lease id (Azurite logged it) replaces the state.
    let lease = team
        .azurite
        .requests()
        .iter()
        .rev()
        .find(|r| {
            r.is_for(KEY)
                && r.header("x-ms-lease-action") == Some("acquire")
                && r.status == Some(201)
        })
        .and_then(|r| r.header("x-ms-proposed-lease-id").map(str::to_owned))
        .expect("the run's lease id");
    let mut theirs = team.state();
    theirs.serial += 40;
    theirs.resources.clear();
    let (status, _, body) = team.azurite.http(
        reqwest::Method::PUT,
        &format!("{CONTAINER}/{KEY}"),
        &[("x-ms-blob-type", "BlockBlob"), ("x-ms-lease-id", &lease)],
        serde_json::to_vec(&theirs).expect("json"),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    let out = team.rt.block_on(run.wait_with_output()).expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("changed since this run last read or wrote it"),
        "{stderr}"
    );
    assert_eq!(team.state(), theirs, "their state is kept");
}

#[test]
fn a_plan_made_in_one_directory_applies_in_another_and_is_refused_after_a_change() {
    let Some(team) = Team::start(false) else {
        return;
    };
    team.run("a", &["plan", "--out", "plan.json"]).success();
    std::fs::copy(team.w.path("a/plan.json"), team.w.path("b/plan.json")).expect("copy");
    // A fresh directory: no `.synlink/`, the spec found where the plan says
    // (`synlink.yaml`, relative to where it runs).
    team.run("b", &["apply", "plan.json", "--auto-approve"])
        .completes(&crate::world::summary("Apply complete", 5, 0, 0));
    assert!(!team.w.path("b/.synlink/state.json").exists());

    // The same with -f, and a change made in between from a third directory.
    let changed =
        team_spec(&team.azurite).replace("auto_pause_minutes: 15", "auto_pause_minutes: 30");
    for dir in ["a", "b", "c"] {
        team.w.write(&format!("{dir}/synlink.yaml"), &changed);
    }
    team.run("a", &["plan", "-f", "synlink.yaml", "--out", "plan2.json"])
        .success();
    std::fs::copy(team.w.path("a/plan2.json"), team.w.path("b/plan2.json")).expect("copy");
    let serial = team.state().serial;
    team.run("c", &["apply", "--auto-approve"]).success();
    let now = team.state().serial;
    assert!(now > serial);
    team.run(
        "b",
        &[
            "apply",
            "plan2.json",
            "-f",
            "synlink.yaml",
            "--auto-approve",
        ],
    )
    .exit(1)
    .stderr_contains(&format!(
        "the state changed since it was made (serial {serial} then, {now} now)"
    ));
    assert_eq!(team.state().serial, now, "a refused plan writes nothing");
}

#[test]
fn history_lists_a_snapshot_per_run_and_restore_brings_one_back() {
    let Some(team) = Team::start(false) else {
        return;
    };
    team.run("a", &["state", "history"])
        .success()
        .stderr_contains("has no snapshots yet");
    team.run("a", &["apply", "--auto-approve"]).success();
    let applied = team.state();
    team.run("a", &["state", "rm", "attachments.main-small"])
        .success();
    let history = team.run("b", &["state", "history"]);
    history.success();
    let rows: Vec<&str> = history.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{}", history.stdout);
    assert!(
        rows[0].contains(&format!(" {} ", applied.serial)),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("synlink state rm ("), "{}", rows[0]);
    let snapshot = rows[0].split_whitespace().next().expect("an id").to_owned();

    // Asked first; refused where it cannot ask.
    team.run("b", &["state", "restore", &snapshot])
        .exit(1)
        .stderr_contains("pass --auto-approve");
    team.run(
        "b",
        &[
            "state",
            "restore",
            "2001-01-01T00:00:00.0000000Z",
            "--auto-approve",
        ],
    )
    .exit(1)
    .stderr_contains("has no snapshot 2001-01-01T00:00:00.0000000Z");
    assert_eq!(team.state().resources.len(), 4);

    team.run("b", &["state", "restore", &snapshot, "--auto-approve"])
        .success()
        .stderr_contains("now holds its 5 resources");
    let restored = team.state();
    assert_eq!(restored.resources, applied.resources);
    assert!(
        restored.serial > applied.serial + 1,
        "a serial above the one it replaced"
    );
    let history = team.run("b", &["state", "history"]);
    assert_eq!(history.stdout.lines().count(), 3, "{}", history.stdout);
    assert!(history.stdout.contains("synlink state restore ("));
    team.converged("a", "after the restore");
}

#[test]
fn migrate_pull_and_push_move_a_state_between_backends() {
    let Some(team) = Team::start(false) else {
        return;
    };
    // Made with the local state first.
    team.w.write("a/synlink.yaml", quickstart());
    team.run("a", &["apply", "--auto-approve"]).success();
    let local: State = serde_json::from_str(
        &std::fs::read_to_string(team.w.path("a/.synlink/state.json")).expect("local state"),
    )
    .expect("state");
    team.run("a", &["state", "migrate"])
        .exit(1)
        .stderr_contains("names no remote state");

    team.w.write("a/synlink.yaml", team_spec(&team.azurite));
    team.run("a", &["state", "migrate"])
        .success()
        .stderr_contains("copied the state of .synlink/state.json (5 resources");
    team.run("a", &["state", "migrate"])
        .success()
        .stderr_contains("already holds the state of .synlink/state.json");
    let pulled = team.run("b", &["state", "pull"]);
    pulled.success();
    let remote: State = serde_json::from_str(&pulled.stdout).expect("pull prints a state");
    // Copying was one write.
    assert_eq!(
        (&remote.lineage, remote.serial, &remote.resources),
        (&local.lineage, local.serial + 1, &local.resources)
    );
    team.converged("b", "on the migrated state");
    team.run("b", &["state", "list"])
        .success()
        .stdout_contains("attachments.main-small\n");
    team.run("b", &["plan", "--state", "elsewhere.json"])
        .exit(1)
        .stderr_contains("--state names a local state file");

    // An older serial is refused unless forced.
    let mut older = remote.clone();
    older.serial = 1;
    older.resources.shift_remove("attachments.main-small");
    team.w
        .write("b/older.json", serde_json::to_vec(&older).expect("json"));
    team.run("b", &["state", "push", "older.json"])
        .exit(1)
        .stderr_contains("with an older one (serial 1); pass --force");
    assert_eq!(team.state().serial, remote.serial);
    team.run("b", &["state", "push", "older.json", "--force"])
        .success();
    let pushed = team.state();
    assert!(pushed.serial > remote.serial);
    assert_eq!(pushed.resources.len(), 4);
}

#[test]
fn the_state_section_is_validated_where_it_is_written() {
    let w = World::offline();
    let cases: [(&str, &str, &str, u64); 6] = [
        (
            "account_url: http://acct.blob.core.windows.net",
            "invalid-url",
            "plain http",
            4,
        ),
        (
            "account_url: https://acct.blob.core.windows.net?sv=1&sig=x",
            "invalid-url",
            "no query",
            4,
        ),
        (
            "container: Bad_Name",
            "naming-rule",
            "invalid container name",
            5,
        ),
        (
            "key: /prod/teams.json",
            "invalid-value",
            "invalid blob name",
            6,
        ),
        ("key: ${envx}/teams.json", "unknown-variable", "envx", 6),
        (
            "keys: prod.json",
            "unknown-field",
            "unknown field `keys`",
            6,
        ),
    ];
    for (line, code, message, at) in cases {
        let field = line.split(':').next().expect("field");
        let mut block = [
            "account_url: https://acct.blob.core.windows.net",
            "container: synlink-state",
            "key: prod/teams.json",
        ];
        let i = block
            .iter()
            .position(|l| l.starts_with(field.trim_end_matches('s')))
            .expect("a field");
        block[i] = line;
        let spec = format!(
            "version: 1\nstate:\n  azure_blob:\n{}\n",
            block
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        w.write("s.yaml", &spec);
        let out = w
            .synlink(["validate", "-f", "s.yaml", "--format", "json"])
            .run_blocking();
        let report: Value = serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(out.code, 1, "{line}: {report:#}");
        let d = report["diagnostics"]
            .as_array()
            .and_then(|all| all.iter().find(|d| d["code"] == code))
            .unwrap_or_else(|| panic!("{line}: no {code} in {report:#}"));
        assert_eq!(d["address"], "state", "{line}: {report:#}");
        assert_eq!(d["line"], at, "{line}: {report:#}");
        assert!(
            d["message"].as_str().unwrap_or_default().contains(message),
            "{line}: {report:#}"
        );
    }
    w.write(
        "ok.yaml",
        "version: 1\nvariables:\n  env: prod\nstate:\n  azure_blob:\n    account_url: https://127.0.0.1:10000/devstoreaccount1\n    container: synlink-state\n    key: ${env}/teams.json\n",
    );
    w.synlink(["validate", "-f", "ok.yaml"])
        .run_blocking()
        .success();
}

#[test]
fn no_sas_token_or_account_key_in_any_output_plan_or_state() {
    let Some(team) = Team::start(false) else {
        return;
    };
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut keep = |what: &str, run: &Run| {
        outputs.push((what.to_owned(), format!("{}\n{}", run.stdout, run.stderr)));
    };
    keep(
        "plan -vv",
        &team.run("a", &["plan", "-vv", "--out", "plan.json"]),
    );
    keep(
        "apply -vv",
        &team.run("a", &["apply", "plan.json", "--auto-approve", "-vv"]),
    );
    keep(
        "apply -v",
        &team.run("a", &["apply", "--auto-approve", "-v"]),
    );
    for args in [
        ["state", "list", "-v"],
        ["state", "history", "-v"],
        ["state", "pull", "-v"],
        ["state", "unlock", "-v"],
        ["output", "-v", "--json"],
    ] {
        keep(&args.join(" "), &team.run("b", &args));
    }
    // A SAS the service refuses: the error names no part of it.
    let bad = team.azurite.sas.replace("sig=", "sig=AAAA");
    let refused = team
        .synlink("b", &["plan", "-vv"])
        .env("SYNLINK_STATE_SAS", &bad)
        .run_blocking();
    refused.exit(1).stderr_contains("HTTP 403");
    keep("plan with a refused SAS", &refused);
    outputs.push((
        "the plan file".into(),
        std::fs::read_to_string(team.w.path("a/plan.json")).expect("plan"),
    ));
    outputs.push((
        "the state blob".into(),
        String::from_utf8(team.azurite.blob(KEY)).expect("utf-8"),
    ));
    for (what, dir) in [("a/.synlink", "a/.synlink"), ("b/.synlink", "b/.synlink")] {
        if let Ok(entries) = std::fs::read_dir(team.w.path(dir)) {
            for e in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    outputs.push((format!("{what}/{:?}", e.file_name()), text));
                }
            }
        }
    }
    let sig = signature(&team.azurite.sas);
    let decoded = sig
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let bad_sig = signature(&bad);
    for (what, text) in &outputs {
        for secret in [
            team.azurite.sas.as_str(),
            bad.as_str(),
            sig,
            decoded.as_str(),
            bad_sig,
            ACCOUNT_KEY,
        ] {
            assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
        }
        assert!(!text.contains("eyJ"), "{what} shows a token:\n{text}");
    }
    assert!(
        outputs[0]
            .1
            .contains("authorised by a SAS from SYNLINK_STATE_SAS"),
        "-v says how the state is reached: {}",
        outputs[0].1
    );
}
