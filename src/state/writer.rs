//! The state during a run: kept in memory, and written by a background thread
//! after every change. Each change marks the state dirty; the thread writes the
//! newest version (atomically, through the lock), at most once per
//! `WRITE_INTERVAL`, so a burst of finished changes costs one write, not one
//! each, a run of thousands of changes does not spend its CPU copying and
//! serialising the whole state again and again, and the run never waits on the
//! disk. `flush` writes at once and waits until everything is written.
//! A change finished just before a crash and not yet written is adopted by the
//! next run (by its deterministic id or its role-assignment tuple). It writes
//! through any backend's `HeldLock`; it does not decide what a lost lock
//! means for the run (`check_lock` tells, the caller decides).

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::state::backend::HeldLock;
use crate::state::{State, StateError};

struct Inner {
    state: State,
    /// Bumped by every update.
    generation: u64,
    /// The generation last written.
    written: u64,
    /// The first write error; the run stops on it.
    error: Option<String>,
    stop: bool,
    /// Someone waits in `flush`: write now, not at the next interval.
    flushing: usize,
}

/// The shortest time between two writes of a run (a change finished since the
/// last write and lost in a crash is adopted by the next run, by its
/// deterministic id or its role-assignment tuple).
const WRITE_INTERVAL: Duration = Duration::from_millis(250);

/// The state of a run and its writer thread.
pub struct StateWriter {
    shared: Arc<(Mutex<Inner>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Shared with the thread; released when both are done with it.
    lock: Arc<dyn HeldLock>,
}

impl StateWriter {
    /// Starts the writer; the lock moves to its thread and is released when the
    /// writer is dropped (after the last write).
    pub fn new(state: State, lock: impl Into<Box<dyn HeldLock>>) -> StateWriter {
        let lock: Arc<dyn HeldLock> = Arc::from(lock.into());
        let shared = Arc::new((
            Mutex::new(Inner {
                state,
                generation: 0,
                written: 0,
                error: None,
                stop: false,
                flushing: 0,
            }),
            Condvar::new(),
        ));
        let for_thread = shared.clone();
        let thread_lock = lock.clone();
        let thread = std::thread::spawn(move || write_loop(&for_thread, &*thread_lock));
        StateWriter {
            shared,
            thread: Mutex::new(Some(thread)),
            lock,
        }
    }

    /// `Ok` while the state lock is still this run's; otherwise what happened
    /// to it (every later write is refused).
    pub fn check_lock(&self) -> Result<(), StateError> {
        self.lock.check()
    }

    /// Applies `edit` and schedules a write. Fails when an earlier write failed.
    pub fn update(&self, edit: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let (mutex, cond) = &*self.shared;
        let mut inner = mutex.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = &inner.error {
            return Err(StateError::Io {
                path: "state".into(),
                source: std::io::Error::other(e.clone()),
            });
        }
        edit(&mut inner.state);
        inner.generation += 1;
        cond.notify_all();
        Ok(())
    }

    /// Waits until every update is on disk.
    pub fn flush(&self) -> Result<(), StateError> {
        let (mutex, cond) = &*self.shared;
        let mut inner = mutex.lock().unwrap_or_else(PoisonError::into_inner);
        inner.flushing += 1;
        cond.notify_all();
        while inner.written < inner.generation && inner.error.is_none() {
            inner = cond.wait(inner).unwrap_or_else(PoisonError::into_inner);
        }
        inner.flushing -= 1;
        match &inner.error {
            Some(e) => Err(StateError::Io {
                path: "state".into(),
                source: std::io::Error::other(e.clone()),
            }),
            None => Ok(()),
        }
    }

    /// A copy of the state now.
    pub fn snapshot(&self) -> State {
        self.shared
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .state
            .clone()
    }
}

fn write_loop(shared: &(Mutex<Inner>, Condvar), lock: &dyn HeldLock) {
    let (mutex, cond) = shared;
    let mut last_write: Option<Instant> = None;
    let mut last_size = 0;
    loop {
        let (next, generation) = {
            let mut inner = mutex.lock().unwrap_or_else(PoisonError::into_inner);
            while inner.written == inner.generation && !inner.stop {
                inner = cond.wait(inner).unwrap_or_else(PoisonError::into_inner);
            }
            // Changes that finish within the interval share one write.
            while let Some(left) = last_write
                .map(|t| WRITE_INTERVAL.saturating_sub(t.elapsed()))
                .filter(|left| !left.is_zero() && inner.flushing == 0 && !inner.stop)
            {
                inner = cond
                    .wait_timeout(inner, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if inner.written == inner.generation || inner.error.is_some() {
                return;
            }
            // Encoded here, not copied: the bytes are smaller than the state.
            (inner.state.encode_next_sized(last_size), inner.generation)
        };
        last_size = next.bytes.len();
        last_write = Some(Instant::now());
        let result = lock.write_encoded(&next);
        let mut inner = mutex.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(()) => {
                inner.written = generation;
                // The file's serial is the truth: saved plans are checked against it.
                inner.state.stored(&next);
            }
            Err(e) => inner.error = Some(e.to_string()),
        }
        cond.notify_all();
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        {
            let mut inner = self.shared.0.lock().unwrap_or_else(PoisonError::into_inner);
            inner.stop = true;
            self.shared.1.notify_all();
        }
        if let Some(t) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::StateWriter;
    use crate::state::local::LocalStore;
    use crate::state::{LockInfo, ResourceState, State};

    #[test]
    fn every_update_reaches_the_file_and_bursts_coalesce() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path().join("state.json"));
        let lock = store
            .lock(LockInfo::current("test"), Duration::ZERO, false)
            .expect("lock");
        let writer = StateWriter::new(State::new(), lock);
        for i in 0..200 {
            writer
                .update(|s| {
                    s.resources.insert(
                        format!("links.l{i}"),
                        ResourceState {
                            kind: crate::addr::ResourceKind::Link,
                            id: crate::addr::ArmId::new(format!("/x/{i}")),
                            existing: false,
                            properties: crate::addr::Properties::new(),
                            outputs: indexmap::IndexMap::new(),
                            dependencies: Vec::new(),
                        },
                    );
                })
                .expect("update");
        }
        writer.flush().expect("flush");
        let serial = writer.snapshot().serial;
        drop(writer);
        let text = std::fs::read_to_string(dir.path().join("state.json")).expect("state file");
        let state: State = serde_json::from_str(&text).expect("valid state");
        assert_eq!(state.resources.len(), 200);
        assert_eq!(state.serial, serial);
        assert!(
            state.serial >= 1 && state.serial <= 200,
            "serial {}",
            state.serial
        );
        // The lock went with the writer.
        let again = store.lock(LockInfo::current("test"), Duration::ZERO, false);
        assert!(again.is_ok());
    }
}
