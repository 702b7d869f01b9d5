//! Where the time of a run goes: every task that talks to Azure (a refresh
//! read, a change being applied) is in one phase at a time — a request on the
//! wire (reading or writing), waiting in a client-side throttle bucket, waiting
//! between the polls of a long-running operation, or waiting for an identity
//! or a role to propagate — and `Activity` counts the tasks in each phase now
//! and the time spent in each (wall time with at least one task in it, and
//! task time summed over tasks), for the progress bar and `-v`'s summary.
//!
//! A task says who it is through a tokio task-local ([`scope`]): its
//! `Activity`, and the `Class` of work it belongs to, whose priority orders
//! the waiters of a throttle bucket (the client reads it when it queues a
//! request, and raises it when a request of the class turns out to start a
//! long-running operation, so the next ones go first). Code that runs outside
//! any scope (a plan's refresh without progress) records nothing. This file
//! knows nothing of plans, changes or resource kinds.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// What a task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// A read on the wire.
    Reading,
    /// A write (PUT, PATCH, POST, DELETE) on the wire.
    Writing,
    /// Waiting in a client-side throttle bucket.
    Throttled,
    /// Waiting between the polls of a long-running operation.
    Operation,
    /// Waiting for an identity or a role to take effect.
    Propagation,
}

impl Phase {
    /// Every phase, in the order progress shows them.
    pub const ALL: [Phase; 5] = [
        Phase::Reading,
        Phase::Writing,
        Phase::Operation,
        Phase::Throttled,
        Phase::Propagation,
    ];

    fn index(self) -> usize {
        match self {
            Phase::Reading => 0,
            Phase::Writing => 1,
            Phase::Operation => 2,
            Phase::Throttled => 3,
            Phase::Propagation => 4,
        }
    }
}

/// Time spent in one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    /// Wall time during which at least one task was in the phase.
    pub wall: Duration,
    /// Time summed over tasks (two tasks waiting one second count two).
    pub tasks: Duration,
    /// Tasks in the phase now.
    pub now: usize,
}

#[derive(Debug)]
struct Books {
    since: Instant,
    active: [usize; 5],
    wall: [Duration; 5],
    tasks: [Duration; 5],
}

impl Books {
    /// Charges the time since the last change to the phases that were busy.
    fn advance(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.since);
        self.since = now;
        for i in 0..5 {
            if self.active[i] > 0 {
                self.wall[i] += dt;
                self.tasks[i] += dt * u32::try_from(self.active[i]).unwrap_or(u32::MAX);
            }
        }
    }
}

/// The phases of every task of a run.
#[derive(Debug)]
pub struct Activity {
    books: Mutex<Books>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity::new()
    }
}

impl Activity {
    /// Nothing spent yet.
    pub fn new() -> Activity {
        Activity {
            books: Mutex::new(Books {
                since: Instant::now(),
                active: [0; 5],
                wall: [Duration::ZERO; 5],
                tasks: [Duration::ZERO; 5],
            }),
        }
    }

    fn change(&self, phase: Phase, up: bool) {
        let mut b = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        b.advance(Instant::now());
        let slot = &mut b.active[phase.index()];
        *slot = if up {
            *slot + 1
        } else {
            slot.saturating_sub(1)
        };
    }

    /// What each phase has cost so far, and how many tasks are in it now.
    pub fn spent(&self) -> Vec<(Phase, Spent)> {
        let mut b = self.books.lock().unwrap_or_else(PoisonError::into_inner);
        b.advance(Instant::now());
        Phase::ALL
            .iter()
            .map(|&p| {
                let i = p.index();
                (
                    p,
                    Spent {
                        wall: b.wall[i],
                        tasks: b.tasks[i],
                        now: b.active[i],
                    },
                )
            })
            .collect()
    }

    /// Tasks in `phase` now.
    pub fn now(&self, phase: Phase) -> usize {
        self.books
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .active[phase.index()]
    }
}

