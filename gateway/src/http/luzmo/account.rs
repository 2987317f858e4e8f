//! `/0.1.0/account`: Luzmo's accounts (data connections) as the body's `action` asks:
//! `create`, `get`, `update`, `delete`, `associate`, `dissociate`.
//!
//! The body is read as a JSON value and its fields taken out by hand, so that no error can
//! quote the `token` (the connection's secret) or the caller's credential back (CR-7).

use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::IntoResponse,
    routing::any,
};
use chrono::{DateTime, SecondsFormat, Utc};
use proto::connections::v1 as pb;
use serde_json::{Map, Value};
use service_kit::grpc::timestamp;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ErrorBody as LuzmoError, Refusal, Reply,
    find::Find,
    json::{self, Account, Answer, Done, Found},
    provider,
};
use crate::{
    clients::Exchange,
    http::{
        AppState,
        extract::{Caller, ClientAddress},
        limits::unreadable_body,
    },
};

/// Prefix of personal access tokens.
const PAT_PREFIX: &str = "ldpat_";
/// Largest secret (the service refuses larger ones too).
const MAX_SECRET_BYTES: usize = 64 * 1024;

/// The properties an account takes (seed 000's table).
pub(super) const PROPERTIES: [&str; 16] = [
    "description",
    "provider",
    "date",
    "expiry",
    "scope",
    "host",
    "name",
    "active",
    "invalid",
    "identifier",
    "port",
    "cache",
    "code",
    "token",
    "datasets_meta_sync_enabled",
    "datasets_meta_sync_interval",
];

/// The keys a request body may hold.
const BODY_KEYS: [&str; 9] = [
    "key",
    "token",
    "version",
    "action",
    "id",
    "properties",
    "find",
    "resource",
    "associations",
];

/// `/0.1.0/account`, POST, PATCH and DELETE documented; Luzmo's Node client also sends
/// SEARCH (get), LINK (associate) and UNLINK (dissociate), methods OpenAPI 3.1 cannot name:
/// the path's method router serves them as its fallback, and the POST operation lists them
/// (`x-platform-extra-methods`). Any other method answers 405.
pub(super) fn router() -> OpenApiRouter<AppState> {
    let (schemas, paths, methods) = routes!(
        post_account,
        put_account,
        patch_account,
        delete_account,
        get_account
    );
    OpenApiRouter::new()
        .routes((schemas, paths, methods.fallback(extra_method)))
        // Not an operation: any other resource under /0.1.0/ only answers "no such resource".
        .route(
            "/0.1.0/{resource}",
            any(|| async { Refusal::new(StatusCode::NOT_FOUND, "Unknown resource") }),
        )
}

/// The refusals of every method of `/0.1.0/account` (the action decides, not the method).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a schema only: `Refusal` builds the answers
enum Refusals {
    /// `key` and `token` missing, not matching, or not a valid personal access token (unknown,
    /// revoked or expired).
    #[response(status = 401)]
    Unauthorized(LuzmoError),
    /// A reader changing an account (update, delete, associate, dissociate take its owner or an
    /// organization admin), or a caller outside their account's allowed IPs.
    #[response(status = 403)]
    Forbidden(LuzmoError),
    /// An account the caller may not read, or none; a user to associate outside the caller's
    /// organization; a share to dissociate that does not exist.
    #[response(status = 404)]
    NotFound(LuzmoError),
    /// The account changed meanwhile, or a limit is reached (accounts of the organization,
    /// members an account is shared with).
    #[response(status = 409)]
    Conflict(LuzmoError),
    /// Too many requests; `Retry-After` says when to try again.
    #[response(status = 429)]
    TooMany(LuzmoError),
}

/// SEARCH, LINK, UNLINK `/0.1.0/account`: the same as POST. Another method answers 405: the
/// document names every method served (these three in `x-platform-extra-methods`).
async fn extra_method(
    method: Method,
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    if !EXTRA_METHODS.contains(&method.as_str()) {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Send POST, PUT, PATCH, DELETE, GET, SEARCH, LINK or UNLINK",
        ));
    }
    account(state, headers, address, bytes).await
}

/// The methods Luzmo's Node client sends that OpenAPI cannot name (get, associate, dissociate).
const EXTRA_METHODS: [&str; 3] = ["SEARCH", "LINK", "UNLINK"];

