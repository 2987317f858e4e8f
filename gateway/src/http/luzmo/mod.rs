//! The connection face of seed 000 (Luzmo's Core API, `/0.1.0/account`): the operation is the
//! body's `action`, whatever the HTTP method (Luzmo's Node client sends SEARCH, LINK and UNLINK);
//! the credentials are the body's `key` (a personal access token's uuid) and `token` (its
//! secret). connections-svc does the work; docs/luzmo.md describes the face.

mod account;
mod find;
mod json;
mod provider;

pub(crate) use account::fuzz::fuzz;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

pub use json::ErrorBody;

use super::{AppState, error::Dialect};

/// The face's error shape: `{"message": "…"}`, with `"validation": {field: [messages]}` when a
/// field is at fault (what Luzmo's SDKs read).
#[derive(Debug, Clone, Copy)]
pub enum Luzmo {}

impl Dialect for Luzmo {
    fn error_body(_: StatusCode, message: &str) -> Value {
        serde_json::to_value(ErrorBody {
            message: message.to_owned(),
            validation: None,
        })
        .expect("an error body serializes")
    }
}

/// An error of the face: a status and a message, and the field at fault if one is.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
    field: Option<String>,
    /// A 429's wait in seconds.
    retry_after: Option<u64>,
}

impl Refusal {
    /// 400 naming `field`.
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.to_owned()),
            retry_after: None,
        }
    }

    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Invalid key and token: a personal access token's uuid and its secret are required",
        )
    }
}

impl From<super::error::Error<Luzmo>> for Refusal {
    fn from(e: super::error::Error<Luzmo>) -> Self {
        Self {
            retry_after: e.retry_after,
            ..Self::new(e.status, e.message)
        }
    }
}

impl From<tonic::Status> for Refusal {
    /// The shared gRPC table; a 400 whose message starts with a property's name is that
    /// property's fault (connections-svc names the field first: "port must be …").
    fn from(s: tonic::Status) -> Self {
        let e = super::error::Error::<Luzmo>::from(s);
        let field = (e.status == StatusCode::BAD_REQUEST)
            .then(|| e.message.split_whitespace().next().unwrap_or_default())
            .filter(|w| account::PROPERTIES.contains(w))
            .map(str::to_owned);
        Self {
            status: e.status,
            message: e.message,
            field,
            retry_after: e.retry_after,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let validation = self
            .field
            .map(|f| [(f, vec![self.message.clone()])].into_iter().collect());
        let body = ErrorBody {
            message: self.message,
            validation,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        super::error::with_retry_after(&mut response, self.retry_after);
        response
    }
}

/// What a handler answers.
type Reply = Result<Response, Refusal>;

/// Every route of the face.
pub fn router() -> OpenApiRouter<AppState> {
    account::router()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_field_at_fault() {
        let r = Refusal::invalid("port", "port must be a number").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = Refusal::from(tonic::Status::invalid_argument("port must be a number"));
        assert_eq!(r.field.as_deref(), Some("port"));
        let r = Refusal::from(tonic::Status::invalid_argument("the connection changed"));
        assert_eq!(r.field, None);
        let r = Refusal::from(tonic::Status::not_found("name not found"));
        assert_eq!((r.status, r.field), (StatusCode::NOT_FOUND, None));
    }

    /// The credentials are in the body, and the methods OpenAPI cannot name are listed.
    #[test]
    fn the_document_says_how_the_face_is_called() {
        let doc = serde_json::to_value(crate::http::openapi::document()).unwrap();
        let path = &doc["paths"]["/0.1.0/account"];
        let post = &path["post"];
        assert_eq!(
            post["x-platform-extra-methods"],
            serde_json::json!(["SEARCH", "LINK", "UNLINK"])
        );
        for method in ["post", "put", "patch", "delete", "get"] {
            assert_eq!(path[method]["security"], serde_json::json!([]), "{method}");
            assert!(path[method]["responses"]["401"].is_object(), "{method}");
        }
        assert!(path["options"].is_null() && path["head"].is_null());
        let body = &doc["components"]["schemas"]["LuzmoRequest"];
        assert_eq!(body["discriminator"]["propertyName"], "action");
    }
}
