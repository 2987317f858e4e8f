//! The test harness: `spawn_app` starts the platform on a fresh database and returns a
//! `TestApp` with typed request helpers. Every JSON response of a documented operation (Lightdash's
//! or our connections document) is checked against its contract as it arrives.

use std::{
    io::Write,
    path::PathBuf,
    sync::{LazyLock, Mutex},
    time::Duration,
};

use platform::{Config, Platform};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Which database the platform runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test on both backends: `dual!(name);` for `async fn name(app: TestApp)`.
macro_rules! dual {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await {
                    super::$name(app).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}
pub(crate) use dual;

/// Runs a test that starts its own platform on both backends: `dual_backend!(name);` for
/// `async fn name(backend: Backend)` (for tests that adjust the configuration).
macro_rules! dual_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}
pub(crate) use dual_backend;

/// Every log line written by any test in this binary.
pub static LOGS: LazyLock<Mutex<Vec<u8>>> = LazyLock::new(|| Mutex::new(Vec::new()));

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

/// The captured log lines, parsed.
pub fn log_lines() -> Vec<Value> {
    let bytes = LOGS.lock().unwrap().clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// The raw captured log text.
pub fn log_text() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static INIT: LazyLock<()> =
    LazyLock::new(|| service_kit::telemetry::init_with_writer("info", || Capture));

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned())
}

pub(crate) async fn postgres_reachable(url: &str) -> bool {
    let connect = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url);
    matches!(
        tokio::time::timeout(Duration::from_secs(5), connect).await,
        Ok(Ok(_))
    )
}

/// A running platform for one test, removed (data directory or schemas) when dropped.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub identity_addr: std::net::SocketAddr,
    pub connections_addr: std::net::SocketAddr,
    pub projects_addr: std::net::SocketAddr,
    /// The metrics endpoint (`GET /metrics`), on a port of its own.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Each part's service credential, and the operator's (the harness configures one).
    pub credentials: Vec<(service_kit::callers::Caller, String)>,
    /// identity-svc's database, for tests that inspect what is stored.
    pub identity_db: service_kit::db::Pool,
    /// projects-svc's database.
    pub projects_db: service_kit::db::Pool,
    /// connections-svc's database.
    pub connections_db: service_kit::db::Pool,
    /// The platform's data directory (the mail outbox is its `mail` directory by default).
    pub data_dir: PathBuf,
    /// `DATABASE_URL` and `SCHEMA_PREFIX` of the platform (None: SQLite in `data_dir`).
    pub database: Option<(String, String)>,
    pub shutdown: CancellationToken,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schemas(String, String),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schemas(url, prefix) => drop_schemas(url, prefix),
        }
    }
}

/// Drops the three PostgreSQL schemas of `prefix` at `url`, from any context (a drop).
pub(crate) fn drop_schemas(url: &str, prefix: &str) {
    let (url, prefix) = (url.to_owned(), prefix.to_owned());
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                for s in ["identity", "connections", "projects"] {
                    let sql = format!("DROP SCHEMA IF EXISTS {prefix}{s} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                }
            }
        })
    })
    .join();
}

/// The test PostgreSQL's URL; None (the test is skipped, loudly) when it is not reachable
/// outside CI.
pub async fn reachable_postgres() -> Option<String> {
    let url = pg_url();
    if !postgres_reachable(&url).await {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "PostgreSQL is not reachable at {url}, and CI=true requires the PostgreSQL tests"
            );
        }
        eprintln!(
            "\n!!! SKIPPING a PostgreSQL test: no PostgreSQL at {url} (set TEST_DATABASE_URL) !!!\n"
        );
        return None;
    }
    Some(url)
}

/// Drops a schema a test made on the test PostgreSQL at `url`.
pub async fn drop_schema(url: &str, schema: &str) {
    if let Ok(pool) = sqlx::PgPool::connect(url).await {
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
        pool.close().await;
    }
}