/// POST /0.1.0/account: the body's `action` on the caller's accounts (data connections).
///
/// `action` is `create`, `get`, `update`, `delete`, `associate` or `dissociate`; the method
/// does not choose it (Luzmo's Python client always POSTs). **Authentication**: the body's
/// `key` (a personal access token's uuid) and `token` (that token's secret), both required
/// and matching; no header authenticates here. Luzmo's Node client also sends SEARCH (get),
/// LINK (associate) and UNLINK (dissociate) to this path, which OpenAPI cannot name: they are
/// served the same, and listed in `x-platform-extra-methods`.
#[utoipa::path(
    post,
    path = "/0.1.0/account",
    tag = "Luzmo",
    operation_id = "luzmoAccountPost",
    request_body = json::Request,
    responses(
        (status = 200, description = "The account (create, update), `{count, rows}` (get) or `{}` (delete, associate, dissociate).", body = json::Answer),
        Refusals,
    ),
    extensions(("x-platform-extra-methods" = json!(EXTRA_METHODS))),
)]
async fn post_account(
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    account(state, headers, address, bytes).await
}

/// PATCH /0.1.0/account: the same as POST (Luzmo's Node client sends update this way).
///
/// The body's `action` is the operation, whatever the method. **Authentication**: the body's
/// `key` (a personal access token's uuid) and `token` (that token's secret); no header
/// authenticates here.
#[utoipa::path(
    patch,
    path = "/0.1.0/account",
    tag = "Luzmo",
    operation_id = "luzmoAccountPatch",
    request_body = json::Request,
    responses(
        (status = 200, description = "The account (create, update), `{count, rows}` (get) or `{}` (delete, associate, dissociate).", body = json::Answer),
        Refusals,
    ),
)]
async fn patch_account(
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    account(state, headers, address, bytes).await
}

/// PUT /0.1.0/account: the same as POST (a client may send any method: the action decides).
///
/// The body's `action` is the operation, whatever the method. **Authentication**: the body's
/// `key` (a personal access token's uuid) and `token` (that token's secret); no header
/// authenticates here.
#[utoipa::path(
    put,
    path = "/0.1.0/account",
    tag = "Luzmo",
    operation_id = "luzmoAccountPut",
    request_body = json::Request,
    responses(
        (status = 200, description = "The account (create, update), `{count, rows}` (get) or `{}` (delete, associate, dissociate).", body = json::Answer),
        Refusals,
    ),
)]
async fn put_account(
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    account(state, headers, address, bytes).await
}

/// GET /0.1.0/account: the same as POST (a client may send any method, GET with a body too: the action decides).
///
/// The body's `action` is the operation, whatever the method. **Authentication**: the body's
/// `key` (a personal access token's uuid) and `token` (that token's secret); no header
/// authenticates here.
#[utoipa::path(
    get,
    path = "/0.1.0/account",
    tag = "Luzmo",
    operation_id = "luzmoAccountGet",
    request_body = json::Request,
    responses(
        (status = 200, description = "The account (create, update), `{count, rows}` (get) or `{}` (delete, associate, dissociate).", body = json::Answer),
        Refusals,
    ),
)]
async fn get_account(
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    account(state, headers, address, bytes).await
}

/// DELETE /0.1.0/account: the same as POST (Luzmo's Node client sends delete this way).
///
/// The body's `action` is the operation, whatever the method. **Authentication**: the body's
/// `key` (a personal access token's uuid) and `token` (that token's secret); no header
/// authenticates here.
#[utoipa::path(
    delete,
    path = "/0.1.0/account",
    tag = "Luzmo",
    operation_id = "luzmoAccountDelete",
    request_body = json::Request,
    responses(
        (status = 200, description = "The account (create, update), `{count, rows}` (get) or `{}` (delete, associate, dissociate).", body = json::Answer),
        Refusals,
    ),
)]
async fn delete_account(
    state: State<AppState>,
    headers: HeaderMap,
    address: ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    account(state, headers, address, bytes).await
}

/// The body as an object of the known keys.
fn body(bytes: &Bytes) -> Result<Map<String, Value>, Refusal> {
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "The body must be a JSON object",
        ));
    };
    if let Some(k) = m.keys().find(|k| !BODY_KEYS.contains(&k.as_str())) {
        return Err(Refusal::invalid(
            k,
            format!("{k} is not a known request field"),
        ));
    }
    Ok(m)
}

