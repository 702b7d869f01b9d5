//! The Azure Blob Storage state backend: the state is one block blob
//! (`{account_url}/{container}/{key}`, JSON as the local file), reached with
//! the `azure_storage_blob` crate over synlink's own reqwest client. It owns
//! the lease protocol, snapshots and the blob's metadata; it does not decide
//! what goes into a `State`, does not create the container, and never prints.
//!
//! The lock is a 60 s lease on the blob (created empty if absent), renewed
//! every 20 s by a task on this backend's own small runtime. A holder that
//! dies stops renewing, so its lease ends within 60 s without anyone's help
//! (Terraform's backend takes an infinite lease, which a crash leaves behind).
//! The holder (`LockInfo`) is written in the blob's metadata when the lease is
//! taken, so a second run that gives up waiting can name it. The lease counts
//! as lost when the service says so (broken by `state unlock`, or expired and
//! taken by someone else) or when no renewal succeeded for a whole lease
//! period; from then on every write is refused with what happened.
//!
//! Every write carries the lease id and `If-Match` of the `ETag` this lock last
//! read or wrote, so a change made behind its back is never overwritten
//! (`RemoteChanged`). A write whose answer was lost and whose retry then
//! fails `If-Match` is recognised as our own by the write id in the metadata.
//! Before the first write of each lock, a snapshot of the blob is taken with
//! the state's serial and lineage and the taker's `LockInfo` in its metadata:
//! that is the history `restore` goes back to.
//!
//! Credentials: a SAS from `SYNLINK_STATE_SAS`, appended to each request's
//! query by a pipeline policy (so the client's URL never holds it), or bearer
//! tokens for `https://storage.azure.com/` from a `TokenSource`. No SAS, token
//! or header reaches a message: service and transport errors are reduced to
//! status, code and first line, with every SAS value removed.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::num::NonZero;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    ClientOptions, Context, Etag, ExponentialRetryOptions, Request, RetryOptions, StatusCode,
    Transport, Url,
};
use azure_storage_blob::models::{
    BlobClientAcquireLeaseOptions, BlobClientBreakLeaseOptions, BlobClientCreateSnapshotOptions,
    BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders as _,
    BlobClientSetMetadataOptions, BlobContainerClientListBlobsOptions,
    BlockBlobClientUploadOptions, LeaseState, ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobClient, BlobClientOptions, BlobContainerClient};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::cloud::auth::{ReqwestTransport, TokenSource};
use crate::cloud::client::trust_extra_roots;
use crate::state::backend::{HeldLock, LockStatus, Snapshot, StateBackend};
use crate::state::{Encoded, HolderDetails, LeaseLoss, LockInfo, State, StateError};

/// The environment variable that holds a SAS for the state blob.
pub const SAS_ENV: &str = "SYNLINK_STATE_SAS";
/// The audience of a bearer token for Azure Storage.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";
/// How long a lease lasts without renewal: the longest the service allows
/// short of infinite, so a dead holder frees the lock within a minute.
pub const LEASE: Duration = Duration::from_secs(60);
/// How often the lease is renewed: three chances per lease period.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How soon a failed renewal is tried again.
const RENEW_RETRY: Duration = Duration::from_secs(2);
/// How often a waiting `lock` asks for the lease again.
const POLL: Duration = Duration::from_secs(1);
/// One request, retries included, gives up after this, so a renewal that
/// hangs is noticed well within a lease period.
const REQUEST_BUDGET: Duration = Duration::from_secs(20);
/// How long a token may take: the chain gives each credential 20 s.
const TOKEN_WAIT: Duration = Duration::from_secs(90);
/// Larger than any state: every upload is a single `Put Blob`, which is atomic
/// and carries `If-Match` (a block list would be staged in parts).
const SINGLE_PUT: u64 = 256 * 1024 * 1024;

/// Where the state blob is (the spec's `state.azure_blob`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobConfig {
    /// The blob service endpoint, over https whatever the host:
    /// `https://ACCOUNT.blob.core.windows.net`, or an Azurite one
    /// (`https://HOST:10000/devstoreaccount1`).
    pub account_url: String,
    /// The container; it must exist.
    pub container: String,
    /// The blob name, `/` allowed (`prod/teams.json`).
    pub key: String,
}

/// A shared access signature. It has no `Debug` or `Display` that shows it.
#[derive(Clone)]
pub struct SasToken(String);

impl SasToken {
    /// Wraps a SAS query string (a leading `?` is dropped). Refused, without
    /// echoing it, when it has no `sig=` parameter.
    pub fn new(text: &str) -> Result<SasToken, StateError> {
        let text = text.trim().trim_start_matches('?');
        if !text
            .split('&')
            .any(|p| p.starts_with("sig=") && p.len() > 4)
        {
            return Err(StateError::BadConfig {
                reason: format!("{SAS_ENV} is not a SAS token (it has no sig= parameter)"),
            });
        }
        Ok(SasToken(text.to_owned()))
    }

    /// The SAS in `SYNLINK_STATE_SAS`, if that is set and not empty.
    pub fn from_env() -> Result<Option<SasToken>, StateError> {
        match std::env::var(SAS_ENV) {
            Ok(v) if !v.trim().is_empty() => SasToken::new(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// Every form in which the SAS or its signature could appear in a
    /// message: as given, percent-decoded, percent-encoded.
    fn secret_forms(&self) -> Vec<String> {
        let mut forms = vec![self.0.clone()];
        for pair in self.0.split('&') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            // The signature is the secret; the other values only say what it
            // allows, but the whole string is removed above anyway.
            if name != "sig" || value.is_empty() {
                continue;
            }
            let decoded = percent_decode(value);
            forms.push(value.to_owned());
            forms.push(percent_encode_all(&decoded, true));
            forms.push(percent_encode_all(&decoded, false));
            forms.push(decoded);
        }
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        forms.dedup();
        forms
    }
}

impl fmt::Debug for SasToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasToken(***)")
    }
}

