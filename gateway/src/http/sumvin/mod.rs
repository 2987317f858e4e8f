//! The connector face of seed 001 (Sumvin's `/v0` connector API): the connector catalog
//! (`catalog.rs`, connections-svc's `ListProviders`) and the caller's connectors
//! (`user_connectors.rs`: the connections the caller owns, whichever face made them). HAL
//! `_links` on every success, times in epoch milliseconds or ISO 8601, RFC 7807 problems
//! (`problem.rs`) and FastAPI's 422 for invalid requests (`input.rs`). Authentication by
//! `x-sumvin-pat` or `x-juno-jwt` only. docs/sumvin.md describes the face and its choices.

mod catalog;
mod fuzz;
mod input;
mod json;
mod problem;
mod user_connectors;

pub(crate) use fuzz::fuzz;

use axum::{
    Json,
    body::{Body, to_bytes},
    extract::{FromRequestParts, Path, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{MethodRouter, any},
};
use chrono::DateTime;
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouter},
    routes,
};

use super::{
    AppState,
    extract::{Caller, client_address},
};
use crate::clients::Exchange;
use json::Link;
use problem::{CODES, Problem, Refusal, Reply, ValidationError};

/// The face's dialect: errors are RFC 7807 problems with the face's codes.
#[derive(Debug, Clone, Copy)]
pub enum Sumvin {}

/// Every route of the face; any other path under `/v0/` answers a problem.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(catalog::router())
        .merge(user_connectors::router())
        .routes(only(routes!(error_code)))
        // Not an operation: any other path under /v0/ only answers "no such route" (a problem).
        .route(
            "/v0/{*rest}",
            any(|| async { Refusal::problem(problem::ROUTE_NOT_FOUND, "No such route") }),
        )
        .layer(axum::middleware::from_fn(problem_context))
}

/// The error schemas of the face (openapi.rs `FACES`): the problem and the 422.
pub(super) fn error_schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((Problem::name().into_owned(), Problem::schema()));
    Problem::schemas(schemas);
    schemas.push((
        ValidationError::name().into_owned(),
        ValidationError::schema(),
    ));
    ValidationError::schemas(schemas);
}

/// A path's documented routes answering any other method with a problem (405).
fn only(routes: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, methods) = routes;
    (schemas, paths, not_allowed(methods))
}

/// `route` answering any other method with a problem.
fn not_allowed(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async {
        Refusal::problem(
            problem::METHOD_NOT_ALLOWED,
            problem::METHOD_NOT_ALLOWED.description,
        )
    })
}

/// The largest problem body the face writes (they are a few hundred bytes).
const MAX_PROBLEM_BYTES: usize = 16 * 1024;

/// Completes every problem the face answers with `instance` (the request's path) and
/// `trace_id` (its request id), and marks it `application/problem+json`.
async fn problem_context(req: Request, next: Next) -> Response {
    let instance = req.uri().path().to_owned();
    let trace_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let res = next.run(req).await;
    if res.status().as_u16() < 400 {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_PROBLEM_BYTES).await else {
        return Refusal::problem(problem::INTERNAL, problem::INTERNAL.description).into_response();
    };
    let mut value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    let Some(problem) = value
        .as_object_mut()
        .filter(|o| o.contains_key("error_code"))
    else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    problem.insert("instance".into(), instance.into());
    problem.insert("trace_id".into(), trace_id.into());
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// GET /v0/errors/{code}: what an error code means (every problem's `type`).
///
/// No authentication.
#[utoipa::path(
    get,
    path = "/v0/errors/{code}",
    tag = "Sumvin",
    operation_id = "getErrorCode",
    security(()),
    params(("code" = String, Path, description = "An error code, e.g. `CON-404-001` (any case).")),
    responses(
        (status = 200, description = "What the code means.", body = json::ErrorCode),
        (status = 404, description = "No error of the face has this code (`CON-404-004`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn error_code(Path(code): Path<String>) -> Reply {
    let c = CODES
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(&code))
        .ok_or_else(|| {
            Refusal::problem(
                problem::ERROR_CODE_NOT_FOUND,
                problem::ERROR_CODE_NOT_FOUND.description,
            )
        })?;
    Ok(Json(json::ErrorCode {
        links: json::SelfLinks {
            self_: Link::new(format!("/v0/errors/{}", c.code), "GET"),
        },
        error_code: c.code,
        status: c.status,
        title: c.title,
        description: c.description,
    })
    .into_response())
}

/// The caller of a request: `x-sumvin-pat: <personal access token>` or `x-juno-jwt: <access
/// JWT>`, exactly one of them. Nothing else authenticates here (no cookie, no `Authorization`).
/// Carries the user the credential names, for the ownership of user connectors.
struct SumvinCaller {
    caller: Caller,
    user_uuid: String,
}

/// Personal access tokens and operator tokens: never an access JWT.
const NOT_JWT_PREFIXES: [&str; 2] = ["ldpat_", "ldop_"];

/// The one credential of a request, as the shared authentication reads it.
fn authorization(headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let value = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().map(str::trim).unwrap_or_default())
    };
    let token = |t: &str| {
        (!t.is_empty() && !t.contains(char::is_whitespace))
            .then(|| t.to_owned())
            .ok_or_else(Refusal::unauthenticated)
    };
    let presented = match (value("x-sumvin-pat"), value("x-juno-jwt")) {
        (Some(pat), None) => format!("ApiKey {}", token(pat)?),
        (None, Some(jwt)) if !NOT_JWT_PREFIXES.iter().any(|p| jwt.starts_with(p)) => {
            format!("Bearer {}", token(jwt)?)
        }
        _ => return Err(Refusal::unauthenticated()),
    };
    HeaderValue::from_str(&presented).map_err(|_| Refusal::unauthenticated())
}

