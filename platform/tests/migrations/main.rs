//! Migrations as a Job against the machine's PostgreSQL (TEST_DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/test; skipped with a warning when unreachable, unless
//! CI=true): a fresh database prepared by deploy/k8s/postgres-init.sql, `platform migrate
//! --service X` as each migration role (the Job's command), three replicas of each service
//! with the runtime roles and MIGRATE_ON_START=false, and what the runtime roles may not do.
//! Also the laptop's path: three replicas of each migrating an empty database at once; and a
//! schema's backup and restore (`backup.rs`).

mod backup;
mod support;

use std::{net::SocketAddr, sync::Arc};

use service_kit::migrate::MigrationArgs;
use sqlx::{Connection, PgConnection};
use support::{FreshDatabase, Replicas, SERVICES, assert_serving, migrate};

fn off(wait: u64) -> MigrationArgs {
    MigrationArgs {
        migrate_on_start: false,
        migrate_wait_seconds: wait,
    }
}

/// Starts a replica for each `(service, url)`, all at once; their addresses in that order.
async fn start_all(
    replicas: &Arc<Replicas>,
    list: &[(String, String)],
    migrations: MigrationArgs,
) -> Vec<anyhow::Result<SocketAddr>> {
    let tasks: Vec<_> = list
        .iter()
        .cloned()
        .map(|(s, url)| {
            let (r, m) = (replicas.clone(), migrations.clone());
            tokio::spawn(async move { r.start(&s, &url, m).await })
        })
        .collect();
    let mut started = Vec::new();
    for t in tasks {
        started.push(t.await.unwrap());
    }
    started
}

/// `platform migrate --service X` for the three services at once, each as its migrator (three
/// containers of the Job); each one's success and output.
async fn migrate_all(db: &FreshDatabase) -> Vec<(&'static str, bool, String)> {
    let tasks: Vec<_> = SERVICES
        .map(|s| {
            let url = db.url(Some(&format!("{s}_migrator")));
            tokio::spawn(async move { migrate(s, &url).await })
        })
        .into_iter()
        .collect();
    let mut done = Vec::new();
    for (s, t) in SERVICES.into_iter().zip(tasks) {
        let (ok, out) = t.await.unwrap();
        done.push((s, ok, out));
    }
    done
}

