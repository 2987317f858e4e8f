//! Connections: our `/api/v1/connections` (Luzmo's account/connection model in Lightdash style),
//! Lightdash's personal warehouse credentials (`/api/v1/user/warehouseCredentials`) and the
//! per-project credentials preference (`/api/v1/projects/{projectUuid}/user-credentials`).
//!
//! Secrets are write-only (CR-7): bodies are read as JSON values and the secret fields taken
//! out by hand, so that no deserialization error can quote a secret back; responses name which
//! secrets are stored, never their values.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use proto::connections::v1 as pb;
use serde::{Deserializer, de::Error as _};
use serde_json::Map;
use service_kit::grpc::timestamp;

use super::{docs, prelude::*};

mod shapes;

use crate::http::error::without_strings;
use shapes::{
    Connection, ConnectionTestResult, CreateConnection, UpdateConnection, connection, test_status,
};

/// `/api/v1/connections…` and its OpenAPI document.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_connection, update, delete))
        .routes(routes!(test))
        .routes(routes!(docs::connections))
}

/// Largest secret a body may carry (the service refuses larger ones too).
const MAX_SECRET_BYTES: usize = 64 * 1024;

/// Every field of a connection but its secrets; all optional (create requires provider and
/// name, in the service). Seed field names (`datasets_meta_sync_enabled`) are accepted as
/// aliases of the camelCase ones.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConnectionBody {
    provider: Option<String>,
    name: Option<String>,
    description: Option<BTreeMap<String, String>>,
    host: Option<String>,
    #[serde(default, deserialize_with = "port")]
    port: Option<String>,
    identifier: Option<String>,
    scope: Option<String>,
    #[serde(default, deserialize_with = "nullable_time")]
    expiry: Option<Option<DateTime<Utc>>>,
    active: Option<bool>,
    cache: Option<i64>,
    #[serde(alias = "datasets_meta_sync_enabled")]
    datasets_meta_sync_enabled: Option<bool>,
    #[serde(alias = "datasets_meta_sync_interval")]
    datasets_meta_sync_interval: Option<i64>,
    #[serde(default, deserialize_with = "time")]
    date: Option<DateTime<Utc>>,
    options: Option<BTreeMap<String, String>>,
}

/// A port as Luzmo sends it (a string) or as a number.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(D::Error::custom("port must be a string or a number")),
    }
}

fn parse_time<E: serde::de::Error>(field: &str, s: &str) -> Result<DateTime<Utc>, E> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| E::custom(format!("{field} must be an RFC 3339 date-time")))
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| parse_time("date", &s))
        .transpose()
}

/// Absent: `None`; `null`: `Some(None)` (clears).
fn nullable_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    Ok(Some(
        Option::<String>::deserialize(d)?
            .map(|s| parse_time("expiry", &s))
            .transpose()?,
    ))
}

/// The body as a JSON object.
pub(super) fn object(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("The body must be a JSON object")),
    }
}

/// A string secret taken out of a body; the error names the field, never the value.
pub(super) fn secret_string(field: &str, v: Value) -> ApiResult<String> {
    match v {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_SECRET_BYTES => Ok(s),
        Value::String(s) if s.is_empty() => {
            Err(ApiError::bad_request(format!("{field} must not be empty")))
        }
        Value::String(_) => Err(ApiError::bad_request(format!(
            "{field} is larger than {MAX_SECRET_BYTES} bytes"
        ))),
        _ => Err(ApiError::bad_request(format!("{field} must be a string"))),
    }
}

/// `secrets`: an object of strings.
fn secrets(v: Option<Value>) -> ApiResult<BTreeMap<String, String>> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let s = secret_string(&format!("secrets.{k}"), v)?;
                Ok((k, s))
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(
            "secrets must be an object of field names to strings",
        )),
    }
}

/// Deserializes what remains of a body once the secrets are out (it holds no secret, so the
/// error may quote it).
fn rest<T: serde::de::DeserializeOwned>(m: Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(m))
        .map_err(|e| ApiError::bad_request(without_strings(&e.to_string())))
}

