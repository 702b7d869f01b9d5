//! `EmulatorError`: what can stop the emulator from starting, serving or shutting down.
//! Errors answered to HTTP clients are not here: they are `ArmError`s (`arm_error.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the emulator as a whole.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// A non-loopback address was asked for without `--allow-remote`.
    #[error("refusing to listen on non-loopback address {addr}\nhint: the emulator hands out tokens to anyone; pass --allow-remote if you really mean it")]
    RemoteNotAllowed { addr: SocketAddr },
    /// A knob has a value out of range.
    #[error("invalid emulator setting: {0}")]
    InvalidConfig(String),
    /// Reading or writing the data directory failed.
    #[error("emulator data {path}: {source}")]
    Data {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The data directory holds a state file that cannot be read back.
    #[error("emulator data {path} is not a valid state file: {source}")]
    CorruptData {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// The self-signed certificate could not be made or loaded.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// Another I/O failure (waiting for a signal).
    #[error("emulator I/O: {0}")]
    Io(#[from] std::io::Error),
}
