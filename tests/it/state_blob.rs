//! The Azure Blob state backend against Azurite (npm `azurite`, blob service
//! only), at the library level: the lease as a lock that names its holder and
//! heals itself when the holder dies, a broken lease and a changed blob
//! refusing the next write, a snapshot per run with history and restore,
//! pull, push and migrate, and no SAS in any message.
//!
//! Each test starts its own Azurite (`azurite.rs`).

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use synlink::state::backend::{self, HeldLock, LockStatus, Migrated, StateBackend};
use synlink::state::blob::{
    BlobAuth, BlobConfig, BlobLock, BlobStore, SasToken, TokenSourceCredential, LEASE, SAS_ENV,
};
use synlink::state::local::LocalStore;
use synlink::state::writer::StateWriter;
use synlink::state::{LeaseLoss, LockInfo, ResourceState, State, StateError};

use crate::azurite::{signature, Azurite, ACCOUNT, CONTAINER};

/// Set in the child process of `a_killed_holder_frees_the_lock_within_a_lease`.
const CHILD_ENV: &str = "SYNLINK_TEST_BLOB_HOLDER";

/// A token Azurite's basic OAuth accepts (or, `expired`, refuses): a JWT
/// for the storage audience from an Entra issuer, with a dummy signature.
fn storage_jwt(expired: bool) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (nbf, exp) = if expired {
        (now - 7200, now - 3600)
    } else {
        (now - 60, now + 3600)
    };
    let claims = serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": "https://sts.windows.net/00000000-0000-0000-0000-0000000000aa/",
        "iat": nbf,
        "nbf": nbf,
        "exp": exp,
        "oid": "00000000-0000-0000-0000-0000000000bb",
    });
    let part = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        part(&claims)
    )
}

fn holder(command: &str) -> LockInfo {
    LockInfo::current(command)
}

/// Built from its JSON form, as a state file holds it.
fn resource(n: usize) -> ResourceState {
    serde_json::from_value(serde_json::json!({
        "kind": "link",
        "id": format!("/subscriptions/0000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ml/linkedServices/link{n}"),
    }))
    .expect("a resource state")
}

/// `store`'s lock, taken at once for `command` (it must be free).
fn lock_now(store: &BlobStore, command: &str) -> BlobLock {
    store.lock(holder(command), Duration::ZERO).expect("lock")
}

fn add(state: &mut State, n: usize) {
    state.resources.insert(format!("links.l{n}"), resource(n));
}

fn stored(azurite: &Azurite, key: &str) -> State {
    serde_json::from_slice(&azurite.blob(key)).expect("a state")
}

