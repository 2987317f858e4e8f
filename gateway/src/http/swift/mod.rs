//! The account face of seed 003 (the Swift SMS Gateway account API, `/api/v1/accounts…`):
//! accounts and sub-accounts in the `{"data": …, "type": …}` envelope, ids written as ULIDs,
//! times in microseconds. identity-svc's `Accounts` service does the work; docs/accounts.md
//! describes the face, its error shape and its paging.

mod accounts;

pub(crate) use accounts::fuzz::fuzz;

use axum::{http::StatusCode, response::Response};
use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, error::Dialect};

/// The face's error shape, Phoenix's: `{"errors": {"detail": "…"}}`.
#[derive(Debug, Clone, Copy)]
pub enum Swift {}

impl Dialect for Swift {
    fn error_body(_: StatusCode, message: &str) -> Value {
        json!({ "errors": { "detail": message } })
    }
}

/// An error answered in the face's shape.
type SwiftError = super::error::Error<Swift>;
/// What a handler answers.
type Reply = Result<Response, SwiftError>;

/// Every route of the face.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    // Names, flags, networks and invitations: small bodies (AP-2).
    super::limits::small_bodies(accounts::router().into())
}

/// A request body: `{"data": {…}, "type": "<kind>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<T> {
    data: T,
    #[serde(rename = "type")]
    kind: String,
}

impl<T> Envelope<T> {
    /// The data, when the envelope names `kind`.
    fn of(self, kind: &str) -> Result<T, SwiftError> {
        if self.kind == kind {
            Ok(self.data)
        } else {
            Err(SwiftError::bad_request(format!("type must be \"{kind}\"")))
        }
    }
}

/// One object in the envelope.
fn one(kind: &str, data: Value) -> Value {
    json!({ "data": data, "type": kind })
}

/// A page of objects of `kind` in the list envelope.
fn list(kind: &str, items: Vec<Value>, page_info: Value) -> Value {
    let items: Vec<Value> = items.into_iter().map(|d| one(kind, d)).collect();
    json!({ "data": { "items": items, "page_info": page_info }, "type": "list" })
}

/// The ULID of a service's uuid (the same 128 bits).
fn ulid(uuid: &str) -> String {
    uuid::Uuid::parse_str(uuid)
        .map(|u| ulid::Ulid::from(u.as_u128()).to_string())
        .unwrap_or_default()
}

/// The uuid a ULID names, for the services; `None` when `id` is no ULID.
fn uuid_of(id: &str) -> Option<String> {
    let id = ulid::Ulid::from_string(id).ok()?;
    Some(uuid::Uuid::from_u128(id.0).to_string())
}

/// A time as the face writes it: ISO 8601 UTC with microseconds.
fn time(t: Option<&prost_types::Timestamp>) -> Value {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map_or(Value::Null, |t| {
            Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_between_uuid_and_ulid() {
        let uuid = "0190b2f4-8c3a-7d2e-9f1a-2b3c4d5e6f70";
        let id = ulid(uuid);
        assert_eq!(id.len(), 26);
        assert_eq!(uuid_of(&id).as_deref(), Some(uuid));
        assert_eq!(uuid_of(&id.to_lowercase()).as_deref(), Some(uuid));
        assert_eq!(uuid_of("not-a-ulid"), None);
        assert_eq!(uuid_of(uuid), None);
    }

    #[test]
    fn times_have_microseconds_and_zulu() {
        let t = prost_types::Timestamp {
            seconds: 1_718_323_200,
            nanos: 123_456_789,
        };
        assert_eq!(time(Some(&t)), json!("2024-06-14T00:00:00.123456Z"));
        assert_eq!(time(None), Value::Null);
    }

    #[test]
    fn errors_answer_in_the_phoenix_shape() {
        let body = Swift::error_body(StatusCode::NOT_FOUND, "account not found");
        assert_eq!(body, json!({"errors": {"detail": "account not found"}}));
    }
}
