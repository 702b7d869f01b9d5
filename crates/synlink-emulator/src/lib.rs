//! The local Azure: an emulator of ARM (resource groups, AML workspaces, linked services,
//! Synapse Spark computes, Synapse workspaces and pools, Azure RBAC) and of the Synapse
//! data plane (Synapse RBAC), written from `azure-rest.md`. It is a package of its own and
//! depends on nothing of synlink's engine, so agreeing with it means something. This file
//! only lists the parts and exports the public surface (`EmulatorArgs`, `Config`,
//! `Emulator`, `serve`, `EmulatorError`).

mod api_version;
mod arm_error;
mod auth;
mod body;
mod clock;
mod config;
mod console;
mod control;
mod error;
mod faults;
mod lro;
mod managed_identity;
mod names;
mod operation;
mod pacing;
mod persist;
mod pipeline;
mod principal;
mod rbac;
mod reply;
mod request;
mod request_log;
mod routes;
mod server;
mod shared;
mod spark_runtimes;
mod store;
mod synapse_rbac;
mod throttle;
mod tls;
mod token_service;

pub use config::{Config, EmulatorArgs};
pub use error::EmulatorError;
pub use faults::{BucketSpec, FaultTarget, Faults, ThrottleSpec};
pub use server::{serve, Emulator};
