//! `GET /api/v1/openapi/connections.json`: the part of the generated OpenAPI document
//! (`crate::http::openapi`) that describes `/api/v1/connections`, for the clients that read it
//! there. It used to be a hand-kept OpenAPI 3.0 file; it is now cut from the one document, so
//! it cannot drift from the handlers (issue #19).

use std::{collections::BTreeSet, sync::LazyLock};

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

/// The paths the document keeps.
const PREFIX: &str = "/api/v1/connections";

/// What the document says of itself.
const DESCRIPTION: &str = "Our `/api/v1/connections` routes: Luzmo's account/connection model \
    (https://developer.luzmo.com, \"Update Account\") served in Lightdash's style. Every answer \
    is the envelope `{status: \"ok\", results}` or `{status: \"error\", error: {statusCode, \
    name, message}}`. Served by the gateway at `GET /api/v1/openapi/connections.json`; the \
    whole API is described at `GET /api/docs/openapi.json`, which this document is cut from.\n\n\
    Access: shared connections are read by every member of their organization, created by its \
    developers and admins, and updated, tested or deleted by their owner or an organization \
    admin. A connection of another organization answers 404, like one that does not exist.\n\n\
    Secrets are write-only: they are sealed at rest and never returned; `secretFields` names \
    the stored ones. Error messages never quote a secret.";

/// `doc` restricted to the paths under [`PREFIX`], the tags they use, and the components they
/// refer to (directly or through other components).
pub(crate) fn restrict(doc: &Value) -> Value {
    let paths: Map<String, Value> = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(p, _)| *p == PREFIX || p.starts_with(&format!("{PREFIX}/")))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    let schemas = &doc["components"]["schemas"];
    let mut names = BTreeSet::new();
    let mut todo = Vec::new();
    refs(&Value::Object(paths.clone()), &mut todo);
    while let Some(name) = todo.pop() {
        if names.insert(name.clone()) {
            refs(&schemas[&name], &mut todo);
        }
    }
    let used: BTreeSet<&str> = paths
        .values()
        .flat_map(|item| item.as_object().into_iter().flatten())
        .flat_map(|(_, op)| op["tags"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let tags: Vec<&Value> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["name"].as_str().is_some_and(|n| used.contains(n)))
        .collect();
    let mut info = doc["info"].clone();
    info["title"] = json!("Platform API — connections");
    info["description"] = json!(DESCRIPTION);
    json!({
        "openapi": doc["openapi"],
        "info": info,
        "paths": paths,
        "components": {
            "schemas": names
                .iter()
                .map(|n| (n.clone(), schemas[n].clone()))
                .collect::<Map<String, Value>>(),
            "securitySchemes": doc["components"]["securitySchemes"],
        },
        "tags": tags,
    })
}

/// The component schemas `v` refers to.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The document, pretty JSON with a final newline.
static CONNECTIONS: LazyLock<String> = LazyLock::new(|| {
    let doc: Value =
        serde_json::from_str(crate::http::openapi::document_json()).expect("the document is JSON");
    let mut text = serde_json::to_string_pretty(&restrict(&doc)).expect("JSON serializes");
    text.push('\n');
    text
});

/// GET /api/v1/openapi/connections.json: the OpenAPI document of `/api/v1/connections` (ours).
///
/// The part of this document that describes the connections routes and what they refer to;
/// no authentication.
#[utoipa::path(
    get,
    path = "/api/v1/openapi/connections.json",
    tag = "Connections",
    operation_id = "getConnectionsOpenApiDocument",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of `/api/v1/connections`.", content_type = "application/json", body = Object)),
)]
pub(super) async fn connections() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        CONNECTIONS.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document holds the connections paths, every component they refer to and no other.
    #[test]
    fn the_connections_document_is_their_part_of_the_whole() {
        let doc: Value = serde_json::from_str(&CONNECTIONS).expect("JSON");
        let paths = doc["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), 3);
        assert!(paths.keys().all(|p| p.starts_with(PREFIX)));
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut referred = Vec::new();
        refs(&doc, &mut referred);
        for name in &referred {
            assert!(
                schemas.contains_key(name),
                "{name} is referred to but absent"
            );
        }
        for name in schemas.keys() {
            assert!(referred.contains(name), "{name} is not referred to");
        }
        assert_eq!(doc["info"]["title"], "Platform API — connections");
        assert_eq!(doc["tags"].as_array().map(Vec::len), Some(1));
    }
}
