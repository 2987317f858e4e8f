//! `GET /v0/connectors/` and `GET /v0/connectors/{connector_id}`: the catalog of connectors,
//! which is connections-svc's provider catalog (`ListProviders`): integer ids fixed there for
//! good, and the fields each connector's `auth_data` takes.

use proto::connections::v1 as pb;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    SumvinCaller,
    json::{
        AuthField, CatalogLinks, Connector, ConnectorAnswer, ConnectorLinks, ConnectorList,
        ConnectorSummary, Link,
    },
    ok, only,
    problem::{self, Problem, Refusal, Reply, ValidationError},
};
use crate::http::{
    AppState,
    extract::{Caller, In, Path},
};

/// The catalog's routes (the collection with or without its trailing slash).
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(only(routes!(list)))
        .routes(only(routes!(list_without_slash)))
        .routes(only(routes!(one)))
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
fn links(p: &pb::Provider) -> ConnectorLinks {
    ConnectorLinks {
        self_: Link::new(href(p), "GET"),
        connect: Link::new("/v0/user/connectors/", "POST"),
    }
}

/// A catalog entry: the connector and the fields its `auth_data` takes.
fn connector(p: &pb::Provider, links: Option<ConnectorLinks>) -> Connector {
    let auth_fields = p
        .fields
        .iter()
        .map(|f| AuthField {
            name: f.name.clone(),
            description: f.description.clone(),
            required: f.required,
            secret: f.target == pb::FieldTarget::Secret as i32,
            kind: if f.format == pb::FieldFormat::JsonObject as i32 {
                "object"
            } else {
                "string"
            },
        })
        .collect();
    Connector {
        id: p.number,
        name: p.name.clone(),
        description: p.description.clone(),
        icon_url: p.icon_url.clone(),
        auth_type: p.auth_type.clone(),
        auth_fields,
        links,
    }
}

/// The connector of a user connector in the seed's shape (`id` a string), from its
/// connection's provider. A provider outside the catalog (a shared connection made on another
/// face) is connector `"0"`, a number the catalog never gives, named by its provider.
pub(super) fn summary(provider: &str, catalog: &[pb::Provider]) -> ConnectorSummary {
    match catalog.iter().find(|p| p.slug == provider) {
        Some(p) => ConnectorSummary {
            id: p.number.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            icon_url: p.icon_url.clone(),
            auth_type: p.auth_type.clone(),
        },
        None => ConnectorSummary {
            id: "0".into(),
            name: provider.to_owned(),
            description: String::new(),
            icon_url: String::new(),
            auth_type: "custom".into(),
        },
    }
}

/// GET /v0/connectors/: the catalog of connectors.
///
/// The same for every member. Sumvin's takes an access JWT only; this one a personal access
/// token too (a script needs it to find `connector_id`).
#[utoipa::path(
    get,
    path = "/v0/connectors/",
    tag = "Sumvin",
    operation_id = "listConnectors",
    responses(
        (status = 200, description = "The catalog.", body = ConnectorList),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list(c: SumvinCaller) -> Reply {
    let catalog = providers(&c.caller).await?;
    Ok(ok(ConnectorList {
        links: CatalogLinks {
            self_: Link::new("/v0/connectors/", "GET"),
            user_connectors: Link::new("/v0/user/connectors/", "GET"),
        },
        connectors: catalog
            .iter()
            .map(|p| connector(p, Some(links(p))))
            .collect(),
    }))
}

/// GET /v0/connectors: the catalog of connectors (`/v0/connectors/` without its slash).
#[utoipa::path(
    get,
    path = "/v0/connectors",
    tag = "Sumvin",
    operation_id = "listConnectorsWithoutSlash",
    responses(
        (status = 200, description = "The catalog.", body = ConnectorList),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
    ),
)]
async fn list_without_slash(c: SumvinCaller) -> Reply {
    list(c).await
}

/// GET /v0/connectors/{connector_id}: one connector of the catalog.
#[utoipa::path(
    get,
    path = "/v0/connectors/{connector_id}",
    tag = "Sumvin",
    operation_id = "getConnector",
    params(("connector_id" = i64, Path, description = "The catalog's id of the connector.")),
    responses(
        (status = 200, description = "The connector.", body = ConnectorAnswer),
        (status = 403, description = "The caller is outside their account's allowed IPs (`CON-403-001`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The catalog has no connector with this id (`CON-404-002`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`connector_id` is not an integer (`int_parsing`).", body = ValidationError),
    ),
)]
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
    Ok(ok(ConnectorAnswer {
        links: links(p),
        connector: connector(p, None),
    }))
}
