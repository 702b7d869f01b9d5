//! `Shared`: the state every request handler reaches — the store, the knobs, the request
//! log, the throttling buckets, the request sequence counter, and the fixed facts of this
//! run (base URL, managed-identity secret, persistence, TLS file). Locks are std mutexes
//! held only for synchronous work, never across an await.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::faults::Faults;
use crate::persist::Persist;
use crate::request_log::RequestLog;
use crate::store::Store;
use crate::throttle::Throttle;

/// State shared by all connections.
pub struct Shared {
    /// The emulated cloud.
    pub store: Mutex<Store>,
    /// The current knobs.
    pub faults: Mutex<Faults>,
    /// The knobs at start (what `/_emulator/reset` restores).
    pub initial_faults: Faults,
    /// Request log and counts.
    pub log: Mutex<RequestLog>,
    /// Throttling buckets.
    pub throttle: Mutex<Throttle>,
    /// Sequence number of the last counted request.
    pub seq: AtomicU64,
    /// `http(s)://host:port`.
    pub base_url: String,
    /// Expected `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// Expected GitHub OIDC request token.
    pub github_request_token: String,
    /// Whether to log requests on stderr.
    pub log_requests: bool,
    /// Whether the store changed since the last save.
    pub dirty: AtomicBool,
    /// Where the store is saved, if anywhere.
    pub persist: Option<Persist>,
    /// The CA certificate file clients trust, with `--tls`.
    pub tls_ca_file: Option<PathBuf>,
}

/// Locks a mutex, recovering the data of a poisoned one (a panic elsewhere must not
/// take the whole emulator down).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
