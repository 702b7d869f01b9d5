//! The local state backend: atomic writes, the lock that names its holder,
//! stale locks and what a damaged state file reports.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;
use synlink::addr::{ArmId, ResourceKind};
use synlink::state::local::LocalStore;
use synlink::state::{LockInfo, ResourceState, State, StateError, STATE_FORMAT_VERSION};

fn store(dir: &tempfile::TempDir) -> LocalStore {
    LocalStore::new(dir.path().join(".synlink/state.json"))
}

fn me() -> LockInfo {
    LockInfo::current("synlink apply")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn resource(n: usize) -> ResourceState {
    ResourceState {
        kind: ResourceKind::Link,
        id: ArmId::new(format!(
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml/linkedServices/link{n}"
        )),
        existing: false,
        properties: IndexMap::from([("name".to_owned(), serde_json::json!(format!("link{n}")))]),
        outputs: IndexMap::from([(
            "principal_id".to_owned(),
            serde_json::json!(format!("{n:08}-0000-0000-0000-000000000000")),
        )]),
        dependencies: Vec::new(),
    }
}

/// A state with `n` resources, so that writes differ in length.
fn state_with(n: usize) -> State {
    let mut state = State::new();
    for i in 0..n {
        state.resources.insert(format!("links.l{i}"), resource(i));
    }
    state
}

/// Writes a lock file as if left by `holder`, without its flock.
fn plant_lock(store: &LocalStore, holder: &LockInfo) {
    fs::create_dir_all(store.path().parent().unwrap()).unwrap();
    fs::write(
        store.lock_path(),
        serde_json::to_string_pretty(holder).unwrap(),
    )
    .unwrap();
}

fn dead_holder() -> LockInfo {
    LockInfo {
        // Above Linux's `PID_MAX_LIMIT` (2^22): no process can have it.
        pid: 4_194_305,
        ..LockInfo::current("synlink apply --crashed")
    }
}

#[test]
fn a_missing_state_reads_as_new_and_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let state = lock.read().unwrap();
    assert_eq!(state.serial, 0);
    assert_eq!(state.version, STATE_FORMAT_VERSION);
    assert!(state.resources.is_empty());
    assert!(!store.path().exists());
}

#[test]
fn a_written_state_reads_back_equal_as_pretty_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let mut state = state_with(3);
    lock.write(&mut state).unwrap();
    assert_eq!(lock.read().unwrap(), state);
    let text = fs::read_to_string(store.path()).unwrap();
    assert!(text.ends_with("}\n"), "{text}");
    assert!(
        text.starts_with("{\n  \"version\": 1,\n  \"lineage\": "),
        "{text}"
    );
    // Stable order: resources as inserted.
    let l0 = text.find("\"links.l0\"").unwrap();
    let l2 = text.find("\"links.l2\"").unwrap();
    assert!(l0 < l2);
}

#[test]
fn every_write_increments_the_serial_and_keeps_the_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let mut state = lock.read().unwrap();
    let lineage = state.lineage.clone();
    for expected in 1..=3 {
        state.synlink_version = "0.0.0-old".to_owned();
        lock.write(&mut state).unwrap();
        assert_eq!(state.serial, expected);
        assert_eq!(state.synlink_version, env!("CARGO_PKG_VERSION"));
        let read = lock.read().unwrap();
        assert_eq!(read.serial, expected);
        assert_eq!(read.lineage, lineage);
    }
}

#[test]
fn the_state_and_the_lock_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    assert_eq!(mode(&store.lock_path()), 0o600);
    assert_eq!(mode(store.path().parent().unwrap()), 0o700);
    lock.write(&mut State::new()).unwrap();
    assert_eq!(mode(store.path()), 0o600);
    // A rewrite replaces the file: still private.
    lock.write(&mut State::new()).unwrap();
    assert_eq!(mode(store.path()), 0o600);
}

#[test]
fn the_lock_file_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let holder = me();
    let lock = store.lock(holder.clone(), Duration::ZERO, false).unwrap();
    assert_eq!(lock.holder(), &holder);
    let text = fs::read_to_string(store.lock_path()).unwrap();
    assert_eq!(
        store.lock_path(),
        dir.path().join(".synlink/state.json.lock")
    );
    assert_eq!(serde_json::from_str::<LockInfo>(&text).unwrap(), holder);
}

