//! ARM throttling (azure-rest.md §1.5): a token bucket per subscription × principal ×
//! operation kind (reads, writes, deletes), refilled continuously. Time runs through the
//! time scale: with `timeScale` 0.01 a bucket refills a hundred times faster and the
//! Retry-After it asks for is a hundred times shorter (whole seconds, rounded up, plus a
//! precise `retry-after-ms`). The global per-subscription limit is not modelled.

use std::collections::HashMap;
use std::time::Instant;

use crate::faults::{BucketSpec, ThrottleSpec};

/// The operation kinds ARM counts apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpClass {
    /// GET, HEAD.
    Reads,
    /// PUT, PATCH, POST.
    Writes,
    /// DELETE.
    Deletes,
}

impl OpClass {
    /// The kind of an HTTP method.
    pub fn of(method: &http::Method) -> OpClass {
        match *method {
            http::Method::GET | http::Method::HEAD => OpClass::Reads,
            http::Method::DELETE => OpClass::Deletes,
            _ => OpClass::Writes,
        }
    }

    /// The suffix of the `x-ms-ratelimit-remaining-subscription-*` header.
    pub fn header(self) -> &'static str {
        match self {
            OpClass::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            OpClass::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            OpClass::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }
}

/// What the bucket said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on; this many tokens are left.
    Allowed { remaining: u64 },
    /// 429; retry after this many (real) milliseconds.
    Throttled { retry_after_ms: u64 },
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// All buckets.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: HashMap<(String, String, OpClass), Bucket>,
}

impl Throttle {
    /// Forgets every bucket (they start full again).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }

    /// Takes one token for a request.
    pub fn take(
        &mut self,
        spec: &ThrottleSpec,
        time_scale: f64,
        sub: &str,
        oid: &str,
        class: OpClass,
        now: Instant,
    ) -> Decision {
        let limits: BucketSpec = match class {
            OpClass::Reads => spec.reads,
            OpClass::Writes => spec.writes,
            OpClass::Deletes => spec.deletes,
        };
        let capacity = f64::from(limits.capacity);
        let bucket = self
            .buckets
            .entry((sub.to_ascii_lowercase(), oid.to_ascii_lowercase(), class))
            .or_insert(Bucket {
                tokens: capacity,
                last: now,
            });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64() / time_scale;
        bucket.tokens = (bucket.tokens + elapsed * limits.refill_per_sec).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "tokens lie within 0..=capacity"
            )]
            let remaining = bucket.tokens.floor() as u64;
            return Decision::Allowed { remaining };
        }
        let model_secs = if limits.refill_per_sec > 0.0 {
            (1.0 - bucket.tokens) / limits.refill_per_sec
        } else {
            3600.0
        };
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a wait of at most an hour in ms"
        )]
        let retry_after_ms = (model_secs * time_scale * 1000.0).ceil().max(1.0) as u64;
        Decision::Throttled { retry_after_ms }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_empty_bucket_throttles_until_it_refills() {
        let spec = ThrottleSpec::parse("reads=2/1").unwrap();
        let mut t = Throttle::default();
        let now = Instant::now();
        assert_eq!(
            t.take(&spec, 1.0, "s", "p", OpClass::Reads, now),
            Decision::Allowed { remaining: 1 }
        );
        assert_eq!(
            t.take(&spec, 1.0, "s", "p", OpClass::Reads, now),
            Decision::Allowed { remaining: 0 }
        );
        assert_eq!(
            t.take(&spec, 1.0, "s", "p", OpClass::Reads, now),
            Decision::Throttled {
                retry_after_ms: 1000
            }
        );
        // another principal has its own bucket
        assert!(matches!(
            t.take(&spec, 1.0, "s", "q", OpClass::Reads, now),
            Decision::Allowed { .. }
        ));
        let later = now + Duration::from_secs(1);
        assert!(matches!(
            t.take(&spec, 1.0, "s", "p", OpClass::Reads, later),
            Decision::Allowed { .. }
        ));
    }
}
