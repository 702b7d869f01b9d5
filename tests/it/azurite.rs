//! Azurite (npm `azurite`, blob service only) for the tests of the remote
//! state: started on a free port of 127.0.0.1, in memory, over https (a
//! certificate from a CA made for it; synlink reaches the state only over
//! https, whatever the host), with a `synlink-state` container, an account
//! SAS signed with Azurite's well-known development key, and bearer tokens
//! accepted.
//! Shared by the library-level tests (`state_blob.rs`) and those of the real
//! binary (`team_state.rs`).
//!
//! Azurite is found at `$SYNLINK_AZURITE`, else `target/azurite/node_modules/
//! .bin/azurite-blob` (what `.ci/run` installs: `npm install --prefix
//! target/azurite azurite@3.35.0`), else `azurite-blob` on the `PATH`. Without
//! it the tests fail under CI (`CI` set) and are skipped with a notice
//! elsewhere.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::Mac as _;
use synlink::state::blob::{BlobAuth, BlobConfig, BlobStore, SasToken};

/// Azurite's well-known development account (documented, not a secret).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
pub const CONTAINER: &str = "synlink-state";

/// A running Azurite blob service; stopped on drop.
pub struct Azurite {
    child: Child,
    /// `https://127.0.0.1:PORT/devstoreaccount1`.
    pub account_url: String,
    /// The PEM of the CA that signed its certificate.
    pub ca_pem: String,
    /// That PEM in a file, for `SSL_CERT_FILE` of a synlink process.
    pub ca_file: PathBuf,
    /// An account SAS (blob service, every resource type, read/write/delete/
    /// list/add/create/update/process), valid for a day.
    pub sas: String,
    /// With `start_logged`: Azurite's debug log (every request and answer).
    debug_log: Option<PathBuf>,
    _dir: tempfile::TempDir,
}

/// One request Azurite logged, with its answer's status.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `PUT`, `GET`, ...
    pub method: String,
    /// The URL as Azurite saw it (query and all).
    pub url: String,
    /// The request headers (lower-case names).
    pub headers: serde_json::Value,
    /// The answer's status, once answered.
    pub status: Option<u16>,
}

impl Logged {
    /// A request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(serde_json::Value::as_str)
    }

    /// Whether it was for the blob `key` of the state container (or one of
    /// its snapshots), not the container.
    pub fn is_for(&self, key: &str) -> bool {
        let path = self.url.split('?').next().unwrap_or_default();
        path.ends_with(&format!("/{CONTAINER}/{key}"))
    }

    /// Whether the query has `comp=`: a lease, metadata, snapshot or list
    /// request rather than a whole-blob upload or download.
    pub fn comp(&self) -> Option<&str> {
        self.url
            .split_once('?')?
            .1
            .split('&')
            .find_map(|p| p.strip_prefix("comp="))
    }
}

impl Azurite {
    /// Starts Azurite with a `synlink-state` container, or `None` (with a
    /// notice) when it is not installed outside CI. Bearer tokens are
    /// accepted (`--oauth basic`: Azurite checks a token's audience, issuer
    /// and times, not its signature).
    pub fn start() -> Option<Azurite> {
        Azurite::start_with(false)
    }

    /// As `start`, keeping Azurite's debug log, for tests that check what it
    /// received (`requests`).
    pub fn start_logged() -> Option<Azurite> {
        Azurite::start_with(true)
    }

