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
#[path = "emulator_errors.rs"]
mod errors;
#[path = "emulator_faults.rs"]
mod faults;
#[path = "emulator_rbac.rs"]
mod rbac;

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/emulator is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The emulator must stand apart from the engine: no `crate::` path may leave
/// `crate::emulator`, so agreeing with it means something.
#[test]
fn emulator_imports_nothing_from_the_engine() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/emulator");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "found the emulator sources");
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(i) = rest.find("crate::") {
                let after = &rest[i + "crate::".len()..];
                let preceded_by_ident = rest[..i]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
                if !preceded_by_ident && !after.starts_with("emulator") {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
                rest = after;
            }
            if line.trim_start().starts_with("use super::super")
                && file.ends_with("emulator/mod.rs")
            {
                offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the emulator imports engine code:\n{}",
        offences.join("\n")
    );
}
