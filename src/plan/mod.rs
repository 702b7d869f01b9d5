//! A plan: what synlink will do to make Azure match the spec, change by change,
//! with before/after per property, and everything apply needs to do it: each
//! change carries its ARM id, the exact request, its dependencies by address and,
//! for each value known only after apply, where it comes from. Apply reads
//! nothing else, so a saved plan is applied exactly as reviewed; its digest
//! (sha256 of the canonical content) ties a file to a rendered plan.
//!
//! `refresh` reads Azure (concurrently); `diff` is a pure function of (spec,
//! observed, state) → `Plan`; `stream` decides it address by address as the
//! reads come in; `verify` compares a saved plan with a fresh one.
//! Rendering lives in `render::plan`; applying in `apply`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::addr::{Address, ArmId, ResourceKind};
use crate::provider::{Fill, Request};

pub use crate::addr::Properties;

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
    /// `<=` adopt: the resource exists and matches the spec; only the state
    /// records it.
    Adopt,
    /// `~>` move: the resource exists under a new address (a renamed key, a
    /// block moved into or out of a `for_each`, a `moved:` entry); only the
    /// state is rewritten.
    Move,
    /// `.` forget: a `removed:` entry with `destroy: false`; the state stops
    /// recording it and Azure keeps it untouched.
    Forget,
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
            Action::Read | Action::Adopt => "<=",
            Action::Move => "~>",
            Action::Forget => ".",
            Action::NoOp => "",
        }
    }

    /// Whether the change destroys something.
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Replace | Action::Delete)
    }

    /// Whether the change writes to Azure.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Replace | Action::Delete
        )
    }

    /// Whether the change only edits the state (nothing is sent to Azure).
    pub fn only_state(self) -> bool {
        matches!(
            self,
            Action::Read | Action::Adopt | Action::Move | Action::Forget
        )
    }
}

/// Why a change has its action, for tools that read Terraform's JSON plans
/// (`action_reason`). Terraform's own values are used where they mean the
/// same (`replace_because_cannot_update`, `delete_because_no_resource_config`);
/// the others are synlink's, named the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    /// Created: not found in Azure.
    CreateBecauseMissing,
    /// Created again: the state recorded it but Azure no longer has it.
    CreateBecauseGone,
    /// Updated in place: a property differs from the spec.
    UpdateBecauseDiffers,
    /// Written again: its provisioning state is `Failed` or `Canceled`.
    UpdateBecauseFailed,
    /// Replaced: a property that differs cannot change in place.
    ReplaceBecauseCannotUpdate,
    /// Replaced: it ended `Failed` or `Canceled` and is repaired by a replacement.
    ReplaceBecauseFailed,
    /// Deleted: its block left the spec.
    DeleteBecauseNoResourceConfig,
    /// Deleted: a `removed:` entry with `destroy: true` names it.
    DeleteBecauseRemovedBlock,
    /// Deleted: a destroy plan.
    DeleteBecauseDestroy,
    /// Read: a data source (`existing: true`).
    ReadBecauseDataSource,
    /// Adopted: it exists and matches the spec, and the state does not record it.
    AdoptBecauseUnrecorded,
    /// Moved: the same ARM id left the spec under one address and arrived under another.
    MoveBecauseSameId,
    /// Moved: a `moved:` entry names it.
    MoveBecauseMovedBlock,
    /// Forgotten: a `removed:` entry with `destroy: false` names it.
    ForgetBecauseRemovedBlock,
}

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
    /// The ARM id the change acts on (for a role grant, its workspace's id with
    /// `/roleAssignments/{assignment id}`, the id chosen at plan time when new).
    #[schemars(with = "Option<String>")]
    pub id: Option<ArmId>,
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
    /// The addresses this resource depends on (its references and
    /// `depends_on`); apply orders the plan's changes by them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub depends_on: Vec<Address>,
    /// For each path of `after_unknown` that another change produces, where it
    /// comes from (`principal_id` ← `links.x.principal_id`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sources: IndexMap<String, Fill>,
    /// The write apply sends (creates, updates, replaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// Outputs Azure reports (principal ids), recorded in the state for reads
    /// and adoptions.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(with = "IndexMap<String, Value>")]
    pub outputs: IndexMap<String, Value>,
    /// For a replace whose new resource gets another id than the old one (a
    /// Synapse role assignment): the new id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub replacement_id: Option<ArmId>,
    /// For a move: the address the state recorded the resource under until
    /// now (apply rewrites the state from it to `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub previous_address: Option<Address>,
    /// Why the change has its action.
    #[serde(default)]
    pub action_reason: Option<ActionReason>,
    /// Changes of this plan that must finish before this one starts, beyond
    /// the dependency order: a delete that takes away a way to use a Spark
    /// pool waits for the changes that give one (make before break).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub waits_for: Vec<Address>,
}

