//! The life of one request: request id and timing, the families of routes (controls,
//! token service, `/discovery`, the Synapse data plane at `/_synapse/{ws}`, the
//! regional `/rp/workspaces/…` compute path, ARM), latency and fault injection, the
//! 20 MB body limit (413), bearer authentication (401), ARM throttling (429), the
//! handler under the store lock, the headers every answer carries, and the request log.
//! Answers never panic: every failure is an `ArmError` in Azure's envelope.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::Value;

use crate::arm_error::ArmError;
use crate::auth::{self, Audience, Caller};
use crate::clock::now_ms;
use crate::console;
use crate::control;
use crate::faults::Injected;
use crate::lro;
use crate::rbac;
use crate::reply::Reply;
use crate::request::{decode, Ctx, Query};
use crate::request_log::Entry;
use crate::routes::target::{self, Target};
use crate::routes::{self, cloud_metadata, ml_workspaces, synapse_data_plane};
use crate::shared::{lock, Shared};
use crate::store::Kind;
use crate::throttle::{Decision, OpClass};
use crate::token_service;

/// Largest request body accepted (ARM's limit); larger ones answer 413.
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;
/// Larger request bodies are not kept in the request log.
const LOGGED_BODY_LIMIT: usize = 64 * 1024;
/// How much of an oversized body is read and dropped before answering 413.
const DRAIN_LIMIT: usize = 128 * 1024 * 1024;

/// A request whose connection is dropped on purpose.
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

enum Family {
    Control,
    Token,
    Counted,
}

/// What the handler stage produced.
struct Outcome {
    reply: Reply,
    principal: Option<String>,
    operation: String,
}

/// Handles one request end to end.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let started = Instant::now();
    let start_ms = now_ms();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let raw_path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| raw_path.clone(), |p| p.as_str().to_owned());
    let path = {
        let p = decode(&raw_path);
        let trimmed = p.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    let query = Query::parse(parts.uri.query());

    let family = if path == "/_emulator" || path.starts_with("/_emulator/") {
        Family::Control
    } else if token_service::is_token_path(&path) {
        Family::Token
    } else {
        Family::Counted
    };
    let seq = match family {
        Family::Counted => shared.seq.fetch_add(1, Ordering::SeqCst) + 1,
        _ => 0,
    };

    let mut injected = None;
    let mut fault_retry_ms = 1000;
    if matches!(family, Family::Counted) {
        let (latency, fault) = {
            let mut faults = lock(&shared.faults);
            let latency = faults.scaled(faults.latency_ms);
            fault_retry_ms = faults.scaled(1000).max(1);
            let fault = faults
                .take_target(method.as_str(), &path)
                .or_else(|| faults.random_failure(seq));
            (latency, fault)
        };
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        injected = fault;
    }

    let body_result = read_body(&parts.headers, body).await;
    let received = Received {
        seq,
        request_id,
        method: method.clone(),
        path: path_and_query,
        started,
        start_ms,
        body: body_result.as_ref().ok().and_then(|b| logged_json(b)),
    };

    let outcome = match (injected, body_result) {
        (Some(Injected::Drop), _) => {
            record(
                &shared,
                received,
                None,
                "fault: dropped connection".to_owned(),
                Sent::nothing(),
            );
            return Err(Dropped);
        }
        (Some(Injected::Status { status, code }), _) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut e = ArmError::new(
                status,
                &code,
                format!("The request failed by fault injection ({code})."),
            );
            if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
            {
                e = e
                    .with_header("retry-after", fault_retry_ms.div_ceil(1000).to_string())
                    .with_header("retry-after-ms", fault_retry_ms.to_string());
            }
            Outcome {
                reply: e.into_reply(),
                principal: None,
                operation: format!("fault: {}", status.as_u16()),
            }
        }
        (None, Err(e)) => Outcome {
            reply: e.into_reply(),
            principal: None,
            operation: "invalid body".to_owned(),
        },
        (None, Ok(bytes)) => match family {
            Family::Control => {
                let rest = path
                    .strip_prefix("/_emulator")
                    .unwrap_or("")
                    .trim_start_matches('/');
                let reply = control::handle(&shared, &method, rest, &query, &bytes)
                    .unwrap_or_else(ArmError::into_reply);
                if method != Method::GET {
                    shared.dirty.store(true, Ordering::SeqCst);
                }
                Outcome {
                    reply,
                    principal: None,
                    operation: format!("{method} _emulator/{rest}"),
                }
            }
            Family::Token => {
                let reply =
                    token_service::handle(&shared, &method, &path, &query, &parts.headers, &bytes);
                shared.dirty.store(true, Ordering::SeqCst);
                Outcome {
                    reply,
                    principal: None,
                    operation: format!("{method} token"),
                }
            }
            Family::Counted => {
                let outcome =
                    serve_counted(&shared, &method, &path, &query, &parts.headers, &bytes);
                // "Committed, answer lost": the write above was applied; its answer may
                // now be replaced by what a client sees when a gateway loses it.
                let lost = (is_write(&method) && outcome.reply.status.is_success())
                    .then(|| lock(&shared.faults).lost_answer(seq))
                    .flatten();
                match lost {
                    None => outcome,
                    Some(Injected::Drop) => {
                        record(
                            &shared,
                            received,
                            outcome.principal,
                            format!(
                                "{} (applied; answer lost: dropped connection)",
                                outcome.operation
                            ),
                            Sent::nothing(),
                        );
                        return Err(Dropped);
                    }
                    Some(Injected::Status { status, code }) => {
                        let status = StatusCode::from_u16(status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        Outcome {
                            reply: ArmError::new(
                                status,
                                &code,
                                format!("The request failed by fault injection ({code}) after it was applied."),
                            )
                            .into_reply(),
                            principal: outcome.principal,
                            operation: format!(
                                "{} (applied; answer lost: {})",
                                outcome.operation,
                                status.as_u16()
                            ),
                        }
                    }
                }
            }
        },
    };

    let Outcome {
        reply,
        principal,
        operation,
    } = outcome;
    let (response, sent) = build_response(reply, &received.request_id, &method);
    record(&shared, received, principal, operation, sent);
    Ok(response)
}

