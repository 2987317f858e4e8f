//! Builds identity-svc from its configuration and runs it.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use proto::identity::v1::{
    accounts_server::AccountsServer, identity_service_server::IdentityServiceServer,
};
use service_kit::{
    callers::{AcceptedCallers, CallerLayer},
    db::DbConfig,
    grpc::{InternalCredential, guard::ScopeGuard, tls::ServerTls},
    host::{Database, ServiceHost},
    jwt::{JwtVerifier, TokenProfile, TokenSigner},
};
use tokio_util::sync::CancellationToken;

use crate::{
    config::Config,
    domain::{self, Identity, keys::StoreJwks, password::PasswordHasher},
    grpc::{IdentityGrpc, scopes},
    store,
};

/// A built, not yet running identity-svc.
#[derive(Debug)]
pub struct Application(ServiceHost);

impl Application {
    /// Connects and migrates the database, loads the signing keys and binds the listener.
    pub fn build(
        config: Config,
        shutdown: CancellationToken,
    ) -> service_kit::BoxFuture<'static, anyhow::Result<Self>> {
        Box::pin(Self::built(config, shutdown))
    }

    async fn built(config: Config, shutdown: CancellationToken) -> anyhow::Result<Self> {
        // First: the recorder must be installed before the request layers are built.
        service_kit::metrics::serve(&config.metrics, shutdown.clone()).await?;
        service_kit::jwt::install_crypto_provider();
        // Checked for its length; no call presents it yet.
        InternalCredential::new(config.service_credential.clone())?;
        let callers = CallerLayer::new(
            AcceptedCallers::parse(&config.service_credentials)?,
            crate::grpc::callers::CALLERS,
        );
        let keyring = Arc::new(config.keyring()?);
        let db = DbConfig {
            url: config.database_url.clone(),
            schema: config.database_schema.clone(),
            sqlite_file: config.data_dir.join("identity.db"),
            max_connections: config.settings.identity_db_max_connections,
        };
        let host = ServiceHost::start(
            "identity-svc",
            config.listen_addr,
            &ServerTls::load(&config.tls, &config.tls_server)?,
            Database {
                config: &db,
                migrations: crate::SCHEMA.migrations,
                on_start: &config.migrations,
            },
            &[proto::FILE_DESCRIPTOR_SET],
            callers,
            shutdown.clone(),
        )
        .await?;
        let store = store::for_pool(host.pool().clone()).await;

        let profile = TokenProfile {
            ttl: config.access_token_ttl(),
            ..TokenProfile::default()
        };
        let key_policy = domain::keys::KeyPolicy::new(
            Duration::from_secs(config.settings.signing_key_rotation_seconds),
            config.access_token_ttl(),
            config.key_set.refresh_interval(),
        );
        domain::keys::seal_clear_keys(store.as_ref(), &keyring).await?;
        let key = domain::keys::apply(store.as_ref(), &keyring, &key_policy).await?;
        let signer = Arc::new(TokenSigner::new(profile.clone(), key));
        domain::keys::spawn_rotation(
            store.clone(),
            keyring.clone(),
            signer.clone(),
            key_policy,
            shutdown.clone(),
        );
        let jwks = StoreJwks(store.clone(), keyring);
        let verifier = Arc::new(
            JwtVerifier::new(profile, Arc::new(jwks.clone()))
                .with_min_refetch_interval(Duration::from_secs(1)),
        );
        verifier.spawn_periodic_refresh(config.key_set.refresh_interval(), shutdown.clone());
        let concurrency = config
            .settings
            .password_hash_concurrency
            .map_or_else(service_kit::config::available_cpus, usize::from);
        tracing::info!(threads = concurrency, "password hashing");
        let hasher = PasswordHasher::new(concurrency, Duration::from_secs(5))?;
        let settings = domain::Settings {
            session_ttl: Duration::from_secs(config.settings.session_ttl_seconds),
            login_limits: domain::throttle::Limits {
                per_account: config.settings.login_failures_per_account,
                per_address: config.settings.login_failures_per_address,
                window: Duration::from_secs(300),
            },
            passcode_ttl: Duration::from_secs(config.settings.email_passcode_ttl_seconds),
            max_passcode_attempts: 5,
            passcodes_per_hour: config.settings.email_passcodes_per_hour,
            passcode_key: crate::domain::email::PasscodeKey::derive(
                secrecy::ExposeSecret::expose_secret(&config.service_credential),
            ),
            invitations_per_hour: config.settings.invitations_per_hour,
            registrations_per_address_per_hour: config.settings.registrations_per_address_per_hour,
            registrations_per_hour: config.settings.registrations_per_hour,
            password_resets_per_hour: config.settings.password_resets_per_hour,
            password_resets_per_address_per_hour: config
                .settings
                .password_resets_per_address_per_hour,
            recent_login: Duration::from_secs(config.settings.recent_login_seconds),
        };
        let mailer = crate::mail::from_url(
            &config.mail_url(),
            &config.settings.mail_from,
            Duration::from_secs(10),
        )?;
        tracing::info!(mailer = ?mailer, "mail transport");
        let identity = Arc::new(Identity::new(
            store.clone(),
            hasher,
            signer,
            mailer.into(),
            settings,
        ));
        domain::spawn_purge(
            store,
            Duration::from_secs(config.settings.purge_interval_seconds),
            identity.throttles.longest(),
            shutdown.clone(),
        );
        outbox::watch_head("identity", host.pool().clone(), shutdown.clone());
        let events = outbox::server(
            host.pool().clone(),
            outbox::SnapshotQueries {
                organizations: Some("SELECT organization_uuid FROM organizations"),
                memberships: Some("SELECT organization_uuid, user_uuid FROM memberships"),
                groups: Some("SELECT group_uuid FROM groups"),
                projects: None,
            },
            Duration::from_secs(config.events.events_retention_seconds),
            shutdown,
        );
        let recent_login = Duration::from_secs(config.settings.recent_login_seconds);
        let service = IdentityGrpc::new(identity, verifier.clone(), jwks);
        let accounts = ScopeGuard::new(
            AccountsServer::new(service.clone()),
            scopes::ACCOUNTS,
            verifier.clone(),
            recent_login,
        );
        let identity = ScopeGuard::new(
            IdentityServiceServer::new(service),
            scopes::IDENTITY,
            verifier,
            recent_login,
        );
        Ok(Self(host.add_routes(|r| {
            r.add_service(accounts)
                .add_service(identity)
                .add_service(events)
        })))
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// Serves until the shutdown token is cancelled; in-flight calls finish first.
    pub fn run(self) -> service_kit::BoxFuture<'static, anyhow::Result<()>> {
        self.0.run()
    }
}