/// How requests to the state blob are authorised.
#[derive(Clone)]
pub enum BlobAuth {
    /// A SAS appended to every request (over https only).
    Sas(SasToken),
    /// Bearer tokens for `https://storage.azure.com/` (https only).
    Tokens(Arc<TokenSourceCredential>),
}

impl BlobAuth {
    /// The SAS from `SYNLINK_STATE_SAS` if it is set, else bearer tokens from
    /// `tokens` (fetched on `runtime`, the one its HTTP client lives on).
    pub fn from_env_or(
        tokens: Arc<dyn TokenSource>,
        runtime: tokio::runtime::Handle,
    ) -> Result<BlobAuth, StateError> {
        Ok(match SasToken::from_env()? {
            Some(sas) => BlobAuth::Sas(sas),
            None => BlobAuth::Tokens(Arc::new(TokenSourceCredential::new(tokens, runtime))),
        })
    }
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobAuth::Sas(_) => f.write_str("Sas(***)"),
            BlobAuth::Tokens(_) => f.write_str("Tokens"),
        }
    }
}

/// synlink's credential chain as an `azure_core` credential, for the blob
/// client's bearer policy.
pub struct TokenSourceCredential {
    source: Arc<dyn TokenSource>,
    runtime: tokio::runtime::Handle,
}

impl TokenSourceCredential {
    /// Tokens from `source`, fetched as tasks on `runtime`: the chain's HTTP
    /// client keeps its connections on the runtime that made them, which is
    /// the caller's, not this backend's.
    pub fn new(source: Arc<dyn TokenSource>, runtime: tokio::runtime::Handle) -> Self {
        TokenSourceCredential { source, runtime }
    }
}

impl fmt::Debug for TokenSourceCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSourceCredential")
    }
}

#[async_trait::async_trait]
impl TokenCredential for TokenSourceCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = scopes.first().copied().unwrap_or(STORAGE_SCOPE).to_owned();
        let source = self.source.clone();
        let fail =
            |message: String| azure_core::Error::with_message(ErrorKind::Credential, message);
        let task = self
            .runtime
            .spawn(async move { source.token(&scope).await });
        // Bounded: should that runtime never run the task, the state request
        // fails instead of hanging.
        let token = tokio::time::timeout(TOKEN_WAIT, task)
            .await
            .map_err(|_| fail(format!("no token within {}s", TOKEN_WAIT.as_secs())))?
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        Ok(AccessToken::new(
            token.secret.expose().to_owned(),
            token.expires_on,
        ))
    }
}

/// Appends the SAS to each request's query, once (before the retry policy,
/// which resends the same request).
struct SasPolicy(SasToken);

impl fmt::Debug for SasPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SasPolicy(***)")
    }
}

#[async_trait::async_trait]
impl Policy for SasPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let url = request.url_mut();
        let query = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&{}", self.0 .0),
            _ => self.0 .0.clone(),
        };
        url.set_query(Some(&query));
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// The state kept in an Azure blob.
pub struct BlobStore {
    remote: Arc<Remote>,
    driver: Arc<Driver>,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("location", &self.remote.location)
            .finish_non_exhaustive()
    }
}

