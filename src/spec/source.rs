//! Reading a spec (or variable) file from disk: size limit, UTF-8 check and the
//! one-line causes for a path that cannot be read at all (also as diagnostics,
//! for machine-readable output).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::spec::diagnostic::{Code, Diagnostic, Pos};

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

impl SourceError {
    /// The path that could not be read.
    pub fn path(&self) -> &Path {
        match self {
            SourceError::NotFound { path }
            | SourceError::IsDirectory { path }
            | SourceError::TooLarge { path }
            | SourceError::NotUtf8 { path, .. }
            | SourceError::Io { path, .. } => path,
        }
    }

    /// The failure as a diagnostic of the file (its message without the path),
    /// for machine-readable output.
    pub fn diagnostic(&self) -> Diagnostic {
        let text = self.to_string();
        let prefix = format!("{}", self.path().display());
        let message = text
            .strip_prefix(&prefix)
            .map_or(text.as_str(), |rest| {
                rest.trim_start_matches(|c: char| c == ':' || c.is_ascii_digit())
            })
            .trim_start()
            .to_owned();
        let (code, pos) = match self {
            SourceError::NotFound { .. } => (Code::FileNotFound, None),
            SourceError::IsDirectory { .. } => (Code::IsDirectory, None),
            SourceError::TooLarge { .. } => (Code::FileTooLarge, None),
            SourceError::NotUtf8 { line, col, .. } => (
                Code::NotUtf8,
                Some(Pos {
                    line: u32::try_from(*line).unwrap_or(u32::MAX),
                    col: u32::try_from(*col).unwrap_or(u32::MAX),
                }),
            ),
            SourceError::Io { .. } => (Code::Unreadable, None),
        };
        Diagnostic::error(pos, message).code(code)
    }
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

#[cfg(test)]
mod tests {
    use super::read;
    use crate::spec::diagnostic::{Code, Pos};

    #[test]
    fn unreadable_files_become_diagnostics_without_their_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = read(&dir.path().join("missing.yaml")).expect_err("missing");
        let d = missing.diagnostic();
        assert_eq!(
            (d.code, d.message.as_str()),
            (Code::FileNotFound, "no such file")
        );
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, b"a: 1\nb: \xff\n").expect("write");
        let d = read(&bad).expect_err("not UTF-8").diagnostic();
        assert_eq!(d.code, Code::NotUtf8);
        assert_eq!(d.pos, Some(Pos { line: 2, col: 4 }));
        assert_eq!(d.message, "the file is not UTF-8 text");
    }
}