#[test]
fn a_second_lock_waits_for_the_timeout_then_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let holder = me();
    let _lock = store.lock(holder.clone(), Duration::ZERO, false).unwrap();
    let timeout = Duration::from_millis(400);
    let (result, waited) = thread::scope(|s| {
        s.spawn(|| {
            let start = Instant::now();
            let result = store.lock(LockInfo::current("synlink plan"), timeout, false);
            (result, start.elapsed())
        })
        .join()
        .unwrap()
    });
    let err = result.unwrap_err();
    let StateError::Locked { holder: named, .. } = &err else {
        panic!("expected Locked, got {err:?}");
    };
    assert_eq!(named, &holder);
    assert!(waited >= timeout, "gave up after {waited:?}");
    let message = err.to_string();
    for part in [
        holder.command.as_str(),
        &holder.pid.to_string(),
        &holder.host,
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn a_lock_released_on_drop_can_be_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    drop(store.lock(me(), Duration::ZERO, false).unwrap());
    assert!(!store.lock_path().exists());
    let again = store.lock(me(), Duration::ZERO, false).unwrap();
    again.release().unwrap();
    assert!(!store.lock_path().exists());
}

#[test]
fn a_waiting_lock_is_granted_when_the_holder_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let first = store.lock(me(), Duration::ZERO, false).unwrap();
    thread::scope(|s| {
        let waiter = s.spawn(|| store.lock(me(), Duration::from_secs(10), false));
        thread::sleep(Duration::from_millis(250));
        drop(first);
        waiter.join().unwrap().expect("granted after the release");
    });
}

#[test]
fn a_lock_left_by_a_dead_process_is_reported_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let dead = dead_holder();
    plant_lock(&store, &dead);
    let before = fs::read(store.lock_path()).unwrap();
    let err = store
        .lock(me(), Duration::from_secs(10), false)
        .unwrap_err();
    let StateError::StaleLock { path, holder } = &err else {
        panic!("expected StaleLock, got {err:?}");
    };
    assert_eq!(path, &store.lock_path());
    assert_eq!(holder, &dead);
    assert!(err.to_string().contains("pid 4194305"), "{err}");
    assert_eq!(
        fs::read(store.lock_path()).unwrap(),
        before,
        "left as it was"
    );
}

#[test]
fn a_stale_lock_is_taken_over_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    plant_lock(&store, &dead_holder());
    let holder = me();
    let lock = store.lock(holder.clone(), Duration::ZERO, true).unwrap();
    let text = fs::read_to_string(store.lock_path()).unwrap();
    assert_eq!(serde_json::from_str::<LockInfo>(&text).unwrap(), holder);
    assert_eq!(mode(&store.lock_path()), 0o600);
    lock.write(&mut State::new()).unwrap();
}

#[test]
fn a_lock_from_another_host_is_never_judged_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let remote = LockInfo {
        host: "some-other-host.invalid".to_owned(),
        ..dead_holder()
    };
    plant_lock(&store, &remote);
    let err = store
        .lock(me(), Duration::from_millis(150), true)
        .unwrap_err();
    assert!(
        matches!(&err, StateError::Locked { holder, .. } if holder == &remote),
        "{err:?}"
    );
}

#[test]
fn a_live_holder_is_not_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let _lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let err = store
        .lock(me(), Duration::from_millis(150), true)
        .unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
}

#[test]
fn an_empty_lock_file_is_waited_on_while_young_and_stale_when_old() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    fs::create_dir_all(store.path().parent().unwrap()).unwrap();
    let file = fs::File::create(store.lock_path()).unwrap();
    // Young: someone may be writing it right now.
    let err = store
        .lock(me(), Duration::from_millis(150), true)
        .unwrap_err();
    assert!(
        matches!(&err, StateError::UnreadableLock { reason, .. } if reason.contains("empty")),
        "{err:?}"
    );
    // Old: a crash between create and write.
    file.set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let err = store.lock(me(), Duration::ZERO, false).unwrap_err();
    assert!(
        matches!(&err, StateError::UnreadableLock { age_secs, .. } if *age_secs >= 59),
        "{err:?}"
    );
    store.lock(me(), Duration::ZERO, true).expect("taken over");
}

