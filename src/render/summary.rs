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
