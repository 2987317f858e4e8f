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
use crate::http::error::without_strings;

/// `/api/v1/connections…` and its OpenAPI document.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/connections", get(list).post(create))
        .route(
            "/api/v1/connections/{connectionUuid}",
            get(get_connection).patch(update).delete(delete),
        )
        .route("/api/v1/connections/{connectionUuid}/test", post(test))
        .route("/api/v1/openapi/connections.json", get(docs::connections))
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

/// A connection: every seed field, no secret values.
fn connection(c: &pb::Connection) -> Value {
    json!({
        "connectionUuid": c.connection_uuid,
        "organizationUuid": c.organization_uuid,
        "ownerUserUuid": c.owner_user_uuid,
        "provider": c.provider,
        "name": c.name,
        "description": c.description.iter().collect::<BTreeMap<_, _>>(),
        "host": c.host,
        "port": c.port,
        "identifier": c.identifier,
        "scope": c.scope,
        "expiry": json::opt_time(c.expiry.as_ref()),
        "active": c.active,
        "invalid": c.invalid,
        "cache": c.cache,
        "datasetsMetaSyncEnabled": c.datasets_meta_sync_enabled,
        "datasetsMetaSyncInterval": c.datasets_meta_sync_interval,
        "date": json::opt_time(c.date.as_ref()),
        "options": c.options.iter().collect::<BTreeMap<_, _>>(),
        "secretFields": c.secret_fields,
        "createdAt": json::opt_time(c.created_at.as_ref()),
        "updatedAt": json::opt_time(c.updated_at.as_ref()),
        "lastTestedAt": json::opt_time(c.last_tested_at.as_ref()),
    })
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    provider: Option<String>,
}

/// GET /api/v1/connections: the organization's shared connections.
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

/// POST /api/v1/connections: a shared connection (organization developers and admins).
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

/// GET /api/v1/connections/{connectionUuid}
async fn get_connection(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::GetConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let c = caller.connections().get_connection(msg).await?;
    Ok(json::ok(connection(c.get_ref())))
}

/// PATCH /api/v1/connections/{connectionUuid}: the owner or an organization admin. Omitted
/// secrets are kept; `code` is exchanged for OAuth2 tokens.
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

/// DELETE /api/v1/connections/{connectionUuid}: the owner or an organization admin.
async fn delete(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::DeleteConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    caller.connections().delete_connection(msg).await?;
    Ok(json::ok_empty())
}

fn test_status(s: i32) -> &'static str {
    match pb::TestStatus::try_from(s) {
        Ok(pb::TestStatus::Connected) => "connected",
        Ok(pb::TestStatus::AuthenticationFailed) => "authentication_failed",
        Ok(pb::TestStatus::Refused) => "refused",
        Ok(pb::TestStatus::Failed) => "failed",
        Ok(pb::TestStatus::TimedOut) => "timed_out",
        Ok(pb::TestStatus::Unsupported) => "unsupported",
        _ => "unknown",
    }
}

/// POST /api/v1/connections/{connectionUuid}/test: connects with the stored credentials.
async fn test(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::TestConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let r = caller.connections().test_connection(msg).await?;
    let r = r.get_ref();
    Ok(json::ok(json!({
        "result": test_status(r.status),
        "message": r.message,
        "connection": r.connection.as_ref().map(connection),
    })))
}
