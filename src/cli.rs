//! Command-line definitions (clap) and nothing else: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use synlink_emulator::EmulatorArgs;

/// Declarative provisioning of Azure Machine Learning ⇄ Synapse links, Synapse role
/// grants and Spark pools attached to AML as compute.
#[derive(Debug, Parser)]
#[command(name = "synlink", version, about, long_about = None)]
pub struct Cli {
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never colour output (also implied by `NO_COLOR` or `CI`).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, expand and check a spec; print every problem, not only the first.
    Validate(ValidateArgs),
    /// Write the dependency graph of a spec in DOT to stdout.
    Graph(SpecArgs),
    /// Read what Azure holds, compare it with the spec, and print the plan.
    Plan(PlanArgs),
    /// Plan (or take a saved plan), ask, and apply it in dependency order; with --auto-approve or a saved plan, each change starts as soon as its own reads and dependencies are done.
    Apply(ApplyArgs),
    /// Remove every managed resource, dependents first (data sources are untouched).
    Destroy(DestroyArgs),
    /// Inspect or edit what synlink manages; the remote lock, history and moving state between backends.
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing Azure resource into the state under an address of the spec.
    Import(ImportArgs),
    /// Print outputs: each link's and attachment's principal id, ids of created resources.
    Output(OutputArgs),
    /// Run the local Azure emulator (ARM and Synapse RBAC) as a server.
    Emulator(EmulatorArgs),
    /// Write the spec (and the matching state) of what already exists in Azure.
    Discover(DiscoverArgs),
}

/// Where the spec is and how its variables are set.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// The spec file [default: synlink.yaml; for `apply PLANFILE`, the spec the plan was made from].
    #[arg(short = 'f', long = "file", value_name = "SPEC")]
    pub file: Option<PathBuf>,

    /// Set a variable: NAME=VALUE, the value parsed as YAML (repeatable; wins over
    /// `--var-file`, `SYNLINK_VAR_<NAME>` and the spec's own defaults).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// A YAML file of variables (a map of NAME: VALUE; repeatable, later files win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl SpecArgs {
    /// The spec file: `-f`, else `synlink.yaml`.
    pub fn path(&self) -> PathBuf {
        self.file
            .clone()
            .unwrap_or_else(|| PathBuf::from("synlink.yaml"))
    }
}

/// How `synlink validate` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ValidateFormat {
    /// For people, on stderr: each problem in its source line, with a hint.
    #[default]
    Text,
    /// One JSON document on stdout: validity, counts, and every diagnostic with
    /// file, line, col, address, code, severity, message and hint.
    Json,
    /// GitHub Actions annotations on stdout, one `::error`/`::warning` line each.
    Github,
}

/// Flags of `synlink validate`.
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

/// Where the cloud is and how the state is kept.
#[derive(Debug, Clone, Args)]
pub struct CloudArgs {
    /// Override the spec's `cloud`: `azure` or `local` (the embedded emulator).
    #[arg(long, value_name = "CLOUD", value_parser = ["azure", "local"])]
    pub cloud: Option<String>,

    /// ARM endpoint to talk to instead of Azure's (e.g. a `synlink emulator`).
    #[arg(long, value_name = "URL", env = "SYNLINK_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,

    /// The state file [default: .synlink/state.json beside the spec].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// How long to wait for the state lock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,

    /// With the local cloud only: first create in it every data source the spec
    /// reads (`existing: true`) that is missing, with plausible settings, so
    /// any spec can be tried offline.
    #[arg(long)]
    pub seed_existing: bool,

    /// Requests on the wire at once per subscription (reads and writes alike; ARM's limits are per subscription, so a spec spanning four has four times as many), and per Synapse workspace's data plane; a change waiting on Azure (an operation, a throttle bucket, propagation) holds none, so many more changes may be under way.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub parallelism: u64,
}

/// How a plan is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// For people, with colour on a terminal.
    Text,
    /// Machine-readable, described by schemas/plan.schema.json.
    Json,
    /// For pull-request comments: summary table first, details folded.
    Markdown,
}

/// Flags of `synlink plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub cloud: CloudArgs,

    /// Save the plan to this file, for `synlink apply PLANFILE`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Exit 2 when the plan has changes (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Plan only addresses matching this glob (e.g. `links.team-*`) and what they need (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub target: Vec<String>,

    /// Only report drift between Azure and the state; plan no change.
    #[arg(long, conflicts_with = "destroy")]
    pub refresh_only: bool,

    /// Plan the removal of everything managed.
    #[arg(long)]
    pub destroy: bool,
}

