//! CLI misuse, to the end of the pipe: the real binary, given unknown flags and
//! subcommands, conflicting flags, missing and bad values, plan files that are not
//! plans or belong to another spec, state files that are corrupt or from a newer
//! synlink, and a directory as the state. Each must fail with a clear message on
//! stderr, the contract's exit code (clap's usage errors: 2; synlink's own: 1),
//! no panic, and no change to any file: the directory holding the spec, the
//! state and the plans is hashed before and after every run.
//!
//! Runs that need Azure talk to an in-process emulator (`--arm-endpoint`),
//! authenticated through its managed-identity endpoint.

use crate::world::{quickstart, World};

/// One row of the table.
struct Case {
    name: &'static str,
    args: Vec<String>,
    /// The exit code the contract asks for.
    code: i32,
    /// Texts stderr must contain (all of them).
    says: Vec<&'static str>,
}

fn case(name: &'static str, args: Vec<String>, code: i32, says: &[&'static str]) -> Case {
    Case {
        name,
        args,
        code,
        says: says.to_vec(),
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
#[allow(clippy::print_stdout, reason = "the table's results are printed")]
async fn cli_misuse_fails_clearly_with_the_contract_exit_code_and_changes_nothing() {
    let w = World::new().await;
    let base = quickstart();
    w.write("a.yaml", &base);
    // A real state: the quickstart applied.
    let run = w
        .run(&w.cloud_args(&["apply"], "a.yaml", &["--auto-approve"]))
        .await;
    assert_eq!(run.code, 0, "setup apply: {run:#?}");
    assert!(w.path("state.json").is_file(), "the apply wrote the state");
    // Spec A now plans one change; a plan of it is saved. Spec B is another spec.
    w.write(
        "a.yaml",
        base.replace("node_size: Small", "node_size: Medium"),
    );
    w.write(
        "b.yaml",
        base.replace("owner: quickstart", "owner: someone-else"),
    );
    let run = w
        .run(&w.cloud_args(&["plan"], "a.yaml", &["--out", &w.arg("a.plan")]))
        .await;
    assert_eq!(run.code, 0, "setup plan: {run:#?}");
    assert!(run.stdout.contains("spark_pools.small"), "{run:#?}");

    // Files that are not what they are given as.
    let mut noise = vec![0u8; 4096];
    let mut x: u32 = 0x1234_5678;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x.to_le_bytes()[0];
    }
    w.write("random.plan", &noise);
    w.write("empty.plan", "");
    w.write(
        "other.json",
        r#"{"hello": ["world", 1, 2], "format": "not a plan"}"#,
    );
    w.write("future.plan", r#"{"format_version": 99, "changes": []}"#);
    w.write(
        "bad-shape.plan",
        r#"{"format_version": 1, "changes": "all of them"}"#,
    );
    w.write(
        "corrupt-state.json",
        "{\n  \"version\": 1,\n  \"lineage\": ",
    );
    w.write("not-a-state.json", r#"{"version": 1, "resources": 7}"#);
    w.write(
        "future-state.json",
        r#"{"version": 99, "lineage": "9c4b3f0e-0000-4000-8000-000000000000", "serial": 3, "synlink_version": "9.0.0", "resources": {}, "new_field": [1]}"#,
    );
    std::fs::create_dir(w.path("statedir")).expect("mkdir");
    w.write("statedir/keep.txt", "a file that must stay");

    let plan_a = |extra: &[&str]| w.cloud_args(&["plan"], "a.yaml", extra);
    let apply_with = |planfile: &str, spec: &str| {
        let p = w.arg(planfile);
        w.cloud_args(&["apply", &p], spec, &["--auto-approve"])
    };
    let with_state = |cmd: &[&str], state: &str| {
        let mut v = owned(cmd);
        v.extend(["--state".to_owned(), w.arg(state)]);
        v
    };
    let plan_state = |state: &str| {
        let mut v = w.cloud_args(&["plan"], "a.yaml", &[]);
        let i = v.iter().position(|a| a == "--state").expect("--state") + 1;
        v[i] = w.arg(state);
        v
    };
    let apply_state = |state: &str| {
        let mut v = w.cloud_args(&["apply"], "a.yaml", &["--auto-approve"]);
        let i = v.iter().position(|a| a == "--state").expect("--state") + 1;
        v[i] = w.arg(state);
        v
    };

    let cases = vec![
        // Argument parsing (clap): exit 2.
        case("no arguments at all", vec![], 2, &["Usage: synlink"]),
        case(
            "unknown flag",
            plan_a(&["--bogus"]),
            2,
            &["unexpected argument '--bogus'"],
        ),
        case(
            "unknown global flag before the command",
            owned(&["--frobnicate", "plan"]),
            2,
            &["unexpected argument '--frobnicate'"],
        ),
        case(
            "unknown subcommand",
            owned(&["frobnicate"]),
            2,
            &["unrecognized subcommand 'frobnicate'"],
        ),
        case(
            "unknown state subcommand",
            owned(&["state", "purge"]),
            2,
            &["unrecognized subcommand 'purge'"],
        ),
        case(
            "state without a subcommand",
            owned(&["state"]),
            2,
            &["Usage: synlink state"],
        ),
        case(
            "conflicting flags",
            plan_a(&["--refresh-only", "--destroy"]),
            2,
            &["'--refresh-only' cannot be used with '--destroy'"],
        ),
        case(
            "a flag of another command",
            w.cloud_args(&["apply"], "a.yaml", &["--detailed-exitcode"]),
            2,
            &["unexpected argument '--detailed-exitcode'"],
        ),
        case(
            "missing value",
            plan_a(&["--format"]),
            2,
            &["a value is required for '--format"],
        ),
        case(
            "missing value for -f",
            owned(&["validate", "-f"]),
            2,
            &["a value is required for '--file"],
        ),
        case(
            "bad value",
            plan_a(&["--format", "yaml"]),
            2,
            &["invalid value 'yaml' for '--format", "text, json, markdown"],
        ),
        case(
            "parallelism 0",
            w.cloud_args(&["apply"], "a.yaml", &["--parallelism", "0"]),
            2,
            &["invalid value '0' for '--parallelism"],
        ),
        case(
            "parallelism not a number",
            plan_a(&["--parallelism", "many"]),
            2,
            &["invalid value 'many' for '--parallelism"],
        ),
        case(
            "negative lock timeout",
            plan_a(&["--lock-timeout", "-1"]),
            2,
            &["unexpected argument '-1'"],
        ),
        case(
            "unknown cloud",
            plan_a(&["--cloud", "mars"]),
            2,
            &["invalid value 'mars' for '--cloud"],
        ),
        case(
            "two plan files",
            {
                let mut v = apply_with("a.plan", "a.yaml");
                v.insert(2, w.arg("empty.plan"));
                v
            },
            2,
            &["unexpected argument"],
        ),
        case(
            "emulator listen not an address",
            owned(&["emulator", "--listen", "localhost:port"]),
            2,
            &["invalid value 'localhost:port' for '--listen"],
        ),
        // synlink's own refusals: exit 1.
        case(
            "spec does not exist",
            owned(&["validate", "-f", "missing.yaml"]),
            1,
            &["missing.yaml: no such file"],
        ),
        case(
            "spec is a directory",
            owned(&["validate", "-f", "statedir"]),
            1,
            &["is a directory, not a spec file"],
        ),
        case(
            "spec is random bytes",
            owned(&["validate", "-f", "random.plan"]),
            1,
            &["not UTF-8"],
        ),
        case(
            "malformed --var",
            owned(&["validate", "-f", "a.yaml", "--var", "no-equals-sign"]),
            1,
            &["no-equals-sign"],
        ),
        case(
            "plan file is random bytes (its message: see the ignored test below)",
            apply_with("random.plan", "a.yaml"),
            1,
            &["random.plan"],
        ),
        case(
            "plan file is empty",
            apply_with("empty.plan", "a.yaml"),
            1,
            &["empty.plan", "not a synlink plan file"],
        ),
        case(
            "plan file is JSON of another shape",
            apply_with("other.json", "a.yaml"),
            1,
            &["other.json", "not a synlink plan file"],
        ),
        case(
            "plan file is the state file",
            apply_with("state.json", "a.yaml"),
            1,
            &["state.json", "not a synlink plan file"],
        ),
        case(
            "plan file has a plan's version but not its shape",
            apply_with("bad-shape.plan", "a.yaml"),
            1,
            &["bad-shape.plan", "not a synlink plan file"],
        ),
        case(
            "plan file from a newer synlink",
            apply_with("future.plan", "a.yaml"),
            1,
            &["future.plan", "format version 99"],
        ),
        case(
            "plan file does not exist",
            apply_with("missing.plan", "a.yaml"),
            1,
            &["missing.plan"],
        ),
        case(
            "plan file is a directory",
            apply_with("statedir", "a.yaml"),
            1,
            &["statedir"],
        ),
        case(
            "plan file from another spec",
            apply_with("a.plan", "b.yaml"),
            1,
            &["a.plan: the saved plan cannot be applied", "spec"],
        ),
        case(
            "state is corrupt (plan)",
            plan_state("corrupt-state.json"),
            1,
            &["corrupt-state.json", "the state file is corrupt"],
        ),
        case(
            "state is corrupt (apply)",
            apply_state("corrupt-state.json"),
            1,
            &["corrupt-state.json", "the state file is corrupt"],
        ),
        case(
            "state is corrupt (output)",
            with_state(&["output"], "corrupt-state.json"),
            1,
            &["the state file is corrupt"],
        ),
        case(
            "state is corrupt (state list)",
            with_state(&["state", "list"], "corrupt-state.json"),
            1,
            &["the state file is corrupt"],
        ),
        case(
            "state is corrupt (state rm)",
            with_state(&["state", "rm", "links.main"], "corrupt-state.json"),
            1,
            &["the state file is corrupt"],
        ),
        case(
            "state is JSON of another shape",
            plan_state("not-a-state.json"),
            1,
            &["not-a-state.json", "the state file is corrupt"],
        ),
        case(
            "state from a newer synlink (plan)",
            plan_state("future-state.json"),
            1,
            &["future-state.json", "format version 99"],
        ),
        case(
            "state from a newer synlink (apply)",
            apply_state("future-state.json"),
            1,
            &["future-state.json", "format version 99"],
        ),
        case(
            "state from a newer synlink (state rm)",
            with_state(&["state", "rm", "links.main"], "future-state.json"),
            1,
            &["format version 99"],
        ),
        case(
            "state is a directory (plan)",
            plan_state("statedir"),
            1,
            &["statedir"],
        ),
        case(
            "state is a directory (apply)",
            apply_state("statedir"),
            1,
            &["statedir"],
        ),
        case(
            "state is a directory (output)",
            with_state(&["output"], "statedir"),
            1,
            &["statedir"],
        ),
        case(
            "state is a directory (state rm)",
            with_state(&["state", "rm", "links.main"], "statedir"),
            1,
            &["statedir"],
        ),
        case(
            "apply without --auto-approve, stdin not a terminal",
            w.cloud_args(&["apply"], "a.yaml", &[]),
            1,
            &["pass --auto-approve"],
        ),
        case(
            "destroy without --auto-approve, stdin not a terminal",
            w.cloud_args(&["destroy"], "a.yaml", &[]),
            1,
            &["pass --auto-approve"],
        ),
        case(
            "state show of an unknown address",
            with_state(&["state", "show", "links.nowhere"], "state.json"),
            1,
            &["`links.nowhere` is not in the state"],
        ),
        case(
            "state rm of an unknown address",
            with_state(&["state", "rm", "links.nowhere"], "state.json"),
            1,
            &["`links.nowhere` is not in the state"],
        ),
        case(
            "import of a non-address",
            w.cloud_args(&["import", "nonsense", "/subscriptions/x"], "a.yaml", &[]),
            1,
            &["`nonsense` is not an address"],
        ),
        case(
            "import of an id of another kind",
            w.cloud_args(
                &[
                    "import",
                    "attachments.main-small",
                    "/subscriptions/x/resourceGroups/y",
                ],
                "a.yaml",
                &[],
            ),
            1,
            &["is not the id of a"],
        ),
        case(
            "plan --out into a missing directory",
            plan_a(&["--out", "no/such/dir/a.plan"]),
            1,
            &["cannot save the plan"],
        ),
    ];

    let mut failures = Vec::new();
    let mut table = String::new();
    for c in &cases {
        let before = w.snapshot();
        let run = w.run(&c.args).await;
        let after = w.snapshot();
        let first_line = run
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        table.push_str(&format!("  [{}] {}: {}\n", run.code, c.name, first_line));
        let mut wrong = Vec::new();
        if run.code != c.code {
            wrong.push(format!("exit code {} (want {})", run.code, c.code));
        }
        if !(1..=2).contains(&run.code) {
            wrong.push(format!("exit code {} is neither 1 nor 2", run.code));
        }
        for s in &c.says {
            if !run.stderr.contains(s) {
                wrong.push(format!("stderr lacks {s:?}"));
            }
        }
        if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
            wrong.push("it panicked".to_owned());
        }
        if before != after {
            let changed: Vec<&String> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k) != after.get(*k))
                .collect();
            wrong.push(format!("files changed: {changed:?}"));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n    synlink {}\n    stdout: {}\n    stderr: {}",
                c.name,
                wrong.join("; "),
                c.args.join(" "),
                run.stdout.trim(),
                run.stderr.trim()
            ));
        }
    }
    println!("misuse table ({} cases):\n{table}", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} misuse cases went wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A plan file that is not UTF-8 should be called what it is, like every other
/// file that is not a plan. synlink says `stream did not contain valid UTF-8`.
#[tokio::test]
async fn a_plan_file_of_random_bytes_is_called_not_a_plan() {
    let w = World::new().await;
    w.write("a.yaml", quickstart());
    w.write("random.plan", [0xff_u8, 0xfe, 0x00, 0x80, 0x81, b'{', 0xc3]);
    let before = w.snapshot();
    let run = w
        .run(&w.cloud_args(
            &["apply", &w.arg("random.plan")],
            "a.yaml",
            &["--auto-approve"],
        ))
        .await;
    run.exit(1);
    assert!(
        run.stderr.contains("random.plan: not a synlink plan file"),
        "{run:#?}"
    );
    assert_eq!(w.snapshot(), before, "nothing changed");
}
