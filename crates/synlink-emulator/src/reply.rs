//! `Reply`: what a handler answers (status, headers, optional JSON body) before the
//! server adds the headers every answer carries (`x-ms-request-id`, rate-limit counts).

use http::StatusCode;
use serde_json::Value;

/// An answer in the making.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// JSON body, or none.
    pub body: Option<Value>,
    /// A body that is not JSON (text, form answers).
    pub raw: Option<(String, Vec<u8>)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
            raw: None,
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    /// An answer without a body.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
            raw: None,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}
