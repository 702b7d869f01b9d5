//! The emulator's module import graph has no circle: every module uses only modules that do
//! not use it back, directly or through others (so `store.rs` stays plain data below the
//! routes, the LRO code and RBAC). The graph is read from the sources: `crate::…` paths
//! (with `{…}` groups), `super::…` paths, and a parent module's uses of the modules it
//! declares; unit-test modules (`#[cfg(test)]`, at the end of a file) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/routes/mod.rs` → `routes`, `src/routes/target.rs` → `routes::target`, `src/lib.rs` → "".
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts.join("::")
}

/// The code of a file without comments and without its trailing unit-test module.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The module paths a path text names, `{…}` groups expanded one level deep: for
/// `routes::{self, target}` → `routes`, `routes::target`.
fn expand(base: &[String], rest: &str, out: &mut Vec<Vec<String>>) {
    let mut path = base.to_vec();
    let mut chars = rest;
    loop {
        let ident: String = chars.chars().take_while(|c| is_ident(*c)).collect();
        if ident.is_empty() {
            if let Some(group) = chars.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = item.trim();
                    if item == "self" {
                        out.push(path.clone());
                    } else if !item.is_empty() {
                        expand(&path, item, out);
                    }
                }
                return;
            }
            break;
        }
        path.push(ident.clone());
        chars = &chars[ident.len()..];
        match chars.strip_prefix("::") {
            Some(next) => chars = next,
            None => break,
        }
    }
    out.push(path);
}

/// The longest known module that a path starts with.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
        .or_else(|| Some(String::new()).filter(|_| !path.is_empty()))
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_owned(), 1);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(next, graph, state, stack) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if state.get(node.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(cycle) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(cycle);
            }
        }
    }
    None
}

fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        let own: Vec<String> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").map(str::to_owned).collect()
        };
        let mut paths = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            if !code[..i].ends_with(|c: char| is_ident(c) || c == ':') {
                expand(&[], &code[i + "crate::".len()..], &mut paths);
            }
        }
        for (i, _) in code.match_indices("super::") {
            if !code[..i].ends_with(|c: char| is_ident(c) || c == ':') {
                let parent = &own[..own.len().saturating_sub(1)];
                expand(parent, &code[i + "super::".len()..], &mut paths);
            }
        }
        // A parent module names the modules it declares without `crate::`.
        let children = modules.iter().filter(|m| {
            let rest = if module.is_empty() {
                Some(m.as_str())
            } else {
                m.strip_prefix(&format!("{module}::"))
            };
            rest.is_some_and(|r| !r.is_empty() && !r.contains("::"))
        });
        for child in children {
            let name = child.rsplit("::").next().unwrap_or(child);
            for (i, _) in code.match_indices(&format!("{name}::")) {
                if !code[..i].ends_with(|c: char| is_ident(c) || c == ':') {
                    paths.push(child.split("::").map(str::to_owned).collect());
                }
            }
        }
        let uses: BTreeSet<String> = paths
            .iter()
            .filter_map(|p| resolve(p, &modules))
            .filter(|m| *m != module)
            .collect();
        graph.insert(module, uses);
    }
    graph
}

#[test]
fn the_module_import_graph_has_no_circle() {
    let graph = import_graph();
    assert!(graph.len() > 30, "read the emulator's modules: {graph:?}");
    // The graph is read right: the dispatcher uses the lifecycle, the lifecycle the store.
    assert!(graph["routes"].contains("routes::lifecycle"), "{graph:?}");
    assert!(graph["routes::lifecycle"].contains("store"), "{graph:?}");
    assert!(graph["pipeline"].contains("routes::target"), "{graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the emulator's modules import in a circle: {}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_store_is_plain_data() {
    let graph = import_graph();
    let allowed: BTreeSet<String> = ["operation", "principal"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let extra: Vec<&String> = graph["store"].difference(&allowed).collect();
    assert!(
        extra.is_empty(),
        "store.rs uses more than the data it holds: {extra:?}"
    );
}

#[test]
fn a_circle_is_found() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        find_cycle(&graph).map(|c| c.join(" → ")),
        Some("a → b → c → a".to_owned())
    );
}
