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

use axum::{Router, http::StatusCode, response::IntoResponse, routing::get};
use proto::connections::v1 as pb;
use serde_json::{Value, json};

use super::{
    Sumvin, SumvinCaller, Times,
    catalog::{providers, summary},
    input::{self, Object},
    link, ok, only,
    problem::{Refusal, Reply},
};
use crate::http::{
    AppState,
    extract::{In, Path},
};

const COLLECTION: &str = "/v0/user/connectors/";

/// The routes of the caller's connectors (the collection with or without its trailing slash).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(COLLECTION, only(get(list).post(create)))
        .route("/v0/user/connectors", only(get(list).post(create)))
        .route(
            "/v0/user/connectors/{user_connector_id}",
            only(get(read).patch(update).delete(remove)),
        )
}

/// What the owner may do with their connector.
fn links(id: &str) -> Value {
    let href = format!("{COLLECTION}{id}");
    json!({
        "self": link(&href, "GET"),
        "update": link(&href, "PATCH"),
        "delete": link(&href, "DELETE"),
    })
}

/// A connection as a user connector (no credential, not even the user name).
fn user_connector(c: &pb::Connection, catalog: &[pb::Provider], times: Times) -> Value {
    json!({
        "id": c.connection_uuid,
        "connector": summary(&c.provider, catalog),
        "is_active": c.active,
        "created_at": times.write(c.created_at.as_ref()),
        "updated_at": times.write(c.updated_at.as_ref()),
    })
}

/// The answer about one user connector.
fn one(c: &pb::Connection, catalog: &[pb::Provider], times: Times) -> Value {
    json!({
        "_links": links(&c.connection_uuid),
        "user_connector": user_connector(c, catalog, times),
    })
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

/// GET /v0/user/connectors/
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
    let items: Vec<Value> = res
        .get_ref()
        .connections
        .iter()
        .map(|conn| {
            let mut v = user_connector(conn, &catalog, times);
            v["_links"] = links(&conn.connection_uuid);
            v
        })
        .collect();
    Ok(ok(json!({
        "_links": {
            "self": link(COLLECTION, "GET"),
            "connect": link(COLLECTION, "POST"),
            "connectors": link("/v0/connectors/", "GET"),
        },
        "user_connectors": items,
    })))
}

/// POST /v0/user/connectors/: `{connector_id, auth_data}` makes personal credentials; 201.
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

/// GET /v0/user/connectors/{user_connector_id}
async fn read(c: SumvinCaller, times: Times, In(Path(id), _): In<Sumvin, Path<String>>) -> Reply {
    let (conn, catalog) = tokio::try_join!(owned(&c, &id), providers(&c.caller))?;
    Ok(ok(one(&conn, &catalog, times)))
}

/// PATCH /v0/user/connectors/{user_connector_id}: `{is_active, auth_data}`; what the body
/// omits (or sends as null) is kept, credential fields included.
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

/// DELETE /v0/user/connectors/{user_connector_id}: 200 with the links that remain.
async fn remove(c: SumvinCaller, In(Path(id), _): In<Sumvin, Path<String>>) -> Reply {
    let conn = owned(&c, &id).await?;
    let msg = pb::DeleteConnectionRequest {
        connection_uuid: conn.connection_uuid,
        kind: pb::Kind::Unspecified as i32,
    };
    c.caller.connections().delete_connection(msg).await?;
    Ok(ok(json!({
        "_links": {
            "user_connectors": link(COLLECTION, "GET"),
            "connect": link(COLLECTION, "POST"),
        },
    })))
}
