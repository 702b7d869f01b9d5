//! Wall-clock time in milliseconds since the Unix epoch, and its RFC 3339 rendering.
//! Every persisted instant (LRO start, principal creation, assignment creation) uses it,
//! so a restart with the same data directory keeps timings meaningful.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// RFC 3339 text of an instant in epoch milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// `ms` multiplied by the time scale, in whole milliseconds (never negative).
pub fn scaled_ms(ms: u64, scale: f64) -> u64 {
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "delays are far below 2^52 ms and the scale is checked to be finite and positive"
    )]
    let out = (ms as f64 * scale).round().max(0.0) as u64;
    out
}
