//! Security checks as tests, against the real binary:
//! - the state file, saved plans and the state lock are created owner-only (0600)
//!   and the state's directory 0700, even under `umask 000`;
//! - the emulator refuses to bind a non-loopback address without `--allow-remote`
//!   (and binds with it; no traffic is ever sent to a non-loopback address);
//! - no token, no `Authorization` header, no managed-identity secret in anything
//!   synlink prints (at `-v` and `-vv`) or writes (state, plan files), on success
//!   and on failure.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use synlink_emulator::{Config, Emulator};

use crate::emulator::support::{ARM, SYNAPSE};
use crate::world::{quickstart, Run, World};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Temp files a writer might leave: none may remain.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| {
            Path::new(n)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("tmp"))
                || n.starts_with(".tmp")
        })
        .collect()
}

#[tokio::test]
async fn state_lock_and_plan_files_are_owner_only() {
    let w = World::new().await;
    w.write("a.yaml", quickstart());
    // An old plan, world-readable: overwriting it must not keep its mode.
    let old = w.write("a.plan", "old plan");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    // Slow reads (300 ms each), so the lock is held long enough to be seen.
    w.faults(json!({"latencyMs": 30_000})).await;
    let state_dir = w.path(".synlink");
    let lock = state_dir.join("state.json.lock");
    let args = vec![
        "plan".to_owned(),
        "-f".to_owned(),
        w.arg("a.yaml"),
        "--arm-endpoint".to_owned(),
        w.url(),
        "--out".to_owned(),
        w.arg("a.plan"),
    ];
    let run_fut = w.synlink(&args).umask0().run();
    tokio::pin!(run_fut);
    let mut lock_modes = Vec::new();
    let run = loop {
        tokio::select! {
            r = &mut run_fut => break r,
            () = tokio::time::sleep(Duration::from_millis(2)) => {
                if let Ok(m) = std::fs::metadata(&lock) {
                    lock_modes.push(m.permissions().mode() & 0o777);
                }
            }
        }
    };
    run.success();
    assert!(
        !lock_modes.is_empty(),
        "the lock file was seen while the plan ran"
    );
    assert!(
        lock_modes.iter().all(|m| *m == 0o600),
        "the lock file is 0600: {lock_modes:?} (decimal; 384 = 0o600)"
    );
    assert!(!lock.exists(), "the lock is released");
    assert_eq!(mode(&w.path("a.plan")), 0o600, "the overwritten plan file");
    assert_eq!(mode(&state_dir), 0o700, "the state directory");

    w.faults(json!({"latencyMs": 0})).await;
    let run = w
        .synlink([
            "plan",
            "-f",
            &w.arg("a.yaml"),
            "--arm-endpoint",
            &w.url(),
            "--out",
            &w.arg("new.plan"),
            "--format",
            "json",
        ])
        .umask0()
        .run()
        .await;
    run.success();
    assert_eq!(mode(&w.path("new.plan")), 0o600, "a new plan file");

    // A real apply: the state it writes (default path, and a new directory given by --state).
    let run = w
        .synlink([
            "apply",
            "-f",
            &w.arg("a.yaml"),
            "--arm-endpoint",
            &w.url(),
            "--auto-approve",
        ])
        .umask0()
        .run()
        .await;
    run.success();
    let state = state_dir.join("state.json");
    assert_eq!(mode(&state), 0o600, "the state file");
    assert_eq!(mode(&state_dir), 0o700, "the state directory");
    let custom = w.path("custom/deeper/state.json");
    let run = w
        .synlink([
            "apply",
            "-f",
            &w.arg("a.yaml"),
            "--arm-endpoint",
            &w.url(),
            "--auto-approve",
            "--state",
            &custom.display().to_string(),
        ])
        .umask0()
        .run()
        .await;
    run.success();
    assert_eq!(mode(&custom), 0o600, "a state file at --state");
    assert_eq!(
        mode(custom.parent().expect("dir")),
        0o700,
        "its new directory"
    );
    // `state rm` rewrites the state: still 0600.
    let run = w
        .synlink([
            "state",
            "rm",
            "attachments.main-small",
            "--state",
            &custom.display().to_string(),
        ])
        .umask0()
        .run()
        .await;
    run.success();
    assert_eq!(mode(&custom), 0o600, "the state after `state rm`");
    for dir in [w.dir(), &state_dir, custom.parent().expect("dir")] {
        assert_eq!(leftovers(dir), Vec::<String>::new(), "{}", dir.display());
    }
}

