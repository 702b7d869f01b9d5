//! The engine's house, checked from its sources: every module imports only
//! from the layers below it (style.md: `addr` at the bottom, then `spec`,
//! `cloud` and `state` (the state's backends above `cloud`, whose credentials
//! reach the blob store), then `provider`, then `plan`, then `apply`, then
//! what people see and the commands), and no two files import each other, directly
//! or around a circle. The emulator is its own crate and is checked there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::world::files_under;

/// The layer of each top-level module; a module may use only lower layers.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "addr" => 0,
        "spec" | "cloud" => 1,
        // The state's backends reach storage with the cloud's credentials.
        "state" | "graph" => 2,
        "provider" => 3,
        "plan" => 4,
        "apply" | "seed" | "discover" => 5,
        // Streaming reads, decides the plan and applies it at once.
        "error" | "stream" => 6,
        "render" | "cli" => 7,
        "invocation" => 8,
        // The state commands, one step below the dispatch that calls them.
        "app_state" => 9,
        "app" => 10,
        "lib" | "main" => 11,
        _ => return None,
    })
}

/// Every source file of `src/` as a module path (`plan::diff`, `plan` for
/// plan/mod.rs) and its code before its tests.
fn sources() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for path in files_under(&root) {
        if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(&root)
                .expect("under src")
                .with_extension("");
            let module = rel
                .to_string_lossy()
                .trim_end_matches("/mod")
                .replace('/', "::");
            let text = std::fs::read_to_string(&path).expect("source");
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_owned();
            out.insert(module, code);
        }
    }
    out
}

/// The modules a file names through `crate::…` paths (including `{a, b::c}` groups).
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let longest = |path: &str| {
        let parts: Vec<&str> = path.split("::").collect();
        (1..=parts.len())
            .rev()
            .map(|n| parts[..n].join("::"))
            .find(|p| modules.contains(p))
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let path = path.trim_end_matches(':');
        out.extend(longest(path));
        if let Some(group) = rest[path.len()..].strip_prefix("::{") {
            for item in group.split('}').next().unwrap_or_default().split(',') {
                let item = item.trim().split("::").next().unwrap_or_default();
                out.extend(longest(&format!("{path}::{item}")));
            }
        }
    }
    out
}

#[test]
fn modules_import_only_from_lower_layers() {
    let files = sources();
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut wrong = Vec::new();
    for (module, code) in &files {
        let top = module.split("::").next().unwrap_or_default();
        let Some(mine) = layer(top) else {
            wrong.push(format!("{module}: a top-level module with no layer"));
            continue;
        };
        for used in imports(code, &modules) {
            let theirs = used.split("::").next().unwrap_or_default();
            if theirs != top && layer(theirs).is_none_or(|l| l >= mine) {
                wrong.push(format!("{module} uses {used}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Depth-first search; a node met again while on the stack closes a circle.
fn visit<'a>(
    node: &'a String,
    edges: &'a BTreeMap<&String, BTreeSet<String>>,
    state: &mut BTreeMap<&'a String, u8>,
    stack: &mut Vec<&'a String>,
    circles: &mut Vec<String>,
) {
    state.insert(node, 1);
    stack.push(node);
    for next in edges.get(node).into_iter().flatten() {
        match state.get(next) {
            Some(1) => {
                let from = stack.iter().position(|n| *n == next).unwrap_or(0);
                let mut circle: Vec<&str> = stack[from..].iter().map(|s| s.as_str()).collect();
                circle.push(next);
                circles.push(circle.join(" → "));
            }
            Some(_) => {}
            None => {
                if let Some((key, _)) = edges.get_key_value(next) {
                    visit(key, edges, state, stack, circles);
                }
            }
        }
    }
    stack.pop();
    state.insert(node, 2);
}

#[test]
fn no_files_import_each_other_around_a_circle() {
    let files = sources();
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let edges: BTreeMap<&String, BTreeSet<String>> = files
        .iter()
        .map(|(m, code)| {
            let mut used = imports(code, &modules);
            used.remove(m);
            (m, used)
        })
        .collect();
    let mut state = BTreeMap::new();
    let mut circles = Vec::new();
    for node in edges.keys() {
        if !state.contains_key(*node) {
            visit(node, &edges, &mut state, &mut Vec::new(), &mut circles);
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_import_reader_sees_groups_and_nested_paths() {
    let modules: BTreeSet<String> = ["plan", "plan::diff", "provider", "addr"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let found = imports(
        "use crate::plan::{diff::Diff, Plan};\nuse crate::provider::Fill;\nlet x = crate::addr::X;",
        &modules,
    );
    let want: BTreeSet<String> = ["plan", "plan::diff", "provider", "addr"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, want);
}