/// Starts the platform on `backend`; `None` when PostgreSQL is not reachable outside CI.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// As [`spawn_app`], with the platform's configuration adjusted by `adjust` first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    LazyLock::force(&INIT);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = std::env::temp_dir().join(format!("platform-test-{id}"));
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data_dir.clone());
    let cleanup = match backend {
        Backend::Sqlite => Cleanup::Dir(data_dir),
        Backend::Postgres => {
            let url = reachable_postgres().await?;
            let prefix = format!("t{}_", &id[..16]);
            config.database_url = Some(SecretString::from(url.clone()));
            config.schema_prefix = prefix.clone();
            Cleanup::Schemas(url, prefix)
        }
    };
    // Every test registers its users from 127.0.0.1: room for them all. The registration
    // throttle's own tests (throttling.rs) set the default back.
    config.identity.registrations_per_address_per_hour = 10_000;
    // Every test measures (the layers run), each platform on a port of its own.
    config.metrics = service_kit::metrics::MetricsArgs::on("127.0.0.1:0".parse().unwrap());
    config.operator_credential = Some(SecretString::from(format!(
        "operator-{}",
        uuid::Uuid::new_v4().simple()
    )));
    adjust(&mut config);
    let shutdown = CancellationToken::new();
    let platform = Platform::start(config.clone(), shutdown.clone())
        .await
        .expect("platform starts");
    let db = |name: &str| service_kit::db::DbConfig {
        url: config.database_url.clone(),
        schema: format!("{}{name}", config.schema_prefix),
        sqlite_file: config.data_dir.join(format!("{name}.db")),
        max_connections: 2,
    };
    let identity_db = service_kit::db::connect(&db("identity"))
        .await
        .expect("test connects to identity's database");
    let projects_db = service_kit::db::connect(&db("projects"))
        .await
        .expect("test connects to projects' database");
    let connections_db = service_kit::db::connect(&db("connections"))
        .await
        .expect("test connects to connections' database");
    let app = TestApp {
        base: format!("http://{}", platform.gateway_addr),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        identity_addr: platform.identity_addr,
        connections_addr: platform.connections_addr,
        projects_addr: platform.projects_addr,
        metrics_addr: platform.metrics_addr,
        credentials: service_kit::callers::Caller::ALL
            .into_iter()
            .filter_map(|c| Some((c, platform.credential(c)?.to_owned())))
            .collect(),
        identity_db,
        projects_db,
        connections_db,
        data_dir: config.data_dir.clone(),
        database: config.database_url.as_ref().map(|u| {
            (
                secrecy::ExposeSecret::expose_secret(u).to_owned(),
                config.schema_prefix.clone(),
            )
        }),
        shutdown,
        cleanup,
    };
    tokio::spawn(platform.wait());
    Some(app)
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Cookie(String),
    ApiKey(String),
    Bearer(String),
}

impl Auth {
    /// `req` with this authentication's header.
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Cookie(c) => req.header("cookie", format!("connect.sid={c}")),
            Auth::ApiKey(t) => req.header("authorization", format!("ApiKey {t}")),
            Auth::Bearer(t) => req.header("authorization", format!("Bearer {t}")),
        }
    }
}

/// A response: status, headers, the body as received and parsed (Null when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body's raw text.
    pub text: String,
}

impl Reply {
    /// The `results` of a success envelope; panics with the body otherwise.
    pub fn results(&self) -> &Value {
        assert_eq!(
            self.body["status"], "ok",
            "expected success, got {} {}",
            self.status, self.body
        );
        &self.body["results"]
    }

    /// Asserts an error envelope with `status` and returns its `error` object.
    pub fn expect_error(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["status"], "error", "body: {}", self.body);
        assert_eq!(
            self.body["error"]["statusCode"], status,
            "body: {}",
            self.body
        );
        assert!(
            self.body["error"]["name"].is_string(),
            "body: {}",
            self.body
        );
        &self.body["error"]
    }

    /// The session cookie set by this response.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("connect.sid="))
            .map(|v| v.split(';').next().unwrap_or_default().to_owned())
    }
}

