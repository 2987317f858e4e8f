//! `GET /v0/connectors/` and `GET /v0/connectors/{connector_id}`: the catalog of connectors,
//! which is connections-svc's provider catalog (`ListProviders`): integer ids fixed there for
//! good, and the fields each connector's `auth_data` takes.

use axum::{Router, routing::get};
use proto::connections::v1 as pb;
use serde_json::{Value, json};

use super::{
    SumvinCaller, link, ok, only,
    problem::{self, Refusal, Reply},
};
use crate::http::{
    AppState,
    extract::{Caller, In, Path},
};

/// The catalog's routes (the collection with or without its trailing slash).
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v0/connectors/", only(get(list)))
        .route("/v0/connectors", only(get(list)))
        .route("/v0/connectors/{connector_id}", only(get(one)))
}

/// The catalog, from connections-svc.
pub(super) async fn providers(caller: &Caller) -> Result<Vec<pb::Provider>, Refusal> {
    let res = caller
        .connections()
        .list_providers(pb::ListProvidersRequest {})
        .await?;
    Ok(res.into_inner().providers)
}

fn href(p: &pb::Provider) -> String {
    format!("/v0/connectors/{}", p.number)
}

/// What the caller may do with a connector: read it, and connect it.
fn links(p: &pb::Provider) -> Value {
    json!({
        "self": link(&href(p), "GET"),
        "connect": link("/v0/user/connectors/", "POST"),
    })
}

/// A catalog entry: the connector and the fields its `auth_data` takes.
fn connector(p: &pb::Provider) -> Value {
    let fields: Vec<Value> = p
        .fields
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "description": f.description,
                "required": f.required,
                "secret": f.target == pb::FieldTarget::Secret as i32,
                "type": if f.format == pb::FieldFormat::JsonObject as i32 { "object" } else { "string" },
            })
        })
        .collect();
    json!({
        "id": p.number,
        "name": p.name,
        "description": p.description,
        "icon_url": p.icon_url,
        "auth_type": p.auth_type,
        "auth_fields": fields,
    })
}

/// The connector of a user connector in the seed's shape (`id` a string), from its
/// connection's provider. A provider outside the catalog (a shared connection made on another
/// face) is connector `"0"`, a number the catalog never gives, named by its provider.
pub(super) fn summary(provider: &str, catalog: &[pb::Provider]) -> Value {
    match catalog.iter().find(|p| p.slug == provider) {
        Some(p) => json!({
            "id": p.number.to_string(),
            "name": p.name,
            "description": p.description,
            "icon_url": p.icon_url,
            "auth_type": p.auth_type,
        }),
        None => json!({
            "id": "0",
            "name": provider,
            "description": "",
            "icon_url": "",
            "auth_type": "custom",
        }),
    }
}

/// GET /v0/connectors/
async fn list(c: SumvinCaller) -> Reply {
    let catalog = providers(&c.caller).await?;
    let connectors: Vec<Value> = catalog
        .iter()
        .map(|p| {
            let mut v = connector(p);
            v["_links"] = links(p);
            v
        })
        .collect();
    Ok(ok(json!({
        "_links": {
            "self": link("/v0/connectors/", "GET"),
            "user_connectors": link("/v0/user/connectors/", "GET"),
        },
        "connectors": connectors,
    })))
}

/// GET /v0/connectors/{connector_id}
async fn one(c: SumvinCaller, In(Path(id), _): In<super::Sumvin, Path<String>>) -> Reply {
    let Ok(number) = id.trim().parse::<i64>() else {
        return Err(Refusal::invalid(
            &["path", "connector_id"],
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        ));
    };
    let catalog = providers(&c.caller).await?;
    let p = catalog
        .iter()
        .find(|p| i64::from(p.number) == number)
        .ok_or_else(|| {
            Refusal::problem(
                problem::CONNECTOR_NOT_FOUND,
                problem::CONNECTOR_NOT_FOUND.description,
            )
        })?;
    Ok(ok(json!({ "_links": links(p), "connector": connector(p) })))
}
