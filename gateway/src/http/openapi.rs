//! The OpenAPI 3.1 document of every public route, generated from the handlers (issue #19).
//!
//! Each face registers its handlers with `utoipa_axum::routes!`, which takes the route and the
//! method from the handler's `#[utoipa::path]` and adds both the route to the router and the
//! operation to the document: one declaration, so the two cannot disagree. Request and response
//! bodies are the handlers' own serde types (`ToSchema`). What is the same for every operation
//! of a face is added here, once, by [`finish`]:
//! - the face's security (an operation whose annotation says `security(())` is public; one that
//!   says nothing takes its face's schemes, [`Face::security`]);
//! - the errors every operation of the face can answer, in the face's error shape: 400 (or the
//!   face's bad-input status) when it takes a body or parameters, 401 and 403 (scopes, role,
//!   allowed IPs) when it needs credentials, 408, 413 and 415 (not JSON) when it takes a body,
//!   500, 503 and 504 always. An annotation lists the errors particular to its operation (404,
//!   409, 429, ..., and 403 with a more precise description).
//!
//! The gateway serves the document at `GET /api/docs/openapi.json` and a reader for it at
//! `GET /api/docs` (`docs.rs`); `docs/openapi.json` is a committed copy that a test keeps
//! current (`UPDATE_OPENAPI=1 cargo test -p gateway openapi` rewrites it).

use std::sync::LazyLock;

use utoipa::{
    OpenApi, ToSchema,
    openapi::{
        self, ContentBuilder, Ref, RefOr, ResponseBuilder, Schema,
        path::Operation,
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
    },
};
use utoipa_axum::router::OpenApiRouter;

use super::AppState;

#[cfg(test)]
mod served;

/// The document's head: what the API is, its tags and its security schemes. Paths come from
/// the faces' routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Platform API",
        description = "One platform, five API faces: the Lightdash-compatible REST API \
            (`/api/v1/...`), the account API of seed 003 (`/api/v1/accounts`), the Ioto account \
            API (`/account/...`), Luzmo's data connections (`/0.1.0/account`) and Sumvin's \
            connectors (`/v0/...`), with the access-token exchange and the key set that verifies \
            access tokens. Every error is answered in the shape of the face that was called.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "Lightdash: My Account", description = "Register, log in and out, the signed-in user, passwords, sessions and email verification."),
        (name = "Lightdash: Personal Access Tokens", description = "Tokens for scripts and API clients."),
        (name = "Lightdash: Organizations", description = "The caller's organization, its members, invitations and allowed email domains."),
        (name = "Lightdash: User Groups", description = "Groups of an organization's members."),
        (name = "Lightdash: User Attributes", description = "Attributes of an organization's members."),
        (name = "Lightdash: Projects", description = "Projects, their members and their settings."),
        (name = "Lightdash: Spaces", description = "Spaces of a project and who may reach them."),
        (name = "Lightdash: Tags", description = "Tags of a project."),
        (name = "Lightdash: Warehouse credentials", description = "Personal warehouse credentials and project credential preferences."),
        (name = "Connections", description = "Encrypted data connections (ours, in the Lightdash envelope): read by every member of their organization, created by its developers and admins, changed, tested or deleted by their owner or an organization admin; another organization's answers 404. Secrets are write-only: sealed at rest, never returned (`secretFields` names the stored ones), never quoted in an error. `GET /api/v1/openapi/connections.json` serves this part of the document alone."),
        (name = "Access tokens", description = "Exchange a credential for a short-lived access JWT."),
        (name = "Accounts (seed 003)", description = "Accounts and sub-accounts, their allowed IPs and invitations (docs/accounts.md)."),
        (name = "Accounts (Ioto)", description = "The operator's and admins' account API: every call a POST with JSON (docs/accounts.md)."),
        (name = "Luzmo", description = "Data connections as Luzmo's `/0.1.0/account` resource; the operation is the body's `action` (docs/luzmo.md)."),
        (name = "Sumvin", description = "Sumvin's connector catalog and the caller's connectors (docs/sumvin.md)."),
        (name = "Platform", description = "Key publication, probes and this documentation."),
    ),
)]
struct Head;

/// A face of the API: the paths it owns, its error shape and its credentials.
#[derive(Debug)]
struct Face {
    /// Paths starting with this belong to the face (the longest match wins).
    prefix: &'static str,
    /// The component schema of its error body.
    error: &'static str,
    /// Adds the error schemas (and what they refer to) to the components.
    schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
    /// The media type of its error body.
    media_type: &'static str,
    /// The status answering a malformed request (body, query or path), in the face's error
    /// shape; `None` when each operation that validates lists its own (Sumvin's 422 is FastAPI's
    /// `application/json`, not a problem).
    bad_input: Option<u16>,
    /// The security schemes its operations accept, any one of them.
    security: &'static [&'static str],
}