impl BlobStore {
    /// The store for `config`, authorised by `auth`, over a reqwest client of
    /// its own (rustls, certificates verified).
    pub fn new(config: &BlobConfig, auth: BlobAuth) -> Result<BlobStore, StateError> {
        let http = trust_extra_roots(reqwest::Client::builder())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| StateError::BadConfig {
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        BlobStore::with_client(config, auth, http)
    }

    /// As `new`, over `http`. Give it a client of its own: this store runs its
    /// requests on its own runtime, and reqwest keeps a connection on the
    /// runtime that opened it.
    pub fn with_client(
        config: &BlobConfig,
        auth: BlobAuth,
        http: reqwest::Client,
    ) -> Result<BlobStore, StateError> {
        let blob_url = blob_url(config)?;
        let container_url = container_url(config)?;
        // A SAS or a token is never sent in the clear, whatever the host.
        if blob_url.scheme() != "https" {
            return Err(StateError::BadConfig {
                reason: format!(
                    "{}: the state is reached only over https (a SAS or token is never sent in the clear; Azurite serves https with --cert and --key)",
                    config.account_url
                ),
            });
        }
        let mut credential: Option<Arc<dyn TokenCredential>> = None;
        let mut redact = Vec::new();
        let mut per_call: Vec<Arc<dyn Policy>> = Vec::new();
        match auth {
            BlobAuth::Sas(sas) => {
                redact = sas.secret_forms();
                per_call.push(Arc::new(SasPolicy(sas)));
            }
            BlobAuth::Tokens(tokens) => credential = Some(tokens),
        }
        let client_options = ClientOptions {
            per_call_policies: per_call,
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: time::Duration::milliseconds(250),
                max_retries: 6,
                max_total_elapsed: time::Duration::try_from(REQUEST_BUDGET)
                    .expect("a few seconds fit"),
                max_delay: time::Duration::seconds(4),
            }),
            transport: Some(Transport::new(Arc::new(ReqwestTransport(http)))),
            ..ClientOptions::default()
        };
        let location = blob_url.to_string();
        let blob = BlobClient::new(
            blob_url,
            credential.clone(),
            Some(BlobClientOptions {
                client_options: client_options.clone(),
                ..BlobClientOptions::default()
            }),
        )
        .map_err(|e| StateError::BadConfig {
            reason: e.to_string(),
        })?;
        let container = BlobContainerClient::new(
            container_url,
            credential,
            Some(azure_storage_blob::BlobContainerClientOptions {
                client_options,
                ..Default::default()
            }),
        )
        .map_err(|e| StateError::BadConfig {
            reason: e.to_string(),
        })?;
        let driver = Driver::new().map_err(|e| StateError::BadConfig {
            reason: format!("cannot start the state backend's runtime: {e}"),
        })?;
        Ok(BlobStore {
            remote: Arc::new(Remote {
                blob,
                container,
                key: config.key.clone(),
                location,
                redact,
            }),
            driver: Arc::new(driver),
        })
    }

    /// The blob's URL (no SAS).
    pub fn location(&self) -> &str {
        &self.remote.location
    }

    /// Takes the lease, as `StateBackend::lock` says.
    pub fn lock(&self, holder: LockInfo, timeout: Duration) -> Result<BlobLock, StateError> {
        let remote = &self.remote;
        let lease_id = uuid::Uuid::new_v4().to_string();
        let start = Instant::now();
        let sent = self.driver.run(async {
            loop {
                let sent = Instant::now();
                match remote.acquire(&lease_id).await {
                    Ok(()) => return Ok(sent),
                    Err(Acquire::Held) => {}
                    Err(Acquire::Missing) => remote.create_if_absent().await?,
                    Err(Acquire::Failed(e)) => return Err(e),
                }
                let waited = start.elapsed();
                if waited >= timeout {
                    let sent_last = Instant::now();
                    return Err(match remote.properties("reading the lock holder").await? {
                        Some(p) if p.leased => match p.holder {
                            Some(holder) => StateError::Locked {
                                holder,
                                waited_secs: waited.as_secs(),
                            },
                            None => StateError::LockedByUnknown {
                                location: remote.location.clone(),
                                waited_secs: waited.as_secs(),
                            },
                        },
                        // Freed just now: one more try is worth it.
                        _ => match remote.acquire(&lease_id).await {
                            Ok(()) => return Ok(sent_last),
                            Err(Acquire::Failed(e)) => e,
                            Err(_) => StateError::LockedByUnknown {
                                location: remote.location.clone(),
                                waited_secs: waited.as_secs(),
                            },
                        },
                    });
                }
                tokio::time::sleep(POLL.min(timeout.saturating_sub(waited))).await;
            }
        })?;
        let lease = Arc::new(Mutex::new(Renewal {
            renewed_at: sent,
            last_error: None,
            lost: None,
        }));
        // From here on, dropping `lock` releases the lease.
        let mut lock = BlobLock {
            remote: self.remote.clone(),
            driver: self.driver.clone(),
            holder,
            lease_id,
            lease: lease.clone(),
            cursor: Mutex::new(Cursor::default()),
            renewer: None,
        };
        let renewer = {
            let remote = self.remote.clone();
            let id = lock.lease_id.clone();
            self.driver
                .handle()
                .spawn(async move { renew_loop(&remote, &id, &lease).await })
        };
        lock.renewer = Some(renewer);
        let cursor = self
            .driver
            .run(remote.claim(&lock.lease_id, &lock.holder))?;
        *lock.cursor.lock().unwrap_or_else(PoisonError::into_inner) = cursor;
        Ok(lock)
    }
}

impl StateBackend for BlobStore {
    fn describe(&self) -> String {
        self.remote.location.clone()
    }

    fn lock(&self, holder: LockInfo, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError> {
        Ok(Box::new(BlobStore::lock(self, holder, timeout)?))
    }

    fn peek(&self) -> Result<Option<State>, StateError> {
        let remote = &self.remote;
        self.driver.run(async {
            match remote.download(None).await? {
                Some((bytes, _)) if !bytes.is_empty() => remote.decode(&bytes).map(Some),
                _ => Ok(None),
            }
        })
    }

    fn holder(&self) -> Result<LockStatus, StateError> {
        self.driver
            .run(self.remote.properties("reading the lock holder"))
            .map(|p| lock_status(p.as_ref()))
    }

    /// Breaks the lease at once (break period 0).
    fn force_unlock(&self) -> Result<LockStatus, StateError> {
        let remote = &self.remote;
        self.driver.run(async {
            let status = lock_status(remote.properties("reading the lock holder").await?.as_ref());
            if status == LockStatus::Free {
                return Ok(status);
            }
            let options = BlobClientBreakLeaseOptions {
                break_period: Some(0),
                ..Default::default()
            };
            match remote.blob.break_lease(Some(options)).await {
                Ok(_) => Ok(status),
                // Freed in between.
                Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(LockStatus::Free),
                Err(e) => Err(remote.error("breaking the lease", e)),
            }
        })
    }

    fn history(&self) -> Result<Vec<Snapshot>, StateError> {
        self.driver.run(self.remote.snapshots())
    }
}

/// The lease on the state blob, held and renewed. Released on drop.
pub struct BlobLock {
    remote: Arc<Remote>,
    driver: Arc<Driver>,
    holder: LockInfo,
    lease_id: String,
    lease: Arc<Mutex<Renewal>>,
    /// Held across a write, so writes through this lock are one at a time.
    cursor: Mutex<Cursor>,
    renewer: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for BlobLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobLock")
            .field("location", &self.remote.location)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// What this lock knows of the blob.
#[derive(Debug, Default)]
struct Cursor {
    /// The `ETag` last read or written: the `If-Match` of the next write.
    etag: String,
    /// Whether the blob holds a state (an empty blob is "none yet").
    has_state: bool,
    /// Whether this lock's snapshot was taken (or there was nothing to keep).
    snapshot_taken: bool,
    /// The serial and lineage of the state in the blob, as last seen: what a
    /// snapshot taken now holds.
    serial: Option<u64>,
    lineage: Option<String>,
}

#[derive(Debug)]
struct Renewal {
    /// When the last successful acquire or renew request was sent: the lease
    /// runs at least until `LEASE` after that.
    renewed_at: Instant,
    last_error: Option<String>,
    lost: Option<Lost>,
}

/// Why this lock may no longer write.
#[derive(Debug, Clone)]
enum Lost {
    Lease(LeaseLoss),
    Changed { etag: String },
}

impl BlobLock {
    /// The lease id. Not a secret (a lease id grants nothing without access to
    /// the blob); shown for diagnosis and used by tests.
    pub fn lease_id(&self) -> &str {
        &self.lease_id
    }