    fn start_with(logged: bool) -> Option<Azurite> {
        let Some(program) = azurite_program() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "azurite is not installed: CI must run the blob state tests (npm install --prefix target/azurite azurite@3.35.0, or set SYNLINK_AZURITE to an azurite-blob program)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "skipped: azurite is not installed (npm install --prefix target/azurite azurite@3.35.0)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = Command::new(&program);
        let (ca_pem, cert, key) = tls_files();
        std::fs::write(dir.path().join("cert.pem"), cert).expect("cert");
        std::fs::write(dir.path().join("key.pem"), key).expect("key");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca_pem).expect("ca");
        command.args(["--cert", "cert.pem", "--key", "key.pem", "--oauth", "basic"]);
        let debug_log = logged.then(|| dir.path().join("debug.log"));
        if let Some(log) = &debug_log {
            command.arg("--debug").arg(log);
        }
        let mut child = command
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--extentMemoryLimit",
                "64",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
                "--silent",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        // Keeps reading, so Azurite never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("azurite did not start: {seen:?} {err}");
            };
            if let Some((_, url)) = line.split_once("successfully listens on ") {
                break url.trim().to_owned();
            }
            seen.push(line);
        };
        let azurite = Azurite {
            child,
            account_url: format!("{url}/{ACCOUNT}"),
            ca_pem,
            ca_file,
            sas: account_sas(),
            debug_log,
            _dir: dir,
        };
        azurite.http(
            reqwest::Method::PUT,
            &format!("{CONTAINER}?restype=container"),
            &[],
            Vec::new(),
        );
        Some(azurite)
    }

    /// The config of the state blob `key`.
    pub fn config(&self, key: &str) -> BlobConfig {
        BlobConfig {
            account_url: self.account_url.clone(),
            container: CONTAINER.to_owned(),
            key: key.to_owned(),
        }
    }

    /// A store for `key`, authorised by the SAS.
    pub fn store(&self, key: &str) -> BlobStore {
        self.store_with(key, &self.sas)
    }

    /// A store for `key`, authorised by this SAS, trusting Azurite's CA.
    pub fn store_with(&self, key: &str, sas: &str) -> BlobStore {
        BlobStore::with_client(
            &self.config(key),
            BlobAuth::Sas(SasToken::new(sas).expect("a SAS")),
            self.client(),
        )
        .expect("store")
    }

    /// A raw request (`path` under the account, SAS appended); returns the
    /// status, the headers and the body.
    pub fn http(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, HashMap<String, String>, Vec<u8>) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}/{path}{sep}{}", self.account_url, self.sas);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut request = self
                .client()
                .request(method, url)
                .header("x-ms-version", "2021-08-06")
                .body(body);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let answer = request.send().await.expect("azurite answers");
            let status = answer.status().as_u16();
            let headers = answer
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = answer.bytes().await.expect("body").to_vec();
            (status, headers, body)
        })
    }

    /// Sends it a signal (`STOP`, `CONT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// A reqwest client that trusts this Azurite's certificate.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("pem"),
            )
            .build()
            .expect("client")
    }

    /// Every request logged so far, in arrival order (`start_logged` only).
    pub fn requests(&self) -> Vec<Logged> {
        let path = self.debug_log.as_ref().expect("started with start_logged");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut out: Vec<Logged> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(_time), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if let Some(req) = rest.split_once("RequestMethod=").map(|(_, r)| r) {
                let (method, req) = req.split_once(" RequestURL=").unwrap_or((req, ""));
                let (url, req) = req.split_once(" RequestHeaders:").unwrap_or((req, ""));
                let headers = req.rsplit_once(" ClientIP=").map_or(req, |(h, _)| h);
                by_id.insert(id.to_owned(), out.len());
                out.push(Logged {
                    method: method.to_owned(),
                    url: url.to_owned(),
                    headers: serde_json::from_str(headers).unwrap_or_default(),
                    status: None,
                });
            } else if let Some(end) = rest.split_once("End response.").map(|(_, r)| r) {
                let status = end
                    .split_once("StatusCode=")
                    .and_then(|(_, s)| s.split_whitespace().next())
                    .and_then(|s| s.parse().ok());
                if let Some(&i) = by_id.get(id) {
                    out[i].status = status;
                }
            }
        }
        out
    }

    /// The state writes that went through: whole-blob uploads of `key` that
    /// carried a lease id and were answered 201 (taking the lock, naming the
    /// holder and keeping snapshots are not writes of the state).
    pub fn state_writes(&self, key: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| {
                r.method == "PUT"
                    && r.is_for(key)
                    && r.comp().is_none()
                    && r.header("x-ms-lease-id").is_some()
                    && r.status == Some(201)
            })
            .count()
    }

    /// The properties of the blob `key` (its response headers; `None` if it
    /// does not exist): `x-ms-lease-state`, `x-ms-meta-synlink_holder_pid`, ...
    pub fn properties(&self, key: &str) -> Option<HashMap<String, String>> {
        let (status, headers, _) = self.http(
            reqwest::Method::HEAD,
            &format!("{CONTAINER}/{key}"),
            &[],
            Vec::new(),
        );
        (status == 200).then_some(headers)
    }

    /// The state blob's bytes as stored.
    pub fn blob(&self, key: &str) -> Vec<u8> {
        let (status, _, body) = self.http(
            reqwest::Method::GET,
            &format!("{CONTAINER}/{key}"),
            &[],
            Vec::new(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        body
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA, and a server certificate for `127.0.0.1` signed by it (with the CA
/// in its chain) and its key: (CA PEM, chain PEM, key PEM).
pub fn tls_files() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("key");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    (
        ca.pem(),
        format!("{}{}", leaf.pem(), ca.pem()),
        leaf_key.serialize_pem(),
    )
}

pub fn azurite_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SYNLINK_AZURITE") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/azurite/node_modules/.bin/azurite-blob");
    if local.exists() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("azurite-blob"))
            .find(|p| p.exists())
    })
}

/// An account SAS signed with the development key (the 2020-12-06 string to
/// sign: account, permissions, services, resource types, start, expiry, IP,
/// protocol, version, encryption scope, and a closing newline).
pub fn account_sas() -> String {
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("format");
    let (permissions, services, types, version) = ("rwdlacup", "b", "sco", "2021-08-06");
    let to_sign =
        format!("{ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n\n{version}\n\n");
    let key = base64::engine::general_purpose::STANDARD
        .decode(ACCOUNT_KEY)
        .expect("key");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("hmac");
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sig: String = sig
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            _ => char::from(b).to_string(),
        })
        .collect();
    format!("sv={version}&ss={services}&srt={types}&sp={permissions}&se={expiry}&sig={sig}")
}

/// The `sig` value of a SAS, as given.
pub fn signature(sas: &str) -> &str {
    sas.split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .expect("sig")
}
