//! synlink's one integration-test binary: one module per feature.

mod apply;
mod bad_specs;
mod emulator;
mod examples;
mod plan;
mod plan_render;
mod schema;
mod state;
