//! The shipped examples validate and graph cleanly; inputs that are not specs at
//! all fail with one line and no panic; variables can be overridden from the
//! command line, a file and the environment, in that order of precedence.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::world::World;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn examples() -> Vec<PathBuf> {
    crate::world::example_files(&examples_dir())
}

/// The success summary of `synlink validate`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    total: usize,
    managed: usize,
    sources: usize,
    edges: usize,
    sections: BTreeMap<String, usize>,
}

fn number(word: &str) -> usize {
    word.trim_start_matches('(')
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {word:?}"))
}

/// Parses `PATH: valid: N resources (M managed, K data sources), E dependency edges`
/// and the `  section  count` lines under it.
fn summary(stdout: &str, path: &str) -> Summary {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_else(|| panic!("empty stdout"));
    let rest = first
        .strip_prefix(&format!("{path}: valid: "))
        .unwrap_or_else(|| panic!("not a summary line: {first:?}"));
    let words: Vec<&str> = rest.split_whitespace().collect();
    assert!(
        words.len() == 10
            && words[1].starts_with("resource")
            && words[3] == "managed,"
            && words[5..7]
                == [
                    "data",
                    if words[4] == "1" {
                        "source),"
                    } else {
                        "sources),"
                    }
                ]
            && words[8] == "dependency"
            && words[9].starts_with("edge"),
        "summary line shape: {first:?}"
    );
    let mut s = Summary {
        total: number(words[0]),
        managed: number(words[2]),
        sources: number(words[4]),
        edges: number(words[7]),
        sections: BTreeMap::new(),
    };
    for line in lines {
        let mut parts = line.split_whitespace();
        let (Some(section), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
            panic!("not a section count: {line:?}")
        };
        s.sections.insert(section.to_owned(), number(n));
    }
    assert_eq!(s.managed + s.sources, s.total, "{first}");
    assert_eq!(
        s.sections.values().sum::<usize>(),
        s.total,
        "section counts add up: {stdout}"
    );
    s
}

/// What a DOT graph holds, read strictly.
#[derive(Debug, Default)]
struct Dot {
    nodes: BTreeSet<String>,
    sources: BTreeSet<String>,
    edges: Vec<(String, String)>,
}

/// Reads one `"quoted"` id at the start of `s`, returning it and the rest.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 2..])),
            c => out.push(c),
        }
    }
    None
}

/// An attribute list `[k = v, ...]` (possibly absent) followed by `;`.
fn attrs_then_semicolon(rest: &str) -> Option<String> {
    let rest = rest.trim();
    if rest == ";" {
        return Some(String::new());
    }
    let inner = rest.strip_prefix('[')?.strip_suffix("];")?;
    Some(inner.to_owned())
}

const SECTIONS: [&str; 6] = [
    "ml_workspaces",
    "synapse_workspaces",
    "spark_pools",
    "links",
    "role_grants",
    "attachments",
];

fn is_address(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(section, key)| SECTIONS.contains(&section) && !key.is_empty())
}

/// Checks the shape of `synlink graph` output line by line and collects what it holds.
fn parse_dot(dot: &str) -> Dot {
    assert!(
        dot.starts_with("digraph synlink {\n"),
        "DOT starts with `digraph synlink {{`: {dot}"
    );
    assert!(dot.ends_with("}\n"), "DOT ends with `}}`: {dot}");
    let mut g = Dot::default();
    let mut depth = 0usize;
    let mut in_cluster = false;
    for (n, raw) in dot.lines().enumerate() {
        let line = raw.trim();
        let bad = || format!("line {}: unexpected {raw:?} in\n{dot}", n + 1);
        if n == 0 {
            assert_eq!(line, "digraph synlink {", "{}", bad());
            depth += 1;
        } else if line == "}" {
            assert!(depth > 0, "{}", bad());
            depth -= 1;
            in_cluster = false;
            assert!(
                depth > 0 || n + 1 == dot.lines().count(),
                "the graph closes on its last line: {}",
                bad()
            );
        } else if line == "subgraph cluster_data_sources {" {
            assert!(depth == 1 && !in_cluster, "{}", bad());
            depth += 1;
            in_cluster = true;
        } else if let Some((from, rest)) = quoted(line) {
            if let Some(rest) = rest.trim_start().strip_prefix("->") {
                let (to, rest) = quoted(rest.trim_start()).unwrap_or_else(|| panic!("{}", bad()));
                let attrs = attrs_then_semicolon(rest).unwrap_or_else(|| panic!("{}", bad()));
                assert!(
                    !attrs.is_empty() && attrs.contains("label = "),
                    "every edge is labelled: {}",
                    bad()
                );
                assert!(!in_cluster, "edges are outside the cluster: {}", bad());
                g.edges.push((from, to));
            } else {
                let attrs = attrs_then_semicolon(rest).unwrap_or_else(|| panic!("{}", bad()));
                assert!(is_address(&from), "a node is an address: {}", bad());
                assert!(g.nodes.insert(from.clone()), "node listed twice: {}", bad());
                if in_cluster {
                    assert_eq!(
                        attrs,
                        "style = dashed",
                        "data sources are dashed: {}",
                        bad()
                    );
                    g.sources.insert(from);
                } else {
                    assert!(attrs.is_empty(), "{}", bad());
                }
            }
        } else {
            // Graph, node or cluster attributes: `name = value;` or `node [...];`.
            let ok = line.ends_with(';')
                && (line.starts_with("node [") && line.ends_with("];")
                    || line.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }));
            assert!(ok, "{}", bad());
        }
    }
    assert_eq!(depth, 0, "braces balance");
    for (from, to) in &g.edges {
        assert!(
            g.nodes.contains(from) && g.nodes.contains(to),
            "edge {from} -> {to} names a node that is not listed:\n{dot}"
        );
    }
    g
}

