//! The face's JSON shapes, for the OpenAPI document (issue #19) and for the answers.
//!
//! The answers ([`Account`], [`Found`], [`Done`] and the error [`ErrorBody`]) are what the
//! handlers serialize. The request shapes ([`Request`] and what it holds) are schemas only:
//! the handlers take a body apart by hand, never with a deserializer, so that no error can
//! quote the `token` (a secret) or the caller's credential back (CR-7); these types say what
//! that reading accepts.

#![allow(dead_code)] // the request shapes are schemas only (see above)

use std::{borrow::Cow, collections::BTreeMap};

use serde::Serialize;
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};

/// The face's error: `{"message": "…"}`, with `validation: {field: [messages]}` when a field
/// is at fault (Luzmo's Python client appends it to its error).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LuzmoError)]
pub struct ErrorBody {
    pub(super) message: String,
    /// The field at fault and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) validation: Option<BTreeMap<String, Vec<String>>>,
}

/// An account (a data connection) as Luzmo answers it. Fields this platform has no
/// counterpart for answer as a new Luzmo account has them: `synced` false; `version`,
/// `properties`, `plugin_id` and `shareable_id` null. The `token` is never answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LuzmoAccount)]
pub(super) struct Account {
    #[schema(format = Uuid)]
    pub id: String,
    /// A provider slug (`postgresql`, `googledrive`, …).
    pub provider: String,
    /// When the connection was linked (ISO 8601 UTC with milliseconds).
    #[schema(required, format = DateTime)]
    pub date: Option<String>,
    /// A key or user name.
    pub identifier: String,
    #[schema(required, format = DateTime)]
    pub expiry: Option<String>,
    pub scope: String,
    pub host: String,
    pub name: String,
    /// Language code → text.
    pub description: BTreeMap<String, String>,
    /// Always a string.
    pub port: String,
    pub active: bool,
    /// Set when the source refused a connection test; read-only.
    pub invalid: bool,
    /// Seconds.
    pub cache: i64,
    /// Always false here.
    pub synced: bool,
    /// Always null here.
    #[schema(required)]
    pub version: Option<String>,
    /// Always null here.
    #[schema(required, value_type = Option<Object>)]
    pub properties: Option<Value>,
    /// Hours.
    pub datasets_meta_sync_interval: i64,
    pub datasets_meta_sync_enabled: bool,
    #[schema(required, format = DateTime)]
    pub created_at: Option<String>,
    #[schema(required, format = DateTime)]
    pub updated_at: Option<String>,
    /// The owner's uuid.
    #[schema(format = Uuid)]
    pub user_id: String,
    /// Always null here.
    #[schema(required)]
    pub plugin_id: Option<String>,
    /// Always null here.
    #[schema(required)]
    pub shareable_id: Option<String>,
}

/// A row of `get`: an account with only the fields `find.attributes` names (all of them
/// when it names none), so no field is required.
pub(super) struct AccountRow;

impl PartialSchema for AccountRow {
    fn schema() -> RefOr<Schema> {
        let mut schema = Account::schema();
        if let RefOr::T(Schema::Object(o)) = &mut schema {
            o.required.clear();
            o.description = Some(
                "An account with only the fields `find.attributes` names (every field when it \
                 names none)."
                    .into(),
            );
        }
        schema
    }
}

impl ToSchema for AccountRow {
    fn name() -> Cow<'static, str> {
        "LuzmoAccountRow".into()
    }
}

/// The answer of `get`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LuzmoFound)]
pub(super) struct Found {
    /// How many accounts the caller may read `find.where` keeps (before `offset` and `limit`).
    pub count: usize,
    /// Those accounts, ordered, offset and limited.
    #[schema(value_type = Vec<AccountRow>)]
    pub rows: Vec<Value>,
}

/// `{}`: the answer of `delete`, `associate` and `dissociate`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoDone)]
pub(super) struct Done {}

/// What an action answers: the account (create, update), `{count, rows}` (get) or `{}`
/// (delete, associate, dissociate).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = LuzmoAnswer)]
pub(super) enum Answer {
    Account(Box<Account>),
    Found(Found),
    Done(Done),
}

/// A request: the operation is its `action`, whatever the HTTP method.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(
    as = LuzmoRequest,
    discriminator(property_name = "action", mapping(
        ("create" = "#/components/schemas/LuzmoCreate"),
        ("get" = "#/components/schemas/LuzmoGet"),
        ("update" = "#/components/schemas/LuzmoUpdate"),
        ("delete" = "#/components/schemas/LuzmoDelete"),
        ("associate" = "#/components/schemas/LuzmoAssociate"),
        ("dissociate" = "#/components/schemas/LuzmoAssociate"),
    )),
)]
pub(super) enum Request {
    Create(Create),
    Get(Get),
    Update(Update),
    Delete(Delete),
    Associate(Associate),
}

/// `action`: `create`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LuzmoCreateAction)]
enum CreateAction {
    Create,
}

/// `action`: `get`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LuzmoGetAction)]
enum GetAction {
    Get,
}

