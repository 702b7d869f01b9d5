//! `synlink discover`: the spec and the state of an estate built by hand.
//! It reads the estate with list calls (`provider::discover::read`), names and
//! sorts what it found into teams (`provider::discover::entries`), folds the
//! teams that share a shape into `for_each` (`fold`), writes YAML (`yaml`),
//! and then proves the result the way a user would: the text is loaded and
//! validated like any spec, and a plan of it against what was read, from an
//! empty state, must only read data sources and adopt the rest. The state is
//! made from that plan's adoptions, so the first `synlink plan` on the spec
//! says `No changes.`. A resource the spec cannot describe exactly (the plan
//! would change it) is left out, commented, rather than written wrong.
//!
//! With `prefer_identity`, the state still records the estate as it is, and
//! the spec describes where it should go: each linked-service team moved to
//! attachments with their own identity (`provider::discover::prefer_identity`),
//! which the first plan then carries out, making before it breaks.
//!
//! Nothing here prints; the command writes the spec (`write_new`) and the state.

pub mod fold;
pub mod yaml;

use std::path::PathBuf;
use std::sync::Arc;

use crate::addr::{Address, ArmId};
use crate::cloud::client::Client;
use crate::cloud::error::CloudError;
use crate::graph::Graph;
use crate::plan::diff::{self, DiffOptions};
use crate::plan::refresh::Observed;
use crate::plan::{Action, Plan, PlanMode};
use crate::provider::discover::{self as found, Entry, Estate, Field};
use crate::spec::diagnostic::Diagnostic;
use crate::spec::source::SourceFile;
use crate::spec::variables::Overrides;
use crate::spec::{self, LoadedSpec};
use crate::state::{ResourceState, State};

/// Teams of one shape fold into `for_each` from this many on.
pub const MIN_FOLD: usize = 3;

/// What to discover and how to write it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Subscription or resource group ids to read.
    pub scopes: Vec<ArmId>,
    /// Workspaces and pools managed rather than data sources.
    pub manage_workspaces: bool,
    /// Linked-service teams written as attachments with their own identity.
    pub prefer_identity: bool,
    /// Requests in flight at once.
    pub parallelism: usize,
    /// Where the spec will be written (messages name it).
    pub spec_path: PathBuf,
    /// The `cloud:` setting to write (`local`), if any.
    pub cloud: Option<String>,
    /// The caller's object id: its own role assignments are never discovered.
    pub caller: Option<String>,
}

/// What discover found and wrote.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The spec text.
    pub spec: String,
    /// The state that matches what exists.
    pub state: State,
    /// Figures and notes for the person who ran it.
    pub report: Report,
}

/// Figures and notes about a discovery.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Resources read from Azure.
    pub read: usize,
    /// Resources the spec describes (data sources included).
    pub described: usize,
    /// Teams (AML workspaces), folded and written out.
    pub teams: usize,
    /// Teams folded into `for_each`.
    pub folded: usize,
    /// Entries with a note about something odd or left out, as `address: note`.
    pub notes: Vec<String>,
    /// For `--prefer-identity`: addresses the spec no longer has (the plan removes them).
    pub leaving: usize,
}

/// Why discover failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// Azure could not be read.
    #[error("could not read what Azure holds: {0}")]
    Cloud(#[from] CloudError),
    /// The scopes hold no AML workspace.
    #[error("no AML workspace in {0}: nothing to discover")]
    Empty(String),
    /// The spec written does not load (a synlink bug: the report says where).
    #[error(
        "the spec discover wrote does not validate (this is a synlink bug; please report it): {0}"
    )]
    Invalid(String),
    /// Some resources could not be described even after leaving others out.
    #[error(
        "the spec discover wrote would still change {0} (this is a synlink bug; please report it)"
    )]
    Misfit(String),
}

/// Writes a new file atomically (a temporary file beside it, then a rename
/// that refuses to replace anything).
pub fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    Ok(())
}

/// What was read, as refresh would have it.
fn observed(estate: &Estate) -> Observed {
    let mut o = Observed::default();
    for item in &estate.items {
        o.insert(item.kind, item.id.clone(), item.body.clone());
    }
    o
}

