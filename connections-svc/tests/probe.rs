//! The connection test ([`connections_svc::probe`]) against real services on this machine:
//! PostgreSQL from `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`, trust
//! auth), MariaDB from `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`, root with
//! an empty password), and local TCP listeners. No mocks. Both databases are expected on a
//! loopback address. A database test whose server is unreachable is skipped loudly, except with
//! `CI=true`, where it fails.

use std::{
    fmt::Display,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    time::{Duration, Instant},
};

use connections_svc::probe::{EgressPolicy, Engine, Outcome, Target, test_connection};
use secrecy::SecretString;
use sqlx::{
    AssertSqlSafe, Connection,
    mysql::{MySqlConnectOptions, MySqlConnection},
    postgres::{PgConnectOptions, PgConnection},
};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(10);
const LOOPBACK: EgressPolicy = EgressPolicy {
    allow_loopback: true,
    allow_private: false,
};
const DENY_ALL: EgressPolicy = EgressPolicy {
    allow_loopback: false,
    allow_private: false,
};
const ALLOW_ALL: EgressPolicy = EgressPolicy {
    allow_loopback: true,
    allow_private: true,
};
/// The password of the MariaDB user the tests create.
const MYSQL_TEST_PASSWORD: &str = "probe-Test-pw-4c1e";

fn target(engine: Engine, host: &str, port: u16, user: &str) -> Target {
    Target {
        engine,
        host: host.into(),
        port,
        user: user.into(),
        password: None,
        database: None,
        tls: Default::default(),
    }
}

/// With `CI=true` a missing database fails the test; elsewhere it is skipped, loudly.
fn skip_or_fail(what: &str, at: &str, variable: &str, error: &dyn Display) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is not reachable at {at} ({error}), and CI=true requires the {what} tests");
    }
    eprintln!(
        "\n!!! SKIPPING a {what} connection test: no {what} at {at} ({error}; set {variable}) !!!\n"
    );
}

/// Asserts that no secret text appears in an outcome, however it is printed.
fn assert_absent(outcome: &Outcome, canary: &str) {
    let shown = format!("{outcome:?} {outcome:#?}");
    assert!(!shown.contains(canary), "the password leaked: {shown}");
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The admin options of `TEST_DATABASE_URL`, when PostgreSQL answers there.
async fn postgres() -> Option<PgConnectOptions> {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let options = PgConnectOptions::from_str(&url).expect("TEST_DATABASE_URL parses");
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let reached =
        tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&options)).await;
    match reached {
        Ok(Ok(connection)) => {
            connection.close().await.ok();
            Some(options)
        }
        Ok(Err(e)) => {
            skip_or_fail("PostgreSQL", &at, "TEST_DATABASE_URL", &e);
            None
        }
        Err(_) => {
            skip_or_fail("PostgreSQL", &at, "TEST_DATABASE_URL", &"timed out");
            None
        }
    }
}

fn pg_target(options: &PgConnectOptions) -> Target {
    let mut t = target(
        Engine::Postgres,
        options.get_host(),
        options.get_port(),
        options.get_username(),
    );
    t.database = options.get_database().map(Into::into);
    t
}

#[tokio::test]
async fn postgres_connects() {
    let Some(options) = postgres().await else {
        return;
    };
    let outcome = test_connection(&LOOPBACK, &pg_target(&options), TIMEOUT).await;
    assert_eq!(outcome, Outcome::Connected);
}

#[tokio::test]
async fn postgres_connects_by_name_to_the_vetted_address() {
    let Some(options) = postgres().await else {
        return;
    };
    let loopback = options
        .get_host()
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || options.get_host() == "localhost";
    if !loopback {
        eprintln!("PostgreSQL is not on a loopback address: no test through the name localhost");
        return;
    }
    let mut target = pg_target(&options);
    target.host = "localhost".into();
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    assert_eq!(outcome, Outcome::Connected);
}

