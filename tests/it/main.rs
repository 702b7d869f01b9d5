//! synlink's one integration-test binary: one module per feature.

mod api_models;
mod apply;
mod bad_specs;
mod discover;
mod docs;
mod emulator;
mod examples;
mod faults;
mod fidelity;
mod first_hour;
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
mod state_blob;
mod validate_format;
mod world;