/// Flags of `synlink apply`.
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// A plan saved with `synlink plan --out`: apply exactly it.
    #[arg(value_name = "PLANFILE")]
    pub planfile: Option<PathBuf>,

    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub cloud: CloudArgs,

    #[command(flatten)]
    pub run: RunArgs,

    /// Apply only addresses matching this glob and what they need (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub target: Vec<String>,

    /// With a saved plan: read all of Azure and compare a whole fresh plan with it before the first write (refused whole if anything moved), instead of checking each change against Azure just before it runs.
    #[arg(long, requires = "planfile")]
    pub verify_first: bool,
}

/// Flags shared by the commands that change Azure.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal); the plan is then decided while Azure is read, each change starts as soon as its own reads and dependencies are done, and the whole plan is printed when the run ends.
    #[arg(long)]
    pub auto_approve: bool,

    /// The longest wait, in seconds, for a new identity or a new Synapse role to take effect.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub propagation_timeout: u64,
}

/// Flags of `synlink destroy`.
#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub cloud: CloudArgs,

    #[command(flatten)]
    pub run: RunArgs,
}

/// `synlink state ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum StateCommand {
    /// List the addresses in the state.
    List(StateArgs),
    /// Show what the state records for one address.
    Show {
        /// The address, e.g. `links.team-fraud`.
        address: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Forget an address without deleting anything in Azure.
    Rm {
        /// The address, e.g. `links.team-fraud`.
        address: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Record a resource under another address (same section), touching nothing in Azure.
    Mv {
        /// The address the state records now, e.g. `links.fraud`.
        from: String,
        /// The new address, e.g. `links.team-fraud`.
        to: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Show who holds the state lock and break it, after confirmation (a remote state's lease).
    Unlock {
        /// Break it without asking (the holder's next state write is refused).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// List the earlier versions of a remote state: one snapshot per run that wrote it.
    History(StateArgs),
    /// Make an earlier version (a snapshot `state history` lists) the current state, under the lock.
    Restore {
        /// The snapshot, as `state history` lists it (e.g. 2026-12-01T14:03:00.1234567Z).
        snapshot: String,
        /// Do not ask for confirmation (required when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print the state as JSON on stdout (read without taking the lock).
    Pull(StateArgs),
    /// Replace the state with a state file, under the lock; an older serial or another lineage is refused.
    Push {
        /// The state file to write (JSON, as `state pull` prints it).
        #[arg(value_name = "FILE")]
        state_file: PathBuf,
        /// Replace the state even with an older serial or another lineage.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Copy the local state (--state PATH, else .synlink/state.json beside the spec) to the remote state the spec names.
    Migrate(StateArgs),
}

/// Where the state is.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The spec: its `state:` section names a remote state, else its directory holds the local one.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = "synlink.yaml"
    )]
    pub file: PathBuf,

    /// The state file [default: .synlink/state.json beside the spec].
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// How long to wait for the state lock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_timeout: u64,

    /// Set a variable the spec's `state:` section uses: NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// A YAML file of variables (a map of NAME: VALUE; repeatable, later files win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

/// Flags of `synlink import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The address in the spec, e.g. `links.team-fraud`.
    pub address: String,

    /// The ARM id of the existing resource (for a role grant: the Synapse
    /// workspace's ARM id, `/roleAssignments/`, and the assignment id).
    pub arm_id: String,

    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Flags of `synlink output`.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub state: StateArgs,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `synlink discover`.
#[derive(Debug, Clone, Args)]
pub struct DiscoverArgs {
    /// A subscription to read (repeatable).
    #[arg(long = "subscription", value_name = "SUB", required = true)]
    pub subscriptions: Vec<String>,

    /// Read only these resource groups of each subscription (repeatable).
    #[arg(long = "resource-group", value_name = "RG")]
    pub resource_groups: Vec<String>,

    /// The spec to write (never overwritten); the state goes beside it.
    #[arg(long, value_name = "FILE", default_value = "synlink.yaml")]
    pub out: PathBuf,

    /// Manage the AML and Synapse workspaces and pools instead of reading them as data sources.
    #[arg(long)]
    pub manage_workspaces: bool,

    /// Write each linked-service team as attachments with their own identity, for a migration.
    #[arg(long)]
    pub prefer_identity: bool,

    #[command(flatten)]
    pub cloud: CloudArgs,
}
