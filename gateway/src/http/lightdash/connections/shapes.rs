//! The JSON shapes of `/api/v1/connections`: the connection answered, the request bodies
//! (schemas only: the handlers read bodies by hand to take the secrets out, CR-7) and a test's
//! outcome. Their schemas carry everything the hand-kept document of these routes used to say
//! (issue #19).

use std::collections::BTreeMap;

use proto::connections::v1 as pb;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ArrayBuilder, ObjectBuilder, OneOfBuilder, RefOr, Schema, Type, schema::SchemaType},
};

use super::super::json as shapes_json;

/// A connection (Luzmo's account): what is needed to reach a plugin (e.g. Google Drive, your
/// own plugin) or a database. Shared connections belong to an organization. No secret value is
/// ever part of it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = connection_example)]
pub(super) struct Connection {
    /// The unique identifier of the connection.
    #[schema(format = Uuid, example = "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b")]
    connection_uuid: String,
    /// Ours: the organization that shares the connection.
    #[schema(format = Uuid, example = "5d0c2a64-7b1e-4f3a-9c8d-2e1f0a9b8c7d")]
    organization_uuid: String,
    /// Ours: the user who created the connection (its owner).
    #[schema(format = Uuid, example = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")]
    owner_user_uuid: String,
    /// Type of data provider the connection reaches: the slug of a plugin (e.g.
    /// `googleanalytics`, `googledrive`, `salesforce`, `mailchimp`, your own plugin's slug) or
    /// of a database such as `postgresql`. Slugs are unique short names of plugins and data
    /// providers. Stored lower-cased: 1 to 64 letters, digits, `-` or `_`.
    #[schema(pattern = "^[a-z0-9_-]{1,64}$", example = "postgresql")]
    provider: String,
    /// Name of this connection: 1 to 255 characters (surrounding spaces trimmed), no control
    /// characters.
    #[schema(min_length = 1, max_length = 255, example = "Demo database connection")]
    name: String,
    /// Internationalized description of the connection: language code (BCP 47 in its simple
    /// forms: `en`, `fr`, `pt-BR`, `zh-Hant`) to text. At most 50 languages; each text at most
    /// 2000 characters, no control characters.
    #[schema(schema_with = description_schema)]
    description: BTreeMap<String, String>,
    /// Endpoint of this connection. For relational database connections, the hostname of the
    /// database. At most 255 characters; empty when unset.
    #[schema(max_length = 255, example = "new.exampledb.com")]
    host: String,
    /// Port of this connection, as a string. For relational database connections, the port of
    /// the database (1 to 65535); empty when unset (a test then uses the engine's default
    /// port).
    #[schema(pattern = "^([1-9][0-9]{0,4})?$", example = "5432")]
    port: String,
    /// Key or username of this connection (for a database, the user it logs in as). At most
    /// 255 characters; empty when unset.
    #[schema(max_length = 255, example = "demo-user")]
    identifier: String,
    /// Provider-specific description of the services used (e.g. which accesses were granted,
    /// which database is used). At most 1000 characters; an OAuth2 exchange replaces it with
    /// the granted scope.
    #[schema(max_length = 1000, example = "demo")]
    scope: String,
    /// Expiry date of the credentials (set by an OAuth2 exchange or by the caller); null when
    /// they do not expire.
    #[schema(required, format = DateTime)]
    expiry: Option<String>,
    /// Whether queries may be sent to this database or plugin connection. Use it to disable a
    /// connection temporarily, e.g. when your systems are under elevated stress. Defaults to
    /// true.
    #[schema(example = true)]
    active: bool,
    /// Read-only. Whether this connection has been disabled because the source system reported
    /// that its credentials are invalid: a connection test that fails authentication sets it,
    /// one that connects (or a successful OAuth2 exchange) clears it. A request body that
    /// carries it is refused with 400.
    #[schema(read_only, example = false)]
    invalid: bool,
    /// Number of seconds queries to this connection are cached; 0 (the default) disables
    /// caching for it entirely. At most 31536000 (a year).
    #[schema(minimum = 0, maximum = 31536000, example = 0)]
    cache: i64,
    /// Whether automatic metadata sync is enabled for all the connection's datasets that
    /// inherit it (`meta_sync_inherit=true`). Defaults to true.
    #[schema(example = true)]
    datasets_meta_sync_enabled: bool,
    /// Metadata sync interval in hours for the connection's datasets that inherit it
    /// (`meta_sync_inherit=true`): 1 (the default) to 8760 (a year).
    #[schema(minimum = 1, maximum = 8760, example = 1)]
    datasets_meta_sync_interval: i64,
    /// Date and time the connection was linked by the user. Defaults to the time of creation.
    #[schema(required, format = DateTime, example = "2024-01-13T13:42:05.736Z")]
    date: Option<String>,
    /// Ours: non-secret, provider-specific settings (e.g. `database`/`dbname`, `schema`,
    /// `sslmode`, `warehouse`, `account`). At most 50 entries; names are 1 to 64 letters,
    /// digits or `_` and must not look like a secret (containing `password`, `secret`,
    /// `token`, `key`, `credential` or `cert`: send those among `secrets`); values at most 1000
    /// characters, no control characters.
    #[schema(schema_with = options_schema)]
    options: BTreeMap<String, String>,
    /// Ours: the names of the secrets stored for this connection (their values are never
    /// returned).
    #[schema(schema_with = secret_fields_schema)]
    secret_fields: Vec<String>,
    /// Ours: when the connection was created.
    #[schema(value_type = String, format = DateTime, example = "2024-01-13T13:42:05.738Z")]
    created_at: Option<String>,
    /// Ours: when the connection last changed (an update, an OAuth2 token refresh).
    #[schema(value_type = String, format = DateTime, example = "2024-01-13T18:56:16.739Z")]
    updated_at: Option<String>,
    /// Ours: when the connection was last tested (an untestable provider does not count);
    /// null when never.
    #[schema(required, format = DateTime)]
    last_tested_at: Option<String>,
}