impl Change {
    /// A change of `address` doing `action`, with nothing else known yet.
    pub fn new(address: Address, action: Action) -> Change {
        Change {
            kind: address.kind,
            address,
            action,
            id: None,
            before: None,
            after: None,
            after_unknown: Vec::new(),
            reasons: Vec::new(),
            replace_paths: Vec::new(),
            depends_on: Vec::new(),
            sources: IndexMap::new(),
            request: None,
            outputs: IndexMap::new(),
            replacement_id: None,
            previous_address: None,
            action_reason: None,
            waits_for: Vec::new(),
        }
    }

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
    /// Existing resources adopted into the state.
    #[serde(default)]
    pub adopt: usize,
    /// Resources recorded under a new address (with or without another change).
    #[serde(default, rename = "move")]
    pub moved: usize,
    /// Resources the state stops recording, left untouched in Azure.
    #[serde(default)]
    pub forget: usize,
}

/// A reviewed (or reviewable) set of changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// `PLAN_FORMAT_VERSION`.
    pub format_version: u32,
    /// The synlink version that made the plan.
    pub synlink_version: String,
    /// SHA-256 of the canonical content of everything else in the plan, hex:
    /// shown in every rendering, and checked when a saved plan is applied.
    #[serde(default)]
    pub digest: String,
    /// The spec the plan was made from (apply of a saved plan reads it to
    /// re-plan and compare; `-f` overrides).
    #[serde(default)]
    pub spec_path: String,
    /// SHA-256 of the spec text and the effective variables, hex.
    pub spec_hash: String,
    /// The lineage of the state the plan was made against.
    pub state_lineage: String,
    /// The serial of that state.
    pub state_serial: u64,
    /// `plan`, `destroy` or `refresh_only`.
    pub mode: PlanMode,
    /// The `--target` globs the plan was limited to (a fresh plan made to
    /// check a saved one uses the same).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Every change that does something, dependencies first (deletes last,
    /// dependents first); no-ops are left out.
    pub changes: Vec<Change>,
    /// Resources whose Azure properties drifted from the last applied state
    /// (for `--refresh-only`, and shown above the changes).
    #[serde(default)]
    pub drift: Vec<Change>,
    /// Things a reviewer should know (e.g. deprecated linked services), each
    /// said once for all the addresses it concerns.
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

/// A note for the reviewer, said once for every address it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Warning {
    /// What the addresses have in common, after their count and kind
    /// ("2 new links `on the deprecated linked-service path`").
    pub headline: String,
    /// Why it matters and what to do instead.
    #[serde(default)]
    pub detail: String,
    /// The addresses concerned, in plan order.
    #[schemars(with = "Vec<String>")]
    pub addresses: Vec<Address>,
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
                Action::Adopt => s.adopt += 1,
                Action::Forget => s.forget += 1,
                Action::Move | Action::NoOp => {}
            }
            if c.previous_address.is_some() {
                s.moved += 1;
            }
        }
        s
    }

    /// Whether applying would change anything in Azure.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.writes())
    }

    /// Whether applying would move or forget addresses in the state (which a
    /// person approves like a change, though Azure is not touched).
    pub fn rewrites_state(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.previous_address.is_some() || c.action == Action::Forget)
    }

    /// The sha256 of the plan's canonical content (every field but `digest`,
    /// object keys sorted, no whitespace), hex.
    ///
    /// Hashed as it is written, a change at a time: the plan of thousands of
    /// changes is never held a second time as one JSON tree and one text.
    pub fn compute_digest(&self) -> String {
        use sha2::Digest as _;
        /// Every field but the digest and the lists of changes, borrowed.
        #[derive(Serialize)]
        struct Head<'a> {
            format_version: u32,
            synlink_version: &'a str,
            spec_path: &'a str,
            spec_hash: &'a str,
            state_lineage: &'a str,
            state_serial: u64,
            mode: PlanMode,
            targets: &'a [String],
            warnings: &'a [Warning],
        }
        let head = serde_json::to_value(Head {
            format_version: self.format_version,
            synlink_version: &self.synlink_version,
            spec_path: &self.spec_path,
            spec_hash: &self.spec_hash,
            state_lineage: &self.state_lineage,
            state_serial: self.state_serial,
            mode: self.mode,
            targets: &self.targets,
            warnings: &self.warnings,
        })
        .unwrap_or(Value::Null);
        let empty = serde_json::Map::new();
        let head = head.as_object().unwrap_or(&empty);
        let lists = [("changes", &self.changes), ("drift", &self.drift)];
        let mut keys: Vec<&str> = head
            .keys()
            .map(String::as_str)
            .chain(lists.iter().map(|(k, _)| *k))
            .collect();
        keys.sort_unstable();
        let mut hasher = sha2::Sha256::new();
        let mut text = String::from("{");
        for (n, key) in keys.into_iter().enumerate() {
            if n > 0 {
                text.push(',');
            }
            text.push_str(&Value::String(key.to_owned()).to_string());
            text.push(':');
            match lists.iter().find(|(k, _)| *k == key) {
                Some((_, changes)) => {
                    text.push('[');
                    for (i, c) in changes.iter().enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        canonical(&serde_json::to_value(c).unwrap_or(Value::Null), &mut text);
                        hasher.update(text.as_bytes());
                        text.clear();
                    }
                    text.push(']');
                }
                None => canonical(&head[key], &mut text),
            }
        }
        text.push('}');
        hasher.update(text.as_bytes());
        hasher
            .finalize()
            .iter()
            .fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02x}");
                s
            })
    }

    /// Sets `digest` to the plan's digest; called once a plan is final.
    pub fn seal(&mut self) {
        self.digest = self.compute_digest();
    }

    /// The first 12 hex digits of the digest, as renderings show it.
    pub fn short_digest(&self) -> &str {
        self.digest.get(..12).unwrap_or(&self.digest)
    }
}

