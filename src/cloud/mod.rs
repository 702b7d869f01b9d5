//! Talking to Azure, transport only: credentials (`auth`), the HTTP client
//! (`client`) with its retry policy (`retry`), client-side throttling
//! (`throttle`) and long-running operations, what each task is doing and
//! where the time goes (`activity`), and its errors. What each kind of
//! resource means lives in `provider`.

pub mod activity;
pub mod auth;
pub mod client;
pub mod error;
pub mod retry;
pub mod throttle;