/// The caller of `key` and `token`: the token must be a personal access token's secret, and
/// the key that token's uuid. Nothing else authenticates here.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    address: Option<String>,
    m: &mut Map<String, Value>,
) -> Result<Caller, Refusal> {
    let (Some(Value::String(key)), Some(Value::String(token))) =
        (m.remove("key"), m.remove("token"))
    else {
        return Err(Refusal::unauthorized());
    };
    let key = uuid::Uuid::parse_str(key.trim()).map_err(|_| Refusal::unauthorized())?;
    if !token.starts_with(PAT_PREFIX) || token.contains(char::is_whitespace) {
        return Err(Refusal::unauthorized());
    }
    let mut presented = HeaderMap::new();
    let bearer =
        HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| Refusal::unauthorized())?;
    presented.insert(header::AUTHORIZATION, bearer);
    if let Some(id) = headers.get("x-request-id") {
        presented.insert("x-request-id", id.clone());
    }
    let caller = Caller::authenticate(&presented, address, state, Exchange::Reuse)
        .await
        .map_err(|e| match e.status {
            StatusCode::UNAUTHORIZED => Refusal::unauthorized(),
            _ => Refusal::from(e.recast::<super::Luzmo>()),
        })?;
    // The access token names the personal access token it was issued for: it must be `key`.
    let claims = state
        .verifier
        .verify(caller.token())
        .await
        .map_err(|_| Refusal::unauthorized())?;
    let pat = claims
        .pat
        .as_deref()
        .and_then(|p| uuid::Uuid::parse_str(p).ok());
    if pat != Some(key) {
        return Err(Refusal::unauthorized());
    }
    Ok(caller)
}

/// `/0.1.0/account` whatever the method.
async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddress(address): ClientAddress,
    bytes: Result<Bytes, BytesRejection>,
) -> Reply {
    let bytes = bytes.map_err(|r| {
        let (status, message) = unreadable_body(&r);
        Refusal::new(status, message)
    })?;
    let mut m = body(&bytes)?;
    let caller = authenticate(&state, &headers, address, &mut m).await?;
    match m.remove("version") {
        None => {}
        Some(Value::String(v)) if v == "0.1.0" => {}
        Some(_) => return Err(Refusal::invalid("version", "version must be \"0.1.0\"")),
    }
    let action = match m.remove("action") {
        Some(Value::String(a)) => a,
        _ => return Err(Refusal::invalid("action", "action is required")),
    };
    match action.as_str() {
        "create" => create(&caller, m).await,
        "get" => get(&caller, m).await,
        "update" => update(&caller, m).await,
        "delete" => delete(&caller, m).await,
        "associate" | "dissociate" => associate(&caller, m, action == "associate").await,
        _ => Err(Refusal::invalid(
            "action",
            "action must be one of create, get, update, delete, associate, dissociate",
        )),
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// An account as Luzmo answers it ([`Account`]).
fn entity(c: &pb::Connection) -> Account {
    Account {
        id: c.connection_uuid.clone(),
        provider: provider::to_luzmo(&c.provider),
        date: time(c.date.as_ref()),
        identifier: c.identifier.clone(),
        expiry: time(c.expiry.as_ref()),
        scope: c.scope.clone(),
        host: c.host.clone(),
        name: c.name.clone(),
        description: c
            .description
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        port: c.port.clone(),
        active: c.active,
        invalid: c.invalid,
        cache: c.cache,
        synced: false,
        version: None,
        properties: None,
        datasets_meta_sync_interval: c.datasets_meta_sync_interval,
        datasets_meta_sync_enabled: c.datasets_meta_sync_enabled,
        created_at: time(c.created_at.as_ref()),
        updated_at: time(c.updated_at.as_ref()),
        user_id: c.owner_user_uuid.clone(),
        plugin_id: None,
        shareable_id: None,
    }
}

fn ok(answer: Answer) -> Reply {
    Ok(axum::Json(answer).into_response())
}

fn text(field: &str, v: Value) -> Result<String, Refusal> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(Refusal::invalid(field, format!("{field} must be a string"))),
    }
}

fn boolean(field: &str, v: &Value) -> Result<bool, Refusal> {
    v.as_bool()
        .ok_or_else(|| Refusal::invalid(field, format!("{field} must be true or false")))
}

