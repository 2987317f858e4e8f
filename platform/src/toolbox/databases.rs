//! Where the toolbox finds each service's database: the all-in-one's (`DATABASE_URL` with
//! `SCHEMA_PREFIX`, or the SQLite files in `DATA_DIR`), or per service, as the separate
//! binaries name theirs (`IDENTITY_DATABASE_URL`, …), for a deployment of separate services.

use secrecy::{ExposeSecret, SecretString};
use service_kit::{config::parse_secret, db::DbConfig};

/// Per-service databases that override the platform's.
#[derive(Debug, Clone, clap::Args)]
pub struct Databases {
    /// identity-svc's database when it is not the platform's (`postgres://…` or
    /// `sqlite://FILE`); default: the platform's `DATABASE_URL` (or `$DATA_DIR/identity.db`).
    #[arg(long, env = "IDENTITY_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub identity_database_url: Option<SecretString>,
    /// identity-svc's PostgreSQL schema with `--identity-database-url`.
    #[arg(
        long,
        env = "IDENTITY_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "identity"
    )]
    pub identity_database_schema: String,
    /// projects-svc's database when it is not the platform's.
    #[arg(long, env = "PROJECTS_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub projects_database_url: Option<SecretString>,
    /// projects-svc's PostgreSQL schema with `--projects-database-url`.
    #[arg(
        long,
        env = "PROJECTS_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "projects"
    )]
    pub projects_database_schema: String,
    /// connections-svc's database when it is not the platform's.
    #[arg(long, env = "CONNECTIONS_DATABASE_URL", value_name = "URL", value_parser = parse_secret, hide_env_values = true)]
    pub connections_database_url: Option<SecretString>,
    /// connections-svc's PostgreSQL schema with `--connections-database-url`.
    #[arg(
        long,
        env = "CONNECTIONS_DATABASE_SCHEMA",
        value_name = "SCHEMA",
        default_value = "connections"
    )]
    pub connections_database_schema: String,
}

impl Databases {
    /// The platform's own database of `service`, without overrides.
    pub fn default_for(config: &crate::Config, service: &str) -> DbConfig {
        DbConfig {
            url: config.database_url.clone(),
            schema: config.schema(service),
            sqlite_file: config.data_dir.join(format!("{service}.db")),
            max_connections: 2,
        }
    }

    /// The database of `service` (`identity`, `projects` or `connections`).
    pub fn of(&self, config: &crate::Config, service: &str) -> DbConfig {
        let own = match service {
            "identity" => (&self.identity_database_url, &self.identity_database_schema),
            "projects" => (&self.projects_database_url, &self.projects_database_schema),
            _ => (
                &self.connections_database_url,
                &self.connections_database_schema,
            ),
        };
        match own {
            (Some(url), schema) => DbConfig {
                url: Some(url.clone()),
                schema: schema.clone(),
                ..Self::default_for(config, service)
            },
            (None, _) => Self::default_for(config, service),
        }
    }
}

/// The migrations of `service` (`identity`, `projects` or `connections`).
pub fn migrations_of(service: &str) -> service_kit::migrate::Migrations {
    match service {
        "identity" => identity_svc::SCHEMA.migrations,
        "projects" => projects_svc::SCHEMA.migrations,
        _ => connections_svc::SCHEMA.migrations,
    }
}

/// Opens the database of `service` without creating or migrating anything: a wrong `DATA_DIR`
/// or `SCHEMA_PREFIX` must not make empty databases, nor a newer binary migrate a source. The
/// schema must hold every migration this binary knows (a newer release's are fine); otherwise
/// the error names the service and `platform migrate`.
pub async fn open(db: &DbConfig, service: &str) -> anyhow::Result<service_kit::db::Pool> {
    // SQLite creates a missing file on open: look for it first.
    let url = db.url.as_ref().map(|u| u.expose_secret().trim().to_owned());
    let file = match url.as_deref() {
        None | Some("" | "sqlite:") => Some(db.sqlite_file.clone()),
        Some(u) if u.starts_with("sqlite:") => {
            let options = std::str::FromStr::from_str(u).ok();
            options.map(|o: sqlx::sqlite::SqliteConnectOptions| o.get_filename().to_owned())
        }
        Some(_) => None,
    };
    if let Some(file) = file.filter(|f| !f.exists()) {
        anyhow::bail!(
            "{service}-svc's database {} does not exist: check DATA_DIR or the database URL, or create it with `platform migrate`",
            file.display()
        );
    }
    let pool = service_kit::db::connect_existing(db)
        .await
        .map_err(|e| anyhow::anyhow!("{service}-svc's database: {e:#}"))?;
    let state = match service_kit::migrate::state(&pool, migrations_of(service)).await {
        Ok(s) if s.is_current() => return Ok(pool),
        Ok(s) => Err(anyhow::anyhow!(
            "{service}-svc's schema is {}: check DATABASE_URL and SCHEMA_PREFIX, or bring it up to date with `platform migrate`",
            s.describe()
        )),
        Err(e) => Err(anyhow::anyhow!("{service}-svc's database: {e:#}")),
    };
    pool.close().await;
    state
}
