//! The harness: identity-svc itself (`Application`) on a loopback port over a fresh SQLite file
//! or PostgreSQL schema, users with access tokens, and a pool of the test's own on the same
//! database for fixtures the API does not offer (memberships of sub-accounts, a removed
//! account).

use std::{
    io::Write,
    path::PathBuf,
    sync::{LazyLock, Mutex},
    time::Duration,
};

use identity_svc::{Application, Config};
use proto::identity::v1::{
    self as pb, accounts_client::AccountsClient, identity_service_client::IdentityServiceClient,
};
use secrecy::SecretString;
use service_kit::{
    callers::{AcceptedCallers, Caller},
    db::{DbConfig, Pool},
    grpc::InternalCredential,
    on_pool,
};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Status, metadata::MetadataValue, transport::Channel};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test on both backends: `dual!(name);` for `async fn name(svc: TestService)`.
macro_rules! dual {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(svc) = crate::harness::TestService::start(crate::harness::Backend::Sqlite).await {
                    super::$name(svc).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(svc) = crate::harness::TestService::start(crate::harness::Backend::Postgres).await {
                    super::$name(svc).await
                }
            }
        }
    )*};
}
pub(crate) use dual;

/// Every log line any test of this binary wrote (also on stderr with TEST_LOG set).
static LOGS: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| Mutex::new(Vec::new()));

#[derive(Clone, Copy)]
struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static INIT_LOGS: LazyLock<()> =
    LazyLock::new(|| service_kit::telemetry::init_with_writer("info", || Capture));

/// The log text written so far.
pub(crate) fn log_text() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const INTERNAL: &str = "accounts-test-internal-credential-0123456789";
const PASSWORD: &str = "a long and unusual test password 7";

/// Where the test's database lives, to remove it.
enum Place {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
}

/// A running identity-svc for one test, stopped and removed when dropped.
pub(crate) struct TestService {
    /// The service's database, for fixtures.
    pub(crate) db: Pool,
    /// Where that database is, for the command line's functions.
    pub(crate) db_config: DbConfig,
    channel: Channel,
    shutdown: CancellationToken,
    place: Place,
}

/// A registered user and a client of the account API speaking for them.
#[derive(Clone)]
pub(crate) struct User {
    pub(crate) uuid: Uuid,
    token: String,
    client: AccountsClient<Channel>,
    channel: Channel,
    /// The `x-client-address` the user's calls carry.
    address: Option<String>,
}

async fn postgres_reachable(url: &str) -> bool {
    let connect = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url);
    matches!(
        tokio::time::timeout(Duration::from_secs(5), connect).await,
        Ok(Ok(_))
    )
}