#[test]
fn a_second_locker_waits_then_names_the_holder_and_gets_the_lock_once_freed() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let store = azurite.store("prod/teams.json");
    let first = store
        .lock(holder("synlink apply (first)"), Duration::ZERO)
        .expect("the first lock");
    let waited = Instant::now();
    let err = StateBackend::lock(
        &store,
        holder("synlink apply (second)"),
        Duration::from_secs(2),
    )
    .err()
    .expect("the second waits and gives up");
    assert!(
        waited.elapsed() >= Duration::from_secs(2),
        "it waited its timeout"
    );
    match &err {
        StateError::Locked {
            holder,
            waited_secs,
        } => {
            assert_eq!(holder, HeldLock::holder(&first));
            assert!(*waited_secs >= 2);
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("synlink apply (first)")
            && text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert_eq!(
        store.holder().expect("holder"),
        LockStatus::Held(HeldLock::holder(&first).clone())
    );
    drop(first);
    assert_eq!(store.holder().expect("holder"), LockStatus::Free);
    let second = store
        .lock(holder("synlink apply (second)"), Duration::from_secs(5))
        .expect("released on drop, so the second gets it");
    assert_eq!(HeldLock::holder(&second).command, "synlink apply (second)");
}

/// Both halves need a whole lease period, so they share one wait: a holder
/// whose renewals go through keeps the lock; one whose service stops
/// answering (Azurite stopped with SIGSTOP) knows it lost it and writes no
/// more.
#[test]
fn renewals_keep_a_live_holders_lock_and_a_holder_cut_off_for_a_lease_loses_it() {
    let (Some(azurite), Some(cut_off)) = (Azurite::start(), Azurite::start()) else {
        return;
    };
    let store = azurite.store("state.json");
    let lock = lock_now(&store, "synlink apply");
    let mut state = lock.read().expect("read");
    add(&mut state, 1);
    lock.write(&mut state).expect("write");

    let lonely = cut_off.store("state.json");
    let stranded = lock_now(&lonely, "synlink apply (cut off)");
    let mut theirs = stranded.read().expect("read");
    stranded.write(&mut theirs).expect("write");
    cut_off.signal("STOP");

    std::thread::sleep(LEASE + Duration::from_secs(10));

    lock.check().expect("still held: the lease was renewed");
    let err = store
        .lock(holder("synlink plan"), Duration::ZERO)
        .expect_err("still held");
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    add(&mut state, 2);
    lock.write(&mut state)
        .expect("a write after a whole lease period");
    assert_eq!(stored(&azurite, "state.json").resources.len(), 2);

    let lost = stranded.check().expect_err("no renewal for a lease period");
    assert!(
        matches!(&lost, StateError::LeaseLost { cause: LeaseLoss::NotRenewed { secs, lease_secs: 60, .. }, .. } if *secs >= 60),
        "{lost:?}"
    );
    let text = lost.to_string();
    assert!(
        text.contains("could not be renewed") && text.contains("renewing the lease"),
        "{text}"
    );
    cut_off.signal("CONT");
    let err = stranded
        .write(&mut theirs)
        .expect_err("no write after that");
    assert_eq!(err.to_string(), text, "every later write says the same");
    assert_eq!(stored(&cut_off, "state.json").serial, 1);
}

/// A child process, killed (SIGKILL) and reaped when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// In the child process (run by the test itself with `CHILD_ENV` set): takes
/// the lock with the SAS from `SYNLINK_STATE_SAS`, writes, and waits to be
/// killed.
fn hold_until_killed(spec: &str) {
    let (account_url, key) = spec.split_once('|').expect("url|key");
    let sas = SasToken::from_env()
        .expect("a valid SAS")
        .expect("SYNLINK_STATE_SAS set");
    let store = BlobStore::new(
        &BlobConfig {
            account_url: account_url.to_owned(),
            container: CONTAINER.to_owned(),
            key: key.to_owned(),
        },
        BlobAuth::Sas(sas),
    )
    .expect("store");
    let lock = store
        .lock(holder("synlink apply (child)"), Duration::from_secs(30))
        .expect("lock");
    let mut state = lock.read().expect("read");
    add(&mut state, 7);
    lock.write(&mut state).expect("write");
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn a_killed_holder_frees_the_lock_within_a_lease() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        hold_until_killed(&spec);
        return;
    }
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let key = "team/state.json";
    let child = KillOnDrop(
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "state_blob::a_killed_holder_frees_the_lock_within_a_lease",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, format!("{}|{key}", azurite.account_url))
            .env(SAS_ENV, &azurite.sas)
            .env("SSL_CERT_FILE", &azurite.ca_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("child"),
    );
    let child_pid = child.0.id();
    let store = azurite.store(key);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let LockStatus::Held(h) = store.holder().expect("holder") {
            // Its first write is done once the state names its resource.
            if h.pid == child_pid && StateBackend::peek(&store).expect("peek").is_some() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the child never took the lock");
        std::thread::sleep(Duration::from_millis(200));
    }
    let err = store
        .lock(holder("synlink apply (parent)"), Duration::from_secs(1))
        .expect_err("the child holds it");
    assert!(
        matches!(&err, StateError::Locked { holder, .. } if holder.pid == child_pid && holder.command == "synlink apply (child)"),
        "{err:?}"
    );
    drop(child); // SIGKILL: no release, no more renewals.
    let killed = Instant::now();
    let lock = store
        .lock(
            holder("synlink apply (parent)"),
            LEASE + Duration::from_secs(15),
        )
        .expect("the dead holder's lease ends by itself within a lease period");
    let _ = writeln!(
        std::io::stderr(),
        "lock taken {:.1}s after its holder was killed (lease {}s)",
        killed.elapsed().as_secs_f64(),
        LEASE.as_secs()
    );
    let mut state = lock.read().expect("read");
    assert!(
        state.resources.contains_key("links.l7"),
        "the child's write is kept"
    );
    add(&mut state, 8);
    lock.write(&mut state).expect("the new holder writes");
    assert_eq!(stored(&azurite, key).serial, 2);
}

