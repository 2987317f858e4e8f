//! A fresh PostgreSQL database per test, prepared by deploy/k8s/postgres-init.sql itself, and
//! replicas of the services started in this process.

use std::{net::SocketAddr, path::PathBuf, process::Command, time::Duration};

use reqwest::Url;
use secrecy::SecretString;
use service_kit::{
    callers::{AcceptedCallers, Caller},
    envelope::Keyring,
    grpc::InternalCredential,
    migrate::MigrationArgs,
};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The services' schemas (and roles), as the script names them.
pub(crate) const SERVICES: [&str; 3] = ["identity", "connections", "projects"];

/// The superuser URL the tests use (TEST_DATABASE_URL).
pub(crate) fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.into())
}

/// Whether PostgreSQL answers; panics when it does not and CI=true requires it.
pub(crate) async fn postgres_or_skip() -> bool {
    let url = admin_url();
    let connect = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url);
    if matches!(
        tokio::time::timeout(Duration::from_secs(5), connect).await,
        Ok(Ok(_))
    ) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "PostgreSQL is not reachable at {url}, and CI=true requires the PostgreSQL tests"
    );
    eprintln!("\n!!! SKIPPING a PostgreSQL test: no PostgreSQL at {url} !!!\n");
    false
}

/// The password the test gives `role`.
fn password(role: &str) -> String {
    format!("test-password-of-{role}")
}

/// A database of its own, dropped (with its connections) when this is dropped.
pub(crate) struct FreshDatabase {
    pub(crate) name: String,
}

impl FreshDatabase {
    /// An empty database (no schema, no role): the laptop's PostgreSQL.
    pub(crate) fn empty() -> Self {
        let db = Self::named();
        psql(
            &admin_url(),
            &["-c", &format!("CREATE DATABASE \"{}\"", db.name)],
        );
        db
    }

    /// A database prepared by deploy/k8s/postgres-init.sql, with the test's passwords (given
    /// to the script, and set again: the roles are the cluster's and may exist already).
    pub(crate) fn initialized() -> Self {
        // The roles are the cluster's: two scripts or ALTER ROLEs at once collide ("tuple
        // concurrently updated"), so the tests of this binary prepare their databases in turn.
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let db = Self::named();
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s/postgres-init.sql");
        let mut args = vec![
            "-v".to_owned(),
            format!("dbname={}", db.name),
            "-f".to_owned(),
            script.display().to_string(),
        ];
        for s in SERVICES {
            for role in [s.to_owned(), format!("{s}_migrator")] {
                args.extend([
                    "-v".to_owned(),
                    format!("{role}_password={}", password(&role)),
                ]);
            }
        }
        psql(
            &admin_url(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        for s in SERVICES {
            for role in [s.to_owned(), format!("{s}_migrator")] {
                let sql = format!("ALTER ROLE {role} PASSWORD '{}'", password(&role));
                psql(&admin_url(), &["-c", &sql]);
            }
        }
        db
    }

    fn named() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            name: format!("platform_migrations_{}", &id[..12]),
        }
    }

    /// The URL of this database as `role` (None: the superuser of TEST_DATABASE_URL).
    pub(crate) fn url(&self, role: Option<&str>) -> String {
        let mut url = Url::parse(&admin_url()).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&self.name);
        if let Some(role) = role {
            url.set_username(role).unwrap();
            url.set_password(Some(&password(role))).unwrap();
        }
        url.to_string()
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let _ = Command::new("psql")
            .args([admin_url().as_str(), "-X", "-q", "-c", &sql])
            .status();
    }
}

/// Runs psql on `url` with ON_ERROR_STOP; panics with its output when it fails.
pub(crate) fn psql(url: &str, args: &[&str]) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("psql runs (/usr/bin/psql)");
    assert!(
        out.status.success(),
        "psql {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `platform migrate --service <service>` with DATABASE_URL `url`: what the Job runs.
pub(crate) async fn migrate(service: &str, url: &str) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_platform"))
        .args(["migrate", "--service", service])
        .env("DATABASE_URL", url)
        .env("SCHEMA_PREFIX", "")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("platform runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Serves a built application in the background; its address.
macro_rules! serve {
    ($build:expr) => {{
        let app = $build.await?;
        let addr = app.local_addr();
        tokio::spawn(app.run());
        addr
    }};
}

/// What every replica of one test shares: the key rings (replicas must open each other's
/// sealed rows) and the caller they accept.
pub(crate) struct Replicas {
    identity_keys: String,
    connections_keys: String,
    pub(crate) shutdown: CancellationToken,
}

const GATEWAY: &str = "migrations-test-gateway-credential-0123456789";

impl Replicas {
    pub(crate) fn new() -> Self {
        Self {
            identity_keys: Keyring::generate_spec(1),
            connections_keys: Keyring::generate_spec(1),
            shutdown: CancellationToken::new(),
        }
    }

    /// Starts one replica of `service` on `url` and serves it; its gRPC address.
    pub(crate) async fn start(
        &self,
        service: &str,
        url: &str,
        migrations: MigrationArgs,
    ) -> anyhow::Result<SocketAddr> {
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let url = Some(SecretString::from(url.to_owned()));
        let dir = std::env::temp_dir().join("platform-migrations-test");
        let credential =
            SecretString::from(format!("migrations-test-{service}-credential-0123456789"));
        let gateway = InternalCredential::new(SecretString::from(GATEWAY)).unwrap();
        let accepts = AcceptedCallers::of(&[(Caller::Gateway, &gateway)]).to_setting();
        let identity_url = "http://127.0.0.1:9".to_owned();
        let shutdown = self.shutdown.clone();
        let addr = match service {
            "identity" => {
                let mut c = identity_svc::Config::new(loopback, url, dir, credential, accepts);
                c.migrations = migrations;
                c.settings.identity_keys = Some(SecretString::from(self.identity_keys.clone()));
                serve!(identity_svc::Application::build(c, shutdown))
            }
            "connections" => {
                let mut c = connections_svc::Config::new(
                    loopback,
                    url,
                    dir,
                    identity_url,
                    credential,
                    accepts,
                );
                c.migrations = migrations;
                c.events.consume_events = false;
                c.settings.connections_keys =
                    Some(SecretString::from(self.connections_keys.clone()));
                serve!(connections_svc::Application::build(c, shutdown))
            }
            "projects" => {
                let (i, u) = (identity_url, url);
                let mut c = projects_svc::Config::new(loopback, u, dir, i, credential, accepts);
                c.migrations = migrations;
                c.consumer.consume_events = false;
                serve!(projects_svc::Application::build(c, shutdown))
            }
            other => anyhow::bail!("no service {other}"),
        };
        Ok(addr)
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Waits (10 s at most) until the server at `addr` answers SERVING on gRPC health.
pub(crate) async fn assert_serving(name: &str, addr: SocketAddr) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{name} at {addr}: {e}"));
    let mut status = ServingStatus::Unknown;
    for _ in 0..50 {
        status = HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status())
            .unwrap_or(ServingStatus::Unknown);
        if status == ServingStatus::Serving {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{name} at {addr} is {status:?}, not SERVING");
}
