//! Served against documented (issue #19 item 2; security checklist AP-9, OWASP API9:2023): every
//! route the gateway serves is in the document, and every operation of the document is served.
//!
//! The served side is read off the router the gateway runs, [`super::routes`]: axum 0.8's
//! `Router` prints, with `Debug`, every registered path (`Node { paths: {RouteId: "/path"} }`)
//! and, for each, its method router (`MethodRouter { get: BoxedHandler, post: None, ... }`). A
//! method is served when its endpoint is not `None`; a path whose method router has no method but
//! a handler of its own as fallback (axum's `any(handler)`) serves every method; a fallback
//! beside explicit methods only refuses the others (405 in the face's shape). A path served by a
//! whole service (`route_service`, `nest_service`) serves every method.
//!
//! The documented side is the document's paths and their operations; methods OpenAPI has no
//! field for are documented by the `x-platform-extra-methods` extension of the path's POST
//! operation (a list of method names).
//!
//! What OpenAPI 3.1 cannot express is listed once, in [`UNDOCUMENTABLE`], with the reason.

use std::collections::BTreeSet;

use serde_json::Value;

/// (method, path) pairs, the method upper case.
pub(crate) type Operations = BTreeSet<(String, String)>;

/// The methods whose routes must all be documented.
const CHECKED: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Every method a method router has a field for.
const FIELDS: [&str; 9] = [
    "get", "head", "delete", "options", "patch", "post", "put", "trace", "connect",
];
/// The extension naming the methods outside OpenAPI's eight that a path serves.
const EXTRA_METHODS: &str = "x-platform-extra-methods";

/// Served routes the document cannot describe: (methods, path, why). `*` is every method at a
/// path that answers only "no such route" or "no such resource" and is never documented; a list
/// of methods is served beside the path's documented operations, outside OpenAPI's eight methods,
/// and documented by [`EXTRA_METHODS`] on its POST operation.
const UNDOCUMENTABLE: &[(&str, &str, &str)] = &[
    (
        "*",
        "/v0/{*rest}",
        "Sumvin's catch-all answering 404 'no such route' as a problem: OpenAPI has no wildcard \
         path, and a route that only refuses is no operation",
    ),
    (
        "*",
        "/account/{action}",
        "Ioto's unknown action, answering 404 in Ioto's shape: documenting it would make every \
         action name look valid, and OpenAPI cannot say 'any action but the documented ones'",
    ),
    (
        "*",
        "/0.1.0/{resource}",
        "Luzmo's unknown resource, answering 404 in Luzmo's shape, for the same reason",
    ),
    (
        "SEARCH LINK UNLINK",
        "/0.1.0/account",
        "Luzmo's Node client sends these methods; OpenAPI 3.1 has fields for eight methods \
         only, so POST /0.1.0/account lists them in x-platform-extra-methods",
    ),
];

/// (method, path) pairs the router serves, from its `Debug` text.
pub(crate) fn served<S>(router: &axum::Router<S>) -> Operations {
    let text = format!("{router:?}");
    // The first PathRouter is the routes; the second is the fallback router's.
    let start = text
        .find("path_router: PathRouter { routes: {")
        .expect("axum's Router Debug names its path router (axum 0.8)");
    let end = text[start..]
        .find("fallback_router:")
        .map_or(text.len(), |e| start + e);
    let inner = &text[start..end];
    let (routes, node) = inner
        .split_once("node: Node { paths: {")
        .expect("axum's PathRouter Debug names its paths (axum 0.8)");
    let paths = entries(node);
    let endpoints = entries(routes);
    assert_eq!(
        paths.len(),
        endpoints.len(),
        "every path has an endpoint: axum's Debug output changed?"
    );
    let mut out = BTreeSet::new();
    for (id, path) in paths {
        let path = path.trim().trim_end_matches(['}', ' ', ',']).trim();
        let path = path
            .strip_prefix('"')
            .and_then(|p| p.strip_suffix('"'))
            .unwrap_or_else(|| panic!("a quoted path: {path}"));
        let endpoint = endpoints
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, e)| e.as_str())
            .unwrap_or_else(|| panic!("no endpoint for {path}"));
        for m in methods(endpoint) {
            out.insert((m, path.to_owned()));
        }
    }
    out
}

/// `RouteId(N): text` entries of a Debug map, in order.
fn entries(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at + "RouteId(".len()..];
        let close = rest.find(')').expect("RouteId(N)");
        let id: u32 = rest[..close].parse().expect("a numeric RouteId");
        rest = rest[close + 1..].trim_start_matches(": ");
        let next = rest.find("RouteId(").unwrap_or(rest.len());
        out.push((id, rest[..next].to_owned()));
        rest = &rest[next..];
    }
    out
}

/// The methods an endpoint's Debug text serves, upper case.
fn methods(endpoint: &str) -> Vec<String> {
    let all = || FIELDS.iter().map(|m| m.to_uppercase()).collect();
    if !endpoint.starts_with("MethodRouter(") {
        return all(); // a whole service
    }
    let explicit: Vec<String> = FIELDS
        .iter()
        .filter(|m| {
            let key = format!(" {m}: ");
            let at = endpoint
                .find(&key)
                .unwrap_or_else(|| panic!("a method router prints {m}: {endpoint}"));
            !endpoint[at + key.len()..].starts_with("None")
        })
        .map(|m| m.to_uppercase())
        .collect();
    let fallback = endpoint
        .split_once(" fallback: ")
        .map(|(_, f)| f)
        .unwrap_or("");
    if explicit.is_empty() && !fallback.starts_with("Default(") {
        return all(); // `any(handler)`
    }
    let mut explicit = explicit;
    if explicit.iter().any(|m| m == "GET") && !explicit.iter().any(|m| m == "HEAD") {
        explicit.push("HEAD".into()); // axum answers HEAD with the GET handler
    }
    explicit
}

