//! The one HTTP client for every Azure call: bearer tokens per audience, the
//! client-side throttle (a bucket per subscription, caller and kind, the
//! caller read from the token), the retry policy, request timeouts, and
//! long-running operations polled through `Azure-AsyncOperation` or
//! `Location` (honouring `Retry-After`, bounded per operation). Every request
//! says what its task is doing (`activity`): waiting for a token, on the wire,
//! or waiting on an operation; in a bucket, the requests of changes under way
//! go first (a class of work whose requests start operations raised above the
//! rest), then the refresh's reads, then polls. `--parallelism` bounds the
//! requests on the wire per subscription (and per host outside ARM). Resource code above it deals in paths and JSON only.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::cloud::activity::{self, Class, Phase};
use crate::cloud::auth::{self, Token, TokenSource, ARM_SCOPE, SYNAPSE_SCOPE};
use crate::cloud::error::{CloudError, TransportKind};
use crate::cloud::retry::{self, Backoff, Decision};
use crate::cloud::throttle::{Answer, BucketKey, OpKind, Throttle};

/// A line of progress the caller may show (retries at `-v`, waits).
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// Settings of the client.
#[derive(Clone)]
pub struct Options {
    /// The ARM base URL, without a trailing slash.
    pub arm_endpoint: String,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// The longest wait for one long-running operation.
    pub operation_timeout: Duration,
    /// Retry backoff.
    pub backoff: Backoff,
    /// Polls of a long-running operation follow the server's `Retry-After`
    /// (as Azure's own clients do), capped at `.1`; without one, `.0`.
    pub poll_interval: (Duration, Duration),
    /// Where progress lines go (`None`: nowhere).
    pub logger: Option<Logger>,
    /// The most requests on the wire at once per subscription (ARM's
    /// limits are per subscription), and per host outside ARM (a Synapse
    /// workspace's data plane); `None`: no limit.
    pub max_in_flight: Option<usize>,
}

impl Options {
    /// Defaults for an ARM endpoint.
    pub fn new(arm_endpoint: &str) -> Options {
        Options {
            arm_endpoint: arm_endpoint.trim_end_matches('/').to_owned(),
            request_timeout: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(30 * 60),
            backoff: Backoff::default(),
            poll_interval: (Duration::from_secs(1), Duration::from_secs(60)),
            logger: None,
            max_in_flight: None,
        }
    }
}

/// Counters of what the client sent.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests sent (every attempt).
    pub requests: AtomicU64,
    /// Attempts that were retried.
    pub retries: AtomicU64,
    /// 429 answers.
    pub throttled: AtomicU64,
    /// Requests by `METHOD kind`.
    pub by_kind: Mutex<BTreeMap<String, u64>>,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers we use (lower-case names).
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// The client.
pub struct Client {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    throttle: Throttle,
    options: Options,
    /// Wire slots by lane (a subscription, or a host outside ARM).
    slots: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// The caller's object id, read from the last ARM token (by its expiry).
    principal: Mutex<Option<(time::OffsetDateTime, String)>>,
    /// The class of requests made outside any task.
    unclassed: Arc<Class>,
    /// The class of every operation's polls.
    polls: Arc<Class>,
    /// What was sent.
    pub stats: Stats,
}

