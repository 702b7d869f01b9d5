//! The running server: `Emulator::start` (load or create the store, bind, optional TLS,
//! the accept loop, the background saver), `shutdown` (stop accepting, let connections
//! finish within a grace period, save), and `serve`, the `synlink emulator` command
//! (prints `listening on URL`, stops on SIGTERM or Ctrl-C after saving).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::auth;
use crate::clock::now_ms;
use crate::config::{Config, EmulatorArgs};
use crate::console;
use crate::error::EmulatorError;
use crate::persist::Persist;
use crate::pipeline;
use crate::principal::Principal;
use crate::request_log::RequestLog;
use crate::shared::{lock, Shared};
use crate::store::{fold, Store};
use crate::throttle::Throttle;
use crate::tls;

/// How long shutdown waits for open connections.
const GRACE: Duration = Duration::from_secs(5);
/// How often the background saver looks for changes.
const SAVE_EVERY: Duration = Duration::from_millis(100);

/// A running emulator.
pub struct Emulator {
    shared: Arc<Shared>,
    url: String,
    stop: watch::Sender<bool>,
    accept: JoinHandle<()>,
    saver: Option<JoinHandle<()>>,
    temp_tls_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Binds, spawns the server and returns once it accepts connections.
    pub async fn start(config: Config) -> Result<Emulator, EmulatorError> {
        config
            .faults
            .validate()
            .map_err(EmulatorError::InvalidConfig)?;
        if !config.listen.ip().is_loopback() && !config.allow_remote {
            return Err(EmulatorError::RemoteNotAllowed {
                addr: config.listen,
            });
        }
        let persist = config.data_dir.as_deref().map(Persist::new).transpose()?;
        let loaded = match &persist {
            Some(p) => p.load()?,
            None => None,
        };
        let mut store = loaded.unwrap_or_else(|| {
            Store::new(
                config
                    .tenant_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                config
                    .bootstrap_principal
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            )
        });
        if let Some(tenant) = &config.tenant_id {
            store.tenant_id.clone_from(tenant);
        }
        if let Some(oid) = &config.bootstrap_principal {
            store.bootstrap.clone_from(oid);
            store
                .principals
                .entry(fold(oid))
                .or_insert_with(|| Principal {
                    object_id: oid.clone(),
                    display_name: "bootstrap".to_owned(),
                    principal_type: "User".to_owned(),
                    created_ms: 0,
                });
        }

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;

        let (tls, temp_tls_dir) = if config.tls {
            let (dir, temp) = if let Some(p) = &persist {
                (p.dir().join("tls"), None)
            } else {
                let d =
                    std::env::temp_dir().join(format!("synlink-emulator-{}", uuid::Uuid::new_v4()));
                (d.clone(), Some(d))
            };
            (Some(tls::make(&dir, addr.ip())?), temp)
        } else {
            (None, None)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        store.rebase(&url);

        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Mutex::new(config.faults.clone()),
            initial_faults: config.faults.clone(),
            log: Mutex::new(RequestLog::default()),
            throttle: Mutex::new(Throttle::default()),
            seq: AtomicU64::new(0),
            base_url: url.clone(),
            identity_header: config.identity_header.clone(),
            github_request_token: config.github_request_token.clone(),
            log_requests: config.log_requests,
            dirty: AtomicBool::new(persist.is_some()),
            persist,
            tls_ca_file: tls.as_ref().map(|t| t.ca_file.clone()),
        });

