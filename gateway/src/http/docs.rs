//! The API's documentation, served by the gateway itself: the OpenAPI document
//! (`openapi.rs`) at `GET /api/docs/openapi.json` and Swagger UI reading it at `GET /api/docs`.
//! Swagger UI's files are compiled in from the crates.io crate `utoipa-swagger-ui-vendored`:
//! the page needs no internet access, and no file is fetched from a CDN.

use std::sync::{Arc, LazyLock};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::Config;

use super::{AppState, extract::Path};

/// Where the page and its files are.
const BASE: &str = "/api/docs";

/// `/api/docs`, its files and the document.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(document))
        .routes(routes!(file))
}

/// Swagger UI's settings: the document, operations listed by tag with their ids, a filter box,
/// and no online validator (by default Swagger UI sends the document's URL to swagger.io's
/// validator from any host but localhost: the page must reach nothing but the gateway).
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new(["/api/docs/openapi.json"])
            .display_operation_id(true)
            .filter(true)
            .deep_linking(true)
            .try_it_out_enabled(false)
            .validator_url("none"),
    )
});

/// The page, `index.html`, with its relative links based at `/api/docs/` (it is served at
/// `/api/docs`, without the final slash).
static PAGE: LazyLock<String> = LazyLock::new(|| {
    let index = utoipa_swagger_ui::serve("index.html", CONFIG.clone())
        .ok()
        .flatten()
        .expect("Swagger UI has an index.html");
    String::from_utf8_lossy(&index.bytes)
        .replacen("<head>", &format!("<head>\n    <base href=\"{BASE}/\">"), 1)
        .replacen(
            "<title>Swagger UI</title>",
            "<title>Platform API</title>",
            1,
        )
});

/// GET /api/docs: the documentation page (Swagger UI), readable with no internet access.
#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "Platform",
    operation_id = "getApiDocs",
    security(()),
    responses((status = 200, description = "The documentation page.", content_type = "text/html", body = String)),
)]
async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

/// GET /api/docs/openapi.json: this document.
#[utoipa::path(
    get,
    path = "/api/docs/openapi.json",
    tag = "Platform",
    operation_id = "getOpenApiDocument",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of every public route.", content_type = "application/json", body = Object)),
)]
async fn document() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        super::openapi::document_json(),
    )
        .into_response()
}

/// GET /api/docs/{file}: a file of the page (script, style sheet, icon).
#[utoipa::path(
    get,
    path = "/api/docs/{file}",
    tag = "Platform",
    operation_id = "getApiDocsFile",
    security(()),
    params(("file" = String, Path, description = "A file of the page, such as `swagger-ui.css`.")),
    responses(
        (status = 200, description = "The file.", content_type = "application/octet-stream", body = String),
        (status = 404, description = "No such file.", body = super::lightdash::ErrorBody),
    ),
)]
async fn file(Path(name): Path<String>) -> Response {
    match utoipa_swagger_ui::serve(&name, CONFIG.clone()) {
        Ok(Some(file)) => {
            let mut res = (
                [(header::CACHE_CONTROL, "public, max-age=3600")],
                file.bytes.into_owned(),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if file.gzpipped {
                res.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            res
        }
        _ => super::ApiError::new(StatusCode::NOT_FOUND, "No such file").into_response(),
    }
}
