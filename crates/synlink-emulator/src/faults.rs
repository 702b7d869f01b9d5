//! The run-time knobs (`Faults`): latency, LRO duration, time scale, ARM throttling
//! buckets, the seeded failure rate, identity and Synapse RBAC delays, and targeted
//! faults. They start from `Config` and change at run time through `/_emulator/faults`
//! (GET shows them, PUT merges a partial JSON object). The JSON shape is camelCase.
//!
//! Reproducible failures: a request fails when `hash(seed, n)` falls below `failRate`,
//! where `n` is the request's sequence number (1, 2, …; control, identity and token
//! requests are not counted). The same seed and the same sequence of requests fail the
//! same requests with the same kind (500, 503 or a dropped connection). Lost answers
//! ("committed, answer lost") are drawn the same way under another salt: write number `n`,
//! once applied, loses its answer when `hash(seed, "lost-answer", n)` falls below
//! `lostAnswerRate`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::scaled_ms;
use crate::spark_runtimes::SUPPORTED_SPARK_RUNTIMES;

/// The run-time knobs of an emulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Faults {
    /// Latency added to every request (ms, scaled).
    pub latency_ms: u64,
    /// Duration of every long-running operation (ms, scaled).
    pub lro_ms: u64,
    /// Multiplies every delay.
    pub time_scale: f64,
    /// ARM throttling buckets.
    pub throttle: ThrottleSpec,
    /// Fraction of requests failed at random (0..1).
    pub fail_rate: f64,
    /// Seed of the failure decisions (`failRate` and `lostAnswerRate`).
    pub seed: u64,
    /// Identity replication delay (ms, scaled): `PrincipalNotFound` on ARM role
    /// assignments for principals younger than this.
    pub identity_delay_ms: u64,
    /// Synapse RBAC propagation delay (ms, scaled) before checkAccess sees an assignment.
    pub rbac_delay_ms: u64,
    /// Requests failed on purpose, by path substring.
    pub targets: Vec<FaultTarget>,
    /// Page size of the Synapse role assignment list (`x-ms-continuation` paging).
    pub synapse_page_size: usize,
    /// AML's 409 `Conflict` ("another operation on same entity is already running in
    /// workspace …") for a compute or linked-service write while another compute
    /// operation of the same AML workspace is in progress.
    pub aml_conflicts: bool,
    /// Read-after-write lag of ARM role assignments (ms, scaled): a GET of an assignment
    /// younger than this answers 404, as azurerm's eventual-consistency poller expects.
    pub role_assignment_read_delay_ms: u64,
    /// The Spark runtimes new pools may be created on (default: those Azure supports
    /// today, `SUPPORTED_SPARK_RUNTIMES`); a test that needs a pool made before a
    /// runtime's end of support adds it for that one PUT.
    pub spark_runtimes: Vec<String>,
    /// Fraction (0..1) of writes (PUT, PATCH, POST, DELETE) that are applied and whose
    /// answer is then lost: a dropped connection, or a 500, 502 or 504 (`--lost-answer-rate`).
    pub lost_answer_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            lro_ms: 2000,
            time_scale: 1.0,
            throttle: ThrottleSpec::default(),
            fail_rate: 0.0,
            seed: 0,
            identity_delay_ms: 0,
            rbac_delay_ms: 0,
            targets: Vec::new(),
            synapse_page_size: 100,
            aml_conflicts: false,
            role_assignment_read_delay_ms: 0,
            spark_runtimes: SUPPORTED_SPARK_RUNTIMES
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
            lost_answer_rate: 0.0,
        }
    }
}

/// ARM throttling: one token bucket per subscription × principal × operation kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottleSpec {
    /// Whether ARM requests are throttled at all.
    pub enabled: bool,
    /// GET and HEAD.
    pub reads: BucketSpec,
    /// PUT, PATCH and POST.
    pub writes: BucketSpec,
    /// DELETE.
    pub deletes: BucketSpec,
}

impl Default for ThrottleSpec {
    fn default() -> Self {
        ThrottleSpec {
            enabled: true,
            reads: BucketSpec {
                capacity: 250,
                refill_per_sec: 25.0,
            },
            writes: BucketSpec {
                capacity: 200,
                refill_per_sec: 10.0,
            },
            deletes: BucketSpec {
                capacity: 200,
                refill_per_sec: 10.0,
            },
        }
    }
}

