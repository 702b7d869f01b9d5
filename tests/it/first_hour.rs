//! The first hour of a new user, as the README tells it: its first command,
//! then the tests; every example tried offline; and the small things a
//! newcomer trips on (no state yet, links in the docs).

use std::path::{Path, PathBuf};

use crate::world::{example_files, repo_examples, World};

/// The repository root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The synlink arguments of the README's first command
/// (`cargo run --release -- ARGS…   # comment`).
fn readme_first_command() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.trim_start().starts_with("cargo run --release --"))
        .expect("the README starts with a `cargo run --release -- …` command");
    let args = line
        .split_once("--release --")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let args = args.split('#').next().unwrap_or_default();
    args.split_whitespace().map(str::to_owned).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn the_readme_first_command_leaves_what_the_tests_read_alone() {
    let args = readme_first_command();
    assert_eq!(
        args,
        ["apply", "--auto-approve", "-f", "examples/quickstart.yaml"],
        "the README's first command"
    );
    // A copy of the repository layout the command touches: the examples and schemas.
    let w = World::offline();
    for dir in ["examples", "schemas"] {
        copy_dir(&repo().join(dir), &w.path(dir));
    }
    let run = w.synlink(&args).run_blocking();
    run.success().stdout_contains("Outputs:");
    assert!(
        w.path("examples/.synlink/local-cloud").is_dir(),
        "the local cloud keeps its data beside the spec"
    );
    // What the tests read is as it was: the same example specs, nothing else.
    let names = |files: Vec<PathBuf>| -> Vec<String> {
        files
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(
        names(example_files(&w.path("examples"))),
        names(repo_examples())
    );
    // And the same command again is a no-op, as the README says.
    let run = w.synlink(&args).run_blocking();
    run.success();
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
}

#[test]
fn every_example_applies_plans_and_destroys_offline_with_seed_existing() {
    for example in repo_examples() {
        let name = example
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let w = World::offline();
        let spec = w.write(&name, std::fs::read(&example).expect("example"));
        let spec = spec.display().to_string();
        let w = &w;
        let local = |cmd: &[&str]| {
            let mut args: Vec<&str> = cmd.to_vec();
            args.extend(["-f", spec.as_str(), "--cloud", "local"]);
            w.synlink(&args).run_blocking()
        };
        let run = local(&["apply", "--auto-approve", "--seed-existing"]);
        assert_eq!(run.code, 0, "{name}: apply: {run:#?}");
        assert!(
            run.summary().starts_with("Apply complete"),
            "{name}: {}",
            run.stderr
        );
        let reads_data_sources = std::fs::read_to_string(&example)
            .expect("example")
            .contains("existing: true");
        assert_eq!(
            run.stderr.contains("seeded "),
            reads_data_sources,
            "{name}: data sources are seeded (and said so) when the spec reads some: {}",
            run.stderr
        );
        let run = local(&["plan", "--detailed-exitcode"]);
        assert_eq!(run.code, 0, "{name}: no-op plan: {run:#?}");
        assert_eq!(run.last_line(), "No changes.", "{name}: {}", run.stdout);
        let text = std::fs::read_to_string(&example).expect("example");
        if text.contains("prevent_destroy: true") {
            // Protected, as the example teaches: refused until the user lifts it.
            let run = local(&["destroy", "--auto-approve"]);
            assert_eq!(run.code, 1, "{name}: {run:#?}");
            assert!(
                run.stderr.contains("prevent_destroy forbids"),
                "{}",
                run.stderr
            );
            w.write(
                &name,
                text.replace("prevent_destroy: true", "prevent_destroy: false"),
            );
        }
        let run = local(&["destroy", "--auto-approve"]);
        assert_eq!(run.code, 0, "{name}: destroy: {run:#?}");
        assert!(
            run.summary().starts_with("Destroy complete"),
            "{name}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_data_source_in_the_local_cloud_suggests_seed_existing() {
    let w = World::offline();
    let spec = w.write(
        "attach-with-identity.yaml",
        std::fs::read(repo().join("examples/attach-with-identity.yaml")).expect("example"),
    );
    let run = w
        .synlink([
            "plan",
            "-f",
            &spec.display().to_string(),
            "--cloud",
            "local",
        ])
        .run_blocking();
    run.exit(1)
        .stderr_contains("data source not found in Azure")
        .stderr_contains("--cloud local --seed-existing");
}

#[tokio::test]
async fn seed_existing_is_refused_for_any_cloud_but_the_local_one() {
    let w = World::new().await;
    let spec = w.example("attach-with-identity.yaml");
    w.clear_log().await;
    let run = w.plan(&spec, &["--seed-existing"]).await;
    run.exit(1)
        .stderr_contains("--seed-existing creates data sources in the local cloud only");
    assert!(w.writes().await.is_empty());
}

/// `text` with the emulator's address, the run's directory and the
/// timestamps of token-endpoint answers masked.
fn stable(text: &str, w: &World) -> String {
    let text = text
        .replace(&w.url(), "[URL]")
        .replace(&w.dir().display().to_string(), "[DIR]");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("\"timestamp\":\"") {
        let start = i + "\"timestamp\":\"".len();
        out.push_str(&rest[..start]);
        out.push_str("[TIME]");
        rest = &rest[start..];
        rest = &rest[rest.find('"').unwrap_or(0)..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn a_failing_credential_is_reported_once_for_the_run() {
    let w = World::new().await;
    let t = crate::world::teams(10);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = crate::world::teams_var(&t);
    let run = w
        .synlink(w.cloud_args(&["plan"], &spec, &["--var", &var]))
        .env("IDENTITY_HEADER", "not-the-emulators-secret")
        .run()
        .await;
    run.exit(1);
    assert_eq!(
        run.stderr
            .matches("no credential could get a token")
            .count(),
        1,
        "{}",
        run.stderr
    );
    insta::assert_snapshot!("credential_failure_once", stable(&run.stderr, &w));
}

#[tokio::test]
async fn an_endpoint_that_refuses_is_reported_once_with_a_hint() {
    let w = World::new().await;
    let spec = w.example("bulk.yaml");
    let t = crate::world::teams(30);
    let var = crate::world::teams_var(&t);
    // Tokens come from the emulator; ARM is asked at a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let state = w.state_path().display().to_string();
    let run = w
        .run([
            "plan",
            "-f",
            &spec.display().to_string(),
            "--state",
            &state,
            "--arm-endpoint",
            &url,
            "--var",
            &var,
        ])
        .await;
    run.exit(1);
    let errors = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count();
    assert_eq!(errors, 2, "one cause, then the conclusion: {}", run.stderr);
    assert!(run.stderr.contains("Connection refused"), "{}", run.stderr);
    // The reads under way when the first was refused, not the 31 a refresh
    // would otherwise go on to try, each after its quick retries.
    let tried: usize = run
        .stderr
        .split_once("  (")
        .and_then(|(_, rest)| rest.split_once(" requests:"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("a count of requests: {}", run.stderr));
    assert!(tried <= 10, "{tried} requests tried: {}", run.stderr);
    assert!(
        run.stderr.contains("hint: nothing answers at that address"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(
        "connection_refused_once",
        stable(&run.stderr, &w).replace(&url, "[CLOSED]")
    );
}

#[test]
fn a_markdown_plan_of_an_invalid_spec_is_a_markdown_error_report() {
    let w = World::offline();
    let spec = w.write(
        "synlink.yaml",
        "version: 1\nlinks:\n  main:\n    ml_workspace: nowhere\n    synapse_workspace: shared\n",
    );
    let run = w
        .synlink([
            "plan",
            "-f",
            &spec.display().to_string(),
            "--format",
            "markdown",
        ])
        .run_blocking();
    run.exit(1);
    assert!(
        run.stdout.starts_with('#'),
        "a markdown document: {}",
        run.stdout
    );
    assert!(run.stdout.contains("nowhere"), "{}", run.stdout);
    assert!(
        run.stdout.contains("| "),
        "a table of the problems: {}",
        run.stdout
    );
    assert!(!run.stderr.is_empty(), "the problems are on stderr too");
}

/// What a terminal shows of `raw` (the pty's bytes): escape sequences dropped,
/// each line as last redrawn (after its last carriage return).
fn screen(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split('\n')
        .map(|l| {
            l.rsplit('\r')
                .find(|s| !s.trim().is_empty())
                .unwrap_or("")
                .trim_end()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn on_a_terminal_the_summary_comes_last_and_outputs_are_capped() {
    let w = World::new().await;
    let t = crate::world::teams(10);
    w.bulk(&t, &["sharedpool"]).await;
    let spec = w.example("bulk.yaml");
    let var = crate::world::teams_var(&t);
    let args = w.cloud_args(&["apply"], &spec, &["--auto-approve", "--var", &var]);
    let shown = screen(&crate::world::under_a_terminal(&w, &args, false).await);
    let last = shown.last().expect("something was shown");
    assert!(
        last.starts_with("Apply complete: 30 created"),
        "the summary is last: {shown:#?}"
    );
    let outputs = shown
        .iter()
        .skip_while(|l| *l != "Outputs:")
        .skip(1)
        .take_while(|l| !l.starts_with("Apply complete"))
        .collect::<Vec<_>>();
    assert_eq!(
        outputs.len(),
        21,
        "20 outputs and a line for the rest: {outputs:#?}"
    );
    assert!(
        outputs[20].starts_with("… and ")
            && outputs[20].ends_with("(synlink output shows them all)"),
        "{outputs:#?}"
    );
    // Into a pipe, every output (10 principal ids and 30 ids).
    let run = w.local(&["output"]).await;
    run.success();
    assert_eq!(run.stdout.lines().count(), 40, "{}", run.stdout);
}
