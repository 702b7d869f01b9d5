//! Bulk linking against Azure's limits: `cargo bench --bench bulk`.
//!
//! Starts the real `synlink emulator` binary (the release build beside this
//! bench: `target/release/synlink`; run `cargo build --release` first) with
//! Azure-like behaviour — 50 ms per request, 30 s per long-running operation,
//! ARM token buckets of Azure's sizes (reads 250 + 25/s, writes 200 + 10/s,
//! deletes 200 + 10/s per subscription × principal) — all shrunk by one
//! `--time-scale` (default 0.02, env `BULK_TIME_SCALE`). For N = 100, 500 and
//! 1000 teams (env `BULK_SIZES=100,500`) it creates N AML workspaces, one
//! Synapse workspace and one Spark pool over raw HTTP (parallel, throttling
//! switched off, not measured), writes a `for_each` spec over a `teams`
//! variable (per team: a link, a Synapse Apache Spark Administrator grant to
//! the link, an attachment of the shared pool) and runs the real binary:
//! `plan` (empty state), `apply --auto-approve`, `plan --detailed-exitcode`
//! (no-op, must exit 0), `destroy --auto-approve`, each with `-v`,
//! `--arm-endpoint` and a token from the emulator's managed-identity endpoint,
//! `--parallelism` left at its default (10; env `BULK_PARALLELISM` passes
//! another). It prints figures and asserts no time.
//!
//! Per step: wall time; the requests the emulator answered, by kind (from its
//! request log, cleared before the step and drained while it runs so the
//! 10,000-entry window never loses any); 429s; retries (`retry` lines synlink
//! prints at `-v`); the synlink process's peak resident memory (`VmHWM` of
//! `/proc/<pid>/status`, polled every 5 ms); and the lower bound below.
//!
//! # The lower bound
//!
//! The bound is computed in Azure seconds from the emulator's settings, then
//! multiplied by the time scale `s`. Let `L` = request latency (50 ms),
//! `D` = LRO duration (30 s), `P` = parallelism (10), and for ARM op kind `k`
//! (reads, writes, deletes) `B_k` its bucket (250, 200, 200) and `r_k` its
//! refill (25, 10, 10 per second). Buckets start full: the bench waits for
//! them to refill before every step. Three floors, the largest wins:
//!
//! - (a) throttling: a bucket lets `B_k` requests through at once, then `r_k`
//!   per second, so `n_k` requests of kind `k` need at least
//!   `max_k max(0, n_k − B_k) / r_k`. Synapse data-plane calls are not
//!   ARM-throttled and do not count here.
//! - (b) the critical path: the longest dependency chain, in latencies and
//!   LRO durations. Refresh is two rounds (workspaces, then their children);
//!   the plan's permission preflight one more. Apply: refresh `2L` +
//!   preflight `L`, then one team's chain link PUT `L` → grant PUT `L` →
//!   attach PUT `L` + LRO `D` + final poll `L`: `7L + D`. Destroy: refresh
//!   `2L`, then detach `L + D + L` → grant DELETE `L` → link DELETE `L`:
//!   `6L + D`. Plans: `3L` (empty state, with preflight) and `2L` (no-op).
//! - (c) latency over parallelism: `n × L / P`, `n` every counted request.
//!
//! The counts `n` are those of the *designed request model*, what a correct
//! client must send, not what synlink sent (so sending too many requests shows
//! as a high ratio instead of raising the bound). Refresh: per team one AML
//! workspace GET, one `linkedServices` list, one `computes` list (3N reads),
//! plus the Synapse workspace GET and pool list (2) and, when the plan
//! changes links or grants, one permissions list (1); data plane: role
//! definitions (1) and role assignments, 100 a page. Apply adds 2N writes
//! (link PUT, compute PUT), N data-plane grant PUTs and N reads (one final poll
//! per attach). Destroy adds 2N deletes, N data-plane grant DELETEs and N
//! reads (one final poll per detach). With `s` = 0.02 and N = 1000, apply's
//! floor is writes, (2000 − 200) / 10 = 180 s, i.e. 3.6 s real; destroy's is
//! deletes, the same. The per-step detail also shows the bound recomputed
//! from the counts synlink actually sent ("bound from sent").

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

const SUB: &str = "00000000-0000-0000-0000-0000000000b1";
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

fn ml_path(team: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-{team}?api-version=2024-10-01")
}

fn team(i: usize) -> String {
    format!("t{i:04}")
}