// Who goes first in a throttle bucket, by where classes start:
//
// 1. the requests of changes under way (`UNDER_WAY`): a read a started change
//    needs (a Synapse endpoint, a resource group) never queues behind the
//    reads of teams not begun yet; among them, the kinds whose requests
//    start long-running operations (raised as soon as one does);
// 2. the refresh's reads (`READS`, raised by how much of the plan waits on
//    each): a read starts a team's whole chain, often an operation of its own;
// 3. the polls of operations (`POLLS`): a poll only ends a chain, and what
//    follows it (a revoke, an unlink) is short.
//
// So the tokens go where the longest work waits.

/// Where the classes of changes under way start.
pub const UNDER_WAY: i64 = 1 << 48;
/// Where the refresh's reads start (raised by at most `READS_SPAN`).
pub const READS: i64 = 1 << 8;
/// How far a refresh read is raised at most.
pub const READS_SPAN: i64 = 1 << 40;
/// Where the polls of operations stay.
pub const POLLS: i64 = 0;

/// A kind of work whose requests share a priority in the throttle queues.
#[derive(Debug, Default)]
pub struct Class {
    /// Where it starts.
    base: i64,
    /// How far its work has raised it (the longest operation it started, in ms).
    raised: AtomicI64,
}

impl Class {
    /// A class with a starting priority (higher goes first).
    pub fn new(priority: i64) -> Class {
        Class {
            base: priority,
            raised: AtomicI64::new(0),
        }
    }

    /// Its priority now: where it started, raised by its work.
    pub fn priority(&self) -> i64 {
        self.base
            .saturating_add(self.raised.load(Ordering::Relaxed))
    }

    /// Raises it to at least `by` above where it started (a raise orders
    /// classes of one starting priority; it never lifts one past another's).
    pub fn raise(&self, by: i64) {
        self.raised.fetch_max(by, Ordering::Relaxed);
    }
}

/// Who the current task is.
#[derive(Clone)]
pub struct Task {
    /// Where its phases are counted.
    pub activity: Arc<Activity>,
    /// Its class of work.
    pub class: Arc<Class>,
    /// A phase the task stays in until it enters another (set by `mark`).
    sticky: Arc<Mutex<Option<Phase>>>,
    /// When the task put its first request on the wire.
    begun: Arc<OnceLock<Instant>>,
    /// Told once, when the task puts its first request on the wire.
    on_begin: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("class", &self.class)
            .field("begun", &self.begun.get())
            .finish_non_exhaustive()
    }
}

impl Task {
    /// A task of `class` counted in `activity`.
    pub fn new(activity: Arc<Activity>, class: Arc<Class>) -> Task {
        Task {
            activity,
            class,
            sticky: Arc::new(Mutex::new(None)),
            begun: Arc::new(OnceLock::new()),
            on_begin: None,
        }
    }

    /// Calls `f` once, when the task puts its first request on the wire.
    #[must_use]
    pub fn on_begin(mut self, f: Arc<dyn Fn() + Send + Sync>) -> Task {
        self.on_begin = Some(f);
        self
    }

    /// When the task put its first request on the wire (`None`: not yet).
    /// A task that has not may be abandoned without Azure knowing of it.
    pub fn begun(&self) -> Option<Instant> {
        self.begun.get().copied()
    }

