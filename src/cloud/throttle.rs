//! A client-side token bucket per subscription and operation kind, sized like
//! ARM's own (reads 250 + 25/s, writes 200 + 10/s, deletes 200 + 10/s), so a
//! big run paces itself instead of provoking 429s. The bucket is corrected by
//! the `x-ms-ratelimit-remaining-subscription-*` headers Azure sends back: when
//! Azure reports what remains, we believe Azure.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The ARM operation kinds that have separate buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// GET, HEAD, and POST reads.
    Read,
    /// PUT, PATCH, POST actions.
    Write,
    /// DELETE.
    Delete,
}

impl OpKind {
    /// The kind of an HTTP method.
    pub fn of(method: &reqwest::Method) -> OpKind {
        match *method {
            reqwest::Method::GET | reqwest::Method::HEAD => OpKind::Read,
            reqwest::Method::DELETE => OpKind::Delete,
            _ => OpKind::Write,
        }
    }

    /// The header suffix Azure uses.
    pub fn header(self) -> &'static str {
        match self {
            OpKind::Read => "x-ms-ratelimit-remaining-subscription-reads",
            OpKind::Write => "x-ms-ratelimit-remaining-subscription-writes",
            OpKind::Delete => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// Bucket size and refill per second.
    fn limits(self) -> (f64, f64) {
        match self {
            OpKind::Read => (250.0, 25.0),
            OpKind::Write | OpKind::Delete => (200.0, 10.0),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    /// Requests sent and not answered yet: Azure's count of what remains does
    /// not know of them.
    in_flight: usize,
}

/// All buckets.
#[derive(Debug)]
pub struct Throttle {
    buckets: Mutex<HashMap<(String, OpKind), Bucket>>,
    /// Multiplies the refill rate (tests run against an emulator whose clock is scaled).
    rate_scale: f64,
}

impl Throttle {
    /// Buckets with Azure's sizes; `rate_scale` > 1 refills faster.
    pub fn new(rate_scale: f64) -> Throttle {
        Throttle {
            buckets: Mutex::new(HashMap::new()),
            rate_scale: rate_scale.max(f64::MIN_POSITIVE),
        }
    }

    /// Takes a token for `(subscription, kind)`, first waiting as long as needed.
    pub async fn acquire(&self, subscription: &str, kind: OpKind) {
        loop {
            let wait = self.try_take(subscription, kind);
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Takes a token now, or says how long until one is available.
    fn try_take(&self, subscription: &str, kind: OpKind) -> Option<Duration> {
        let (size, refill) = kind.limits();
        let refill = refill * self.rate_scale;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let bucket = buckets
            .entry((subscription.to_owned(), kind))
            .or_insert(Bucket {
                tokens: size,
                updated: now,
                in_flight: 0,
            });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill).min(size);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.in_flight += 1;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - bucket.tokens) / refill))
        }
    }

    /// Records the answer to a request taken with `acquire`, with Azure's
    /// count of what remains when it sent one: the server's bucket is the
    /// truth (it refills on its own clock and counts every client of the
    /// principal), less the requests still on their way to it.
    pub fn finish(&self, subscription: &str, kind: OpKind, remaining: Option<f64>) {
        let (size, _) = kind.limits();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(&(subscription.to_owned(), kind)) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
            if let Some(remaining) = remaining {
                #[allow(clippy::cast_precision_loss)]
                let pending = bucket.in_flight as f64;
                bucket.tokens = (remaining - pending).clamp(0.0, size);
                bucket.updated = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{OpKind, Throttle};

    #[test]
    fn a_bucket_empties_then_asks_to_wait_for_the_refill() {
        let t = Throttle::new(1.0);
        for _ in 0..200 {
            assert_eq!(t.try_take("s", OpKind::Write), None);
        }
        let wait = t.try_take("s", OpKind::Write).expect("empty bucket waits");
        assert!(
            wait.as_secs_f64() > 0.05 && wait.as_secs_f64() <= 0.1,
            "{wait:?}"
        );
        // Other subscriptions and kinds have their own buckets.
        assert_eq!(t.try_take("other", OpKind::Write), None);
        assert_eq!(t.try_take("s", OpKind::Read), None);
    }

    #[test]
    fn azure_remaining_header_sets_the_estimate_both_ways() {
        let t = Throttle::new(1.0);
        assert_eq!(t.try_take("s", OpKind::Delete), None);
        t.finish("s", OpKind::Delete, Some(0.0));
        assert!(t.try_take("s", OpKind::Delete).is_some());
        // A server that refilled faster than our clock says so, and we go on.
        t.finish("s", OpKind::Delete, Some(150.0));
        assert_eq!(t.try_take("s", OpKind::Delete), None);
        // Requests still in flight are not in Azure's count yet.
        assert_eq!(t.try_take("s", OpKind::Delete), None);
        t.finish("s", OpKind::Delete, Some(1.0));
        assert!(
            t.try_take("s", OpKind::Delete).is_some(),
            "one remaining, one in flight"
        );
    }
}
