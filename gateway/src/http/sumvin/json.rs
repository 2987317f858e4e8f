//! The face's JSON shapes, for the OpenAPI document (issue #19) and for the answers: what the
//! handlers serialize. The request shapes ([`Connect`], [`Change`]) are schemas only: the
//! handlers read a body field by field (`input.rs`) into FastAPI's 422, every failure at once
//! and no message quoting a value (it may be a secret), which a deserializer would not do.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{KnownFormat, ObjectBuilder, OneOfBuilder, RefOr, Schema, SchemaFormat, Type},
};

/// A HAL link.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SumvinLink)]
pub(super) struct Link {
    pub href: String,
    /// The HTTP method to follow it with.
    pub method: &'static str,
}

impl Link {
    pub(super) fn new(href: impl Into<String>, method: &'static str) -> Self {
        Self {
            href: href.into(),
            method,
        }
    }
}

/// The catalog's links.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinCatalogLinks)]
pub(super) struct CatalogLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub user_connectors: Link,
}

/// A connector's links: read it, connect it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinConnectorLinks)]
pub(super) struct ConnectorLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub connect: Link,
}

/// The links of the caller's connectors.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinUserConnectorsLinks)]
pub(super) struct UserConnectorsLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub connect: Link,
    pub connectors: Link,
}

/// What the owner may do with their connector.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinUserConnectorLinks)]
pub(super) struct UserConnectorLinks {
    #[serde(rename = "self")]
    pub self_: Link,
    pub update: Link,
    pub delete: Link,
}

/// The links left after a disconnect.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinDisconnectedLinks)]
pub(super) struct DisconnectedLinks {
    pub user_connectors: Link,
    pub connect: Link,
}

/// A link to itself.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinSelfLinks)]
pub(super) struct SelfLinks {
    #[serde(rename = "self")]
    pub self_: Link,
}

/// A field of a connector's `auth_data`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinAuthField)]
pub(super) struct AuthField {
    pub name: String,
    pub description: String,
    /// Required on connect.
    pub required: bool,
    /// Sealed and write-only (every field but the user name).
    pub secret: bool,
    /// `string`, or `object` (BigQuery's key file).
    #[serde(rename = "type")]
    #[schema(value_type = AuthFieldType)]
    pub kind: &'static str,
}

/// The type of an `auth_data` field.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = SumvinAuthFieldType)]
#[allow(dead_code)] // a schema only: `AuthField::kind` writes it
pub(super) enum AuthFieldType {
    String,
    Object,
}

/// A connector of the catalog: connections-svc's providers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinConnector)]
pub(super) struct Connector {
    /// Fixed for good: what `connector_id` takes.
    pub id: u32,
    pub name: String,
    pub description: String,
    /// Empty: the platform hosts no icons.
    pub icon_url: String,
    pub auth_type: String,
    pub auth_fields: Vec<AuthField>,
    /// In the catalog's list only (one connector has them beside it).
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<ConnectorLinks>,
}

/// `GET /v0/connectors/`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinConnectorList)]
pub(super) struct ConnectorList {
    #[serde(rename = "_links")]
    pub links: CatalogLinks,
    pub connectors: Vec<Connector>,
}

/// `GET /v0/connectors/{connector_id}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinConnectorAnswer)]
pub(super) struct ConnectorAnswer {
    #[serde(rename = "_links")]
    pub links: ConnectorLinks,
    pub connector: Connector,
}

/// The connector of a user connector. A provider outside the catalog (a shared connection
/// made on another face) is `"0"`, named by its provider, `auth_type` `custom`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinConnectorSummary)]
pub(super) struct ConnectorSummary {
    /// The catalog's id as a string, as Sumvin documents it.
    pub id: String,
    pub name: String,
    pub description: String,
    pub icon_url: String,
    pub auth_type: String,
}

/// A time: epoch milliseconds, or with `X-Timestamp-Format: iso8601` ISO 8601 UTC to the
/// second (`YYYY-MM-DDTHH:MM:SSZ`).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(super) struct Time(pub Value);

impl PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .description(Some("Epoch milliseconds (the default).")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                    .description(Some("ISO 8601 UTC, with `X-Timestamp-Format: iso8601`.")),
            )
            .description(Some(
                "Epoch milliseconds, or ISO 8601 with `X-Timestamp-Format: iso8601`.",
            ))
            .into()
    }
}

impl ToSchema for Time {
    fn name() -> Cow<'static, str> {
        "SumvinTime".into()
    }
}

/// A connection the caller owns, as a user connector (no credential, not even the user name).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinUserConnector)]
pub(super) struct UserConnector {
    /// The connection's uuid.
    #[schema(format = Uuid)]
    pub id: String,
    pub connector: ConnectorSummary,
    pub is_active: bool,
    pub created_at: Time,
    pub updated_at: Time,
    /// In the list only (one user connector has them beside it).
    #[serde(rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<UserConnectorLinks>,
}

/// `GET /v0/user/connectors/`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinUserConnectorList)]
pub(super) struct UserConnectorList {
    #[serde(rename = "_links")]
    pub links: UserConnectorsLinks,
    pub user_connectors: Vec<UserConnector>,
}

/// One user connector.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinUserConnectorAnswer)]
pub(super) struct UserConnectorAnswer {
    #[serde(rename = "_links")]
    pub links: UserConnectorLinks,
    pub user_connector: UserConnector,
}

/// A disconnect's answer: the links that remain.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinDisconnected)]
pub(super) struct Disconnected {
    #[serde(rename = "_links")]
    pub links: DisconnectedLinks,
}

/// What an error code means.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SumvinErrorCode)]
pub(super) struct ErrorCode {
    #[serde(rename = "_links")]
    pub links: SelfLinks,
    #[schema(example = "CON-404-001")]
    pub error_code: &'static str,
    pub status: u16,
    pub title: &'static str,
    pub description: &'static str,
}

/// `X-Timestamp-Format`, read by every answer with times.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // a parameter only: the `Times` extractor reads it
pub(super) struct TimeFormat {
    /// `iso8601` (any case): times as ISO 8601 UTC to the second; anything else, or none:
    /// epoch milliseconds (never an error).
    #[param(rename = "X-Timestamp-Format", example = "iso8601")]
    x_timestamp_format: Option<String>,
}

/// `POST /v0/user/connectors/`: connect a connector of the catalog.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SumvinConnect)]
#[allow(dead_code)] // a schema only (see the module's documentation)
pub(super) struct Connect {
    /// The catalog's id (`GET /v0/connectors/`).
    connector_id: u32,
    /// The connector's `auth_fields`, by name: texts, or an object of texts for an `object`
    /// field. Never answered.
    #[schema(value_type = Object)]
    auth_data: Map<String, Value>,
}

/// `PATCH /v0/user/connectors/{user_connector_id}`: what the body omits, or sends as null, is
/// kept.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SumvinChange)]
#[allow(dead_code)] // a schema only (see the module's documentation)
pub(super) struct Change {
    is_active: Option<bool>,
    /// The `auth_fields` to change (the others are kept); a new `user` needs its password
    /// again. Never answered.
    #[schema(value_type = Option<Object>)]
    auth_data: Option<Map<String, Value>>,
}
