//! The face's refusals: RFC 7807 problems (`application/problem+json`: `type`, `title`,
//! `status`, `detail`, `instance`, `error_code`, `trace_id`) with the face's error codes, and
//! FastAPI's 422 for request validation (`{"detail": [{loc, msg, type}]}`). The codes are the
//! table [`CODES`], served at `/v0/errors/{code}` (each problem's `type` points there) and
//! listed in docs/sumvin.md. `instance` and `trace_id` are added by [`super::problem_context`]
//! on the way out, for every problem the face answers, its extractors' refusals included.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::Sumvin;
use crate::http::error::{Dialect, Error};

/// One of the face's error codes: `CON-<status>-<sequence>`, `-R` when retrying may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Code {
    pub code: &'static str,
    pub status: u16,
    pub title: &'static str,
    pub description: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $status:literal, $title:literal, $description:literal;)*) => {
        $(pub(super) const $name: Code = Code {
            code: $code,
            status: $status,
            title: $title,
            description: $description,
        };)*
        /// Every code the face answers.
        pub(super) const CODES: &[Code] = &[$($name),*];
    };
}

codes! {
    BAD_REQUEST = "CON-400-001", 400, "Bad request",
        "The request cannot be read as sent.";
    UNAUTHENTICATED = "CON-401-001", 401, "Not authenticated",
        "Send exactly one of x-sumvin-pat (a personal access token) or x-juno-jwt (an access JWT); \
         the one sent is unknown, revoked, expired or malformed.";
    FORBIDDEN = "CON-403-001", 403, "Forbidden",
        "The caller may not do this (their role, or their account's allowed IPs).";
    USER_CONNECTOR_NOT_FOUND = "CON-404-001", 404, "User connector not found",
        "No connector of the caller has this id (one of another user is not found either).";
    CONNECTOR_NOT_FOUND = "CON-404-002", 404, "Connector not found",
        "The catalog has no connector with this id.";
    ROUTE_NOT_FOUND = "CON-404-003", 404, "Route not found",
        "No route of the face has this path.";
    ERROR_CODE_NOT_FOUND = "CON-404-004", 404, "Error code not found",
        "The face answers no error with this code.";
    METHOD_NOT_ALLOWED = "CON-405-001", 405, "Method not allowed",
        "The route does not take this method.";
    REQUEST_TIMEOUT = "CON-408-001", 408, "Request timeout",
        "The body did not arrive whole in time; send it at once.";
    CONFLICT = "CON-409-001", 409, "Conflict",
        "The connector changed meanwhile (read it again and retry), or the caller holds as many \
         connectors as they may.";
    TOO_LARGE = "CON-413-001", 413, "Request body too large",
        "The body is larger than the gateway accepts.";
    UNSUPPORTED_MEDIA_TYPE = "CON-415-001", 415, "Unsupported media type",
        "Send the body as Content-Type: application/json.";
    TOO_MANY_REQUESTS = "CON-429-001-R", 429, "Too many requests",
        "Slow down and retry later.";
    INTERNAL = "CON-500-001", 500, "Internal error",
        "Something went wrong on our side; the trace_id finds it in our logs.";
    UNAVAILABLE = "CON-503-001-R", 503, "Service unavailable",
        "A service is unavailable; retry.";
    TIMEOUT = "CON-504-001-R", 504, "Timeout",
        "A service did not answer in time; retry.";
}

/// The code of a status that has no more specific one.
fn code_of(status: StatusCode) -> Code {
    CODES
        .iter()
        .find(|c| c.status == status.as_u16())
        .copied()
        .unwrap_or(if status.is_server_error() {
            INTERNAL
        } else {
            BAD_REQUEST
        })
}

/// An RFC 7807 problem, every error of the face but request validation's 422.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinProblem)]
pub(super) struct Problem {
    /// `/v0/errors/<error_code>`, which says what the code means.
    #[serde(rename = "type")]
    #[schema(example = "/v0/errors/CON-404-001")]
    kind: String,
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What went wrong, for a person.
    detail: String,
    /// The request's path.
    instance: String,
    /// `CON-<status>-<sequence>`; `-R` when retrying may succeed.
    #[schema(example = "CON-404-001")]
    error_code: &'static str,
    /// The request's `x-request-id`, which the gateway's log lines carry.
    trace_id: String,
}

/// The problem body; `instance` and `trace_id` are filled on the way out (see the module's
/// documentation).
fn problem_body(code: Code, detail: &str) -> Problem {
    Problem {
        kind: format!("/v0/errors/{}", code.code),
        title: code.title,
        status: code.status,
        detail: detail.to_owned(),
        instance: String::new(),
        error_code: code.code,
        trace_id: String::new(),
    }
}

impl Dialect for Sumvin {
    fn error_body(status: StatusCode, message: &str) -> Value {
        serde_json::to_value(problem_body(code_of(status), message)).expect("a problem serializes")
    }
}

/// Request validation's 422, in FastAPI's shape: every failure at once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinValidationError)]
pub(super) struct ValidationError {
    detail: Vec<Invalid>,
}