#[test]
fn a_broken_lease_refuses_every_later_write_with_the_cause() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let store = azurite.store("state.json");
    let lock = lock_now(&store, "synlink apply");
    let writer = StateWriter::new(lock.read().expect("read"), lock);
    writer.update(|s| add(s, 1)).expect("update");
    writer.flush().expect("the first write");
    writer.check_lock().expect("held");

    let broken = StateBackend::force_unlock(&store).expect("unlock");
    assert!(
        matches!(&broken, LockStatus::Held(h) if h.command == "synlink apply"),
        "unlock names whom it freed: {broken:?}"
    );
    writer.update(|s| add(s, 2)).expect("update");
    let err = writer
        .flush()
        .expect_err("the write after the break is refused");
    let text = err.to_string();
    assert!(text.contains("lease") && text.contains("lost"), "{text}");
    assert!(text.contains("Run again"), "says how to recover: {text}");
    let lost = writer.check_lock().expect_err("the lock knows");
    assert!(
        matches!(
            &lost,
            StateError::LeaseLost {
                cause: LeaseLoss::Broken { .. },
                ..
            }
        ),
        "{lost:?}"
    );
    assert!(
        writer.update(|s| add(s, 3)).is_err(),
        "and refuses later updates"
    );
    drop(writer);

    let state = stored(&azurite, "state.json");
    assert_eq!(state.serial, 1, "nothing written after the break");
    let next = store
        .lock(holder("synlink apply (re-run)"), Duration::ZERO)
        .expect("free after the break");
    assert_eq!(next.read().expect("read"), state);
}

#[test]
fn a_blob_changed_behind_the_locks_back_is_not_overwritten() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let key = "state.json";
    let store = azurite.store(key);
    let lock = lock_now(&store, "synlink apply");
    let mut state = lock.read().expect("read");
    add(&mut state, 1);
    lock.write(&mut state).expect("write");

    // Someone with the lease id (which the lock does not share) replaces it.
    let mut theirs = State::new();
    theirs.serial = 40;
    add(&mut theirs, 99);
    let body = serde_json::to_vec(&theirs).expect("json");
    let (status, _, answer) = azurite.http(
        reqwest::Method::PUT,
        &format!("{CONTAINER}/{key}"),
        &[
            ("x-ms-blob-type", "BlockBlob"),
            ("x-ms-lease-id", lock.lease_id()),
        ],
        body,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));

    add(&mut state, 2);
    let before = state.clone();
    let err = lock.write(&mut state).expect_err("If-Match fails");
    assert!(matches!(err, StateError::RemoteChanged { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("changed since this run last read or wrote it"),
        "{err}"
    );
    assert_eq!(state, before, "a refused write leaves the state as it was");
    assert_eq!(stored(&azurite, key), theirs, "their change is kept");
    assert!(matches!(
        lock.check(),
        Err(StateError::RemoteChanged { .. })
    ));
    assert!(
        lock.write(&mut state).is_err(),
        "and every later write is refused"
    );
}

#[test]
fn each_run_keeps_a_snapshot_and_restore_brings_one_back() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let key = "env/prod.json";
    let store = azurite.store(key);
    // Three runs, two writes each; the first finds no state to keep.
    for run in 0..3 {
        let lock = store
            .lock(
                holder(&format!("synlink apply (run {run})")),
                Duration::from_secs(5),
            )
            .expect("lock");
        let mut state = lock.read().expect("read");
        add(&mut state, run * 2);
        lock.write(&mut state).expect("write");
        add(&mut state, run * 2 + 1);
        lock.write(&mut state).expect("write");
    }
    // A run that only reads keeps none.
    drop(
        store
            .lock(holder("synlink plan"), Duration::from_secs(5))
            .expect("lock"),
    );
    let history = store.history().expect("history");
    let summary: Vec<(Option<u64>, String)> = history
        .iter()
        .map(|s| {
            (
                s.serial,
                s.holder
                    .as_ref()
                    .map(|h| h.command.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some(2), "synlink apply (run 1)".to_owned()),
            (Some(4), "synlink apply (run 2)".to_owned()),
        ],
        "{history:?}"
    );
    let lineage = stored(&azurite, key).lineage;
    assert!(history
        .iter()
        .all(|s| s.lineage.as_deref() == Some(lineage.as_str())));
    assert!(
        history
            .iter()
            .all(|s| s.time.ends_with('Z') && s.time.len() == 20),
        "{history:?}"
    );

    let lock = store
        .lock(holder("synlink state restore"), Duration::from_secs(5))
        .expect("lock");
    let err = lock
        .restore("2001-01-01T00:00:00.0000000Z")
        .expect_err("no such snapshot");
    assert!(
        matches!(err, StateError::SnapshotNotFound { .. }),
        "{err:?}"
    );
    let restored = lock.restore(&history[0].id).expect("restore");
    assert_eq!(restored.resources.len(), 2, "the state after run 0");
    assert_eq!(restored.serial, 7, "above the current serial (6)");
    assert_eq!(restored.lineage, lineage);
    drop(lock);
    assert_eq!(stored(&azurite, key), restored);
    // The restore is itself undoable.
    let history = store.history().expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].serial, Some(6));
}

