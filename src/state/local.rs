//! The local state backend: a JSON file (default `.synlink/state.json` beside
//! the spec) written atomically (temp file, fsync, rename, mode 0600), guarded
//! by a lock file that names its holder. It owns the file formats on disk and
//! the locking protocol; it does not decide what goes into a `State`, and it
//! never prints (errors are `StateError`s for `render`).
//!
//! The lock is `<state path>.lock`, created exclusively (`O_EXCL`) and holding
//! the `LockInfo` as JSON. Its holder also keeps an advisory `flock` on that
//! file for as long as it holds it, which the kernel drops when the process
//! dies. A lock is judged stale by its contents (same host and no
//! `/proc/<pid>`, or unreadable and a few seconds old), and it is only ever
//! removed by someone holding the `flock` on that very file who has checked
//! that the lock path still names it. So a live holder is never replaced, and
//! two processes taking over the same stale lock cannot both win: the removal
//! is serialised by the `flock` and the new lock is again an exclusive create.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::state::backend::{HeldLock, LockStatus, Snapshot, StateBackend};
use crate::state::{Encoded, LockInfo, State, StateError};

/// How often a waiting `lock` looks again.
const POLL: Duration = Duration::from_millis(100);
/// An unreadable (usually empty) lock file older than this was left by a
/// process that stopped between creating and writing it. Taking a lock takes
/// microseconds, so a few seconds is generous.
const UNREADABLE_LOCK_STALE_AFTER: Duration = Duration::from_secs(5);
/// How many times `lock` retries at once (without sleeping) after the lock
/// file vanished under it or it removed a stale one.
const IMMEDIATE_RETRIES: u32 = 8;
/// The state, its temp files and the lock hold resource ids: owner only.
const FILE_MODE: u32 = 0o600;
/// Directories this backend creates.
const DIR_MODE: u32 = 0o700;

/// A state kept in a local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStore {
    path: PathBuf,
}

