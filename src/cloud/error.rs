//! Errors of the cloud layer, as data: Azure's error envelope parsed into a
//! typed error, transport failures by kind, and credential failures.

use std::time::Duration;

/// How a request failed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No answer within the request timeout.
    Timeout,
    /// The connection could not be made or was dropped.
    Connection,
    /// Anything else (a malformed answer).
    Other,
}

/// An error talking to Azure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CloudError {
    /// Azure answered with an error status and (usually) the error envelope.
    #[error("{method} {path}: {status} {code}: {message}")]
    Azure {
        /// HTTP method.
        method: String,
        /// Path (no query, no host).
        path: String,
        /// HTTP status.
        status: u16,
        /// The envelope's `code` (or the status text).
        code: String,
        /// The envelope's `message`.
        message: String,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The request did not complete.
    #[error("{method} {path}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// What kind of failure.
        kind: TransportKind,
        /// Details (never a token).
        message: String,
    },
    /// A long-running operation ended in a failure state.
    #[error("{path}: the operation ended {status}: {code}: {message}")]
    OperationFailed {
        /// The resource path.
        path: String,
        /// `Failed` or `Canceled`.
        status: String,
        /// Azure's error code.
        code: String,
        /// Azure's message.
        message: String,
    },
    /// A long-running operation did not finish in time.
    #[error("{path}: the operation did not finish within {}s", waited.as_secs())]
    OperationTimeout {
        /// The resource path.
        path: String,
        /// How long we waited.
        waited: Duration,
    },
    /// No credential could produce a token.
    #[error("no credential could get a token for {audience}:\n{}", tried.iter().map(|(n, why)| format!("  - {n}: {why}")).collect::<Vec<_>>().join("\n"))]
    Credential {
        /// The audience (scope) asked for.
        audience: String,
        /// Each credential tried, with why it failed.
        tried: Vec<(String, String)>,
    },
    /// An answer that is not what the contract says.
    #[error("{path}: unexpected answer: {message}")]
    Unexpected {
        /// The resource path.
        path: String,
        /// What was wrong.
        message: String,
    },
}

impl CloudError {
    /// The HTTP status, for Azure errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            CloudError::Azure { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Azure's error code, for Azure errors and failed operations.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::Azure { code, .. } | CloudError::OperationFailed { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}