    fn clear_sticky(&self) {
        let old = self
            .sticky
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(p) = old {
            self.activity.change(p, false);
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // The last clone of a task ends its sticky phase.
        if Arc::strong_count(&self.sticky) == 1 {
            self.clear_sticky();
        }
    }
}

tokio::task_local! {
    static TASK: Task;
}

/// Runs `future` as `task`: what the client does inside it is counted there.
pub async fn scope<F: Future>(task: Task, future: F) -> F::Output {
    TASK.scope(task, future).await
}

/// The priority of the current task's class (0 outside any task).
#[cfg(test)]
pub fn priority() -> i64 {
    TASK.try_with(|t| t.class.priority()).unwrap_or(0)
}

/// The current task's class, if it runs as a task.
pub fn class() -> Option<Arc<Class>> {
    TASK.try_with(|t| t.class.clone()).ok()
}

/// Raises the current task's class priority (a request of it started a
/// long-running operation: the next ones of the class should go first).
pub fn raise(priority: i64) {
    let _ = TASK.try_with(|t| t.class.raise(priority));
}

/// The current task enters `phase` until the guard is dropped; a sticky phase
/// set by `mark` ends here. Entering `Reading` or `Writing` means a request
/// goes on the wire: the task has begun.
pub fn enter(phase: Phase) -> Guard {
    let activity = TASK
        .try_with(|t| {
            t.clear_sticky();
            if matches!(phase, Phase::Reading | Phase::Writing)
                && t.begun.set(Instant::now()).is_ok()
            {
                if let Some(f) = &t.on_begin {
                    f();
                }
            }
            t.activity.clone()
        })
        .ok();
    if let Some(a) = &activity {
        a.change(phase, true);
    }
    Guard { activity, phase }
}

/// The current task is in `phase` until it enters another one (a wait the
/// client does not see, such as a propagation gate's pause).
pub fn mark(phase: Phase) {
    let _ = TASK.try_with(|t| {
        t.clear_sticky();
        t.activity.change(phase, true);
        *t.sticky.lock().unwrap_or_else(PoisonError::into_inner) = Some(phase);
    });
}

/// Leaves its phase when dropped.
#[derive(Debug)]
pub struct Guard {
    activity: Option<Arc<Activity>>,
    phase: Phase,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(a) = &self.activity {
            a.change(self.phase, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{enter, mark, priority, raise, scope, Activity, Class, Phase, Task};

    #[tokio::test]
    async fn phases_are_counted_per_task_and_time_is_charged_while_busy() {
        let activity = Arc::new(Activity::new());
        let class = Arc::new(Class::new(3));
        let task = Task::new(activity.clone(), class.clone());
        scope(task, async {
            assert_eq!(priority(), 3);
            raise(10);
            let g = enter(Phase::Writing);
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(g);
            mark(Phase::Propagation);
            assert_eq!(activity.now(Phase::Propagation), 1);
            // Entering another phase ends the sticky one.
            let _g = enter(Phase::Reading);
            assert_eq!(activity.now(Phase::Propagation), 0);
            assert_eq!(activity.now(Phase::Reading), 1);
        })
        .await;
        assert_eq!(class.priority(), 13);
        // A raise orders classes of one start; it never lifts one past a
        // class that starts higher (a change's reads stay ahead of a refresh's).
        let (refresh, change) = (Class::new(1 << 40), Class::new(super::UNDER_WAY));
        refresh.raise(30_000);
        change.raise(5);
        assert!(change.priority() > refresh.priority());
        let other = Class::new(super::UNDER_WAY);
        other.raise(600);
        assert!(other.priority() > change.priority());
        let spent = activity.spent();
        let writing = spent
            .iter()
            .find(|(p, _)| *p == Phase::Writing)
            .expect("w")
            .1;
        assert!(writing.wall >= Duration::from_millis(20), "{writing:?}");
        assert_eq!(writing.now, 0);
        assert!(spent.iter().all(|(_, s)| s.now == 0), "{spent:?}");
        // Outside a task nothing is recorded.
        let _g = enter(Phase::Reading);
        assert_eq!(priority(), 0);
        assert_eq!(activity.now(Phase::Reading), 0);
    }

    #[tokio::test]
    async fn a_sticky_phase_ends_with_its_task() {
        let activity = Arc::new(Activity::new());
        let task = Task::new(activity.clone(), Arc::new(Class::default()));
        scope(task, async { mark(Phase::Propagation) }).await;
        assert_eq!(activity.now(Phase::Propagation), 0);
    }
}