impl TestService {
    /// Starts the service on `backend`; None when PostgreSQL is unreachable outside CI.
    pub(crate) async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, |_| {}).await
    }

    /// As [`TestService::start`], with the configuration adjusted by `adjust` first.
    pub(crate) async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<Self> {
        LazyLock::force(&INIT_LOGS);
        let id = Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("identity-accounts-test-{id}"));
        let (url, place) = match backend {
            Backend::Sqlite => (None, Place::Sqlite(dir.clone())),
            Backend::Postgres => {
                let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.into());
                if !postgres_reachable(&url).await {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "PostgreSQL is not reachable at {url}, and CI=true requires the PostgreSQL tests"
                    );
                    eprintln!("\n!!! SKIPPING a PostgreSQL test: no PostgreSQL at {url} !!!\n");
                    return None;
                }
                let schema = format!("t{}_identity", &id[..16]);
                (Some(url.clone()), Place::Postgres { url, schema })
            }
        };
        let mut config = Config::new(
            "127.0.0.1:0".parse().unwrap(),
            url.clone().map(SecretString::from),
            dir.clone(),
            SecretString::from("accounts-test-identity-svc-credential-0123456789"),
            // The tests call as the gateway.
            AcceptedCallers::of(&[(
                Caller::Gateway,
                &InternalCredential::new(SecretString::from(INTERNAL)).unwrap(),
            )])
            .to_setting(),
        );
        if let Place::Postgres { schema, .. } = &place {
            config.database_schema.clone_from(schema);
            // Apart on PostgreSQL the key ring must be given (no key file).
            config.settings.identity_keys = Some(SecretString::from(
                service_kit::envelope::Keyring::generate_spec(1),
            ));
        }
        adjust(&mut config);
        let db = DbConfig {
            url: url.map(SecretString::from),
            schema: config.database_schema.clone(),
            sqlite_file: dir.join("identity.db"),
            max_connections: 2,
        };
        let shutdown = CancellationToken::new();
        let app = Application::build(config, shutdown.clone())
            .await
            .expect("identity-svc starts");
        let addr = app.local_addr();
        tokio::spawn(app.run());
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("identity-svc answers");
        let db_config = db;
        let db = service_kit::db::connect(&db_config)
            .await
            .expect("the test pool opens");
        Some(Self {
            db,
            db_config,
            channel,
            shutdown,
            place,
        })
    }

    /// A channel to the service.
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Registers a user (no organization yet) and signs them in.
    pub(crate) async fn user(&self) -> User {
        let email = format!("{}@accounts.test", Uuid::new_v4().simple());
        self.register(email, None).await
    }

    /// Registers the invited user with their invitation's code and signs them in.
    pub(crate) async fn join(&self, invitation: &pb::InviteLink) -> User {
        let code = invitation.invite_code.clone();
        self.register(invitation.email.clone(), Some(code)).await
    }

    async fn register(&self, email: String, invite_code: Option<String>) -> User {
        let mut identity = IdentityServiceClient::new(self.channel.clone());
        let grant = identity
            .register_user(internal(pb::RegisterUserRequest {
                email,
                password: PASSWORD.into(),
                first_name: "Test".into(),
                last_name: "User".into(),
                invite_code,
                // Each test user from an address of its own: registrations are throttled per
                // address (the throttle has tests of its own).
                client_address: Some(uuid::Uuid::new_v4().to_string()),
            }))
            .await
            .expect("registration")
            .into_inner();
        let access = identity
            .authenticate(internal(pb::AuthenticateRequest {
                credential: Some(pb::authenticate_request::Credential::SessionToken(
                    grant.session_token,
                )),
            }))
            .await
            .expect("authentication")
            .into_inner();
        User {
            uuid: access.user_uuid.parse().unwrap(),
            token: access.access_token,
            client: AccountsClient::new(self.channel.clone()),
            channel: self.channel.clone(),
            address: None,
        }
    }

    /// Runs `owner-token` (the command line's function) on the service's database; its output.
    pub(crate) async fn owner_token(&self, command: identity_svc::operator::OwnerToken) -> String {
        let mut out = Vec::new();
        identity_svc::operator::cli(&self.db_config, command, &mut out)
            .await
            .expect("owner-token runs");
        String::from_utf8(out).unwrap()
    }

    /// A new operator token made with `owner-token create --name <name>`: its secret (the last
    /// line of the output) and a client speaking with the access token it is exchanged for.
    pub(crate) async fn operator(&self, name: &str) -> (String, User) {
        let out = self
            .owner_token(identity_svc::operator::OwnerToken::Create { name: name.into() })
            .await;
        let secret = out.lines().last().unwrap().to_owned();
        let access = self.exchange_operator(&secret).await.expect("exchanged");
        assert_eq!(access.user_uuid, "", "an operator is no user");
        let user = User {
            uuid: Uuid::nil(),
            token: access.access_token,
            client: AccountsClient::new(self.channel.clone()),
            channel: self.channel.clone(),
            address: None,
        };
        (secret, user)
    }

    /// Exchanges an operator token for an access token (as the gateway does).
    pub(crate) async fn exchange_operator(
        &self,
        secret: &str,
    ) -> Result<pb::AuthenticateResponse, Status> {
        let credential = pb::authenticate_request::Credential::OperatorToken(secret.into());
        Ok(IdentityServiceClient::new(self.channel.clone())
            .authenticate(internal(pb::AuthenticateRequest {
                credential: Some(credential),
            }))
            .await?
            .into_inner())
    }

    /// A user who created a (top-level) organization, and its uuid.
    pub(crate) async fn admin(&self, name: &str) -> (User, String) {
        let user = self.user().await;
        let org = IdentityServiceClient::new(self.channel.clone())
            .create_organization(user.req(pb::CreateOrganizationRequest { name: name.into() }))
            .await
            .expect("organization created")
            .into_inner();
        (user, org.organization_uuid)
    }

    /// A new user who is a member of `org` with `role` (a fixture, quicker than an invitation).
    pub(crate) async fn member(&self, org: &str, role: &str) -> User {
        let user = self.user().await;
        let org: Uuid = org.parse().unwrap();
        on_pool!(&self.db, |p| sqlx::query(
            "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at) \
             VALUES ($1, $2, $3, $4)"
        )
        .bind(user.uuid)
        .bind(org)
        .bind(role)
        .bind(chrono::Utc::now())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .expect("membership inserted");
        user
    }

    /// Removes an account without memberships or sub-accounts, leaving no tombstone (a
    /// fixture: an account gone between two pages).
    pub(crate) async fn remove_account(&self, org: &str) {
        let org: Uuid = org.parse().unwrap();
        let n = on_pool!(&self.db, |p| sqlx::query(
            "DELETE FROM organizations WHERE organization_uuid = $1"
        )
        .bind(org)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .expect("account removed");
        assert_eq!(n, 1);
    }
}

impl TestService {
    /// `SELECT COUNT(*) …` on the service's database (`sql` binds `id` as `$1`).
    pub(crate) async fn count(&self, sql: &'static str, id: &str) -> i64 {
        let id: Uuid = id.parse().unwrap();
        on_pool!(&self.db, |p| sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(p)
            .await)
        .expect("count")
    }

    /// The outbox's events: (type, payload), in the order written.
    pub(crate) async fn events(&self) -> Vec<(String, serde_json::Value)> {
        let rows: Vec<(String, String)> = on_pool!(&self.db, |p| sqlx::query_as(
            "SELECT event_type, payload FROM outbox_events ORDER BY sequence"
        )
        .fetch_all(p)
        .await)
        .expect("outbox read");
        rows.into_iter()
            .map(|(t, p)| (t, serde_json::from_str(&p).unwrap()))
            .collect()
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.shutdown.cancel();
        match &self.place {
            Place::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { url, schema } => {
                let (url, schema) = (url.clone(), schema.clone());
                // A runtime of its own: Drop may run while the test's runtime is unwinding.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                        }
                    })
                })
                .join();
            }
        }
    }
}

