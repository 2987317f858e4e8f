//! The account face of seed 003 (the Swift SMS Gateway account API, `/api/v1/accounts…`):
//! accounts and sub-accounts in the `{"data": …, "type": …}` envelope, ids written as ULIDs,
//! times in microseconds. identity-svc's `Accounts` service does the work; docs/accounts.md
//! describes the face, its error shape and its paging.
//!
//! The envelopes are generic ([`Envelope`] in, [`One`] and [`List`] out); their schemas are
//! written here by hand, one per object kind, so that each names its `type`: the operations
//! refer to them through the aliases of `accounts.rs` (`AccountOne`, `AccountList`, ...).

mod accounts;

pub(crate) use accounts::fuzz::fuzz;

use std::borrow::Cow;

use axum::{http::StatusCode, response::Response};
use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        KnownFormat, RefOr, Schema, SchemaFormat,
        schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Ref, Type},
    },
};

use super::{AppState, error::Dialect};

/// The face's error shape, Phoenix's: `{"errors": {"detail": "…"}}`.
#[derive(Debug, Clone, Copy)]
pub enum Swift {}

impl Dialect for Swift {
    fn error_body(_: StatusCode, message: &str) -> Value {
        serde_json::to_value(ErrorBody {
            errors: ErrorDetail {
                detail: message.to_owned(),
            },
        })
        .expect("an error body serializes")
    }
}

/// Phoenix's error shape, every error of the face (the vendor's is not public).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftError)]
pub struct ErrorBody {
    errors: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftErrorDetail)]
struct ErrorDetail {
    /// What went wrong, safe to show.
    #[schema(example = "account not found")]
    detail: String,
}

/// An error answered in the face's shape.
type SwiftError = super::error::Error<Swift>;
/// What a handler answers.
type Reply = Result<Response, SwiftError>;

/// Every route of the face.
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    // Names, flags, networks and invitations: small bodies (AP-2).
    super::limits::small_bodies(accounts::router())
}

/// A request body: `{"data": {…}, "type": "<kind>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<T> {
    data: T,
    #[serde(rename = "type")]
    kind: String,
}

impl<T> Envelope<T> {
    /// The data, when the envelope names `kind`.
    fn of(self, kind: &str) -> Result<T, SwiftError> {
        if self.kind == kind {
            Ok(self.data)
        } else {
            Err(SwiftError::bad_request(format!("type must be \"{kind}\"")))
        }
    }
}

/// A request body's `data`: the `type` its envelope must name, and the envelope's schema name.
trait Typed: DeserializeOwned + ToSchema {
    const TYPE: &'static str;
    /// The component name of `{"data": <Self>, "type": TYPE}`.
    const ENVELOPE: &'static str;
}

/// An object the face answers: its `type` in the envelope, and the envelopes' schema names.
trait Kind: ToSchema {
    const TYPE: &'static str;
    /// The component name of `{"data": <Self>, "type": TYPE}`.
    const ONE: &'static str;
    /// The component name of a page of them in the list envelope.
    const LIST: &'static str;
}

/// `{"data": <T>, "type": "<T::TYPE>"}`: one object in the envelope.
#[derive(Debug, Serialize)]
struct One<T> {
    data: T,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl<T: Kind> One<T> {
    fn new(data: T) -> Self {
        Self {
            data,
            kind: T::TYPE,
        }
    }
}

/// `{"data": {"items": [<One<T>>…], "page_info": {…}}, "type": "list"}`: a page of objects.
#[derive(Debug, Serialize)]
struct List<T> {
    data: Page<T>,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The `data` of a [`List`].
#[derive(Debug, Serialize)]
struct Page<T> {
    items: Vec<One<T>>,
    page_info: PageInfo,
}

impl<T: Kind> List<T> {
    fn new(items: impl IntoIterator<Item = T>, page_info: PageInfo) -> Self {
        Self {
            data: Page {
                items: items.into_iter().map(One::new).collect(),
                page_info,
            },
            kind: "list",
        }
    }
}

/// Where a page stands in its listing.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SwiftPageInfo)]
struct PageInfo {
    /// The last item's id when a further page follows: pass it as `after` for that page.
    after: Option<Ulid>,
    /// The first item's id when a page precedes: pass it as `before` for that page.
    before: Option<Ulid>,
    /// The page size: the `limit` asked for (25 by default); for allowed IPs, which come in
    /// one page, their number.
    #[schema(example = 25)]
    limit: u64,
    /// How many objects the whole listing holds.
    total: u64,
}

/// A reference to the component `name`.
fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The schema of `{"data": <data>, "type": "<kind>"}`.
fn envelope_schema(data: RefOr<Schema>, kind: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some(description))
        .property("data", data)
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind])),
        )
        .required("data")
        .required("type")
}

