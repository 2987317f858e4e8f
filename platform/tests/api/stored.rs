//! What the platform's databases hold, for the canary tests of the faces (CR-7): a secret
//! sent through a face must be stored sealed only, so no column of any service's database may
//! hold it as sent.

use crate::helpers::TestApp;

/// Everything the three services' databases hold, as text: on SQLite the database files and
/// their write-ahead logs (every column of every table, whatever its type), on PostgreSQL every
/// row of every table of the platform's schemas as text.
pub(crate) async fn stored_text(app: &TestApp) -> String {
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

/// The sealed secrets connections-svc stored (base64 text), to check that [`stored_text`]
/// looks where the secrets are.
pub(crate) async fn sealed_values(app: &TestApp) -> Vec<String> {
    let sql = "SELECT sealed FROM connection_secrets";
    match &app.connections_db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
    }
    .unwrap()
}

/// Asserts that no column of any service's database holds `secret`, and that the search
/// covers the sealed secrets (`sealed` of them expected).
pub(crate) async fn assert_sealed_only(app: &TestApp, secret: &str, sealed: usize) {
    let stored = stored_text(app).await;
    let values = sealed_values(app).await;
    assert_eq!(values.len(), sealed, "the sealed secrets stored");
    for value in values {
        assert!(
            stored.contains(&value),
            "the search does not look where the secrets are stored"
        );
    }
    assert!(
        !stored.contains(secret),
        "a database column holds the secret"
    );
}
