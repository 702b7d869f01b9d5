//! Progress of an apply: one bar on a terminal (done/total, changes in flight),
//! plain lines otherwise (not a terminal, `--no-color`, `CI`). Also the final
//! summary and the outputs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{Event, Failure, Outcome};
use crate::plan::Action;

/// Shows apply events.
pub struct Progress {
    bar: Option<ProgressBar>,
    in_flight: AtomicUsize,
    lines: Mutex<()>,
}

fn verb(action: Action, kind: crate::addr::ResourceKind, done: bool) -> &'static str {
    let words = crate::provider::of(kind).words();
    match (action, done) {
        (Action::Create, false) => "creating",
        (Action::Create, true) => "created",
        (Action::Update, false) => "updating",
        (Action::Update, true) => "updated",
        (Action::Replace, false) => "replacing",
        (Action::Replace, true) => "replaced",
        (Action::Delete, false) => words.deleting,
        (Action::Delete, true) => words.deleted,
        (Action::Adopt, _) => "adopting",
        (Action::Move, _) => "moving",
        (Action::Forget, _) => "forgetting",
        (Action::Read | Action::NoOp, _) => "reading",
    }
}

impl Progress {
    /// A bar when `fancy` (a terminal with colour allowed), plain lines otherwise.
    pub fn new(total: usize, fancy: bool) -> Progress {
        let bar = fancy.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            in_flight: AtomicUsize::new(0),
            lines: Mutex::new(()),
        }
    }

    #[allow(clippy::print_stderr)]
    fn line(&self, text: &str) {
        let _guard = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Shows one event.
    pub fn event(&self, e: &Event) {
        match e {
            Event::Started { address, action } => {
                let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{n} in flight"));
                }
                self.line(&format!(
                    "{address}: {}...",
                    verb(*action, address.kind, false)
                ));
            }
            Event::Finished {
                address,
                action,
                elapsed,
            } => {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.line(&format!(
                    "{address}: {} ({:.1}s)",
                    verb(*action, address.kind, true),
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed {
                address,
                action,
                error,
            } => {
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.line(&format!(
                    "{address}: failed {}: {error}",
                    verb(*action, address.kind, false)
                ));
            }
            Event::Skipped { address, cause } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.line(&format!("{address}: skipped ({cause})"));
            }
            Event::Waiting { address, message } => self.line(&format!("{address}: {message}")),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Names, all of them when at most `shown`, else the first few and a count.
pub fn fold(names: &[String], shown: usize) -> String {
    if names.len() <= shown {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..shown].join(", "),
            names.len() - shown
        )
    }
}

/// The last lines of an apply.
pub fn summary(outcome: &Outcome, elapsed: Duration, verb_done: &str) -> String {
    let count = |a: Action| outcome.done.iter().filter(|(_, x)| *x == a).count();
    let mut out = String::new();
    // One paragraph per cause: a missing right on thirty writes is said once.
    let mut causes: Vec<(&str, Vec<&Failure>)> = Vec::new();
    for f in &outcome.failed {
        match causes.iter_mut().find(|(c, _)| *c == f.cause.as_str()) {
            Some((_, all)) => all.push(f),
            None => causes.push((&f.cause, vec![f])),
        }
    }
    for (cause, failures) in &causes {
        if let [f] = failures.as_slice() {
            let request = f
                .request
                .as_deref()
                .map(|r| format!("{r}: "))
                .unwrap_or_default();
            out.push_str(&format!(
                "error: {}: {} failed: {request}{cause}\n",
                f.address,
                verb(f.action, f.address.kind, false)
            ));
        } else {
            let names: Vec<String> = failures.iter().map(|f| f.address.to_string()).collect();
            out.push_str(&format!(
                "error: {} changes failed with one cause: {cause}\n  {}\n",
                failures.len(),
                fold(&names, 6)
            ));
        }
        if let Some(hint) = failures[0].hint {
            out.push_str(&format!("  hint: {hint}\n"));
        }
    }
    for (address, cause) in &outcome.skipped {
        out.push_str(&format!("skipped: {address} ({cause})\n"));
    }
    if let Some(e) = &outcome.state_error {
        out.push_str(&format!("error: the state could not be written: {e}\n"));
    }
    let head = if outcome.interrupted {
        "Interrupted"
    } else if outcome.failed.is_empty() && outcome.state_error.is_none() {
        verb_done
    } else {
        "Apply failed"
    };
    // Moves and forgets are named only when there are some (they touch only the state).
    let mut state_only = String::new();
    for (action, word) in [(Action::Move, "moved"), (Action::Forget, "forgotten")] {
        if count(action) > 0 {
            state_only.push_str(&format!(", {} {word}", count(action)));
        }
    }
    out.push_str(&format!(
        "{head}: {} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped{state_only} in {:.1}s.\n",
        count(Action::Create),
        count(Action::Update),
        count(Action::Replace),
        count(Action::Delete),
        outcome.failed.len(),
        outcome.skipped.len(),
        elapsed.as_secs_f64()
    ));
    out
}
