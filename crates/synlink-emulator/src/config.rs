//! The emulator's configuration: the `synlink emulator` flags (`EmulatorArgs`, whose doc
//! comments are the `--help` text) and the programmatic `Config` that `Emulator::start`
//! takes. Run-time knobs live in `Faults` (faults.rs); this file only sets their start values.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::faults::{FaultTarget, Faults, ThrottleSpec};

/// Flags of `synlink emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Allow --listen on a non-loopback address. The emulator checks no signatures and
    /// hands out tokens to anyone: never expose it beyond this machine without a reason.
    #[arg(long)]
    pub allow_remote: bool,

    /// Persist every resource, principal and role assignment as JSON in DIR (atomic
    /// writes); a restart with the same DIR serves the same state. Memory only without it.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// Serve HTTPS with a self-signed certificate made at start (its CA file path is
    /// printed on stderr; written under --data, or a temporary directory).
    #[arg(long)]
    pub tls: bool,

    /// Latency added to every request, in milliseconds (multiplied by --time-scale).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency_ms: u64,

    /// Duration of every long-running operation (workspace, pool, attach, delete), in
    /// milliseconds (multiplied by --time-scale).
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub lro_ms: u64,

    /// Multiplies every delay alike: latency, LRO duration, throttling refill time and
    /// Retry-After, identity replication and Synapse RBAC propagation (0.001 for tests).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub time_scale: f64,

    /// ARM throttling per subscription × principal: `on` (Azure's token buckets: reads
    /// 250 + 25/s, writes 200 + 10/s, deletes 200 + 10/s), `off`, or bucket numbers such
    /// as `reads=250/25,writes=200/10,deletes=200/10` (capacity/refill per second).
    #[arg(long, default_value = "on", value_name = "SPEC", value_parser = ThrottleSpec::parse)]
    pub throttle: ThrottleSpec,

    /// Fraction (0..1) of requests that fail at random with 500, 503 or a dropped
    /// connection; reproducible with --seed (decided by hashing the seed and the request's
    /// sequence number).
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub fail_rate: f64,

    /// Seed of --fail-rate: the same seed and request sequence fail the same requests.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Identity replication delay: an ARM role assignment for a principal minted less than
    /// this long ago answers 400 `PrincipalNotFound` (milliseconds, scaled).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub identity_delay_ms: u64,

    /// Synapse RBAC propagation delay: a new Synapse role assignment takes effect in
    /// checkAccessSynapseRbac only this long after it was made (milliseconds, scaled).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub rbac_delay_ms: u64,

    /// Fail every request whose path contains TEXT (case-insensitive) with 503
    /// `ServiceUnavailable` (repeatable; change at run time under `/_emulator/faults`).
    #[arg(long = "fail-path", value_name = "TEXT")]
    pub fail_paths: Vec<String>,

    /// Object id of the bootstrap principal, Owner of every subscription (default: a
    /// fresh id, kept in --data).
    #[arg(long, value_name = "OID")]
    pub bootstrap_principal: Option<String>,

    /// Tenant id of the emulated directory (default: a fresh id, kept in --data).
    #[arg(long, value_name = "TID")]
    pub tenant: Option<String>,

    /// The secret that managed-identity token requests must carry in X-IDENTITY-HEADER
    /// (the App Service protocol's `IDENTITY_HEADER`).
    #[arg(long, default_value = "synlink-emulator", value_name = "SECRET")]
    pub identity_header: String,

    /// The request token that GitHub OIDC ID-token requests must carry
    /// (`Authorization: bearer SECRET`, GitHub's `ACTIONS_ID_TOKEN_REQUEST_TOKEN`) at
    /// `{URL}/_github/oidc/token`.
    #[arg(long, default_value = "synlink-emulator-github", value_name = "SECRET")]
    pub github_request_token: String,

    /// Fraction (0..1) of writes (PUT, PATCH, POST, DELETE; ARM and the Synapse data
    /// plane) that are applied and whose answer is then lost: a dropped connection, or a
    /// 500, 502 or 504; reproducible with --seed.
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub lost_answer_rate: f64,
}

/// Programmatic configuration of an emulator (`Emulator::start`).
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Allow a non-loopback `listen` address.
    pub allow_remote: bool,
    /// Where state is persisted; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate.
    pub tls: bool,
    /// The run-time knobs at start (latency, LROs, throttling, failures, delays).
    pub faults: Faults,
    /// Object id of the bootstrap principal; `None` makes (or reloads) one.
    pub bootstrap_principal: Option<String>,
    /// Tenant id; `None` makes (or reloads) one.
    pub tenant_id: Option<String>,
    /// Secret expected in `X-IDENTITY-HEADER` by the managed-identity endpoint.
    pub identity_header: String,
    /// Request token expected by the GitHub OIDC ID-token stand-in.
    pub github_request_token: String,
    /// Write one line per request on stderr.
    pub log_requests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_remote: false,
            data_dir: None,
            tls: false,
            faults: Faults::default(),
            bootstrap_principal: None,
            tenant_id: None,
            identity_header: "synlink-emulator".to_owned(),
            github_request_token: "synlink-emulator-github".to_owned(),
            log_requests: false,
        }
    }
}

impl From<EmulatorArgs> for Config {
    fn from(args: EmulatorArgs) -> Self {
        let faults = Faults {
            latency_ms: args.latency_ms,
            lro_ms: args.lro_ms,
            time_scale: args.time_scale,
            throttle: args.throttle,
            fail_rate: args.fail_rate,
            lost_answer_rate: args.lost_answer_rate,
            seed: args.seed,
            identity_delay_ms: args.identity_delay_ms,
            rbac_delay_ms: args.rbac_delay_ms,
            targets: args
                .fail_paths
                .into_iter()
                .map(|text| FaultTarget {
                    path_contains: text,
                    ..FaultTarget::default()
                })
                .collect(),
            ..Faults::default()
        };
        Config {
            listen: args.listen,
            allow_remote: args.allow_remote,
            data_dir: args.data,
            tls: args.tls,
            faults,
            bootstrap_principal: args.bootstrap_principal,
            tenant_id: args.tenant,
            identity_header: args.identity_header,
            github_request_token: args.github_request_token,
            log_requests: true,
        }
    }
}