fn fields(b: ConnectionBody, secrets: BTreeMap<String, String>) -> pb::ConnectionFields {
    let (expiry, clear_expiry) = match b.expiry {
        None => (None, false),
        Some(None) => (None, true),
        Some(Some(t)) => (Some(timestamp(t)), false),
    };
    pb::ConnectionFields {
        provider: b.provider,
        name: b.name,
        description: b.description.map(|values| pb::StringMap {
            values: values.into_iter().collect(),
        }),
        host: b.host,
        port: b.port,
        identifier: b.identifier,
        scope: b.scope,
        expiry,
        clear_expiry,
        active: b.active,
        cache: b.cache,
        datasets_meta_sync_enabled: b.datasets_meta_sync_enabled,
        datasets_meta_sync_interval: b.datasets_meta_sync_interval,
        date: b.date.map(timestamp),
        options: b.options.map(|values| pb::StringMap {
            values: values.into_iter().collect(),
        }),
        secrets: secrets.into_iter().collect(),
    }
}

/// Refuses read-only and update-only fields with a clear message.
fn refuse(m: &Map<String, Value>, update: bool) -> ApiResult<()> {
    if m.contains_key("invalid") {
        return Err(ApiError::bad_request(
            "invalid is read-only: a connection test sets and clears it",
        ));
    }
    if !update && m.contains_key("code") {
        return Err(ApiError::bad_request(
            "code is update-only: create the connection, then update it with the code",
        ));
    }
    Ok(())
}

/// `?provider=` of the list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only connections of this provider (compared trimmed and lower-cased, as providers are
    /// stored).
    #[param(example = "postgresql")]
    provider: Option<String>,
}

/// The path parameter of one connection.
const CONNECTION: &str = "The connection's UUID (not a UUID: 400).";

/// GET /api/v1/connections: the organization's shared connections.
///
/// The shared connections of the caller's organization (any member), oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/connections",
    tag = "Connections",
    operation_id = "ListConnections",
    params(ListQuery),
    responses(
        (status = 200, description = "The connections.", body = json::Ok<Vec<Connection>>, example = shapes::ok_connections_example),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
    ),
)]
async fn list(caller: Caller, Query(q): Query<ListQuery>) -> Reply {
    // Providers are stored trimmed and lower-cased: filter by the same form.
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Shared as i32,
        provider: q.provider.map(|p| p.trim().to_ascii_lowercase()),
        owned_by_caller: false,
    };
    let res = caller.connections().list_connections(msg).await?;
    Ok(json::ok(json::each(&res.get_ref().connections, connection)))
}

/// POST /api/v1/connections: creates a shared connection (organization developers and admins).
///
/// Creates a connection shared by the caller's organization and owned by the caller. Its
/// secrets are write-only: sealed at rest, never returned (`secretFields` names the stored
/// ones); no error message quotes one.
#[utoipa::path(
    post,
    path = "/api/v1/connections",
    tag = "Connections",
    operation_id = "CreateConnection",
    request_body(content = CreateConnection, description = "The connection and its secrets."),
    responses(
        (status = 201, description = "The connection created.", body = json::Ok<Connection>, example = shapes::ok_connection_example),
        (status = 403, description = "The caller is not a developer or an admin of an organization.", body = LightdashError),
    ),
)]
async fn create(caller: Caller, Json(body): Json<Value>) -> Reply {
    let mut m = object(body)?;
    refuse(&m, false)?;
    let secrets = secrets(m.remove("secrets"))?;
    let body: ConnectionBody = rest(m)?;
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Shared as i32,
        fields: Some(fields(body, secrets)),
        visibility: pb::Visibility::Organization as i32,
    };
    let c = caller.connections().create_connection(msg).await?;
    Ok(json::created(connection(c.get_ref())))
}

/// GET /api/v1/connections/{connectionUuid}: a shared connection of the caller's organization.
///
/// Any member of the organization may read it; a connection of another organization answers
/// 404, like one that does not exist.
#[utoipa::path(
    get,
    path = "/api/v1/connections/{connectionUuid}",
    tag = "Connections",
    operation_id = "GetConnection",
    params(("connectionUuid" = Uuid, Path, description = CONNECTION, example = "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The connection.", body = json::Ok<Connection>, example = shapes::ok_connection_example),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such connection, or one of another organization.", body = LightdashError, example = shapes::not_found_example),
    ),
)]
async fn get_connection(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::GetConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let c = caller.connections().get_connection(msg).await?;
    Ok(json::ok(connection(c.get_ref())))
}

