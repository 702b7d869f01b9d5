//! synlink: a declarative provisioning engine for Azure Machine Learning ⇄ Synapse
//! links, Synapse role grants and Spark pools attached to AML as compute.
//!
//! Data flows one way: spec → graph → plan → apply. This crate's modules follow
//! that order. The emulator is the `synlink-emulator` package beside it.

pub mod addr;
pub mod app;
pub mod app_state;
pub mod apply;
pub mod cli;
pub mod cloud;
pub mod discover;
pub mod error;
pub mod graph;
pub mod invocation;
pub mod plan;
pub mod provider;
pub mod render;
pub mod seed;
pub mod spec;
pub mod state;
pub mod stream;
