//! Lightdash's personal warehouse credentials (`/api/v1/user/warehouseCredentials`), the
//! per-project credentials preference (`/api/v1/projects/{projectUuid}/user-credentials`), and
//! the warehouse a shared connection serves. Personal credentials are connections of kind
//! `personal`: their secrets are taken out of the body by hand as in `connections.rs`.

use std::collections::BTreeMap;

use proto::{connections::v1 as pb, projects::v1 as projects_pb};

use super::{
    connections::{object, secret_string},
    prelude::*,
};

/// `/api/v1/user/warehouseCredentials…` and `/api/v1/projects/{projectUuid}/user-credentials…`.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/user/warehouseCredentials",
            get(list_user_credentials).post(create_user_credentials),
        )
        .route(
            "/api/v1/user/warehouseCredentials/{uuid}",
            patch(update_user_credentials).delete(delete_user_credentials),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user-credentials",
            get(get_preference),
        )
        .route(
            "/api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}",
            patch(set_preference),
        )
}

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
async fn list_user_credentials(caller: Caller) -> Reply {
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Personal as i32,
        provider: None,
        owned_by_caller: false,
    };
    let res = caller.connections().list_connections(msg).await?;
    Ok(json::ok(json::each(
        &res.get_ref().connections,
        user_credentials,
    )))
}

/// POST /api/v1/user/warehouseCredentials
async fn create_user_credentials(caller: Caller, Json(body): Json<Value>) -> Reply {
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Personal as i32,
        fields: Some(upsert_credentials(body, false)?),
        visibility: pb::Visibility::Unspecified as i32,
    };
    let c = caller.connections().create_connection(msg).await?;
    Ok(json::ok(user_credentials(c.get_ref())))
}

/// PATCH /api/v1/user/warehouseCredentials/{uuid}
async fn update_user_credentials(
    caller: Caller,
    Path(connection_uuid): Id,
    Json(body): Json<Value>,
) -> Reply {
    let msg = pb::UpdateConnectionRequest {
        connection_uuid,
        fields: Some(upsert_credentials(body, true)?),
        code: None,
        kind: pb::Kind::Personal as i32,
    };
    let c = caller.connections().update_connection(msg).await?;
    Ok(json::ok(user_credentials(c.get_ref())))
}

/// DELETE /api/v1/user/warehouseCredentials/{uuid}
async fn delete_user_credentials(caller: Caller, Path(connection_uuid): Id) -> Reply {
    let msg = pb::DeleteConnectionRequest {
        connection_uuid,
        kind: pb::Kind::Personal as i32,
    };
    caller.connections().delete_connection(msg).await?;
    Ok(json::ok_empty())
}

/// The project (which authorizes the caller on it) and its warehouse type.
async fn project_warehouse(caller: &Caller, project_uuid: String) -> ApiResult<(String, String)> {
    let msg = projects_pb::GetProjectRequest { project_uuid };
    let p = caller.projects().get_project(msg).await?.into_inner();
    Ok((p.project_uuid, p.warehouse_type))
}

/// GET /api/v1/projects/{projectUuid}/user-credentials: the caller's credentials for the
/// project; no `results` when they have none of its warehouse type.
async fn get_preference(caller: Caller, Path(project_uuid): Id) -> Reply {
    let (project_uuid, warehouse_type) = project_warehouse(&caller, project_uuid).await?;
    let msg = pb::GetCredentialsPreferenceRequest {
        project_uuid,
        warehouse_type,
    };
    match caller.connections().get_credentials_preference(msg).await {
        Ok(c) => Ok(json::ok(user_credentials(c.get_ref()))),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(json::ok_empty()),
        Err(s) => Err(s.into()),
    }
}

/// PATCH /api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}
async fn set_preference(caller: Caller, Path((project_uuid, connection_uuid)): Ids) -> Reply {
    let (project_uuid, warehouse_type) = project_warehouse(&caller, project_uuid).await?;
    let msg = pb::SetCredentialsPreferenceRequest {
        project_uuid,
        warehouse_type,
        connection_uuid,
    };
    caller.connections().set_credentials_preference(msg).await?;
    Ok(json::ok_empty())
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