// ---------------------------------------------------------------------------
// The emulator binds loopback only, unless told otherwise.

/// Runs `synlink emulator ARGS…` expecting it to exit at once: one that serves
/// fails the test after 20 s.
fn emulator_exits(args: &[&str]) -> Run {
    World::offline()
        .synlink(["emulator"].iter().chain(args))
        .timeout(Duration::from_secs(20))
        .run_blocking()
}

#[test]
fn emulator_refuses_a_non_loopback_address_without_allow_remote() {
    for listen in ["0.0.0.0:0", "[::]:0", "192.0.2.1:0"] {
        for extra in [&[][..], &["--tls"][..]] {
            let mut args = vec!["--listen", listen];
            args.extend_from_slice(extra);
            let out = emulator_exits(&args);
            let (stderr, stdout) = (&out.stderr, &out.stdout);
            assert!(out.code != 0, "{args:?}: exit {:?}", out.code);
            assert_eq!(out.code, 1, "{args:?}: {stderr}");
            assert!(
                stderr.contains("--allow-remote") && stderr.contains("non-loopback"),
                "{args:?}: the refusal names the flag: {stderr}"
            );
            assert!(
                !stdout.contains("listening on"),
                "{args:?}: never listened: {stdout}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

#[tokio::test]
async fn emulator_library_refuses_a_non_loopback_address_without_allow_remote() {
    let refused = Emulator::start(Config {
        listen: "0.0.0.0:0".parse().expect("addr"),
        ..Config::default()
    })
    .await;
    let Err(err) = refused else {
        panic!("the emulator bound 0.0.0.0 without allow_remote");
    };
    assert!(err.to_string().contains("--allow-remote"), "{err}");
}

#[test]
fn emulator_binds_a_non_loopback_address_with_allow_remote() {
    let w = World::offline();
    let mut child = w
        .synlink(["emulator", "--listen", "0.0.0.0:0", "--allow-remote"])
        .command()
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20));
    // Killed at once: nothing is ever sent to it.
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a ready line within 20 s");
    assert!(
        line.starts_with("listening on http://0.0.0.0:"),
        "bound the unspecified address: {line:?}"
    );
}

// ---------------------------------------------------------------------------
// No token, Authorization header or managed-identity secret anywhere.

/// What must never appear in output or files; returns what did.
fn leaks(text: &str, tokens: &[String], secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    let lower = text.to_ascii_lowercase();
    for t in tokens {
        if text.contains(t.as_str()) {
            found.push("a token the emulator issues".to_owned());
        }
        // Its signature alone is as secret as the whole.
        if let Some(sig) = t.rsplit('.').next() {
            if text.contains(sig) {
                found.push("a token's signature".to_owned());
            }
        }
    }
    if text.contains("eyJ") {
        found.push("`eyJ` (a JWT)".to_owned());
    }
    if lower.contains("bearer") {
        found.push("the word `Bearer`".to_owned());
    }
    for header in [
        "authorization:",
        "\"authorization\"",
        "authorization=",
        "authorization =",
    ] {
        if lower.contains(header) {
            found.push(format!("`{header}` (an Authorization header)"));
        }
    }
    if text.contains(secret) {
        found.push("the managed-identity secret".to_owned());
    }
    found
}

#[tokio::test]
async fn no_token_authorization_header_or_secret_in_any_output_or_file() {
    let secret = format!("mi-secret-{}", uuid::Uuid::new_v4().simple());
    let w = World::builder().identity_header(&secret).start().await;
    w.write("a.yaml", quickstart());
    let tokens = vec![
        w.mi_token(ARM).await,
        w.mi_token("https://management.azure.com").await,
        w.mi_token(SYNAPSE).await,
    ];
    let wrong = format!("wrong-secret-{}", uuid::Uuid::new_v4().simple());

    let mut checked: Vec<(String, String)> = Vec::new();
    let record = |checked: &mut Vec<(String, String)>, what: String, run: &Run| {
        checked.push((format!("{what} (stdout)"), run.stdout.clone()));
        checked.push((format!("{what} (stderr)"), run.stderr.clone()));
    };
    let steps: Vec<(&str, Vec<String>, i32)> = vec![
        (
            "plan -v --out",
            w.cloud_args(&["plan", "-v"], "a.yaml", &["--out", &w.arg("a.plan")]),
            0,
        ),
        (
            "plan -vv --format json",
            w.cloud_args(&["plan", "-vv"], "a.yaml", &["--format", "json"]),
            0,
        ),
        (
            "apply -v",
            w.cloud_args(&["apply", "-v"], "a.yaml", &["--auto-approve"]),
            0,
        ),
        (
            "apply -vv (no-op)",
            w.cloud_args(&["apply", "-vv"], "a.yaml", &["--auto-approve"]),
            0,
        ),
        (
            "plan -vv (no-op) --format markdown",
            w.cloud_args(&["plan", "-vv"], "a.yaml", &["--format", "markdown"]),
            0,
        ),
        (
            "output",
            vec!["output".into(), "--state".into(), w.arg("state.json")],
            0,
        ),
        (
            "output -v --json",
            vec![
                "output".into(),
                "-v".into(),
                "--json".into(),
                "--state".into(),
                w.arg("state.json"),
            ],
            0,
        ),
        (
            "state list -v",
            vec![
                "state".into(),
                "list".into(),
                "-v".into(),
                "--state".into(),
                w.arg("state.json"),
            ],
            0,
        ),
        (
            "state show -vv",
            vec![
                "state".into(),
                "show".into(),
                "attachments.main-small".into(),
                "-vv".into(),
                "--state".into(),
                w.arg("state.json"),
            ],
            0,
        ),
    ];
    for (what, args, code) in steps {
        let run = w.run(&args).await;
        assert_eq!(run.code, code, "{what}: {run:#?}");
        record(&mut checked, what.to_owned(), &run);
    }
    assert!(
        checked
            .iter()
            .any(|(w, t)| w.starts_with("apply -v ") && t.contains("Apply complete")),
        "the apply ran: {checked:#?}"
    );

    // Failures: a wrong managed-identity secret, and ARM refusing the token.
    let run = w
        .synlink(w.cloud_args(&["plan", "-vv"], "a.yaml", &[]))
        .env("IDENTITY_HEADER", &wrong)
        .run()
        .await;
    run.exit(1);
    let wrong_leaked = run.stdout.contains(&wrong) || run.stderr.contains(&wrong);
    record(
        &mut checked,
        "plan -vv with a wrong IDENTITY_HEADER".to_owned(),
        &run,
    );
    w.faults(
        json!({"targets": [{"pathContains": "/subscriptions/", "status": 401, "code": "InvalidAuthenticationToken"}]}),
    )
    .await;
    let run = w.run(&w.cloud_args(&["plan", "-vv"], "a.yaml", &[])).await;
    run.exit(1);
    record(&mut checked, "plan -vv refused with 401".to_owned(), &run);
    let run = w
        .run(&w.cloud_args(&["destroy", "-vv"], "a.yaml", &["--auto-approve"]))
        .await;
    run.exit(1);
    record(
        &mut checked,
        "destroy -vv refused with 401".to_owned(),
        &run,
    );
    w.faults(json!({"targets": []})).await;
    let run = w
        .run(&w.cloud_args(&["destroy", "-vv"], "a.yaml", &["--auto-approve"]))
        .await;
    run.success();
    record(&mut checked, "destroy -vv".to_owned(), &run);

    for file in ["a.plan", "state.json"] {
        let text = std::fs::read_to_string(w.path(file)).expect("written");
        checked.push((file.to_owned(), text));
    }
    let mut found = Vec::new();
    for (what, text) in &checked {
        for leak in leaks(text, &tokens, &secret) {
            found.push(format!("{what}: {leak}"));
        }
    }
    if wrong_leaked {
        found.push("plan -vv with a wrong IDENTITY_HEADER: the secret given".to_owned());
    }
    assert!(
        found.is_empty(),
        "secrets in output or files:\n{}\n\nfull texts:\n{checked:#?}",
        found.join("\n")
    );
}