/// `action`: `update`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LuzmoUpdateAction)]
enum UpdateAction {
    Update,
}

/// `action`: `delete`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LuzmoDeleteAction)]
enum DeleteAction {
    Delete,
}

/// `action`: `associate` (share) or `dissociate` (take the share back).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LuzmoAssociateAction)]
enum AssociateAction {
    Associate,
    Dissociate,
}

/// `version`: `0.1.0` when present.
#[derive(ToSchema)]
#[schema(as = LuzmoVersion)]
enum Version {
    #[serde(rename = "0.1.0")]
    V010,
}

/// `create`: a restricted connection of the caller's organization, which they own. Answers
/// the account.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoCreate)]
pub(super) struct Create {
    /// The uuid of the caller's personal access token.
    #[schema(format = Uuid)]
    key: String,
    /// That token's secret (`ldpat_…`).
    token: String,
    version: Option<Version>,
    action: CreateAction,
    /// `name` and `provider` are required.
    properties: Properties,
    /// Empty only (Luzmo's Python client sends `{}`): associate afterwards.
    #[schema(value_type = Option<Object>)]
    associations: Option<Value>,
}

/// `get`: `{count, rows}` of the accounts the caller may read that `find` keeps.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoGet)]
pub(super) struct Get {
    #[schema(format = Uuid)]
    key: String,
    token: String,
    version: Option<Version>,
    action: GetAction,
    find: Option<Find>,
}

/// `update`: the owner's or an organization admin's. Answers the account.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoUpdate)]
pub(super) struct Update {
    #[schema(format = Uuid)]
    key: String,
    token: String,
    version: Option<Version>,
    action: UpdateAction,
    /// The account (one that is not a uuid is not found: 404).
    id: String,
    /// What changes; none: nothing.
    properties: Option<Properties>,
}

/// `delete`: the owner's or an organization admin's. Answers `{}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoDelete)]
pub(super) struct Delete {
    #[schema(format = Uuid)]
    key: String,
    token: String,
    version: Option<Version>,
    action: DeleteAction,
    id: String,
    /// Empty only (Luzmo's Python client sends `{}`).
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
}

/// `associate` / `dissociate`: shares the account with a member of the organization, or
/// takes the share back (the owner or an admin). Answers `{}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoAssociate)]
pub(super) struct Associate {
    #[schema(format = Uuid)]
    key: String,
    token: String,
    version: Option<Version>,
    action: AssociateAction,
    id: String,
    resource: Resource,
    /// Empty only: an association with a User takes no properties.
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
}

/// The member an account is associated with.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoResource)]
struct Resource {
    role: Role,
    /// The member's user uuid.
    #[schema(format = Uuid)]
    id: String,
}

/// An account is associated with users only.
#[derive(ToSchema)]
#[schema(as = LuzmoRole)]
enum Role {
    User,
    Users,
}

/// An account's properties (seed 000's table). Texts are trimmed; a new host, port,
/// identifier or provider needs `token` again.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoProperties)]
struct Properties {
    name: Option<String>,
    /// A slug: `postgresql`, `googledrive`, …
    provider: Option<String>,
    /// Language code → text.
    description: Option<BTreeMap<String, String>>,
    host: Option<String>,
    /// A string, or a whole number.
    #[schema(value_type = Option<Port>)]
    port: Option<Value>,
    identifier: Option<String>,
    scope: Option<String>,
    date: Option<chrono::DateTime<chrono::Utc>>,
    /// null clears it.
    expiry: Option<chrono::DateTime<chrono::Utc>>,
    active: Option<bool>,
    /// Seconds, 0 to a year.
    cache: Option<i64>,
    datasets_meta_sync_enabled: Option<bool>,
    /// Hours, 1 to a year.
    datasets_meta_sync_interval: Option<i64>,
    /// The connection's secret (its password): write-only, never answered.
    #[schema(write_only)]
    token: Option<String>,
    /// Update only: an OAuth2 authorization code, exchanged for tokens.
    code: Option<String>,
}

/// A port: a string, or a whole number.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(as = LuzmoPort)]
enum Port {
    Text(String),
    Number(u64),
}

/// The query of `get` (Sequelize's `findAll`, docs/luzmo.md).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LuzmoFind)]
struct Find {
    /// `{field: value}` (equality), `{field: {op: operand}}` with `eq`, `ne`, `in`, `notIn`,
    /// `like`, `notLike`, `gt`, `gte`, `lt`, `lte`, and `and` / `or` arrays of where objects
    /// (at most 8 deep).
    #[serde(rename = "where")]
    #[schema(value_type = Option<Object>)]
    where_: Option<Value>,
    /// The fields answered; all when absent.
    attributes: Option<Vec<String>>,
    /// `[[field, "asc" or "desc"], …]`.
    order: Option<Vec<Vec<String>>>,
    /// At most 10,000.
    limit: Option<u64>,
    offset: Option<u64>,
    /// Empty only.
    #[schema(value_type = Option<Vec<Object>>)]
    include: Option<Vec<Value>>,
    /// Empty only.
    #[schema(value_type = Option<Object>)]
    search: Option<Value>,
}