impl<T: Typed> PartialSchema for Envelope<T> {
    fn schema() -> RefOr<Schema> {
        let description = format!("`{{\"data\": …, \"type\": \"{}\"}}`.", T::TYPE);
        envelope_schema(reference(&T::name()), T::TYPE, &description)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl<T: Typed> ToSchema for Envelope<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::ENVELOPE)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T: Kind> PartialSchema for One<T> {
    fn schema() -> RefOr<Schema> {
        let description = format!("One `{}` in the envelope.", T::TYPE);
        envelope_schema(reference(&T::name()), T::TYPE, &description).into()
    }
}

impl<T: Kind> ToSchema for One<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::ONE)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T: Kind> PartialSchema for List<T> {
    fn schema() -> RefOr<Schema> {
        let page = ObjectBuilder::new()
            .property("items", ArrayBuilder::new().items(reference(T::ONE)))
            .property("page_info", reference(&PageInfo::name()))
            .required("items")
            .required("page_info");
        let description = format!("A page of `{}` in the list envelope.", T::TYPE);
        envelope_schema(page.into(), "list", &description).into()
    }
}

impl<T: Kind> ToSchema for List<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::LIST)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::ONE.to_owned(), One::<T>::schema()));
        One::<T>::schemas(schemas);
        schemas.push((PageInfo::name().into_owned(), PageInfo::schema()));
        PageInfo::schemas(schemas);
    }
}

/// An id as the face writes it: a ULID, the same 128 bits as the uuid the other faces write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Ulid(String);

impl Ulid {
    /// The ULID of a service's uuid.
    fn of(uuid: &str) -> Self {
        Self(ulid(uuid))
    }
}

impl PartialSchema for Ulid {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[0-7][0-9A-HJKMNP-TV-Z]{25}$"))
            .description(Some(
                "A ULID (Crockford base32, upper case): the same 128 bits as the uuid the other \
                 faces write.",
            ))
            .examples(["01J0CRVTXX9KBD9NWS02R5R8RT"])
            .into()
    }
}

impl ToSchema for Ulid {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SwiftId")
    }
}

/// A time as the face writes it: ISO 8601 UTC with microseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Time(String);

impl PartialSchema for Time {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .pattern(Some(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"))
            .description(Some("ISO 8601 UTC with microseconds."))
            .examples(["2024-06-14T00:00:00.000000Z"])
            .into()
    }
}

impl ToSchema for Time {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SwiftTime")
    }
}

/// The ULID of a service's uuid (the same 128 bits).
fn ulid(uuid: &str) -> String {
    uuid::Uuid::parse_str(uuid)
        .map(|u| ulid::Ulid::from(u.as_u128()).to_string())
        .unwrap_or_default()
}

/// The uuid a ULID names, for the services; `None` when `id` is no ULID.
fn uuid_of(id: &str) -> Option<String> {
    let id = ulid::Ulid::from_string(id).ok()?;
    Some(uuid::Uuid::from_u128(id.0).to_string())
}

/// A time as the face writes it: ISO 8601 UTC with microseconds.
fn time(t: Option<&prost_types::Timestamp>) -> Option<Time> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map(|t| Time(t.to_rfc3339_opts(SecondsFormat::Micros, true)))
}

/// The components that the operations of the paths starting with `prefix` refer to, directly
/// or through other components: a face's tests hold them to the face's prefix, since component
/// names are global (two types of one name would silently overwrite each other).
#[cfg(test)]
pub(super) fn referenced_schemas(prefix: &str) -> std::collections::BTreeSet<String> {
    fn refs(v: &Value, into: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    into.extend(r.strip_prefix("#/components/schemas/").map(str::to_owned));
                }
                map.values().for_each(|v| refs(v, into));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, into)),
            _ => {}
        }
    }
    let doc = serde_json::to_value(super::openapi::document()).expect("the document is JSON");
    let mut todo = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if path.starts_with(prefix) {
            refs(item, &mut todo);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            let schema = &doc["components"]["schemas"][&name];
            assert!(!schema.is_null(), "{name} is referred to but not defined");
            refs(schema, &mut todo);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_face_refers_only_to_its_own_schemas() {
        let names = referenced_schemas("/api/v1/accounts");
        assert!(names.contains("SwiftAccountList"), "{names:?}");
        for name in names {
            assert!(name.starts_with("Swift"), "{name}");
        }
    }

    #[test]
    fn ids_round_trip_between_uuid_and_ulid() {
        let uuid = "0190b2f4-8c3a-7d2e-9f1a-2b3c4d5e6f70";
        let id = ulid(uuid);
        assert_eq!(id.len(), 26);
        assert_eq!(uuid_of(&id).as_deref(), Some(uuid));
        assert_eq!(uuid_of(&id.to_lowercase()).as_deref(), Some(uuid));
        assert_eq!(uuid_of("not-a-ulid"), None);
        assert_eq!(uuid_of(uuid), None);
    }

    #[test]
    fn times_have_microseconds_and_zulu() {
        let t = prost_types::Timestamp {
            seconds: 1_718_323_200,
            nanos: 123_456_789,
        };
        let written = serde_json::to_value(time(Some(&t))).unwrap();
        assert_eq!(written, json!("2024-06-14T00:00:00.123456Z"));
        assert_eq!(serde_json::to_value(time(None)).unwrap(), Value::Null);
    }

    #[test]
    fn errors_answer_in_the_phoenix_shape() {
        let body = Swift::error_body(StatusCode::NOT_FOUND, "account not found");
        assert_eq!(body, json!({"errors": {"detail": "account not found"}}));
    }
}