/// Writes `value` as JSON with object keys sorted and no whitespace, so that
/// equal content always gives equal text.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
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
pub mod handover;
pub mod import;
pub mod moves;
pub mod preflight;
pub mod refresh;
pub mod stream;
pub mod verify;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{canonical, Action, Change, Plan, PlanMode, PLAN_FORMAT_VERSION};
    use crate::addr::{Address, ArmId};

    fn plan() -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            synlink_version: "0".into(),
            digest: String::new(),
            spec_path: "s.yaml".into(),
            spec_hash: "h".into(),
            state_lineage: "l".into(),
            state_serial: 1,
            mode: PlanMode::Normal,
            changes: vec![Change {
                id: Some(ArmId::new("/subscriptions/s/x/linkedServices/a")),
                ..Change::new(Address::parse("links.a").expect("address"), Action::Delete)
            }],
            drift: Vec::new(),
            warnings: Vec::new(),
            targets: Vec::new(),
        }
    }

    #[test]
    fn the_digest_covers_every_field_but_itself() {
        let mut a = plan();
        a.seal();
        assert_eq!(a.digest.len(), 64);
        assert_eq!(
            a.compute_digest(),
            a.digest,
            "sealing does not change the content"
        );
        let mut b = a.clone();
        b.changes[0].id = Some(ArmId::new("/subscriptions/s/x/linkedServices/b"));
        assert_ne!(b.compute_digest(), a.digest);
        let mut c = a.clone();
        c.mode = PlanMode::Destroy;
        assert_ne!(c.compute_digest(), a.digest);
        assert_eq!(a.short_digest().len(), 12);
    }

    #[test]
    fn the_digest_is_that_of_the_whole_plan_as_one_canonical_text() {
        use sha2::Digest as _;
        let mut p = plan();
        p.drift = vec![Change::new(
            Address::parse("links.b").expect("address"),
            Action::Update,
        )];
        p.targets = vec!["links.*".into()];
        p.changes.push(p.drift[0].clone());
        // Every field of the plan, as one tree (a field added to `Plan` and
        // left out of the digest shows here).
        let mut whole = serde_json::to_value(&p).expect("plan");
        whole.as_object_mut().expect("object").remove("digest");
        let mut text = String::new();
        canonical(&whole, &mut text);
        let expected =
            sha2::Sha256::digest(text.as_bytes())
                .iter()
                .fold(String::new(), |mut s, b| {
                    use std::fmt::Write as _;
                    let _ = write!(s, "{b:02x}");
                    s
                });
        assert_eq!(p.compute_digest(), expected);
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut out = String::new();
        canonical(
            &json!({ "b": [ { "z": 1, "a": "x" } ], "a": null }),
            &mut out,
        );
        assert_eq!(out, r#"{"a":null,"b":[{"a":"x","z":1}]}"#);
    }
}
