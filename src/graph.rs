//! The dependency graph of a loaded spec (petgraph): an edge `a → b` means `a`
//! needs `b` to exist first. Edges come from typed references, `depends_on`, and
//! one implicit rule: an attachment waits for the Synapse role grants made to a
//! link between its AML workspace and its pool's Synapse workspace, so a pool is
//! usable as soon as it is attached. This module also finds cycles, gives an
//! order, and writes DOT.

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::addr::{Address, ResourceKind};
use crate::spec::diagnostic::{Code, Diagnostic};
use crate::spec::{Body, LoadedSpec};

/// Why an edge exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edge {
    /// A typed reference, by field name.
    Reference(&'static str),
    /// An explicit `depends_on`.
    DependsOn,
    /// The attachment-after-grant rule.
    GrantBeforeAttach,
}

/// The dependency graph.
#[derive(Debug, Clone)]
pub struct Graph {
    /// Nodes are addresses; edges point from a resource to what it needs.
    pub inner: DiGraph<Address, Edge>,
    index: HashMap<Address, NodeIndex>,
}

impl Graph {
    /// Builds the graph; a cycle is returned as one error naming every address in it.
    pub fn build(spec: &LoadedSpec) -> Result<Graph, Vec<Diagnostic>> {
        let mut inner = DiGraph::with_capacity(spec.resources.len(), spec.resources.len() * 2);
        let mut index = HashMap::with_capacity(spec.resources.len());
        for address in spec.resources.keys() {
            index.insert(address.clone(), inner.add_node(address.clone()));
        }
        let mut grants_by_link: HashMap<(&str, &str), Vec<NodeIndex>> = HashMap::new();
        for r in spec.resources.values() {
            if let Body::RoleGrant(g) = &r.body {
                if let Some(link) = g
                    .principal
                    .link
                    .as_deref()
                    .and_then(|l| spec.get(ResourceKind::Link, l))
                {
                    if let Body::Link(l) = &link.body {
                        grants_by_link
                            .entry((l.ml_workspace.as_str(), l.synapse_workspace.as_str()))
                            .or_default()
                            .push(index[&r.address]);
                    }
                }
            }
        }
        for r in spec.resources.values() {
            let from = index[&r.address];
            for (field, kind, key) in r.references() {
                if let Some(&to) = index.get(&Address::new(kind, key)) {
                    inner.update_edge(from, to, Edge::Reference(field));
                }
            }
            for dep in r.depends_on() {
                if let Some(&to) = Address::parse(dep).and_then(|a| index.get(&a)) {
                    inner.update_edge(from, to, Edge::DependsOn);
                }
            }
            if let Body::Attachment(a) = &r.body {
                let pool_ws =
                    spec.get(ResourceKind::SparkPool, &a.spark_pool)
                        .and_then(|p| match &p.body {
                            Body::SparkPool(p) => Some(p.synapse_workspace.as_str()),
                            _ => None,
                        });
                if let Some(grants) =
                    pool_ws.and_then(|ws| grants_by_link.get(&(a.ml_workspace.as_str(), ws)))
                {
                    for &to in grants {
                        if inner.find_edge(from, to).is_none() {
                            inner.add_edge(from, to, Edge::GrantBeforeAttach);
                        }
                    }
                }
            }
        }
        let graph = Graph { inner, index };
        let cycles = graph.cycles(spec);
        if cycles.is_empty() {
            Ok(graph)
        } else {
            Err(cycles)
        }
    }