fn whole(field: &str, v: &Value) -> Result<i64, Refusal> {
    v.as_i64()
        .ok_or_else(|| Refusal::invalid(field, format!("{field} must be a whole number")))
}

fn datetime(field: &str, v: &Value) -> Result<prost_types::Timestamp, Refusal> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| timestamp(t.with_timezone(&Utc)))
        .ok_or_else(|| Refusal::invalid(field, format!("{field} must be an ISO 8601 date-time")))
}

/// The fields of a create or an update, and an update's OAuth2 `code`.
fn properties(
    v: Option<Value>,
    create: bool,
) -> Result<(pb::ConnectionFields, Option<String>), Refusal> {
    let m = match v {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) if !create => Map::new(),
        _ => {
            return Err(Refusal::invalid(
                "properties",
                "properties must be an object",
            ));
        }
    };
    let mut f = pb::ConnectionFields::default();
    let mut code = None;
    for (name, v) in m {
        match name.as_str() {
            "description" => {
                let Value::Object(d) = v else {
                    return Err(Refusal::invalid(
                        "description",
                        "description must be an object of language codes and texts",
                    ));
                };
                let values = d
                    .into_iter()
                    .map(|(lang, t)| Ok((lang, text("description", t)?)))
                    .collect::<Result<_, Refusal>>()?;
                f.description = Some(pb::StringMap { values });
            }
            "provider" => f.provider = Some(provider::to_platform(text(&name, v)?)),
            "name" => f.name = Some(text(&name, v)?),
            "host" => f.host = Some(text(&name, v)?),
            "identifier" => f.identifier = Some(text(&name, v)?),
            "scope" => f.scope = Some(text(&name, v)?),
            "port" => {
                f.port = Some(match v {
                    Value::Number(n) if n.is_u64() => n.to_string(),
                    v => text("port", v)?,
                });
            }
            "date" => f.date = Some(datetime("date", &v)?),
            "expiry" if v.is_null() => f.clear_expiry = true,
            "expiry" => f.expiry = Some(datetime("expiry", &v)?),
            "active" => f.active = Some(boolean(&name, &v)?),
            "datasets_meta_sync_enabled" => {
                f.datasets_meta_sync_enabled = Some(boolean(&name, &v)?);
            }
            "cache" => f.cache = Some(whole(&name, &v)?),
            "datasets_meta_sync_interval" => {
                f.datasets_meta_sync_interval = Some(whole(&name, &v)?);
            }
            "token" => {
                let Value::String(secret) = v else {
                    return Err(Refusal::invalid("token", "token must be a string"));
                };
                if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
                    return Err(Refusal::invalid(
                        "token",
                        format!("token must hold 1 to {MAX_SECRET_BYTES} bytes"),
                    ));
                }
                f.secrets.insert("password".into(), secret);
            }
            "code" if create => {
                return Err(Refusal::invalid(
                    "code",
                    "code is update-only: create the account, then update it with the code",
                ));
            }
            "code" => code = Some(text("code", v)?),
            "invalid" => return Err(Refusal::invalid("invalid", "invalid is read-only")),
            other => {
                return Err(Refusal::invalid(
                    other,
                    format!("{other} is not a property of an account"),
                ));
            }
        }
    }
    Ok((f, code))
}

/// The account a request's `id` names: a uuid, or none that exists (404).
fn id(m: &mut Map<String, Value>) -> Result<String, Refusal> {
    match m.remove("id") {
        Some(Value::String(id)) => uuid::Uuid::parse_str(id.trim())
            .map(|u| u.to_string())
            .map_err(|_| Refusal::new(StatusCode::NOT_FOUND, "Connection not found")),
        _ => Err(Refusal::invalid("id", "id is required")),
    }
}

/// Refuses what a request holds that its action does not take.
fn nothing_else(m: &Map<String, Value>, action: &str) -> Result<(), Refusal> {
    match m.keys().next() {
        Some(k) => Err(Refusal::invalid(k, format!("{action} does not take {k}"))),
        None => Ok(()),
    }
}

