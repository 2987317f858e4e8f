//! Lightdash's personal warehouse credentials (`/api/v1/user/warehouseCredentials`), the
//! per-project credentials preference (`/api/v1/projects/{projectUuid}/user-credentials`), and
//! the warehouse a shared connection serves. Personal credentials are connections of kind
//! `personal`: their secrets are taken out of the body by hand as in `connections.rs`.

use std::collections::BTreeMap;

use proto::{connections::v1 as pb, projects::v1 as projects_pb};

use axum::response::IntoResponse;
use serde::Serialize;

use super::{
    connections::{object, secret_string},
    prelude::*,
};

/// `/api/v1/user/warehouseCredentials…` and `/api/v1/projects/{projectUuid}/user-credentials…`.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_user_credentials, create_user_credentials))
        .routes(routes!(update_user_credentials, delete_user_credentials))
        .routes(routes!(get_preference))
        .routes(routes!(set_preference))
}

/// Warehouse types whose credentials are a user and a password.
const USER_PASSWORD_TYPES: [&str; 4] = ["postgres", "redshift", "snowflake", "trino"];

/// Lightdash's `UserWarehouseCredentials`: personal credentials, without their secrets.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct UserWarehouseCredentials {
    #[schema(format = Uuid)]
    uuid: String,
    /// Their owner.
    #[schema(format = Uuid)]
    user_uuid: String,
    name: String,
    #[schema(format = DateTime)]
    created_at: Option<String>,
    #[schema(format = DateTime)]
    updated_at: Option<String>,
    credentials: CredentialsSummary,
}

/// The non-secret part of personal credentials: the type, and the user where there is one.
#[derive(Serialize, ToSchema)]
#[schema(as = UserWarehouseCredentialsSummary)]
struct CredentialsSummary {
    /// The warehouse type (`postgres`, `redshift`, `snowflake`, `trino`, `bigquery`,
    /// `databricks`).
    #[serde(rename = "type")]
    #[schema(example = "postgres")]
    kind: String,
    /// The user (postgres, redshift, snowflake, trino); absent for the other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

fn user_credentials(c: &pb::Connection) -> UserWarehouseCredentials {
    let user = USER_PASSWORD_TYPES
        .contains(&c.provider.as_str())
        .then(|| c.identifier.clone());
    UserWarehouseCredentials {
        uuid: c.connection_uuid.clone(),
        user_uuid: c.owner_user_uuid.clone(),
        name: c.name.clone(),
        created_at: json::some_time(c.created_at.as_ref()),
        updated_at: json::some_time(c.updated_at.as_ref()),
        credentials: CredentialsSummary {
            kind: c.provider.clone(),
            user,
        },
    }
}

/// `UpsertUserWarehouseCredentials`: a name and the credentials of one warehouse type. A
/// schema only: the handlers read the body as a JSON value and take the secrets out by hand
/// (`upsert_credentials`), so that no error can quote a secret back (CR-7). Unknown fields are
/// refused (400).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpsertUserWarehouseCredentials)]
#[allow(dead_code)]
struct UpsertBody {
    #[schema(example = "My warehouse user")]
    name: String,
    credentials: UpsertCredentials,
}

/// The credentials of one warehouse type; secrets are write-only, sealed at rest and never
/// returned.
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
#[schema(as = UpsertWarehouseCredentials)]
#[allow(dead_code)]
enum UpsertCredentials {
    Postgres {
        user: String,
        /// Required on create; an update without it keeps the stored one.
        #[serde(default)]
        #[schema(write_only, min_length = 1, max_length = 65536)]
        password: String,
    },
    Redshift {
        user: String,
        /// Required on create; an update without it keeps the stored one.
        #[serde(default)]
        #[schema(write_only, min_length = 1, max_length = 65536)]
        password: String,
    },
    Snowflake {
        user: String,
        /// Optional (key-pair authentication); an update without it keeps the stored one.
        #[serde(default)]
        #[schema(write_only, min_length = 1, max_length = 65536)]
        password: String,
    },
    Trino {
        user: String,
        /// Required on create; an update without it keeps the stored one.
        #[serde(default)]
        #[schema(write_only, min_length = 1, max_length = 65536)]
        password: String,
    },
    Bigquery {
        /// The service account's key file, an object of strings.
        #[serde(rename = "keyfileContents")]
        #[schema(write_only)]
        keyfile_contents: BTreeMap<String, String>,
    },
    Databricks {
        #[serde(rename = "personalAccessToken")]
        #[schema(write_only, min_length = 1, max_length = 65536)]
        personal_access_token: String,
    },
}

/// `{"status":"ok"}`, with `results` when the caller has credentials for the project.
#[derive(Serialize, ToSchema)]
#[schema(as = ApiUserWarehouseCredentialsPreference)]
struct PreferenceBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<UserWarehouseCredentials>,
    status: json::OkStatus,
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

const CREDENTIALS: &str = "The personal credentials' uuid.";

/// GET /api/v1/user/warehouseCredentials: the caller's personal warehouse credentials.
#[utoipa::path(
    get,
    path = "/api/v1/user/warehouseCredentials",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "getWarehouseCredentials",
    responses(
        (status = 200, description = "The caller's credentials, without their secrets.", body = json::Ok<Vec<UserWarehouseCredentials>>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
    ),
)]
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

