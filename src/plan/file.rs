//! Saved plans (`--out PLANFILE`): the plan as JSON, written atomically with
//! mode 0600, and read back with a clear error when the file is not a plan.

use std::io::Write as _;
use std::path::Path;

use crate::plan::{Plan, PLAN_FORMAT_VERSION};

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a synlink plan.
    #[error("not a synlink plan file: {0}")]
    NotAPlan(String),
    /// A plan of another format version.
    #[error("the plan has format version {0}; this synlink reads {PLAN_FORMAT_VERSION}")]
    Version(u32),
}

/// Writes a plan file atomically (temp file, fsync, rename), readable by its owner only.
pub fn write(path: &Path, plan: &Plan) -> Result<(), PlanFileError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let mut text =
        serde_json::to_string_pretty(plan).map_err(|e| PlanFileError::NotAPlan(e.to_string()))?;
    text.push('\n');
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot create a file in {}: {e}", dir.display()),
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a plan file.
pub fn read(path: &Path) -> Result<Plan, PlanFileError> {
    let bytes = std::fs::read(path)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| PlanFileError::NotAPlan(e.to_string()))?;
    let version = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| PlanFileError::NotAPlan("no format_version".into()))?;
    if version != u64::from(PLAN_FORMAT_VERSION) {
        return Err(PlanFileError::Version(
            u32::try_from(version).unwrap_or(u32::MAX),
        ));
    }
    serde_json::from_value(value).map_err(|e| PlanFileError::NotAPlan(e.to_string()))
}
