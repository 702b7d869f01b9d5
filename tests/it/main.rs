//! synlink's one integration-test binary: one module per feature.

mod api_models;
mod apply;
mod bad_specs;
mod emulator;
mod examples;
mod faults;
mod fuzz;
mod misuse;
mod plan;
mod plan_render;
mod schema;
mod security;
mod state;
mod validate_format;
mod world;
