//! Benchmark of local work: `validate` on a generated spec of 10,000 resources
//! (2,000 teams, each with an AML workspace, a Spark pool, a link, a role grant
//! and an attachment, plus one shared Synapse workspace: 10,001 resources), written out in full and, separately, with `for_each`.
//!
//! Each measurement runs in a child process (this binary re-executed with
//! `--child`), so the reported peak memory is that of loading, expanding,
//! validating and building the graph only. It prints figures; it asserts nothing.
//!
//! Run: `cargo bench --bench validate`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const TEAMS: usize = 2_000;

fn explicit_spec() -> String {
    let mut s = String::from("version: 1\ndefaults:\n  subscription: 00000000-0000-0000-0000-0000000000a1\n  resource_group: rg-bench\n  location: westeurope\n");
    s.push_str("synapse_workspaces:\n  shared:\n    name: syn-bench\n    existing: true\n");
    let mut sections = [
        String::from("ml_workspaces:\n"),
        String::from("spark_pools:\n"),
        String::from("links:\n"),
        String::from("role_grants:\n"),
        String::from("attachments:\n"),
    ];
    for t in 0..TEAMS {
        let _ = write!(
            sections[0],
            "  team{t:05}:\n    name: mlw-team{t:05}\n    existing: true\n"
        );
        let _ = write!(sections[1], "  pool{t:05}:\n    synapse_workspace: shared\n    node_size: Small\n    spark_version: \"3.5\"\n    autoscale: {{ min: 3, max: 10 }}\n");
        let _ = write!(sections[2], "  team{t:05}:\n    ml_workspace: team{t:05}\n    synapse_workspace: shared\n    name: synapselink1\n");
        let _ = write!(
            sections[3],
            "  team{t:05}-spark:\n    synapse_workspace: shared\n    role: Synapse Apache Spark Administrator\n    principal: {{ link: team{t:05} }}\n"
        );
        let _ = write!(sections[4], "  team{t:05}:\n    ml_workspace: team{t:05}\n    spark_pool: pool{t:05}\n    name: spark\n");
    }
    for section in sections {
        s.push_str(&section);
    }
    s
}

fn for_each_spec() -> String {
    let teams: Vec<String> = (0..TEAMS).map(|t| format!("team{t:05}")).collect();
    format!(
        "version: 1\ndefaults:\n  subscription: 00000000-0000-0000-0000-0000000000a1\n  resource_group: rg-bench\n  location: westeurope\n\
variables:\n  teams: [{}]\n\
synapse_workspaces:\n  shared: {{ name: syn-bench, existing: true }}\n\
ml_workspaces:\n  \"{{each}}\": {{ for_each: \"${{teams}}\", name: \"mlw-{{each}}\", existing: true }}\n\
spark_pools:\n  \"p{{each}}\": {{ for_each: \"${{teams}}\", synapse_workspace: shared, node_size: Small, spark_version: \"3.5\", node_count: 3 }}\n\
links:\n  \"{{each}}\": {{ for_each: \"${{teams}}\", ml_workspace: \"{{each}}\", synapse_workspace: shared, name: synapselink1 }}\n\
role_grants:\n  \"{{each}}-spark\": {{ for_each: \"${{teams}}\", synapse_workspace: shared, role: Apache Spark Administrator, principal: {{ link: \"{{each}}\" }} }}\n\
attachments:\n  \"{{each}}\": {{ for_each: \"${{teams}}\", ml_workspace: \"{{each}}\", spark_pool: \"p{{each}}\", name: spark }}\n",
        teams.join(", ")
    )
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: load and validate one file, report `resources edges seconds peak_kib`.
fn child(path: &Path) {
    let start = Instant::now();
    let overrides = synlink::spec::variables::Overrides::default();
    let spec = synlink::spec::load(path, &overrides).expect("the generated spec is valid");
    let graph = synlink::graph::Graph::build(&spec).expect("no cycles");
    let elapsed = start.elapsed().as_secs_f64();
    let _ = std::io::Write::write_all(
        &mut std::io::stdout(),
        format!(
            "{} {} {elapsed:.4} {}\n",
            spec.resources.len(),
            graph.edge_count(),
            peak_rss_kib()
        )
        .as_bytes(),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("current exe");
    let mut report =
        String::from("validate benchmark (release build; each figure the median of 5 runs)\n");
    let _ = writeln!(
        report,
        "{:<12} {:>10} {:>10} {:>8} {:>10} {:>12}",
        "spec", "bytes", "resources", "edges", "time", "peak memory"
    );
    for (name, text) in [("explicit", explicit_spec()), ("for_each", for_each_spec())] {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &text).expect("write spec");
        let mut runs: Vec<(f64, u64, String, String)> = (0..5)
            .map(|_| {
                let out = std::process::Command::new(&exe)
                    .arg("--child")
                    .arg(&path)
                    .output()
                    .expect("run child");
                let line = String::from_utf8_lossy(&out.stdout).to_string();
                let f: Vec<&str> = line.split_whitespace().collect();
                assert!(
                    f.len() == 4,
                    "child failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (
                    f[2].parse().unwrap_or(0.0),
                    f[3].parse().unwrap_or(0),
                    f[0].to_owned(),
                    f[1].to_owned(),
                )
            })
            .collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (secs, kib, resources, edges) = runs[2].clone();
        let _ = writeln!(
            report,
            "{name:<12} {:>10} {resources:>10} {edges:>8} {:>8.0}ms {:>9.1} MB",
            text.len(),
            secs * 1000.0,
            f64::from(u32::try_from(kib).unwrap_or(u32::MAX)) / 1024.0
        );
    }
    let _ = std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes());
}