impl LocalStore {
    /// The store whose state file is `path` (e.g. `.synlink/state.json`).
    pub fn new(path: impl Into<PathBuf>) -> LocalStore {
        LocalStore { path: path.into() }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file: `<state path>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        lock_path(&self.path)
    }

    /// Takes the lock, waiting up to `timeout` (polling ~100 ms), naming `holder`.
    ///
    /// A lock whose holder process is gone (same host, `/proc/<pid>` missing),
    /// or a lock file that is unreadable and older than a few seconds, is
    /// stale: it is reported (`StaleLock`, `UnreadableLock`) unless
    /// `take_over_stale`, in which case it is replaced (never two winners).
    /// On timeout: `Locked` naming the holder (or `UnreadableLock` if the lock
    /// file names none). Creates the state's directory (0700) if needed.
    pub fn lock(
        &self,
        holder: LockInfo,
        timeout: Duration,
        take_over_stale: bool,
    ) -> Result<StateLock, StateError> {
        let lock_path = self.lock_path();
        create_private_dir(parent_dir(&self.path))?;
        let host = this_host();
        let contents = lock_contents(&holder);
        let start = Instant::now();
        let mut last_seen: Option<Holder> = None;
        let mut immediate_retries = 0;
        loop {
            if let Some((file, identity)) = try_create(&lock_path, &contents)? {
                let lock = StateLock {
                    state_path: self.path.clone(),
                    lock_path,
                    holder,
                    file: Some(file),
                    identity,
                };
                // Under the lock no one else writes, so a temp file now is
                // what a crashed writer left behind.
                remove_leftover_temps(&self.path);
                return Ok(lock);
            }
            let retry_now = match inspect(&lock_path, &host)? {
                Seen::Gone => true,
                Seen::Live(seen) => {
                    last_seen = Some(seen);
                    false
                }
                Seen::Stale(seen, guard) => {
                    if !take_over_stale {
                        return Err(seen.stale_error(lock_path));
                    }
                    // We hold the flock on the stale file and it is still the
                    // one the lock path names: removing it is safe. The next
                    // exclusive create decides who owns the lock.
                    match fs::remove_file(&lock_path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_error(&lock_path, e)),
                    }
                    drop(guard);
                    true
                }
            };
            if retry_now && immediate_retries < IMMEDIATE_RETRIES {
                immediate_retries += 1;
                continue;
            }
            immediate_retries = 0;
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(match last_seen {
                    Some(seen) => seen.timeout_error(lock_path, waited),
                    // A lock file that kept appearing and vanishing: never wait past the timeout.
                    None => StateError::OddLock {
                        path: lock_path,
                        what: format!(
                            "a file that kept appearing and vanishing for {}s",
                            waited.as_secs()
                        ),
                    },
                });
            }
            thread::sleep(
                POLL.min(timeout.saturating_sub(waited))
                    .max(Duration::from_millis(1)),
            );
        }
    }
}

/// The held state lock; released (the lock file removed, only if it is still
/// ours) on drop or by `release`.
#[derive(Debug)]
pub struct StateLock {
    state_path: PathBuf,
    lock_path: PathBuf,
    holder: LockInfo,
    /// Our lock file, `flock`ed for as long as we hold it. `None` once released.
    file: Option<File>,
    /// Its device and inode: "still ours" means the lock path names them.
    identity: FileId,
}

impl StateLock {
    /// Who holds it (this process).
    pub fn holder(&self) -> &LockInfo {
        &self.holder
    }

    /// The state file it guards.
    pub fn path(&self) -> &Path {
        &self.state_path
    }

    /// Reads the state. A missing file is a new, empty `State` (not written
    /// until the first `write`). Invalid JSON or a shape that is not a state is
    /// `Corrupt` (with line and column); a format version newer than this
    /// synlink's is `TooNew`.
    pub fn read(&self) -> Result<State, StateError> {
        match fs::read(&self.state_path) {
            Ok(bytes) => crate::state::decode(&self.state_path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::new()),
            Err(e) => Err(io_error(&self.state_path, e)),
        }
    }

    /// Writes `state` atomically after incrementing its `serial` and setting
    /// its `version` and `synlink_version`: a temp file (mode 0600) in the same
    /// directory, fsync, rename over the state file, fsync the directory.
    /// Readers see the old file or the new one, never a part. If the write
    /// fails before the rename, `state` is left as it was.
    ///
    /// Refuses (`LockLost`) if the lock file is no longer ours.
    pub fn write(&self, state: &mut State) -> Result<(), StateError> {
        HeldLock::write(self, state)
    }

    /// Stores an encoded next version of the state, as `write` does.
    pub fn write_encoded(&self, next: &Encoded) -> Result<(), StateError> {
        HeldLock::check(self)?;
        let dir = parent_dir(&self.state_path);
        create_private_dir(dir).and_then(|()| replace_file(&self.state_path, &next.bytes))?;
        // The new file is in place; this makes the rename itself durable.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(dir, e))
    }

    /// Releases the lock now, reporting a failure to remove the lock file
    /// (which `Drop` cannot).
    pub fn release(mut self) -> Result<(), StateError> {
        self.unlock()
    }

    fn is_still_ours(&self) -> bool {
        self.file.is_some()
            && fs::symlink_metadata(&self.lock_path).is_ok_and(|m| identity(&m) == self.identity)
    }

    fn unlock(&mut self) -> Result<(), StateError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        // Removed while we still hold the flock, so no one is mid-takeover.
        let result =
            if fs::symlink_metadata(&self.lock_path).is_ok_and(|m| identity(&m) == self.identity) {
                match fs::remove_file(&self.lock_path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_error(&self.lock_path, e)),
                }
            } else {
                Ok(())
            };
        drop(file);
        result
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Nothing to report to: a lock file left behind is reported as stale
        // by the next run, naming this process.
        let _ = self.unlock();
    }
}

impl StateBackend for LocalStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// A lock left by a process of this host that is gone is taken over.
    fn lock(&self, holder: LockInfo, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError> {
        Ok(Box::new(LocalStore::lock(self, holder, timeout, true)?))
    }

    fn peek(&self) -> Result<Option<State>, StateError> {
        match fs::read(&self.path) {
            Ok(bytes) => crate::state::decode(&self.path, &bytes).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&self.path, e)),
        }
    }

    /// As the lock file says (its holder may be gone: the next `lock` takes
    /// such a lock over).
    fn holder(&self) -> Result<LockStatus, StateError> {
        let lock_path = self.lock_path();
        match fs::read(&lock_path) {
            Ok(bytes) => match Holder::parse(&bytes, Duration::ZERO) {
                Holder::Known(info) => Ok(LockStatus::Held(info)),
                Holder::Unreadable { .. } => Ok(LockStatus::HeldByUnknown),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LockStatus::Free),
            Err(e) => Err(io_error(&lock_path, e)),
        }
    }

    fn force_unlock(&self) -> Result<LockStatus, StateError> {
        Err(StateError::Unsupported {
            backend: "local",
            operation: "unlock",
            why: "a lock left by a process that is gone is taken over by the next run, and a running holder's lock is not broken (stop that run instead)",
        })
    }

    fn history(&self) -> Result<Vec<Snapshot>, StateError> {
        Err(StateError::Unsupported {
            backend: "local",
            operation: "history",
            why: "the state file keeps no earlier versions (keep it in version control, or use the azure_blob backend)",
        })
    }
}

impl From<StateLock> for Box<dyn HeldLock> {
    fn from(lock: StateLock) -> Box<dyn HeldLock> {
        Box::new(lock)
    }
}

impl HeldLock for StateLock {
    fn holder(&self) -> &LockInfo {
        StateLock::holder(self)
    }

    fn describe(&self) -> String {
        self.state_path.display().to_string()
    }

    fn read(&self) -> Result<State, StateError> {
        StateLock::read(self)
    }

    fn write_encoded(&self, next: &Encoded) -> Result<(), StateError> {
        StateLock::write_encoded(self, next)
    }

    fn check(&self) -> Result<(), StateError> {
        if self.is_still_ours() {
            Ok(())
        } else {
            Err(StateError::LockLost {
                path: self.lock_path.clone(),
            })
        }
    }

    fn restore(&self, _id: &str) -> Result<State, StateError> {
        Err(StateError::Unsupported {
            backend: "local",
            operation: "restore",
            why: "the state file keeps no earlier versions to restore",
        })
    }
}

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq)]
enum Holder {
    Known(LockInfo),
    /// Empty or not a `LockInfo`: its creator has not written it yet, or
    /// stopped before it did.
    Unreadable {
        reason: String,
        age: Duration,
    },
}

impl Holder {
    fn parse(bytes: &[u8], age: Duration) -> Holder {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Holder::Unreadable {
                reason: "the file is empty".to_owned(),
                age,
            };
        }
        match serde_json::from_slice::<LockInfo>(bytes) {
            Ok(info) => Holder::Known(info),
            Err(e) => Holder::Unreadable {
                reason: e.to_string(),
                age,
            },
        }
    }

    /// Whether its contents say it was left by a process that is gone. A lock
    /// from another host is never judged: we cannot see its processes.
    fn looks_stale(&self, this_host: &str, alive: impl Fn(u32) -> bool) -> bool {
        match self {
            Holder::Known(info) => info.host == this_host && !alive(info.pid),
            Holder::Unreadable { age, .. } => *age >= UNREADABLE_LOCK_STALE_AFTER,
        }
    }

    fn stale_error(self, path: PathBuf) -> StateError {
        match self {
            Holder::Known(holder) => StateError::StaleLock { path, holder },
            Holder::Unreadable { reason, age } => StateError::UnreadableLock {
                path,
                reason,
                age_secs: age.as_secs(),
            },
        }
    }

    fn timeout_error(self, path: PathBuf, waited: Duration) -> StateError {
        match self {
            Holder::Known(holder) => StateError::Locked {
                holder,
                waited_secs: waited.as_secs(),
            },
            Holder::Unreadable { reason, age } => StateError::UnreadableLock {
                path,
                reason,
                age_secs: age.as_secs(),
            },
        }
    }
}

/// What `lock` found at the lock path after failing to create it.
enum Seen {
    /// It vanished in between.
    Gone,
    /// Held by a live process, or by one we cannot judge.
    Live(Holder),
    /// Stale; the file holds the `flock` on it, and the lock path still named
    /// it once that was held.
    Stale(Holder, File),
}

/// Creates the lock file exclusively, `flock`s it, writes `contents`. `None`
/// if someone else holds the lock (or took it over while we stalled).
fn try_create(lock_path: &Path, contents: &[u8]) -> Result<Option<(File, FileId)>, StateError> {
    let err = |e| io_error(lock_path, e);
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(lock_path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    // Blocks only while someone judging a stale lock holds it, which takes
    // microseconds, unless we stalled long enough for our empty file to look
    // stale; then it was taken over and the identity check below says so. A
    // file system without `flock` only loses the takeover guard, not the lock.
    let _ = file.lock();
    let identity = identity(&file.metadata().map_err(err)?);
    if !fs::symlink_metadata(lock_path).is_ok_and(|m| self::identity(&m) == identity) {
        return Ok(None);
    }
    if let Err(e) = file.write_all(contents).and_then(|()| file.sync_all()) {
        // Leave no unreadable lock behind.
        let _ = fs::remove_file(lock_path);
        return Err(err(e));
    }
    Ok(Some((file, identity)))
}

/// Looks at a lock held by someone else.
fn inspect(lock_path: &Path, this_host: &str) -> Result<Seen, StateError> {
    let err = |e| io_error(lock_path, e);
    // Only a regular file is a lock: anything else (a symbolic link, dangling
    // or not, a directory) was put there by something other than synlink, and
    // waiting for it to go away would wait forever.
    match fs::symlink_metadata(lock_path) {
        Ok(m) if !m.file_type().is_file() => {
            let what = if m.file_type().is_symlink() {
                match fs::read_link(lock_path) {
                    Ok(target) => format!("a symbolic link to {}", target.display()),
                    Err(_) => "a symbolic link".to_owned(),
                }
            } else if m.is_dir() {
                "a directory".to_owned()
            } else {
                "not a regular file".to_owned()
            };
            return Err(StateError::OddLock {
                path: lock_path.to_owned(),
                what,
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Seen::Gone),
        Err(e) => return Err(err(e)),
    }
    let mut file = match File::open(lock_path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Seen::Gone),
        Err(e) => return Err(err(e)),
    };
    let holder = read_holder(&mut file).map_err(err)?;
    if !holder.looks_stale(this_host, process_alive) {
        return Ok(Seen::Live(holder));
    }
    // A live holder keeps the flock (its pid is from another pid namespace),
    // or someone else is judging the same file right now. An error other than
    // that means no `flock` on this file system: judge by the contents alone.
    if let Err(TryLockError::WouldBlock) = file.try_lock() {
        return Ok(Seen::Live(holder));
    }
    if !fs::symlink_metadata(lock_path)
        .is_ok_and(|m| file.metadata().is_ok_and(|f| identity(&m) == identity(&f)))
    {
        return Ok(Seen::Gone);
    }
    // Judge again what the file says now that no one can change it.
    let holder = read_holder(&mut file).map_err(err)?;
    if holder.looks_stale(this_host, process_alive) {
        Ok(Seen::Stale(holder, file))
    } else {
        Ok(Seen::Live(holder))
    }
}

fn read_holder(file: &mut File) -> io::Result<Holder> {
    file.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let modified = file.metadata()?.modified()?;
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    Ok(Holder::parse(&bytes, age))
}

/// Whether process `pid` of this host still runs. Without `/proc` we cannot
/// tell, and say yes: a wrong "alive" costs a wait, a wrong "dead" a takeover.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    match fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        Ok(stat) => !matches!(process_state(&stat), Some('Z' | 'X')),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(_) => proc.join(pid.to_string()).exists(),
    }
}

/// The state letter of a `/proc/<pid>/stat` line (`R`, `S`, `Z`, ...). The
/// command name in parentheses may itself hold spaces and parentheses.
fn process_state(stat: &str) -> Option<char> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.trim_start().chars().next()
}

fn this_host() -> String {
    LockInfo::current("").host
}

fn lock_contents(holder: &LockInfo) -> Vec<u8> {
    pretty_json(holder)
}

/// Pretty JSON with a trailing newline.
fn pretty_json(value: &impl serde::Serialize) -> Vec<u8> {
    let mut bytes =
        serde_json::to_vec_pretty(value).expect("states and lock infos always serialise");
    bytes.push(b'\n');
    bytes
}

/// Writes `bytes` to a new temp file beside `path`, syncs it and renames it
/// over `path`. On failure the temp file is removed and `path` is untouched.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let temp = temp_path(path);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(|e| io_error(&temp, e))
        .and_then(|()| fs::rename(&temp, path).map_err(|e| io_error(path, e)));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// `<dir>/.<name>.<uuid>.tmp`: hidden, unique per write, recognisable.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
    parent_dir(path).join(name)
}

/// Whether `candidate` is a name `temp_path(path)` makes.
fn is_temp_of(path: &Path, candidate: &str) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    candidate
        .strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Best effort: a leftover is harmless, only untidy.
fn remove_leftover_temps(path: &Path) {
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| is_temp_of(path, name))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn create_private_dir(dir: &Path) -> Result<(), StateError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io_error(dir, e))
}

/// A file's device and inode: what a path names at a given moment.
type FileId = (u64, u64);

fn identity(meta: &Metadata) -> FileId {
    (meta.dev(), meta.ino())
}

fn io_error(path: &Path, source: io::Error) -> StateError {
    StateError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pid: u32, host: &str) -> LockInfo {
        LockInfo {
            pid,
            host: host.to_owned(),
            time: "2026-01-01T00:00:00Z".to_owned(),
            command: "synlink apply".to_owned(),
            details: Box::new(crate::state::HolderDetails {
                user: "someone".to_owned(),
                synlink_version: "0.1.0".to_owned(),
            }),
        }
    }

    #[test]
    fn lock_path_appends_lock_to_the_state_file_name() {
        assert_eq!(
            lock_path(Path::new(".synlink/state.json")),
            Path::new(".synlink/state.json.lock")
        );
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("state.json")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/state.json")), Path::new("a"));
    }

    #[test]
    fn temp_names_are_recognised_and_nothing_else_is() {
        let path = Path::new("dir/state.json");
        let temp = temp_path(path);
        assert_eq!(temp.parent(), Some(Path::new("dir")));
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert!(is_temp_of(path, name), "{name}");
        for other in [
            "state.json",
            "state.json.lock",
            ".state.json.tmp",
            ".other.json.0123456789abcdef0123456789abcdef.tmp",
            ".state.json.0123456789abcdef0123456789abcdeg.tmp",
        ] {
            assert!(!is_temp_of(path, other), "{other}");
        }
    }

    #[test]
    fn process_state_reads_past_a_command_name_with_parentheses() {
        assert_eq!(process_state("42 (a) b) Z 1 2 3"), Some('Z'));
        assert_eq!(process_state("42 (synlink) S 1 2 3"), Some('S'));
        assert_eq!(process_state("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        assert!(process_alive(std::process::id()));
        // Above `PID_MAX_LIMIT` (2^22).
        assert!(!process_alive(4_194_305));
    }

    #[test]
    fn a_lock_is_stale_only_on_this_host_with_its_process_gone() {
        let dead = |_| false;
        let alive = |_| true;
        let here = Holder::Known(info(7, "here"));
        assert!(here.looks_stale("here", dead));
        assert!(!here.looks_stale("here", alive));
        assert!(!Holder::Known(info(7, "elsewhere")).looks_stale("here", dead));
    }

    #[test]
    fn an_unreadable_lock_is_stale_after_a_few_seconds() {
        let young = Holder::parse(b"", Duration::from_millis(10));
        assert!(
            matches!(&young, Holder::Unreadable { reason, .. } if reason == "the file is empty")
        );
        assert!(!young.looks_stale("here", |_| true));
        let old = Holder::parse(b"{\"pid\": 1", UNREADABLE_LOCK_STALE_AFTER);
        assert!(matches!(&old, Holder::Unreadable { reason, .. } if reason.contains("line 1")));
        assert!(old.looks_stale("here", |_| true));
    }

    #[test]
    fn lock_contents_round_trip_as_pretty_json_with_a_newline() {
        let holder = info(7, "here");
        let bytes = lock_contents(&holder);
        assert!(bytes.ends_with(b"}\n"));
        assert!(bytes.windows(2).any(|w| w == b"\n "), "pretty");
        assert_eq!(Holder::parse(&bytes, Duration::ZERO), Holder::Known(holder));
    }

    #[test]
    fn decode_reports_syntax_errors_with_their_position() {
        let err = crate::state::decode(Path::new("s.json"), b"{\n  \"version\": 1,\n  oops\n}")
            .unwrap_err();
        let StateError::Corrupt { reason, .. } = err else {
            panic!("{err:?}");
        };
        assert!(reason.contains("line 3 column 3"), "{reason}");
    }

    #[test]
    fn decode_checks_the_version_before_the_shape() {
        let err = crate::state::decode(Path::new("s.json"), br#"{"version": 99, "new": []}"#)
            .unwrap_err();
        assert!(
            matches!(err, StateError::TooNew { found: 99, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn decode_refuses_a_state_without_a_version() {
        let err = crate::state::decode(Path::new("s.json"), b"{}").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn decode_reads_what_pretty_json_writes() {
        let state = State::new();
        let decoded = crate::state::decode(Path::new("s.json"), &pretty_json(&state)).unwrap();
        assert_eq!(decoded, state);
    }
}
