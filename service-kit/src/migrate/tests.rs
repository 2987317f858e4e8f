//! The rules on SQLite (the PostgreSQL side, with the roles of deploy/, is
//! platform/tests/migrations).

use std::{borrow::Cow, time::Duration};

use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
    sqlite::SqlitePoolOptions,
};
use tokio_util::sync::CancellationToken;

use super::{cli::run, *};

/// A release whose migrations are `versions`, each creating table `t<version>`.
fn release(versions: &[i64]) -> Migrations {
    let migrations = versions
        .iter()
        .map(|v| {
            let sql = format!("CREATE TABLE t{v} (x INTEGER)");
            Migration::new(
                *v,
                Cow::Owned(format!("table {v}")),
                MigrationType::Simple,
                sqlx::AssertSqlSafe(sql).into_sql_str(),
                false,
            )
        })
        .collect();
    let m: &'static Embedded = Box::leak(Box::new(Embedded::of(Migrator::with_migrations(
        migrations,
    ))));
    Migrations {
        sqlite: m,
        postgres: m,
    }
}

async fn memory() -> Pool {
    Pool::Sqlite(
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_release_serves_on_its_schema_or_a_newer_one_never_an_older_one() {
    let pool = memory().await;
    let (old, new) = (release(&[1, 2]), release(&[1, 2, 3]));
    let shutdown = CancellationToken::new();

    let s = state(&pool, old).await.unwrap();
    assert_eq!((s.version, s.pending.clone()), (0, vec![1, 2]));
    let err = wait_until_current(&pool, old, "svc", Duration::ZERO, &shutdown)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not migrated") && err.contains("svc migrate"),
        "{err}"
    );

    let mut steps = Vec::new();
    let s = apply(&pool, old, &mut |l| steps.push(l)).await.unwrap();
    assert!(s.is_current() && s.version == 2, "{s:?}");
    assert_eq!(
        steps.iter().filter(|l| l.starts_with("applied ")).count(),
        2,
        "{steps:?}"
    );
    assert_eq!(steps.last().unwrap(), "up to date: at version 2");

    // The new release is behind until migrated; then the old one still serves (expand/contract).
    let s = state(&pool, new).await.unwrap();
    assert_eq!(s.pending, vec![3]);
    let s = apply(&pool, new, &mut |_| {}).await.unwrap();
    assert!(s.is_current() && s.version == 3);
    let s = wait_until_current(&pool, old, "svc", Duration::ZERO, &shutdown)
        .await
        .unwrap();
    assert_eq!((s.version, s.unknown.clone()), (3, vec![3]));
    // Applying the old release's migrations to the newer schema does nothing, and succeeds.
    let mut steps = Vec::new();
    apply(&pool, old, &mut |l| steps.push(l)).await.unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
}

#[tokio::test]
async fn a_changed_or_half_applied_migration_stops_everything() {
    let pool = memory().await;
    apply(&pool, release(&[1]), &mut |_| {}).await.unwrap();
    let Pool::Sqlite(p) = &pool else {
        unreachable!()
    };
    sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00'")
        .execute(p)
        .await
        .unwrap();
    let err = state(&pool, release(&[1])).await.unwrap_err().to_string();
    assert!(err.contains("differs from the one applied"), "{err}");
    sqlx::query("UPDATE _sqlx_migrations SET success = false")
        .execute(p)
        .await
        .unwrap();
    let err = apply(&pool, release(&[1, 2]), &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("failed part-way"), "{err}");
}

#[tokio::test]
async fn waiting_ends_when_the_schema_is_migrated_or_the_service_stops() {
    let pool = memory().await;
    let m = release(&[1]);
    let shutdown = CancellationToken::new();
    let waiting = {
        let (pool, shutdown) = (pool.clone(), shutdown.clone());
        tokio::spawn(async move {
            wait_until_current(&pool, m, "svc", Duration::from_secs(60), &shutdown).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished());
    apply(&pool, m, &mut |_| {}).await.unwrap();
    let s = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("it notices within its 2 s period")
        .unwrap()
        .unwrap();
    assert!(s.is_current());

    let behind = release(&[1, 2]);
    let stopping = {
        let (pool, shutdown) = (pool.clone(), shutdown.clone());
        tokio::spawn(async move {
            wait_until_current(&pool, behind, "svc", Duration::from_secs(60), &shutdown).await
        })
    };
    shutdown.cancel();
    let err = tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("stopped while waiting"), "{err}");
}

#[tokio::test]
async fn the_subcommand_reads_the_services_variables_and_prints_each_step() {
    let schema = ServiceSchema {
        binary: "x-svc",
        name: "x",
        url: ("X_DATABASE_URL", "x-database-url"),
        schema: ("X_DATABASE_SCHEMA", "x-database-schema"),
        migrations: release(&[1, 2]),
        compact: &[],
    };
    schema.command().debug_assert();
    let dir = std::env::temp_dir().join(format!("migrate-cli-{}", std::process::id()));
    let matches = schema
        .command()
        .try_get_matches_from(["migrate", "--data-dir", dir.to_str().unwrap()])
        .unwrap();
    let db = schema.database(&matches);
    assert_eq!(
        (db.schema.as_str(), db.sqlite_file.clone()),
        ("x", dir.join("x.db"))
    );
    let mut out = Vec::new();
    run(&schema, &db, &mut out).await.unwrap();
    let mut again = Vec::new();
    run(&schema, &db, &mut again).await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let (out, again) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(again).unwrap(),
    );
    // Each line, without the time a migration took.
    let steps: Vec<&str> = out
        .lines()
        .map(|l| l.split(" in ").next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "x: migrating its SQLite database",
            "x: applying 1 table 1",
            "x: applied 1",
            "x: applying 2 table 2",
            "x: applied 2",
            "x: up to date: at version 2",
        ],
        "{out}"
    );
    assert_eq!(
        again,
        "x: migrating its SQLite database\nx: up to date: at version 2\n"
    );
    let bad = schema
        .command()
        .try_get_matches_from(["migrate", "--rust-log", "=[bad"])
        .unwrap_err();
    assert!(bad.to_string().contains("RUST_LOG"), "{bad}");
}
