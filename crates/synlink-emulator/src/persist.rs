//! Persistence of the store under `--data DIR` as one JSON file, `DIR/state.json`,
//! written atomically: a temporary file in the same directory, fsync, rename over the
//! old file, fsync of the directory. A restart with the same directory reads it back,
//! so resources, ids and principal ids survive.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::EmulatorError;
use crate::store::Store;

/// The state file of a data directory.
#[derive(Debug, Clone)]
pub struct Persist {
    dir: PathBuf,
    file: PathBuf,
}

impl Persist {
    /// Prepares a data directory (created when missing).
    pub fn new(dir: &Path) -> Result<Persist, EmulatorError> {
        fs::create_dir_all(dir).map_err(|source| EmulatorError::Data {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Persist {
            dir: dir.to_owned(),
            file: dir.join("state.json"),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved store, if there is one.
    pub fn load(&self) -> Result<Option<Store>, EmulatorError> {
        match fs::read(&self.file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| {
                EmulatorError::CorruptData {
                    path: self.file.clone(),
                    source,
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(EmulatorError::Data {
                path: self.file.clone(),
                source,
            }),
        }
    }

    /// Saves a store atomically.
    pub fn save(&self, store: &Store) -> Result<(), EmulatorError> {
        let data = |source| EmulatorError::Data {
            path: self.file.clone(),
            source,
        };
        let bytes = serde_json::to_vec(store).map_err(|e| data(std::io::Error::other(e)))?;
        let tmp = self
            .dir
            .join(format!(".state.json.{}.tmp", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.file)?;
            if let Ok(d) = fs::File::open(&self.dir) {
                // Directory fsync makes the rename durable; not every platform allows it.
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(data)
    }
}
