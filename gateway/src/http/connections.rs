//! Connections: our `/api/v1/connections` (Luzmo's account/connection model in Lightdash style),
//! Lightdash's personal warehouse credentials (`/api/v1/user/warehouseCredentials`) and the
//! per-project credentials preference (`/api/v1/projects/{projectUuid}/user-credentials`).
//!
//! Secrets are write-only (CR-7): bodies are read as JSON values and the secret fields taken
//! out by hand, so that no deserialization error can quote a secret back; responses name which
//! secrets are stored, never their values.

use std::collections::BTreeMap;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use proto::{connections::v1 as pb, projects::v1 as projects_pb};
use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::{Map, Value, json};
use service_kit::grpc::timestamp;

use super::{
    ApiError, ApiResult, AppState,
    extract::{AppJson, AppPath, AppQuery, Caller},
    json,
};

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

fn object(body: Value) -> ApiResult<Map<String, Value>> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request("The body must be a JSON object")),
    }
}

/// A string secret taken out of a body; the error names the field, never the value.
fn secret_string(field: &str, v: Value) -> ApiResult<String> {
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
        .map_err(|e| ApiError::bad_request(super::error::without_strings(&e.to_string())))
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
pub(super) struct ListQuery {
    provider: Option<String>,
}

/// GET /api/v1/connections: the organization's shared connections.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<ListQuery>,
) -> ApiResult<Response> {
    // Providers are stored trimmed and lower-cased: filter by the same form.
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Shared as i32,
        provider: q.provider.map(|p| p.trim().to_ascii_lowercase()),
    };
    let res = state
        .connections
        .rpc()
        .list_connections(state.connections.as_user(msg, &caller))
        .await?;
    let list: Vec<Value> = res.get_ref().connections.iter().map(connection).collect();
    Ok(json::ok(list).into_response())
}

/// POST /api/v1/connections: a shared connection (organization developers and admins).
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Response> {
    let mut m = object(body)?;
    refuse(&m, false)?;
    let secrets = secrets(m.remove("secrets"))?;
    let body: ConnectionBody = rest(m)?;
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Shared as i32,
        fields: Some(fields(body, secrets)),
    };
    let c = state
        .connections
        .rpc()
        .create_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok((StatusCode::CREATED, json::ok(connection(c.get_ref()))).into_response())
}

/// GET /api/v1/connections/{connectionUuid}
pub(super) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::GetConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let c = state
        .connections
        .rpc()
        .get_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok(connection(c.get_ref())).into_response())
}

/// PATCH /api/v1/connections/{connectionUuid}: the owner or an organization admin. Omitted
/// secrets are kept; `code` is exchanged for OAuth2 tokens.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Response> {
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
    let c = state
        .connections
        .rpc()
        .update_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok(connection(c.get_ref())).into_response())
}

/// DELETE /api/v1/connections/{connectionUuid}: the owner or an organization admin.
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::DeleteConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    state
        .connections
        .rpc()
        .delete_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
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
pub(super) async fn test(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::TestConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Shared as i32,
    };
    let r = state
        .connections
        .rpc()
        .test_connection(state.connections.as_user(msg, &caller))
        .await?
        .into_inner();
    Ok(json::ok(json!({
        "result": test_status(r.status),
        "message": r.message,
        "connection": r.connection.as_ref().map(connection),
    }))
    .into_response())
}

// --- Lightdash: personal warehouse credentials -------------------------------------------

/// Warehouse types whose credentials are a user and a password.
const USER_PASSWORD_TYPES: [&str; 4] = ["postgres", "redshift", "snowflake", "trino"];

/// Lightdash's `UserWarehouseCredentials`: the type, and the user where there is one.
fn user_credentials(c: &pb::Connection) -> Value {
    let mut credentials = json!({ "type": c.provider });
    if USER_PASSWORD_TYPES.contains(&c.provider.as_str()) {
        credentials["user"] = json!(c.identifier);
    }
    json!({
        "uuid": c.connection_uuid,
        "userUuid": c.owner_user_uuid,
        "name": c.name,
        "createdAt": json::opt_time(c.created_at.as_ref()),
        "updatedAt": json::opt_time(c.updated_at.as_ref()),
        "credentials": credentials,
    })
}