/// Pipes DOT through Graphviz when it is installed; silently does nothing otherwise.
fn render_with_graphviz(dot: &str, name: &str) {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("write DOT to dot");
    let out = child.wait_with_output().expect("dot runs");
    assert!(
        out.status.success(),
        "{name}: dot -Tsvg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<svg"),
        "{name}: dot made no SVG"
    );
}

#[test]
fn every_example_validates() {
    let w = World::offline();
    for file in examples() {
        let path = file.to_str().expect("UTF-8 path");
        let out = w.synlink(["validate", "-f", path]).run_blocking();
        assert_eq!(out.code, 0, "{path}: {}", out.stderr);
        assert_eq!(
            out.stderr, "",
            "{path}: an example validates without warnings"
        );
        let s = summary(&out.stdout, path);
        assert!(s.total > 0 && s.edges > 0, "{path}: {s:?}");
    }
    assert_eq!(
        std::fs::read_dir(w.dir()).expect("read temp dir").count(),
        0,
        "validate writes nothing"
    );
}

#[test]
fn every_example_graphs_as_well_formed_dot() {
    let w = World::offline();
    for file in examples() {
        let path = file.to_str().expect("UTF-8 path");
        let validated = w.synlink(["validate", "-f", path]).run_blocking();
        let s = summary(&validated.stdout, path);
        let out = w.synlink(["graph", "-f", path]).run_blocking();
        assert_eq!(out.code, 0, "{path}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{path}: graph writes DOT to stdout only");
        let dot = out.stdout;
        let g = parse_dot(&dot);
        assert_eq!(g.nodes.len(), s.total, "{path}: one node per resource");
        assert_eq!(
            g.sources.len(),
            s.sources,
            "{path}: every data source, and only they, in cluster_data_sources"
        );
        assert_eq!(g.edges.len(), s.edges, "{path}: one edge per dependency");
        let unique: BTreeSet<&(String, String)> = g.edges.iter().collect();
        assert_eq!(unique.len(), g.edges.len(), "{path}: no edge twice");
        for (section, n) in &s.sections {
            let in_graph = g
                .nodes
                .iter()
                .filter(|a| a.split_once('.').is_some_and(|(sec, _)| sec == section))
                .count();
            assert_eq!(in_graph, *n, "{path}: {section}");
        }
        render_with_graphviz(&dot, path);
    }
}

