//! `synlink validate` on bad specs: one small spec per rule, run through the real
//! binary. Each case checks the exit code, the `file:line:col` and the text of
//! the diagnostic the rule produces, and snapshots the whole stderr as a user
//! sees it (`tests/it/snapshots/bad_specs__*.snap`, the spec in the header).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::world::World;

/// The name the spec is written under, so that messages (and snapshots) are stable.
pub const SPEC: &str = "spec.yaml";

/// Removes the common indentation of an indented literal, and its first line
/// when that is empty, so that specs can be written indented in this file.
pub fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `×` or `error:`.
    Error,
    /// `⚠` or `warning:`.
    Warning,
}

/// One diagnostic as rendered on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// Error or warning.
    pub level: Level,
    /// The file named in the header, if any.
    pub path: Option<String>,
    /// `(line, col)` from the header, if any.
    pub at: Option<(u32, u32)>,
    /// What follows the position: `ADDRESS: MESSAGE` or `MESSAGE`.
    pub text: String,
    /// The `hint:` lines that follow it.
    pub hints: Vec<String>,
}

/// Splits a header `PATH:LINE:COL: REST`, `PATH: REST` or `REST`.
fn parse_header(level: Level, header: &str, file: &str) -> Shown {
    let mut shown = Shown {
        level,
        path: None,
        at: None,
        text: header.to_owned(),
        hints: Vec::new(),
    };
    let Some(after_path) = header.strip_prefix(file) else {
        return shown;
    };
    shown.path = Some(file.to_owned());
    if let Some(rest) = after_path.strip_prefix(": ") {
        rest.clone_into(&mut shown.text);
        return shown;
    }
    let mut parts = after_path.splitn(4, ':');
    let (Some(""), Some(line), Some(col), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return shown;
    };
    if let (Ok(line), Ok(col)) = (line.parse(), col.parse()) {
        shown.at = Some((line, col));
        rest.trim_start().clone_into(&mut shown.text);
    }
    shown
}

/// Every diagnostic rendered on stderr: miette reports (`  × `, `  ⚠ `) and
/// one-line causes (`error: `, `warning: `), each with its hints. The closing
/// `error: FILE is invalid: …` count is not a diagnostic.
pub fn diagnostics(stderr: &str, file: &str) -> Vec<Shown> {
    let summary = format!("error: {file} is invalid: ");
    let mut out: Vec<Shown> = Vec::new();
    for line in stderr.lines() {
        if let Some(h) = line.strip_prefix("  × ") {
            out.push(parse_header(Level::Error, h, file));
        } else if let Some(h) = line.strip_prefix("  ⚠ ") {
            out.push(parse_header(Level::Warning, h, file));
        } else if let Some(h) = line
            .strip_prefix("error: ")
            .filter(|_| !line.starts_with(&summary))
        {
            out.push(parse_header(Level::Error, h, file));
        } else if let Some(h) = line.strip_prefix("warning: ") {
            out.push(parse_header(Level::Warning, h, file));
        } else if let Some(h) = line.strip_prefix("  hint: ") {
            if let Some(last) = out.last_mut() {
                last.hints.push(h.to_owned());
            }
        }
    }
    out
}

/// One bad spec and what `synlink validate` must say about it.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// The snapshot name.
    name: &'static str,
    /// The spec, indented (see [`dedent`]).
    yaml: &'static str,
    /// Extra arguments after `validate -f spec.yaml`.
    args: &'static [&'static str],
    /// The exit code.
    exit: i32,
    /// The diagnostic the rule produces: the first whose text contains this.
    message: &'static str,
    /// Its level.
    level: Level,
    /// Its `(line, col)`, `None` when it has no position.
    at: Option<(u32, u32)>,
    /// The address it names, if one is expected.
    address: Option<&'static str>,
    /// A substring of one of its hints.
    hint: Option<&'static str>,
    /// Further substrings its text must contain.
    also: &'static [&'static str],
    /// The number of diagnostics (errors and warnings), when it matters.
    count: Option<usize>,
}

const CASE: Case = Case {
    name: "",
    yaml: "",
    args: &[],
    exit: 1,
    message: "",
    level: Level::Error,
    at: None,
    address: None,
    hint: None,
    also: &[],
    count: Some(1),
};

