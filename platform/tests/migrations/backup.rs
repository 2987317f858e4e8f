//! Back up one service's schema with pg_dump as its migration role and restore it into a
//! database prepared by deploy/k8s/postgres-init.sql, as docs/operations.md says.

use std::{process::Command, sync::Arc};

use sqlx::{Connection, PgConnection};

use crate::{
    off,
    support::{FreshDatabase, Replicas, assert_serving, migrate},
};

/// A digest of every signing key row (identity-svc wrote one at its first start).
async fn signing_keys(url: &str) -> (i64, String) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query_as(
        "SELECT count(*), coalesce(md5(string_agg(k::text, ',' ORDER BY kid)), '') \
         FROM identity.signing_keys k",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("the PostgreSQL client tools run");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_dumped_by_its_migrator_restores_into_a_prepared_database() {
    if !crate::support::postgres_or_skip().await {
        return;
    }
    let (source, target) = (FreshDatabase::initialized(), FreshDatabase::initialized());
    let migrator = |db: &FreshDatabase| db.url(Some("identity_migrator"));
    let (ok, out) = migrate("identity", &migrator(&source)).await;
    assert!(ok, "{out}");
    let replicas = Arc::new(Replicas::new());
    let addr = replicas
        .start("identity", &source.url(Some("identity")), off(0))
        .await
        .unwrap();
    assert_serving("identity", addr).await;
    let before = signing_keys(&source.url(None)).await;
    assert_eq!(before.0, 1, "identity-svc made its first signing key");

    let dir = std::env::temp_dir().join(format!("platform-backup-{}", target.name));
    std::fs::create_dir_all(&dir).unwrap();
    let (dump, list) = (dir.join("identity.dump"), dir.join("identity.list"));
    run(Command::new("pg_dump")
        .args(["--format=custom", "--schema=identity", "--file"])
        .arg(&dump)
        .arg(migrator(&source)));
    // The schema itself exists already in the target (postgres-init.sql); everything in it
    // is restored, its grants and default privileges included.
    let entries = run(Command::new("pg_restore").arg("--list").arg(&dump));
    let kept: String = entries
        .lines()
        .filter(|l| !l.contains(" SCHEMA - identity "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&list, kept).unwrap();
    run(Command::new("pg_restore")
        .args(["--single-transaction", "--exit-on-error", "--use-list"])
        .arg(&list)
        .arg("--dbname")
        .arg(migrator(&target))
        .arg(&dump));
    std::fs::remove_dir_all(&dir).ok();

    assert_eq!(signing_keys(&target.url(None)).await, before);
    // The restored schema serves a replica with the runtime role and migrations off at once.
    let addr = replicas
        .start("identity", &target.url(Some("identity")), off(0))
        .await
        .unwrap_or_else(|e| panic!("identity on the restored schema: {e:#}"));
    assert_serving("identity", addr).await;
    replicas.shutdown.cancel();
}
