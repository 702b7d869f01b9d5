//! The summary `synlink validate` prints on success, and DOT output.

use crate::graph::Graph;
use crate::spec::LoadedSpec;

/// `path: valid: N resources (M managed, K data sources), E dependency edges`
/// followed by a count per section.
pub fn validate_summary(spec: &LoadedSpec, graph: &Graph) -> String {
    let total = spec.resources.len();
    let sources = spec.resources.values().filter(|r| r.existing).count();
    let mut out = format!(
        "{}: valid: {total} resource{} ({} managed, {sources} data source{}), {} dependency edge{}\n",
        spec.file.path.display(),
        if total == 1 { "" } else { "s" },
        total - sources,
        if sources == 1 { "" } else { "s" },
        graph.edge_count(),
        if graph.edge_count() == 1 { "" } else { "s" },
    );
    for kind in crate::addr::ResourceKind::ALL {
        let n = spec.resources.keys().filter(|a| a.kind == kind).count();
        if n > 0 {
            out.push_str(&format!("  {:<20} {n}\n", kind.section()));
        }
    }
    out
}

/// Writes data to stdout.
#[allow(clippy::print_stdout)]
pub fn stdout(text: &str) {
    print!("{text}");
}

/// Outputs as text: `address.output = "value"` lines, principal ids first.
pub fn outputs_text(state: &crate::state::State) -> String {
    let mut out = String::new();
    for (address, rs) in &state.resources {
        if rs.existing {
            continue;
        }
        for (k, v) in &rs.outputs {
            if k == "principal_id" {
                out.push_str(&format!("{address}.{k} = {v}\n"));
            }
        }
    }
    for (address, rs) in &state.resources {
        if !rs.existing {
            out.push_str(&format!("{address}.id = \"{}\"\n", rs.id));
        }
    }
    out
}

/// The first `n` lines of `text`, and a line saying how many more there are
/// and where to see them.
pub fn first_lines(text: &str, n: usize, where_all: &str) -> String {
    let total = text.lines().count();
    if total <= n {
        return text.to_owned();
    }
    let mut out = String::new();
    for line in text.lines().take(n) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!("… and {} more ({where_all})\n", total - n));
    out
}

/// Outputs as JSON: `{ address: { id, principal_id?, tenant_id? } }`.
pub fn outputs_json(state: &crate::state::State) -> String {
    let map: serde_json::Map<String, serde_json::Value> = state
        .resources
        .iter()
        .filter(|(_, rs)| !rs.existing)
        .map(|(a, rs)| {
            let mut o = serde_json::Map::new();
            o.insert("id".into(), serde_json::json!(rs.id));
            for (k, v) in &rs.outputs {
                o.insert(k.clone(), v.clone());
            }
            (a.clone(), serde_json::Value::Object(o))
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or_default();
    text.push('\n');
    text
}

/// What `synlink discover` found and wrote, for stderr.
pub fn discovery(
    report: &crate::discover::Report,
    requests: u64,
    spec: &std::path::Path,
    state: &std::path::Path,
) -> String {
    let mut out = format!(
        "discovered {} resources with {requests} requests: {}, {} folded into for_each, {} written out\n",
        report.read,
        crate::discover::plural(report.teams, "team"),
        report.folded,
        report.teams - report.folded,
    );
    for note in &report.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push_str(&format!(
        "wrote {} ({} resources described) and {}\n",
        spec.display(),
        report.described,
        state.display()
    ));
    out.push_str(&if report.leaving > 0 {
        format!("next: `synlink plan -f {}` shows the move to identities; {} resources of the linked-service path are removed once the new ones are in effect\n", spec.display(), report.leaving)
    } else {
        format!(
            "next: `synlink plan -f {}` says `No changes.`\n",
            spec.display()
        )
    });
    out
}