/// `create`: a restricted connection of the caller's organization, which they own (any
/// member may create one); `associations` must be empty (associate afterwards).
async fn create(caller: &Caller, mut m: Map<String, Value>) -> Reply {
    let (fields, _) = properties(m.remove("properties"), true)?;
    match m.remove("associations") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) if a.is_empty() => {}
        Some(Value::Array(a)) if a.is_empty() => {}
        Some(_) => {
            return Err(Refusal::invalid(
                "associations",
                "associate the new account with the associate action",
            ));
        }
    }
    nothing_else(&m, "create")?;
    let msg = pb::CreateConnectionRequest {
        kind: pb::Kind::Shared as i32,
        fields: Some(fields),
        visibility: pb::Visibility::Restricted as i32,
    };
    let c = caller.connections().create_connection(msg).await?;
    ok(Answer::Account(Box::new(entity(c.get_ref()))))
}

/// `get`: `{count, rows}` of the accounts the caller may read that `find` keeps.
async fn get(caller: &Caller, mut m: Map<String, Value>) -> Reply {
    let find = m.remove("find");
    let find = Find::parse(find.as_ref()).map_err(|r| Refusal::invalid(r.field, r.message))?;
    nothing_else(&m, "get")?;
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Shared as i32,
        provider: None,
        owned_by_caller: false,
    };
    let list = caller
        .connections()
        .list_connections(msg)
        .await?
        .into_inner();
    let rows = list
        .connections
        .iter()
        .map(|c| serde_json::to_value(entity(c)).expect("an account serializes"))
        .collect();
    let (count, rows) = find.apply(rows);
    ok(Answer::Found(Found { count, rows }))
}

/// `update`: the owner's or an organization admin's.
async fn update(caller: &Caller, mut m: Map<String, Value>) -> Reply {
    let id = id(&mut m)?;
    let (fields, code) = properties(m.remove("properties"), false)?;
    nothing_else(&m, "update")?;
    let msg = pb::UpdateConnectionRequest {
        connection_uuid: id,
        fields: Some(fields),
        code,
        kind: pb::Kind::Shared as i32,
    };
    let c = caller.connections().update_connection(msg).await?;
    ok(Answer::Account(Box::new(entity(c.get_ref()))))
}

/// `delete`: the owner's or an organization admin's. Luzmo's Python client sends
/// `properties: {}` along.
async fn delete(caller: &Caller, mut m: Map<String, Value>) -> Reply {
    let id = id(&mut m)?;
    match m.remove("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) if p.is_empty() => {}
        Some(_) => return Err(Refusal::invalid("properties", "delete takes no properties")),
    }
    nothing_else(&m, "delete")?;
    let msg = pb::DeleteConnectionRequest {
        connection_uuid: id,
        kind: pb::Kind::Shared as i32,
    };
    caller.connections().delete_connection(msg).await?;
    ok(Answer::Done(Done {}))
}

/// `associate` / `dissociate` with `resource: {role: "User", id}`: shares the account with
/// that member of the organization, or takes the share back (the owner or an admin).
async fn associate(caller: &Caller, mut m: Map<String, Value>, share: bool) -> Reply {
    let id = id(&mut m)?;
    let Some(Value::Object(mut resource)) = m.remove("resource") else {
        return Err(Refusal::invalid(
            "resource",
            "resource must be an object with role and id",
        ));
    };
    let role = resource
        .remove("role")
        .and_then(|r| r.as_str().map(str::to_owned));
    if !matches!(role.as_deref(), Some("User" | "Users")) {
        return Err(Refusal::invalid(
            "resource",
            "an account is associated with a User only",
        ));
    }
    let user = match resource.remove("id") {
        Some(Value::String(u)) => uuid::Uuid::parse_str(u.trim())
            .map_err(|_| Refusal::new(StatusCode::NOT_FOUND, "User not found"))?,
        _ => return Err(Refusal::invalid("resource", "resource.id is required")),
    };
    // Luzmo's clients may send properties along with an association: none apply here.
    match m.remove("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(p)) if p.is_empty() => {}
        Some(_) => {
            return Err(Refusal::invalid(
                "properties",
                "an association with a User takes no properties",
            ));
        }
    }
    nothing_else(&m, if share { "associate" } else { "dissociate" })?;
    let msg = pb::ShareConnectionRequest {
        connection_uuid: id,
        user_uuid: user.to_string(),
    };
    let mut rpc = caller.connections();
    if share {
        rpc.share_connection(msg).await?;
    } else {
        rpc.unshare_connection(msg).await?;
    }
    ok(Answer::Done(Done {}))
}

pub(crate) mod fuzz;
#[cfg(test)]
mod proptests;