#[test]
fn push_refuses_an_older_serial_or_another_lineage_unless_forced() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let key = "state.json";
    let store = azurite.store(key);
    let err = backend::pull(&store).expect_err("nothing to pull yet");
    assert!(matches!(err, StateError::NoState { .. }), "{err:?}");

    let lock = lock_now(&store, "synlink apply");
    let mut state = lock.read().expect("read");
    for n in 0..3 {
        add(&mut state, n);
        lock.write(&mut state).expect("write");
    }
    drop(lock);
    let pulled = backend::pull(&store).expect("pull");
    assert_eq!(
        pulled.as_bytes(),
        azurite.blob(key),
        "pull prints the state as stored"
    );
    let pulled: State = serde_json::from_str(&pulled).expect("json");
    assert_eq!(pulled.serial, 3);

    let lock = lock_now(&store, "synlink state push");
    let mut older = pulled.clone();
    older.serial = 2;
    let err = backend::push(&lock, older.clone(), false).expect_err("older");
    assert!(
        matches!(
            err,
            StateError::OlderSerial {
                current: 3,
                incoming: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let mut stranger = State::new();
    stranger.serial = 10;
    let err = backend::push(&lock, stranger.clone(), false).expect_err("another lineage");
    assert!(
        matches!(
            err,
            StateError::OtherLineage {
                forceable: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(stored(&azurite, key), pulled, "nothing written");

    // Same serial, edited: the pull-edit-push round trip.
    let mut edited = pulled.clone();
    edited.resources.shift_remove("links.l0");
    let pushed = backend::push(&lock, edited, false).expect("push");
    assert_eq!((pushed.replaced_serial, pushed.serial), (3, 4));
    let pushed = backend::push(&lock, older, true).expect("forced");
    assert_eq!(
        pushed.serial, 5,
        "a forced push still moves the serial forward"
    );
    let pushed = backend::push(&lock, stranger.clone(), true).expect("forced");
    assert_eq!(pushed.serial, 11);
    drop(lock);
    assert_eq!(stored(&azurite, key).lineage, stranger.lineage);
}

#[test]
fn migrate_copies_a_local_state_and_refuses_another_lineage() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalStore::new(dir.path().join(".synlink/state.json"));
    let me = holder("synlink state migrate");
    let remote = azurite.store("state.json");
    let err = backend::migrate(&local, &remote, &me, Duration::ZERO).expect_err("no local state");
    assert!(matches!(err, StateError::NoState { .. }), "{err:?}");

    let lock = local
        .lock(me.clone(), Duration::ZERO, false)
        .expect("local lock");
    let mut state = lock.read().expect("read");
    add(&mut state, 1);
    add(&mut state, 2);
    lock.write(&mut state).expect("write");
    drop(lock);

    let done = backend::migrate(&local, &remote, &me, Duration::ZERO).expect("migrate");
    assert_eq!(
        done,
        Migrated::Copied {
            resources: 2,
            serial: 2,
            lineage: state.lineage.clone()
        }
    );
    let copied = stored(&azurite, "state.json");
    assert_eq!(
        (&copied.resources, &copied.lineage),
        (&state.resources, &state.lineage)
    );
    assert!(
        dir.path().join(".synlink/state.json").exists(),
        "the source is left in place"
    );
    let again =
        backend::migrate(&local, &remote, &me, Duration::ZERO).expect_err("remote is newer now");
    assert!(
        matches!(
            again,
            StateError::OlderSerial {
                current: 2,
                incoming: 1,
                ..
            }
        ),
        "{again:?}"
    );

    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = LocalStore::new(other_dir.path().join("state.json"));
    let lock = other.lock(me.clone(), Duration::ZERO, false).expect("lock");
    let mut foreign = State::new();
    add(&mut foreign, 5);
    lock.write(&mut foreign).expect("write");
    drop(lock);
    let err = backend::migrate(&other, &remote, &me, Duration::ZERO).expect_err("another lineage");
    assert!(
        matches!(
            err,
            StateError::OtherLineage {
                forceable: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stored(&azurite, "state.json"), copied, "nothing written");
}

#[test]
fn no_sas_in_any_error_or_debug_output() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    let sig = signature(&azurite.sas).to_owned();
    let decoded_sig = sig
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let leaks = |text: &str| {
        text.contains(&azurite.sas) || text.contains(&sig) || text.contains(&decoded_sig)
    };

    // A SAS the service refuses (signed for another resource type).
    let wrong = azurite.sas.replace("srt=sco", "srt=s");
    let store = azurite.store_with("state.json", &wrong);
    let err = store
        .lock(holder("synlink apply"), Duration::ZERO)
        .expect_err("refused");
    assert!(
        matches!(
            err,
            StateError::Remote {
                status: Some(403),
                ..
            }
        ),
        "{err:?}"
    );

    // Nothing listens: the transport's error names the URL it tried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let nowhere = BlobStore::new(
        &BlobConfig {
            account_url: format!("https://127.0.0.1:{port}/{ACCOUNT}"),
            container: CONTAINER.to_owned(),
            key: "state.json".to_owned(),
        },
        BlobAuth::Sas(SasToken::new(&azurite.sas).expect("a SAS")),
    )
    .expect("store");
    let unreachable = nowhere.peek().expect_err("no answer");
    assert!(
        matches!(unreachable, StateError::Remote { status: None, .. }),
        "{unreachable:?}"
    );

    let good = azurite.store("state.json");
    let lock = lock_now(&good, "synlink apply");
    let mut state = lock.read().expect("read");
    lock.write(&mut state).expect("write");
    let _ = good.force_unlock().expect("break");
    let lost = lock.write(&mut state).expect_err("lost");

    let auth = BlobAuth::Sas(SasToken::new(&azurite.sas).expect("a SAS"));
    for text in [
        err.to_string(),
        format!("{err:?}"),
        unreachable.to_string(),
        format!("{unreachable:?}"),
        lost.to_string(),
        format!("{lost:?}"),
        format!("{good:?}"),
        format!("{lock:?}"),
        format!("{auth:?}"),
        format!("{:?}", SasToken::new(&azurite.sas).expect("a SAS")),
        String::from_utf8_lossy(&azurite.blob("state.json")).into_owned(),
    ] {
        assert!(!leaks(&text), "a SAS leaked: {text}");
    }
    // The blob's metadata holds the holder, never a credential.
    let (_, headers, _) = azurite.http(
        reqwest::Method::HEAD,
        &format!("{CONTAINER}/state.json"),
        &[],
        Vec::new(),
    );
    let meta: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-meta-"))
        .collect();
    assert!(
        meta.iter()
            .any(|(k, _)| k.as_str() == "x-ms-meta-synlink_holder_command"),
        "{meta:?}"
    );
    assert!(meta.iter().all(|(_, v)| !leaks(v)), "{meta:?}");
}

#[test]
fn bearer_tokens_from_a_token_source_reach_the_blob_over_https() {
    let Some(azurite) = Azurite::start() else {
        return;
    };
    // The caller's runtime, as in a synlink run: tokens are fetched there.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let scopes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = scopes.clone();
    let tokens = std::sync::Arc::new(synlink::cloud::auth::StaticTokens::new(
        "test",
        move |scope| {
            seen.lock().expect("scopes").push(scope.to_owned());
            storage_jwt(false)
        },
    ));
    let credential =
        std::sync::Arc::new(TokenSourceCredential::new(tokens, runtime.handle().clone()));
    let store = BlobStore::with_client(
        &azurite.config("state.json"),
        BlobAuth::Tokens(credential),
        azurite.client(),
    )
    .expect("store");
    // Taken from inside a runtime too, as a command might.
    let lock = runtime
        .block_on(async { store.lock(holder("synlink apply"), Duration::ZERO) })
        .expect("lock with a bearer token");
    let mut state = lock.read().expect("read");
    add(&mut state, 1);
    lock.write(&mut state).expect("write");
    drop(lock);
    assert_eq!(stored(&azurite, "state.json").resources.len(), 1);
    let scopes = scopes.lock().expect("scopes").clone();
    assert!(!scopes.is_empty());
    assert!(
        scopes
            .iter()
            .all(|s| s == "https://storage.azure.com/.default"),
        "{scopes:?}"
    );

    let expired = storage_jwt(true);
    let refused = expired.clone();
    let tokens = std::sync::Arc::new(synlink::cloud::auth::StaticTokens::new("test", move |_| {
        refused.clone()
    }));
    let store = BlobStore::with_client(
        &azurite.config("state.json"),
        BlobAuth::Tokens(std::sync::Arc::new(TokenSourceCredential::new(
            tokens,
            runtime.handle().clone(),
        ))),
        azurite.client(),
    )
    .expect("store");
    let err = store.peek().expect_err("an expired token is refused");
    assert!(
        matches!(
            err,
            StateError::Remote {
                status: Some(401 | 403),
                ..
            }
        ),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{store:?}")] {
        assert!(
            !text.contains(&expired) && !text.contains("c2lnbmF0dXJl"),
            "{text}"
        );
    }
}

#[test]
fn neither_a_sas_nor_a_token_is_sent_over_plain_http_whatever_the_host() {
    for url in [
        "http://storage.example.invalid",
        "http://127.0.0.1:10000/devstoreaccount1",
    ] {
        let sas = SasToken::new("sv=2021-08-06&sig=c2VjcmV0").expect("a SAS");
        let config = BlobConfig {
            account_url: url.to_owned(),
            container: CONTAINER.to_owned(),
            key: "state.json".to_owned(),
        };
        let err = BlobStore::new(&config, BlobAuth::Sas(sas)).expect_err("plain http");
        assert!(
            matches!(err, StateError::BadConfig { .. }),
            "{url}: {err:?}"
        );
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");
    }
    let config = BlobConfig {
        account_url: "http://storage.example.invalid".to_owned(),
        container: CONTAINER.to_owned(),
        key: "state.json".to_owned(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tokens = std::sync::Arc::new(synlink::cloud::auth::StaticTokens::new("test", |_| {
        "t0ken".to_owned()
    }));
    let auth = BlobAuth::from_env_or(tokens, runtime.handle().clone()).expect("auth");
    if std::env::var_os(SAS_ENV).is_none() {
        let err = BlobStore::new(&config, auth).expect_err("a bearer token over plain http");
        assert!(matches!(err, StateError::BadConfig { .. }), "{err:?}");
    }
}