/// PATCH /api/v1/connections/{connectionUuid}: changes a connection (its owner or an
/// organization admin).
///
/// Omitted fields and secrets are kept; `code` is exchanged for OAuth2 tokens first.
#[utoipa::path(
    patch,
    path = "/api/v1/connections/{connectionUuid}",
    tag = "Connections",
    operation_id = "UpdateConnection",
    params(("connectionUuid" = Uuid, Path, description = CONNECTION, example = "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")),
    request_body(content = UpdateConnection, description = "The fields to change."),
    responses(
        (status = 200, description = "The connection changed.", body = json::Ok<Connection>, example = shapes::ok_connection_example),
        (status = 400, description = "The request is malformed, a value is out of range, the connection changed meanwhile, or the OAuth2 exchange was rejected.", body = LightdashError),
        (status = 403, description = "The caller is neither the owner nor an admin of the organization.", body = LightdashError),
        (status = 404, description = "No such connection, or one of another organization.", body = LightdashError, example = shapes::not_found_example),
    ),
)]
async fn update(caller: Caller, Path(connection_uuid): Id, Json(body): Json<Value>) -> Reply {
    let mut m = object(body)?;
    refuse(&m, true)?;
    let secrets = secrets(m.remove("secrets"))?;
    let code = match m.remove("code") {
        None | Some(Value::Null) => None,
        Some(v) => Some(secret_string("code", v)?),
    };
    let body: ConnectionBody = rest(m)?;
    let msg = pb::UpdateConnectionRequest {
        connection_uuid,
        fields: Some(fields(body, secrets)),
        code,
        kind: pb::Kind::Shared as i32,
    };
    let c = caller.connections().update_connection(msg).await?;
    Ok(json::ok(connection(c.get_ref())))
}

/// DELETE /api/v1/connections/{connectionUuid}: deletes a connection and its secrets (its
/// owner or an organization admin).
#[utoipa::path(
    delete,
    path = "/api/v1/connections/{connectionUuid}",
    tag = "Connections",
    operation_id = "DeleteConnection",
    params(("connectionUuid" = Uuid, Path, description = CONNECTION, example = "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")),
    responses(
        (status = 200, description = "Deleted.", body = json::OkEmpty),
        (status = 403, description = "The caller is neither the owner nor an admin of the organization.", body = LightdashError),
        (status = 404, description = "No such connection, or one of another organization.", body = LightdashError, example = shapes::not_found_example),
    ),
)]
async fn delete(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::DeleteConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    caller.connections().delete_connection(msg).await?;
    Ok(json::ok_empty())
}

/// POST /api/v1/connections/{connectionUuid}/test: connects with the stored credentials.
///
/// Databases (PostgreSQL, Redshift, MySQL, MariaDB) are connected to within the egress policy;
/// a provider with an OAuth2 configuration has its token checked and refreshed; other
/// providers answer `unsupported`. Records `lastTestedAt` and sets or clears `invalid`. The
/// owner, or an admin of the organization. No request body.
#[utoipa::path(
    post,
    path = "/api/v1/connections/{connectionUuid}/test",
    tag = "Connections",
    operation_id = "TestConnection",
    params(("connectionUuid" = Uuid, Path, description = CONNECTION, example = "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")),
    responses(
        (status = 200, description = "The outcome (a failed test is still a 200).", body = json::Ok<ConnectionTestResult>, example = shapes::ok_test_example),
        (status = 400, description = "Not a UUID, or a database connection without a host.", body = LightdashError),
        (status = 403, description = "The caller is neither the owner nor an admin of the organization.", body = LightdashError),
        (status = 404, description = "No such connection, or one of another organization.", body = LightdashError, example = shapes::not_found_example),
        (status = 429, description = "Too many connection tests by the caller; `Retry-After` says when to try again.", body = LightdashError),
    ),
)]
async fn test(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::TestConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let r = caller
        .connections()
        .test_connection(msg)
        .await?
        .into_inner();
    Ok(json::ok(ConnectionTestResult {
        result: test_status(r.status),
        message: r.message,
        connection: r.connection.as_ref().map(connection),
    }))
}
