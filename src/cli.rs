//! Command-line definitions (clap) and nothing else: no I/O happens here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::emulator::EmulatorArgs;

/// Declarative provisioning of Azure Machine Learning ⇄ Synapse links, Synapse role
/// grants and Spark pools attached to AML as compute.
#[derive(Debug, Parser)]
#[command(name = "synlink", version, about, long_about = None)]
pub struct Cli {
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never colour output (also implied by NO_COLOR or CI).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, expand and check a spec; print every problem, not only the first.
    Validate(SpecArgs),
    /// Write the dependency graph of a spec in DOT to stdout.
    Graph(SpecArgs),
    /// Run the local Azure emulator (ARM and Synapse RBAC) as a server.
    Emulator(EmulatorArgs),
}

/// Where the spec is and how its variables are set.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SPEC",
        default_value = "synlink.yaml"
    )]
    pub file: PathBuf,

    /// Set a variable: NAME=VALUE, the value parsed as YAML (repeatable; wins over
    /// --var-file, SYNLINK_VAR_<NAME> and the spec's own defaults).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// A YAML file of variables (a map of NAME: VALUE; repeatable, later files win).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}