/// One failed check of a request: where (`loc`), what, and its pydantic error type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = SumvinValidationIssue)]
pub(super) struct Invalid {
    /// Where: `["body", "auth_data", "password"]`, `["path", "connector_id"]`, ...
    #[schema(value_type = Vec<String>)]
    pub loc: Vec<Value>,
    /// What is wrong (never the value sent, which may be a secret).
    pub msg: String,
    /// Pydantic's error type: `missing`, `extra_forbidden`, `int_type`, `value_error`, ...
    #[serde(rename = "type")]
    #[schema(example = "missing")]
    pub kind: &'static str,
}

impl Invalid {
    /// A failure at `loc` (e.g. `["body", "auth_data", "user"]`). The message never quotes
    /// the value sent (it may be a secret).
    pub(super) fn new(loc: &[&str], kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            kind,
        }
    }
}

/// What a handler of the face answers instead of a success.
#[derive(Debug)]
pub(super) enum Refusal {
    /// An RFC 7807 problem.
    /// `retry_after`: a 429's wait in seconds, when a service named one.
    Problem {
        code: Code,
        detail: String,
        retry_after: Option<u64>,
    },
    /// 422: the request's fields are invalid.
    Invalid(Vec<Invalid>),
}

/// What a handler answers.
pub(super) type Reply = Result<Response, Refusal>;

impl Refusal {
    /// A problem of `code`, with `detail` for the caller.
    pub(super) fn problem(code: Code, detail: impl Into<String>) -> Self {
        Self::Problem {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 422 with one failure.
    pub(super) fn invalid(loc: &[&str], kind: &'static str, msg: impl Into<String>) -> Self {
        Self::Invalid(vec![Invalid::new(loc, kind, msg)])
    }

    /// 401.
    pub(super) fn unauthenticated() -> Self {
        Self::problem(UNAUTHENTICATED, UNAUTHENTICATED.description)
    }

    /// 404 for a user connector that is not the caller's, or does not exist (AC-8).
    pub(super) fn user_connector_not_found() -> Self {
        Self::problem(
            USER_CONNECTOR_NOT_FOUND,
            USER_CONNECTOR_NOT_FOUND.description,
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Problem {
                code,
                detail,
                retry_after,
            } => {
                let status =
                    StatusCode::from_u16(code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, Json(problem_body(code, &detail))).into_response();
                crate::http::error::with_retry_after(&mut response, retry_after);
                response
            }
            Refusal::Invalid(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationError { detail }),
            )
                .into_response(),
        }
    }
}

/// A shared extractor's refusal (already in the face's shape): the same status and message.
impl From<Error<Sumvin>> for Refusal {
    fn from(e: Error<Sumvin>) -> Self {
        Self::Problem {
            code: code_of(e.status),
            detail: e.message,
            retry_after: e.retry_after,
        }
    }
}

/// A service's refusal: INVALID_ARGUMENT is a request the face let through but the service
/// refused (422 on the body), NOT_FOUND a user connector (the only thing looked up by id),
/// FAILED_PRECONDITION a conflict; the rest as on every face (`status_of`).
impl From<tonic::Status> for Refusal {
    fn from(s: tonic::Status) -> Self {
        match s.code() {
            tonic::Code::InvalidArgument => {
                Self::invalid(&["body"], "value_error", s.message().to_owned())
            }
            tonic::Code::NotFound => Self::user_connector_not_found(),
            tonic::Code::FailedPrecondition | tonic::Code::AlreadyExists => {
                Self::problem(CONFLICT, s.message().to_owned())
            }
            _ => Error::<Sumvin>::from(s).into(),
        }
    }
}

/// The HTTP status of a refusal (for tests).
#[cfg(test)]
fn status(r: Refusal) -> StatusCode {
    r.into_response().status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_name_their_status() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "{} twice", c.code);
            let middle = c.code.split('-').nth(1).unwrap();
            assert_eq!(middle, c.status.to_string(), "{}", c.code);
            assert_eq!(c.code.ends_with("-R"), [429, 503, 504].contains(&c.status));
        }
    }

    #[test]
    fn service_refusals_map_to_the_face() {
        use tonic::Status;
        assert_eq!(status(Status::invalid_argument("x").into()), 422);
        assert_eq!(status(Status::not_found("x").into()), 404);
        assert_eq!(status(Status::failed_precondition("x").into()), 409);
        assert_eq!(status(Status::permission_denied("x").into()), 403);
        assert_eq!(status(Status::unauthenticated("x").into()), 401);
        assert_eq!(status(Status::unavailable("x").into()), 503);
        assert_eq!(status(Status::internal("secret detail").into()), 500);
        let Refusal::Problem { detail, .. } = Refusal::from(Status::internal("secret detail"))
        else {
            panic!("a problem")
        };
        assert!(!detail.contains("secret"), "{detail}");
    }

    #[test]
    fn problems_carry_their_code() {
        let body = Sumvin::error_body(StatusCode::NOT_FOUND, "nope");
        assert_eq!(body["error_code"], "CON-404-001");
        assert_eq!(body["type"], "/v0/errors/CON-404-001");
        assert_eq!(body["status"], 404);
        assert_eq!(body["detail"], "nope");
        let body = Sumvin::error_body(StatusCode::SERVICE_UNAVAILABLE, "later");
        assert_eq!(body["error_code"], "CON-503-001-R");
    }
}