/// What a request brought, as the log keeps it.
struct Received {
    seq: u64,
    request_id: String,
    method: Method,
    /// Path and query as received.
    path: String,
    started: Instant,
    start_ms: u64,
    /// The body when JSON (and not too large).
    body: Option<Value>,
}

/// What the emulator sent back, as the log keeps it.
struct Sent {
    /// 0 when the connection was dropped instead.
    status: u16,
    /// Every header of the answer, lower-case names (repeated ones joined by `, `).
    headers: BTreeMap<String, String>,
    /// The body when JSON (and not too large).
    body: Option<Value>,
}

impl Sent {
    /// A dropped connection: no status, no headers, no body.
    fn nothing() -> Sent {
        Sent {
            status: 0,
            headers: BTreeMap::new(),
            body: None,
        }
    }
}

/// A body as the log keeps it: JSON up to `LOGGED_BODY_LIMIT` bytes, else nothing.
fn logged_json(bytes: &[u8]) -> Option<Value> {
    (!bytes.is_empty() && bytes.len() <= LOGGED_BODY_LIMIT)
        .then(|| serde_json::from_slice::<Value>(bytes).ok())
        .flatten()
}

fn record(
    shared: &Shared,
    received: Received,
    principal: Option<String>,
    operation: String,
    sent: Sent,
) {
    let duration_ms = u64::try_from(received.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if shared.log_requests {
        console::request(
            received.method.as_str(),
            &received.path,
            sent.status,
            duration_ms,
            principal.as_deref().unwrap_or("-"),
        );
    }
    lock(&shared.log).push(Entry {
        seq: received.seq,
        request_id: received.request_id,
        method: received.method.to_string(),
        path: received.path,
        status: sent.status,
        duration_ms,
        principal,
        start_ms: received.start_ms,
        end_ms: now_ms(),
        operation,
        body: received.body,
        response_headers: sent.headers,
        response_body: sent.body,
    });
}

async fn read_body(headers: &http::HeaderMap, body: Incoming) -> Result<Bytes, ArmError> {
    let too_large = || {
        ArmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request content length exceeds the limit of {BODY_LIMIT} bytes."),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        // Drain (bounded) so the client sees the answer instead of a reset connection.
        let _ = Limited::new(body, DRAIN_LIMIT).collect().await;
        return Err(too_large());
    }
    match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Err(e) => Err(ArmError::invalid_content(format!(
            "The request body could not be read: {e}."
        ))),
    }
}

