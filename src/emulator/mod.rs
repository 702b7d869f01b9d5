//! The local Azure: an emulator of ARM and the Synapse data plane, written from
//! `azure-rest.md`. It imports nothing from the engine.

use std::net::SocketAddr;

/// Flags of `synlink emulator`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback by default; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Errors of the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Runs the emulator until SIGTERM or Ctrl-C.
pub async fn serve(args: EmulatorArgs) -> Result<(), EmulatorError> {
    let _ = args;
    Ok(())
}
