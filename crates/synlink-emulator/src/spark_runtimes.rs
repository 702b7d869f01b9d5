//! The Spark runtimes of Synapse pools: every version a pool can carry (older pools may
//! still be on a retired one) and the ones Azure creates new pools on today. Plain data,
//! the emulator's one list; the pool rules (`big_data_pools.rs`) and the knobs' default
//! (`faults.rs`) read it.

/// The Spark runtimes a pool can carry.
pub const SPARK_VERSIONS: &[&str] = &["2.4", "3.1", "3.2", "3.3", "3.4", "3.5"];

/// The runtimes Azure creates new pools on today: the supported ones. Source:
/// learn.microsoft.com azure/synapse-analytics/spark/apache-spark-version-support and
/// apache-spark-34-runtime ("Azure Synapse Runtime for Apache Spark 3.4 reached end of
/// support on March 31, 2026"; 3.5 is GA; 3.3 and older are deprecated and disabled).
/// The `sparkRuntimes` knob overrides it (a test that needs a pool made before a
/// runtime's end of support widens it).
pub const SUPPORTED_SPARK_RUNTIMES: &[&str] = &["3.5"];
