//! `/v0/user/connectors/…`: the caller's connectors. A user connector is a connection the
//! caller owns, whichever face made it (a shared connection they created on the REST or Luzmo
//! face too); its id is the connection's uuid. Creating one makes personal credentials (any
//! member may). `auth_data` goes to the connection's `identifier` (a user name) and its
//! write-only secrets, as the catalog says per connector, and is never answered.
//!
//! Which connections are the caller's is connections-svc's answer: the list asks it for the
//! caller's own (`owned_by_caller`); one connection is the caller's when connections-svc lets
//! them read it and names them its owner (ownership never changes). Anything else answers 404,
//! the same as a connection that does not exist (AC-8).

use axum::{http::StatusCode, response::IntoResponse};
use proto::connections::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    Sumvin, SumvinCaller, Times,
    catalog::{providers, summary},
    input::{self, Object},
    json::{
        Change, Connect, Disconnected, DisconnectedLinks, Link, TimeFormat, UserConnector,
        UserConnectorAnswer, UserConnectorLinks, UserConnectorList, UserConnectorsLinks,
    },
    ok, only,
    problem::{Problem, Refusal, Reply, ValidationError},
};
use crate::http::{
    AppState,
    extract::{In, Path},
};

const COLLECTION: &str = "/v0/user/connectors/";

/// The routes of the caller's connectors (the collection with or without its trailing slash).
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(only(routes!(list, create)))
        .routes(only(routes!(list_without_slash, create_without_slash)))
        .routes(only(routes!(read, update, remove)))
}

/// What the owner may do with their connector.
fn links(id: &str) -> UserConnectorLinks {
    let href = format!("{COLLECTION}{id}");
    UserConnectorLinks {
        self_: Link::new(href.clone(), "GET"),
        update: Link::new(href.clone(), "PATCH"),
        delete: Link::new(href, "DELETE"),
    }
}

/// A connection as a user connector (no credential, not even the user name), with its links
/// when `links`.
fn user_connector(
    c: &pb::Connection,
    catalog: &[pb::Provider],
    times: Times,
    links: Option<UserConnectorLinks>,
) -> UserConnector {
    UserConnector {
        id: c.connection_uuid.clone(),
        connector: summary(&c.provider, catalog),
        is_active: c.active,
        created_at: times.write(c.created_at.as_ref()),
        updated_at: times.write(c.updated_at.as_ref()),
        links,
    }
}

/// The answer about one user connector.
fn one(c: &pb::Connection, catalog: &[pb::Provider], times: Times) -> UserConnectorAnswer {
    UserConnectorAnswer {
        links: links(&c.connection_uuid),
        user_connector: user_connector(c, catalog, times, None),
    }
}

/// The connection `id` names when the caller owns it; 404 otherwise.
async fn owned(c: &SumvinCaller, id: &str) -> Result<pb::Connection, Refusal> {
    let Ok(id) = uuid::Uuid::parse_str(id.trim()) else {
        return Err(Refusal::user_connector_not_found());
    };
    let msg = pb::GetConnectionRequest {
        connection_uuid: id.to_string(),
        kind: pb::Kind::Unspecified as i32,
    };
    let conn = c
        .caller
        .connections()
        .get_connection(msg)
        .await?
        .into_inner();
    if conn.owner_user_uuid == c.user_uuid {
        Ok(conn)
    } else {
        Err(Refusal::user_connector_not_found())
    }
}

