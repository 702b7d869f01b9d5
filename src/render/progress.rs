//! Progress of a run, and where its time goes. On a terminal, one bar (a
//! spinner alone until the first change is planned): the changes settled
//! out of those planned so far, then what is under way —
//! `reading Azure 1,234/3,005` while refresh reads, the changes under way
//! and, of the work under way, the requests on the wire (at most
//! `--parallelism` per subscription), the changes waiting on long-running operations, the
//! requests waiting in a throttle bucket (the fullest bucket named) and the
//! changes waiting for an identity or a role to propagate. Elsewhere (not a
//! terminal, `--no-color`, `CI`), plain lines: one per change started and
//! ended, and a `reading Azure n/N` line every two seconds while refresh
//! reads. Also the final summary, and with `-v` the time spent per phase.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{Event, Failure, Outcome};
use crate::cloud::activity::{Activity, Phase, Spent};
use crate::cloud::client::Client;
use crate::plan::Action;

/// Shows apply events.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: Mutex<()>,
    activity: Arc<Activity>,
    client: Option<Arc<Client>>,
    /// Changes under way: started and not ended.
    under_way: AtomicUsize,
    /// Refresh: reads done, in all, and when the reading started and ended.
    reading: Mutex<Reading>,
}

#[derive(Debug, Default)]
struct Reading {
    done: usize,
    total: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    /// When a plain `reading Azure` line was last printed.
    said: Option<Instant>,
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

/// A count with thousands separators (`3,005`).
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Progress {
    /// A bar when `fancy` (a terminal with colour allowed), plain lines
    /// otherwise; `client` tells what waits in its throttle.
    pub fn new(fancy: bool, activity: Arc<Activity>, client: Option<Arc<Client>>) -> Progress {
        let bar = fancy.then(|| {
            // Only a spinner and what is under way until the first change is
            // planned (a plan's refresh has no changes to count).
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            lines: Mutex::new(()),
            activity,
            client,
            under_way: AtomicUsize::new(0),
            reading: Mutex::new(Reading::default()),
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

    /// What is under way, in a few words (the bar's message).
    pub fn status(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        {
            let r = self
                .reading
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if r.total > 0 && r.done < r.total {
                parts.push(format!(
                    "reading Azure {}/{}",
                    count(r.done),
                    count(r.total)
                ));
            }
        }
        let under_way = self.under_way.load(Ordering::SeqCst);
        let now = |p| self.activity.now(p);
        let wire = now(Phase::Reading) + now(Phase::Writing);
        if under_way > 0 {
            parts.push(format!("{} under way", count(under_way)));
        }
        if wire > 0 {
            parts.push(format!("{} on the wire", count(wire)));
        }
        let operations = now(Phase::Operation);
        if operations > 0 {
            parts.push(format!("{} waiting on operations", count(operations)));
        }
        let throttled = now(Phase::Throttled);
        if throttled > 0 {
            let fullest = self
                .client
                .as_ref()
                .and_then(|c| c.throttle().waiting().into_iter().next())
                .map(|w| format!(" ({})", w.key.label()))
                .unwrap_or_default();
            parts.push(format!("{} throttled{fullest}", count(throttled)));
        }
        let propagation = now(Phase::Propagation);
        if propagation > 0 {
            parts.push(format!("{} waiting on propagation", count(propagation)));
        }
        parts.join(" · ")
    }

    /// Refreshes the bar's message (call it now and then); nothing without a
    /// bar, so plain-line runs never build the status.
    pub fn tick(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(self.status());
        }
    }

    /// Shows one event.
    pub fn event(&self, e: &Event) {
        let grow = |n: u64| {
            if let Some(bar) = &self.bar {
                if bar.length() == Some(0) {
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                }
                bar.inc_length(n);
            }
        };
        let settle = || {
            if let Some(bar) = &self.bar {
                bar.inc(1);
            }
        };
        match e {
            Event::Planned => grow(1),
            Event::Started { address, action } => {
                self.under_way.fetch_add(1, Ordering::SeqCst);
                self.line(&format!(
                    "{address}: {}...",
                    verb(*action, address.kind, false)
                ));
            }
            Event::Finished {
                address,
                action,
                elapsed,
                began,
            } => {
                // Only what began (and was counted) leaves the count.
                if *began {
                    self.under_way.fetch_sub(1, Ordering::SeqCst);
                }
                settle();
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
                began,
            } => {
                if *began {
                    self.under_way.fetch_sub(1, Ordering::SeqCst);
                }
                settle();
                self.line(&format!(
                    "{address}: failed {}: {error}",
                    verb(*action, address.kind, false)
                ));
            }
            Event::Skipped { address, cause } => {
                settle();
                self.line(&format!("{address}: skipped ({cause})"));
            }
            Event::Refused { address, cause } => {
                settle();
                self.line(&format!("{address}: refused: {cause}"));
            }
            Event::Waiting { address, message } => self.line(&format!("{address}: {message}")),
            Event::Reading { done, total } => self.read(*done, *total),
        }
        self.tick();
    }

    fn read(&self, done: usize, total: usize) {
        let now = Instant::now();
        let say = {
            let mut r = self
                .reading
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            r.first.get_or_insert(now);
            r.last = Some(now);
            r.done = done;
            r.total = total;
            // Plain lines: one every two seconds while reading, not one per read.
            let due = r
                .said
                .or(r.first)
                .is_some_and(|t| now.duration_since(t) >= Duration::from_secs(2));
            if self.bar.is_none() && due && done < total {
                r.said = Some(now);
                true
            } else {
                false
            }
        };
        if say {
            self.line(&format!("reading Azure {}/{}", count(done), count(total)));
        }
    }

    /// What refresh read, and how long it took (from the first read in to the last).
    pub fn reads(&self) -> (usize, Duration) {
        let r = self
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let took = match (r.first, r.last) {
            (Some(a), Some(b)) => b.duration_since(a),
            _ => Duration::ZERO,
        };
        (r.total, took)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Runs `f` with the bar out of the way (to print on stdout).
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// Where the time went, per phase (for `-v`): the wall time during which at
/// least one request or change was in the phase, and in brackets the time
/// summed over them.
pub fn time_summary(spent: &[(Phase, Spent)], reads: (usize, Duration), total: Duration) -> String {
    let name = |p: Phase| match p {
        Phase::Reading => "requests reading",
        Phase::Writing => "requests writing",
        Phase::Operation => "waiting on operations",
        Phase::Throttled => "waiting on throttling",
        Phase::Propagation => "waiting on propagation",
    };
    let mut out = format!(
        "Where the time went ({:.1}s in all; wall time with at least one request or change in each phase, summed over them in brackets):\n",
        total.as_secs_f64()
    );
    out.push_str(&format!(
        "  {:<24}{:>8.1}s  ({} reads)\n",
        "reading Azure",
        reads.1.as_secs_f64(),
        count(reads.0)
    ));
    for (phase, s) in spent {
        out.push_str(&format!(
            "  {:<24}{:>8.1}s  [{:.1}s]\n",
            name(*phase),
            s.wall.as_secs_f64(),
            s.tasks.as_secs_f64()
        ));
    }
    out
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
    let done = |a: Action| outcome.done.iter().filter(|(_, x)| *x == a).count();
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
            let what = f.action.map_or_else(String::new, |a| {
                format!(" {} failed", verb(a, f.address.kind, false))
            });
            out.push_str(&format!("error: {}:{what} {request}{cause}\n", f.address));
        } else {
            let names: Vec<String> = failures.iter().map(|f| f.address.to_string()).collect();
            out.push_str(&format!(
                "error: {} changes failed with one cause: {cause}\n  {}\n",
                failures.len(),
                fold(&names, 6)
            ));
        }
        if let Some(hint) = &failures[0].hint {
            out.push_str(&format!("  hint: {hint}\n"));
        }
    }
    // Refused (not readable, not plannable, or a saved change Azure moved
    // under): one paragraph per cause as well.
    let mut refusals: Vec<(&str, Vec<&Failure>)> = Vec::new();
    for f in &outcome.refused {
        match refusals.iter_mut().find(|(c, _)| *c == f.cause.as_str()) {
            Some((_, all)) => all.push(f),
            None => refusals.push((&f.cause, vec![f])),
        }
    }
    for (cause, refused) in &refusals {
        if let [f] = refused.as_slice() {
            out.push_str(&format!("refused: {}: {cause}\n", f.address));
        } else {
            let names: Vec<String> = refused.iter().map(|f| f.address.to_string()).collect();
            out.push_str(&format!(
                "refused: {} addresses with one cause: {cause}\n  {}\n",
                refused.len(),
                fold(&names, 6)
            ));
        }
        if let Some(hint) = &refused[0].hint {
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
    } else if outcome.failed.is_empty()
        && outcome.refused.is_empty()
        && outcome.state_error.is_none()
    {
        verb_done
    } else {
        "Apply failed"
    };
    // Moves and forgets are named only when there are some (they touch only the state).
    let mut state_only = String::new();
    for (action, word) in [(Action::Move, "moved"), (Action::Forget, "forgotten")] {
        if done(action) > 0 {
            state_only.push_str(&format!(", {} {word}", done(action)));
        }
    }
    if !outcome.refused.is_empty() {
        state_only.push_str(&format!(", {} refused", outcome.refused.len()));
    }
    out.push_str(&format!(
        "{head}: {} created, {} updated, {} replaced, {} deleted, {} failed, {} skipped{state_only} in {:.1}s.\n",
        done(Action::Create),
        done(Action::Update),
        done(Action::Replace),
        done(Action::Delete),
        outcome.failed.len(),
        outcome.skipped.len(),
        elapsed.as_secs_f64()
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::Progress;
    use crate::addr::Address;
    use crate::apply::Event;
    use crate::cloud::activity::Activity;
    use crate::plan::Action;

    fn address(text: &str) -> Address {
        Address::parse(text).expect("address")
    }

    /// A change that fails before its first request (a fill it cannot make)
    /// was never counted as under way, so it must not leave the count either.
    #[test]
    fn only_changes_that_began_leave_the_count_under_way() {
        let progress = Progress::new(false, Arc::new(Activity::new()), None);
        progress.event(&Event::Started {
            address: address("links.a"),
            action: Action::Create,
        });
        progress.event(&Event::Failed {
            address: address("role_grants.b"),
            action: Action::Create,
            error: "principal_id cannot be filled".into(),
            began: false,
        });
        assert!(
            progress.status().contains("1 under way"),
            "{}",
            progress.status()
        );
        progress.event(&Event::Finished {
            address: address("links.a"),
            action: Action::Create,
            elapsed: Duration::from_millis(30),
            began: true,
        });
        assert!(
            !progress.status().contains("under way"),
            "{}",
            progress.status()
        );
    }
}
