//! The storage side of the security checklist (CR-1, CR-3 to CR-6) and the store's concurrency
//! rules, proven over real rows on both backends: SQLite (a file in a temporary directory) and
//! PostgreSQL (a fresh schema per test, dropped afterwards).
//!
//! PostgreSQL is taken from `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! When it is unreachable the PostgreSQL half of each test is skipped loudly, except with
//! `CI=true`, where it fails.
//!
//! By area: `rewrap` (key rotation and re-wrap, CR-4 and CR-5), `tampering` (CR-1, CR-3),
//! `at_rest` (CR-6), `rows` (optimistic updates, cascades, preferences, limits); `harness` opens
//! and removes the test databases, `fixtures` builds keys, records and seals.

/// Runs `async fn name(db: &TestDb)` once on SQLite and once on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = crate::harness::TestDb::open(crate::harness::Backend::Sqlite).await {
                    super::$name(&db).await;
                    db.close().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = crate::harness::TestDb::open(crate::harness::Backend::Postgres).await {
                    super::$name(&db).await;
                    db.close().await;
                }
            }
        }
    )*};
}

mod fixtures;
mod harness;

mod at_rest;
mod rewrap;
mod rows;
mod shares;
mod tampering;
