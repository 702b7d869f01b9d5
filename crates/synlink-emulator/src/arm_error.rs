//! `ArmError`: an error answer in Azure's envelope, `{"error":{"code","message"}}`, with
//! its HTTP status and any extra headers (Retry-After, WWW-Authenticate). Every 4xx and
//! 5xx the emulator sends is one of these; constructors name Azure's codes.

use http::StatusCode;
use serde_json::json;

use crate::reply::Reply;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ArmError {
    /// HTTP status.
    pub status: StatusCode,
    /// `PascalCase` code.
    pub code: String,
    /// Human text.
    pub message: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// `error.details`: more specific errors under the code (`{code, message}` each).
    pub details: Vec<serde_json::Value>,
}

impl ArmError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code: code.to_owned(),
            message: message.into(),
            headers: Vec::new(),
            details: Vec::new(),
        }
    }

    /// Adds an entry to `error.details`.
    #[must_use]
    pub fn with_detail(mut self, code: &str, message: impl Into<String>) -> ArmError {
        self.details
            .push(json!({"code": code, "message": message.into()}));
        self
    }

    /// Adds a header to the answer.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> ArmError {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> ArmError {
        ArmError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 400 `InvalidRequestContent`: the body is not what the API takes.
    pub fn invalid_content(message: impl Into<String>) -> ArmError {
        ArmError::bad_request("InvalidRequestContent", message)
    }

    /// 404 `ResourceNotFound` in ARM's wording.
    pub fn resource_not_found(type_name: &str, name: &str, rg: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{type_name}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    /// 404 `ResourceGroupNotFound`.
    pub fn resource_group_not_found(rg: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    /// 404 `ParentResourceNotFound`.
    pub fn parent_not_found(parent: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ParentResourceNotFound",
            format!("Can not perform requested operation on nested resource. Parent resource '{parent}' not found."),
        )
    }

    /// 404 for a URL that names nothing the emulator serves.
    pub fn no_route(method: &str, path: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("No HTTP resource was found that matches the request URI '{path}' for method {method}."),
        )
    }

    /// 405 for a known URL and a method it does not take.
    pub fn method_not_allowed(method: &str, allowed: &str) -> ArmError {
        ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("The requested resource does not support http method '{method}'."),
        )
        .with_header("allow", allowed)
    }

    /// 403 `AuthorizationFailed` in ARM's wording.
    pub fn authorization_failed(oid: &str, action: &str, scope: &str) -> ArmError {
        ArmError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{oid}' with object id '{oid}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials."
            ),
        )
    }

    /// 409 `Conflict`.
    pub fn conflict(code: &str, message: impl Into<String>) -> ArmError {
        ArmError::new(StatusCode::CONFLICT, code, message)
    }

    /// The answer.
    pub fn into_reply(self) -> Reply {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.details.is_empty() {
            error["details"] = serde_json::Value::Array(self.details);
        }
        let mut reply = Reply::json(self.status, json!({ "error": error }));
        reply.headers.extend(self.headers);
        reply
    }
}

impl ArmError {
    /// Appends text to the message.
    #[must_use]
    pub fn with_message_suffix(mut self, suffix: &str) -> ArmError {
        self.message.push_str(suffix);
        self
    }
}