/// Loads and validates spec text, as `synlink validate` would.
fn load(text: &str, options: &Options) -> Result<(LoadedSpec, Graph), DiscoverError> {
    let file = SourceFile {
        path: options.spec_path.clone(),
        text: text.to_owned(),
    };
    let describe = |diags: &[Diagnostic]| {
        diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| {
                format!(
                    "{}: {}",
                    d.pos.map(|p| p.to_string()).unwrap_or_default(),
                    d.message
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let spec = spec::load_text(file, &Overrides::default())
        .map_err(|e| DiscoverError::Invalid(describe(&e.diagnostics())))?;
    let graph = Graph::build(&spec).map_err(|cycles| DiscoverError::Invalid(describe(&cycles)))?;
    Ok((spec, graph))
}

/// The plan of `spec` against what was read, from an empty state.
fn plan_of(spec: &LoadedSpec, graph: &Graph, observed: &Observed) -> (Plan, Vec<diff::PlanError>) {
    let options = DiffOptions {
        mode: PlanMode::Normal,
        targets: Vec::new(),
        spec_hash: String::new(),
    };
    let d = diff::diff(spec, graph, observed, &State::new(), &options);
    (d.plan, d.errors)
}

/// Addresses the plan would do more to than read or adopt, with why.
fn misfits(plan: &Plan, errors: &[diff::PlanError]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plan
        .changes
        .iter()
        .filter(|c| {
            !matches!(c.action, Action::Read | Action::Adopt) || !c.after_unknown.is_empty()
        })
        .map(|c| (c.address.to_string(), c.reasons.join("; ")))
        .collect();
    out.extend(
        errors
            .iter()
            .map(|e| (e.address.clone(), e.message.clone())),
    );
    out
}

/// Leaves out `address` and everything that refers to it, with `why`.
/// What is odd or left out about each entry, for the report.
fn notes(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .flat_map(|e| {
            e.odd
                .iter()
                .chain(&e.left_out)
                .map(move |n| format!("{}: {n}", e.address))
        })
        .collect()
}

fn leave_out(entries: &mut [Entry], address: &str, why: &str) {
    let mut gone: Vec<Address> = Vec::new();
    for e in entries.iter_mut() {
        if e.address.to_string() == address && e.left_out.is_none() {
            e.left_out = Some(format!("the spec cannot describe it exactly ({why})"));
            gone.push(e.address.clone());
        }
    }
    // What refers to a left-out entry goes with it.
    while let Some(a) = gone.pop() {
        for e in entries.iter_mut() {
            if e.left_out.is_none() && refers_to(&e.fields, &a) {
                e.left_out = Some(format!("it refers to `{a}`, which is left out"));
                gone.push(e.address.clone());
            }
        }
    }
}

fn refers_to(fields: &found::Fields, address: &Address) -> bool {
    fields.values().any(|f| match f {
        Field::Key(a) => a == address,
        Field::Map(m) => refers_to(m, address),
        Field::Text(_) | Field::Value(_) => false,
    })
}

/// The state a run of the plan's reads and adoptions would write.
fn state_of(plan: &Plan) -> State {
    let mut state = State::new();
    for c in &plan.changes {
        let Some(id) = c.id.clone() else { continue };
        state.resources.insert(
            c.address.to_string(),
            ResourceState {
                kind: c.kind,
                id,
                existing: c.action == Action::Read,
                properties: c.after.clone().unwrap_or_default(),
                outputs: c.outputs.clone(),
                dependencies: c.depends_on.clone(),
            },
        );
    }
    state
}

/// `1 team`, `2 teams`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The comment at the top of the spec.
fn header(options: &Options, doc: &fold::Document, estate: &Estate, leaving: usize) -> Vec<String> {
    let scopes: Vec<String> = options.scopes.iter().map(ToString::to_string).collect();
    let mut h = vec![
        format!(
            "Written by `synlink discover` from {} ({} resources read).",
            scopes.join(", "),
            estate.items.len()
        ),
        format!(
            "{} (an AML workspace and what hangs off it): {} folded into `for_each` over the variables below, {} written out. {} a note about something odd.",
            plural(doc.teams, "team"),
            doc.folded,
            doc.teams - doc.folded,
            if doc.odd == 1 { "1 entry carries".to_owned() } else { format!("{} entries carry", doc.odd) }
        ),
    ];
    h.push(if options.prefer_identity {
        format!("With --prefer-identity: each linked-service team is written as attachments with their own identity and their grants; the state still records the links, so the first `synlink plan` attaches and grants the new, then removes the {leaving} old resources once the new are in effect.")
    } else {
        "The state beside it records all of it: `synlink plan` says `No changes.`".into()
    });
    h
}

/// Discovers the estate of `options.scopes`: its spec and its state.
pub async fn discover(client: Arc<Client>, options: &Options) -> Result<Discovery, DiscoverError> {
    let estate = found::read(client, &options.scopes, options.parallelism).await?;
    let mut entries = found::entries(
        &estate,
        options.manage_workspaces,
        options.caller.as_deref(),
    );
    if !entries.iter().any(|e| e.team.is_some()) {
        let scopes: Vec<String> = options.scopes.iter().map(ToString::to_string).collect();
        return Err(DiscoverError::Empty(scopes.join(", ")));
    }
    let observed = observed(&estate);
    // Proven by a plan; what it would change is left out, then proven again.
    let mut pass = 0;
    let (doc, text, plan) = loop {
        let doc = fold::document(&entries, MIN_FOLD);
        let text = yaml::write(
            &doc,
            &header(options, &doc, &estate, 0),
            options.cloud.as_deref(),
        );
        let (spec, graph) = load(&text, options)?;
        let (plan, errors) = plan_of(&spec, &graph, &observed);
        let wrong = misfits(&plan, &errors);
        if wrong.is_empty() {
            break (doc, text, plan);
        }
        if pass > 0 {
            let names: Vec<String> = wrong
                .into_iter()
                .map(|(a, why)| format!("{a} ({why})"))
                .collect();
            return Err(DiscoverError::Misfit(names.join(", ")));
        }
        for (address, why) in wrong {
            leave_out(&mut entries, &address, &why);
        }
        pass += 1;
    };
    let state = state_of(&plan);
    let mut report = Report {
        read: estate.items.len(),
        described: state.resources.len(),
        teams: doc.teams,
        folded: doc.folded,
        notes: notes(&entries),
        leaving: 0,
    };
    if !options.prefer_identity {
        return Ok(Discovery {
            spec: text,
            state,
            report,
        });
    }
    let (moved, leaving) = found::prefer_identity(entries);
    let mut doc = fold::document(&moved, MIN_FOLD);
    let mut sections: Vec<&str> = leaving.iter().map(|a| a.kind.section()).collect();
    sections.sort_unstable();
    sections.dedup();
    doc.removed = sections.iter().map(|s| format!("{s}.*")).collect();
    let text = yaml::write(
        &doc,
        &header(options, &doc, &estate, leaving.len()),
        options.cloud.as_deref(),
    );
    load(&text, options)?;
    report.leaving = leaving.len();
    report.notes = notes(&moved);
    Ok(Discovery {
        spec: text,
        state,
        report,
    })
}
