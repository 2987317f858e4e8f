//! The Lightdash error envelope and the one table mapping gRPC codes to HTTP statuses:
//! `{"status":"error","error":{"statusCode","name","message","data"}}`.

use axum::{
    Json,
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An error answered to an API caller.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Message safe to show the caller.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no or bad credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "You must be logged in to perform this action",
        )
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404 for an unknown route.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Route not found")
    }
}

/// Lightdash's error name for a status.
pub fn error_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "ParameterError",
        401 => "AuthorizationError",
        403 => "ForbiddenError",
        404 => "NotFoundError",
        405 => "MethodNotAllowedError",
        409 => "AlreadyExistsError",
        413 => "PayloadTooLargeError",
        415 => "UnsupportedMediaTypeError",
        429 => "TooManyRequestsError",
        503 => "ServiceUnavailableError",
        504 => "GatewayTimeoutError",
        _ => "UnexpectedServerError",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "error": {
                "statusCode": self.status.as_u16(),
                "name": error_name(self.status),
                "message": self.message,
            }
        });
        (self.status, Json(body)).into_response()
    }
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code;
        let (status, message) = match s.code() {
            Code::InvalidArgument => (StatusCode::BAD_REQUEST, s.message().to_owned()),
            Code::FailedPrecondition => (StatusCode::BAD_REQUEST, s.message().to_owned()),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, s.message().to_owned()),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, s.message().to_owned()),
            Code::NotFound => (StatusCode::NOT_FOUND, s.message().to_owned()),
            Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, s.message().to_owned()),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, s.message().to_owned()),
            Code::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "A service is unavailable; try again".to_owned(),
            ),
            Code::DeadlineExceeded => (
                StatusCode::GATEWAY_TIMEOUT,
                "A service did not answer in time".to_owned(),
            ),
            _ => {
                tracing::error!(code = ?s.code(), message = s.message(), "upstream service failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong".to_owned(),
                )
            }
        };
        Self::new(status, message)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r.status() {
            // Lightdash answers 400 for every validation failure.
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            s => s,
        };
        let message = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "Expected request with `Content-Type: application/json`".to_owned()
            }
            JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                "Request body is too large".to_owned()
            }
            // serde quotes the offending value: a password sent where a number belongs must not
            // come back in the error (CR-7).
            _ => without_strings(&r.body_text()),
        };
        Self::new(status, message)
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// A serde message with its quoted string values elided (`invalid type: string "…"`): a
/// secret sent in the wrong field must not come back in the error. Field names are quoted
/// with backticks and stay.
pub(crate) fn without_strings(message: &str) -> String {
    // serde quotes with Rust's Debug escaping: `\"` and `\\` inside a value do not end it.
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    let mut escaped = false;
    for ch in message.chars() {
        match (ch, inside) {
            ('"', false) => {
                out.push_str("\"…\"");
                inside = true;
            }
            (_, true) if escaped => escaped = false,
            ('\\', true) => escaped = true,
            ('"', true) => inside = false,
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::without_strings;

    #[test]
    fn quoted_values_leave_deserialization_errors() {
        for secret in [
            "plain",
            r#"pa"ss"word"#,
            r"back\slash",
            "quote at end\"",
            "\u{1}",
        ] {
            let err = serde_json::from_value::<u32>(serde_json::json!(secret))
                .unwrap_err()
                .to_string();
            let shown = without_strings(&err);
            for part in secret.split('"').filter(|p| p.len() > 2) {
                assert!(!shown.contains(part), "{shown}");
            }
            assert!(shown.contains("invalid type: string"), "{shown}");
        }
        assert_eq!(
            without_strings("unknown field `owner`, expected `name`"),
            "unknown field `owner`, expected `name`"
        );
    }
}
