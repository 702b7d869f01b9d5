//! The local state backend: a JSON file (default `.synlink/state.json` beside
//! the spec) written atomically (temp file, fsync, rename, mode 0600), guarded
//! by a lock file that names its holder.
