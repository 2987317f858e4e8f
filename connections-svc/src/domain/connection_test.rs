//! Testing a connection with its stored credentials: a database provider is connected to
//! through [`probe`] (egress policy, timeout, sanitized messages); an OAuth2 provider has its
//! access token refreshed when it is due. A test marks the connection invalid when the
//! credentials are refused, valid when it connects.

use std::time::Duration;

use chrono::Utc;
use service_kit::limits::{Hit, Limit};
use uuid::Uuid;

use super::{ConnectionView, Connections, Kind, invalid, not_found, now, validate::from_json};
use crate::{
    directory::Caller,
    error::{Error, Result},
    probe::{self, EgressPolicy, Engine, Outcome},
    store::{ConnectionRecord, SecretRecord},
};

/// Connection tests one user may run per ten minutes.
pub const TESTS_PER_USER: i64 = 30;
const TESTS: Limit = Limit {
    scope: "connection_tests",
    limit: TESTS_PER_USER,
    window: Duration::from_secs(600),
};

/// The result of a connection test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Connected,
    AuthenticationFailed,
    Refused,
    Failed,
    TimedOut,
    Unsupported,
}

/// A test's status, its sanitized message and the connection afterwards.
#[derive(Debug, Clone)]
pub struct TestReport {
    pub status: TestStatus,
    pub message: String,
    pub connection: ConnectionView,
}

/// How connection tests behave.
#[derive(Debug, Clone, Copy)]
pub struct TestSettings {
    pub egress: EgressPolicy,
    pub timeout: Duration,
}

impl Connections {
    /// Tests a connection with its stored credentials.
    pub async fn test(&self, caller: &Caller, id: Uuid, kind: Option<Kind>) -> Result<TestReport> {
        let m = self.directory.membership(caller).await?;
        let c = self.writable(caller, &m, id, kind).await?;
        // Each test reaches out to a server the caller names: bounded per user (AU-6), in the
        // database so that every replica counts against one limit.
        let user = caller.user_uuid.to_string();
        if let Hit::Refused(wait) = self.store.limit_hit(&TESTS, &user, Utc::now()).await? {
            return Err(Error::Throttled {
                message: "Too many connection tests; try again later".into(),
                retry_after: wait,
            });
        }
        let stored = self.store.secrets(id).await?;
        // The row and its secrets must be one version: a change committed between the two reads
        // could pair an old host with a new password.
        let again = self.store.get(id).await?.ok_or_else(not_found)?;
        if again.updated_at != c.updated_at {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; test it again".into(),
            ));
        }
        let (status, message) = if let Some(engine) = Engine::from_provider(&c.provider) {
            self.probe(&c, engine, &stored).await?
        } else if self.oauth.supports(&c.provider) {
            self.refresh(c.clone(), &stored, chrono::Duration::seconds(60))
                .await?
        } else {
            (
                TestStatus::Unsupported,
                format!("connections of provider {:?} cannot be tested", c.provider),
            )
        };
        let invalid = match status {
            TestStatus::Connected => false,
            TestStatus::AuthenticationFailed => true,
            _ => c.invalid,
        };
        if status != TestStatus::Unsupported {
            self.store.record_test(id, invalid, now()).await?;
        }
        tracing::info!(connection = %id, status = ?status, "connection tested");
        let c = self.store.get(id).await?.ok_or_else(not_found)?;
        Ok(TestReport {
            status,
            message,
            connection: self.view(c).await?,
        })
    }

    /// Connects to `c` with its stored password under the egress policy and the timeout.
    async fn probe(
        &self,
        c: &ConnectionRecord,
        engine: Engine,
        stored: &[SecretRecord],
    ) -> Result<(TestStatus, String)> {
        if c.host.is_empty() {
            return Err(invalid("the connection has no host to test"));
        }
        let default_port = match engine {
            Engine::Postgres => 5432,
            Engine::MySql => 3306,
        };
        let port = if c.port.is_empty() {
            default_port
        } else {
            c.port
                .parse()
                .map_err(|_| Error::Internal(anyhow::anyhow!("stored port {:?}", c.port)))?
        };
        let password = match stored.iter().find(|s| s.field == "password") {
            Some(s) => Some(self.open(c, s)?),
            None => None,
        };
        let options = from_json("options", &c.options)?;
        let database = options
            .get("database")
            .or_else(|| options.get("dbname"))
            .cloned();
        let target = probe::Target {
            engine,
            host: c.host.clone(),
            port,
            user: c.identifier.clone(),
            password,
            database,
            tls: options
                .get("sslmode")
                .and_then(|m| probe::Tls::parse(m))
                .unwrap_or_default(),
        };
        Ok(
            match probe::test_connection(&self.tests.egress, &target, self.tests.timeout).await {
                Outcome::Connected => (TestStatus::Connected, "connected".into()),
                Outcome::AuthenticationFailed { message } => {
                    (TestStatus::AuthenticationFailed, message)
                }
                Outcome::Refused { reason } => (TestStatus::Refused, reason),
                Outcome::Failed { message } => (TestStatus::Failed, message),
                Outcome::TimedOut => (
                    TestStatus::TimedOut,
                    format!(
                        "no answer within {} seconds",
                        self.tests.timeout.as_secs_f64()
                    ),
                ),
            },
        )
    }
}