    fn cycles(&self, spec: &LoadedSpec) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.inner) {
            let is_cycle =
                scc.len() > 1 || scc.iter().any(|&n| self.inner.find_edge(n, n).is_some());
            if !is_cycle {
                continue;
            }
            let path = self.cycle_path(&scc);
            let first = &self.inner[path[0]];
            let names: Vec<String> = path
                .iter()
                .chain(std::iter::once(&path[0]))
                .map(|&n| self.inner[n].to_string())
                .collect();
            let pos = spec.resources.get(first).map(|r| r.key_pos);
            out.push(
                Diagnostic::error(pos, format!("dependency cycle: {}", names.join(" → ")))
                    .at(first)
                    .code(Code::Cycle)
                    .hint("remove one of the depends_on entries that closes the loop"),
            );
        }
        out
    }

    /// Walks the strongly connected component to list its nodes in cycle order.
    fn cycle_path(&self, scc: &[NodeIndex]) -> Vec<NodeIndex> {
        let members: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let start = *scc
            .iter()
            .min_by_key(|n| &self.inner[**n])
            .unwrap_or(&scc[0]);
        let mut path = vec![start];
        let mut current = start;
        loop {
            let next = self
                .inner
                .edges(current)
                .map(|e| e.target())
                .filter(|t| members.contains(t))
                .min_by_key(|t| (path.contains(t) && *t != start, &self.inner[*t]));
            match next {
                Some(n) if n == start || path.contains(&n) => break,
                Some(n) => {
                    path.push(n);
                    current = n;
                }
                None => break,
            }
        }
        path
    }

    /// Addresses with every dependency before its dependents.
    pub fn order(&self) -> Vec<Address> {
        let mut sorted = toposort(&self.inner, None).unwrap_or_default();
        sorted.reverse();
        sorted.into_iter().map(|n| self.inner[n].clone()).collect()
    }

    /// The addresses `address` needs directly.
    pub fn dependencies(&self, address: &Address) -> Vec<&Address> {
        self.index
            .get(address)
            .map(|&n| {
                self.inner
                    .edges(n)
                    .map(|e| &self.inner[e.target()])
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The number of edges.
    pub fn edge_count(&self) -> usize {
        self.inner.edge_count()
    }

    /// The graph in DOT: managed resources as boxes, data sources apart (dashed,
    /// in their own cluster), `depends_on` edges dashed.
    pub fn to_dot(&self, spec: &LoadedSpec) -> String {
        let mut out = String::from("digraph synlink {\n  rankdir = \"RL\";\n  node [shape = box, fontname = \"Helvetica\"];\n");
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let (sources, managed): (Vec<&Address>, Vec<&Address>) = spec
            .resources
            .keys()
            .partition(|a| spec.resources.get(*a).is_some_and(|r| r.existing));
        for a in &managed {
            let _ = writeln!(out, "  {};", quote(&a.to_string()));
        }
        if !sources.is_empty() {
            out.push_str("  subgraph cluster_data_sources {\n    label = \"data sources (existing)\";\n    style = dashed;\n");
            for a in &sources {
                let _ = writeln!(out, "    {} [style = dashed];", quote(&a.to_string()));
            }
            out.push_str("  }\n");
        }
        for e in self.inner.edge_references() {
            let (from, to) = (&self.inner[e.source()], &self.inner[e.target()]);
            let style = match e.weight() {
                Edge::Reference(field) => format!(" [label = {}]", quote(field)),
                Edge::DependsOn => " [style = dashed, label = \"depends_on\"]".to_owned(),
                Edge::GrantBeforeAttach => " [style = dotted, label = \"after grant\"]".to_owned(),
            };
            let _ = writeln!(
                out,
                "  {} -> {}{style};",
                quote(&from.to_string()),
                quote(&to.to_string())
            );
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Graph;
    use crate::spec::source::SourceFile;
    use crate::spec::variables::Overrides;

    fn load(text: &str) -> crate::spec::LoadedSpec {
        let file = SourceFile {
            path: "spec.yaml".into(),
            text: text.to_owned(),
        };
        crate::spec::load_text(file, &Overrides::default()).expect("valid spec")
    }

    const BASE: &str = "version: 1\ndefaults: { subscription: 00000000-0000-0000-0000-0000000000a1, resource_group: rg, location: westeurope }\n\
ml_workspaces: { ml: { name: mlw-one, existing: true } }\n\
synapse_workspaces: { syn: { name: syn-one, existing: true } }\n\
spark_pools: { pool: { synapse_workspace: syn, name: pool1, existing: true } }\n\
links: { l: { ml_workspace: ml, synapse_workspace: syn, name: link1 } }\n\
role_grants: { g: { synapse_workspace: syn, role: Apache Spark Administrator, principal: { link: l } } }\n";

    #[test]
    fn attachments_wait_for_the_grant_to_their_link_and_order_follows_edges() {
        let spec = load(&format!(
            "{BASE}attachments: {{ a: {{ ml_workspace: ml, spark_pool: pool, name: spark }} }}\n"
        ));
        let graph = Graph::build(&spec).expect("acyclic");
        let order: Vec<String> = graph.order().iter().map(ToString::to_string).collect();
        let at = |a: &str| order.iter().position(|x| x == a).expect("present");
        assert!(at("links.l") < at("role_grants.g"));
        assert!(at("role_grants.g") < at("attachments.a"), "{order:?}");
        assert!(at("spark_pools.pool") < at("attachments.a"));
        let deps: Vec<String> = graph
            .dependencies(&crate::addr::Address::parse("attachments.a").expect("addr"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(deps.contains(&"role_grants.g".to_owned()), "{deps:?}");
        let dot = graph.to_dot(&spec);
        assert!(
            dot.contains(
                "\"attachments.a\" -> \"role_grants.g\" [style = dotted, label = \"after grant\"];"
            ),
            "{dot}"
        );
        assert!(dot.contains("subgraph cluster_data_sources"));
    }

    #[test]
    fn a_cycle_names_every_address_in_it() {
        let spec = load(&format!(
            "{BASE}attachments: {{ a: {{ ml_workspace: ml, spark_pool: pool, name: spark, depends_on: [links.l2] }} }}\n\
             links2: null\n"
        ).replace("links2: null\n", "").replace("principal: { link: l } }", "principal: { link: l }, depends_on: [attachments.a] }").replace(
            "links: { l: { ml_workspace: ml, synapse_workspace: syn, name: link1 } }",
            "links: { l: { ml_workspace: ml, synapse_workspace: syn, name: link1 }, l2: { ml_workspace: ml, synapse_workspace: syn, name: link2, depends_on: [role_grants.g] } }",
        ));
        let errors = Graph::build(&spec).expect_err("cycle");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].message,
            "dependency cycle: links.l2 → role_grants.g → attachments.a → links.l2"
        );
    }
}