/// The example of [`Connection`].
pub(super) fn connection_example() -> Value {
    json!({
        "connectionUuid": "0b6f7a8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "organizationUuid": "5d0c2a64-7b1e-4f3a-9c8d-2e1f0a9b8c7d",
        "ownerUserUuid": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "provider": "postgresql",
        "name": "Demo database connection",
        "description": {"en": "New connection description"},
        "host": "new.exampledb.com",
        "port": "5432",
        "identifier": "demo-user",
        "scope": "demo",
        "expiry": null,
        "active": true,
        "invalid": false,
        "cache": 0,
        "datasetsMetaSyncEnabled": true,
        "datasetsMetaSyncInterval": 1,
        "date": "2024-01-13T13:42:05.736Z",
        "options": {"database": "analytics"},
        "secretFields": ["password"],
        "createdAt": "2024-01-13T13:42:05.738Z",
        "updatedAt": "2024-01-13T18:56:16.739Z",
        "lastTestedAt": null
    })
}

/// The example of an answer with a connection.
pub(super) fn ok_connection_example() -> Value {
    json!({"status": "ok", "results": connection_example()})
}

/// The example of a listing.
pub(super) fn ok_connections_example() -> Value {
    json!({"status": "ok", "results": [connection_example()]})
}

/// The example of a test's outcome.
pub(super) fn ok_test_example() -> Value {
    let mut connection = connection_example();
    connection["lastTestedAt"] = json!("2024-01-14T09:00:00.000Z");
    json!({
        "status": "ok",
        "results": {"result": "connected", "message": "connected", "connection": connection},
    })
}

/// The example of a 404.
pub(super) fn not_found_example() -> Value {
    json!({
        "status": "error",
        "error": {"statusCode": 404, "name": "NotFoundError", "message": "Connection not found"},
    })
}

/// An object of strings: at most `max_properties` entries, each at most `max_length`.
fn string_map(
    description: &str,
    max_properties: usize,
    max_length: usize,
    example: Value,
) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max_length)),
        ))
        .max_properties(Some(max_properties))
        .examples([example])
        .into()
}

fn description_schema() -> Schema {
    string_map(
        "Internationalized description of the connection: language code (BCP 47 in its simple \
         forms: `en`, `fr`, `pt-BR`, `zh-Hant`) to text. At most 50 languages; each text at \
         most 2000 characters, no control characters.",
        50,
        2000,
        json!({"en": "New connection description", "fr": "Nouvelle description"}),
    )
}

fn options_schema() -> Schema {
    string_map(
        "Ours: non-secret, provider-specific settings (e.g. `database`/`dbname`, `schema`, \
         `sslmode`, `warehouse`, `account`). At most 50 entries; names are 1 to 64 letters, \
         digits or `_` and must not look like a secret (containing `password`, `secret`, \
         `token`, `key`, `credential` or `cert`: send those among `secrets`); values at most \
         1000 characters, no control characters.",
        50,
        1000,
        json!({"database": "analytics", "sslmode": "require"}),
    )
}

