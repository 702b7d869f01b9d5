//! The Azure Synapse runtimes for Apache Spark and when each ended its
//! support, in one place for the engine: validation refuses a version that is
//! no runtime at all and warns about one out of support; a plan refuses to
//! create a pool on one (Azure refuses it too), while existing pools on it
//! still read and update.
//!
//! Source: learn.microsoft.com, "Azure Synapse runtimes" and each runtime's
//! page: 3.3 was disabled on 2025-03-31, 3.4 reached end of support on
//! 2026-03-31, 3.5 is generally available.

/// A runtime and, once it has one, its end-of-support date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    /// The `spark_version` that selects it.
    pub version: &'static str,
    /// The day support ended (ISO 8601), when it has.
    pub end_of_support: Option<&'static str>,
}

/// The runtimes a spec may name (older ones are disabled in Azure altogether).
pub const RUNTIMES: [Runtime; 3] = [
    Runtime {
        version: "3.3",
        end_of_support: Some("2025-03-31"),
    },
    Runtime {
        version: "3.4",
        end_of_support: Some("2026-03-31"),
    },
    Runtime {
        version: "3.5",
        end_of_support: None,
    },
];

/// The runtime of a `spark_version`, if it is one.
pub fn find(version: &str) -> Option<Runtime> {
    RUNTIMES.iter().copied().find(|r| r.version == version)
}

/// The runtimes new pools may be created on, as `"3.5"` (quoted, comma separated).
pub fn supported() -> String {
    RUNTIMES
        .iter()
        .filter(|r| r.end_of_support.is_none())
        .map(|r| format!("\"{}\"", r.version))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The supported runtimes, unquoted: `3.5`.
pub fn supported_list() -> String {
    list(|r| r.end_of_support.is_none())
}

/// The runtimes out of support that existing pools may still run: `3.3, 3.4`.
pub fn retired_list() -> String {
    list(|r| r.end_of_support.is_some())
}

fn list(keep: impl Fn(&Runtime) -> bool) -> String {
    RUNTIMES
        .iter()
        .filter(|r| keep(r))
        .map(|r| r.version)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::{find, supported};

    #[test]
    fn only_the_current_runtime_is_supported_for_new_pools() {
        assert_eq!(supported(), "\"3.5\"");
        assert_eq!(
            find("3.4").and_then(|r| r.end_of_support),
            Some("2026-03-31")
        );
        assert_eq!(find("3.5").and_then(|r| r.end_of_support), None);
        assert!(find("4.0").is_none() && find("2.4").is_none());
    }
}
