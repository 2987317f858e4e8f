//! Connection tests: real connections to the machine's PostgreSQL and MariaDB (loopback allowed
//! by configuration) set and clear `invalid`; the default policy refuses internal addresses
//! before connecting (AP-8).

use serde_json::json;

use super::{create, id, patch, test};
use crate::{
    helpers::{Backend, TestApp, dual, dual_backend, spawn_app_with},
    organizations::{admin_of_new_org, cookie},
};

pub(crate) const MARIADB_USER: &str = "platform_e2e";
pub(crate) const MARIADB_PASSWORD: &str = "e2e-Password-3c9d";

/// Creates the MariaDB user the tests connect as; false (after a loud message) when there is no
/// MariaDB, which CI=true does not accept.
pub(crate) async fn mariadb_user() -> bool {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let connect = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&url);
    let pool = match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
        Ok(Ok(p)) => p,
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("MariaDB is not reachable at {url}, and CI=true requires its tests");
            }
            eprintln!(
                "\n!!! SKIPPING a MariaDB test: no MariaDB at {url} (set TEST_MYSQL_URL) !!!\n"
            );
            return false;
        }
    };
    for host in ["%", "localhost"] {
        for sql in [
            format!(
                "CREATE USER IF NOT EXISTS '{MARIADB_USER}'@'{host}' IDENTIFIED BY '{MARIADB_PASSWORD}'"
            ),
            format!("ALTER USER '{MARIADB_USER}'@'{host}' IDENTIFIED BY '{MARIADB_PASSWORD}'"),
            format!("GRANT SELECT ON test.* TO '{MARIADB_USER}'@'{host}'"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    pool.close().await;
    true
}

/// Tests connect for real (PostgreSQL and MariaDB on this machine, loopback allowed by
/// configuration); an authentication failure sets `invalid`, a later success clears it; an
/// update that omits the password keeps the stored one.
async fn connection_tests_really_connect(backend: Backend) {
    if !mariadb_user().await {
        return;
    }
    let Some(app) = spawn_app_with(backend, |c| {
        c.connections.connections_test_allow_loopback = true
    })
    .await
    else {
        return;
    };
    let (admin, _) = admin_of_new_org(&app, "Probe").await;
    let maria = create(
        &app,
        &admin,
        json!({"provider": "mariadb", "name": "m", "host": "127.0.0.1", "port": "3306",
               "identifier": MARIADB_USER, "options": {"database": "test"},
               "secrets": {"password": MARIADB_PASSWORD}}),
    )
    .await;
    let mid = id(&maria);
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "connected", "{t}");
    assert_eq!(t["connection"]["invalid"], false);
    assert!(t["connection"]["lastTestedAt"].is_string());

    // The stored password survives an update that does not send it.
    patch(&app, &admin, &mid, json!({"name": "renamed"}))
        .await
        .results();
    assert_eq!(test(&app, &admin, &mid).await["result"], "connected");

    // A wrong password: authentication fails, the connection becomes invalid.
    patch(
        &app,
        &admin,
        &mid,
        json!({"secrets": {"password": "wrong-password"}}),
    )
    .await
    .results();
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "authentication_failed", "{t}");
    assert_eq!(t["connection"]["invalid"], true);
    assert!(!t.to_string().contains("wrong-password"));
    let got = app
        .get(&format!("/api/v1/connections/{mid}"), &cookie(&admin))
        .await;
    assert_eq!(got.results()["invalid"], true);

    // The right password again: a success clears `invalid`.
    patch(
        &app,
        &admin,
        &mid,
        json!({"secrets": {"password": MARIADB_PASSWORD}}),
    )
    .await
    .results();
    let t = test(&app, &admin, &mid).await;
    assert_eq!(t["result"], "connected", "{t}");
    assert_eq!(t["connection"]["invalid"], false);

    // PostgreSQL (trust authentication here: a role that does not exist is what fails).
    let pg = create(
        &app,
        &admin,
        json!({"provider": "postgresql", "name": "p", "host": "127.0.0.1", "port": 5432,
               "identifier": "postgres", "options": {"database": "test"},
               "secrets": {"password": "unused"}}),
    )
    .await;
    let t = test(&app, &admin, &id(&pg)).await;
    assert_eq!(t["result"], "connected", "{t}");
    let nobody = create(
        &app,
        &admin,
        json!({"provider": "postgres", "name": "n", "host": "127.0.0.1", "port": 5432,
               "identifier": "no_such_role_e2e", "options": {"database": "test"},
               "secrets": {"password": "unused"}}),
    )
    .await;
    let t = test(&app, &admin, &id(&nobody)).await;
    assert_eq!(t["result"], "authentication_failed", "{t}");
    assert_eq!(t["connection"]["invalid"], true);

    // TLS as the connection asks (`sslmode`): this PostgreSQL offers TLS with a self-signed
    // certificate, this MariaDB none. A TLS failure is not an authentication failure.
    let tls = |host_db: &str, provider: &str, user: &str, mode: &str| {
        json!({"provider": provider, "name": mode, "host": "127.0.0.1", "port": host_db,
               "identifier": user, "options": {"database": "test", "sslmode": mode},
               "secrets": {"password": MARIADB_PASSWORD}})
    };
    let required = create(&app, &admin, tls("5432", "postgres", "postgres", "require")).await;
    assert_eq!(
        test(&app, &admin, &id(&required)).await["result"],
        "connected"
    );
    let verified = create(
        &app,
        &admin,
        tls("5432", "postgres", "postgres", "verify-ca"),
    )
    .await;
    let t = test(&app, &admin, &id(&verified)).await;
    assert_eq!(t["result"], "failed", "{t}");
    assert_eq!(t["connection"]["invalid"], false);
    let no_tls = create(
        &app,
        &admin,
        tls("3306", "mariadb", MARIADB_USER, "require"),
    )
    .await;
    let t = test(&app, &admin, &id(&no_tls)).await;
    assert_eq!(t["result"], "failed", "{t}");
    assert!(!t.to_string().contains(MARIADB_PASSWORD));

    // A provider that cannot be tested says so and changes nothing.
    let drive = create(
        &app,
        &admin,
        json!({"provider": "googledrive", "name": "d"}),
    )
    .await;
    let t = test(&app, &admin, &id(&drive)).await;
    assert_eq!(t["result"], "unsupported");
    assert!(t["connection"]["lastTestedAt"].is_null());
}

/// With the default policy, tests refuse loopback, link-local/metadata and cluster names before
/// connecting, and leave `invalid` alone (AP-8).
async fn connection_tests_refuse_internal_addresses(app: TestApp) {
    let (admin, _) = admin_of_new_org(&app, "Ssrf").await;
    for host in [
        "127.0.0.1",
        "localhost",
        "::1",
        "169.254.169.254",
        "kubernetes.default.svc",
        "metadata.google.internal",
        "10.0.0.5",
    ] {
        let c = create(
            &app,
            &admin,
            json!({"provider": "postgresql", "name": "s", "host": host, "port": 5432,
                   "identifier": "postgres", "secrets": {"password": "p"}}),
        )
        .await;
        let t = test(&app, &admin, &id(&c)).await;
        assert_eq!(t["result"], "refused", "{host}: {t}");
        assert_eq!(t["connection"]["invalid"], false, "{host}");
    }
}

dual!(connection_tests_refuse_internal_addresses);
dual_backend!(connection_tests_really_connect);
