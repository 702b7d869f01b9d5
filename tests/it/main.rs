//! synlink's one integration-test binary: one module per feature.

mod api_models;
mod apply;
mod azurite;
mod bad_specs;
mod emulator;
mod examples;
mod faults;
mod first_hour;
mod fuzz;
mod github_pipeline;
mod github_signin;
mod layers;
mod misuse;
mod plan;
mod plan_render;
mod plan_truth;
mod schema;
mod security;
mod state;
mod state_blob;
mod team_state;
mod validate_format;
mod world;
