//! synlink's one integration-test binary: one module per feature.

mod apply;
mod bad_specs;
mod discover;
mod emulator;
mod examples;
mod faults;
mod fuzz;
mod layers;
mod misuse;
mod plan;
mod plan_render;
mod plan_truth;
mod refactor;
mod schema;
mod security;
mod state;
mod validate_format;
mod world;
