//! `auth_data` is secret (CR-6, CR-7): a canary sent through every route of the face never
//! comes back in a response, never reaches a log line, and is stored only sealed: no column of
//! any service's database holds it (SQLite: the database files; PostgreSQL: every row of every
//! table of the platform's schemas as text).

use reqwest::Method;
use serde_json::json;

use super::{call, jwt, ok, pat, pat_of};
use crate::{
    helpers::{TestApp, dual, log_text},
    organizations::admin_of_new_org,
};

const SECRET: &str = "canary-sumvin-secret-8c2f4d10";

async fn cr_7_auth_data_never_leaves_sealed(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Secrets").await;
    let token = pat_of(&app, &admin).await;
    let creds = pat(&token);
    let mut bodies = Vec::new();
    let mut send = async |method: Method, path: &str, body: Option<serde_json::Value>| {
        let r = call(&app, method, path, &creds, body).await;
        bodies.push(r.text.clone());
        r
    };
    let r = send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": 1, "auth_data": {"user": "ada", "password": SECRET}})),
    )
    .await;
    let id = ok(&r, 201)["user_connector"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let href = format!("/v0/user/connectors/{id}");
    let keyfile = json!({"type": "service_account", "private_key": format!("{SECRET}-key")});
    send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": 5, "auth_data": {"keyfile_contents": keyfile}})),
    )
    .await;
    send(Method::GET, &href, None).await;
    send(Method::GET, "/v0/user/connectors/", None).await;
    send(Method::GET, "/v0/connectors/", None).await;
    let r = send(
        Method::PATCH,
        &href,
        Some(json!({"auth_data": {"password": format!("{SECRET}-2")}})),
    )
    .await;
    ok(&r, 200);
    // Refusals that carry the secret in the wrong place.
    send(
        Method::PATCH,
        &href,
        Some(json!({"is_active": SECRET, "auth_data": {"password": [SECRET]}})),
    )
    .await;
    send(
        Method::POST,
        "/v0/user/connectors/",
        Some(json!({"connector_id": SECRET, "auth_data": {"user": SECRET}})),
    )
    .await;
    // And the same read with the JWT.
    let r = call(
        &app,
        Method::GET,
        &href,
        &jwt(&app.access_token(&token).await),
        None,
    )
    .await;
    bodies.push(r.text);

    for body in &bodies {
        assert!(
            !body.contains(SECRET),
            "a response holds the secret: {body}"
        );
    }
    assert!(!log_text().contains(SECRET), "a log line holds the secret");
    let stored = stored_text(&app).await;
    for sealed in sealed_values(&app).await {
        assert!(
            stored.contains(&sealed),
            "the search does not look where the secrets are stored"
        );
    }
    assert!(
        !stored.contains(SECRET),
        "a database column holds the secret"
    );
}

/// The sealed secrets connections-svc stored (base64 text).
async fn sealed_values(app: &TestApp) -> Vec<String> {
    let sql = "SELECT sealed FROM connection_secrets";
    let sealed: Vec<String> = match &app.connections_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap();
    assert_eq!(sealed.len(), 2, "the password and the key file");
    sealed
}

/// Everything the platform's databases hold, as text.
async fn stored_text(app: &TestApp) -> String {
    let mut out = String::new();
    match &app.database {
        None => {
            for name in ["identity", "connections", "projects"] {
                for suffix in ["db", "db-wal"] {
                    let path = app.data_dir.join(format!("{name}.{suffix}"));
                    if let Ok(bytes) = std::fs::read(&path) {
                        out.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
            }
        }
        Some((url, prefix)) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            for name in ["identity", "connections", "projects"] {
                let schema = format!("{prefix}{name}");
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                )
                .bind(&schema)
                .fetch_all(&pool)
                .await
                .unwrap();
                assert!(!tables.is_empty(), "{schema}");
                for table in tables {
                    let sql = format!("SELECT t::text FROM \"{schema}\".\"{table}\" t");
                    let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                    for row in rows {
                        out.push_str(&row);
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

dual!(cr_7_auth_data_never_leaves_sealed);