/// GET /v0/user/connectors/: the caller's connectors.
///
/// The connections the caller owns, whichever face made them.
#[utoipa::path(
    get,
    path = "/v0/user/connectors/",
    tag = "Sumvin",
    operation_id = "listUserConnectors",
    params(TimeFormat),
    responses(
        (status = 200, description = "The caller's connectors.", body = UserConnectorList),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list(c: SumvinCaller, times: Times) -> Reply {
    let msg = pb::ListConnectionsRequest {
        kind: pb::Kind::Unspecified as i32,
        provider: None,
        owned_by_caller: true,
    };
    let mut rpc = c.caller.connections();
    let (res, catalog) = tokio::try_join!(
        async { rpc.list_connections(msg).await.map_err(Refusal::from) },
        providers(&c.caller),
    )?;
    let user_connectors = res
        .get_ref()
        .connections
        .iter()
        .map(|conn| {
            let links = links(&conn.connection_uuid);
            user_connector(conn, &catalog, times, Some(links))
        })
        .collect();
    Ok(ok(UserConnectorList {
        links: UserConnectorsLinks {
            self_: Link::new(COLLECTION, "GET"),
            connect: Link::new(COLLECTION, "POST"),
            connectors: Link::new("/v0/connectors/", "GET"),
        },
        user_connectors,
    }))
}

/// GET /v0/user/connectors: the caller's connectors (`/v0/user/connectors/` without its slash).
#[utoipa::path(
    get,
    path = "/v0/user/connectors",
    tag = "Sumvin",
    operation_id = "listUserConnectorsWithoutSlash",
    params(TimeFormat),
    responses(
        (status = 200, description = "The caller's connectors.", body = UserConnectorList),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_without_slash(c: SumvinCaller, times: Times) -> Reply {
    list(c, times).await
}

/// POST /v0/user/connectors/: connects a connector of the catalog; 201.
///
/// `{connector_id, auth_data}` makes personal credentials of the caller's (any member may).
#[utoipa::path(
    post,
    path = "/v0/user/connectors/",
    tag = "Sumvin",
    operation_id = "connectService",
    params(TimeFormat),
    request_body = Connect,
    responses(
        (status = 201, description = "Connected.", body = UserConnectorAnswer),
        (status = 400, description = "The body cannot be read (`CON-400-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller holds as many connections as they may (`CON-409-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON (`CON-415-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body breaks a rule: a missing or unknown field, a wrong type, an unknown `connector_id`, an `auth_data` field the connector does not take or requires, a rule of connections-svc (`value_error` at `body`).", body = ValidationError),
        (status = 429, description = "Too many requests; `Retry-After` says when to try again (`CON-429-001-R`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create(c: SumvinCaller, times: Times, Object(body): Object) -> Reply {
    let catalog = providers(&c.caller).await?;
    let (provider, fields) = input::create(body, &catalog)?;
    let msg = pb::CreateConnectionRequest {
        kind: provider.kind,
        fields: Some(fields),
        visibility: pb::Visibility::Unspecified as i32,
    };
    let conn = c.caller.connections().create_connection(msg).await?;
    let body = one(conn.get_ref(), &catalog, times);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// POST /v0/user/connectors: connects a connector (`/v0/user/connectors/` without its slash).
#[utoipa::path(
    post,
    path = "/v0/user/connectors",
    tag = "Sumvin",
    operation_id = "connectServiceWithoutSlash",
    params(TimeFormat),
    request_body = Connect,
    responses(
        (status = 201, description = "Connected.", body = UserConnectorAnswer),
        (status = 400, description = "The body cannot be read (`CON-400-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The caller holds as many connections as they may (`CON-409-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON (`CON-415-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body breaks a rule: a missing or unknown field, a wrong type, an unknown `connector_id`, an `auth_data` field the connector does not take or requires, a rule of connections-svc (`value_error` at `body`).", body = ValidationError),
        (status = 429, description = "Too many requests; `Retry-After` says when to try again (`CON-429-001-R`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_without_slash(c: SumvinCaller, times: Times, body: Object) -> Reply {
    create(c, times, body).await
}

/// GET /v0/user/connectors/{user_connector_id}: one of the caller's connectors.
#[utoipa::path(
    get,
    path = "/v0/user/connectors/{user_connector_id}",
    tag = "Sumvin",
    operation_id = "getUserConnector",
    params(("user_connector_id" = String, Path, description = "The user connector's id (its connection's uuid); one that is no uuid is not found."), TimeFormat),
    responses(
        (status = 200, description = "The user connector.", body = UserConnectorAnswer),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No connector of the caller has this id: none, or one of another user (`CON-404-001`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn read(c: SumvinCaller, times: Times, In(Path(id), _): In<Sumvin, Path<String>>) -> Reply {
    let (conn, catalog) = tokio::try_join!(owned(&c, &id), providers(&c.caller))?;
    Ok(ok(one(&conn, &catalog, times)))
}

/// PATCH /v0/user/connectors/{user_connector_id}: changes `is_active` or `auth_data`.
///
/// What the body omits (or sends as null) is kept, credential fields included.
#[utoipa::path(
    patch,
    path = "/v0/user/connectors/{user_connector_id}",
    tag = "Sumvin",
    operation_id = "updateUserConnector",
    params(("user_connector_id" = String, Path, description = "The user connector's id (its connection's uuid); one that is no uuid is not found."), TimeFormat),
    request_body = Change,
    responses(
        (status = 200, description = "The user connector as changed.", body = UserConnectorAnswer),
        (status = 400, description = "The body cannot be read (`CON-400-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed: an owner whose role no longer allows changing a shared connection, or a caller outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No connector of the caller has this id: none, or one of another user (`CON-404-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The connection changed meanwhile: read it again and retry (`CON-409-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON (`CON-415-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body breaks a rule: an unknown field, a wrong type, an `auth_data` field the connector does not take, a new `user` without its password, `auth_data` for a connector outside the catalog.", body = ValidationError),
        (status = 429, description = "Too many requests; `Retry-After` says when to try again (`CON-429-001-R`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn update(
    c: SumvinCaller,
    times: Times,
    In(Path(id), _): In<Sumvin, Path<String>>,
    Object(body): Object,
) -> Reply {
    let (conn, catalog) = tokio::try_join!(owned(&c, &id), providers(&c.caller))?;
    let provider = catalog.iter().find(|p| p.slug == conn.provider);
    let Some(fields) = input::update(body, provider)? else {
        return Ok(ok(one(&conn, &catalog, times)));
    };
    let msg = pb::UpdateConnectionRequest {
        connection_uuid: conn.connection_uuid,
        fields: Some(fields),
        code: None,
        kind: pb::Kind::Unspecified as i32,
    };
    let conn = c.caller.connections().update_connection(msg).await?;
    Ok(ok(one(conn.get_ref(), &catalog, times)))
}

/// DELETE /v0/user/connectors/{user_connector_id}: disconnects; 200 with the links that
/// remain.
#[utoipa::path(
    delete,
    path = "/v0/user/connectors/{user_connector_id}",
    tag = "Sumvin",
    operation_id = "disconnectService",
    params(("user_connector_id" = String, Path, description = "The user connector's id (its connection's uuid); one that is no uuid is not found.")),
    responses(
        (status = 200, description = "Disconnected.", body = Disconnected),
        (status = 403, description = "Not allowed: an owner whose role no longer allows changing a shared connection, or a caller outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No connector of the caller has this id: none, or one of another user (`CON-404-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The connection changed meanwhile: read it again and retry (`CON-409-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests; `Retry-After` says when to try again (`CON-429-001-R`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn remove(c: SumvinCaller, In(Path(id), _): In<Sumvin, Path<String>>) -> Reply {
    let conn = owned(&c, &id).await?;
    let msg = pb::DeleteConnectionRequest {
        connection_uuid: conn.connection_uuid,
        kind: pb::Kind::Unspecified as i32,
    };
    c.caller.connections().delete_connection(msg).await?;
    Ok(ok(Disconnected {
        links: DisconnectedLinks {
            user_connectors: Link::new(COLLECTION, "GET"),
            connect: Link::new(COLLECTION, "POST"),
        },
    }))
}