/// The secrets a connection may store.
const SECRET_FIELDS: [&str; 9] = [
    "access_token",
    "client_secret",
    "keyfile_contents",
    "password",
    "personal_access_token",
    "private_key",
    "private_key_pass",
    "refresh_token",
    "token",
];

fn secret_fields_schema() -> Schema {
    ArrayBuilder::new()
        .description(Some(
            "Ours: the names of the secrets stored for this connection (their values are never \
             returned).",
        ))
        .unique_items(true)
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(SECRET_FIELDS)),
        )
        .examples([json!(["password"])])
        .into()
}

fn port_schema() -> Schema {
    OneOfBuilder::new()
        .description(Some(
            "Port of this connection: a string (as the seed sends it) or a number, 1 to 65535; \
             an empty string unsets it. For relational database connections, the port of the \
             database.",
        ))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*[0-9]*\s*$"))
                .max_length(Some(16)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(65535)),
        )
        .examples([json!("5432")])
        .into()
}

/// A connection in its JSON shape.
pub(super) fn connection(c: &pb::Connection) -> Connection {
    Connection {
        connection_uuid: c.connection_uuid.clone(),
        organization_uuid: c.organization_uuid.clone(),
        owner_user_uuid: c.owner_user_uuid.clone(),
        provider: c.provider.clone(),
        name: c.name.clone(),
        description: c.description.clone().into_iter().collect(),
        host: c.host.clone(),
        port: c.port.clone(),
        identifier: c.identifier.clone(),
        scope: c.scope.clone(),
        expiry: shapes_json::some_time(c.expiry.as_ref()),
        active: c.active,
        invalid: c.invalid,
        cache: c.cache,
        datasets_meta_sync_enabled: c.datasets_meta_sync_enabled,
        datasets_meta_sync_interval: c.datasets_meta_sync_interval,
        date: shapes_json::some_time(c.date.as_ref()),
        options: c.options.clone().into_iter().collect(),
        secret_fields: c.secret_fields.clone(),
        created_at: shapes_json::some_time(c.created_at.as_ref()),
        updated_at: shapes_json::some_time(c.updated_at.as_ref()),
        last_tested_at: shapes_json::some_time(c.last_tested_at.as_ref()),
    }
}