impl ThrottleSpec {
    /// Parses `on`, `off` or `reads=250/25,writes=200/10,deletes=200/10` (any subset).
    pub fn parse(text: &str) -> Result<ThrottleSpec, String> {
        let mut spec = ThrottleSpec::default();
        match text.trim() {
            "on" | "true" => return Ok(spec),
            "off" | "false" => {
                spec.enabled = false;
                return Ok(spec);
            }
            _ => {}
        }
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, numbers) = part
                .split_once('=')
                .ok_or_else(|| format!("expected KIND=CAPACITY/REFILL, got `{part}`"))?;
            let (capacity, refill) = numbers
                .split_once('/')
                .ok_or_else(|| format!("expected CAPACITY/REFILL in `{part}`"))?;
            let bucket = BucketSpec {
                capacity: capacity
                    .trim()
                    .parse()
                    .map_err(|_| format!("capacity `{capacity}` is not a whole number"))?,
                refill_per_sec: refill
                    .trim()
                    .parse()
                    .map_err(|_| format!("refill `{refill}` is not a number"))?,
            };
            if !bucket.refill_per_sec.is_finite() || bucket.refill_per_sec < 0.0 {
                return Err(format!("refill `{refill}` must be a non-negative number"));
            }
            match kind.trim() {
                "reads" => spec.reads = bucket,
                "writes" => spec.writes = bucket,
                "deletes" => spec.deletes = bucket,
                other => return Err(format!("unknown bucket `{other}` (reads, writes, deletes)")),
            }
        }
        Ok(spec)
    }
}

/// One token bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketSpec {
    /// Tokens when full.
    pub capacity: u32,
    /// Tokens added per (scaled) second.
    pub refill_per_sec: f64,
}

/// A targeted fault: every matching request fails the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultTarget {
    /// Matches when the request path contains this text (case-insensitive).
    pub path_contains: String,
    /// Only this method (any when absent).
    pub method: Option<String>,
    /// Status to answer (400..=599), or 0 to drop the connection.
    pub status: u16,
    /// Error code of the envelope (default from the status).
    pub code: Option<String>,
    /// How many more requests to fail (forever when absent).
    pub remaining: Option<u64>,
}

impl Default for FaultTarget {
    fn default() -> Self {
        FaultTarget {
            path_contains: String::new(),
            method: None,
            status: 503,
            code: None,
            remaining: None,
        }
    }
}

/// What the failure knobs decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// Answer with this status and code.
    Status { status: u16, code: String },
    /// Close the connection without an answer.
    Drop,
}

impl Faults {
    /// Checks ranges; the message names the knob.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(format!(
                "timeScale must be a positive number, got {}",
                self.time_scale
            ));
        }
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(format!(
                "failRate must be within 0..1, got {}",
                self.fail_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.lost_answer_rate) {
            return Err(format!(
                "lostAnswerRate must be within 0..1, got {}",
                self.lost_answer_rate
            ));
        }
        if self.synapse_page_size == 0 {
            return Err("synapsePageSize must be at least 1".to_owned());
        }
        for b in [
            &self.throttle.reads,
            &self.throttle.writes,
            &self.throttle.deletes,
        ] {
            if !b.refill_per_sec.is_finite() || b.refill_per_sec < 0.0 {
                return Err("throttle refillPerSec must be a non-negative number".to_owned());
            }
        }
        for t in &self.targets {
            if t.status != 0 && !(400..=599).contains(&t.status) {
                return Err(format!(
                    "targets[].status must be 0 or 400..=599, got {}",
                    t.status
                ));
            }
            if t.path_contains.is_empty() {
                return Err("targets[].pathContains must not be empty".to_owned());
            }
        }
        Ok(())
    }

    /// `ms` scaled by the time scale.
    pub fn scaled(&self, ms: u64) -> u64 {
        scaled_ms(ms, self.time_scale)
    }

    /// The targeted fault for a request, consuming one use of a counted target.
    pub fn take_target(&mut self, method: &str, path: &str) -> Option<Injected> {
        let lower = path.to_ascii_lowercase();
        let index = self.targets.iter().position(|t| {
            lower.contains(&t.path_contains.to_ascii_lowercase())
                && t.method
                    .as_ref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && t.remaining != Some(0)
        })?;
        let target = &mut self.targets[index];
        if let Some(n) = target.remaining.as_mut() {
            *n -= 1;
        }
        Some(if target.status == 0 {
            Injected::Drop
        } else {
            Injected::Status {
                status: target.status,
                code: target
                    .code
                    .clone()
                    .unwrap_or_else(|| default_code(target.status).to_owned()),
            }
        })
    }

    /// The seeded random failure for request number `seq`, if any.
    pub fn random_failure(&self, seq: u64) -> Option<Injected> {
        let (draw, digest) = draw(self.seed, b"", seq);
        if self.fail_rate <= 0.0 || draw >= self.fail_rate {
            return None;
        }
        Some(match digest[8] % 3 {
            0 => Injected::Status {
                status: 500,
                code: default_code(500).to_owned(),
            },
            1 => Injected::Status {
                status: 503,
                code: default_code(503).to_owned(),
            },
            _ => Injected::Drop,
        })
    }
}