#[tokio::test]
async fn postgres_unknown_role_is_an_authentication_failure() {
    let Some(options) = postgres().await else {
        return;
    };
    let canary = "canary-PG-pw-93b1f0";
    let mut target = pg_target(&options);
    target.user = "probe_no_such_role".into();
    target.password = Some(SecretString::from(canary));
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    let Outcome::AuthenticationFailed { message } = &outcome else {
        panic!("expected AuthenticationFailed, got {outcome:?}");
    };
    assert!(message.contains("28000"), "{message}");
    assert!(message.contains("probe_no_such_role"), "{message}");
    assert_absent(&outcome, canary);
    assert!(!format!("{target:?}").contains(canary));
}

#[tokio::test]
async fn postgres_unknown_database_is_a_failure() {
    let Some(options) = postgres().await else {
        return;
    };
    let mut target = pg_target(&options);
    target.database = Some("probe_no_such_database".into());
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    let Outcome::Failed { message } = &outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("3D000"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// MariaDB / MySQL

/// The admin options of `TEST_MYSQL_URL`, when MariaDB answers there, with the user
/// `probe_test` (password [`MYSQL_TEST_PASSWORD`]) created and allowed to read the database.
async fn mariadb() -> Option<MySqlConnectOptions> {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let options = MySqlConnectOptions::from_str(&url).expect("TEST_MYSQL_URL parses");
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let reached = tokio::time::timeout(
        Duration::from_secs(5),
        MySqlConnection::connect_with(&options),
    )
    .await;
    let mut admin = match reached {
        Ok(Ok(connection)) => connection,
        Ok(Err(e)) => {
            skip_or_fail("MariaDB", &at, "TEST_MYSQL_URL", &e);
            return None;
        }
        Err(_) => {
            skip_or_fail("MariaDB", &at, "TEST_MYSQL_URL", &"timed out");
            return None;
        }
    };
    let database = options.get_database().unwrap_or("test").replace('`', "``");
    // Idempotent, so that tests running at once may all do it.
    for host in ["%", "localhost"] {
        for sql in [
            format!(
                "CREATE USER IF NOT EXISTS 'probe_test'@'{host}' IDENTIFIED BY '{MYSQL_TEST_PASSWORD}'"
            ),
            format!("ALTER USER 'probe_test'@'{host}' IDENTIFIED BY '{MYSQL_TEST_PASSWORD}'"),
            format!("GRANT USAGE, SELECT ON `{database}`.* TO 'probe_test'@'{host}'"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
                .expect("the MariaDB test user is set up");
        }
    }
    admin.close().await.ok();
    Some(options)
}

fn mysql_target(options: &MySqlConnectOptions, password: Option<&str>) -> Target {
    let mut t = target(
        Engine::MySql,
        options.get_host(),
        options.get_port(),
        "probe_test",
    );
    t.password = password.map(SecretString::from);
    t.database = options.get_database().map(Into::into);
    t
}

#[tokio::test]
async fn mariadb_connects_with_the_right_password() {
    let Some(options) = mariadb().await else {
        return;
    };
    let target = mysql_target(&options, Some(MYSQL_TEST_PASSWORD));
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    assert_eq!(outcome, Outcome::Connected);
}

#[tokio::test]
async fn mariadb_wrong_password_is_an_authentication_failure() {
    let Some(options) = mariadb().await else {
        return;
    };
    let canary = "canary-MY-pw-5e2d7a";
    let target = mysql_target(&options, Some(canary));
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    let Outcome::AuthenticationFailed { message } = &outcome else {
        panic!("expected AuthenticationFailed, got {outcome:?}");
    };
    assert!(message.contains("1045"), "{message}");
    assert_absent(&outcome, canary);
    assert!(!format!("{target:?}").contains(canary));

    // No password at all, where one is needed, is rejected credentials too.
    let outcome = test_connection(&LOOPBACK, &mysql_target(&options, None), TIMEOUT).await;
    assert!(
        matches!(outcome, Outcome::AuthenticationFailed { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn mariadb_unknown_database_is_a_failure() {
    let Some(options) = mariadb().await else {
        return;
    };
    // The admin user (in the default URL: no password), who may see every database, so that
    // the error is "unknown database".
    let mut target = target(
        Engine::MySql,
        options.get_host(),
        options.get_port(),
        options.get_username(),
    );
    target.database = options.get_database().map(Into::into);
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    assert_eq!(
        outcome,
        Outcome::Connected,
        "the admin user, without a password"
    );

    target.database = Some("probe_no_such_database".into());
    let outcome = test_connection(&LOOPBACK, &target, TIMEOUT).await;
    let Outcome::Failed { message } = &outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(message.contains("1049"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Egress policy, timeout and unreachable servers: local listeners only

/// Asserts that nobody connected to `listener`.
async fn assert_not_contacted(listener: &TcpListener) {
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the probe connected to {:?}",
        listener.local_addr()
    );
}

#[tokio::test]
async fn loopback_is_refused_without_connecting() {
    let v4 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let v6 = TcpListener::bind("[::1]:0").await.ok();
    let port4 = v4.local_addr().unwrap().port();
    let port6 = v6
        .as_ref()
        .map_or(port4, |l| l.local_addr().unwrap().port());
    for engine in [Engine::Postgres, Engine::MySql] {
        for (host, port) in [
            ("127.0.0.1", port4),
            ("localhost", port4),
            ("LocalHost.", port4),
            ("127.0.0.2", port4),
            ("::ffff:127.0.0.1", port4),
            ("[::1]", port6),
            ("::1", port6),
        ] {
            let outcome =
                test_connection(&DENY_ALL, &target(engine, host, port, "u"), TIMEOUT).await;
            assert!(
                matches!(&outcome, Outcome::Refused { reason } if reason.contains("loopback")),
                "{engine:?} {host}: {outcome:?}"
            );
        }
    }
    assert_not_contacted(&v4).await;
    if let Some(v6) = &v6 {
        assert_not_contacted(v6).await;
    }
}

#[tokio::test]
async fn internal_targets_are_refused_under_every_policy() {
    for host in [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "[fd00:ec2::254]",
        "100.100.100.200",
        "0.0.0.0",
        "metadata.google.internal",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "identity-svc.platform.svc",
    ] {
        let started = Instant::now();
        let outcome = test_connection(
            &ALLOW_ALL,
            &target(Engine::Postgres, host, 5432, "u"),
            TIMEOUT,
        )
        .await;
        assert!(
            matches!(outcome, Outcome::Refused { .. }),
            "{host}: {outcome:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{host} was refused only after {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts every connection and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    for engine in [Engine::Postgres, Engine::MySql] {
        let started = Instant::now();
        let outcome = test_connection(
            &LOOPBACK,
            &target(engine, "127.0.0.1", port, "u"),
            Duration::from_millis(300),
        )
        .await;
        let took = started.elapsed();
        assert_eq!(outcome, Outcome::TimedOut, "{engine:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{engine:?} took {took:?}"
        );
    }
    holder.abort();
}

#[tokio::test]
async fn a_closed_port_is_a_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    for engine in [Engine::Postgres, Engine::MySql] {
        let outcome = test_connection(
            &LOOPBACK,
            &target(engine, "127.0.0.1", address.port(), "u"),
            TIMEOUT,
        )
        .await;
        let Outcome::Failed { message } = &outcome else {
            panic!("{engine:?}: expected Failed, got {outcome:?}");
        };
        assert!(message.to_lowercase().contains("refused"), "{message}");
    }
}

#[tokio::test]
async fn invalid_input_is_a_failure() {
    let mut nul = target(
        Engine::Postgres,
        "127.0.0.1",
        5432,
        "u\0replication\0database",
    );
    nul.database = Some("x".into());
    let outcome = test_connection(&LOOPBACK, &nul, TIMEOUT).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
    let zero = target(Engine::MySql, "127.0.0.1", 0, "u");
    let outcome = test_connection(&LOOPBACK, &zero, TIMEOUT).await;
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
}