/// Creates what the specs read: the group, the Synapse workspace and pool
/// (once), and the AML workspaces `from..to`. Not measured.
fn setup(emu: &Emu, token: &str, from: usize, to: usize) -> Duration {
    let started = Instant::now();
    emu.throttling(false);
    if from == 0 {
        emu.put_all(
            token,
            vec![(
                format!("/subscriptions/{SUB}/resourcegroups/{RG}?api-version=2021-04-01"),
                json!({"location": "westeurope"}),
            )],
        );
        let syn = format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Synapse/workspaces/{SYN}"
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
                    "sparkVersion": "3.4", "nodeSize": "Medium", "nodeSizeFamily": "MemoryOptimized",
                    "autoScale": {"enabled": true, "minNodeCount": 3, "maxNodeCount": 10},
                    "autoPause": {"enabled": true, "delayInMinutes": 15}}}),
            )],
        );
    }
    emu.put_all(
        token,
        (from..to)
            .map(|i| {
                (
                    ml_path(&team(i)),
                    json!({"location": "westeurope", "identity": {"type": "SystemAssigned"},
                           "properties": {"friendlyName": team(i)}}),
                )
            })
            .collect(),
    );
    // Let every LRO fall due, then throttle again with full buckets.
    std::thread::sleep(emu.scaled(LRO_MS) + Duration::from_millis(50));
    emu.throttling(true);
    started.elapsed()
}

fn spec(n: usize) -> String {
    let teams: Vec<String> = (0..n).map(team).collect();
    format!(
        "version: 1\n\
defaults:\n  subscription: {SUB}\n  resource_group: {RG}\n  location: westeurope\n\
variables:\n  teams: [{}]\n\
synapse_workspaces:\n  shared:\n    name: {SYN}\n    existing: true\n\
spark_pools:\n  shared:\n    synapse_workspace: shared\n    name: {POOL}\n    existing: true\n\
ml_workspaces:\n  \"{{each}}\":\n    for_each: ${{teams}}\n    name: \"mlw-{{each}}\"\n    existing: true\n\
links:\n  \"{{each}}\":\n    for_each: ${{teams}}\n    ml_workspace: \"{{each}}\"\n    synapse_workspace: shared\n    name: synapselink1\n\
role_grants:\n  \"{{each}}-spark\":\n    for_each: ${{teams}}\n    synapse_workspace: shared\n    role: Synapse Apache Spark Administrator\n    principal: {{ link: \"{{each}}\" }}\n\
attachments:\n  \"{{each}}-shared\":\n    for_each: ${{teams}}\n    ml_workspace: \"{{each}}\"\n    spark_pool: shared\n    name: shared-spark\n",
        teams.join(", ")
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

/// Requests by class: ARM reads, writes, deletes; Synapse data plane; other.
#[derive(Default, Clone, Copy)]
struct Counts {
    arm: [u64; 3],
    data_plane: u64,
    other: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.arm.iter().sum::<u64>() + self.data_plane + self.other
    }
}

/// The three floors, in real seconds.
struct Bound {
    throttle: f64,
    chain: f64,
    latency: f64,
}

impl Bound {
    fn of(counts: &Counts, chain_azure_ms: f64, time_scale: f64, parallelism: f64) -> Bound {
        let throttle = counts
            .arm
            .iter()
            .zip(BUCKETS)
            .map(|(&n, (bucket, refill))| (n as f64 - bucket).max(0.0) / refill)
            .fold(0.0, f64::max);
        Bound {
            throttle: throttle * time_scale,
            chain: chain_azure_ms / 1000.0 * time_scale,
            latency: counts.total() as f64 * LATENCY_MS / 1000.0 / parallelism * time_scale,
        }
    }

    fn value(&self) -> f64 {
        self.throttle.max(self.chain).max(self.latency)
    }

    fn describe(&self) -> String {
        format!(
            "max(throttle {:.2}s, chain {:.2}s, latency {:.2}s)",
            self.throttle, self.chain, self.latency
        )
    }
}

/// The designed request model of a step (see the top of the file), and its chain.
fn model(step: Step, n: u64) -> (Counts, f64) {
    let (l, d) = (LATENCY_MS, LRO_MS);
    let refresh_reads = 3 * n + 2;
    let pages = |assignments: u64| assignments.div_ceil(PAGE).max(1);
    let mut c = Counts::default();
    match step {
        Step::Plan => {
            c.arm[0] = refresh_reads + 1;
            c.data_plane = 1 + pages(1);
            (c, 3.0 * l)
        }
        Step::Apply => {
            c.arm[0] = refresh_reads + 1 + n;
            c.arm[1] = 2 * n;
            c.data_plane = 1 + pages(1) + n;
            (c, 7.0 * l + d)
        }
        Step::NoOp => {
            c.arm[0] = refresh_reads;
            c.data_plane = 1 + pages(n + 1);
            (c, 2.0 * l)
        }
        Step::Destroy => {
            c.arm[0] = refresh_reads + n;
            c.arm[2] = 2 * n;
            c.data_plane = 1 + pages(n + 1) + n;
            (c, 6.0 * l + d)
        }
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
            } else if lower.starts_with("/subscriptions/") || lower.starts_with("/rp/") {
                let k = match method.as_str() {
                    "GET" | "HEAD" => 0,
                    "DELETE" => 2,
                    _ => 1,
                };
                c.arm[k] += 1;
            } else {
                c.other += 1;
            }
        }
        (c, throttled, by_op)
    }
}