/// POST /api/v1/user/warehouseCredentials: stores personal credentials for a warehouse type.
#[utoipa::path(
    post,
    path = "/api/v1/user/warehouseCredentials",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "createWarehouseCredentials",
    request_body = UpsertBody,
    responses(
        (status = 200, description = "The credentials stored, without their secrets.", body = json::Ok<UserWarehouseCredentials>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
    ),
)]
async fn create_user_credentials(caller: Caller, Json(body): Json<Value>) -> Reply {
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Personal as i32,
        fields: Some(upsert_credentials(body, false)?),
        visibility: pb::Visibility::Unspecified as i32,
    };
    let c = caller.connections().create_connection(msg).await?;
    Ok(json::ok(user_credentials(c.get_ref())))
}

/// PATCH /api/v1/user/warehouseCredentials/{uuid}: changes the caller's personal credentials.
#[utoipa::path(
    patch,
    path = "/api/v1/user/warehouseCredentials/{uuid}",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "updateWarehouseCredentials",
    params(("uuid" = Uuid, Path, description = CREDENTIALS)),
    request_body = UpsertBody,
    responses(
        (status = 200, description = "The credentials changed, without their secrets.", body = json::Ok<UserWarehouseCredentials>),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "The caller has no such credentials.", body = LightdashError),
    ),
)]
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

/// DELETE /api/v1/user/warehouseCredentials/{uuid}: deletes the caller's personal credentials.
#[utoipa::path(
    delete,
    path = "/api/v1/user/warehouseCredentials/{uuid}",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "deleteWarehouseCredentials",
    params(("uuid" = Uuid, Path, description = CREDENTIALS)),
    responses(
        (status = 200, description = "Deleted.", body = json::OkEmpty),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "The caller has no such credentials.", body = LightdashError),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/projects/{projectUuid}/user-credentials",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "getUserWarehouseCredentialsPreference",
    params(("projectUuid" = Uuid, Path, description = "The project's uuid.")),
    responses(
        (status = 200, description = "The credentials the caller uses for the project, if any.", body = PreferenceBody),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project, or one the caller may not see.", body = LightdashError),
    ),
)]
async fn get_preference(caller: Caller, Path(project_uuid): Id) -> Reply {
    let (project_uuid, warehouse_type) = project_warehouse(&caller, project_uuid).await?;
    let msg = pb::GetCredentialsPreferenceRequest {
        project_uuid,
        warehouse_type,
    };
    let results = match caller.connections().get_credentials_preference(msg).await {
        Ok(c) => Some(user_credentials(c.get_ref())),
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => return Err(s.into()),
    };
    let body = PreferenceBody {
        results,
        status: json::OkStatus::Ok,
    };
    Ok(axum::Json(body).into_response())
}