/// `UpsertUserWarehouseCredentials` read by hand: `{name, credentials}` where `credentials` is
/// `{type, user, password}` (postgres, redshift, trino; snowflake's password is optional),
/// `{type: bigquery, keyfileContents}` or `{type: databricks, personalAccessToken}`.
fn upsert_credentials(body: Value, update: bool) -> ApiResult<pb::ConnectionFields> {
    let mut m = object(body)?;
    let name = match m.remove("name") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(ApiError::bad_request(
                "name is required and must be a string",
            ));
        }
    };
    let mut c = match m.remove("credentials") {
        Some(Value::Object(c)) => c,
        _ => {
            return Err(ApiError::bad_request(
                "credentials is required and must be an object",
            ));
        }
    };
    if let Some(k) = m.keys().next() {
        return Err(ApiError::bad_request(format!("unknown field {k:?}")));
    }
    let kind = match c.remove("type") {
        Some(Value::String(t)) => t,
        _ => return Err(ApiError::bad_request("credentials.type is required")),
    };
    let mut secrets = BTreeMap::new();
    let mut identifier = None;
    match kind.as_str() {
        t if USER_PASSWORD_TYPES.contains(&t) => {
            match c.remove("user") {
                Some(Value::String(u)) if !u.trim().is_empty() => identifier = Some(u),
                _ => return Err(ApiError::bad_request("credentials.user is required")),
            }
            match c.remove("password") {
                Some(v) => {
                    secrets.insert(
                        "password".to_owned(),
                        secret_string("credentials.password", v)?,
                    );
                }
                // Snowflake may use key-pair authentication; an update keeps the stored one.
                None if t == "snowflake" || update => {}
                None => return Err(ApiError::bad_request("credentials.password is required")),
            }
        }
        "bigquery" => match c.remove("keyfileContents") {
            Some(Value::Object(k)) if k.values().all(Value::is_string) => {
                let text = Value::Object(k).to_string();
                secrets.insert(
                    "keyfile_contents".to_owned(),
                    secret_string("credentials.keyfileContents", Value::String(text))?,
                );
            }
            _ => {
                return Err(ApiError::bad_request(
                    "credentials.keyfileContents is required: an object of strings",
                ));
            }
        },
        "databricks" => match c.remove("personalAccessToken") {
            Some(v) => {
                secrets.insert(
                    "personal_access_token".to_owned(),
                    secret_string("credentials.personalAccessToken", v)?,
                );
            }
            None => {
                return Err(ApiError::bad_request(
                    "credentials.personalAccessToken is required",
                ));
            }
        },
        _ => {
            return Err(ApiError::bad_request(
                "credentials.type must be one of postgres, redshift, snowflake, trino, bigquery, databricks",
            ));
        }
    }
    if let Some(k) = c.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown field credentials.{k} for type {kind}"
        )));
    }
    Ok(pb::ConnectionFields {
        provider: Some(kind),
        name: Some(name),
        identifier,
        secrets: secrets.into_iter().collect(),
        ..Default::default()
    })
}

/// GET /api/v1/user/warehouseCredentials
pub(super) async fn list_user_credentials(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Response> {
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Personal as i32,
        provider: None,
    };
    let res = state
        .connections
        .rpc()
        .list_connections(state.connections.as_user(msg, &caller))
        .await?;
    let list: Vec<Value> = res
        .get_ref()
        .connections
        .iter()
        .map(user_credentials)
        .collect();
    Ok(json::ok(list).into_response())
}

/// POST /api/v1/user/warehouseCredentials
pub(super) async fn create_user_credentials(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Response> {
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Personal as i32,
        fields: Some(upsert_credentials(body, false)?),
    };
    let c = state
        .connections
        .rpc()
        .create_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok(user_credentials(c.get_ref())).into_response())
}

/// PATCH /api/v1/user/warehouseCredentials/{uuid}
pub(super) async fn update_user_credentials(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
    AppJson(body): AppJson<Value>,
) -> ApiResult<Response> {
    let msg = pb::UpdateConnectionRequest {
        connection_uuid,
        fields: Some(upsert_credentials(body, true)?),
        code: None,
        kind: pb::Kind::Personal as i32,
    };
    let c = state
        .connections
        .rpc()
        .update_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok(user_credentials(c.get_ref())).into_response())
}