#[test]
fn a_stale_lock_taken_over_by_many_at_once_has_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let contenders = 8;
    for round in 0..20 {
        plant_lock(&store, &dead_holder());
        let start = Barrier::new(contenders);
        let done = Barrier::new(contenders);
        let winners = thread::scope(|s| {
            let handles: Vec<_> = (0..contenders)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let result = store.lock(me(), Duration::from_millis(50), true);
                        // Hold the winning lock until everyone has tried.
                        done.wait();
                        result.is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|won| *won)
                .count()
        });
        assert_eq!(winners, 1, "round {round}");
        assert!(!store.lock_path().exists(), "round {round}: released");
    }
}

#[test]
fn a_corrupt_state_is_reported_with_its_position_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let damaged = b"{\n  \"version\": 1,\n  \"lineage\": \"x\",\n  \"serial\": 3,\n  \"synl";
    fs::write(store.path(), damaged).unwrap();
    let err = lock.read().unwrap_err();
    let StateError::Corrupt { path, reason } = &err else {
        panic!("expected Corrupt, got {err:?}");
    };
    assert_eq!(path, store.path());
    assert!(reason.contains("line 5 column"), "{reason}");
    assert_eq!(fs::read(store.path()).unwrap(), damaged);
}

#[test]
fn a_state_of_the_wrong_shape_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    fs::write(store.path(), "{\"version\": 1, \"serial\": \"three\"}\n").unwrap();
    let err = lock.read().unwrap_err();
    assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_state_from_a_newer_synlink_is_too_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    let text = "{\n  \"version\": 99,\n  \"whatever\": {\"changed\": true}\n}\n";
    fs::write(store.path(), text).unwrap();
    let err = lock.read().unwrap_err();
    assert!(
        matches!(err, StateError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap(), text);
}

#[test]
fn a_temp_file_left_by_a_crashed_write_does_not_break_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let state_dir = store.path().parent().unwrap().to_owned();
    let mut state = state_with(2);
    {
        let lock = store.lock(me(), Duration::ZERO, false).unwrap();
        lock.write(&mut state).unwrap();
    }
    // What a crash between create and rename leaves: a partial temp file.
    let leftover = state_dir.join(".state.json.0123456789abcdef0123456789abcdef.tmp");
    fs::write(&leftover, "{\n  \"version\": 1,\n  \"lin").unwrap();
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    assert_eq!(lock.read().unwrap(), state);
    assert!(!leftover.exists(), "tidied up under the lock");
    lock.write(&mut state).unwrap();
    let mut names: Vec<_> = fs::read_dir(&state_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["state.json", "state.json.lock"]);
}

#[test]
fn concurrent_writes_never_leave_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    lock.write(&mut state_with(1)).unwrap();
    let writing = AtomicBool::new(true);
    let reads = thread::scope(|s| {
        let writers: Vec<_> = (0..4_usize)
            .map(|w| {
                let lock = &lock;
                s.spawn(move || {
                    for i in 0..40 {
                        // Sizes differ so a torn file would not parse.
                        lock.write(&mut state_with(1 + (w * 7 + i) % 25)).unwrap();
                    }
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut reads = 0_u32;
            while writing.load(Ordering::Relaxed) {
                let text = fs::read(store.path()).unwrap();
                serde_json::from_slice::<State>(&text).unwrap_or_else(|e| {
                    panic!("torn state: {e}\n{}", String::from_utf8_lossy(&text))
                });
                lock.read().unwrap();
                reads += 1;
            }
            reads
        });
        for writer in writers {
            writer.join().unwrap();
        }
        writing.store(false, Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(reads > 0);
    let leftovers: Vec<_> = fs::read_dir(store.path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_lock_removed_from_under_its_holder_refuses_writes_and_is_not_released_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let lock = store.lock(me(), Duration::ZERO, false).unwrap();
    fs::remove_file(store.lock_path()).unwrap();
    let err = lock.write(&mut State::new()).unwrap_err();
    assert!(matches!(err, StateError::LockLost { .. }), "{err:?}");
    assert!(!store.path().exists());
    // Someone else takes it; dropping the old handle must leave theirs.
    let theirs = store.lock(LockInfo::current("synlink plan"), Duration::ZERO, false);
    let theirs = theirs.unwrap();
    drop(lock);
    assert!(store.lock_path().exists());
    drop(theirs);
    assert!(!store.lock_path().exists());
}