#[test]
fn data_sources_are_the_existing_resources() {
    let w = World::offline();
    let path = examples_dir().join("attach-with-identity.yaml");
    let out = w
        .synlink(["graph", "-f", path.to_str().expect("UTF-8 path")])
        .run_blocking();
    let g = parse_dot(&out.stdout);
    let expected: BTreeSet<String> = [
        "ml_workspaces.vision",
        "synapse_workspaces.shared",
        "spark_pools.medium",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(g.sources, expected);
}

// ---- inputs that are not specs ----

/// Runs `validate -f NAME` in a temp dir prepared by `setup` and checks that it
/// fails with exactly one line on stderr containing `cause`, no panic, nothing
/// on stdout, and no file left behind other than what `setup` made.
fn assert_one_line_failure(name: &str, setup: impl FnOnce(&Path), cause: &str) -> Duration {
    let w = World::offline();
    setup(w.dir());
    let before: BTreeSet<_> = std::fs::read_dir(w.dir())
        .expect("read temp dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    let start = Instant::now();
    let out = w.synlink(["validate", "-f", name]).run_blocking();
    let took = start.elapsed();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{name}: one line of cause, got:\n{stderr}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(name),
        "{name}: {:?}",
        lines[0]
    );
    assert!(
        lines[0].contains(cause),
        "{name}: {:?} lacks {cause:?}",
        lines[0]
    );
    assert!(out.stdout.is_empty(), "{name}: stdout {:?}", out.stdout);
    let after: BTreeSet<_> = std::fs::read_dir(w.dir())
        .expect("read temp dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(after, before, "{name}: files left behind");
    took
}

fn write(name: &'static str, bytes: Vec<u8>) -> impl FnOnce(&Path) {
    move |dir| std::fs::write(dir.join(name), bytes).expect("write input")
}

#[test]
fn an_empty_file() {
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", Vec::new()),
        "the spec is empty",
    );
}

#[test]
fn a_file_that_is_not_yaml() {
    // A YAML syntax error is shown in its line, a caret where the parser stopped.
    let dir = tempfile::tempdir().expect("temp dir");
    write("spec.yaml", b"a: [".to_vec())(dir.path());
    let out = crate::world::offline_output(dir.path(), &["validate", "-f", "spec.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("spec.yaml:1:4: invalid YAML"), "{stderr}");
    assert!(stderr.contains(" 1 │ a: [\n   ·    ─\n"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_file_that_is_not_utf8() {
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", b"version: 1\nlinks:\xff\xfe\n".to_vec()),
        "spec.yaml:2:7: the file is not UTF-8 text",
    );
}

#[test]
fn a_yaml_alias_bomb() {
    let mut doc = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for (prev, cur) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .into_iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        let _ = writeln!(doc, "{cur}: &{cur} [{refs}]");
    }
    let took = assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", doc.into_bytes()),
        "invalid YAML",
    );
    // 9^9 expansions must be refused by the parser's budget, not computed.
    assert!(
        took < Duration::from_secs(30),
        "the alias bomb took {took:?}"
    );
}

#[test]
fn a_50_mb_file() {
    let setup = |dir: &Path| {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(dir.join("spec.yaml")).expect("create"));
        f.write_all(b"version: 1\n").expect("write");
        let line = format!("# {}\n", "x".repeat(1021));
        for _ in 0..(50 * 1024) {
            f.write_all(line.as_bytes()).expect("write");
        }
        f.flush().expect("flush");
    };
    assert_one_line_failure("spec.yaml", setup, "the file is larger than 16 MiB");
}

#[test]
fn ten_thousand_levels_of_flow_nesting() {
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", "[".repeat(10_000).into_bytes()),
        "invalid YAML",
    );
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", "{a: ".repeat(10_000).into_bytes()),
        "invalid YAML",
    );
}

#[test]
fn ten_thousand_levels_of_block_nesting() {
    // Block sequences nest on one line; block maps need one more column per
    // level, so 5,000 levels (12.5 MB) is the deepest that stays under the
    // 16 MiB size limit and reaches the parser.
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", ("- ".repeat(10_000) + "x\n").into_bytes()),
        "invalid YAML",
    );
    let maps = (0..5_000).fold(String::new(), |mut doc, i| {
        let _ = writeln!(doc, "{}a:", " ".repeat(i));
        doc
    });
    assert_one_line_failure(
        "spec.yaml",
        write("spec.yaml", maps.into_bytes()),
        "invalid YAML",
    );
}

#[test]
fn a_missing_file() {
    assert_one_line_failure("missing.yaml", |_| {}, "missing.yaml: no such file");
}

#[test]
fn a_directory_as_the_spec() {
    assert_one_line_failure(
        "specs",
        |dir| std::fs::create_dir(dir.join("specs")).expect("mkdir"),
        "specs: is a directory, not a spec file",
    );
}

// ---- variables: --var > --var-file > SYNLINK_VAR_* > the spec ----

fn bulk() -> String {
    examples_dir()
        .join("bulk.yaml")
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

/// Validates bulk.yaml with extra arguments and environment; returns the summary
/// and the link addresses of its graph.
fn bulk_with(w: &World, args: &[&str], env: &[(&str, &str)]) -> (Summary, BTreeSet<String>) {
    let path = bulk();
    let mut full = vec!["validate", "-f", path.as_str()];
    full.extend_from_slice(args);
    let out = w.synlink(&full).envs(env).run_blocking();
    assert_eq!(out.code, 0, "{args:?} {env:?}: {}", out.stderr);
    let s = summary(&out.stdout, &path);
    full[0] = "graph";
    let graph = w.synlink(&full).envs(env).run_blocking();
    assert_eq!(graph.code, 0, "{}", graph.stderr);
    let links = parse_dot(&graph.stdout)
        .nodes
        .into_iter()
        .filter(|a| a.starts_with("links."))
        .collect();
    (s, links)
}

fn links(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| format!("links.{n}")).collect()
}

#[test]
fn var_flag_overrides_a_list() {
    let w = World::offline();
    let (s, found) = bulk_with(&w, &["--var", "teams=[a, b]"], &[]);
    assert_eq!(found, links(&["a", "b"]));
    let expected: BTreeMap<String, usize> = [
        ("ml_workspaces", 2),
        ("synapse_workspaces", 1),
        ("spark_pools", 1),
        ("links", 2),
        ("role_grants", 2),
        ("attachments", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(s.sections, expected);
    assert_eq!((s.total, s.managed, s.sources), (10, 6, 4));
    // Without overrides, the spec's own 50 teams.
    let (s, _) = bulk_with(&w, &[], &[]);
    assert_eq!(s.sections["links"], 50);
}

#[test]
fn env_var_overrides_the_spec() {
    let w = World::offline();
    let (s, found) = bulk_with(&w, &[], &[("SYNLINK_VAR_teams", "[fraud]")]);
    assert_eq!(found, links(&["fraud"]));
    assert_eq!(s.total, 6);
}

#[test]
fn var_file_overrides_the_spec() {
    let w = World::offline();
    w.write("vars.yaml", "teams: [x, y, z]\n");
    let (s, found) = bulk_with(&w, &["--var-file", "vars.yaml"], &[]);
    assert_eq!(found, links(&["x", "y", "z"]));
    assert_eq!(s.sections["links"], 3);
}

#[test]
fn flag_beats_file_beats_env() {
    let w = World::offline();
    w.write("vars.yaml", "teams: [file1, file2]\n");
    w.write("later.yaml", "teams: [later]\n");
    let env = [("SYNLINK_VAR_teams", "[env]")];
    let (_, found) = bulk_with(&w, &[], &env);
    assert_eq!(found, links(&["env"]), "env beats the spec");
    let (_, found) = bulk_with(&w, &["--var-file", "vars.yaml"], &env);
    assert_eq!(found, links(&["file1", "file2"]), "file beats env");
    let (_, found) = bulk_with(
        &w,
        &[
            "--var-file",
            "vars.yaml",
            "--var",
            "teams=[flag1, flag2, flag3]",
        ],
        &env,
    );
    assert_eq!(
        found,
        links(&["flag1", "flag2", "flag3"]),
        "flag beats file and env"
    );
    let (_, found) = bulk_with(
        &w,
        &["--var", "teams=[flag]", "--var-file", "vars.yaml"],
        &env,
    );
    assert_eq!(
        found,
        links(&["flag"]),
        "flag beats file whatever the order on the command line"
    );
    let (_, found) = bulk_with(
        &w,
        &["--var-file", "vars.yaml", "--var-file", "later.yaml"],
        &env,
    );
    assert_eq!(
        found,
        links(&["later"]),
        "a later file beats an earlier one"
    );
    let (_, found) = bulk_with(&w, &["--var", "teams=[one]", "--var", "teams=[two]"], &env);
    assert_eq!(found, links(&["two"]), "a later flag beats an earlier one");
}

#[test]
fn the_dot_checker_refuses_malformed_graphs() {
    let good = "digraph synlink {\n  \"links.a\";\n  subgraph cluster_data_sources {\n    \"ml_workspaces.m\" [style = dashed];\n  }\n  \"links.a\" -> \"ml_workspaces.m\" [label = \"ml_workspace\"];\n}\n";
    let g = parse_dot(good);
    assert_eq!((g.nodes.len(), g.sources.len(), g.edges.len()), (2, 1, 1));
    let bad = [
        good.replace("digraph synlink {", "graph synlink {"),
        good.replace("-> \"ml_workspaces.m\"", "-> \"links.b\""),
        good.replacen("  }\n", "", 1),
        good.replace("[style = dashed]", ""),
        good.replace("\"links.a\";", "\"links.a\""),
        good.replace("\"links.a\";", "\"nowhere.a\";"),
        format!("{good}}}\n"),
    ];
    for text in bad {
        let refused = std::panic::catch_unwind(|| parse_dot(&text)).is_err();
        assert!(refused, "accepted:\n{text}");
    }
}