const CASES: &[Case] = &[
    // ---- structure ----
    Case {
        name: "unknown_section",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspacs:
              shared:
                existing: true
        ",
        message: "unknown section `synapse_workspacs`",
        at: Some((6, 1)),
        hint: Some("did you mean `synapse_workspaces`?"),
        ..CASE
    },
    Case {
        name: "unknown_section_no_close_match",
        yaml: "
            version: 1
            outputs:
              a: b
        ",
        message: "unknown section `outputs`",
        at: Some((2, 1)),
        hint: Some("the sections are: version, cloud, defaults, variables, state, ml_workspaces"),
        ..CASE
    },
    Case {
        // A typo in a section name is one error: the entries under it are not
        // reported again as dangling references, nor with a misleading hint.
        name: "section_name_typo_is_one_error",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              teams: [team-a, team-b, team-c]
            synapse_workspaces:
              shared:
                name: syn-shared
                existing: true
            ml_workspace:
              \"{each}\":
                for_each: ${teams}
                name: \"mlw-{each}\"
                existing: true
            links:
              \"{each}\":
                for_each: ${teams}
                ml_workspace: \"{each}\"
                synapse_workspace: shared
                name: synapselink1
            role_grants:
              \"{each}-spark\":
                for_each: ${teams}
                synapse_workspace: shared
                role: Synapse Apache Spark Administrator
                principal: { link: \"{each}\" }
                depends_on: [\"ml_workspaces.{each}\"]
        ",
        message: "unknown section `ml_workspace`",
        at: Some((12, 1)),
        hint: Some("did you mean `ml_workspaces`?"),
        ..CASE
    },
    Case {
        // A misspelled `variables` still declares them: one error, not one per use.
        name: "variables_section_typo_is_one_error",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variable:
              teams: [fraud, churn]
            ml_workspaces:
              \"team-{each}\":
                for_each: ${teams}
                name: \"mlw-{each}\"
                existing: true
        ",
        message: "unknown section `variable`",
        at: Some((6, 1)),
        hint: Some("did you mean `variables`?"),
        ..CASE
    },
    Case {
        name: "unknown_field_with_hint",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
                node_sise: Small
        ",
        message: "unknown field `node_sise`",
        at: Some((13, 5)),
        address: Some("spark_pools.small"),
        hint: Some("did you mean `node_size`?"),
        ..CASE
    },
    Case {
        name: "several_unknown_fields_all_reported",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                nmae: mlw-main
                locaton: westeurope
                tagz: { team: fraud }
        ",
        message: "unknown field `nmae`",
        at: Some((9, 5)),
        address: Some("ml_workspaces.main"),
        hint: Some("did you mean `name`?"),
        count: Some(3),
        ..CASE
    },
    Case {
        name: "unknown_field_in_nested_map",
        yaml: "
            version: 1
            synapse_workspaces:
              shared:
                existing: true
                subscription: 00000000-0000-0000-0000-0000000000a1
                resource_group: rg
                location: westeurope
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                autoscale: { min: 3, max: 10, step: 1 }
        ",
        message: "unknown field `step`",
        at: Some((13, 35)),
        address: Some("spark_pools.small"),
        hint: Some("the fields here are: min, max"),
        ..CASE
    },
    Case {
        name: "wrong_type_node_count",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                node_count: three
        ",
        message: "expected an integer, found the string \"three\"",
        at: Some((14, 17)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "unquoted_number_for_string_hint",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: 3.4
                node_count: 3
        ",
        message: "expected a string, found the number 3.4",
        at: Some((13, 20)),
        address: Some("spark_pools.small"),
        hint: Some("quote the value to make it a string"),
        ..CASE
    },
    Case {
        name: "missing_required_field",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            links:
              main:
                synapse_workspace: shared
        ",
        message: "missing required field `ml_workspace`",
        at: Some((13, 3)),
        address: Some("links.main"),
        ..CASE
    },
    Case {
        name: "version_missing",
        yaml: "
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
            ml_workspaces:
              main:
                existing: true
                resource_group: rg
                location: westeurope
        ",
        message: "missing `version`",
        at: Some((1, 1)),
        hint: Some("add `version: 1` at the top"),
        ..CASE
    },
    Case {
        name: "version_unsupported",
        yaml: "
            version: 2
            ml_workspaces:
              main:
                existing: true
                subscription: 00000000-0000-0000-0000-0000000000a1
                resource_group: rg
                location: westeurope
        ",
        message: "unsupported spec version 2",
        at: Some((1, 10)),
        address: Some("version"),
        hint: Some("this synlink reads version 1"),
        ..CASE
    },
    Case {
        name: "version_as_string",
        yaml: "
            version: \"one\"
        ",
        message: "expected an integer, found the string \"one\"",
        at: Some((1, 10)),
        address: Some("version"),
        ..CASE
    },
    Case {
        name: "duplicate_yaml_key",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
                existing: false
        ",
        message: "invalid YAML: duplicate mapping key",
        at: Some((9, 5)),
        ..CASE
    },
    Case {
        // A syntax error is shown in its line, a caret where the parser stopped.
        name: "yaml_syntax_error",
        yaml: "
            version: 1
            links:
              a: { ml_workspace: m, synapse_workspace: s
              b: { ml_workspace: m, synapse_workspace: s }
        ",
        message: "invalid YAML: while parsing a flow mapping",
        at: Some((4, 4)),
        ..CASE
    },
    Case {
        name: "spec_not_a_map",
        yaml: "
            - version: 1
        ",
        message: "the spec must be a map of sections, found a list",
        at: Some((1, 1)),
        // Also reported: `missing `version`` (a follow-up of the same problem).
        count: None,
        ..CASE
    },
    Case {
        name: "section_not_a_map",
        yaml: "
            version: 1
            links: [a, b]
        ",
        message: "`links` must be a map of KEY: settings, found a list",
        at: Some((2, 8)),
        address: Some("links"),
        ..CASE
    },
    // ---- addresses, references and the graph ----
    Case {
        name: "duplicate_address_after_for_each",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              team-a:
                existing: true
              \"team-{each}\":
                for_each: [a, b]
                existing: true
        ",
        message: "duplicate address `ml_workspaces.team-a`",
        at: Some((9, 3)),
        address: Some("ml_workspaces.team-a"),
        hint: Some("the first `ml_workspaces.team-a` is at line 7"),
        ..CASE
    },
    Case {
        name: "dangling_reference",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            links:
              main:
                ml_workspace: main
                synapse_workspace: sharde
        ",
        message: "`synapse_workspace` refers to `sharde`, but there is no Synapse workspace `sharde`",
        at: Some((15, 24)),
        address: Some("links.main"),
        hint: Some("did you mean `shared`?"),
        ..CASE
    },
    Case {
        name: "wrong_kind_reference",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            attachments:
              main-small:
                ml_workspace: main
                spark_pool: shared
                identity: system_assigned
        ",
        message: "`spark_pool` refers to `shared`, but there is no Spark pool `shared`",
        at: Some((15, 17)),
        address: Some("attachments.main-small"),
        hint: Some("`synapse_workspaces.shared` is a Synapse workspace; `spark_pool` takes the key of a Spark pool"),
        ..CASE
    },
    Case {
        name: "depends_on_not_an_address",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            ml_workspaces:
              main:
                existing: true
                depends_on: [shared]
        ",
        message: "`shared` in depends_on is not an address",
        at: Some((12, 18)),
        address: Some("ml_workspaces.main"),
        hint: Some("did you mean `synapse_workspaces.shared`?"),
        ..CASE
    },
    Case {
        name: "depends_on_missing_address",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                depends_on:
                  - links.main
        ",
        message: "depends_on names `links.main`, which is not in the spec",
        at: Some((10, 9)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    Case {
        name: "depends_on_itself",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                depends_on: [ml_workspaces.main]
        ",
        message: "a resource cannot depend on itself",
        at: Some((9, 18)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    Case {
        name: "dependency_cycle",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                depends_on: [spark_pools.small]
            synapse_workspaces:
              shared:
                existing: true
                depends_on: [ml_workspaces.main]
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
        ",
        message: "dependency cycle: ",
        at: Some((7, 3)),
        address: Some("ml_workspaces.main"),
        also: &["ml_workspaces.main → spark_pools.small → synapse_workspaces.shared → ml_workspaces.main"],
        hint: Some("remove one of the depends_on entries"),
        ..CASE
    },
    // ---- Azure naming rules ----
    Case {
        name: "aml_workspace_name_too_short",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                name: ab
                existing: true
        ",
        message: "invalid AML workspace name `ab`: it must be 3 to 33 characters long, not 2",
        at: Some((8, 11)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    Case {
        name: "aml_workspace_name_bad_char",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                name: mlw.main
                existing: true
        ",
        message: "invalid AML workspace name `mlw.main`: it may contain only letters, digits, `-` and `_`, not `.`",
        at: Some((8, 11)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    Case {
        name: "aml_workspace_name_from_key",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              x:
                existing: true
        ",
        message: "invalid AML workspace name `x`: it must be 3 to 33 characters long, not 1 (taken from the key; set `name` to choose another)",
        at: Some((7, 3)),
        address: Some("ml_workspaces.x"),
        ..CASE
    },
    Case {
        name: "synapse_workspace_name_uppercase",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                name: Syn-Shared
                existing: true
        ",
        message: "invalid Synapse workspace name `Syn-Shared`: it must be lowercase",
        at: Some((8, 11)),
        address: Some("synapse_workspaces.shared"),
        ..CASE
    },
    Case {
        name: "synapse_workspace_name_ondemand",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                name: syn-ondemand-prod
                existing: true
        ",
        message: "invalid Synapse workspace name `syn-ondemand-prod`: it must not contain `-ondemand`",
        at: Some((8, 11)),
        address: Some("synapse_workspaces.shared"),
        ..CASE
    },
    Case {
        name: "spark_pool_name_dash",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                name: small-pool
                synapse_workspace: shared
                existing: true
        ",
        message: "invalid Spark pool name `small-pool`: it may contain only letters and digits, not `-`",
        at: Some((11, 11)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "spark_pool_name_leading_digit",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                name: 1small
                synapse_workspace: shared
                existing: true
        ",
        message: "invalid Spark pool name `1small`: it must start with a letter",
        at: Some((11, 11)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "compute_name_too_long",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
            attachments:
              main-small:
                name: a-very-long-compute-name
                ml_workspace: main
                spark_pool: small
                identity: system_assigned
        ",
        message: "invalid attachment name `a-very-long-compute-name`: it must be 2 to 16 characters long, not 24",
        at: Some((18, 11)),
        address: Some("attachments.main-small"),
        ..CASE
    },
    Case {
        name: "link_name_invalid",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            links:
              main:
                name: _link
                ml_workspace: main
                synapse_workspace: shared
        ",
        message: "invalid link name `_link`: it must start with a letter or a digit",
        at: Some((14, 11)),
        address: Some("links.main"),
        ..CASE
    },
    Case {
        name: "resource_group_name_invalid",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                resource_group: rg.
        ",
        message: "invalid resource group name `rg.`: it must not end with `.`",
        at: Some((8, 21)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    // ---- Spark pools ----
    Case {
        name: "pool_node_count_and_autoscale",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                node_count: 3
                autoscale: { min: 3, max: 10 }
        ",
        message: "set either `node_count` or `autoscale`, not both",
        at: Some((15, 16)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "pool_neither_node_count_nor_autoscale",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
        ",
        message: "a Spark pool needs `node_count` or `autoscale`",
        at: Some((10, 3)),
        address: Some("spark_pools.small"),
        hint: Some("autoscale: { min: 3, max: 10 }"),
        ..CASE
    },
    Case {
        name: "pool_node_count_out_of_range",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                node_count: 2
        ",
        message: "`node_count` is 2; it must be between 3 and 200",
        at: Some((14, 17)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "pool_autoscale_min_above_max",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                autoscale:
                  min: 12
                  max: 8
        ",
        message: "autoscale `min` (12) is larger than `max` (8)",
        at: Some((15, 12)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "pool_auto_pause_out_of_range",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"3.5\"
                node_count: 3
                auto_pause_minutes: 2
        ",
        message: "`auto_pause_minutes` is 2; it must be between 5 and 10080",
        at: Some((15, 25)),
        address: Some("spark_pools.small"),
        ..CASE
    },
    Case {
        name: "pool_unknown_node_size",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Smal
                spark_version: \"3.5\"
                node_count: 3
        ",
        message: "`Smal` is not a valid node size",
        at: Some((12, 16)),
        address: Some("spark_pools.small"),
        hint: Some("did you mean `Small`?"),
        ..CASE
    },
    Case {
        name: "pool_unknown_node_size_family",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                node_size_family: GeneralPurpose
                spark_version: \"3.5\"
                node_count: 3
        ",
        message: "`GeneralPurpose` is not a valid node size family",
        at: Some((13, 23)),
        address: Some("spark_pools.small"),
        hint: Some("expected one of: MemoryOptimized, HardwareAcceleratedGPU, HardwareAcceleratedFPGA"),
        ..CASE
    },
    Case {
        name: "pool_unsupported_spark_version",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Small
                spark_version: \"2.4\"
                node_count: 3
        ",
        message: "Spark version `2.4` is not supported",
        at: Some((13, 20)),
        address: Some("spark_pools.small"),
        hint: Some("supported runtimes: 3.5 for new pools; pools that exist may still run 3.3, 3.4"),
        ..CASE
    },
    // ---- role grants and principals ----
    Case {
        name: "grant_unknown_synapse_role",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse Adminstrator
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "`Synapse Adminstrator` is not a Synapse role",
        at: Some((12, 11)),
        address: Some("role_grants.ops"),
        hint: Some("did you mean `Synapse Administrator`?"),
        ..CASE
    },
    Case {
        name: "grant_azure_rbac_owner",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Owner
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "`Owner` is not a Synapse role",
        at: Some((12, 11)),
        address: Some("role_grants.ops"),
        hint: Some("`Owner` is an Azure RBAC role, not a Synapse RBAC role"),
        ..CASE
    },
    Case {
        name: "grant_azure_rbac_contributor",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Contributor
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "`Contributor` is not a Synapse role",
        at: Some((12, 11)),
        address: Some("role_grants.ops"),
        hint: Some("`Contributor` is an Azure RBAC role, not a Synapse RBAC role"),
        ..CASE
    },
    Case {
        name: "principal_with_two_identities",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            links:
              main:
                ml_workspace: main
                synapse_workspace: shared
            role_grants:
              main-spark:
                synapse_workspace: shared
                role: Synapse Apache Spark Administrator
                principal: { link: main, object_id: 11111111-2222-3333-4444-555555555555 }
        ",
        message: "the principal names more than one identity",
        at: Some((20, 16)),
        address: Some("role_grants.main-spark"),
        hint: Some("set exactly one of `link: KEY`, `attachment: KEY` or `object_id: GUID` with `type`"),
        ..CASE
    },
    Case {
        name: "principal_with_no_identity",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal: {}
        ",
        message: "the principal names no one",
        at: Some((13, 16)),
        address: Some("role_grants.ops"),
        ..CASE
    },
    Case {
        name: "principal_object_id_not_guid",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal:
                  object_id: alice@example.com
                  type: User
        ",
        message: "object_id `alice@example.com` is not a GUID",
        at: Some((14, 18)),
        address: Some("role_grants.ops"),
        ..CASE
    },
    Case {
        name: "principal_object_id_without_type",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal: { object_id: 11111111-2222-3333-4444-555555555555 }
        ",
        message: "an `object_id` principal needs a `type`",
        at: Some((13, 16)),
        address: Some("role_grants.ops"),
        hint: Some("type: User, Group or ServicePrincipal"),
        ..CASE
    },
    Case {
        name: "principal_bad_type",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal:
                  object_id: 11111111-2222-3333-4444-555555555555
                  type: Robot
        ",
        message: "`Robot` is not a valid principal",
        at: Some((15, 13)),
        address: Some("role_grants.ops"),
        hint: Some("expected one of: User, Group, ServicePrincipal"),
        ..CASE
    },
    Case {
        name: "principal_unknown_field",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal: { lnk: ops }
        ",
        message: "unknown field `lnk`",
        at: Some((13, 18)),
        address: Some("role_grants.ops"),
        hint: Some("did you mean `link`?"),
        // Also reported, wrongly: `missing required field `principal`` at the key.
        count: None,
        ..CASE
    },
    Case {
        name: "principal_type_without_object_id",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            links:
              main:
                ml_workspace: main
                synapse_workspace: shared
            role_grants:
              main-spark:
                synapse_workspace: shared
                role: Synapse Apache Spark Administrator
                principal: { link: main, type: User }
        ",
        message: "`type` goes with `object_id` only",
        at: Some((20, 36)),
        address: Some("role_grants.main-spark"),
        ..CASE
    },
    Case {
        name: "principal_attachment_without_identity",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
            links:
              main:
                ml_workspace: main
                synapse_workspace: shared
            attachments:
              main-small:
                ml_workspace: main
                spark_pool: small
            role_grants:
              main-small-spark:
                synapse_workspace: shared
                role: Synapse Apache Spark Administrator
                principal: { attachment: main-small }
        ",
        message: "attachment `main-small` has no identity to grant a role to",
        at: Some((28, 30)),
        address: Some("role_grants.main-small-spark"),
        hint: Some("set `identity: system_assigned` on attachments.main-small"),
        ..CASE
    },
    Case {
        name: "grant_workspace_only_role_at_pool_scope",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse Apache Spark Administrator
                scope: { spark_pool: small }
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "`Apache Spark Administrator` can only be granted at workspace scope",
        at: Some((17, 12)),
        address: Some("role_grants.ops"),
        hint: Some("remove `scope`"),
        ..CASE
    },
    Case {
        name: "grant_scope_pool_in_another_workspace",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
              other:
                existing: true
            spark_pools:
              small:
                synapse_workspace: other
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                scope: { spark_pool: small }
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "Spark pool `small` is in Synapse workspace `other`, not `shared`",
        at: Some((19, 12)),
        address: Some("role_grants.ops"),
        ..CASE
    },
    Case {
        name: "grant_same_twice",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            role_grants:
              ops:
                synapse_workspace: shared
                role: Synapse User
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
              ops-again:
                synapse_workspace: shared
                role: 2a385764-43e8-416c-9825-7b18d05a2c4b
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "`role_grants.ops-again` and `role_grants.ops` describe the same Azure resource",
        at: Some((14, 3)),
        address: Some("role_grants.ops-again"),
        hint: Some("the same role, principal and scope are granted twice"),
        ..CASE
    },
    // ---- placement and creation-only fields ----
    Case {
        name: "missing_subscription_without_defaults",
        yaml: "
            version: 1
            ml_workspaces:
              main:
                existing: true
                resource_group: rg
                location: westeurope
        ",
        message: "no subscription for this AML workspace",
        at: Some((3, 3)),
        address: Some("ml_workspaces.main"),
        hint: Some("set `subscription` here or `defaults.subscription`"),
        ..CASE
    },
    Case {
        name: "subscription_not_a_guid",
        yaml: "
            version: 1
            ml_workspaces:
              main:
                existing: true
                subscription: my-subscription
                resource_group: rg
                location: westeurope
        ",
        message: "subscription `my-subscription` is not a GUID",
        at: Some((5, 19)),
        address: Some("ml_workspaces.main"),
        hint: Some("00000000-0000-0000-0000-000000000000"),
        ..CASE
    },
    Case {
        name: "aml_workspace_missing_storage_account",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                key_vault: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv
                application_insights: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.Insights/components/ai
        ",
        message: "missing `storage_account`, required to create this AML workspace",
        at: Some((7, 3)),
        address: Some("ml_workspaces.main"),
        hint: Some("set `storage_account`, or `existing: true` if the AML workspace already exists"),
        ..CASE
    },
    Case {
        name: "aml_workspace_bad_arm_id",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                storage_account: saquickstart
                key_vault: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv
                application_insights: /subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg/providers/Microsoft.Insights/components/ai
        ",
        message: "`saquickstart` is not an ARM resource id",
        at: Some((8, 22)),
        address: Some("ml_workspaces.main"),
        hint: Some("expected /subscriptions/SUB/resourceGroups/RG/providers/NAMESPACE/TYPE/NAME"),
        ..CASE
    },
    Case {
        name: "synapse_workspace_missing_data_lake",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              analytics:
                sql_admin_login: sqladmin
        ",
        message: "missing `data_lake`, required to create this Synapse workspace",
        at: Some((7, 3)),
        address: Some("synapse_workspaces.analytics"),
        ..CASE
    },
    Case {
        name: "data_lake_url_not_https",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              analytics:
                sql_admin_login: sqladmin
                data_lake:
                  account_url: http://sa.dfs.core.windows.net
                  filesystem: synapse
        ",
        message: "`http://sa.dfs.core.windows.net` is not an https URL",
        at: Some((10, 20)),
        address: Some("synapse_workspaces.analytics"),
        hint: Some("https://acct.dfs.core.windows.net"),
        ..CASE
    },
    Case {
        name: "user_assigned_identity_empty",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                identity: { user_assigned: [] }
        ",
        message: "`user_assigned` needs at least one identity id",
        at: Some((9, 15)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    Case {
        name: "unknown_placeholder_in_for_each",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{each}\":
                for_each: [fraud, churn]
                name: \"mlw-{ech}\"
                existing: true
        ",
        message: "unknown placeholder `{ech}`",
        // The placeholder itself, inside the string; reported once, not per entry.
        at: Some((9, 16)),
        address: Some("ml_workspaces.team-{each}"),
        hint: Some("did you mean `{each}`?"),
        ..CASE
    },
    Case {
        name: "unknown_placeholder_in_a_key",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{ech}\":
                for_each: [fraud, churn]
                existing: true
            links:
              \"{each}\":
                for_each: [fraud, churn]
                ml_workspace: \"team-{each}\"
                synapse_workspace: s
            synapse_workspaces:
              s:
                existing: true
        ",
        message: "unknown placeholder `{ech}`",
        // Not two entries with the same literal key; no dangling references.
        at: Some((7, 9)),
        address: Some("ml_workspaces.team-{ech}"),
        hint: Some("did you mean `{each}`?"),
        ..CASE
    },
    Case {
        name: "unknown_placeholder_each_kye_over_a_map",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"{each.key}\":
                for_each: { fraud: mlw-fraud, churn: mlw-churn }
                name: \"{each.kye}\"
                existing: true
        ",
        message: "unknown placeholder `{each.kye}`",
        at: Some((9, 12)),
        address: Some("ml_workspaces.{each.key}"),
        hint: Some("did you mean `{each.key}`?"),
        ..CASE
    },
    Case {
        name: "each_value_over_a_list",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"{each}\":
                for_each: [fraud, churn]
                name: \"mlw-{each.value}\"
                existing: true
        ",
        message: "`{each.key}` and `{each.value}` need a for_each over a map",
        at: Some((9, 16)),
        address: Some("ml_workspaces.{each}"),
        ..CASE
    },
    Case {
        name: "placeholder_near_miss_outside_for_each",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                name: mlw-{Each}
                existing: true
        ",
        message: "unknown placeholder `{Each}`",
        at: Some((8, 15)),
        address: Some("ml_workspaces.main"),
        hint: Some("placeholders work only in an entry with `for_each`"),
        ..CASE
    },
    Case {
        // A problem of the template, found in every entry: said once, with the entries.
        name: "for_each_problem_reported_once",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              teams: [team-a, team-b, team-c]
            synapse_workspaces:
              \"{each}\":
                for_each: ${teams}
                name: \"Syn-{each}\"
                existing: true
        ",
        message: "invalid Synapse workspace name `Syn-team-a`",
        at: Some((11, 11)),
        address: Some("synapse_workspaces.{each}"),
        also: &["(in 3 of 3 entries: team-a, team-b, team-c)"],
        ..CASE
    },
    Case {
        name: "for_each_dangling_reference_reported_once",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              shared:
                existing: true
            links:
              \"team-{each}\":
                for_each: [a, b, c]
                ml_workspace: \"team-{each}\"
                synapse_workspace: shared
        ",
        message: "`ml_workspace` refers to `team-a`, but there is no AML workspace `team-a`",
        at: Some((12, 19)),
        address: Some("links.team-{each}"),
        also: &["(in 3 of 3 entries: team-a, team-b, team-c)"],
        ..CASE
    },
    Case {
        // Entries with another problem at the same place are reported apart.
        name: "for_each_problem_in_some_entries",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            synapse_workspaces:
              s:
                existing: true
            spark_pools:
              \"{each.key}\":
                for_each: { small: 3, tiny: 1, huge: 300, none: 0 }
                synapse_workspace: s
                node_size: Small
                spark_version: \"3.5\"
                node_count: \"{each.value}\"
        ",
        message: "`node_count` is 1; it must be between 3 and 200",
        at: Some((15, 17)),
        address: Some("spark_pools.{each.key}"),
        also: &["(in 3 of 4 entries: tiny, huge, none)"],
        ..CASE
    },
    // ---- variables and for_each ----
    Case {
        name: "unknown_variable",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              teams: [fraud, churn]
            ml_workspaces:
              \"team-{each}\":
                for_each: ${temas}
                existing: true
        ",
        message: "unknown variable `temas`",
        at: Some((10, 15)),
        hint: Some("did you mean `teams`?"),
        ..CASE
    },
    Case {
        name: "each_outside_for_each",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                name: \"mlw-{each}\"
                existing: true
        ",
        message: "`{each}` is used outside a for_each",
        // The placeholder itself, inside the string.
        at: Some((8, 16)),
        address: Some("ml_workspaces.main"),
        hint: Some("add `for_each:` with a list or a map to this entry"),
        ..CASE
    },
    Case {
        name: "each_key_over_a_list",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{each}\":
                for_each: [fraud]
                name: \"mlw-{each.key}\"
                existing: true
        ",
        message: "`{each.key}` and `{each.value}` need a for_each over a map",
        at: Some((9, 16)),
        // A problem of the template, reported once under the key as written.
        address: Some("ml_workspaces.team-{each}"),
        hint: Some("this for_each iterates a list: use {each}"),
        ..CASE
    },
    Case {
        name: "each_over_a_map",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{each.key}\":
                for_each: { fraud: mlw-fraud }
                name: \"{each}\"
                existing: true
        ",
        message: "`{each}` is used in a for_each over a map",
        at: Some((9, 12)),
        address: Some("ml_workspaces.team-{each.key}"),
        hint: Some("use {each.key} and {each.value}"),
        ..CASE
    },
    Case {
        name: "for_each_not_a_list_or_map",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{each}\":
                for_each: fraud
                existing: true
        ",
        message: "for_each takes a list or a map, found a string",
        at: Some((8, 15)),
        address: Some("ml_workspaces.team-{each}"),
        ..CASE
    },
    Case {
        name: "for_each_list_item_is_a_map",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              \"team-{each}\":
                for_each:
                  - fraud
                  - { name: churn }
                existing: true
        ",
        message: "a for_each list item must be a string or a number, found a map",
        at: Some((10, 9)),
        address: Some("ml_workspaces.team-{each}"),
        ..CASE
    },
    Case {
        name: "list_variable_inside_a_string",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              teams: [fraud, churn]
            ml_workspaces:
              main:
                name: \"mlw-${teams}\"
                existing: true
        ",
        message: "cannot put a list inside a string",
        at: Some((10, 11)),
        address: Some("ml_workspaces.main"),
        hint: Some("for_each: ${teams}"),
        ..CASE
    },
    Case {
        name: "unterminated_variable_reference",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              team: fraud
            ml_workspaces:
              main:
                name: \"mlw-${team\"
                existing: true
        ",
        message: "unterminated `${` in \"mlw-${team\"",
        at: Some((10, 16)),
        address: Some("ml_workspaces.main"),
        hint: Some("write `$${` for a literal `${`"),
        ..CASE
    },
    Case {
        name: "var_flag_of_undeclared_variable",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            variables:
              teams: [fraud]
            ml_workspaces:
              \"{each}\":
                for_each: ${teams}
                existing: true
        ",
        args: &["--var", "temas=[a, b]"],
        message: "--var: the spec declares no variable `temas`",
        hint: Some("did you mean `teams`?"),
        ..CASE
    },
    Case {
        name: "var_flag_without_equals",
        yaml: "
            version: 1
            variables:
              teams: [fraud]
        ",
        args: &["--var", "teams"],
        message: "--var teams: expected NAME=VALUE",
        hint: Some("for example --var teams='[fraud, churn]'"),
        ..CASE
    },
    // ---- duplicates of one Azure object ----
    Case {
        name: "two_attachments_same_compute_name",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
              large:
                synapse_workspace: shared
                existing: true
            attachments:
              main-small:
                ml_workspace: main
                spark_pool: small
                name: spark
                identity: system_assigned
              main-large:
                ml_workspace: main
                spark_pool: large
                name: spark
                identity: system_assigned
        ",
        message: "`attachments.main-large` and `attachments.main-small` describe the same Azure resource",
        at: Some((25, 3)),
        address: Some("attachments.main-large"),
        hint: Some("give one of them another `name` (both are `spark`)"),
        ..CASE
    },
    // ---- cloud ----
    Case {
        name: "cloud_unknown_name",
        yaml: "
            version: 1
            cloud: azur
        ",
        message: "unknown value `azur`",
        at: Some((2, 8)),
        address: Some("cloud"),
        hint: Some("did you mean `azure`?"),
        ..CASE
    },
    Case {
        name: "cloud_endpoint_not_http",
        yaml: "
            version: 1
            cloud: { arm_endpoint: ftp://127.0.0.1:8443 }
        ",
        message: "`ftp://127.0.0.1:8443` is not an http(s) URL",
        at: Some((2, 24)),
        address: Some("cloud"),
        ..CASE
    },
    // ---- warnings only: exit 0 ----
    Case {
        name: "warning_attachment_without_link_or_identity",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
            synapse_workspaces:
              shared:
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                existing: true
            attachments:
              main-small:
                ml_workspace: main
                spark_pool: small
        ",
        exit: 0,
        level: Level::Warning,
        message: "no link from `main` to Synapse workspace `shared` and no identity on this attachment",
        at: Some((19, 17)),
        address: Some("attachments.main-small"),
        hint: Some("set `identity: system_assigned`"),
        ..CASE
    },
    Case {
        name: "warning_prevent_destroy_on_data_source",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                existing: true
                lifecycle: { prevent_destroy: true }
        ",
        exit: 0,
        level: Level::Warning,
        message: "`prevent_destroy` has no effect on a data source (`existing: true`)",
        at: Some((9, 35)),
        address: Some("ml_workspaces.main"),
        ..CASE
    },
    // ---- every problem is collected ----
    Case {
        name: "five_independent_errors",
        yaml: "
            version: 1
            defaults:
              subscription: 00000000-0000-0000-0000-0000000000a1
              resource_group: rg
              location: westeurope
            ml_workspaces:
              main:
                name: ab
                existing: true
            synapse_workspaces:
              shared:
                name: Shared
                existing: true
            spark_pools:
              small:
                synapse_workspace: shared
                node_size: Huge
                spark_version: \"3.5\"
                node_count: 300
            role_grants:
              ops:
                synapse_workspace: shared
                role: Owner
                principal: { object_id: 11111111-2222-3333-4444-555555555555, type: Group }
        ",
        message: "invalid AML workspace name `ab`",
        at: Some((8, 11)),
        address: Some("ml_workspaces.main"),
        count: Some(5),
        ..CASE
    },
];

/// What running a case produced.
struct Ran {
    case: Case,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    files_left: Vec<String>,
}

fn run_case(case: Case) -> Ran {
    let w = World::offline();
    w.write(SPEC, dedent(case.yaml));
    let mut args = vec!["validate", "-f", SPEC];
    args.extend_from_slice(case.args);
    let out = w.synlink(&args).run_blocking();
    let mut files_left: Vec<String> = std::fs::read_dir(w.dir())
        .expect("read the temp dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n != SPEC)
        .collect();
    files_left.sort();
    Ran {
        case,
        code: Some(out.code),
        stdout: out.stdout,
        stderr: out.stderr,
        files_left,
    }
}

/// Runs every case on a few threads, in table order.
fn run_all(cases: &[Case]) -> Vec<Ran> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Ran>>> = Mutex::new(cases.iter().map(|_| None).collect());
    let threads = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .clamp(2, 8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let ran = run_case(*case);
                results.lock().expect("results lock")[i] = Some(ran);
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

/// Every way the output differs from the case's expectations.
fn problems(ran: &Ran) -> Vec<String> {
    let case = &ran.case;
    let mut out = Vec::new();
    if ran.code != Some(case.exit) {
        out.push(format!("exit code {:?}, expected {}", ran.code, case.exit));
    }
    if ran.stderr.contains("panicked") {
        out.push("stderr shows a panic".to_owned());
    }
    if !ran.files_left.is_empty() {
        out.push(format!("files left beside the spec: {:?}", ran.files_left));
    }
    let shown = diagnostics(&ran.stderr, SPEC);
    if let Some(n) = case.count {
        if shown.len() != n {
            out.push(format!("{} diagnostics, expected {n}", shown.len()));
        }
    }
    let errors = ran.stderr.lines().filter(|l| l.starts_with("  × ")).count();
    let summary = format!(
        "error: {SPEC} is invalid: {errors} error{}",
        if errors == 1 { "" } else { "s" }
    );
    if errors > 0 && !ran.stderr.lines().any(|l| l.starts_with(&summary)) {
        out.push(format!("no closing line `{summary}`"));
    }
    if case.exit == 0 && !ran.stdout.contains(": valid: ") {
        out.push("no summary on stdout".to_owned());
    }
    let Some(d) = shown.iter().find(|d| d.text.contains(case.message)) else {
        out.push(format!("no diagnostic contains {:?}", case.message));
        return out;
    };
    if d.level != case.level {
        out.push(format!("level {:?}, expected {:?}", d.level, case.level));
    }
    if d.at != case.at {
        out.push(format!("at {:?}, expected {:?}", d.at, case.at));
    }
    if case.at.is_some() && d.path.as_deref() != Some(SPEC) {
        out.push(format!("path {:?}, expected {SPEC}", d.path));
    }
    if let Some(address) = case.address {
        if !d.text.starts_with(&format!("{address}: ")) {
            out.push(format!(
                "address: expected {address:?} at the start of {:?}",
                d.text
            ));
        }
    }
    if let Some(hint) = case.hint {
        if !d.hints.iter().any(|h| h.contains(hint)) {
            out.push(format!("no hint contains {hint:?}; hints: {:?}", d.hints));
        }
    }
    for also in case.also {
        if !d.text.contains(also) {
            out.push(format!("the message lacks {also:?}"));
        }
    }
    out
}

#[test]
fn every_rule_reports_its_problem_where_it_is() {
    assert!(CASES.len() >= 45, "{} cases", CASES.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "case names must be unique");

    let results = run_all(CASES);
    let mut report = String::new();
    for ran in &results {
        let problems = problems(ran);
        if !problems.is_empty() {
            let _ = writeln!(
                report,
                "--- {}: {}\n{}",
                ran.case.name,
                problems.join("; "),
                ran.stderr
            );
        }
    }
    assert!(report.is_empty(), "cases that do not match:\n{report}");

    for ran in &results {
        insta::with_settings!({ omit_expression => true }, {
            let args: Vec<String> = ran
                .case
                .args
                .iter()
                .map(|a| if a.contains([' ', '[', '\'']) { format!("'{a}'") } else { (*a).to_owned() })
                .collect();
            let args = args.join(" ");
            let snapshot = format!(
                "--- {SPEC}\n{}$ synlink validate -f {SPEC}{}{args}\nexit code: {}\n--- stderr\n{}",
                dedent(ran.case.yaml),
                if args.is_empty() { "" } else { " " },
                ran.code.unwrap_or(-1),
                ran.stderr
            );
            insta::assert_snapshot!(ran.case.name, snapshot);
        });
    }
}

#[test]
fn every_problem_is_collected_and_counted() {
    let case = CASES
        .iter()
        .find(|c| c.name == "five_independent_errors")
        .expect("the five-error case");
    let ran = run_case(*case);
    let shown = diagnostics(&ran.stderr, SPEC);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(shown.len(), 5, "{}", ran.stderr);
    assert!(
        shown
            .iter()
            .all(|d| d.level == Level::Error && d.at.is_some()),
        "{shown:#?}"
    );
    let mut lines: Vec<u32> = shown
        .iter()
        .filter_map(|d| d.at.map(|(line, _)| line))
        .collect();
    let in_order = lines.windows(2).all(|w| w[0] <= w[1]);
    assert!(in_order, "diagnostics are in file order: {lines:?}");
    lines.dedup();
    assert_eq!(lines.len(), 5, "five distinct lines: {lines:?}");
    let last = ran.stderr.lines().rfind(|l| !l.trim().is_empty());
    assert_eq!(
        last,
        Some("error: spec.yaml is invalid: 5 errors"),
        "{}",
        ran.stderr
    );
}

/// The same cases with `--format json`: one document on stdout with the same
/// diagnostics as the text (count, position, address, hint), each with a code
/// of its own (never `unclassified`). The codes of every case are snapshotted,
/// since scripts match on them.
#[test]
fn every_case_in_json_has_the_same_diagnostics_and_a_code() {
    let json_cases: Vec<Case> = CASES
        .iter()
        .map(|c| Case {
            args: {
                let mut args: Vec<&'static str> = c.args.to_vec();
                args.extend(["--format", "json"]);
                Box::leak(args.into_boxed_slice())
            },
            ..*c
        })
        .collect();
    let text = run_all(CASES);
    let json = run_all(&json_cases);
    let mut report = String::new();
    let mut codes = String::new();
    for (t, j) in text.iter().zip(&json) {
        let name = t.case.name;
        let doc: serde_json::Value = match serde_json::from_str(&j.stdout) {
            Ok(doc) => doc,
            Err(e) => {
                let _ = writeln!(report, "--- {name}: stdout is not JSON ({e}): {}", j.stdout);
                continue;
            }
        };
        let shown = diagnostics(&t.stderr, SPEC);
        let items = doc["diagnostics"].as_array().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        if j.code != t.code {
            problems.push(format!("exit {:?}, text exits {:?}", j.code, t.code));
        }
        if !j.stderr.is_empty() {
            problems.push(format!("stderr is not empty: {}", j.stderr));
        }
        if items.len() != shown.len() {
            problems.push(format!(
                "{} diagnostics, text shows {}",
                items.len(),
                shown.len()
            ));
        }
        let errors = shown.iter().filter(|d| d.level == Level::Error).count();
        if doc["errors"] != errors || doc["warnings"] != shown.len() - errors {
            problems.push(format!("counts {} / {}", doc["errors"], doc["warnings"]));
        }
        if doc["valid"] != (errors == 0) {
            problems.push(format!("valid is {}", doc["valid"]));
        }
        for (item, d) in items.iter().zip(&shown) {
            let at = item["line"]
                .as_u64()
                .zip(item["col"].as_u64())
                .and_then(|(l, c)| Some((u32::try_from(l).ok()?, u32::try_from(c).ok()?)));
            if d.path.is_some() && at != d.at {
                problems.push(format!("at {at:?}, text at {:?}", d.at));
            }
            let message = item["message"].as_str().unwrap_or_default();
            if !d.text.ends_with(message) {
                problems.push(format!(
                    "message {message:?} is not the end of {:?}",
                    d.text
                ));
            }
            if let Some(address) = item["address"].as_str() {
                if !d.text.starts_with(&format!("{address}: ")) {
                    problems.push(format!("address {address:?} is not in {:?}", d.text));
                }
            }
            if item["hint"].as_str().map(str::to_owned) != d.hints.first().cloned() {
                problems.push(format!("hint {} vs {:?}", item["hint"], d.hints));
            }
            let code = item["code"].as_str().unwrap_or_default();
            let kebab =
                !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '-');
            if !kebab || code == "unclassified" {
                problems.push(format!("code {code:?} for {:?}", d.text));
            }
        }
        if !problems.is_empty() {
            let _ = writeln!(report, "--- {name}: {}", problems.join("; "));
        }
        let case_codes: Vec<&str> = items.iter().filter_map(|i| i["code"].as_str()).collect();
        let _ = writeln!(codes, "{name}: {}", case_codes.join(", "));
    }
    assert!(report.is_empty(), "json differs from text:\n{report}");
    insta::assert_snapshot!("codes_of_every_case", codes);
}

/// Braces that are no placeholder are text, as they always were: only near
/// misses of `{each}` are refused.
#[test]
fn braces_that_are_no_placeholder_stay_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = dedent(
        "
        version: 1
        defaults:
          subscription: 00000000-0000-0000-0000-0000000000a1
          resource_group: rg
          location: westeurope
          tags: { note: \"{json} {x} {} {reach} {a: b} $${literal}\" }
        ml_workspaces:
          \"{each}\":
            for_each: [fraud]
            name: \"mlw-{each}\"
            description: \"{teach} a {b} c {{each}}\"
            existing: true
        ",
    );
    std::fs::write(dir.path().join(SPEC), spec).expect("write the spec");
    let out = crate::world::offline_output(dir.path(), &["validate", "-f", SPEC], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn header_parser_reads_every_form() {
    let stderr = "  × spec.yaml:3:5: links.a: bad\n  hint: fix it\n  ⚠ spec.yaml: x: careful\nerror: --var a: no\nerror: spec.yaml is invalid: 1 error, 1 warning\n";
    let shown = diagnostics(stderr, SPEC);
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert_eq!(
        (shown[0].at, shown[0].text.as_str(), shown[0].hints.len()),
        (Some((3, 5)), "links.a: bad", 1)
    );
    assert_eq!(
        (shown[1].level, shown[1].at, shown[1].text.as_str()),
        (Level::Warning, None, "x: careful")
    );
    assert_eq!(
        (shown[2].path.as_deref(), shown[2].text.as_str()),
        (None, "--var a: no")
    );
}