/// (method, path) pairs the document describes, with the extension's extra methods.
pub(crate) fn documented(doc: &Value) -> Operations {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !op.is_object() || op.get("responses").is_none() {
                continue; // `parameters`, `summary`, ...
            }
            out.insert((method.to_uppercase(), path.clone()));
            for extra in op[EXTRA_METHODS].as_array().into_iter().flatten() {
                if let Some(m) = extra.as_str() {
                    out.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out
}

/// The routes served beside the document that [`UNDOCUMENTABLE`] accounts for: every method at
/// a `*` path, the listed methods at the others.
fn undocumentable(method: &str, path: &str) -> bool {
    UNDOCUMENTABLE.iter().any(|(methods, p, _)| {
        *p == path && (*methods == "*" || methods.split(' ').any(|m| m == method))
    })
}

/// The extra methods [`UNDOCUMENTABLE`] says the router serves (its `Debug` cannot show them:
/// they reach the handler through the method router's fallback).
fn extra_served() -> Operations {
    UNDOCUMENTABLE
        .iter()
        .filter(|(m, _, _)| *m != "*")
        .flat_map(|(ms, p, _)| ms.split(' ').map(|m| (m.to_owned(), (*p).to_owned())))
        .collect()
}

/// Served routes among [`CHECKED`] methods (and the extra ones) that the document lacks.
pub(crate) fn undocumented(served: &Operations, documented: &Operations) -> Vec<String> {
    let extra = extra_served();
    served
        .iter()
        .filter(|(m, _)| CHECKED.contains(&m.as_str()))
        .chain(&extra)
        .filter(|(m, p)| !documented.contains(&(m.clone(), p.clone())))
        .filter(|(m, p)| !undocumentable(m, p) || extra.contains(&(m.clone(), p.clone())))
        .map(|(m, p)| format!("served, not documented: {m} {p}"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Documented operations the router does not serve.
pub(crate) fn unserved(served: &Operations, documented: &Operations) -> Vec<String> {
    let extra = extra_served();
    documented
        .iter()
        .filter(|op| !served.contains(*op) && !extra.contains(*op))
        .map(|(m, p)| format!("documented, not served: {m} {p}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use axum::routing::{any, get, post};
    use serde_json::json;

    use super::*;

    fn gateway() -> (Operations, Operations) {
        let (router, _) = super::super::routes().split_for_parts();
        let doc = serde_json::to_value(super::super::document()).expect("the document is JSON");
        (served(&router), documented(&doc))
    }

    fn report(problems: &[String]) -> String {
        format!(
            "{} route(s) differ between the router and the document (issue #19, AP-9):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }

    /// Every operation of the document is served, with its method.
    #[test]
    fn every_documented_operation_is_served() {
        let (served, documented) = gateway();
        assert!(served.contains(&("GET".into(), "/api/docs/openapi.json".into())));
        assert!(documented.contains(&("GET".into(), "/api/docs/openapi.json".into())));
        let problems = unserved(&served, &documented);
        assert!(problems.is_empty(), "{}", report(&problems));
    }

    /// Every route the gateway serves with GET, POST, PUT, PATCH or DELETE is documented, but
    /// for [`UNDOCUMENTABLE`].
    #[test]
    fn every_served_route_is_documented() {
        let (served, documented) = gateway();
        let problems = undocumented(&served, &documented);
        assert!(problems.is_empty(), "{}", report(&problems));
    }

    /// Each table entry still names a route the router serves.
    #[test]
    fn every_undocumentable_route_is_served() {
        let (served, _) = gateway();
        for (methods, path, why) in UNDOCUMENTABLE {
            assert!(!why.is_empty());
            assert!(
                served.iter().any(|(_, p)| p == path),
                "UNDOCUMENTABLE names {methods} {path}, which the router does not serve"
            );
        }
    }

    /// The comparison fails both ways: a route served and not documented, an operation
    /// documented and not served; and it reads methods off the router.
    #[test]
    fn the_comparison_finds_both_kinds_of_orphan() {
        let router: axum::Router = axum::Router::new()
            .route("/a", get(|| async {}).post(|| async {}))
            .route("/b/{id}", post(|| async {}))
            .route("/c", get(|| async {}).fallback(|| async { "405" }))
            .route("/any", any(|| async {}))
            .route("/v0/{*rest}", any(|| async {}));
        let served = served(&router);
        assert!(served.contains(&("POST".into(), "/b/{id}".into())));
        assert!(!served.contains(&("GET".into(), "/b/{id}".into())));
        assert!(!served.contains(&("POST".into(), "/c".into())));
        assert!(served.contains(&("DELETE".into(), "/any".into())));
        let doc = json!({ "paths": {
            "/a": { "get": { "responses": {} }, "post": { "responses": {} } },
            "/c": { "get": { "responses": {} } },
            "/any": {
                "get": { "responses": {} }, "post": { "responses": {} }, "put": { "responses": {} },
                "patch": { "responses": {} }, "delete": { "responses": {} },
            },
            "/gone": { "delete": { "responses": {} } },
            "/0.1.0/account": { "post": {
                "responses": {}, "x-platform-extra-methods": ["SEARCH", "LINK"]
            } },
        }});
        let documented = documented(&doc);
        assert_eq!(
            undocumented(&served, &documented),
            [
                "served, not documented: POST /b/{id}",
                "served, not documented: UNLINK /0.1.0/account",
            ]
        );
        assert_eq!(
            unserved(&served, &documented),
            [
                "documented, not served: DELETE /gone",
                "documented, not served: POST /0.1.0/account",
            ]
        );
    }
}
