//! The spec: YAML text → expanded, typed, validated model with source positions.
//!
//! The pipeline is `source` (read the file) → `node` (parse to a positioned
//! tree) → `expand` (variables and `for_each`) → `de` (typed decoding of each
//! entry) → `validate` (references, names, Azure rules). Every stage collects its
//! problems; `load` fails once with all of them. Nothing here talks to Azure.

pub mod de;
pub mod diagnostic;
pub mod expand;
pub mod fold;
pub mod model;
pub mod naming;
pub mod node;
pub mod placeholder;
pub mod refactor;
pub mod roles;
pub mod runtimes;
pub mod source;
pub mod validate;
pub mod variables;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::addr::{Address, ResourceKind};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::model::{
    Attachment, Cloud, Defaults, Link, MlWorkspace, RoleGrant, SparkPool, StateSettings,
    SynapseWorkspace,
};
use crate::spec::node::{Node, Pos};
use crate::spec::refactor::{MoveRule, RemoveRule};
use crate::spec::source::{SourceError, SourceFile};
use crate::spec::variables::Overrides;

/// The only spec format version.
pub const SPEC_VERSION: u32 = 1;

/// Where a resource lives in Azure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// Subscription id.
    pub subscription: String,
    /// Resource group.
    pub resource_group: String,
    /// Region.
    pub location: String,
}

/// A resource's settings, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// See [`MlWorkspace`].
    MlWorkspace(MlWorkspace),
    /// See [`SynapseWorkspace`].
    SynapseWorkspace(SynapseWorkspace),
    /// See [`SparkPool`].
    SparkPool(SparkPool),
    /// See [`Link`].
    Link(Link),
    /// See [`RoleGrant`].
    RoleGrant(RoleGrant),
    /// See [`Attachment`].
    Attachment(Attachment),
}

/// One resource of a loaded spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `section.key`.
    pub address: Address,
    /// Where its key is written.
    pub key_pos: Pos,
    /// Its expanded body, kept so that checks can point at any field.
    pub node: Node,
    /// The Azure name (the `name` field, or the key). For a role grant, the key.
    pub name: String,
    /// A data source: read, never written.
    pub existing: bool,
    /// Where it lives: its own settings, its parent's, then `defaults`.
    pub placement: Placement,
    /// The settings.
    pub body: Body,
}

impl Resource {
    /// The position of a field's value (dotted path), or of the key when absent.
    pub fn pos_of(&self, path: &str) -> Pos {
        self.node.pos_at(path).unwrap_or(self.key_pos)
    }

    /// Its explicit `depends_on` entries, as written.
    pub fn depends_on(&self) -> &[String] {
        match &self.body {
            Body::MlWorkspace(r) => &r.depends_on,
            Body::SynapseWorkspace(r) => &r.depends_on,
            Body::SparkPool(r) => &r.depends_on,
            Body::Link(r) => &r.depends_on,
            Body::RoleGrant(r) => &r.depends_on,
            Body::Attachment(r) => &r.depends_on,
        }
    }

    /// Its `lifecycle` settings.
    pub fn lifecycle(&self) -> &model::Lifecycle {
        match &self.body {
            Body::MlWorkspace(r) => &r.lifecycle,
            Body::SynapseWorkspace(r) => &r.lifecycle,
            Body::SparkPool(r) => &r.lifecycle,
            Body::Link(r) => &r.lifecycle,
            Body::RoleGrant(r) => &r.lifecycle,
            Body::Attachment(r) => &r.lifecycle,
        }
    }

    /// The references this resource makes to others by key: `(field, kind, key)`.
    pub fn references(&self) -> Vec<(&'static str, ResourceKind, &str)> {
        match &self.body {
            Body::MlWorkspace(_) | Body::SynapseWorkspace(_) => Vec::new(),
            Body::SparkPool(p) => vec![(
                "synapse_workspace",
                ResourceKind::SynapseWorkspace,
                p.synapse_workspace.as_str(),
            )],
            Body::Link(l) => vec![
                (
                    "ml_workspace",
                    ResourceKind::MlWorkspace,
                    l.ml_workspace.as_str(),
                ),
                (
                    "synapse_workspace",
                    ResourceKind::SynapseWorkspace,
                    l.synapse_workspace.as_str(),
                ),
            ],
            Body::RoleGrant(g) => {
                let mut refs = vec![(
                    "synapse_workspace",
                    ResourceKind::SynapseWorkspace,
                    g.synapse_workspace.as_str(),
                )];
                if let Some(link) = &g.principal.link {
                    refs.push(("principal.link", ResourceKind::Link, link.as_str()));
                }
                if let Some(att) = &g.principal.attachment {
                    refs.push((
                        "principal.attachment",
                        ResourceKind::Attachment,
                        att.as_str(),
                    ));
                }
                if let Some(model::GrantScope::SparkPool(pool)) = &g.scope {
                    refs.push(("scope.spark_pool", ResourceKind::SparkPool, pool.as_str()));
                }
                refs
            }
            Body::Attachment(a) => vec![
                (
                    "ml_workspace",
                    ResourceKind::MlWorkspace,
                    a.ml_workspace.as_str(),
                ),
                ("spark_pool", ResourceKind::SparkPool, a.spark_pool.as_str()),
            ],
        }
    }
}