    fn lost_error(&self, lost: Lost) -> StateError {
        match lost {
            Lost::Lease(cause) => StateError::LeaseLost {
                location: self.remote.location.clone(),
                cause,
            },
            Lost::Changed { etag } => StateError::RemoteChanged {
                location: self.remote.location.clone(),
                etag,
            },
        }
    }

    fn mark_lost(&self, lost: Lost) -> StateError {
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        let first = lease.lost.get_or_insert(lost).clone();
        drop(lease);
        self.lost_error(first)
    }

    fn write_inner(&self, next: &Encoded) -> Result<(), StateError> {
        let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        HeldLock::check(self)?;
        let remote = &self.remote;
        if !cursor.snapshot_taken {
            if cursor.has_state {
                let meta = snapshot_metadata(&self.holder, &cursor);
                let taken = self
                    .driver
                    .run(remote.snapshot(&self.lease_id, &cursor.etag, meta));
                match taken {
                    Ok(etag) => cursor.etag = etag,
                    Err(e) => return Err(self.classify_write_error(e, &cursor.etag)),
                }
            }
            cursor.snapshot_taken = true;
        }
        let bytes = next.bytes.clone();
        let write_id = uuid::Uuid::new_v4().to_string();
        let mut meta = holder_metadata(&self.holder);
        meta.insert(META_SERIAL.to_owned(), next.serial.to_string());
        meta.insert(META_LINEAGE.to_owned(), encode_meta(&next.lineage));
        meta.insert(META_WRITE.to_owned(), write_id.clone());
        let written =
            self.driver
                .run(remote.upload(&self.lease_id, &cursor.etag, bytes, meta, &write_id));
        match written {
            Ok(etag) => {
                cursor.etag = etag;
                cursor.has_state = true;
                cursor.serial = Some(next.serial);
                cursor.lineage = Some(next.lineage.clone());
                Ok(())
            }
            Err(e) => Err(self.classify_write_error(e, &cursor.etag)),
        }
    }

    /// A refused write because of the lease or `If-Match` ends this lock's
    /// writing for good; anything else (a network failure) does not.
    fn classify_write_error(&self, e: WriteError, etag: &str) -> StateError {
        match e {
            WriteError::LeaseGone(code) => self.mark_lost(Lost::Lease(LeaseLoss::Broken { code })),
            WriteError::Changed => self.mark_lost(Lost::Changed {
                etag: etag.to_owned(),
            }),
            WriteError::Other(e) => e,
        }
    }
}

impl From<BlobLock> for Box<dyn HeldLock> {
    fn from(lock: BlobLock) -> Box<dyn HeldLock> {
        Box::new(lock)
    }
}

impl HeldLock for BlobLock {
    fn holder(&self) -> &LockInfo {
        &self.holder
    }

    fn describe(&self) -> String {
        self.remote.location.clone()
    }

    /// Also makes the `ETag` read the `If-Match` of the next write.
    fn read(&self) -> Result<State, StateError> {
        let mut cursor = self.cursor.lock().unwrap_or_else(PoisonError::into_inner);
        let remote = &self.remote;
        match self.driver.run(remote.download(None))? {
            Some((bytes, etag)) => {
                cursor.etag = etag;
                cursor.has_state = !bytes.is_empty();
                if bytes.is_empty() {
                    return Ok(State::new());
                }
                let state = remote.decode(&bytes)?;
                cursor.serial = Some(state.serial);
                cursor.lineage = Some(state.lineage.clone());
                Ok(state)
            }
            None => Err(self.mark_lost(Lost::Lease(LeaseLoss::Broken {
                code: "BlobNotFound".to_owned(),
            }))),
        }
    }

    fn write_encoded(&self, next: &Encoded) -> Result<(), StateError> {
        self.write_inner(next)
    }

    fn check(&self) -> Result<(), StateError> {
        let mut lease = self.lease.lock().unwrap_or_else(PoisonError::into_inner);
        if lease.lost.is_none() {
            let since = lease.renewed_at.elapsed();
            if since >= LEASE {
                lease.lost = Some(Lost::Lease(LeaseLoss::NotRenewed {
                    secs: since.as_secs(),
                    lease_secs: LEASE.as_secs(),
                    last_error: lease
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "no renewal answered in time".to_owned()),
                }));
            }
        }
        match lease.lost.clone() {
            None => Ok(()),
            Some(lost) => {
                drop(lease);
                Err(self.lost_error(lost))
            }
        }
    }

