//! Errors answered to API callers: the one table mapping gRPC codes to HTTP statuses, written
//! once for every dialect, and the [`Dialect`] trait by which a dialect gives only its envelope.
//! A handler of dialect `D` returns `Result<_, Error<D>>` and uses `?` on gRPC results.

use std::marker::PhantomData;

use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
};

/// A public API dialect's error shape.
pub trait Dialect {
    /// The JSON body answering an error with `status` and `message` (safe to show the caller).
    fn error_body(status: StatusCode, message: &str) -> serde_json::Value;
}

/// An error answered to an API caller in dialect `D`'s shape.
pub struct Error<D> {
    /// HTTP status.
    pub status: StatusCode,
    /// Message safe to show the caller.
    pub message: String,
    /// A 429's wait in seconds, when the service named one.
    pub retry_after: Option<u64>,
    dialect: PhantomData<fn() -> D>,
}

impl<D> std::fmt::Debug for Error<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("message", &self.message)
            .finish()
    }
}

impl<D> Clone for Error<D> {
    fn clone(&self) -> Self {
        Self {
            retry_after: self.retry_after,
            ..Self::new(self.status, self.message.clone())
        }
    }
}

impl<D> Error<D> {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            dialect: PhantomData,
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

    /// 500, for a fault the caller cannot act on.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
    }

    /// The same status and message, answered in dialect `E`'s shape.
    pub fn recast<E>(self) -> Error<E> {
        Error {
            retry_after: self.retry_after,
            ..Error::new(self.status, self.message)
        }
    }
}

impl<D: Dialect> IntoResponse for Error<D> {
    fn into_response(self) -> Response {
        let body = D::error_body(self.status, &self.message);
        let mut response = (self.status, axum::Json(body)).into_response();
        with_retry_after(&mut response, self.retry_after);
        response
    }
}

/// Every 429 says when to try again: the service's wait, else one second.
pub fn with_retry_after(response: &mut Response, retry_after: Option<u64>) {
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        let secs = retry_after.unwrap_or(1).max(1);
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
}

/// The HTTP status of a gRPC code, and the message to show instead of the service's (for
/// faults the caller should not see the details of).
pub fn status_of(code: tonic::Code) -> (StatusCode, Option<&'static str>) {
    use tonic::Code;
    match code {
        Code::InvalidArgument | Code::FailedPrecondition => (StatusCode::BAD_REQUEST, None),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, None),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, None),
        Code::NotFound => (StatusCode::NOT_FOUND, None),
        Code::AlreadyExists | Code::Aborted => (StatusCode::CONFLICT, None),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, None),
        Code::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("A service is unavailable; try again"),
        ),
        Code::DeadlineExceeded => (
            StatusCode::GATEWAY_TIMEOUT,
            Some("A service did not answer in time"),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("Something went wrong"),
        ),
    }
}

impl<D> From<tonic::Status> for Error<D> {
    fn from(s: tonic::Status) -> Self {
        let (status, shown) = status_of(s.code());
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = ?s.code(), message = s.message(), "upstream service failed");
        }
        Self {
            retry_after: service_kit::error::retry_after_of(&s),
            ..Self::new(status, shown.unwrap_or(s.message()))
        }
    }
}

/// 400 for a role in a body that is not an organization role, naming the roles there are.
impl<D> From<proto::identity::v1::UnknownOrganizationRole> for Error<D> {
    fn from(e: proto::identity::v1::UnknownOrganizationRole) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl<D> From<JsonRejection> for Error<D> {
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
