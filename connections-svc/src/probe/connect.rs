//! The drivers' side of a connection test: one PostgreSQL or MySQL connection to a vetted
//! address, `SELECT 1`, and what a failure means ([`classify`]: rejected credentials or any
//! other failure). The password is exposed only to hand it to the driver.

use std::net::IpAddr;

use sqlx::{
    Connection,
    mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlSslMode},
    postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgSslMode},
};

use super::{Engine, Outcome, Target, Tls, message::sanitize};

/// The application name the probe announces to PostgreSQL servers.
const APPLICATION_NAME: &str = "connections-svc connection test";

/// Connects to `ip` (never the name again), runs `SELECT 1` and closes.
pub(super) async fn connect_and_query(
    target: &Target,
    ip: IpAddr,
    password: Option<&str>,
) -> Result<(), sqlx::Error> {
    let host = ip.to_string();
    match target.engine {
        Engine::Postgres => {
            // `new_without_pgpass` skips `.pgpass`; the password is always set so that
            // `PGPASSWORD`, the service's own, can never reach a customer's server.
            let mut options = PgConnectOptions::new_without_pgpass()
                .host(&host)
                .port(target.port)
                .username(&target.user)
                .password(password.unwrap_or_default())
                .ssl_mode(match target.tls {
                    Tls::Prefer => PgSslMode::Prefer,
                    Tls::Require => PgSslMode::Require,
                    Tls::VerifyCa => PgSslMode::VerifyCa,
                })
                .application_name(APPLICATION_NAME);
            // Without a database PostgreSQL takes the user name, which is also what PGDATABASE
            // would otherwise override.
            options = options.database(target.database.as_deref().unwrap_or(&target.user));
            let mut connection = PgConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").fetch_one(&mut connection).await?;
            connection.close().await.ok();
        }
        Engine::MySql => {
            let mut options = MySqlConnectOptions::new()
                .host(&host)
                .port(target.port)
                .username(&target.user)
                .ssl_mode(match target.tls {
                    Tls::Prefer => MySqlSslMode::Preferred,
                    Tls::Require => MySqlSslMode::Required,
                    Tls::VerifyCa => MySqlSslMode::VerifyCa,
                })
                // Never send the password in clear text, whatever the server asks for.
                .enable_cleartext_plugin(false);
            // An empty password is no password: MySQL would otherwise get a scramble of "".
            if let Some(password) = password.filter(|p| !p.is_empty()) {
                options = options.password(password);
            }
            if let Some(database) = &target.database {
                options = options.database(database);
            }
            let mut connection = MySqlConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").fetch_one(&mut connection).await?;
            connection.close().await.ok();
        }
    }
    Ok(())
}

/// PostgreSQL SQLSTATE class 28 (invalid authorisation specification: 28000, 28P01) and MySQL
/// errors 1044 (database access denied), 1045 (access denied) and 1698 (access denied without
/// password) are rejected credentials; anything else is a failure.
pub(super) fn classify(engine: Engine, error: &sqlx::Error, password: Option<&str>) -> Outcome {
    let Some(database) = error.as_database_error() else {
        return Outcome::Failed {
            message: sanitize(&error.to_string(), password),
        };
    };
    let (authentication, text) = match engine {
        Engine::Postgres => match database.try_downcast_ref::<PgDatabaseError>() {
            Some(e) => (
                e.code().starts_with("28"),
                format!("{} ({})", e.message(), e.code()),
            ),
            None => (false, database.message().to_owned()),
        },
        Engine::MySql => match database.try_downcast_ref::<MySqlDatabaseError>() {
            Some(e) => (
                matches!(e.number(), 1044 | 1045 | 1698),
                format!("{} (error {})", e.message(), e.number()),
            ),
            None => (false, database.message().to_owned()),
        },
    };
    let message = sanitize(&text, password);
    if authentication {
        Outcome::AuthenticationFailed { message }
    } else {
        Outcome::Failed { message }
    }
}