    fn restore(&self, id: &str) -> Result<State, StateError> {
        let remote = &self.remote;
        let bytes = self.driver.run(async {
            let missing = || StateError::SnapshotNotFound {
                location: remote.location.clone(),
                snapshot: id.to_owned(),
            };
            match remote.download(Some(id)).await {
                Ok(Some((bytes, _))) if !bytes.is_empty() => Ok(bytes),
                // An id that is not a snapshot time is a bad request.
                Ok(_)
                | Err(StateError::Remote {
                    status: Some(400), ..
                }) => Err(missing()),
                Err(e) => Err(e),
            }
        })?;
        let mut restored = remote.decode(&bytes)?;
        let current = self.read()?;
        restored.serial = restored.serial.max(current.serial);
        self.write(&mut restored)?;
        Ok(restored)
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        if let Some(renewer) = self.renewer.take() {
            renewer.abort();
        }
        let lease_gone = matches!(
            self.lease
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .lost,
            Some(Lost::Lease(_))
        );
        if !lease_gone {
            // Nothing to report to: a lease not released ends by itself
            // within `LEASE`.
            let _ = self
                .driver
                .run(self.remote.blob.release_lease(self.lease_id.clone(), None));
        }
    }
}

async fn renew_loop(remote: &Remote, lease_id: &str, lease: &Mutex<Renewal>) {
    let mut wait = RENEW_EVERY;
    loop {
        tokio::time::sleep(wait).await;
        let sent = Instant::now();
        // Bounded, so a service that stops answering is noticed (and
        // reported) well within a lease period.
        let answer = tokio::time::timeout(
            RENEW_EVERY,
            remote.blob.renew_lease(lease_id.to_owned(), None),
        )
        .await;
        let mut state = lease.lock().unwrap_or_else(PoisonError::into_inner);
        if state.lost.is_some() {
            return;
        }
        let failure = match answer {
            Ok(Ok(_)) => {
                state.renewed_at = sent;
                state.last_error = None;
                wait = RENEW_EVERY;
                continue;
            }
            Ok(Err(e)) if lease_is_gone(&e) => {
                state.lost = Some(Lost::Lease(LeaseLoss::Broken {
                    code: error_code(&e).unwrap_or_else(|| status_text(&e)),
                }));
                return;
            }
            Ok(Err(e)) => remote.error("renewing the lease", e).to_string(),
            Err(_) => format!(
                "renewing the lease got no answer within {}s",
                RENEW_EVERY.as_secs()
            ),
        };
        let since = state.renewed_at.elapsed();
        if since >= LEASE {
            state.lost = Some(Lost::Lease(LeaseLoss::NotRenewed {
                secs: since.as_secs(),
                lease_secs: LEASE.as_secs(),
                last_error: failure,
            }));
            return;
        }
        state.last_error = Some(failure);
        wait = RENEW_RETRY;
    }
}

/// The blob and its container, with what messages need.
struct Remote {
    blob: BlobClient,
    container: BlobContainerClient,
    key: String,
    /// The blob URL, without any SAS: what messages name.
    location: String,
    /// Texts never to show (the SAS in its forms), longest first.
    redact: Vec<String>,
}

/// Why acquiring the lease did not work.
enum Acquire {
    Held,
    Missing,
    Failed(StateError),
}

/// Why a write did not work.
enum WriteError {
    LeaseGone(String),
    Changed,
    Other(StateError),
}

/// What the blob's properties say.
struct Properties {
    leased: bool,
    holder: Option<LockInfo>,
}

impl Remote {
    async fn acquire(&self, lease_id: &str) -> Result<(), Acquire> {
        let options = BlobClientAcquireLeaseOptions {
            proposed_lease_id: Some(lease_id.to_owned()),
            ..Default::default()
        };
        let seconds = i32::try_from(LEASE.as_secs()).expect("60 fits");
        match self.blob.acquire_lease(seconds, Some(options)).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Err(Acquire::Held),
            Err(e) if blob_not_found(&e) => Err(Acquire::Missing),
            Err(e) => Err(Acquire::Failed(self.error("taking the lease", e))),
        }
    }

