//! Errors of the cloud layer, as data: Azure's error envelope parsed into a
//! typed error, transport failures by kind, and credential failures.

use std::time::Duration;

/// How a request failed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// No answer within the request timeout.
    Timeout,
    /// Nothing listens at the address (connection refused).
    Refused,
    /// The host name does not resolve.
    NoSuchHost,
    /// The TLS handshake failed (an untrusted or wrong certificate).
    Tls,
    /// The connection could not be made or was dropped.
    Connection,
    /// Anything else (a malformed answer).
    Other,
}

impl TransportKind {
    /// Classifies a failed request by its chain of causes (reqwest wraps the
    /// connector's and the OS's errors; their kinds and texts say which).
    pub fn of(error: &(dyn std::error::Error + 'static)) -> Option<TransportKind> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return Some(TransportKind::Refused);
                }
            }
            let text = e.to_string().to_ascii_lowercase();
            if text.contains("dns error") || text.contains("failed to lookup address") {
                return Some(TransportKind::NoSuchHost);
            }
            if text.contains("certificate") || text.contains("tls handshake") {
                return Some(TransportKind::Tls);
            }
            if text.contains("connection refused") {
                return Some(TransportKind::Refused);
            }
            cause = e.source();
        }
        None
    }

    /// What to check, for the kinds where there is something to say.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            TransportKind::Refused => Some("nothing answers at that address: check the endpoint (--arm-endpoint, SYNLINK_ARM_ENDPOINT or the spec's `cloud`) and that the server (an emulator?) runs"),
            TransportKind::NoSuchHost => Some("the host name does not resolve: check the endpoint's spelling, your DNS and any proxy"),
            TransportKind::Tls => Some("the server's certificate is not trusted: check the endpoint is the one you mean; TLS verification is never turned off"),
            _ => None,
        }
    }
}

/// The deepest message of a chain of causes (what actually happened).
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
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

    /// Whether nothing can be reached where it was sent (nothing listens,
    /// the name does not resolve, the certificate is not trusted): every
    /// other request to that endpoint would meet the same.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            CloudError::Transport {
                kind: TransportKind::Refused | TransportKind::NoSuchHost | TransportKind::Tls,
                ..
            }
        )
    }

    /// Whether this is a 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The request it concerns, when it concerns one (`GET /subscriptions/…`).
    pub fn request(&self) -> Option<String> {
        match self {
            CloudError::Azure { method, path, .. } | CloudError::Transport { method, path, .. } => {
                Some(format!("{method} {path}"))
            }
            CloudError::OperationFailed { path, .. }
            | CloudError::OperationTimeout { path, .. }
            | CloudError::Unexpected { path, .. } => (!path.is_empty()).then(|| path.clone()),
            CloudError::Credential { .. } => None,
        }
    }

    /// What went wrong, without the request: errors with the same cause (a
    /// credential that fails, an endpoint that does not answer, a missing
    /// right) have the same cause text, so they are reported once.
    pub fn cause(&self) -> String {
        match self {
            CloudError::Azure {
                status,
                code,
                message,
                ..
            } => format!("{status} {code}: {message}"),
            CloudError::Transport { message, .. } => message.clone(),
            CloudError::OperationFailed {
                status,
                code,
                message,
                ..
            } => format!("the operation ended {status}: {code}: {message}"),
            CloudError::OperationTimeout { waited, .. } => {
                format!("the operation did not finish within {}s", waited.as_secs())
            }
            CloudError::Credential { tried, .. } => format!(
                "no credential could get a token:\n{}",
                tried
                    .iter()
                    .map(|(n, why)| format!("  - {n}: {why}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            CloudError::Unexpected { message, .. } => format!("unexpected answer: {message}"),
        }
    }

    /// What makes two errors one cause: their cause text, except that every
    /// credential failure of a run is one (its details carry timestamps).
    pub fn cause_key(&self) -> String {
        match self {
            CloudError::Credential { .. } => "credential".to_owned(),
            other => other.cause(),
        }
    }

    /// What to do about it, where there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            CloudError::Transport { kind, .. } => kind.hint(),
            CloudError::Azure { status: 401, .. } => Some("the token was refused: check which credential answered (-v) and its tenant"),
            CloudError::Azure { status: 403, .. } => Some("the caller lacks a right there: see which role the message names, and ask an Owner of the resource"),
            CloudError::Credential { .. } => Some("sign in (az login), or set the variables of one of the credentials above"),
            _ => None,
        }
    }
}