/// DELETE /api/v1/user/warehouseCredentials/{uuid}
pub(super) async fn delete_user_credentials(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(connection_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let msg = pb::DeleteConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Personal as i32,
    };
    state
        .connections
        .rpc()
        .delete_connection(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

/// The project (which authorizes the caller on it) and its warehouse type.
async fn project_warehouse(
    state: &AppState,
    caller: &Caller,
    project_uuid: String,
) -> ApiResult<(String, String)> {
    let p = state
        .projects
        .rpc()
        .get_project(
            state
                .projects
                .as_user(projects_pb::GetProjectRequest { project_uuid }, caller),
        )
        .await?
        .into_inner();
    Ok((p.project_uuid, p.warehouse_type))
}

/// GET /api/v1/projects/{projectUuid}/user-credentials: the caller's credentials for the
/// project; no `results` when they have none of its warehouse type.
pub(super) async fn get_preference(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(project_uuid): AppPath<String>,
) -> ApiResult<Response> {
    let (project_uuid, warehouse_type) = project_warehouse(&state, &caller, project_uuid).await?;
    let msg = pb::GetCredentialsPreferenceRequest {
        project_uuid,
        warehouse_type,
    };
    match state
        .connections
        .rpc()
        .get_credentials_preference(state.connections.as_user(msg, &caller))
        .await
    {
        Ok(c) => Ok(json::ok(user_credentials(c.get_ref())).into_response()),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(json::ok_empty().into_response()),
        Err(s) => Err(s.into()),
    }
}

/// PATCH /api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}
pub(super) async fn set_preference(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((project_uuid, connection_uuid)): AppPath<(String, String)>,
) -> ApiResult<Response> {
    let (project_uuid, warehouse_type) = project_warehouse(&state, &caller, project_uuid).await?;
    let msg = pb::SetCredentialsPreferenceRequest {
        project_uuid,
        warehouse_type,
        connection_uuid,
    };
    state
        .connections
        .rpc()
        .set_credentials_preference(state.connections.as_user(msg, &caller))
        .await?;
    Ok(json::ok_empty().into_response())
}

// --- a project's warehouse connection ------------------------------------------------------

/// The warehouse type a connection's provider serves, if any (`postgresql` is Luzmo's slug).
pub(super) fn warehouse_type(provider: &str) -> Option<&'static str> {
    match provider {
        "postgres" | "postgresql" => Some("postgres"),
        "redshift" => Some("redshift"),
        "snowflake" => Some("snowflake"),
        "trino" => Some("trino"),
        "bigquery" => Some("bigquery"),
        "databricks" => Some("databricks"),
        _ => None,
    }
}

/// Lightdash's `WarehouseCredentials` of a shared connection: the non-sensitive fields of its
/// warehouse type (the user is sensitive in Lightdash and is left out too).
pub(super) fn warehouse_credentials(c: &pb::Connection) -> Option<Value> {
    let t = warehouse_type(&c.provider)?;
    let opt = |k: &str| c.options.get(k).cloned().unwrap_or_default();
    let (required, optional): (&[&str], &[&str]) = match t {
        "postgres" | "redshift" => (&["schema", "dbname"], &["role", "sslmode", "searchPath"]),
        "trino" => (&["schema", "dbname", "http_scheme"], &[]),
        "snowflake" => (
            &["account", "database", "warehouse", "schema"],
            &["role", "accessUrl", "queryTag"],
        ),
        "bigquery" => (
            &["project", "dataset"],
            &["location", "priority", "executionProject"],
        ),
        _ => (&["database", "serverHostName", "httpPath"], &["catalog"]),
    };
    let mut v = json!({ "type": t });
    for k in required {
        let value = match *k {
            "dbname" => c
                .options
                .get("dbname")
                .or_else(|| c.options.get("database"))
                .cloned()
                .unwrap_or_default(),
            k => opt(k),
        };
        v[*k] = json!(value);
    }
    for k in optional {
        if let Some(value) = c.options.get(*k) {
            v[*k] = json!(value);
        }
    }
    if matches!(t, "postgres" | "redshift" | "trino") {
        v["host"] = json!(c.host);
        v["port"] = json!(c.port.parse::<u16>().unwrap_or(match t {
            "redshift" => 5439,
            "trino" => 443,
            _ => 5432,
        }));
    }
    Some(v)
}