    /// An empty blob (no state yet), unless one exists.
    async fn create_if_absent(&self) -> Result<(), StateError> {
        let options = BlockBlobClientUploadOptions {
            if_none_match: Some(Etag::from("*")),
            blob_content_type: Some("application/json".to_owned()),
            ..Default::default()
        };
        match self
            .blob
            .upload(azure_core::Bytes::new().into(), Some(options))
            .await
        {
            Ok(_) => Ok(()),
            // Created by someone else in between, or leased already.
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::Conflict | StatusCode::PreconditionFailed)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(self.error("creating the state blob", e)),
        }
    }

    /// Names `holder` in the metadata (keeping the state's serial and
    /// lineage there) and returns what the lock starts from.
    async fn claim(&self, lease_id: &str, holder: &LockInfo) -> Result<Cursor, StateError> {
        let props = self
            .blob
            .get_properties(None)
            .await
            .map_err(|e| self.error("reading the state blob's properties", e))?;
        let etag = props
            .etag()
            .ok()
            .flatten()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let length = props.content_length().ok().flatten().unwrap_or(0);
        let old = props.metadata().unwrap_or_default();
        let mut meta = holder_metadata(holder);
        for k in [META_SERIAL, META_LINEAGE, META_WRITE] {
            if let Some(v) = old.get(k) {
                meta.insert(k.to_owned(), v.clone());
            }
        }
        let options = BlobClientSetMetadataOptions {
            lease_id: Some(lease_id.to_owned()),
            if_match: Some(Etag::from(etag.clone())),
            ..Default::default()
        };
        let answer = self
            .blob
            .set_metadata(&meta, Some(options))
            .await
            .map_err(|e| self.error("naming the holder in the state blob's metadata", e))?;
        let etag = answer
            .headers()
            .get_optional_str(&azure_core::http::headers::ETAG)
            .map_or(etag, str::to_owned);
        Ok(Cursor {
            etag,
            has_state: length > 0,
            snapshot_taken: false,
            serial: old.get(META_SERIAL).and_then(|v| v.parse().ok()),
            lineage: old.get(META_LINEAGE).map(|v| decode_meta(v)),
        })
    }

    async fn properties(&self, operation: &'static str) -> Result<Option<Properties>, StateError> {
        match self.blob.get_properties(None).await {
            Ok(p) => {
                let leased = matches!(p.lease_state(), Ok(Some(LeaseState::Leased)));
                let meta = p.metadata().unwrap_or_default();
                Ok(Some(Properties {
                    leased,
                    holder: holder_from_metadata(&meta),
                }))
            }
            Err(e) if blob_not_found(&e) => Ok(None),
            Err(e) => Err(self.error(operation, e)),
        }
    }

    /// The blob's (or a snapshot's) bytes and `ETag`; `None` if it is absent.
    async fn download(
        &self,
        snapshot: Option<&str>,
    ) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let options = BlobClientDownloadOptions {
            snapshot: snapshot.map(str::to_owned),
            parallel: NonZero::new(1),
            partition_size: NonZero::new(usize::try_from(SINGLE_PUT).unwrap_or(usize::MAX)),
            ..Default::default()
        };
        let answer = match self.blob.download(Some(options)).await {
            Ok(a) => a,
            Err(e) if blob_not_found(&e) => return Ok(None),
            // A range request on an empty blob.
            Err(e) if e.http_status() == Some(StatusCode::RequestedRangeNotSatisfiable) => {
                return self
                    .etag_now("reading the state")
                    .await
                    .map(|etag| Some((Vec::new(), etag)));
            }
            Err(e) => return Err(self.error("reading the state", e)),
        };
        let etag = answer
            .properties
            .etag
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|e| self.error("reading the state", e))?;
        Ok(Some((bytes.to_vec(), etag)))
    }

    async fn etag_now(&self, operation: &'static str) -> Result<String, StateError> {
        let p = self
            .blob
            .get_properties(None)
            .await
            .map_err(|e| self.error(operation, e))?;
        Ok(p.etag()
            .ok()
            .flatten()
            .map(|e| e.to_string())
            .unwrap_or_default())
    }

    async fn snapshot(
        &self,
        lease_id: &str,
        etag: &str,
        meta: HashMap<String, String>,
    ) -> Result<String, WriteError> {
        let options = BlobClientCreateSnapshotOptions {
            lease_id: Some(lease_id.to_owned()),
            if_match: Some(Etag::from(etag.to_owned())),
            metadata: Some(meta),
            ..Default::default()
        };
        if let Err(e) = self.blob.create_snapshot(Some(options)).await {
            return Err(self.write_error("keeping a snapshot of the state", e));
        }
        // The base blob was as last seen when the snapshot was taken
        // (`If-Match`), and only the lease holder can change it since; its
        // ETag is read again in case taking a snapshot moved it.
        self.etag_now("keeping a snapshot of the state")
            .await
            .map_err(WriteError::Other)
    }

    async fn upload(
        &self,
        lease_id: &str,
        etag: &str,
        bytes: Vec<u8>,
        meta: HashMap<String, String>,
        write_id: &str,
    ) -> Result<String, WriteError> {
        let options = BlockBlobClientUploadOptions {
            lease_id: Some(lease_id.to_owned()),
            if_match: Some(Etag::from(etag.to_owned())),
            metadata: Some(meta),
            blob_content_type: Some("application/json".to_owned()),
            partition_size: NonZero::new(SINGLE_PUT),
            parallel: NonZero::new(1),
            ..Default::default()
        };
        match self
            .blob
            .upload(azure_core::Bytes::from(bytes).into(), Some(options))
            .await
        {
            Ok(answer) => Ok(answer.etag.map(|e| e.to_string()).unwrap_or_default()),
            Err(e) => match self.write_error("writing the state", e) {
                // A retry of a write that went through fails `If-Match`
                // against its own ETag: the write id says it was ours.
                WriteError::Changed => match self.blob.get_properties(None).await {
                    Ok(p)
                        if p.metadata()
                            .unwrap_or_default()
                            .get(META_WRITE)
                            .map(String::as_str)
                            == Some(write_id) =>
                    {
                        Ok(p.etag()
                            .ok()
                            .flatten()
                            .map(|e| e.to_string())
                            .unwrap_or_default())
                    }
                    _ => Err(WriteError::Changed),
                },
                other => Err(other),
            },
        }
    }

    /// The snapshots of the state blob, oldest first.
    async fn snapshots(&self) -> Result<Vec<Snapshot>, StateError> {
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![
                ListBlobsIncludeItem::Snapshots,
                ListBlobsIncludeItem::Metadata,
            ]),
            prefix: Some(self.key.clone()),
            ..Default::default()
        };
        let mut pager = self
            .container
            .list_blobs(Some(options))
            .map_err(|e| self.error("listing the state's snapshots", e))?;
        let mut found = Vec::new();
        while let Some(item) = pager.next().await {
            let item = item.map_err(|e| self.error("listing the state's snapshots", e))?;
            if item.name.as_deref() != Some(self.key.as_str()) {
                continue;
            }
            let Some(id) = item.snapshot else {
                continue;
            };
            let meta = item
                .metadata
                .and_then(|m| m.values)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect::<HashMap<_, _>>();
            found.push(Snapshot {
                time: snapshot_time(&id),
                serial: meta.get(META_SERIAL).and_then(|s| s.parse().ok()),
                lineage: meta.get(META_LINEAGE).map(|l| decode_meta(l)),
                holder: holder_from_metadata(&meta),
                id,
            });
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    fn decode(&self, bytes: &[u8]) -> Result<State, StateError> {
        crate::state::decode(Path::new(&self.location), bytes)
    }

    fn write_error(&self, operation: &'static str, e: azure_core::Error) -> WriteError {
        let code = error_code(&e);
        if e.http_status() == Some(StatusCode::PreconditionFailed) {
            match code.as_deref() {
                Some("ConditionNotMet") | None => return WriteError::Changed,
                Some(c) if c.starts_with("Lease") => return WriteError::LeaseGone(c.to_owned()),
                _ => {}
            }
        }
        if let Some(c) = code.as_deref().filter(|c| c.starts_with("Lease")) {
            return WriteError::LeaseGone(c.to_owned());
        }
        WriteError::Other(self.error(operation, e))
    }

    /// A service or transport error as data, with every SAS form removed.
    fn error(&self, operation: &'static str, e: azure_core::Error) -> StateError {
        let status = e.http_status().map(u16::from);
        let code = error_code(&e);
        let message = if matches!(e.kind(), ErrorKind::HttpResponse { .. }) {
            azure_storage_blob::StorageError::try_from(e)
                .ok()
                .and_then(|storage| storage.message)
                .and_then(|m| m.lines().next().map(str::to_owned))
                .unwrap_or_default()
        } else {
            // A transport error names the URL it tried, SAS and all (cut by
            // `scrub`); its cause may be a few sources down.
            let mut text = first_line(&e.to_string());
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                let line = first_line(&cause.to_string());
                if !text.contains(&line) {
                    text.push_str(": ");
                    text.push_str(&line);
                }
                source = cause.source();
            }
            text
        };
        StateError::Remote {
            location: self.location.clone(),
            operation,
            status,
            code,
            message: self.scrub(&message),
        }
    }

    fn scrub(&self, text: &str) -> String {
        let mut text = strip_queries(text);
        for secret in &self.redact {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// Drops the query of every URL in `text` (`https://h/p?a=b` becomes
/// `https://h/p?…`): a request URL carries the SAS.
fn strip_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_url = false;
    let mut in_query = false;
    for (i, c) in text.char_indices() {
        let ends = c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ']');
        if ends {
            in_url = false;
            in_query = false;
        } else if text[i..].starts_with("://") {
            in_url = true;
        } else if in_url && c == '?' && !in_query {
            in_query = true;
            out.push_str("?…");
            continue;
        }
        if !in_query {
            out.push(c);
        }
    }
    out
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

fn error_code(e: &azure_core::Error) -> Option<String> {
    match e.kind() {
        ErrorKind::HttpResponse { error_code, .. } => error_code.clone(),
        _ => None,
    }
}

/// The blob (not its container) is absent. A HEAD answer has no body, so
/// no code either: a 404 without one counts as the blob's.
fn blob_not_found(e: &azure_core::Error) -> bool {
    e.http_status() == Some(StatusCode::NotFound)
        && error_code(e).is_none_or(|c| c == "BlobNotFound")
}

fn status_text(e: &azure_core::Error) -> String {
    e.http_status().map_or_else(
        || "no answer".to_owned(),
        |s| format!("HTTP {}", u16::from(s)),
    )
}

/// A renewal refused because the lease is not ours any more (as opposed to
/// a failure to reach the service).
fn lease_is_gone(e: &azure_core::Error) -> bool {
    matches!(
        e.http_status(),
        Some(StatusCode::Conflict | StatusCode::NotFound | StatusCode::PreconditionFailed)
    ) || error_code(e).is_some_and(|c| c.starts_with("Lease"))
}

fn lock_status(p: Option<&Properties>) -> LockStatus {
    match p {
        Some(p) if p.leased => p
            .holder
            .clone()
            .map_or(LockStatus::HeldByUnknown, LockStatus::Held),
        _ => LockStatus::Free,
    }
}

fn blob_url(config: &BlobConfig) -> Result<Url, StateError> {
    if config.key.is_empty() || config.key.starts_with('/') || config.key.ends_with('/') {
        return Err(StateError::BadConfig {
            reason: format!("`{}` is not a blob name (key)", config.key),
        });
    }
    let mut url = container_url(config)?;
    url.path_segments_mut()
        .map_err(|()| StateError::BadConfig {
            reason: format!("`{}` is not a blob service URL", config.account_url),
        })?
        .extend(config.key.split('/'));
    Ok(url)
}

fn container_url(config: &BlobConfig) -> Result<Url, StateError> {
    let bad = |why: &str| StateError::BadConfig {
        reason: format!("`{}` is not a blob service URL ({why})", config.account_url),
    };
    let valid_container = (3..=63).contains(&config.container.len())
        && config
            .container
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !config.container.starts_with('-')
        && !config.container.contains("--");
    if !valid_container {
        return Err(StateError::BadConfig {
            reason: format!(
                "`{}` is not a container name (3-63 lower-case letters, digits and single hyphens)",
                config.container
            ),
        });
    }
    let mut url = Url::parse(&config.account_url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
        return Err(bad("it must be an http(s) URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        // A SAS pasted into the URL would end up in messages: refuse it.
        return Err(bad(
            "it must have no query; give a SAS in SYNLINK_STATE_SAS",
        ));
    }
    url.path_segments_mut()
        .map_err(|()| bad("it must be an http(s) URL"))?
        .pop_if_empty()
        .push(&config.container);
    Ok(url)
}

// Metadata names are C# identifiers; the service gives them back in lower
// case. Values must be ASCII header text, so they are percent-encoded.
const META_SERIAL: &str = "synlink_serial";
const META_LINEAGE: &str = "synlink_lineage";
const META_WRITE: &str = "synlink_write";
const META_COMMAND: &str = "synlink_holder_command";
const META_USER: &str = "synlink_holder_user";
const META_HOST: &str = "synlink_holder_host";
const META_PID: &str = "synlink_holder_pid";
const META_TIME: &str = "synlink_holder_time";
const META_VERSION: &str = "synlink_holder_version";

fn holder_metadata(holder: &LockInfo) -> HashMap<String, String> {
    HashMap::from([
        (META_COMMAND.to_owned(), encode_meta(&holder.command)),
        (META_USER.to_owned(), encode_meta(&holder.details.user)),
        (META_HOST.to_owned(), encode_meta(&holder.host)),
        (META_PID.to_owned(), holder.pid.to_string()),
        (META_TIME.to_owned(), encode_meta(&holder.time)),
        (
            META_VERSION.to_owned(),
            encode_meta(&holder.details.synlink_version),
        ),
    ])
}

/// A snapshot's metadata: the serial and lineage of the state it holds, and
/// the run that took it.
fn snapshot_metadata(holder: &LockInfo, cursor: &Cursor) -> HashMap<String, String> {
    let mut meta = holder_metadata(holder);
    if let Some(serial) = cursor.serial {
        meta.insert(META_SERIAL.to_owned(), serial.to_string());
    }
    if let Some(lineage) = &cursor.lineage {
        meta.insert(META_LINEAGE.to_owned(), encode_meta(lineage));
    }
    meta
}

fn holder_from_metadata(meta: &HashMap<String, String>) -> Option<LockInfo> {
    let get = |k: &str| meta.get(k).map(|v| decode_meta(v));
    Some(LockInfo {
        command: get(META_COMMAND)?,
        host: get(META_HOST)?,
        pid: get(META_PID)?.parse().ok()?,
        time: get(META_TIME)?,
        details: Box::new(HolderDetails {
            user: get(META_USER).unwrap_or_default(),
            synlink_version: get(META_VERSION).unwrap_or_default(),
        }),
    })
}

/// `2026-12-01T14:03:00.1234567Z` → `2026-12-01T14:03:00Z`.
fn snapshot_time(id: &str) -> String {
    match id.split_once('.') {
        Some((seconds, rest)) if rest.ends_with('Z') => format!("{seconds}Z"),
        _ => id.to_owned(),
    }
}

/// Printable ASCII stays (but `%`, and spaces at either end, which HTTP
/// would trim); every other byte becomes `%XX`.
fn encode_meta(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let edge_space = b == b' ' && (i == 0 || i == bytes.len() - 1);
        if (0x21..=0x7e).contains(&b) && b != b'%' || b == b' ' && !edge_space {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of `encode_meta` (and of any percent-encoding); bytes that do
/// not form UTF-8 are replaced.
fn decode_meta(text: &str) -> String {
    percent_decode(text)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).expect("two hex digits"));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every byte but unreserved ones as `%XX`, in upper- or lower-case hex.
fn percent_encode_all(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// This backend's own runtime: one worker for the renewal task and the I/O.
/// Its calls block the caller; they work from a plain thread and from inside
/// another runtime alike.
struct Driver {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Driver {
    fn new() -> std::io::Result<Driver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("synlink-state")
            .enable_all()
            .build()?;
        Ok(Driver {
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("present until dropped")
            .handle()
    }

    /// Runs `future` to completion on this runtime. Inside another runtime,
    /// `block_on` is not allowed, so a scoped thread does it.
    fn run<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let handle = self.handle();
        if tokio::runtime::Handle::try_current().is_err() {
            return handle.block_on(future);
        }
        std::thread::scope(|scope| {
            scope
                .spawn(|| handle.block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which is not allowed inside another one.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(account_url: &str, container: &str, key: &str) -> BlobConfig {
        BlobConfig {
            account_url: account_url.to_owned(),
            container: container.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn the_blob_url_keeps_the_account_path_and_encodes_the_key() {
        let url = blob_url(&config(
            "https://azurite.test:10000/devstoreaccount1/",
            "state",
            "prod/teams one.json",
        ))
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://azurite.test:10000/devstoreaccount1/state/prod/teams%20one.json"
        );
    }

    #[test]
    fn bad_names_and_a_sas_in_the_url_are_refused() {
        for (url, container, key) in [
            ("https://a.blob.core.windows.net", "St", "k"),
            ("https://a.blob.core.windows.net", "a--b", "k"),
            ("https://a.blob.core.windows.net", "state", ""),
            ("https://a.blob.core.windows.net", "state", "/k"),
            ("https://a.blob.core.windows.net?sv=1&sig=abc", "state", "k"),
            ("ftp://a", "state", "k"),
        ] {
            let err = blob_url(&config(url, container, key)).unwrap_err();
            assert!(
                matches!(err, StateError::BadConfig { .. }),
                "{url} {container} {key}"
            );
        }
    }

    #[test]
    fn a_sas_needs_a_signature_and_never_shows() {
        assert!(SasToken::new("sv=2021&sp=r").is_err());
        let sas = SasToken::new("?sv=2021&sig=c2VjcmV0%2Bc2lnbg%3D%3D").unwrap();
        assert_eq!(format!("{sas:?}"), "SasToken(***)");
        assert_eq!(format!("{:?}", BlobAuth::Sas(sas.clone())), "Sas(***)");
        let forms = sas.secret_forms();
        for form in [
            "c2VjcmV0%2Bc2lnbg%3D%3D",
            "c2VjcmV0+c2lnbg==",
            "c2VjcmV0%2bc2lnbg%3d%3d",
        ] {
            assert!(forms.iter().any(|f| f == form), "{form} in {forms:?}");
        }
    }

    #[test]
    fn metadata_values_round_trip_through_ascii() {
        for text in ["synlink apply", " édith ", "100%", "a\nb", ""] {
            let encoded = encode_meta(text);
            assert!(
                encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{encoded}"
            );
            assert!(!encoded.starts_with(' ') && !encoded.ends_with(' '));
            assert_eq!(decode_meta(&encoded), text);
        }
    }

    #[test]
    fn the_holder_round_trips_through_metadata() {
        let holder = LockInfo::current("synlink apply --auto-approve");
        let meta = holder_metadata(&holder);
        assert_eq!(holder_from_metadata(&meta), Some(holder));
        assert_eq!(holder_from_metadata(&HashMap::new()), None);
    }

    #[test]
    fn queries_are_cut_from_every_url_in_a_message() {
        assert_eq!(
            strip_queries(
                "error sending request for url (https://azurite.test:9/a/b?comp=lease&sv=1&sig=x%2B) and https://h/p?q \"x?y\""
            ),
            "error sending request for url (https://azurite.test:9/a/b?…) and https://h/p?… \"x?y\""
        );
    }

    #[test]
    fn snapshot_ids_show_to_the_second() {
        assert_eq!(
            snapshot_time("2026-12-01T14:03:00.1234567Z"),
            "2026-12-01T14:03:00Z"
        );
        assert_eq!(snapshot_time("odd"), "odd");
    }
}
