//! The worked pipeline in `examples/github/`: every workflow parses as YAML,
//! asks for the permissions its steps need, and every `synlink …` command it
//! runs is a valid invocation of this synlink (parsed by its own command-line
//! definitions); the team spec beside them validates.

use std::path::{Path, PathBuf};

use clap::Parser as _;
use serde_json::Value;
use synlink::cli::Cli;

use crate::world::World;

fn pipeline_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github")
}

/// The workflow files, parsed.
fn workflows() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pipeline_dir())
        .expect("examples/github")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("workflow");
            let value: Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
            (
                path.file_name()
                    .expect("name")
                    .to_string_lossy()
                    .into_owned(),
                value,
            )
        })
        .collect()
}

/// Each step's `run` script of a workflow.
fn scripts(workflow: &Value) -> Vec<String> {
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|job| job["steps"].as_array().cloned().unwrap_or_default())
        .filter_map(|step| step["run"].as_str().map(str::to_owned))
        .collect()
}

/// The `synlink …` commands of a script, as argument lists: continuation
/// lines joined, the workflow's `$SPEC` and `${{ … }}` expressions put in,
/// and cut at the first redirection or shell operator.
fn synlink_commands(script: &str, spec: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("synlink "))
        .map(|line| {
            let mut line = line.replace("$SPEC", spec);
            while let Some(start) = line.find("${{") {
                let end = line[start..]
                    .find("}}")
                    .map_or(line.len(), |e| start + e + 2);
                line.replace_range(start..end, "EXPR");
            }
            let words = shlex::split(&line).unwrap_or_else(|| panic!("not shell words: {line}"));
            words
                .into_iter()
                .take_while(|w| {
                    !matches!(w.as_str(), ">" | ">>" | "|" | "||" | "&&" | ";" | "2>&1")
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_synlink_command_of_the_pipeline_is_a_valid_invocation() {
    use clap::CommandFactory as _;
    Cli::command().debug_assert();
    let mut seen: Vec<String> = Vec::new();
    for (name, workflow) in workflows() {
        let spec = workflow["env"]["SPEC"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: env.SPEC"));
        assert_eq!(spec, "infra/synlink.yaml", "{name}");
        let commands: Vec<Vec<String>> = scripts(&workflow)
            .iter()
            .flat_map(|s| synlink_commands(s, spec))
            .collect();
        assert!(!commands.is_empty(), "{name} runs no synlink command");
        for args in commands {
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!(
                    "{name}: `{}` is not a valid invocation:\n{e}",
                    args.join(" ")
                );
            }
            seen.push(format!("{name}: {}", args.join(" ")));
        }
    }
    let all = seen.join("\n");
    for expected in [
        "synlink-plan.yml: synlink validate -f infra/synlink.yaml --format github",
        "synlink-plan.yml: synlink plan -f infra/synlink.yaml --lock-timeout 300 --format markdown --out synlink.plan",
        "synlink-apply.yml: synlink apply synlink.plan -f infra/synlink.yaml --auto-approve",
        "synlink-drift.yml: synlink plan -f infra/synlink.yaml --refresh-only --detailed-exitcode",
    ] {
        assert!(all.contains(expected), "{expected} not in:\n{all}");
    }
}

#[test]
fn each_workflow_asks_for_what_its_steps_need() {
    let workflows = workflows();
    assert_eq!(
        workflows
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["synlink-apply.yml", "synlink-drift.yml", "synlink-plan.yml"]
    );
    for (name, workflow) in &workflows {
        let permissions = &workflow["permissions"];
        // Azure sign-in is GitHub's OIDC token: no secret in the repository.
        assert_eq!(permissions["id-token"], "write", "{name}");
        assert_eq!(permissions["contents"], "read", "{name}");
        let text = std::fs::read_to_string(pipeline_dir().join(name)).expect("text");
        assert!(!text.contains("secrets."), "{name} uses no secret");
        assert!(
            !text.contains("azure/login"),
            "{name}: synlink signs in itself"
        );
    }
    let get = |n: &str| &workflows.iter().find(|(name, _)| name == n).expect(n).1;
    let plan = get("synlink-plan.yml");
    assert_eq!(plan["permissions"]["pull-requests"], "write");
    let plan_text = serde_json::to_string(plan).expect("json");
    assert!(
        plan_text.contains("<!-- synlink-plan: ${spec} -->"),
        "one marker per spec"
    );
    assert!(
        plan_text.contains("updateComment"),
        "the comment is updated in place"
    );
    assert!(plan_text.contains("actions/upload-artifact"));
    let apply = get("synlink-apply.yml");
    assert_eq!(apply["permissions"]["actions"], "read");
    assert!(serde_json::to_string(apply)
        .expect("json")
        .contains("actions/download-artifact"));
    let drift = get("synlink-drift.yml");
    assert_eq!(drift["permissions"]["issues"], "write");
    assert!(drift["on"]["schedule"].is_array(), "a scheduled check");
}

#[test]
fn the_pipelines_team_spec_validates() {
    let w = World::offline();
    let spec = pipeline_dir().join("synlink.yaml");
    w.synlink(["validate", "-f", &spec.display().to_string()])
        .run_blocking()
        .success();
    let text = std::fs::read_to_string(&spec).expect("spec");
    assert!(
        text.contains("state:\n  azure_blob:"),
        "it keeps its state in a blob"
    );
}
