//! Emulator integration tests: every operation over real HTTP with reqwest, against an
//! emulator started in-process (`Emulator::start`) or as the real binary. The
//! submodules split them by feature; `support` holds the shared helpers.

#[path = "emulator_support.rs"]
pub mod support;

#[path = "emulator_arm.rs"]
mod arm;
#[path = "emulator_binary.rs"]
mod binary;
#[path = "emulator_conformance.rs"]
mod conformance;
#[path = "emulator_contract.rs"]
mod contract;
#[path = "emulator_errors.rs"]
mod errors;
#[path = "emulator_faults.rs"]
mod faults;
#[path = "emulator_federation.rs"]
mod federation;
#[path = "emulator_rbac.rs"]
mod rbac;

use std::path::Path;

/// The emulator must stand apart from the engine, so agreeing with it means something:
/// it is its own package, and its manifest names no synlink package in any dependency
/// table (Cargo then refuses any `use` of engine code).
#[test]
fn emulator_crate_depends_on_nothing_of_synlink() {
    let manifest_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/synlink-emulator/Cargo.toml");
    let manifest =
        std::fs::read_to_string(&manifest_path).expect("the emulator's manifest is readable");
    assert!(
        manifest.contains("name = \"synlink-emulator\""),
        "found the emulator's manifest"
    );
    let mut table = String::new();
    let mut offences = Vec::new();
    for (n, line) in manifest.lines().enumerate() {
        let line = line.trim();
        if line.starts_with('[') {
            table = line.trim_matches(|c| c == '[' || c == ']').to_owned();
            // `[dependencies.synlink]` names the dependency in the header itself.
            if table.contains("dependencies.")
                && table
                    .rsplit('.')
                    .next()
                    .is_some_and(|d| d.trim_matches('"').starts_with("synlink"))
            {
                offences.push(format!("{}: {line}", n + 1));
            }
            continue;
        }
        if !table.ends_with("dependencies") && !table.contains("dependencies.") {
            continue;
        }
        let key = line
            .split('=')
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        // A path into the workspace root (`path = "../.."`) is the engine, whatever it is called.
        let engine_path =
            line.contains("path") && (line.contains("\"../..\"") || line.contains("\"../../\""));
        if key.starts_with("synlink") || line.contains("package = \"synlink") || engine_path {
            offences.push(format!("{}: {line}", n + 1));
        }
    }
    assert!(
        offences.is_empty(),
        "{} depends on synlink:\n{}",
        manifest_path.display(),
        offences.join("\n")
    );
}