        let (stop, stop_rx) = watch::channel(false);
        let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config));
        let accept = tokio::spawn(accept_loop(
            listener,
            acceptor,
            Arc::clone(&shared),
            stop_rx.clone(),
        ));
        let saver = shared
            .persist
            .is_some()
            .then(|| tokio::spawn(save_loop(Arc::clone(&shared), stop_rx)));
        Ok(Emulator {
            shared,
            url,
            stop,
            accept,
            saver,
            temp_tls_dir,
        })
    }

    /// `http://127.0.0.1:PORT` (https with TLS).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Object id of the bootstrap principal (Owner of every subscription).
    pub fn bootstrap_principal(&self) -> String {
        lock(&self.shared.store).bootstrap.clone()
    }

    /// Tenant id of the emulated directory.
    pub fn tenant_id(&self) -> String {
        lock(&self.shared.store).tenant_id.clone()
    }

    /// The CA certificate file to trust, with TLS.
    pub fn tls_ca_file(&self) -> Option<PathBuf> {
        self.shared.tls_ca_file.clone()
    }

    /// A JWT for principal `oid` and `audience`, valid for a day; the principal becomes
    /// known to the directory (already replicated).
    pub fn mint_token(&self, oid: &str, audience: &str) -> String {
        let tenant = {
            let mut store = lock(&self.shared.store);
            store
                .principals
                .entry(fold(oid))
                .or_insert_with(|| Principal {
                    object_id: oid.to_owned(),
                    display_name: oid.to_owned(),
                    principal_type: "User".to_owned(),
                    created_ms: 0,
                });
            store.tenant_id.clone()
        };
        auth::mint(oid, &tenant, audience, now_ms() / 1000, 86_400)
    }

    /// Stops accepting, lets open connections finish (5 s at most), saves.
    pub async fn shutdown(self) -> Result<(), EmulatorError> {
        let _ = self.stop.send(true);
        let _ = self.accept.await;
        if let Some(saver) = self.saver {
            let _ = saver.await;
        }
        let result = save_now(&self.shared);
        if let Some(dir) = self.temp_tls_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        result
    }
}

fn save_now(shared: &Shared) -> Result<(), EmulatorError> {
    let Some(persist) = &shared.persist else {
        return Ok(());
    };
    shared.dirty.store(false, Ordering::SeqCst);
    let snapshot = lock(&shared.store).clone();
    persist.save(&snapshot)
}

/// Saves changes in the background. The pause between saves grows with the time a save
/// takes (ten times it, at least `SAVE_EVERY`), so a big store under heavy writes spends
/// little time holding the store lock for the snapshot.
async fn save_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut pause = SAVE_EVERY;
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        if shared.dirty.swap(false, Ordering::SeqCst) {
            let s = Arc::clone(&shared);
            let started = std::time::Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                let snapshot = lock(&s.store).clone();
                s.persist.as_ref().map(|p| p.save(&snapshot))
            })
            .await;
            pause = SAVE_EVERY
                .max(started.elapsed() * 10)
                .min(Duration::from_secs(5));
            if let Ok(Some(Err(e))) = result {
                console::warning(&format!("cannot save state: {e}"));
                shared.dirty.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// Accepts connections until `stop` changes, then shuts down gracefully: every open
/// connection is told to finish (hyper-util's `GracefulShutdown`: in-flight requests are
/// answered, idle keep-alive connections close) and is given `GRACE` to do so; what is
/// still open after it (a stuck client, a TLS handshake that never ends) is aborted.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((stream, _peer)) = accepted else {
            // Out of descriptors or a reset during accept: wait a little and go on.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        connections.spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    {
                        serve_connection(TokioIo::new(tls), shared, watcher).await;
                    }
                }
                None => serve_connection(TokioIo::new(stream), shared, watcher).await,
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
    connections.abort_all();
}

async fn serve_connection<I>(io: I, shared: Arc<Shared>, watcher: Watcher)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| pipeline::handle(Arc::clone(&shared), req));
    let builder = auto::Builder::new(TokioExecutor::new());
    let _ = watcher.watch(builder.serve_connection(io, service)).await;
}

/// `synlink emulator`: starts, prints `listening on URL` on stdout, logs requests on
/// stderr, and stops cleanly (saving) on SIGTERM or Ctrl-C.
pub async fn serve(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let emulator = Emulator::start(Config::from(args)).await?;
    if let Some(ca) = emulator.tls_ca_file() {
        console::tls_ca_file(&ca);
    }
    console::listening(&emulator.url());
    wait_for_stop().await?;
    emulator.shutdown().await
}

#[cfg(unix)]
async fn wait_for_stop() -> Result<(), EmulatorError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_stop() -> Result<(), EmulatorError> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
