//! A plan: what synlink will do to make Azure match the spec, change by change,
//! with before/after per property. `refresh` reads Azure (concurrently);
//! `diff` is a pure function of (desired, observed, state) → `Plan`. Rendering
//! lives in `render::plan`; applying in `apply`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::addr::{Address, ResourceKind};

/// The version of the plan file and JSON format.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a change does. Maps one-to-one onto the plan symbols.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+` create.
    Create,
    /// `~` update in place.
    Update,
    /// `-/+` delete then create.
    Replace,
    /// `-` delete (for attachments: detach; for links: unregister; for grants: revoke).
    Delete,
    /// `<=` read a data source.
    Read,
    /// Nothing to do (not printed).
    NoOp,
}

impl Action {
    /// The plan symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::Read => "<=",
            Action::NoOp => "",
        }
    }

    /// Whether the change destroys something.
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }
}

/// The properties of a resource, flattened to dotted paths (`autoscale.min`),
/// in a stable order. Values are JSON.
pub type Properties = IndexMap<String, serde_json::Value>;

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Change {
    /// `section.key`.
    #[schemars(with = "String")]
    pub address: Address,
    /// The resource kind (the spec section).
    #[schemars(with = "String")]
    pub kind: ResourceKind,
    /// What the change does.
    pub action: Action,
    /// The resource's id: an ARM id, or for a role grant the Synapse assignment
    /// id when it exists. `None` when not yet known.
    pub id: Option<String>,
    /// The properties Azure holds now (`None` when the resource does not exist).
    pub before: Option<Properties>,
    /// The properties after the change (`None` for a delete).
    pub after: Option<Properties>,
    /// Paths of `after` whose value is known only after apply (e.g. a link's
    /// `principal_id`, a grant's `principal_id` when its link is not created yet).
    #[serde(default)]
    pub after_unknown: Vec<String>,
    /// Why the change is needed, one short line each (e.g. "not found in Azure",
    /// "`node_count` changed", "`storage_account` cannot change in place").
    #[serde(default)]
    pub reasons: Vec<String>,
    /// For a replace: the properties that force it.
    #[serde(default)]
    pub replace_paths: Vec<String>,
}

impl Change {
    /// The paths whose value differs between before and after (all paths for a
    /// create or delete), in `after`'s order then `before`'s.
    pub fn changed_paths(&self) -> Vec<String> {
        let empty = Properties::new();
        let before = self.before.as_ref().unwrap_or(&empty);
        let after = self.after.as_ref().unwrap_or(&empty);
        let unknown = |k: &str| self.after_unknown.iter().any(|u| u == k);
        let mut paths: Vec<String> = after
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(*v) || unknown(k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &self.after_unknown {
            if !after.contains_key(k) && !paths.contains(k) {
                paths.push(k.clone());
            }
        }
        if self.action != Action::Create {
            paths.extend(
                before
                    .keys()
                    .filter(|k| !after.contains_key(*k) && !unknown(k))
                    .cloned(),
            );
        }
        paths
    }
}

/// Counts of a plan's changes by action.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Summary {
    /// Creates.
    pub add: usize,
    /// Updates in place.
    pub change: usize,
    /// Replacements.
    pub replace: usize,
    /// Deletes.
    pub destroy: usize,
    /// Data sources read.
    pub read: usize,
}

/// A reviewed (or reviewable) set of changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// `PLAN_FORMAT_VERSION`.
    pub format_version: u32,
    /// The synlink version that made the plan.
    pub synlink_version: String,
    /// SHA-256 of the spec text and the effective variables, hex.
    pub spec_hash: String,
    /// The lineage of the state the plan was made against.
    pub state_lineage: String,
    /// The serial of that state.
    pub state_serial: u64,
    /// `plan`, `destroy` or `refresh_only`.
    pub mode: PlanMode,
    /// Every change that does something, dependencies first (deletes last,
    /// dependents first); no-ops are left out.
    pub changes: Vec<Change>,
    /// Resources whose Azure properties drifted from the last applied state
    /// (for `--refresh-only`, and shown above the changes).
    #[serde(default)]
    pub drift: Vec<Change>,
    /// Things a reviewer should know (e.g. deprecated linked services).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// What kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Make Azure match the spec.
    Normal,
    /// Remove everything managed.
    Destroy,
    /// Only report drift; change nothing.
    RefreshOnly,
}

impl Plan {
    /// Counts by action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::Read => s.read += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// Whether applying would change anything in Azure.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| !matches!(c.action, Action::NoOp | Action::Read))
    }
}

/// The JSON Schema of the JSON plan format, as checked in at `schemas/plan.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

pub mod diff;
pub mod file;
pub mod import;
pub mod preflight;
pub mod refresh;