/// The fields of a connection's request body but the secrets and `code`, in the order of
/// [`Connection`]: `$required` are the fields a create requires. A macro so that create and
/// update document them alike.
macro_rules! connection_input {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        #[derive(ToSchema)]
        $(#[$meta])*
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[allow(dead_code)] // a schema only: the handler reads the body by hand (CR-7)
        pub(super) struct $name {
            $($extra)*
            /// Internationalized description of the connection: language code (BCP 47 in its
            /// simple forms: `en`, `fr`, `pt-BR`, `zh-Hant`) to text. At most 50 languages;
            /// each text at most 2000 characters, no control characters.
            #[serde(default)]
            #[schema(schema_with = description_schema)]
            description: BTreeMap<String, String>,
            /// Endpoint of this connection. For relational database connections, the hostname
            /// of the database. At most 255 characters; empty when unset.
            #[serde(default)]
            #[schema(max_length = 255, example = "new.exampledb.com")]
            host: String,
            /// Port of this connection: a string (as the seed sends it) or a number, 1 to
            /// 65535; an empty string unsets it.
            #[serde(default)]
            #[schema(schema_with = port_schema)]
            port: String,
            /// Key or username of this connection (for a database, the user it logs in as). At
            /// most 255 characters; empty when unset.
            #[serde(default)]
            #[schema(max_length = 255, example = "demo-user")]
            identifier: String,
            /// Provider-specific description of the services used (e.g. which accesses were
            /// granted, which database is used). At most 1000 characters; an OAuth2 exchange
            /// replaces it with the granted scope.
            #[serde(default)]
            #[schema(max_length = 1000, example = "demo")]
            scope: String,
            /// Expiry date of the credentials, RFC 3339. `null` clears it (on create: no
            /// expiry).
            #[schema(format = DateTime, example = "2027-01-01T00:00:00Z")]
            expiry: Option<String>,
            /// Whether queries may be sent to this database or plugin connection. Use it to
            /// disable a connection temporarily, e.g. when your systems are under elevated
            /// stress. Defaults to true.
            #[serde(default)]
            #[schema(example = true)]
            active: bool,
            /// Number of seconds queries to this connection are cached; 0 (the default)
            /// disables caching for it entirely. At most 31536000 (a year).
            #[serde(default)]
            #[schema(minimum = 0, maximum = 31536000, example = 0)]
            cache: i64,
            /// Whether automatic metadata sync is enabled for all the connection's datasets
            /// that inherit it (`meta_sync_inherit=true`). Defaults to true.
            #[serde(default)]
            #[schema(example = true)]
            datasets_meta_sync_enabled: bool,
            /// Metadata sync interval in hours for the connection's datasets that inherit it
            /// (`meta_sync_inherit=true`): 1 (the default) to 8760 (a year).
            #[serde(default)]
            #[schema(minimum = 1, maximum = 8760, example = 1)]
            datasets_meta_sync_interval: i64,
            /// The seed's name of `datasetsMetaSyncEnabled`, accepted as an alias (send one of
            /// the two).
            #[serde(default, rename = "datasets_meta_sync_enabled")]
            #[schema(deprecated, example = true)]
            seed_datasets_meta_sync_enabled: bool,
            /// The seed's name of `datasetsMetaSyncInterval`, accepted as an alias (send one of
            /// the two).
            #[serde(default, rename = "datasets_meta_sync_interval")]
            #[schema(deprecated, minimum = 1, maximum = 8760, example = 1)]
            seed_datasets_meta_sync_interval: i64,
            /// Date and time the connection was linked by the user, RFC 3339. Defaults to the
            /// time of creation; null is the same as omitting it.
            #[serde(default)]
            #[schema(format = DateTime, example = "2024-01-13T13:42:05.736Z")]
            date: String,
            /// Ours: non-secret, provider-specific settings (e.g. `database`/`dbname`,
            /// `schema`, `sslmode`, `warehouse`, `account`). At most 50 entries; names are 1 to
            /// 64 letters, digits or `_` and must not look like a secret (containing
            /// `password`, `secret`, `token`, `key`, `credential` or `cert`: send those among
            /// `secrets`); values at most 1000 characters, no control characters.
            #[serde(default)]
            #[schema(schema_with = options_schema)]
            options: BTreeMap<String, String>,
            /// Ours, write-only: the credentials (see `ConnectionSecrets`).
            #[schema(schema_with = secrets_schema)]
            secrets: Option<ConnectionSecrets>,
        }
    };
}

connection_input! {
    /// A new shared connection. `provider` and `name` are required; the other fields default
    /// (empty strings and maps, `active` and `datasetsMetaSyncEnabled` true, `cache` 0,
    /// `datasetsMetaSyncInterval` 1, `date` now, no expiry). Unknown fields are refused (400),
    /// and so are the read-only `invalid` and the update-only `code`. null for a field other
    /// than `expiry` is the same as omitting it.
    #[schema(example = json!({
        "provider": "postgresql",
        "name": "Demo database connection",
        "description": {"en": "New connection description"},
        "host": "new.exampledb.com",
        "port": "5432",
        "identifier": "demo-user",
        "scope": "demo",
        "options": {"database": "analytics"},
        "secrets": {"password": "s3cr3t-example"}
    }))]
    CreateConnection {
        /// Type of data provider the connection reaches: the slug of a plugin (e.g.
        /// `googleanalytics`, `googledrive`, `salesforce`, `mailchimp`, your own plugin's slug)
        /// or of a database such as `postgresql`. Stored lower-cased: 1 to 64 letters, digits,
        /// `-` or `_`. Sent in any case; surrounding spaces are trimmed.
        #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,64}\s*$", example = "postgresql")]
        provider: String,
        /// Name of this connection: 1 to 255 characters (surrounding spaces trimmed), no
        /// control characters.
        #[schema(min_length = 1, max_length = 255, example = "Demo database connection")]
        name: String,
    }
}

