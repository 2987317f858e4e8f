//! The account face of seed 004 (the EmbedThis Ioto device-cloud account API): RPC over HTTP,
//! every call `POST /account/<action>` with a JSON body, the token in `Authorization` with or
//! without `Bearer`. identity-svc's `Accounts` service does the work; docs/accounts.md describes
//! the face, its choices (the fields the seed leaves open) and its error shape.

mod accounts;

pub(crate) use accounts::fuzz::fuzz;

use std::borrow::Cow;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
};
use chrono::{DateTime, SecondsFormat};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type},
};

use super::{
    AppState,
    error::{Dialect, without_strings},
    extract::{AuthMethod, Caller, client_address, is_json},
};
use crate::clients::Exchange;

/// The face's error shape: `{"error": true, "message": "…"}` (the seed documents none).
#[derive(Debug, Clone, Copy)]
pub enum Ioto {}

impl Dialect for Ioto {
    fn error_body(_: StatusCode, message: &str) -> Value {
        serde_json::to_value(ErrorBody {
            error: true,
            message: message.to_owned(),
        })
        .expect("an error body serializes")
    }
}

/// Every error of the face: `{"error": true, "message": "…"}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IotoError)]
pub struct ErrorBody {
    /// Always `true`.
    #[schema(schema_with = always_true)]
    error: bool,
    /// What went wrong, safe to show.
    #[schema(example = "account not found")]
    message: String,
}

/// The schema of a boolean that is always `true`.
fn always_true() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
}

/// An error answered in the face's shape.
type IotoError = super::error::Error<Ioto>;
/// What a handler answers.
type Reply = Result<axum::response::Response, IotoError>;

/// Every route of the face.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    // Names, emails and queries: small bodies (AP-2).
    super::limits::small_bodies(accounts::router())
}

/// The caller of a request, from `Authorization: <token>` or `Authorization: Bearer <token>`
/// (a personal access token, an access JWT or an operator token). Cookies do not authenticate
/// here: the face is for scripts.
struct IotoCaller(Caller);

impl IotoCaller {
    /// Whether the caller holds the owner role (an operator token).
    fn is_owner(&self) -> bool {
        self.0.method == AuthMethod::OperatorToken
    }
}

/// The token of an `Authorization` value: the whole value, or what follows `Bearer `.
fn token_of(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty() && !token.contains(char::is_whitespace)).then_some(token)
}

impl FromRequestParts<AppState> for IotoCaller {
    type Rejection = IotoError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, IotoError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(token_of)
            .ok_or_else(IotoError::unauthorized)?;
        // The shared authentication reads the `Bearer` form, and nothing else of the request.
        let mut headers = HeaderMap::new();
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| IotoError::unauthorized())?;
        headers.insert(header::AUTHORIZATION, bearer);
        if let Some(id) = parts.headers.get("x-request-id") {
            headers.insert("x-request-id", id.clone());
        }
        let address = client_address(parts, state);
        Caller::authenticate(&headers, address, state, Exchange::Reuse)
            .await
            .map(Self)
            .map_err(super::error::Error::recast)
    }
}

/// A JSON request body; an empty body reads as `{}` (calls whose fields are all optional).
struct Args<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Args<T> {
    type Rejection = IotoError;

    async fn from_request(req: Request, state: &S) -> Result<Self, IotoError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            let (status, message) = super::limits::unreadable_body(&r);
            IotoError::new(status, message)
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if json {
            &bytes
        } else {
            return Err(IotoError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
            ));
        };
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            // serde's structs also read arrays; the face takes an object.
            return Err(IotoError::bad_request("The body must be a JSON object"));
        }
        serde_json::from_slice(bytes)
            .map(Self)
            .map_err(|e| IotoError::bad_request(without_strings(&e.to_string())))
    }
}

/// A time as the face writes it: ISO 8601 UTC with milliseconds (JavaScript's `Date` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Time(String);

impl PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"))
            .description(Some(
                "ISO 8601 UTC with milliseconds, as JavaScript writes a `Date`.",
            ))
            .examples(["2026-11-25T17:00:00.000Z"])
            .into()
    }
}

impl ToSchema for Time {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IotoTime")
    }
}

/// A time as the face writes it: ISO 8601 UTC with milliseconds (JavaScript's `Date` JSON).
fn time(t: Option<&prost_types::Timestamp>) -> Option<Time> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map(|t| Time(t.to_rfc3339_opts(SecondsFormat::Millis, true)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_face_refers_only_to_its_own_schemas() {
        let names = super::super::swift::referenced_schemas("/account/");
        assert!(names.contains("IotoGetAccount"), "{names:?}");
        for name in names {
            assert!(name.starts_with("Ioto"), "{name}");
        }
    }

    #[test]
    fn tokens_come_with_or_without_bearer() {
        assert_eq!(token_of("ldpat_abc"), Some("ldpat_abc"));
        assert_eq!(token_of("Bearer ldpat_abc"), Some("ldpat_abc"));
        assert_eq!(token_of("bearer  eyJ.x.y "), Some("eyJ.x.y"));
        for bad in [
            "",
            " ",
            "Bearer",
            "Bearer ",
            "ApiKey ldpat_abc",
            "Basic a b",
        ] {
            assert_eq!(token_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.x+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["text/plain", "application/jsonx", "json", ""] {
            assert!(!is_json(bad), "{bad}");
        }
    }

    #[test]
    fn times_have_milliseconds_and_zulu() {
        let t = prost_types::Timestamp {
            seconds: 1_718_323_200,
            nanos: 123_456_789,
        };
        let written = serde_json::to_value(time(Some(&t))).unwrap();
        assert_eq!(written, json!("2024-06-14T00:00:00.123Z"));
        assert_eq!(serde_json::to_value(time(None)).unwrap(), Value::Null);
    }

    #[test]
    fn errors_answer_in_the_face_shape() {
        let body = Ioto::error_body(StatusCode::NOT_FOUND, "account not found");
        assert_eq!(body, json!({"error": true, "message": "account not found"}));
    }
}