/// Builds the reqwest client every call uses (rustls, certificate checks on).
pub fn http_client(request_timeout: Duration) -> reqwest::Client {
    trust_extra_roots(reqwest::Client::builder())
        .use_rustls_tls()
        .timeout(request_timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("synlink/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// The certificate authorities in the PEM file `SSL_CERT_FILE` names, trusted
/// besides the built-in roots (as curl, OpenSSL and Python do): a company's
/// TLS-inspecting proxy, or a local emulator's own CA. Certificates are still
/// verified; a file that cannot be read adds nothing.
pub fn trust_extra_roots(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) else {
        return builder;
    };
    let roots = std::fs::read(path)
        .ok()
        .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default();
    roots
        .into_iter()
        .fold(builder, reqwest::ClientBuilder::add_root_certificate)
}

fn subscription_of(path: &str) -> &str {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => id,
        _ => "",
    }
}

fn path_of(url: &str) -> &str {
    let no_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = no_scheme.find('/').map_or("/", |i| &no_scheme[i..]);
    path.split('?').next().unwrap_or(path)
}

/// The wait Azure asks for: `retry-after-ms` / `x-ms-retry-after-ms` (what
/// Azure's own SDKs read first, for sub-second waits), else `Retry-After` seconds.
fn parse_retry_after(headers: &BTreeMap<String, String>) -> Option<Duration> {
    let ms = ["retry-after-ms", "x-ms-retry-after-ms"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.trim().parse::<u64>().ok()))
        .map(Duration::from_millis);
    ms.or_else(|| {
        headers
            .get("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    })
}

impl Client {
    /// A client with its own reqwest client.
    pub fn new(tokens: Arc<dyn TokenSource>, options: Options) -> Client {
        let http = http_client(options.request_timeout);
        Client::with_http(http, tokens, options)
    }

    /// A client over a given reqwest client (shared with the credentials).
    pub fn with_http(
        http: reqwest::Client,
        tokens: Arc<dyn TokenSource>,
        options: Options,
    ) -> Client {
        Client {
            http,
            tokens,
            throttle: Throttle::new(),
            options,
            slots: Mutex::new(HashMap::new()),
            principal: Mutex::new(None),
            unclassed: Arc::new(Class::new(0)),
            polls: Arc::new(Class::new(activity::POLLS)),
            stats: Stats::default(),
        }
    }

    /// The client-side throttle (what waits in it, for progress).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The object id a token was issued to (its `oid`), read once per token.
    fn principal_of(&self, token: &Token) -> String {
        let mut cached = self
            .principal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*cached {
            Some((expires, oid)) if *expires == token.expires_on => oid.clone(),
            _ => {
                let oid = auth::object_id_of(&token.secret).unwrap_or_default();
                *cached = Some((token.expires_on, oid.clone()));
                oid
            }
        }
    }

    /// The token source (to name the answering credential).
    pub fn tokens(&self) -> &Arc<dyn TokenSource> {
        &self.tokens
    }

    fn log(&self, line: &str) {
        if let Some(l) = &self.options.logger {
            l(line);
        }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.options.arm_endpoint)
        }
    }

    /// The wire slots of a request: its subscription's, or its host's
    /// outside ARM (`None`: no limit).
    fn lane(&self, url: &str, subscription: &str) -> Option<Arc<tokio::sync::Semaphore>> {
        let n = self.options.max_in_flight?;
        let key = if subscription.is_empty() {
            let no_scheme = url.split_once("://").map_or(url, |(_, r)| r);
            no_scheme
                .split('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        } else {
            subscription.to_ascii_lowercase()
        };
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        Some(
            slots
                .entry(key)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(n.max(1))))
                .clone(),
        )
    }

    /// Sends one request with retries. `api_version` is appended unless the
    /// URL has one. ARM calls are throttled per subscription, caller and
    /// kind; data-plane calls (`scope` = Synapse) are not. In a throttle
    /// bucket the request waits with its task's priority.
    pub async fn send(
        &self,
        method: Method,
        path_or_url: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
        scope: &str,
        extra_headers: &[(&str, &str)],
    ) -> Result<Response, CloudError> {
        let class = activity::class().unwrap_or_else(|| self.unclassed.clone());
        self.send_with(
            method,
            path_or_url,
            api_version,
            body,
            scope,
            extra_headers,
            &class,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_with(
        &self,
        method: Method,
        path_or_url: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
        scope: &str,
        extra_headers: &[(&str, &str)],
        class: &Arc<Class>,
    ) -> Result<Response, CloudError> {
        let mut url = self.url(path_or_url);
        if let Some(v) = api_version.filter(|_| !url.contains("api-version=")) {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("api-version=");
            url.push_str(v);
        }
        let path = path_of(&url).to_owned();
        let kind = OpKind::of(&method);
        let subscription = subscription_of(&path).to_owned();
        let on_wire = if kind == OpKind::Read {
            Phase::Reading
        } else {
            Phase::Writing
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.tokens.token(scope).await?;
            let bucket = (scope == ARM_SCOPE && !subscription.is_empty())
                .then(|| BucketKey::new(&subscription, &self.principal_of(&token), kind));
            if let Some(bucket) = &bucket {
                let _waiting = activity::enter(Phase::Throttled);
                self.throttle.acquire(bucket, class).await;
            }
            let result = {
                let _phase = activity::enter(on_wire);
                // `--parallelism` bounds requests on the wire, not operations:
                // a long-running operation waiting between polls holds no slot.
                let lane = self.lane(&url, &subscription);
                let _slot = match &lane {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                self.attempt(&method, &url, &path, body, &token, scope, extra_headers)
                    .await
            };
            if let Some(bucket) = &bucket {
                let answer = match &result {
                    Ok(r) => Answer::Counted(r.header(kind.header()).and_then(|v| v.parse().ok())),
                    Err(CloudError::Azure {
                        status: 429,
                        retry_after,
                        ..
                    }) => Answer::Throttled(*retry_after),
                    Err(CloudError::Azure { .. }) => Answer::Counted(None),
                    Err(_) => Answer::Lost,
                };
                self.throttle.finish(bucket, answer);
            }
            let err = match result {
                Ok(r) => return Ok(r),
                Err(e) => e,
            };
            if err.status() == Some(429) {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            }
            match retry::decide(&err, attempt, self.options.backoff, rand::random::<f64>()) {
                Decision::Fail => return Err(err),
                Decision::RetryAfter(wait) => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    self.log(&format!(
                        "retry {attempt}/{} in {:.1}s: {err}",
                        retry::MAX_ATTEMPTS - 1,
                        wait.as_secs_f64()
                    ));
                    let _waiting = activity::enter(if err.status() == Some(429) {
                        Phase::Throttled
                    } else {
                        on_wire
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        path: &str,
        body: Option<&Value>,
        token: &Token,
        scope: &str,
        extra_headers: &[(&str, &str)],
    ) -> Result<Response, CloudError> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        {
            let kind = if scope == SYNAPSE_SCOPE {
                "synapse"
            } else {
                "arm"
            };
            let mut by_kind = self
                .stats
                .by_kind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *by_kind.entry(format!("{method} {kind}")).or_default() += 1;
        }
        let mut req = self
            .http
            .request(method.clone(), url)
            .bearer_auth(token.secret.expose());
        for (k, v) in extra_headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |e: reqwest::Error| {
            let kind = if e.is_timeout() {
                TransportKind::Timeout
            } else if let Some(kind) = TransportKind::of(&e) {
                kind
            } else if e.is_connect() || e.is_request() || e.is_body() {
                TransportKind::Connection
            } else {
                TransportKind::Other
            };
            let e = e.without_url();
            // reqwest's own message says little ("error sending request"): the
            // deepest cause says what happened ("Connection refused (os error 111)").
            let root = crate::cloud::error::root_cause(&e);
            let message = if root == e.to_string() {
                root
            } else {
                format!("{e}: {root}")
            };
            CloudError::Transport {
                method: method.to_string(),
                path: path.to_owned(),
                kind,
                message,
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let headers: BTreeMap<String, String> = resp
            .headers()
            .iter()
            .filter(|(k, _)| *k != reqwest::header::AUTHORIZATION)
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        let bytes = resp.bytes().await.map_err(transport)?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status >= 400 {
            let error = body.get("error").unwrap_or(&body);
            let code = error
                .get("code")
                .and_then(Value::as_str)
                .map_or_else(|| format!("Http{status}"), str::to_owned);
            let message = error.get("message").and_then(Value::as_str).map_or_else(
                || String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                str::to_owned,
            );
            return Err(CloudError::Azure {
                method: method.to_string(),
                path: path.to_owned(),
                status,
                code,
                message,
                retry_after: parse_retry_after(&headers),
            });
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// GET of an ARM resource; `None` on 404.
    pub async fn get(&self, path: &str, api_version: &str) -> Result<Option<Value>, CloudError> {
        match self
            .send(Method::GET, path, Some(api_version), None, ARM_SCOPE, &[])
            .await
        {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of an ARM list, following `nextLink`. A 404 (parent gone) is empty.
    pub async fn list(&self, path: &str, api_version: &str) -> Result<Vec<Value>, CloudError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut first = true;
        while let Some(url) = next.take() {
            let version = first.then_some(api_version);
            first = false;
            let body = match self
                .send(Method::GET, &url, version, None, ARM_SCOPE, &[])
                .await
            {
                Ok(r) => r.body,
                Err(e) if e.is_not_found() => return Ok(items),
                Err(e) => return Err(e),
            };
            if let Some(values) = body.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }
            next = body
                .get("nextLink")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
        Ok(items)
    }

    /// PUT (or PATCH) of an ARM resource, waiting for its operation to end;
    /// returns the resource as Azure holds it afterwards.
    pub async fn put(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<Value, CloudError> {
        self.put_with(method, path, api_version, body, true).await
    }

    /// As `put`; with `read_back` false, a finished operation whose status
    /// carries no resource is not followed by a GET (the caller needs nothing
    /// from the answer), and the PUT's own answer is returned.
    pub async fn put_with(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: &Value,
        read_back: bool,
    ) -> Result<Value, CloudError> {
        let r = self
            .send(method, path, Some(api_version), Some(body), ARM_SCOPE, &[])
            .await?;
        let waited = self.wait(path, api_version, &r).await?;
        if r.status == 200 && !is_in_progress(&r.body) {
            return Ok(r.body);
        }
        if let Some(final_body) = waited.filter(|b| b.get("id").is_some()) {
            return Ok(final_body);
        }
        if !read_back {
            return Ok(r.body);
        }
        self.get(path, api_version)
            .await?
            .ok_or_else(|| CloudError::Unexpected {
                path: path.to_owned(),
                message: "the resource is missing after its creation succeeded".into(),
            })
    }

    /// DELETE of an ARM resource, waiting for its operation to end. Absent is fine.
    pub async fn delete(&self, path: &str, api_version: &str) -> Result<(), CloudError> {
        match self
            .send(
                Method::DELETE,
                path,
                Some(api_version),
                None,
                ARM_SCOPE,
                &[],
            )
            .await
        {
            Ok(r) => self.wait(path, api_version, &r).await.map(|_| ()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Polls a long-running operation started by `first` to its end. Returns
    /// the final body of a `Location` poll, if any.
    async fn wait(
        &self,
        path: &str,
        api_version: &str,
        first: &Response,
    ) -> Result<Option<Value>, CloudError> {
        let async_op = first.header("azure-asyncoperation").map(str::to_owned);
        let location = first.header("location").map(str::to_owned);
        let running = matches!(first.status, 201 | 202) || is_in_progress(&first.body);
        if !running {
            return Ok(None);
        }
        let started = Instant::now();
        let mut retry_after = parse_retry_after(&first.headers);
        let (fallback, max) = self.options.poll_interval;
        // Work of this kind waits on Azure for long: the next requests of its
        // class go first in the throttle, so operations start early.
        activity::raise(
            i64::try_from(retry_after.map_or(fallback, |r| r.min(max)).as_millis())
                .unwrap_or(i64::MAX / 8)
                .max(1),
        );
        loop {
            if started.elapsed() > self.options.operation_timeout {
                return Err(CloudError::OperationTimeout {
                    path: path.to_owned(),
                    waited: started.elapsed(),
                });
            }
            {
                let _waiting = activity::enter(Phase::Operation);
                tokio::time::sleep(retry_after.map_or(fallback, |r| r.min(max))).await;
            }
            if let Some(url) = &async_op {
                let r = self
                    .send_with(Method::GET, url, None, None, ARM_SCOPE, &[], &self.polls)
                    .await?;
                retry_after = parse_retry_after(&r.headers);
                let status = r
                    .body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("InProgress");
                match status {
                    "Succeeded" => return Ok(None),
                    "Failed" | "Canceled" => return Err(operation_failed(path, status, &r.body)),
                    _ => {}
                }
            } else if let Some(url) = &location {
                let r = self
                    .send_with(Method::GET, url, None, None, ARM_SCOPE, &[], &self.polls)
                    .await?;
                retry_after = parse_retry_after(&r.headers);
                if r.status != 202 {
                    return Ok(Some(r.body));
                }
            } else {
                // No operation URL: poll the resource's own provisioning state.
                let r = self
                    .send_with(
                        Method::GET,
                        path,
                        Some(api_version),
                        None,
                        ARM_SCOPE,
                        &[],
                        &self.polls,
                    )
                    .await;
                match r {
                    Ok(r) if is_in_progress(&r.body) => {}
                    Ok(r) => {
                        let state = provisioning_state(&r.body).unwrap_or("Succeeded");
                        if state == "Failed" || state == "Canceled" {
                            return Err(operation_failed(path, state, &r.body));
                        }
                        return Ok(Some(r.body));
                    }
                    Err(e) if e.is_not_found() => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// A Synapse data-plane request (Synapse audience, no ARM throttle).
    pub async fn data_plane(
        &self,
        method: Method,
        url: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Response, CloudError> {
        self.send(method, url, Some(api_version), body, SYNAPSE_SCOPE, &[])
            .await
    }

    /// Every page of a Synapse list that pages with `x-ms-continuation`.
    pub async fn data_plane_list(
        &self,
        url: &str,
        api_version: &str,
    ) -> Result<Vec<Value>, CloudError> {
        let mut items = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let headers: Vec<(&str, &str)> = continuation
                .as_deref()
                .map(|c| ("x-ms-continuation", c))
                .into_iter()
                .collect();
            let r = self
                .send(
                    Method::GET,
                    url,
                    Some(api_version),
                    None,
                    SYNAPSE_SCOPE,
                    &headers,
                )
                .await?;
            match &r.body {
                Value::Array(values) => items.extend(values.iter().cloned()),
                body => items.extend(
                    body.get("value")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .cloned(),
                ),
            }
            continuation = r
                .header("x-ms-continuation")
                .filter(|c| !c.is_empty())
                .map(str::to_owned);
            if continuation.is_none() {
                return Ok(items);
            }
        }
    }
}

fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn is_in_progress(body: &Value) -> bool {
    provisioning_state(body).is_some_and(|s| !matches!(s, "Succeeded" | "Failed" | "Canceled"))
}

fn operation_failed(path: &str, status: &str, body: &Value) -> CloudError {
    // Old AML answers nest the error twice.
    let error = body
        .get("error")
        .map_or(&Value::Null, |e| e.get("error").unwrap_or(e));
    CloudError::OperationFailed {
        path: path.to_owned(),
        status: status.to_owned(),
        code: error
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("OperationFailed")
            .to_owned(),
        message: error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{path_of, subscription_of};

    #[test]
    fn paths_and_subscriptions_are_read_from_urls() {
        assert_eq!(
            path_of("https://arm.test:9/subscriptions/S/x?api-version=1"),
            "/subscriptions/S/x"
        );
        assert_eq!(subscription_of("/subscriptions/S/resourceGroups/rg"), "S");
        assert_eq!(subscription_of("/roleAssignments"), "");
    }
}
