//! synlink's one integration-test binary: one module per feature.

mod bad_specs;
mod emulator;
mod examples;
mod plan;
mod plan_render;
mod schema;
mod state;