struct Measured {
    n: usize,
    step: Step,
    wall: f64,
    code: i32,
    counts: Counts,
    by_op: BTreeMap<String, u64>,
    throttled: u64,
    retries: u64,
    peak_kib: u64,
    bound: Bound,
    bound_sent: Bound,
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

fn run_step(
    emu: &Emu,
    bin: &Path,
    dir: &Path,
    n: usize,
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
    let started = Instant::now();
    let mut child = Command::new(bin)
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
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run synlink");
    let pid = child.id();
    let mut logged = Logged::default();
    let mut peak_kib = 0;
    let mut last_check = Instant::now();
    let mut drained_at = 0u64;
    let code = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
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
    logged.drain(emu);
    logged.dump(&dir.join(format!("{label}.requests.tsv")));
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let retries = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("retry ") || l.contains(": retry "))
        .count() as u64;
    let (counts, throttled, by_op) = logged.counts();
    let (model_counts, chain) = model(step, n as u64);
    let p = parallelism.unwrap_or(10) as f64;
    let bound = Bound::of(&model_counts, chain, emu.time_scale, p);
    let bound_sent = Bound::of(&counts, chain, emu.time_scale, p);
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
        n,
        step,
        wall,
        code,
        counts,
        by_op,
        throttled,
        retries,
        peak_kib,
        bound,
        bound_sent,
    }
}

fn detail(m: &Measured) -> String {
    let mut s = String::new();
    let c = &m.counts;
    let _ = writeln!(
        s,
        "  {:<13} exit {} wall {:>7.2}s  bound {:>6.2}s {}  ratio {:>6.1}",
        m.step.name(),
        m.code,
        m.wall,
        m.bound.value(),
        m.bound.describe(),
        m.wall / m.bound.value()
    );
    let _ = writeln!(
        s,
        "                requests {} (ARM reads {}, writes {}, deletes {}; data plane {}; other {}) = {:.2}/team; 429s {}; retries {}; peak {:.1} MB",
        c.total(),
        c.arm[0],
        c.arm[1],
        c.arm[2],
        c.data_plane,
        c.other,
        c.total() as f64 / m.n as f64,
        m.throttled,
        m.retries,
        m.peak_kib as f64 / 1024.0
    );
    let _ = writeln!(
        s,
        "                bound from sent {:.2}s {}",
        m.bound_sent.value(),
        m.bound_sent.describe()
    );
    let ops: Vec<String> = m.by_op.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let _ = writeln!(s, "                by operation: {}", ops.join(", "));
    s
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let time_scale: f64 = std::env::var("BULK_TIME_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.02);
    let sizes: Vec<usize> = std::env::var("BULK_SIZES").ok().map_or_else(
        || vec![100, 500, 1000],
        |v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
    );
    let parallelism: Option<u64> = std::env::var("BULK_PARALLELISM")
        .ok()
        .and_then(|v| v.parse().ok());
    let bin = synlink_binary();
    let emu = Emu::start(&bin, time_scale);
    say(&format!(
        "bulk benchmark: {} against `synlink emulator` at {} (latency {LATENCY_MS} ms, LRO {} s, ARM buckets reads 250+25/s writes 200+10/s deletes 200+10/s, time scale {time_scale}); parallelism {}\n",
        bin.display(),
        emu.url,
        LRO_MS / 1000.0,
        parallelism.map_or_else(|| "default (10)".to_owned(), |p| p.to_string())
    ));
    let token = emu.token();
    let work = tempfile::tempdir().expect("tempdir");
    let mut created = 0;
    let mut results = Vec::new();
    for &n in &sizes {
        if n > created {
            let took = setup(&emu, &token, created, n);
            say(&format!(
                "N = {n}: setup of {} AML workspaces took {:.1}s (not measured)\n",
                n - created,
                took.as_secs_f64()
            ));
            created = n;
        }
        let dir = work.path().join(format!("n{n}"));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("synlink.yaml"), spec(n)).expect("spec");
        for step in [Step::Plan, Step::Apply, Step::NoOp, Step::Destroy] {
            let m = run_step(&emu, &bin, &dir, n, step, parallelism);
            say(&detail(&m));
            results.push(m);
        }
        if let Ok(keep) = std::env::var("BULK_KEEP") {
            let to = Path::new(&keep).join(format!("n{n}"));
            let _ = std::fs::create_dir_all(&to);
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let _ = std::fs::copy(e.path(), to.join(e.file_name()));
            }
        }
    }
    let mut table = String::from(
        "\n| N | step | wall | bound | ratio | requests | 429s | retries | peak MB |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &results {
        let _ = writeln!(
            table,
            "| {} | {}{} | {:.2} s | {:.2} s | {:.1} | {} | {} | {} | {:.1} |",
            m.n,
            m.step.name(),
            if m.code == 0 {
                String::new()
            } else {
                format!(" (exit {})", m.code)
            },
            m.wall,
            m.bound.value(),
            m.wall / m.bound.value(),
            m.counts.total(),
            m.throttled,
            m.retries,
            m.peak_kib as f64 / 1024.0
        );
    }
    say(&table);
}