impl FromRequestParts<AppState> for SumvinCaller {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization(&parts.headers)?);
        if let Some(id) = parts.headers.get("x-request-id") {
            headers.insert("x-request-id", id.clone());
        }
        let address = client_address(parts, state);
        let caller = Caller::authenticate(&headers, address, state, Exchange::Reuse)
            .await
            .map_err(|e| Refusal::from(e.recast::<Sumvin>()))?;
        // Verified already (remembered by its digest): the user it names.
        let claims = state
            .verifier
            .verify(caller.token())
            .await
            .map_err(|_| Refusal::unauthenticated())?;
        Ok(Self {
            caller,
            user_uuid: claims.sub,
        })
    }
}

/// How times are written: `X-Timestamp-Format: iso8601` (any case) for ISO 8601 UTC to the
/// second, anything else (or nothing) for epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Times {
    Millis,
    Iso8601,
}

impl<S: Send + Sync> FromRequestParts<S> for Times {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let iso = parts
            .headers
            .get("x-timestamp-format")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("iso8601"));
        Ok(if iso { Times::Iso8601 } else { Times::Millis })
    }
}

impl Times {
    /// A service's time as the caller asked for it.
    fn write(self, t: Option<&prost_types::Timestamp>) -> json::Time {
        json::Time(self.value(t))
    }

    fn value(self, t: Option<&prost_types::Timestamp>) -> Value {
        let Some(t) =
            t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        else {
            return Value::Null;
        };
        match self {
            Times::Millis => t.timestamp_millis().into(),
            Times::Iso8601 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
        }
    }
}

/// 200 with `body`.
fn ok(body: impl serde::Serialize) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn exactly_one_sumvin_credential_authenticates() {
        let a = |pairs: &[(&'static str, &str)]| {
            authorization(&headers(pairs)).map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(a(&[("x-sumvin-pat", "ldpat_x")]).unwrap(), "ApiKey ldpat_x");
        assert_eq!(a(&[("x-juno-jwt", " eyJ.a.b ")]).unwrap(), "Bearer eyJ.a.b");
        for bad in [
            vec![],
            vec![("authorization", "Bearer eyJ.a.b")],
            vec![("cookie", "connect.sid=abc")],
            vec![("x-sumvin-pat", "ldpat_x"), ("x-juno-jwt", "eyJ.a.b")],
            vec![("x-juno-jwt", "ldpat_x")],
            vec![("x-juno-jwt", "ldop_x")],
            vec![("x-sumvin-pat", "")],
            vec![("x-sumvin-pat", "a b")],
        ] {
            assert!(a(&bad).is_err(), "{bad:?}");
        }
    }

    /// Problems are `application/problem+json`, request validation's 422 `application/json`.
    #[test]
    fn the_document_has_the_face_s_error_media_types() {
        let doc = serde_json::to_value(crate::http::openapi::document()).unwrap();
        let create = &doc["paths"]["/v0/user/connectors/"]["post"]["responses"];
        let schema =
            |status: &str, media: &str| create[status]["content"][media]["schema"]["$ref"].clone();
        assert_eq!(
            schema("422", "application/json"),
            "#/components/schemas/SumvinValidationError"
        );
        for status in ["401", "404", "409", "500"] {
            if create.get(status).is_some() {
                assert_eq!(
                    schema(status, "application/problem+json"),
                    "#/components/schemas/SumvinProblem",
                    "{status}"
                );
            }
        }
        let errors = &doc["paths"]["/v0/errors/{code}"]["get"];
        assert_eq!(errors["security"], json!([]));
    }

    #[test]
    fn times_in_milliseconds_or_iso_8601() {
        let t = prost_types::Timestamp {
            seconds: 1_704_067_200,
            nanos: 123_456_789,
        };
        assert_eq!(Times::Millis.value(Some(&t)), json!(1_704_067_200_123_i64));
        assert_eq!(
            Times::Iso8601.value(Some(&t)),
            json!("2024-01-01T00:00:00Z")
        );
        assert_eq!(Times::Millis.value(None), Value::Null);
    }
}
