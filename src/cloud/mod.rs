//! Talking to Azure: credentials (`auth`), the HTTP client with retries,
//! throttling and long-running operations (`client`), and one file per
//! resource kind under `resources` (URL, api-version, body ⇄ properties,
//! fields that force replacement, outputs).

pub mod auth;
pub mod client;
pub mod error;
pub mod resources;
pub mod retry;
pub mod throttle;