/// The faces, by path prefix. The first face is the default.
const FACES: &[Face] = &[
    Face {
        prefix: "/",
        error: "LightdashError",
        schemas: component::<super::lightdash::ErrorBody>,
        media_type: "application/json",
        bad_input: Some(400),
        security: &[API_KEY, BEARER, SESSION_COOKIE],
    },
    Face {
        prefix: "/api/v1/accounts",
        error: "SwiftError",
        schemas: component::<super::swift::ErrorBody>,
        media_type: "application/json",
        bad_input: Some(400),
        // The seed's `Bearer`, and what the shared `Caller` accepts besides.
        security: &[BEARER, API_KEY, SESSION_COOKIE],
    },
    Face {
        prefix: "/account/",
        error: "IotoError",
        schemas: component::<super::ioto::ErrorBody>,
        media_type: "application/json",
        bad_input: Some(400),
        security: &[AUTHORIZATION_TOKEN],
    },
    // Luzmo: the credentials are the body's `key` and `token`, which no security scheme can say:
    // each operation lists its 401 and says how it authenticates.
    Face {
        prefix: "/0.1.0/",
        error: "LuzmoError",
        schemas: component::<super::luzmo::ErrorBody>,
        media_type: "application/json",
        bad_input: Some(400),
        security: &[],
    },
    // Sumvin: RFC 7807 problems; request validation is FastAPI's 422 (in `application/json`,
    // which each operation that validates lists itself).
    Face {
        prefix: "/v0/",
        error: "SumvinProblem",
        schemas: super::sumvin::error_schemas,
        media_type: "application/problem+json",
        bad_input: None,
        security: &[SUMVIN_PAT, JUNO_JWT],
    },
];

/// Adds `T`'s schema and those it refers to.
fn component<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// `Authorization: ApiKey <personal access token>` (Lightdash's name for it).
const API_KEY: &str = "api_key";
/// `Authorization: Bearer <access JWT or personal access token>`.
const BEARER: &str = "bearer";
/// The session cookie set by `POST /api/v1/login`.
const SESSION_COOKIE: &str = "session_cookie";
/// `Authorization: <token>`, with or without `Bearer ` (the Ioto face).
pub(super) const AUTHORIZATION_TOKEN: &str = "authorization_token";
/// `x-sumvin-pat: <personal access token>` (the Sumvin face).
pub(super) const SUMVIN_PAT: &str = "sumvin_pat";
/// `x-juno-jwt: <access JWT>` (the Sumvin face).
pub(super) const JUNO_JWT: &str = "juno_jwt";