impl Faults {
    /// For write number `seq` that was applied: whether its answer is lost, and how (a
    /// dropped connection, or a 500, 502 or 504 from a gateway), decided like
    /// `random_failure` from the seed and `seq` (under another salt, so the two modes
    /// draw independently).
    pub fn lost_answer(&self, seq: u64) -> Option<Injected> {
        let (draw, digest) = draw(self.seed, b"lost-answer", seq);
        if self.lost_answer_rate <= 0.0 || draw >= self.lost_answer_rate {
            return None;
        }
        let status = match digest[8] % 4 {
            0 => return Some(Injected::Drop),
            1 => 500,
            2 => 502,
            _ => 504,
        };
        Some(Injected::Status {
            status,
            code: default_code(status).to_owned(),
        })
    }
}

/// A uniform draw in 0..1 from `sha256(seed, salt, seq)`, and the digest.
fn draw(seed: u64, salt: &[u8], seq: u64) -> (f64, [u8; 32]) {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(salt);
    hasher.update(seq.to_le_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    #[allow(
        clippy::cast_precision_loss,
        reason = "a uniform fraction needs no more than 53 bits"
    )]
    let fraction = (u64::from_le_bytes(first) >> 11) as f64 / (1_u64 << 53) as f64;
    (fraction, digest)
}

/// The envelope code Azure uses for a bare status.
pub fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_spec_parses_partial_bucket_lists() {
        let spec = ThrottleSpec::parse("reads=5/1").unwrap();
        assert_eq!(spec.reads.capacity, 5);
        assert_eq!(spec.writes.capacity, 200);
        assert!(!ThrottleSpec::parse("off").unwrap().enabled);
        assert!(ThrottleSpec::parse("reads=x").is_err());
    }

    #[test]
    fn random_failures_depend_only_on_seed_and_sequence() {
        let f = Faults {
            fail_rate: 0.3,
            seed: 7,
            ..Faults::default()
        };
        let a: Vec<_> = (1..200).map(|n| f.random_failure(n)).collect();
        let b: Vec<_> = (1..200).map(|n| f.random_failure(n)).collect();
        assert_eq!(a, b);
        let failed = a.iter().filter(|x| x.is_some()).count();
        assert!((30..100).contains(&failed), "{failed}");
    }

    #[test]
    fn lost_answers_depend_only_on_seed_and_sequence_and_use_every_kind() {
        let f = Faults {
            lost_answer_rate: 0.5,
            seed: 11,
            ..Faults::default()
        };
        let a: Vec<_> = (1..400).map(|n| f.lost_answer(n)).collect();
        assert_eq!(a, (1..400).map(|n| f.lost_answer(n)).collect::<Vec<_>>());
        assert!(a.contains(&Some(Injected::Drop)));
        for status in [500, 502, 504] {
            assert!(
                a.iter()
                    .any(|x| matches!(x, Some(Injected::Status { status: s, .. }) if *s == status)),
                "{status}"
            );
        }
        let other = Faults {
            seed: 12,
            ..f.clone()
        };
        assert_ne!(
            a,
            (1..400).map(|n| other.lost_answer(n)).collect::<Vec<_>>()
        );
    }
}
