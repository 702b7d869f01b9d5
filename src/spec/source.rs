//! Reading a spec (or variable) file from disk: size limit, UTF-8 check and the
//! one-line causes for a path that cannot be read at all.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest spec accepted. A spec of 10,000 resources is about 2 MB; beyond
/// this a file is far more likely a mistake than a spec.
pub const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;

/// A file that could not be read as a spec.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Nothing at the path.
    #[error("{path}: no such file")]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// The path is a directory.
    #[error("{path}: is a directory, not a spec file")]
    IsDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// The file is over the size limit.
    #[error("{path}: the file is larger than {limit} MiB; a spec this big is not supported", limit = MAX_SPEC_BYTES / (1024 * 1024))]
    TooLarge {
        /// The path given.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{path}:{line}:{col}: the file is not UTF-8 text")]
    NotUtf8 {
        /// The path given.
        path: PathBuf,
        /// Line of the first invalid byte.
        line: usize,
        /// Column of the first invalid byte.
        col: usize,
    },
    /// Any other read failure.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The path given.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A spec file's path and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given by the user (shown in messages).
    pub path: PathBuf,
    /// The whole text.
    pub text: String,
}

/// Reads a file, refusing directories, oversized and non-UTF-8 files.
pub fn read(path: &Path) -> Result<SourceFile, SourceError> {
    let owned = || path.to_path_buf();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SourceError::NotFound { path: owned() },
        _ => SourceError::Io {
            path: owned(),
            source: e,
        },
    })?;
    if meta.is_dir() {
        return Err(SourceError::IsDirectory { path: owned() });
    }
    let file = std::fs::File::open(path).map_err(|e| SourceError::Io {
        path: owned(),
        source: e,
    })?;
    let mut bytes = Vec::new();
    // Read one byte past the limit so a file that grows while read is still caught.
    let limit = u64::try_from(MAX_SPEC_BYTES).unwrap_or(u64::MAX) + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| SourceError::Io {
            path: owned(),
            source: e,
        })?;
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SourceError::TooLarge { path: owned() });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile {
            path: owned(),
            text,
        }),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let col = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            Err(SourceError::NotUtf8 {
                path: owned(),
                line,
                col,
            })
        }
    }
}