fn security_schemes() -> Vec<(&'static str, SecurityScheme)> {
    let header = |name: &str, description: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            name,
            description,
        )))
    };
    vec![
        (
            API_KEY,
            header(
                "Authorization",
                "A personal access token: `Authorization: ApiKey <token>`.",
            ),
        ),
        (
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access JWT from `POST /api/v1/auth/token`, or a personal access \
                         token: `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        ),
        (
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::extract::SESSION_COOKIE,
                "The session cookie that `POST /api/v1/login` sets.",
            ))),
        ),
        (
            AUTHORIZATION_TOKEN,
            header(
                "Authorization",
                "A personal access token, access JWT or operator token, with or without \
                 `Bearer `: `Authorization: <token>`.",
            ),
        ),
        (
            SUMVIN_PAT,
            header("x-sumvin-pat", "A personal access token."),
        ),
        (JUNO_JWT, header("x-juno-jwt", "An access JWT.")),
    ]
}

/// The face owning `path`.
fn face(path: &str) -> &'static Face {
    FACES
        .iter()
        .filter(|f| path.starts_with(f.prefix))
        .max_by_key(|f| f.prefix.len())
        .unwrap_or(&FACES[0])
}

/// The routes of every face, each documented.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Head::openapi())
        .merge(super::lightdash::router())
        .merge(super::swift::router())
        .merge(super::ioto::router())
        .merge(super::luzmo::router())
        .merge(super::sumvin::router())
        .merge(super::wellknown::router())
        .merge(super::docs::router())
}

/// The whole document.
pub fn document() -> openapi::OpenApi {
    let mut doc = routes().into_openapi();
    finish(&mut doc);
    doc
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let mut text = document()
            .to_pretty_json()
            .expect("the document serializes");
        text.push('\n');
        text
    });
    &JSON
}

/// Adds the security schemes, and to every operation its face's security and common errors.
pub(super) fn finish(doc: &mut openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, scheme) in security_schemes() {
        components.add_security_scheme(name, scheme);
    }
    let mut schemas = Vec::new();
    for face in FACES {
        (face.schemas)(&mut schemas);
    }
    components.schemas.extend(schemas);
    for (path, item) in doc.paths.paths.iter_mut() {
        let face = face(path);
        for op in operations(item) {
            summarize(op, path);
            secure(op, face);
            add_errors(op, face, path);
        }
    }
}

fn operations(item: &mut openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The handlers' doc comments start `GET /path: what it does`, which the document already says:
/// the summary keeps what it does.
fn summarize(op: &mut Operation, path: &str) {
    let Some(summary) = op.summary.as_deref() else {
        return;
    };
    let Some((head, rest)) = summary.split_once(": ") else {
        return;
    };
    if head.split_once(' ').is_some_and(|(m, p)| {
        m.chars().all(|c| c.is_ascii_uppercase()) && (p == path || p.starts_with('/'))
    }) {
        let rest = rest.replace('\n', " ");
        let mut chars = rest.chars();
        op.summary = chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect());
    }
}

/// An operation without security takes its face's; `security(())` (one empty requirement)
/// means public, written as an empty list.
fn secure(op: &mut Operation, face: &Face) {
    match &op.security {
        None => {
            op.security = Some(
                face.security
                    .iter()
                    .map(|s| SecurityRequirement::new::<_, _, &str>(*s, []))
                    .collect(),
            );
        }
        Some(reqs) if reqs.iter().all(|r| *r == SecurityRequirement::default()) => {
            op.security = Some(Vec::new());
        }
        Some(_) => {}
    }
}

/// Paths whose handlers read any body as JSON whatever its `Content-Type` (Luzmo's clients send
/// none): they never answer 415.
const ANY_MEDIA_TYPE: &[&str] = &["/0.1.0/"];

fn add_errors(op: &mut Operation, face: &Face, path: &str) {
    let has_body = op.request_body.is_some();
    let has_input = has_body || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut errors: Vec<(u16, &str)> = Vec::new();
    if let Some(status) = face.bad_input.filter(|_| has_input) {
        errors.push((
            status,
            "The request is malformed: a field, parameter or body that does not parse or \
             breaks a rule.",
        ));
    }
    if authenticated {
        errors.push((
            401,
            "No credentials, or credentials that are not valid (expired, revoked or unknown).",
        ));
        errors.push((
            403,
            "The credentials may not do this: the token's scopes do not cover it, the caller's \
             role does not allow it, or the caller's organization accepts calls only from \
             allowed IPs and this one comes from elsewhere.",
        ));
    }
    if has_body {
        errors.push((
            408,
            "The request body did not arrive within the body read timeout (15 s by default).",
        ));
        errors.push((413, "The request body is larger than the route accepts."));
        if !ANY_MEDIA_TYPE.iter().any(|p| path.starts_with(p)) {
            errors.push((
                415,
                "The body is not sent as JSON (`Content-Type: application/json`).",
            ));
        }
    }
    errors.push((
        500,
        "A fault the caller cannot act on; the `x-request-id` header names it in the logs.",
    ));
    errors.push((
        503,
        "A service behind the gateway is unavailable; try again.",
    ));
    errors.push((504, "A service did not answer in time."));
    for (status, description) in errors {
        let schema = face.error;
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                face.media_type,
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name(schema))))
                    .build(),
            )
            .build();
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = "../docs/openapi.json";

    /// The committed copy is the document the gateway serves; `UPDATE_OPENAPI=1` rewrites it.
    #[test]
    fn the_committed_openapi_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
        let current = document_json();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, current).expect("docs/openapi.json is writable");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p gateway openapi` \
             and commit the result"
        );
    }

    #[test]
    fn every_operation_has_a_face_security_and_errors() {
        let doc = document();
        assert!(doc.paths.paths.len() > 1);
        let schemas = &doc.components.as_ref().unwrap().schemas;
        for face in FACES {
            assert!(
                schemas.contains_key(face.error),
                "{} has no {}",
                face.prefix,
                face.error
            );
        }
        for (path, item) in doc.paths.paths {
            let mut item = item;
            for op in operations(&mut item) {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(op.security.is_some(), "{path} {id}: no security");
                assert!(
                    op.responses.responses.contains_key("500"),
                    "{path} {id}: no 500"
                );
                assert!(
                    op.responses
                        .responses
                        .keys()
                        .any(|s| s.starts_with('2') || s.starts_with('3')),
                    "{path} {id}: no success response"
                );
            }
        }
    }

    /// Every `$ref` names a schema of the document (a type used only through
    /// `IntoResponses`, say, would not be collected).
    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        let dangling: Vec<&str> = found
            .into_iter()
            .filter(|r| {
                r.strip_prefix("#/components/schemas/")
                    .is_none_or(|name| doc["components"]["schemas"].get(name).is_none())
            })
            .collect();
        assert!(dangling.is_empty(), "unresolved references: {dangling:?}");
    }

    #[test]
    fn the_longest_prefix_names_the_face() {
        assert_eq!(face("/api/v1/user").prefix, "/");
    }
}
