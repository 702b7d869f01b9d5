//! Bulk linking against Azure's limits: `cargo bench --bench bulk`.
//!
//! Starts the real `synlink emulator` binary (the release build beside this
//! bench: `target/release/synlink`; run `cargo build --release` first) with
//! Azure-like behaviour — 50 ms per request, 30 s per long-running operation
//! polled at the interval the emulator announces as Azure does (30 s for
//! Machine Learning computes), ARM token buckets of Azure's sizes (reads
//! 250 + 25/s, writes 200 + 10/s, deletes 200 + 10/s per subscription ×
//! principal) — all shrunk by one `--time-scale` (default 0.1, env
//! `BULK_TIME_SCALE`): ten times Azure's pace, so the 2,000-team run over
//! four subscriptions asks for about 1,500 requests a second, which two
//! cores running both synlink and the emulator can serve; at 0.02 it would
//! ask for 7,300 and measure the machine, not the buckets. synlink runs as in production: it follows the
//! `Retry-After` the emulator announces and learns the buckets from the
//! `x-ms-ratelimit-remaining-*` headers; nothing here tunes it.
//!
//! Runs (env `BULK_RUNS`, default `100x1,500x1,1000x1,2000x4`): N teams over S
//! subscriptions. For each it creates N AML workspaces (team i in subscription
//! i mod S), one Synapse workspace and one Spark pool (in the first
//! subscription) over raw HTTP (not measured), writes a spec whose teams are a
//! map from team to subscription (`for_each` over it, `subscription:
//! "{each.value}"`; per team a link, a Synapse Apache Spark Administrator
//! grant to the link and an attachment of the shared pool) and runs the real
//! binary: `plan` (empty state), `apply --auto-approve`, `plan
//! --detailed-exitcode` (no-op, must exit 0), `destroy --auto-approve`, each
//! with `-v`, `--arm-endpoint` and a token from the emulator's
//! managed-identity endpoint, `--parallelism` left at its default (10 per
//! subscription; env
//! `BULK_PARALLELISM` passes another; `BULK_WRAP` a command that runs
//! synlink, such as a profiler). It prints figures and asserts no time.
//!
//! Per step: wall time; the requests the emulator answered, by kind (from its
//! request log, cleared before the step and drained while it runs so its
//! 10,000-entry window never loses any); 429s; retries (`retry` lines synlink
//! prints at `-v`); the synlink process's peak resident memory (`VmHWM`,
//! polled every 5 ms); synlink's own account of where the time went (`-v`);
//! and two lower bounds.
//!
//! # The bounds
//!
//! Both are computed in Azure seconds from the emulator's settings and the
//! request model below, then multiplied by the time scale `s`. `L` = request
//! latency (50 ms), `D` = LRO duration (30 s), `P` = parallelism (10 requests
//! on the wire per subscription, and per host outside ARM); for
//! ARM kind `k` (reads, writes, deletes) `B_k` its bucket (250, 200, 200) and
//! `r_k` its refill (25, 10, 10 per second); buckets are per subscription
//! (one principal here) and start full (the bench waits for them to refill
//! before every step). For `n` requests of kind `k` in one subscription the
//! bucket lets the last one start no earlier than `T_k = max(0, n − B_k) / r_k`;
//! `T_k` is the largest over the subscriptions. `latency = n × L / P` for the
//! busiest lane (a subscription's ARM requests, or the data plane's).
//!
//! - **Streaming floor**, what any client needs when it reads and writes at
//!   once and starts each team as soon as that team is read: the largest of
//!   `T_reads + L` (every read, polls included), the write-side bucket plus
//!   what must follow the last request of it (apply: the last write is an
//!   attach, whose operation takes `D`, then its final poll: `T_writes + D +
//!   L`; destroy: the last delete is a link's, `T_deletes + L`), the last
//!   team (its reads are in no earlier than the bucket lets the refresh's
//!   reads through, `T_reads` of the refresh alone, then its chain: apply
//!   link PUT → grant PUT → access check → attach PUT → `D` → poll, `6L + D`
//!   with the read; destroy detach → `D` → poll → revoke → unregister, `5L +
//!   D`), one team's whole chain from the first read (apply `7L + D`,
//!   destroy `6L + D`, plans GET → lists (+ the permission read) `2L`/`3L`),
//!   and `latency`.
//! - **Plan-then-apply floor**, what a client needs that reads everything
//!   first and writes after (synlink before streaming, Terraform): the
//!   refresh (`T_reads` of the refresh's reads + two rounds `2L` + the
//!   permission read `L`), then the writes from a full bucket with the last
//!   operation after them (`T_writes + D + L`, destroy `T_deletes + L`, at
//!   least the post-refresh chain `5L + D` / `4L + D`). For plans both floors
//!   are the read floor.
//!
//! The counts are those of the *designed request model*, what a correct
//! client must send, not what synlink sent (too many requests shows as a high
//! ratio instead of raising the bound). Refresh: per team one AML workspace
//! GET, one `linkedServices` list, one `computes` list (3N reads, in the
//! team's subscription), the Synapse workspace GET and pool list (2) and,
//! when the plan writes links or grants, one permissions read (1); data
//! plane: role assignments, 100 a page. Apply adds per team a link PUT and a
//! compute PUT (2N writes), a grant PUT and an access check (data plane) and
//! one final poll of the attach (N reads). Destroy adds a detach and a link
//! DELETE (2N deletes), a revoke (data plane) and one final poll of the
//! detach (N reads). With `s` = 0.1 and N = 1000 in one subscription,
//! apply's streaming floor is the writes', (2000 − 200) / 10 + 30 + 0.05 =
//! 210 s, i.e. 21 s real; its plan-then-apply floor 110.2 + 0.05 + 210.05 =
//! 320 s (32 s). The per-step detail also shows the streaming floor
//! recomputed from what synlink actually sent ("floor from sent").

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "figures for display"
)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The subscriptions the teams spread over (the Synapse workspace is in the first).
const SUBS: [&str; 8] = [
    "00000000-0000-0000-0000-0000000000b1",
    "00000000-0000-0000-0000-0000000000b2",
    "00000000-0000-0000-0000-0000000000b3",
    "00000000-0000-0000-0000-0000000000b4",
    "00000000-0000-0000-0000-0000000000b5",
    "00000000-0000-0000-0000-0000000000b6",
    "00000000-0000-0000-0000-0000000000b7",
    "00000000-0000-0000-0000-0000000000b8",
];
const RG: &str = "rg-bulk";
const SYN: &str = "syn-bulk";
const POOL: &str = "sharedpool";
/// Azure's figures, before the time scale.
const LATENCY_MS: f64 = 50.0;
const LRO_MS: f64 = 30_000.0;
/// (bucket, refill per second) of reads, writes, deletes.
const BUCKETS: [(f64, f64); 3] = [(250.0, 25.0), (200.0, 10.0), (200.0, 10.0)];
const PAGE: u64 = 100;

