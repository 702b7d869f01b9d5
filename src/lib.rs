//! synlink: a declarative provisioning engine for Azure Machine Learning ⇄ Synapse
//! links, Synapse role grants and Spark pools attached to AML as compute.
//!
//! Data flows one way: spec → graph → plan → apply. This crate's modules follow
//! that order; the emulator stands apart and imports nothing from the engine.

pub mod addr;
pub mod app;
pub mod apply;
pub mod cli;
pub mod cloud;
pub mod emulator;
pub mod error;
pub mod graph;
pub mod invocation;
pub mod plan;
pub mod provider;
pub mod render;
pub mod spec;
pub mod state;
