//! `create-admin`: the first user and organization of a deployment, without a browser, the same
//! in `identity-svc create-admin` (a deployment) and `platform create-admin` (the all-in-one).
//! The rules are registration's and organization creation's (email and name validation, the
//! password policy, Argon2id hashing); the user is the organization's admin and logs in through
//! the API at once. Neither registering nor creating an organization writes an event (events
//! carry deletions only, docs/events.md), so neither does this. It writes to the database
//! directly (migrating it first if needed), so it works while the service runs.

use std::{io::Write, time::Duration};

use chrono::Utc;
use proto::identity::v1::OrganizationRole;
use secrecy::SecretString;
use service_kit::db::{self, DbConfig};
use uuid::Uuid;

use crate::{
    domain::{
        new_user,
        organizations::{new_organization, org_name},
        password, validate,
    },
    error::Error,
    operator::DatabaseArgs,
    store::{self, IdentityStore, StoreError},
};

/// The variable `create-admin` reads the password from when `--password-stdin` is not given.
pub const PASSWORD_VARIABLE: &str = "ADMIN_PASSWORD";

/// Arguments of `create-admin`.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateAdmin {
    /// The admin's email address (their login).
    #[arg(long)]
    pub email: String,
    /// The name of the organization to create.
    #[arg(long, value_name = "NAME")]
    pub organization: String,
    /// The admin's first name.
    #[arg(long, default_value = "Admin")]
    pub first_name: String,
    /// The admin's last name.
    #[arg(long, default_value = "User")]
    pub last_name: String,
    /// Read the password from the first line of standard input. Without it, the password is
    /// read from the variable ADMIN_PASSWORD; it is never an argument (others can read those).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `identity-svc create-admin`: the service's own database settings.
#[derive(Debug, clap::Parser)]
#[command(
    name = "identity-svc create-admin",
    about = "Create the first user and organization (the user its admin) in identity-svc's database",
    long_about = None
)]
pub struct CreateAdminCli {
    /// The log filter (logs go to stderr).
    #[command(flatten)]
    pub log: service_kit::config::LogArgs,
    /// identity-svc's database.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Who and what to create.
    #[command(flatten)]
    pub args: CreateAdmin,
}

/// What `create-admin` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub user_uuid: Uuid,
    pub organization_uuid: Uuid,
    /// False: the user was already the admin of an organization by that name (nothing done).
    pub created: bool,
}

/// The password as `args` says where to find it: standard input's first line or the variable.
pub fn read_password(args: &CreateAdmin) -> anyhow::Result<SecretString> {
    let mut line = String::new();
    if args.password_stdin {
        std::io::stdin().read_line(&mut line)?;
    } else {
        line = std::env::var(PASSWORD_VARIABLE).map_err(|_| {
            anyhow::anyhow!("no password: set {PASSWORD_VARIABLE} or pass --password-stdin")
        })?;
    }
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    Ok(SecretString::from(password))
}

/// Runs `create-admin` on the database `db`; its answer to `out`, the last line one JSON object
/// `{"organizationUuid", "userUuid", "created"}`.
pub async fn cli(
    db: &DbConfig,
    args: &CreateAdmin,
    password: SecretString,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let pool = db::connect(db).await?;
    let result = async {
        pool.migrate(&store::SQLITE_MIGRATIONS, &store::POSTGRES_MIGRATIONS)
            .await?;
        let store = store::for_pool(pool.clone()).await;
        let hasher = password::PasswordHasher::new(1, Duration::from_secs(60))?;
        Ok::<_, anyhow::Error>(create_admin(store.as_ref(), &hasher, args, password).await?)
    }
    .await;
    pool.close().await;
    let o = result?;
    writeln!(
        out,
        "{}",
        if o.created {
            "user and organization created; the user is its admin and may log in"
        } else {
            "the user is already the admin of an organization by that name: nothing changed"
        }
    )?;
    let line = format!(
        r#"{{"organizationUuid":"{}","userUuid":"{}","created":{}}}"#,
        o.organization_uuid, o.user_uuid, o.created
    );
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Creates the user and their organization by registration's rules; when the email is taken,
/// succeeds without change only if that user is already the admin of an organization named
/// the same (running the bootstrap again), else refuses. The password of an existing user is
/// neither checked nor changed.
pub async fn create_admin(
    store: &dyn IdentityStore,
    hasher: &password::PasswordHasher,
    args: &CreateAdmin,
    password: SecretString,
) -> Result<Outcome, Error> {
    let email = validate::email(&args.email)?;
    let first_name = validate::name("first name", &args.first_name)?;
    let last_name = validate::name("last name", &args.last_name)?;
    let name = org_name(&args.organization)?;
    password::check_policy(&password)?;
    if let Some(found) = store.credentials_by_email(&email).await? {
        let user_uuid = found.user.user_uuid;
        return match store.membership(user_uuid).await? {
            Some(m) if m.role == OrganizationRole::Admin && m.organization.name == name => {
                Ok(Outcome {
                    user_uuid,
                    organization_uuid: m.organization.organization_uuid,
                    created: false,
                })
            }
            _ => Err(Error::AlreadyExists(
                "a user with this email already exists, and is not the admin of an organization by that name"
                    .into(),
            )),
        };
    }
    let hash = hasher.hash(password).await?;
    let now = Utc::now();
    let user = new_user(email, first_name, last_name, now);
    let organization = new_organization(name, now);
    match store
        .create_user_with_organization(&user, &hash, &organization)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict) => {
            return Err(Error::AlreadyExists(
                "a user with this email already exists".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user_uuid = %user.user_uuid, organization_uuid = %organization.organization_uuid, "admin and organization created");
    Ok(Outcome {
        user_uuid: user.user_uuid,
        organization_uuid: organization.organization_uuid,
        created: true,
    })
}