fn say(text: &str) {
    let mut out = std::io::stdout();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn synlink_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/deps/bulk-HASH → target/release/synlink
    let release = exe
        .parent()
        .and_then(Path::parent)
        .expect("the bench runs from target/<profile>/deps");
    let bin = release.join("synlink");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --release` first (the bench runs the release synlink binary)",
        bin.display()
    );
    let is_release = release.file_name().and_then(|n| n.to_str()) == Some("release");
    if !is_release {
        say(&format!(
            "warning: {} is not a release build\n",
            bin.display()
        ));
    }
    bin
}

/// The emulator, run as the real binary.
struct Emu {
    child: Child,
    url: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    time_scale: f64,
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emu {
    fn start(bin: &Path, time_scale: f64) -> Emu {
        let mut child = Command::new(bin)
            .args([
                "emulator",
                "--latency-ms",
                &format!("{LATENCY_MS}"),
                "--lro-ms",
                &format!("{LRO_MS}"),
                "--time-scale",
                &time_scale.to_string(),
                "--throttle",
                "on",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the emulator: {line:?}"))
            .to_owned();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        Emu {
            child,
            url,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("http"),
            rt,
            time_scale,
        }
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_emulator/{path}", self.url);
        self.rt.block_on(async {
            let mut req = self.http.request(method, &url);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let r = req.send().await.expect("control request");
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            assert!(status.is_success(), "{url}: {status} {text}");
            serde_json::from_str(&text).unwrap_or(Value::Null)
        })
    }

    fn token(&self) -> String {
        self.control(reqwest::Method::POST, "token", Some(json!({})))["accessToken"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    fn throttling(&self, enabled: bool) {
        self.control(
            reqwest::Method::PUT,
            "faults",
            Some(json!({"throttle": {"enabled": enabled}})),
        );
    }

    /// PUTs every (path, body) with up to 32 in flight; returns when all answered.
    fn put_all(&self, token: &str, items: Vec<(String, Value)>) {
        let http = self.http.clone();
        let base = self.url.clone();
        let token = token.to_owned();
        self.rt.block_on(async move {
            let limit = Arc::new(tokio::sync::Semaphore::new(32));
            let mut set = tokio::task::JoinSet::new();
            for (path, body) in items {
                let (http, base, token, limit) =
                    (http.clone(), base.clone(), token.clone(), limit.clone());
                set.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let r = http
                        .put(format!("{base}{path}"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .expect("setup PUT");
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    assert!(status.is_success(), "setup PUT {path}: {status} {text}");
                });
            }
            while let Some(j) = set.join_next().await {
                j.expect("setup task");
            }
        });
    }

    fn scaled(&self, azure_ms: f64) -> Duration {
        Duration::from_secs_f64(azure_ms * self.time_scale / 1000.0)
    }
}

/// One bench run: N teams over S subscriptions.
#[derive(Debug, Clone, Copy)]
struct Config {
    n: usize,
    subs: usize,
    /// Its place among the runs: each run has its own teams (a Synapse role
    /// assignment id is never used again once deleted, as in Azure).
    run: usize,
}

impl Config {
    fn label(self) -> String {
        format!("{}×{}", self.n, self.subs)
    }

    fn team(self, i: usize) -> String {
        format!("r{}t{i:04}", self.run)
    }

    fn sub(self, i: usize) -> &'static str {
        SUBS[i % self.subs]
    }

    /// Teams per subscription, most first.
    fn per_sub(self) -> Vec<u64> {
        (0..self.subs)
            .map(|s| (0..self.n).filter(|i| i % self.subs == s).count() as u64)
            .collect()
    }
}

fn ml_path(sub: &str, team: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-{team}?api-version=2024-10-01")
}

/// Creates what the specs read: the groups, the Synapse workspace and pool
/// (once), and the run's AML workspaces. Not measured.
fn setup(emu: &Emu, token: &str, config: Config, first: bool) -> Duration {
    let started = Instant::now();
    emu.throttling(false);
    emu.put_all(
        token,
        SUBS[..config.subs]
            .iter()
            .map(|sub| {
                (
                    format!("/subscriptions/{sub}/resourcegroups/{RG}?api-version=2021-04-01"),
                    json!({"location": "westeurope"}),
                )
            })
            .collect(),
    );
    if first {
        let syn = format!(
            "/subscriptions/{}/resourceGroups/{RG}/providers/Microsoft.Synapse/workspaces/{SYN}",
            SUBS[0]
        );
        emu.put_all(
            token,
            vec![(
                format!("{syn}?api-version=2021-06-01"),
                json!({"location": "westeurope", "identity": {"type": "SystemAssigned"}, "properties": {}}),
            )],
        );
        std::thread::sleep(emu.scaled(LRO_MS) + Duration::from_millis(50));
        emu.put_all(
            token,
            vec![(
                format!("{syn}/bigDataPools/{POOL}?api-version=2021-06-01"),
                json!({"location": "westeurope", "properties": {
                    "sparkVersion": "3.5", "nodeSize": "Medium", "nodeSizeFamily": "MemoryOptimized",
                    "autoScale": {"enabled": true, "minNodeCount": 3, "maxNodeCount": 10},
                    "autoPause": {"enabled": true, "delayInMinutes": 15}}}),
            )],
        );
    }
    emu.put_all(
        token,
        (0..config.n)
            .map(|i| {
                (
                    ml_path(config.sub(i), &config.team(i)),
                    json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                           "properties": {"friendlyName": config.team(i)}}),
                )
            })
            .collect(),
    );
    // Let every LRO fall due, then throttle again with full buckets.
    std::thread::sleep(emu.scaled(LRO_MS) + Duration::from_millis(50));
    emu.throttling(true);
    started.elapsed()
}

/// The spec: teams as a map from team to subscription.
fn spec(config: Config) -> String {
    let teams: Vec<String> = (0..config.n)
        .map(|i| format!("    {}: \"{}\"\n", config.team(i), config.sub(i)))
        .collect();
    format!(
        "version: 1\n\
defaults:\n  subscription: {}\n  resource_group: {RG}\n  location: westeurope\n\
variables:\n  teams:\n{}\
synapse_workspaces:\n  shared:\n    name: {SYN}\n    existing: true\n\
spark_pools:\n  shared:\n    synapse_workspace: shared\n    name: {POOL}\n    existing: true\n\
ml_workspaces:\n  \"{{each.key}}\":\n    for_each: ${{teams}}\n    name: \"mlw-{{each.key}}\"\n    subscription: \"{{each.value}}\"\n    existing: true\n\
links:\n  \"{{each.key}}\":\n    for_each: ${{teams}}\n    ml_workspace: \"{{each.key}}\"\n    synapse_workspace: shared\n    name: synapselink1\n\
role_grants:\n  \"{{each.key}}-spark\":\n    for_each: ${{teams}}\n    synapse_workspace: shared\n    role: Synapse Apache Spark Administrator\n    principal: {{ link: \"{{each.key}}\" }}\n\
attachments:\n  \"{{each.key}}-shared\":\n    for_each: ${{teams}}\n    ml_workspace: \"{{each.key}}\"\n    spark_pool: shared\n    name: shared-spark\n",
        SUBS[0],
        teams.concat()
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Plan,
    Apply,
    NoOp,
    Destroy,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Plan => "plan (empty)",
            Step::Apply => "apply",
            Step::NoOp => "plan (no-op)",
            Step::Destroy => "destroy",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Step::Plan => &["plan"],
            Step::Apply => &["apply", "--auto-approve"],
            Step::NoOp => &["plan", "--detailed-exitcode"],
            Step::Destroy => &["destroy", "--auto-approve"],
        }
    }
}

/// Requests by class: ARM reads, writes, deletes per subscription; the
/// Synapse data plane; other.
#[derive(Default, Clone)]
struct Counts {
    arm: BTreeMap<String, [u64; 3]>,
    data_plane: u64,
    other: u64,
}

impl Counts {
    fn add(&mut self, sub: &str, kind: usize, n: u64) {
        self.arm.entry(sub.to_ascii_lowercase()).or_default()[kind] += n;
    }

    fn kind(&self, k: usize) -> u64 {
        self.arm.values().map(|a| a[k]).sum()
    }

    fn total(&self) -> u64 {
        (0..3).map(|k| self.kind(k)).sum::<u64>() + self.data_plane + self.other
    }

    /// The requests of the busiest lane of wire slots: one subscription's
    /// ARM requests, or the data plane's (and the rest, on one host).
    fn busiest_lane(&self) -> u64 {
        self.arm
            .values()
            .map(|a| a.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(self.data_plane + self.other)
    }

    /// `T_k`: the bucket's earliest start of the last request of kind `k`, in
    /// Azure seconds, over the subscriptions.
    fn bucket(&self, k: usize) -> f64 {
        let (size, refill) = BUCKETS[k];
        self.arm
            .values()
            .map(|a| (a[k] as f64 - size).max(0.0) / refill)
            .fold(0.0, f64::max)
    }
}

/// A floor, in real seconds, and what it is made of.
struct Floor {
    value: f64,
    why: String,
}

/// The model's counts of a step: (the whole step, its refresh alone).
fn model(step: Step, config: Config) -> (Counts, Counts) {
    let n = config.n as u64;
    let pages = |assignments: u64| assignments.div_ceil(PAGE).max(1);
    let mut refresh = Counts::default();
    for (s, teams) in config.per_sub().into_iter().enumerate() {
        refresh.add(SUBS[s], 0, 3 * teams);
    }
    refresh.add(SUBS[0], 0, 2);
    let mut all = refresh.clone();
    match step {
        Step::Plan => {
            all.add(SUBS[0], 0, 1);
            all.data_plane = pages(1);
        }
        Step::NoOp => all.data_plane = pages(n + 1),
        Step::Apply => {
            all.add(SUBS[0], 0, 1);
            for (s, teams) in config.per_sub().into_iter().enumerate() {
                all.add(SUBS[s], 1, 2 * teams);
                all.add(SUBS[s], 0, teams);
            }
            all.data_plane = pages(1) + 2 * n;
        }
        Step::Destroy => {
            for (s, teams) in config.per_sub().into_iter().enumerate() {
                all.add(SUBS[s], 2, 2 * teams);
                all.add(SUBS[s], 0, teams);
            }
            all.data_plane = pages(n + 1) + n;
        }
    }
    (all, refresh)
}

/// The streaming floor of a step with these counts (see the top of the file).
fn streaming_floor(step: Step, counts: &Counts, refresh: &Counts, scale: f64, p: f64) -> Floor {
    let (l, d) = (LATENCY_MS / 1000.0, LRO_MS / 1000.0);
    let c = counts;
    let reads = c.bucket(0) + l;
    let latency = c.busiest_lane() as f64 * l / p;
    // The last team read cannot be in before the bucket lets the refresh's
    // reads through; its own chain follows.
    let (writes, chain, last_team) = match step {
        Step::Apply => (
            c.bucket(1) + d + l,
            7.0 * l + d,
            refresh.bucket(0) + 6.0 * l + d,
        ),
        Step::Destroy => (
            c.bucket(2) + l,
            6.0 * l + d,
            refresh.bucket(0) + 5.0 * l + d,
        ),
        Step::Plan => (0.0, 3.0 * l, 0.0),
        Step::NoOp => (0.0, 2.0 * l, 0.0),
    };
    let parts = [
        ("reads", reads),
        ("writes", writes),
        ("last team", last_team),
        ("chain", chain),
        ("latency", latency),
    ];
    let value = parts.iter().map(|(_, v)| *v).fold(0.0, f64::max) * scale;
    let why = parts
        .iter()
        .map(|(k, v)| format!("{k} {:.2}s", v * scale))
        .collect::<Vec<_>>()
        .join(", ");
    Floor {
        value,
        why: format!("max({why})"),
    }
}

/// The plan-then-apply floor: the refresh, then the writes and the last operation.
fn plan_then_apply_floor(step: Step, all: &Counts, refresh: &Counts, s: f64, p: f64) -> Floor {
    let (l, d) = (LATENCY_MS / 1000.0, LRO_MS / 1000.0);
    let read_phase = (refresh.bucket(0) + 2.0 * l).max(refresh.busiest_lane() as f64 * l / p);
    let (preflight, write_phase) = match step {
        Step::Apply => (l, (all.bucket(1) + d + l).max(5.0 * l + d)),
        Step::Destroy => (0.0, (all.bucket(2) + l).max(4.0 * l + d)),
        Step::Plan => (l, 0.0),
        Step::NoOp => (0.0, 0.0),
    };
    Floor {
        value: (read_phase + preflight + write_phase) * s,
        why: format!(
            "refresh {:.2}s + {:.2}s + writes {:.2}s",
            read_phase * s,
            preflight * s,
            write_phase * s
        ),
    }
}

/// What the emulator logged during a step, drained as it runs.
#[derive(Default)]
struct Logged {
    /// (method, path, status, operation, start ms, end ms) by sequence number.
    entries: HashMap<u64, (String, String, u16, String, u64, u64)>,
}

impl Logged {
    fn drain(&mut self, emu: &Emu) {
        let log = emu.control(reqwest::Method::GET, "requests", None);
        for e in log["value"].as_array().into_iter().flatten() {
            let seq = e["seq"].as_u64().unwrap_or(0);
            if seq == 0 {
                continue;
            }
            self.entries.entry(seq).or_insert_with(|| {
                (
                    e["method"].as_str().unwrap_or_default().to_owned(),
                    e["path"].as_str().unwrap_or_default().to_owned(),
                    u16::try_from(e["status"].as_u64().unwrap_or(0)).unwrap_or(0),
                    e["operation"].as_str().unwrap_or_default().to_owned(),
                    e["startMs"].as_u64().unwrap_or(0),
                    e["endMs"].as_u64().unwrap_or(0),
                )
            });
        }
    }

    /// Writes `seq start end status method operation path` lines, by sequence.
    fn dump(&self, path: &Path) {
        let mut seqs: Vec<&u64> = self.entries.keys().collect();
        seqs.sort();
        let mut text = String::new();
        for seq in seqs {
            let (method, p, status, op, start, end) = &self.entries[seq];
            let _ = writeln!(text, "{seq}\t{start}\t{end}\t{status}\t{method}\t{op}\t{p}");
        }
        let _ = std::fs::write(path, text);
    }

    fn counts(&self) -> (Counts, u64, BTreeMap<String, u64>) {
        let mut c = Counts::default();
        let mut throttled = 0;
        let mut by_op = BTreeMap::new();
        for (method, path, status, op, _, _) in self.entries.values() {
            if *status == 429 {
                throttled += 1;
            }
            *by_op.entry(op.clone()).or_insert(0) += 1;
            let lower = path.to_ascii_lowercase();
            if lower.starts_with("/_synapse/") {
                c.data_plane += 1;
            } else if let Some(rest) = lower
                .strip_prefix("/subscriptions/")
                .or_else(|| lower.strip_prefix("/rp/workspaces/subscriptions/"))
            {
                let sub = rest.split('/').next().unwrap_or_default().to_owned();
                let k = match method.as_str() {
                    "GET" | "HEAD" => 0,
                    "DELETE" => 2,
                    _ => 1,
                };
                c.add(&sub, k, 1);
            } else {
                c.other += 1;
            }
        }
        (c, throttled, by_op)
    }
}

struct Measured {
    config: Config,
    step: Step,
    wall: f64,
    code: i32,
    counts: Counts,
    by_op: BTreeMap<String, u64>,
    throttled: u64,
    retries: u64,
    peak_kib: u64,
    streaming: Floor,
    plan_then_apply: Floor,
    from_sent: Floor,
    time: String,
    loaded: f64,
    /// CPU seconds of synlink and of the emulator during the step.
    cpu: (f64, f64),
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The 1-minute load average (how busy the machine was).
fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn run_step(
    emu: &Emu,
    bin: &Path,
    dir: &Path,
    config: Config,
    step: Step,
    parallelism: Option<u64>,
) -> Measured {
    // Full buckets at the start: wait for the slowest (writes: 200 at 10/s) to refill.
    std::thread::sleep(emu.scaled(25_000.0) + Duration::from_millis(50));
    emu.control(reqwest::Method::DELETE, "requests", None);
    let label = step.name().replace([' ', '(', ')'], "");
    let out = std::fs::File::create(dir.join(format!("{label}.stdout"))).expect("stdout file");
    let err_path = dir.join(format!("{label}.stderr"));
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let loaded = load();
    let emu_cpu = cpu_secs(emu.child.id()).unwrap_or(0.0);
    let started = Instant::now();
    // `BULK_WRAP="perf record -g -o /tmp/{step}.data --"` runs synlink under
    // a profiler (the figures are then the wrapper's).
    let wrap: Vec<String> = std::env::var("BULK_WRAP")
        .map(|w| {
            w.split_whitespace()
                .map(|a| a.replace("{step}", &label))
                .collect()
        })
        .unwrap_or_default();
    let mut command = match wrap.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let mut child = command
        .current_dir(dir)
        .arg("-v")
        .args(step.args())
        .args(["-f", "synlink.yaml", "--state", "state.json"])
        .args(["--arm-endpoint", &emu.url])
        .args(
            parallelism
                .map(|p| vec!["--parallelism".to_owned(), p.to_string()])
                .unwrap_or_default(),
        )
        .env("IDENTITY_ENDPOINT", format!("{}/_identity/msi", emu.url))
        .env("IDENTITY_HEADER", "synlink-emulator")
        .env("NO_COLOR", "1")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("MSI_ENDPOINT")
        .env_remove("MSI_SECRET")
        .env_remove("IMDS_ENDPOINT")
        .env_remove("IDENTITY_SERVER_THUMBPRINT")
        .env_remove("SYNLINK_ARM_ENDPOINT")
        .env_remove("CI")
        // As a user runs it, not with what `cargo bench` adds (a library
        // path to search on every start, backtraces on).
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run synlink");
    let pid = child.id();
    let mut logged = Logged::default();
    let mut peak_kib = 0;
    let mut cpu = 0.0_f64;
    let mut last_check = Instant::now();
    let mut drained_at = 0u64;
    let code = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(secs) = cpu_secs(pid) {
            cpu = cpu.max(secs);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code().unwrap_or(-1);
        }
        // Drain the log before its 10,000-entry window could lose anything.
        if last_check.elapsed() > Duration::from_millis(500) {
            last_check = Instant::now();
            let total = emu.control(reqwest::Method::GET, "counts", None)["total"]
                .as_u64()
                .unwrap_or(0);
            if total.saturating_sub(drained_at) > 4_000 {
                logged.drain(emu);
                drained_at = total;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed().as_secs_f64();
    let emu_cpu = cpu_secs(emu.child.id()).unwrap_or(0.0) - emu_cpu;
    logged.drain(emu);
    logged.dump(&dir.join(format!("{label}.requests.tsv")));
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let retries = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("retry ") || l.contains(": retry "))
        .count() as u64;
    let time = stderr
        .lines()
        .skip_while(|l| !l.starts_with("Where the time went"))
        .take(7)
        .fold(String::new(), |mut out, l| {
            let _ = writeln!(out, "                {l}");
            out
        });
    let (counts, throttled, by_op) = logged.counts();
    let (model_all, model_refresh) = model(step, config);
    let p = parallelism.unwrap_or(10) as f64;
    let s = emu.time_scale;
    let expected = 0;
    if code != expected {
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        say(&format!(
            "  !! {} exited {code} (expected {expected}); stderr tail:\n    {}\n",
            step.name(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
        ));
    }
    Measured {
        config,
        step,
        wall,
        code,
        streaming: streaming_floor(step, &model_all, &model_refresh, s, p),
        plan_then_apply: plan_then_apply_floor(step, &model_all, &model_refresh, s, p),
        from_sent: streaming_floor(step, &counts, &model_refresh, s, p),
        counts,
        by_op,
        throttled,
        retries,
        peak_kib,
        time,
        loaded,
        cpu: (cpu, emu_cpu),
    }
}

fn detail(m: &Measured) -> String {
    let mut s = String::new();
    let c = &m.counts;
    let _ = writeln!(
        s,
        "  {:<13} exit {} wall {:>7.2}s  streaming floor {:>6.2}s (×{:.2})  plan-then-apply floor {:>6.2}s (×{:.2})  load {:.1}",
        m.step.name(),
        m.code,
        m.wall,
        m.streaming.value,
        m.wall / m.streaming.value,
        m.plan_then_apply.value,
        m.wall / m.plan_then_apply.value,
        m.loaded
    );
    let _ = writeln!(s, "                streaming: {}", m.streaming.why);
    let _ = writeln!(
        s,
        "                plan-then-apply: {}",
        m.plan_then_apply.why
    );
    let _ = writeln!(
        s,
        "                requests {} (ARM reads {}, writes {}, deletes {}; data plane {}; other {}) = {:.2}/team; 429s {}; retries {}; peak {:.1} MB",
        c.total(),
        c.kind(0),
        c.kind(1),
        c.kind(2),
        c.data_plane,
        c.other,
        c.total() as f64 / m.config.n as f64,
        m.throttled,
        m.retries,
        m.peak_kib as f64 / 1024.0
    );
    let _ = writeln!(
        s,
        "                floor from sent {:.2}s {}",
        m.from_sent.value, m.from_sent.why
    );
    let _ = writeln!(
        s,
        "                CPU: synlink {:.2}s, emulator {:.2}s (at least; of {:.2}s wall on this machine)",
        m.cpu.0, m.cpu.1, m.wall
    );
    let ops: Vec<String> = m.by_op.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(s, "                by operation: {}", ops.join(", "));
    s.push_str(&m.time);
    s
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let time_scale: f64 = std::env::var("BULK_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1);
    let runs: Vec<Config> = std::env::var("BULK_RUNS")
        .unwrap_or_else(|_| "100x1,500x1,1000x1,2000x4".to_owned())
        .split(',')
        .filter_map(|r| {
            let (n, s) = r.trim().split_once('x').unwrap_or((r.trim(), "1"));
            Some((
                n.parse().ok()?,
                s.parse::<usize>().ok()?.clamp(1, SUBS.len()),
            ))
        })
        .enumerate()
        .map(|(run, (n, subs))| Config { n, subs, run })
        .collect();
    let parallelism: Option<u64> = std::env::var("BULK_PARALLELISM")
        .ok()
        .and_then(|v| v.parse().ok());
    let bin = synlink_binary();
    let emu = Emu::start(&bin, time_scale);
    say(&format!(
        "bulk benchmark: {} against `synlink emulator` at {} (latency {LATENCY_MS} ms, LRO {} s, ARM buckets reads 250+25/s writes 200+10/s deletes 200+10/s per subscription, time scale {time_scale}); parallelism {}; {} cores, load {:.1}\n",
        bin.display(),
        emu.url,
        LRO_MS / 1000.0,
        parallelism.map_or_else(|| "default (10)".to_owned(), |p| p.to_string()),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load()
    ));
    let token = emu.token();
    let work = tempfile::tempdir().expect("tempdir");
    let mut results = Vec::new();
    for (i, &config) in runs.iter().enumerate() {
        let took = setup(&emu, &token, config, i == 0);
        say(&format!(
            "N = {} over {} subscription(s): setup of {} AML workspaces took {:.1}s (not measured)\n",
            config.n,
            config.subs,
            config.n,
            took.as_secs_f64()
        ));
        let dir = work.path().join(config.label());
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("synlink.yaml"), spec(config)).expect("spec");
        for step in [Step::Plan, Step::Apply, Step::NoOp, Step::Destroy] {
            let m = run_step(&emu, &bin, &dir, config, step, parallelism);
            say(&detail(&m));
            results.push(m);
        }
        if let Ok(keep) = std::env::var("BULK_KEEP") {
            let to = Path::new(&keep).join(config.label());
            let _ = std::fs::create_dir_all(&to);
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let _ = std::fs::copy(e.path(), to.join(e.file_name()));
            }
        }
    }
    let mut table = String::from(
        "\n| N | S | step | wall | streaming floor | ×streaming | plan-then-apply floor | ×plan-then-apply | requests | 429s | retries | peak MB |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &results {
        let _ = writeln!(
            table,
            "| {} | {} | {}{} | {:.2} s | {:.2} s | {:.2} | {:.2} s | {:.2} | {} | {} ({:.2}%) | {} | {:.1} |",
            m.config.n,
            m.config.subs,
            m.step.name(),
            if m.code == 0 {
                String::new()
            } else {
                format!(" (exit {})", m.code)
            },
            m.wall,
            m.streaming.value,
            m.wall / m.streaming.value,
            m.plan_then_apply.value,
            m.wall / m.plan_then_apply.value,
            m.counts.total(),
            m.throttled,
            100.0 * m.throttled as f64 / m.counts.total().max(1) as f64,
            m.retries,
            m.peak_kib as f64 / 1024.0
        );
    }
    say(&table);
    // Many subscriptions: throughput against one subscription with as many
    // teams as each of them holds.
    for many in results.iter().filter(|m| m.config.subs > 1) {
        let per = many.config.n / many.config.subs;
        if let Some(one) = results
            .iter()
            .find(|m| m.config.subs == 1 && m.config.n == per && m.step == many.step)
        {
            let speedup = (many.config.n as f64 / many.wall) / (one.config.n as f64 / one.wall);
            say(&format!(
                "{}: {} teams over {} subscriptions in {:.2}s, {:.1}× the throughput of {} teams in one ({:.2}s)\n",
                many.step.name(),
                many.config.n,
                many.config.subs,
                many.wall,
                speedup,
                one.config.n,
                one.wall
            ));
        }
    }
}