/// The SQLSTATE of a statement run as the connection's role (None: it succeeded).
async fn sqlstate(conn: &mut PgConnection, sql: &str) -> Option<String> {
    match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.code().unwrap_or_default().into_owned()),
        Err(e) => panic!("{sql}: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migrate_job_and_three_replicas_per_service_with_the_runtime_roles() {
    if !support::postgres_or_skip().await {
        return;
    }
    let db = FreshDatabase::initialized();
    let replicas = std::sync::Arc::new(Replicas::new());

    // Before `migrate`, a service that may not wait refuses to start, saying what to run.
    let err = replicas
        .start("identity", &db.url(Some("identity")), off(0))
        .await
        .expect_err("an unmigrated schema is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("not migrated") && text.contains("identity-svc migrate"),
        "{text}"
    );

    // The rollout and the Job at once: nine replicas start and wait for their schemas while
    // the three migrations run (each as its schema's owner), then all of them serve.
    let urls: Vec<(String, String)> = SERVICES
        .iter()
        .flat_map(|s| std::iter::repeat_n((s.to_string(), db.url(Some(s))), 3))
        .collect();
    let starting = tokio::spawn({
        let (r, urls) = (replicas.clone(), urls.clone());
        async move { start_all(&r, &urls, off(120)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for (s, ok, out) in &migrate_all(&db).await {
        assert!(ok, "migrate {s} failed:\n{out}");
        assert!(out.contains(&format!("{s}: applied ")), "{out}");
        assert!(
            out.contains(&format!("{s}: up to date: at version")),
            "{out}"
        );
        assert!(
            !out.contains("test-password"),
            "a password in the output:\n{out}"
        );
    }
    let started = starting.await.unwrap();
    for ((s, _), addr) in urls.iter().zip(started) {
        let addr = addr.unwrap_or_else(|e| panic!("a replica of {s} failed: {e:#}"));
        assert_serving(s, addr).await;
    }

    // Run again (a second Job, or a retry), all at once: nothing to do.
    for (s, ok, out) in migrate_all(&db).await {
        assert!(
            ok && !out.contains("applying") && out.contains("up to date"),
            "{s}: {out}"
        );
    }

    for s in SERVICES {
        runtime_role_reads_and_writes_rows_only(&db, s).await;
    }
    clear_keys_are_erased_by_migrate(&db, &replicas).await;
    replicas.shutdown.cancel();
}

/// identity.signing_keys' file number and, after a checkpoint, its bytes on disk.
async fn table_file(admin: &mut PgConnection) -> (i64, Vec<u8>) {
    sqlx::raw_sql("CHECKPOINT")
        .execute(&mut *admin)
        .await
        .unwrap();
    sqlx::query_as(
        "SELECT relfilenode::int8, \
           pg_read_binary_file(pg_relation_filepath('identity.signing_keys')) \
         FROM pg_class WHERE oid = 'identity.signing_keys'::regclass",
    )
    .fetch_one(admin)
    .await
    .unwrap()
}

/// The upgrade from a release that stored signing keys in clear, with the two roles: the
/// upgraded replica (runtime role) seals the key but may not rewrite the table (PostgreSQL
/// skips its VACUUM FULL); `migrate` run again as the owner does, and the clear seed is gone
/// from the table's file.
async fn clear_keys_are_erased_by_migrate(db: &FreshDatabase, replicas: &Arc<Replicas>) {
    let mut admin = PgConnection::connect(&db.url(None)).await.unwrap();
    let seed: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    sqlx::query(
        "INSERT INTO identity.signing_keys (kid, private_seed, created_at)          VALUES ('legacy-clear', $1, now() - interval '1 minute')",
    )
    .bind(&seed)
    .execute(&mut admin)
    .await
    .unwrap();
    let (before, _) = table_file(&mut admin).await;
    let addr = replicas
        .start("identity", &db.url(Some("identity")), off(0))
        .await
        .expect("the upgraded replica starts");
    assert_serving("identity", addr).await;
    let clear: Vec<u8> = sqlx::query_scalar(
        "SELECT private_seed FROM identity.signing_keys WHERE kid = 'legacy-clear'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(clear.is_empty(), "the replica sealed the clear key");
    let (after_start, _) = table_file(&mut admin).await;
    assert_eq!(before, after_start, "the runtime role rewrote the table");

    let (ok, out) = migrate("identity", &db.url(Some("identity_migrator"))).await;
    assert!(
        ok && out.contains("identity: compacted signing_keys"),
        "{out}"
    );
    let (after, bytes) = table_file(&mut admin).await;
    assert_ne!(after, before, "migrate rewrote the table");
    assert!(
        !bytes.windows(seed.len()).any(|w| w == seed),
        "the clear seed is still in the table's file"
    );
}

/// The runtime role of `service` may read and write every table of its schema and use its
/// sequences, but not change the schema, create anything, or see another service's schema;
/// every table belongs to the migrator.
async fn runtime_role_reads_and_writes_rows_only(db: &FreshDatabase, service: &str) {
    let mut admin = PgConnection::connect(&db.url(None)).await.unwrap();
    let foreign: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tableowner <> $1 || '_migrator'",
    )
    .bind(service)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(foreign, 0, "{service}: a table not owned by the migrator");
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, (SELECT column_name::text FROM information_schema.columns c \
           WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name \
           ORDER BY ordinal_position LIMIT 1) \
         FROM information_schema.tables t WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
    )
    .bind(service)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    let sequences: Vec<String> = sqlx::query_scalar(
        "SELECT sequence_name::text FROM information_schema.sequences WHERE sequence_schema = $1",
    )
    .bind(service)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(tables.len() > 3, "{service}: {tables:?}");

    let mut conn = PgConnection::connect(&db.url(Some(service))).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
    let sql = format!("SELECT count(*) FROM {service}._sqlx_migrations");
    assert_eq!(sqlstate(&mut conn, &sql).await, None, "{service}: {sql}");
    for (t, col) in tables.iter().filter(|(t, _)| t != "_sqlx_migrations") {
        for sql in [
            format!("SELECT count(*) FROM {service}.{t}"),
            format!("INSERT INTO {service}.{t} SELECT * FROM {service}.{t} WHERE false"),
            format!("UPDATE {service}.{t} SET {col} = {col} WHERE false"),
            format!("DELETE FROM {service}.{t} WHERE false"),
        ] {
            assert_eq!(sqlstate(&mut conn, &sql).await, None, "{service}: {sql}");
        }
    }
    for s in &sequences {
        let sql = format!("SELECT nextval('{service}.{s}')");
        assert_eq!(sqlstate(&mut conn, &sql).await, None, "{service}: {sql}");
    }
    sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();

    let (t, col) = &tables[0];
    let other = SERVICES.iter().find(|s| **s != service).unwrap();
    for sql in [
        format!("CREATE TABLE {service}.intruder (x int)"),
        format!("ALTER TABLE {service}.{t} ADD COLUMN intruder int"),
        format!("DROP TABLE {service}.{t}"),
        format!("TRUNCATE {service}.{t}"),
        format!("CREATE INDEX intruder ON {service}.{t} ({col})"),
        format!("SELECT * FROM {other}._sqlx_migrations"),
        // The migration state MIGRATE_ON_START=false trusts: readable, written by `migrate`.
        format!(
            "INSERT INTO {service}._sqlx_migrations SELECT * FROM {service}._sqlx_migrations WHERE false"
        ),
        format!("UPDATE {service}._sqlx_migrations SET version = version WHERE false"),
        format!("DELETE FROM {service}._sqlx_migrations WHERE false"),
        format!("TRUNCATE {service}._sqlx_migrations"),
        "CREATE SCHEMA intruder".to_owned(),
        "CREATE TEMP TABLE intruder (x int)".to_owned(),
        "CREATE TABLE public.intruder (x int)".to_owned(),
    ] {
        assert_eq!(
            sqlstate(&mut conn, &sql).await.as_deref(),
            Some("42501"),
            "{service} may: {sql}"
        );
    }
}

/// The laptop's path (MIGRATE_ON_START=true, one role that may create): nine replicas start at
/// once on a database without schemas; each schema is created once and migrated once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_per_service_migrating_an_empty_database_at_once() {
    if !support::postgres_or_skip().await {
        return;
    }
    let db = FreshDatabase::empty();
    let replicas = Arc::new(Replicas::new());
    let url = db.url(None);
    let on = MigrationArgs::default();
    assert!(on.migrate_on_start);
    let list: Vec<(String, String)> = SERVICES
        .iter()
        .flat_map(|s| std::iter::repeat_n((s.to_string(), url.clone()), 3))
        .collect();
    let started = start_all(&replicas, &list, on).await;
    for ((s, _), addr) in list.iter().zip(started) {
        let addr = addr.unwrap_or_else(|e| panic!("a replica of {s} failed: {e:#}"));
        assert_serving(s, addr).await;
    }
    let mut admin = PgConnection::connect(&url).await.unwrap();
    for s in SERVICES {
        let (rows, distinct): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), count(DISTINCT version) FROM {s}._sqlx_migrations WHERE success"
        )))
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(
            rows > 3 && rows == distinct,
            "{s}: {rows} rows, {distinct} versions"
        );
    }
    replicas.shutdown.cancel();
}