/// A registered user with an open session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub password: String,
    pub cookie: String,
    pub user_uuid: String,
}

impl TestApp {
    /// Sends a request; checks the answer against the contract when it is a documented operation.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        req = auth.apply(req);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.finish(method, path, req).await
    }

    /// Sends a prepared request (for raw bodies and headers) and checks it like `send`.
    pub async fn finish(&self, method: Method, path: &str, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request reaches the gateway");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{method} {path}: body is not JSON: {text}"))
        };
        crate::contract::check(&method, path, status.as_u16(), &body);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.send(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send(Method::POST, path, auth, Some(body)).await
    }

    /// Registers a fresh user (unique email) and returns them with their session.
    pub async fn register(&self) -> TestUser {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        self.register_with(&email, "correct horse battery staple")
            .await
    }

    pub async fn register_with(&self, email: &str, password: &str) -> TestUser {
        let r = self
            .post("/api/v1/user", &Auth::None, json!({"email": email, "password": password, "firstName": "Ada", "lastName": "Lovelace"}))
            .await;
        let user_uuid = r.results()["userUuid"].as_str().unwrap().to_owned();
        let cookie = r
            .session_cookie()
            .expect("registration sets the session cookie");
        TestUser {
            email: email.to_owned(),
            password: password.to_owned(),
            cookie,
            user_uuid,
        }
    }

    /// Creates a personal access token for `user`; returns (uuid, secret).
    pub async fn create_pat(&self, user: &TestUser, body: Value) -> (String, String) {
        let r = self
            .post(
                "/api/v1/user/me/personal-access-tokens",
                &Auth::Cookie(user.cookie.clone()),
                body,
            )
            .await;
        let res = r.results();
        (
            res["uuid"].as_str().unwrap().to_owned(),
            res["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Deletes a personal access token of `user` (with their session); it must succeed.
    pub async fn delete_pat(&self, user: &TestUser, pat_uuid: &str) {
        self.send(
            Method::DELETE,
            &format!("/api/v1/user/me/personal-access-tokens/{pat_uuid}"),
            &Auth::Cookie(user.cookie.clone()),
            None,
        )
        .await
        .results();
    }

    /// An access JWT for a personal access token.
    pub async fn access_token(&self, pat: &str) -> String {
        let r = self
            .post(
                "/api/v1/auth/token",
                &Auth::ApiKey(pat.to_owned()),
                json!({}),
            )
            .await;
        r.results()["accessToken"].as_str().unwrap().to_owned()
    }

    /// A gRPC channel to identity-svc.
    /// The service credential of `caller` in this platform.
    pub fn credential(&self, caller: service_kit::callers::Caller) -> String {
        self.credentials
            .iter()
            .find(|(c, _)| *c == caller)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("{} has no credential", caller.name()))
    }

    pub async fn identity_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.identity_addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// The passcode of the newest message to `email` in the file mail outbox.
    pub fn passcode_from_outbox(&self, email: &str) -> String {
        passcode_in(&self.mail_from_outbox(email))
    }

    /// The text of the newest message to `email` in the file mail outbox.
    pub fn mail_from_outbox(&self, email: &str) -> String {
        let dir = self.data_dir.join("mail");
        let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("mail outbox {}: {e}", dir.display()))
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| {
                (
                    std::fs::metadata(&p).unwrap().modified().unwrap(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .filter(|(_, text)| text.contains(&format!("To: {email}")))
            .collect();
        mails.sort_by_key(|(t, _)| *t);
        let (_, text) = mails.pop().unwrap_or_else(|| panic!("no mail to {email}"));
        text
    }

    /// Verifies `user`'s email the way a user does: asks for a passcode, reads it from the
    /// mail outbox, sends it back.
    pub async fn verify_email(&self, user: &TestUser) {
        let auth = Auth::Cookie(user.cookie.clone());
        self.send(Method::PUT, "/api/v1/user/me/email/otp", &auth, None)
            .await
            .results();
        let code = self.passcode_from_outbox(&user.email);
        let r = self
            .get(
                &format!("/api/v1/user/me/email/status?passcode={code}"),
                &auth,
            )
            .await;
        assert_eq!(r.results()["isVerified"], true, "{}", r.body);
    }
}

/// The six-digit passcode in a verification message.
pub fn passcode_in(text: &str) -> String {
    let at = text
        .find("code is ")
        .unwrap_or_else(|| panic!("no passcode in {text}"));
    let code: String = text[at + 8..].chars().take(6).collect();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");
    code
}

/// A message the SMTP sink received.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A mail server for tests: a minimal SMTP server on a loopback port that accepts every
/// message and keeps it. Real SMTP on a real socket, so the platform's real SMTP client runs.
pub struct SmtpSink {
    pub addr: std::net::SocketAddr,
    messages: std::sync::Arc<Mutex<Vec<ReceivedMail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    pub async fn start() -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = std::sync::Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut lines = BufReader::new(r).lines();
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let (mut from, mut to) = (String::new(), Vec::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "HELO" | "RSET" | "NOOP" => b"250 OK\r\n",
                            "MAIL" => {
                                from = line.get(10..).unwrap_or_default().trim().to_owned();
                                to.clear();
                                b"250 OK\r\n"
                            }
                            "RCPT" => {
                                to.push(line.get(8..).unwrap_or_default().trim().to_owned());
                                b"250 OK\r\n"
                            }
                            "DATA" => {
                                let _ = w.write_all(b"354 end with .\r\n").await;
                                let mut data = String::new();
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                                    data.push('\n');
                                }
                                store.lock().unwrap().push(ReceivedMail {
                                    from: from.clone(),
                                    to: to.clone(),
                                    data,
                                });
                                b"250 queued\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"502 not implemented\r\n",
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            messages,
            task,
        }
    }

    /// The `MAIL_URL` of this server (plain SMTP: it is on loopback).
    pub fn url(&self) -> SecretString {
        SecretString::from(format!("smtp://{}", self.addr))
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.messages.lock().unwrap().clone()
    }
}

/// `SELECT COUNT(*) …` on one of the services' databases (`sql` binds one uuid as `$1`).
pub async fn count(db: &service_kit::db::Pool, sql: &str, id: &str) -> i64 {
    let id = uuid::Uuid::parse_str(id).expect("a uuid");
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        service_kit::db::Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await,
        service_kit::db::Pool::Postgres(p) => sqlx::query_scalar(sql).bind(id).fetch_one(p).await,
    }
    .expect("count query")
}

/// Runs one statement with `ids` bound as UUIDs ($1, $2, …), as a writer other than the
/// platform's processes would; the number of rows it changed.
pub async fn execute(db: &service_kit::db::Pool, sql: &str, ids: &[&str]) -> u64 {
    let ids: Vec<uuid::Uuid> = ids
        .iter()
        .map(|id| uuid::Uuid::parse_str(id).expect("a uuid"))
        .collect();
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        service_kit::db::Pool::Sqlite(p) => {
            let mut q = sqlx::query(sql);
            for id in &ids {
                q = q.bind(*id);
            }
            q.execute(p).await.map(|r| r.rows_affected())
        }
        service_kit::db::Pool::Postgres(p) => {
            let mut q = sqlx::query(sql);
            for id in &ids {
                q = q.bind(*id);
            }
            q.execute(p).await.map(|r| r.rows_affected())
        }
    }
    .expect("statement")
}

/// Polls `done` until it holds; panics with `what` after `limit`. Returns how long it took.
pub async fn within<F, Fut>(limit: Duration, what: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if done().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