/// Registers `email` with an invitation's code, as the invitee does; the answer as it is
/// (a race may find the invitation gone).
pub(crate) async fn register_invitee(
    channel: Channel,
    email: String,
    code: String,
) -> Result<(), Status> {
    IdentityServiceClient::new(channel)
        .register_user(internal(pb::RegisterUserRequest {
            email,
            password: PASSWORD.into(),
            first_name: "Racing".into(),
            last_name: "Invitee".into(),
            invite_code: Some(code),
            client_address: None,
        }))
        .await
        .map(|_| ())
}

/// A request as the gateway alone.
fn internal<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(
        "x-internal-credential",
        MetadataValue::from_static(INTERNAL),
    );
    r
}

/// The answer's gRPC code (Ok for a success).
pub(crate) fn code<T>(r: &Result<T, Status>) -> tonic::Code {
    r.as_ref().err().map_or(tonic::Code::Ok, Status::code)
}

/// Asserts that `r` failed with `code` and a message containing `text`.
#[track_caller]
pub(crate) fn assert_status<T: std::fmt::Debug>(
    r: Result<T, Status>,
    code: tonic::Code,
    text: &str,
) {
    let status = r.expect_err("the call fails");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(text), "{status:?} lacks {text:?}");
}

impl User {
    /// A channel to the service, for the other APIs.
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// The same user calling from `address` (the call's `x-client-address`; None: none sent).
    pub(crate) fn from(&self, address: Option<&str>) -> User {
        User {
            address: address.map(str::to_owned),
            ..self.clone()
        }
    }