/// PATCH /api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}: the
/// caller's credentials to use for the project.
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{projectUuid}/user-credentials/{userWarehouseCredentialsUuid}",
    tag = "Lightdash: Warehouse credentials",
    operation_id = "updateUserWarehouseCredentialsPreference",
    params(
        ("projectUuid" = Uuid, Path, description = "The project's uuid."),
        ("userWarehouseCredentialsUuid" = Uuid, Path, description = CREDENTIALS),
    ),
    responses(
        (status = 200, description = "Set.", body = json::OkEmpty),
        (status = 400, description = "The credentials are not of the project's warehouse type.", body = LightdashError),
        (status = 403, description = "The caller belongs to no organization.", body = LightdashError),
        (status = 404, description = "No such project or credentials, or one the caller may not see.", body = LightdashError),
    ),
)]
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
/// warehouse type (the user is sensitive in Lightdash and is left out too). Each type has its
/// own fields: postgres and redshift `schema`, `dbname`, `host`, `port` (and `role`, `sslmode`,
/// `searchPath`); trino `schema`, `dbname`, `http_scheme`, `host`, `port`; snowflake
/// `account`, `database`, `warehouse`, `schema` (and `role`, `accessUrl`, `queryTag`); bigquery
/// `project`, `dataset` (and `location`, `priority`, `executionProject`); databricks
/// `database`, `serverHostName`, `httpPath` (and `catalog`).
#[derive(Default, Serialize, ToSchema)]
pub(super) struct WarehouseCredentials {
    #[serde(rename = "type")]
    #[schema(example = "postgres")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dbname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sslmode: Option<String>,
    #[serde(rename = "searchPath", skip_serializing_if = "Option::is_none")]
    search_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warehouse: Option<String>,
    #[serde(rename = "accessUrl", skip_serializing_if = "Option::is_none")]
    access_url: Option<String>,
    #[serde(rename = "queryTag", skip_serializing_if = "Option::is_none")]
    query_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<String>,
    #[serde(rename = "executionProject", skip_serializing_if = "Option::is_none")]
    execution_project: Option<String>,
    #[serde(rename = "serverHostName", skip_serializing_if = "Option::is_none")]
    server_host_name: Option<String>,
    #[serde(rename = "httpPath", skip_serializing_if = "Option::is_none")]
    http_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

impl WarehouseCredentials {
    /// Sets the field named `key` (as the JSON names it).
    fn set(&mut self, key: &str, value: String) {
        let field = match key {
            "schema" => &mut self.schema,
            "dbname" => &mut self.dbname,
            "role" => &mut self.role,
            "sslmode" => &mut self.sslmode,
            "searchPath" => &mut self.search_path,
            "http_scheme" => &mut self.http_scheme,
            "account" => &mut self.account,
            "database" => &mut self.database,
            "warehouse" => &mut self.warehouse,
            "accessUrl" => &mut self.access_url,
            "queryTag" => &mut self.query_tag,
            "project" => &mut self.project,
            "dataset" => &mut self.dataset,
            "location" => &mut self.location,
            "priority" => &mut self.priority,
            "executionProject" => &mut self.execution_project,
            "serverHostName" => &mut self.server_host_name,
            "httpPath" => &mut self.http_path,
            "catalog" => &mut self.catalog,
            _ => return,
        };
        *field = Some(value);
    }
}

/// The [`WarehouseCredentials`] of a shared connection, when its provider is a warehouse.
pub(super) fn warehouse_credentials(c: &pb::Connection) -> Option<WarehouseCredentials> {
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
    let mut v = WarehouseCredentials {
        kind: t,
        ..Default::default()
    };
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
        v.set(k, value);
    }
    for k in optional {
        if let Some(value) = c.options.get(*k) {
            v.set(k, value.clone());
        }
    }
    if matches!(t, "postgres" | "redshift" | "trino") {
        v.host = Some(c.host.clone());
        v.port = Some(c.port.parse::<u16>().unwrap_or(match t {
            "redshift" => 5439,
            "trino" => 443,
            _ => 5432,
        }));
    }
    Some(v)
}