/// The HTTP answer of a reply, with what the log keeps of it.
fn build_response(
    reply: Reply,
    request_id: &str,
    method: &Method,
) -> (Response<Full<Bytes>>, Sent) {
    let (content_type, bytes) = match (reply.raw, reply.body) {
        (Some((ct, bytes)), _) => (Some(ct), bytes),
        (None, Some(v)) => (
            Some("application/json; charset=utf-8".to_owned()),
            serde_json::to_vec(&v).unwrap_or_default(),
        ),
        (None, None) => (None, Vec::new()),
    };
    let body = if *method == Method::HEAD {
        Vec::new()
    } else {
        bytes
    };
    let json = content_type
        .as_deref()
        .is_some_and(|ct| ct.contains("json"));
    let logged_body = if json { logged_json(&body) } else { None };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(http::header::CONTENT_TYPE, ct);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-ms-request-id", v.clone());
        headers.insert("x-ms-correlation-request-id", v);
    }
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    let mut logged_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        logged_headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let sent = Sent {
        status: reply.status.as_u16(),
        headers: logged_headers,
        body: logged_body,
    };
    (response, sent)
}

/// ARM, the Synapse data plane, `/discovery` and `/rp/workspaces/…`.
fn serve_counted(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Outcome {
    let fail = |e: ArmError, operation: String| Outcome {
        reply: e.into_reply(),
        principal: None,
        operation,
    };
    if path.eq_ignore_ascii_case("/metadata/endpoints") {
        return Outcome {
            reply: cloud_metadata::endpoints(&shared.base_url),
            principal: None,
            operation: "GET metadata/endpoints".to_owned(),
        };
    }
    if path.eq_ignore_ascii_case("/discovery") {
        return Outcome {
            reply: ml_workspaces::discovery(&shared.base_url),
            principal: None,
            operation: "GET discovery".to_owned(),
        };
    }
    let now = now_ms();
    let auth_header = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let default_tid = lock(&shared.store).tenant_id.clone();

    if let Some(rest) = strip_prefix_ci(path, "/_synapse/") {
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let operation = format!(
            "{method} {}",
            synapse_data_plane::label(segs.get(1..).unwrap_or(&[]))
        );
        let caller =
            match auth::read_bearer(auth_header, &default_tid, Audience::SynapseDev, now / 1000) {
                Ok(c) => c,
                Err(e) => return fail(e, operation),
            };
        let Some((ws, rest)) = segs.split_first() else {
            return fail(ArmError::no_route(method.as_str(), path), operation);
        };
        let faults = lock(&shared.faults).clone();
        let mut store = lock(&shared.store);
        let settled = lro::settle(&mut store, now);
        register_caller(&mut store, &caller);
        let ctx = Ctx {
            method,
            path,
            query,
            body,
            headers,
            caller: &caller,
            base_url: &shared.base_url,
            faults: &faults,
            now,
            regional: false,
        };
        let reply = synapse_data_plane::handle(&mut store, &ctx, ws, rest)
            .unwrap_or_else(ArmError::into_reply);
        drop(store);
        mark_dirty(shared, method, settled);
        return Outcome {
            reply,
            principal: Some(caller.oid),
            operation,
        };
    }

    let (arm_path, regional) = match strip_prefix_ci(path, "/rp/workspaces") {
        Some(rest) => (rest.to_owned(), true),
        None => (path.to_owned(), false),
    };
    let target = match target::parse(method, &arm_path) {
        Ok(t) => t,
        Err(e) => return fail(e, format!("{method} unknown")),
    };
    if regional
        && !matches!(
            target,
            Target::Child {
                kind: Kind::Compute,
                ..
            } | Target::ChildList {
                kind: Kind::Compute,
                ..
            }
        )
    {
        return fail(
            ArmError::no_route(method.as_str(), path),
            format!("{method} unknown"),
        );
    }
    let operation = format!("{method} {}", target.label());
    let caller = match auth::read_bearer(
        auth_header,
        &default_tid,
        Audience::Arm(&shared.base_url),
        now / 1000,
    ) {
        Ok(c) => c,
        Err(e) => return fail(e, operation),
    };
    let class = OpClass::of(method);
    let mut rate_header = None;
    if let Some(sub) = target.subscription() {
        let faults = lock(&shared.faults).clone();
        let decision = if faults.throttle.enabled {
            lock(&shared.throttle).take(
                &faults.throttle,
                faults.time_scale,
                sub,
                &caller.oid,
                class,
                Instant::now(),
            )
        } else {
            let cap = match class {
                OpClass::Reads => faults.throttle.reads.capacity,
                OpClass::Writes => faults.throttle.writes.capacity,
                OpClass::Deletes => faults.throttle.deletes.capacity,
            };
            Decision::Allowed {
                remaining: u64::from(cap),
            }
        };
        match decision {
            Decision::Allowed { remaining } => {
                rate_header = Some((class.header().to_owned(), remaining.to_string()));
            }
            Decision::Throttled { retry_after_ms } => {
                let mut e = ArmError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    format!("The request for subscription '{sub}' could not be processed due to an excessive volume of traffic. Please try again later."),
                );
                e = e
                    .with_header("retry-after", retry_after_ms.div_ceil(1000).to_string())
                    .with_header("retry-after-ms", retry_after_ms.to_string())
                    .with_header(class.header(), "0");
                return Outcome {
                    reply: e.into_reply(),
                    principal: Some(caller.oid),
                    operation,
                };
            }
        }
    }
    let faults = lock(&shared.faults).clone();
    let mut store = lock(&shared.store);
    let settled = lro::settle(&mut store, now);
    register_caller(&mut store, &caller);
    if let Some(sub) = target.subscription() {
        rbac::ensure_subscription(&mut store, sub, now);
    }
    let ctx = Ctx {
        method,
        path: &arm_path,
        query,
        body,
        headers,
        caller: &caller,
        base_url: &shared.base_url,
        faults: &faults,
        now,
        regional,
    };
    let mut reply = routes::handle(&mut store, &ctx, &target).unwrap_or_else(ArmError::into_reply);
    drop(store);
    mark_dirty(shared, method, settled);
    if let Some((name, value)) = rate_header {
        reply.headers.push((name, value));
    }
    Outcome {
        reply,
        principal: Some(caller.oid),
        operation,
    }
}

/// PUT, PATCH, POST and DELETE: the requests that change something.
fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::PUT | Method::PATCH | Method::POST | Method::DELETE
    )
}

/// Marks the store for saving after a request that may have changed it (reads only
/// change it when they settle operations; new principals are saved with the next write).
fn mark_dirty(shared: &Shared, method: &Method, settled: bool) {
    if settled || !(*method == Method::GET || *method == Method::HEAD) {
        shared.dirty.store(true, Ordering::SeqCst);
    }
}

fn register_caller(store: &mut crate::store::Store, caller: &Caller) {
    store
        .principals
        .entry(crate::store::fold(&caller.oid))
        .or_insert_with(|| crate::principal::Principal {
            object_id: caller.oid.clone(),
            display_name: caller.oid.clone(),
            principal_type: "User".to_owned(),
            created_ms: 0,
        });
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    if text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&text[prefix.len()..])
    } else {
        None
    }
}