    /// A request speaking for the user, from their address, relayed as the gateway relays it
    /// (its credential vouches for the address).
    pub(crate) fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = internal(msg);
        r.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("Bearer {}", self.token)).unwrap(),
        );
        if let Some(address) = &self.address {
            r.metadata_mut().insert(
                "x-client-address",
                MetadataValue::try_from(address.as_str()).unwrap(),
            );
        }
        r
    }

    pub(crate) async fn create(
        &self,
        name: &str,
        parent: Option<&str>,
    ) -> Result<pb::Account, Status> {
        let msg = pb::CreateSubAccountRequest {
            name: name.into(),
            parent_uuid: parent.map(str::to_owned),
        };
        Ok(self
            .client
            .clone()
            .create_sub_account(self.req(msg))
            .await?
            .into_inner())
    }

    pub(crate) async fn list(
        &self,
        limit: u32,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Result<pb::ListAccountsResponse, Status> {
        let msg = pb::ListAccountsRequest {
            limit,
            after: after.map(str::to_owned),
            before: before.map(str::to_owned),
            ..pb::ListAccountsRequest::default()
        };
        Ok(self
            .client
            .clone()
            .list_accounts(self.req(msg))
            .await?
            .into_inner())
    }

    pub(crate) async fn get(&self, id: &str) -> Result<pb::Account, Status> {
        let msg = pb::GetAccountRequest {
            organization_uuid: id.into(),
            email: None,
        };
        Ok(self
            .client
            .clone()
            .get_account(self.req(msg))
            .await?
            .into_inner())
    }

    pub(crate) async fn update(
        &self,
        msg: pb::UpdateAccountRequest,
    ) -> Result<pb::Account, Status> {
        Ok(self
            .client
            .clone()
            .update_account(self.req(msg))
            .await?
            .into_inner())
    }

    pub(crate) async fn ips(&self, id: &str) -> Result<Vec<pb::AllowedIp>, Status> {
        let msg = pb::ListAllowedIpsRequest {
            organization_uuid: id.into(),
        };
        Ok(self
            .client
            .clone()
            .list_allowed_ips(self.req(msg))
            .await?
            .into_inner()
            .allowed_ips)
    }

    pub(crate) async fn add_ip(
        &self,
        id: &str,
        cidr: &str,
        description: &str,
    ) -> Result<pb::AllowedIp, Status> {
        let msg = pb::AddAllowedIpRequest {
            organization_uuid: id.into(),
            cidr: cidr.into(),
            description: description.into(),
        };
        Ok(self
            .client
            .clone()
            .add_allowed_ip(self.req(msg))
            .await?
            .into_inner())
    }

    /// Invites `email` into account `id` with `role` (None: the default).
    pub(crate) async fn invite(
        &self,
        id: &str,
        email: &str,
        role: Option<pb::OrganizationRole>,
    ) -> Result<pb::InviteLink, Status> {
        self.invite_raw(id, email, role.unwrap_or_default().into())
            .await
    }

    /// Invites with the role field's number as it is.
    pub(crate) async fn invite_raw(
        &self,
        id: &str,
        email: &str,
        organization_role: i32,
    ) -> Result<pb::InviteLink, Status> {
        let msg = pb::CreateAccountInvitationRequest {
            organization_uuid: id.into(),
            email: email.into(),
            organization_role,
        };
        Ok(self
            .client
            .clone()
            .create_account_invitation(self.req(msg))
            .await?
            .into_inner())
    }

    pub(crate) async fn close(&self, id: &str) -> Result<pb::CloseAccountResponse, Status> {
        let msg = pb::CloseAccountRequest {
            organization_uuid: id.into(),
        };
        Ok(self
            .client
            .clone()
            .close_account(self.req(msg))
            .await?
            .into_inner())
    }

    /// The organization the user belongs to, through the organizations API (NOT_FOUND or
    /// PERMISSION_DENIED when none).
    pub(crate) async fn organization(&self) -> Result<String, Status> {
        let msg = pb::GetMyOrganizationRequest {};
        Ok(IdentityServiceClient::new(self.channel())
            .get_my_organization(self.req(msg))
            .await?
            .into_inner()
            .organization_uuid)
    }

    pub(crate) async fn delete_ip(&self, id: &str, ip: &str) -> Result<(), Status> {
        let msg = pb::DeleteAllowedIpRequest {
            organization_uuid: id.into(),
            allowed_ip_uuid: ip.into(),
        };
        self.client.clone().delete_allowed_ip(self.req(msg)).await?;
        Ok(())
    }
}
