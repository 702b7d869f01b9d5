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
