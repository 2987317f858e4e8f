//! The harness: a migrated, empty connections database of its own for each test, on SQLite (a
//! file in a temporary directory) or PostgreSQL (a fresh schema, dropped afterwards).

use std::{path::PathBuf, sync::Arc, time::Duration};

use connections_svc::{
    POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
    store::{ConnectionsStore, SecretRecord},
};
use secrecy::SecretString;
use service_kit::{
    db::{DbConfig, Pool},
    on_pool,
};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's database lives, to inspect and to remove it.
#[derive(Debug)]
pub(crate) enum Place {
    Sqlite { dir: PathBuf, file: PathBuf },
    Postgres { url: String, schema: String },
}

/// A migrated, empty connections database of its own for one test.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub(crate) pool: Pool,
    pub(crate) store: Arc<dyn ConnectionsStore>,
    pub(crate) place: Place,
}

pub(crate) const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned())
}

pub(crate) async fn postgres_reachable(url: &str) -> bool {
    let connect = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    }
}

impl TestDb {
    /// A fresh database; `None` when PostgreSQL is unreachable outside CI.
    pub(crate) async fn open(backend: Backend) -> Option<TestDb> {
        let id = Uuid::new_v4().simple().to_string();
        let (config, place) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("connections-store-test-{id}"));
                let file = dir.join("connections.db");
                let config = DbConfig {
                    url: None,
                    schema: "connections".into(),
                    sqlite_file: file.clone(),
                    max_connections: 4,
                };
                (config, Place::Sqlite { dir, file })
            }
            Backend::Postgres => {
                let url = pg_url();
                if !postgres_reachable(&url).await {
                    if std::env::var("CI").as_deref() == Ok("true") {
                        panic!(
                            "PostgreSQL is not reachable at {url}, and CI=true requires the PostgreSQL tests"
                        );
                    }
                    eprintln!(
                        "\n!!! SKIPPING a PostgreSQL store test: no PostgreSQL at {url} (set TEST_DATABASE_URL) !!!\n"
                    );
                    return None;
                }
                let schema = format!("t{}_connections", &id[..16]);
                let config = DbConfig {
                    url: Some(SecretString::from(url.clone())),
                    schema: schema.clone(),
                    sqlite_file: PathBuf::new(),
                    max_connections: 4,
                };
                (config, Place::Postgres { url, schema })
            }
        };
        let pool = service_kit::db::connect(&config)
            .await
            .expect("the test database opens");
        // From here on, Drop removes the database even when the test fails.
        let db = TestDb {
            store: connections_svc::store::for_pool(pool.clone()),
            pool,
            place,
        };
        db.pool
            .migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
            .await
            .expect("migrations apply");
        Some(db)
    }

    /// Closes the pool and removes the database.
    pub(crate) async fn close(self) {
        self.pool.close().await;
        // Drop removes the file or schema.
    }

    /// Overwrites a stored sealed value with plain SQL (what an attacker with database access
    /// could do).
    pub(crate) async fn set_sealed(
        &self,
        connection: Uuid,
        field: &str,
        sealed: &str,
        version: i32,
    ) {
        const SQL: &str = "UPDATE connection_secrets SET sealed = $1, key_version = $2 \
                           WHERE connection_uuid = $3 AND field = $4";
        let n = on_pool!(&self.pool, |p| sqlx::query(SQL)
            .bind(sealed)
            .bind(version)
            .bind(connection)
            .bind(field)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))
        .expect("the raw update runs");
        assert_eq!(n, 1, "the raw update found its row");
    }

    /// Rows of `table` (a fixed name below) that name `connection`, counted in SQL.
    pub(crate) async fn count_rows(&self, table: &str, connection: Uuid) -> i64 {
        assert!(
            [
                "connections",
                "connection_secrets",
                "credentials_preferences"
            ]
            .contains(&table),
            "unexpected table {table}"
        );
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE connection_uuid = $1");
        on_pool!(&self.pool, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(
            sql.clone()
        ))
        .bind(connection)
        .fetch_one(p)
        .await)
        .expect("the count runs")
    }

    /// The stored sealed value of one field (read through the store).
    pub(crate) async fn stored(&self, connection: Uuid, field: &str) -> SecretRecord {
        self.store
            .secrets(connection)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.field == field)
            .unwrap_or_else(|| panic!("no stored secret {field} for {connection}"))
    }

    /// Every stored secret, by (connection, field), read with plain SQL.
    pub(crate) async fn all_sealed(&self) -> Vec<(Uuid, String, i32, String)> {
        const SQL: &str = "SELECT connection_uuid, field, key_version, sealed FROM connection_secrets \
                           ORDER BY connection_uuid, field";
        on_pool!(&self.pool, |p| sqlx::query_as(SQL).fetch_all(p).await).expect("the select runs")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.place {
            Place::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { url, schema } => {
                let (url, schema) = (url.clone(), schema.clone());
                // A runtime of its own: Drop may run while the test's runtime is unwinding.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                            pool.close().await;
                        }
                    })
                })
                .join();
            }
        }
    }
}
