//! The retry policy: a pure function of the error and the attempt number,
//! apart from the code that does the work. 429 waits for `Retry-After`; 5xx,
//! timeouts and dropped connections back off exponentially with jitter;
//! `Conflict` / `AnotherOperationInProgress` wait and retry; everything else
//! fails at once. Attempts are bounded.

use std::time::Duration;

use crate::cloud::error::{CloudError, TransportKind};

/// The most attempts of one request (the first try included).
pub const MAX_ATTEMPTS: u32 = 8;

/// The most attempts of a request nothing answers (connection refused).
pub const QUICK_ATTEMPTS: u32 = 3;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Try again after this long.
    RetryAfter(Duration),
    /// Give up with the error.
    Fail,
}

/// Tunables of the backoff (tests and `--time-scale`-style runs shrink them).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

/// Decides whether attempt number `attempt` (1-based) that failed with `err`
/// is retried. `jitter` is a number in [0, 1) (random in production).
pub fn decide(err: &CloudError, attempt: u32, backoff: Backoff, jitter: f64) -> Decision {
    if attempt >= MAX_ATTEMPTS {
        return Decision::Fail;
    }
    let exponential = || {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        let d = backoff.base.saturating_mul(factor).min(backoff.max);
        // Full jitter between half and the whole delay keeps clients apart.
        d.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    };
    match err {
        CloudError::Azure {
            status: 429,
            retry_after,
            ..
        } => Decision::RetryAfter(retry_after.unwrap_or_else(exponential)),
        CloudError::Azure {
            status: 409,
            code,
            retry_after,
            ..
        } if code == "Conflict" || code == "AnotherOperationInProgress" => {
            Decision::RetryAfter(retry_after.unwrap_or_else(exponential))
        }
        CloudError::Azure {
            status,
            retry_after,
            ..
        } if *status >= 500 => Decision::RetryAfter(retry_after.unwrap_or_else(exponential)),
        CloudError::Transport {
            kind: TransportKind::Timeout | TransportKind::Connection,
            ..
        } => Decision::RetryAfter(exponential()),
        // Nothing listens there, or the name does not resolve: a restart or a
        // DNS hiccup gets a couple of quick tries, a wrong endpoint an answer
        // within seconds rather than after the whole backoff.
        CloudError::Transport {
            kind: TransportKind::Refused,
            ..
        } if attempt < QUICK_ATTEMPTS => Decision::RetryAfter(exponential()),
        CloudError::Transport {
            kind: TransportKind::NoSuchHost,
            ..
        } if attempt < 2 => Decision::RetryAfter(exponential()),
        _ => Decision::Fail,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{decide, Backoff, Decision, MAX_ATTEMPTS, QUICK_ATTEMPTS};
    use crate::cloud::error::{CloudError, TransportKind};

    fn azure(status: u16, code: &str, retry_after: Option<u64>) -> CloudError {
        CloudError::Azure {
            method: "PUT".into(),
            path: "/x".into(),
            status,
            code: code.into(),
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn throttling_honours_retry_after() {
        assert_eq!(
            decide(
                &azure(429, "TooManyRequests", Some(7)),
                1,
                Backoff::default(),
                0.0
            ),
            Decision::RetryAfter(Duration::from_secs(7))
        );
    }

    #[test]
    fn server_errors_and_drops_back_off_exponentially_and_stop() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(
            decide(&azure(503, "ServiceUnavailable", None), 1, b, 1.0),
            Decision::RetryAfter(Duration::from_millis(100))
        );
        assert_eq!(
            decide(&azure(500, "InternalServerError", None), 3, b, 1.0),
            Decision::RetryAfter(Duration::from_millis(400))
        );
        assert_eq!(
            decide(&azure(500, "InternalServerError", None), 6, b, 1.0),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        let drop = CloudError::Transport {
            method: "GET".into(),
            path: "/x".into(),
            kind: TransportKind::Connection,
            message: String::new(),
        };
        assert!(matches!(decide(&drop, 1, b, 0.0), Decision::RetryAfter(_)));
        assert_eq!(decide(&drop, MAX_ATTEMPTS, b, 0.0), Decision::Fail);
    }

    #[test]
    fn an_endpoint_that_refuses_or_does_not_resolve_fails_within_seconds() {
        let b = Backoff::default();
        let transport = |kind| CloudError::Transport {
            method: "GET".into(),
            path: "/x".into(),
            kind,
            message: String::new(),
        };
        let refused = transport(TransportKind::Refused);
        let waited: Duration = (1..MAX_ATTEMPTS)
            .map_while(|a| match decide(&refused, a, b, 1.0) {
                Decision::RetryAfter(d) => Some(d),
                Decision::Fail => None,
            })
            .sum();
        assert!(waited <= Duration::from_secs(5), "{waited:?}");
        assert_eq!(decide(&refused, QUICK_ATTEMPTS, b, 0.0), Decision::Fail);
        let tls = transport(TransportKind::Tls);
        assert_eq!(decide(&tls, 1, b, 0.0), Decision::Fail);
        let nxdomain = transport(TransportKind::NoSuchHost);
        assert!(matches!(
            decide(&nxdomain, 1, b, 0.0),
            Decision::RetryAfter(_)
        ));
        assert_eq!(decide(&nxdomain, 2, b, 0.0), Decision::Fail);
    }

    #[test]
    fn conflicts_wait_but_client_errors_fail() {
        assert!(matches!(
            decide(&azure(409, "Conflict", None), 1, Backoff::default(), 0.5),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            decide(
                &azure(409, "RoleAssignmentExists", None),
                1,
                Backoff::default(),
                0.5
            ),
            Decision::Fail
        );
        assert_eq!(
            decide(
                &azure(400, "InvalidResourceName", None),
                1,
                Backoff::default(),
                0.5
            ),
            Decision::Fail
        );
        assert_eq!(
            decide(
                &azure(403, "AuthorizationFailed", None),
                1,
                Backoff::default(),
                0.5
            ),
            Decision::Fail
        );
    }
}