/// A spec that passed validation (it may still carry warnings).
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The file it came from.
    pub file: SourceFile,
    /// The `cloud` setting.
    pub cloud: Cloud,
    /// The `defaults` setting.
    pub defaults: Defaults,
    /// The `state` setting: `None` keeps the state in the local file.
    pub state: Option<StateSettings>,
    /// Every resource by address, in file order.
    pub resources: IndexMap<Address, Resource>,
    /// The `moved:` entries.
    pub moved: Vec<MoveRule>,
    /// The `removed:` entries.
    pub removed: Vec<RemoveRule>,
    /// Problems that do not stop the spec from being used.
    pub warnings: Vec<Diagnostic>,
}

impl LoadedSpec {
    /// The resource of a kind with a key.
    pub fn get(&self, kind: ResourceKind, key: &str) -> Option<&Resource> {
        self.resources.get(&Address::new(kind, key))
    }
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read at all.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The file was read and has problems (every one of them, warnings included).
    #[error("{} has {} problem(s)", file.path.display(), diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid {
        /// The file, for rendering snippets.
        file: SourceFile,
        /// Every problem found, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

impl SpecError {
    /// The file the problems are in.
    pub fn path(&self) -> &Path {
        match self {
            SpecError::Source(e) => e.path(),
            SpecError::Invalid { file, .. } => &file.path,
        }
    }

    /// Every problem, as diagnostics (a file that cannot be read is one).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            SpecError::Source(e) => vec![e.diagnostic()],
            SpecError::Invalid { diagnostics, .. } => diagnostics.clone(),
        }
    }
}

/// Reads, expands and validates the spec at `path`.
pub fn load(path: &Path, overrides: &Overrides) -> Result<LoadedSpec, SpecError> {
    let file = source::read(path)?;
    load_text(file, overrides)
}

/// Parses a spec file's YAML; a syntax error is the file's one diagnostic.
fn parse(file: SourceFile) -> Result<(SourceFile, node::Node), SpecError> {
    match node::parse(&file.text) {
        Ok(root) => Ok((file, root)),
        Err(e) => {
            let d = Diagnostic::error(e.pos, format!("invalid YAML: {}", e.message)).code(e.code);
            Err(SpecError::Invalid {
                file,
                diagnostics: vec![d],
            })
        }
    }
}

/// Expands and validates spec text that was already read.
pub fn load_text(file: SourceFile, overrides: &Overrides) -> Result<LoadedSpec, SpecError> {
    let (file, root) = parse(file)?;
    let expanded = expand::expand(&root, &file.text, overrides);
    if !matches!(root.value, node::Value::Map(_)) {
        // Empty, or not a map of sections: nothing more to say than that.
        return Err(SpecError::Invalid {
            file,
            diagnostics: expanded.diagnostics,
        });
    }
    let mut diagnostics = expanded.diagnostics;
    let (mut settings, resources) =
        validate::decode(&expanded.settings, expanded.entries, &mut diagnostics);
    settings.broken.extend(
        expanded
            .broken
            .into_iter()
            .map(|(kind, key)| Address::new(kind, key)),
    );
    settings.unkeyed.extend(expanded.unkeyed);
    validate::check(&settings, &resources, &mut diagnostics);
    refactor::check(
        &settings.moved,
        &settings.removed,
        &resources,
        &mut diagnostics,
    );
    let diagnostics = fold::fold(diagnostics, &expanded.templates);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(SpecError::Invalid { file, diagnostics });
    }
    Ok(LoadedSpec {
        file,
        cloud: settings.cloud,
        defaults: settings.defaults,
        state: settings.state,
        resources,
        moved: settings.moved,
        removed: settings.removed,
        warnings: diagnostics,
    })
}

/// Only the `state` section of the spec at `path` (variables substituted), for
/// the commands that need no more than where the state is (`synlink state …`,
/// `output`): a problem elsewhere in the spec does not keep them from the
/// state. `None` when the spec keeps its state in the local file.
pub fn state_settings(
    path: &Path,
    overrides: &Overrides,
) -> Result<Option<StateSettings>, SpecError> {
    let (file, root) = parse(source::read(path)?)?;
    let expanded = expand::expand(&root, &file.text, overrides);
    let mut diagnostics: Vec<Diagnostic> = expanded
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error() && d.address.as_deref() == Some("state"))
        .collect();
    let settings = match expanded.settings.get("state") {
        Some((_, node)) if diagnostics.is_empty() => validate::decode_state(node, &mut diagnostics),
        _ => None,
    };
    if diagnostics.is_empty() {
        Ok(settings)
    } else {
        Err(SpecError::Invalid { file, diagnostics })
    }
}

/// The decoded top-level settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `version`, when valid.
    pub version: Option<u32>,
    /// `cloud`.
    pub cloud: Cloud,
    /// `defaults`.
    pub defaults: Defaults,
    /// `moved`.
    pub moved: Vec<MoveRule>,
    /// `removed`.
    pub removed: Vec<RemoveRule>,
    /// `state`, when set and valid.
    pub state: Option<StateSettings>,
    /// Addresses whose entries could not be expanded or decoded: references to
    /// them are not reported again as dangling.
    pub broken: std::collections::HashSet<Address>,
    /// Sections with an entry whose keys could not be told: no reference into
    /// them is reported as dangling.
    pub unkeyed: std::collections::HashSet<ResourceKind>,
}

impl Settings {
    /// Whether `address` belongs to an entry that was refused, so that a
    /// reference to it says nothing new.
    pub fn refused(&self, address: &Address) -> bool {
        self.broken.contains(address) || self.unkeyed.contains(&address.kind)
    }
}

/// Where the spec's local data (state, local cloud) lives: `.synlink/` beside it.
pub fn data_dir(spec_path: &Path) -> PathBuf {
    spec_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".synlink")
}