connection_input! {
    /// Changes to a connection: omitted fields are kept (secrets too). `expiry: null` clears
    /// the expiry; null for another field is the same as omitting it. Unknown fields and the
    /// read-only `invalid` are refused (400).
    #[schema(example = json!({"name": "Renamed connection", "expiry": null, "cache": 3600}))]
    UpdateConnection {
        /// Type of data provider the connection reaches: the slug of a plugin (e.g.
        /// `googleanalytics`, `googledrive`, `salesforce`, `mailchimp`, your own plugin's slug)
        /// or of a database such as `postgresql`. Stored lower-cased: 1 to 64 letters, digits,
        /// `-` or `_`. Sent in any case; surrounding spaces are trimmed.
        #[serde(default)]
        #[schema(pattern = r"^\s*[A-Za-z0-9_-]{1,64}\s*$", example = "postgresql")]
        provider: String,
        /// Name of this connection: 1 to 255 characters (surrounding spaces trimmed), no
        /// control characters.
        #[serde(default)]
        #[schema(min_length = 1, max_length = 255, example = "Demo database connection")]
        name: String,
        /// Update-only: an OAuth2 authorization code, exchanged at the provider (which must
        /// have an OAuth2 configuration) for an access token and a refresh token, stored as
        /// secrets; `expiry` and `scope` follow the grant and `invalid` is cleared. Nothing
        /// changes when the exchange fails. 1 to 2048 characters; write-only. Refused with 400
        /// on create; null is the same as omitting it.
        #[schema(write_only, min_length = 1, max_length = 2048, example = "4/0AX4XfWh-example")]
        code: Option<String>,
    }
}

/// The `secrets` of a request body: [`ConnectionSecrets`], write-only, or null.
fn secrets_schema() -> Schema {
    let mut schema = match ConnectionSecrets::schema() {
        RefOr::T(Schema::Object(o)) => o,
        _ => unreachable!("ConnectionSecrets is an object"),
    };
    schema.write_only = Some(true);
    schema.schema_type = SchemaType::from_iter([Type::Object, Type::Null]);
    schema.description = Some(
        "Ours, write-only: the credentials, sealed at rest and never returned (responses name \
         the stored fields in `secretFields`, never their values). Allowed fields: `password`, \
         `keyfile_contents`, `personal_access_token`, `private_key`, `private_key_pass`, \
         `client_secret`, `token`, each a string, not empty, at most 64 KiB (65536 bytes of \
         UTF-8). `access_token` and `refresh_token` come only from an OAuth2 exchange (`code`) \
         and are refused here. On update, fields sent replace the stored ones and the others \
         are kept; changing `provider`, `host`, `port` or `identifier` of a connection with \
         stored secrets requires sending its secrets again. null is the same as omitting it."
            .to_owned(),
    );
    Schema::Object(schema)
}

/// The secrets of a connection, each a string, not empty, at most 64 KiB (65536 bytes of
/// UTF-8); write-only.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "s3cr3t-example"}))]
#[allow(dead_code)] // a schema only: the handler takes the secrets out by hand (CR-7)
struct ConnectionSecrets {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    password: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    keyfile_contents: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    personal_access_token: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    private_key: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    private_key_pass: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    client_secret: String,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 65536)]
    token: String,
}

/// The outcome of a connection test: `connected`: the credentials work (clears `invalid`);
/// `authentication_failed`: the source refused them (sets `invalid`); `refused`: the
/// destination is not allowed (egress policy); `failed`: another failure; `timed_out`: no
/// answer in time; `unsupported`: connections of this provider cannot be tested (nothing is
/// recorded); `unknown`: a result this gateway does not know.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ConnectionTestStatus, example = "connected")]
pub(super) enum TestStatus {
    Connected,
    AuthenticationFailed,
    Refused,
    Failed,
    TimedOut,
    Unsupported,
    Unknown,
}

pub(super) fn test_status(s: i32) -> TestStatus {
    match pb::TestStatus::try_from(s) {
        Ok(pb::TestStatus::Connected) => TestStatus::Connected,
        Ok(pb::TestStatus::AuthenticationFailed) => TestStatus::AuthenticationFailed,
        Ok(pb::TestStatus::Refused) => TestStatus::Refused,
        Ok(pb::TestStatus::Failed) => TestStatus::Failed,
        Ok(pb::TestStatus::TimedOut) => TestStatus::TimedOut,
        Ok(pb::TestStatus::Unsupported) => TestStatus::Unsupported,
        _ => TestStatus::Unknown,
    }
}

/// The outcome of a connection test.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionTestResult {
    pub(super) result: TestStatus,
    /// What happened, for people; never contains a secret.
    #[schema(example = "connected")]
    pub(super) message: String,
    /// The connection after the test.
    #[schema(value_type = Connection)]
    pub(super) connection: Option<Connection>,
}
