//! The operator's toolbox (docs/operations.md), run as the real `platform` binary:
//! `create-admin` makes an admin who logs in through the API; `export` and `import` move an
//! organization from SQLite to PostgreSQL (`transfer.rs`).

mod guards;
mod transfer;

use std::{io::Write, process::Stdio};

use serde_json::{Value, json};

use crate::helpers::{Auth, Backend, TestApp, dual, dual_backend, spawn_app, spawn_app_with};

/// What a run of the binary left: exit code, stdout, stderr.
pub(crate) struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    /// The last line of stdout as JSON; panics with the run's output when it failed.
    pub fn result(&self) -> Value {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.out, self.err);
        serde_json::from_str(self.out.lines().last().unwrap()).unwrap()
    }

    /// Both streams, for canary checks.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.out, self.err)
    }
}

/// Runs `platform <args>` with only `env` set, `stdin` on its standard input.
pub(crate) fn platform(env: &[(String, String)], args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_platform"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The database settings of `app` as the binary reads them.
pub(crate) fn env_of(app: &TestApp) -> Vec<(String, String)> {
    let mut env = vec![("DATA_DIR".to_owned(), app.data_dir.display().to_string())];
    if let Some((url, prefix)) = &app.database {
        env.push(("DATABASE_URL".to_owned(), url.clone()));
        env.push(("SCHEMA_PREFIX".to_owned(), prefix.clone()));
    }
    env
}

/// Logs in through the public API; the session as an `Auth`.
pub(crate) async fn login(app: &TestApp, email: &str, password: &str) -> Auth {
    let r = app
        .post(
            "/api/v1/login",
            &Auth::None,
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    Auth::Cookie(r.session_cookie().unwrap())
}

const PASSWORD: &str = "Toolbox-canary-password-8c1f";

/// `create-admin` on SQLite before the platform first starts (a bootstrap), and on PostgreSQL
/// while it runs: the user logs in, is the admin of the organization; again with the same
/// email and name it changes nothing, with another name it fails; the password is shown
/// nowhere.
async fn create_admin_makes_an_admin_who_logs_in(backend: Backend) {
    let email = format!("boot-{}@example.com", uuid::Uuid::new_v4().simple());
    let args = [
        "create-admin",
        "--email",
        email.as_str(),
        "--organization",
        "Acme Bootstrap",
        "--password-stdin",
    ];
    let stdin = format!("{PASSWORD}\n");
    let (app, first) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("toolbox-{}", uuid::Uuid::new_v4()));
            let env = vec![("DATA_DIR".to_owned(), dir.display().to_string())];
            let first = platform(&env, &args, Some(&stdin));
            let app = spawn_app_with(backend, |c| c.data_dir = dir).await.unwrap();
            (app, first)
        }
        Backend::Postgres => {
            let Some(app) = spawn_app(backend).await else {
                return;
            };
            let first = platform(&env_of(&app), &args, Some(&stdin));
            (app, first)
        }
    };
    let created = first.result();
    assert_eq!(created["created"], true, "{}", first.out);

    let session = login(&app, &email, PASSWORD).await;
    let me = app.get("/api/v1/user", &session).await.results().clone();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["organizationUuid"], created["organizationUuid"]);
    assert_eq!(me["userUuid"], created["userUuid"]);
    let org = app.get("/api/v1/org", &session).await.results().clone();
    assert_eq!(org["name"], "Acme Bootstrap");
    assert_eq!(org["organizationUuid"], created["organizationUuid"]);

    // Again: nothing changes, and it says so (the password from the variable this time).
    let mut env = env_of(&app);
    env.push(("ADMIN_PASSWORD".to_owned(), PASSWORD.to_owned()));
    let again = platform(&env, &args[..5], None);
    assert_eq!(again.result()["created"], false);
    assert_eq!(again.result()["userUuid"], created["userUuid"]);
    // The email with another organization: refused.
    let other = platform(
        &env,
        &["create-admin", "--email", &email, "--organization", "Other"],
        None,
    );
    assert_eq!(other.code, 1, "{}", other.text());
    assert!(other.err.contains("already exists"), "{}", other.err);
    // The password policy holds; no password at all is a clear error.
    let weak = platform(
        &env_of(&app),
        &[
            "create-admin",
            "--email",
            "weak@example.com",
            "--organization",
            "W",
            "--password-stdin",
        ],
        Some("password\n"),
    );
    assert_eq!(weak.code, 1);
    assert!(weak.err.contains("password"), "{}", weak.err);
    let none = platform(&env_of(&app), &args[..5], None);
    assert_eq!(none.code, 1);
    assert!(none.err.contains("ADMIN_PASSWORD"), "{}", none.err);
    for run in [&first, &again, &other] {
        assert!(!run.text().contains(PASSWORD), "{}", run.text());
    }
    assert!(!crate::helpers::log_text().contains(PASSWORD));
}

dual_backend!(create_admin_makes_an_admin_who_logs_in);

/// `platform rewrap` after a key version is added: every connection secret moves to it, with
/// the counts on stderr and last on stdout; a second run moves none.
async fn rewrap_moves_every_secret_to_the_new_key(app: TestApp) {
    let (admin, _) = crate::organizations::admin_of_new_org(&app, "Rewrap").await;
    for name in ["a", "b"] {
        let body = json!({"provider": "postgresql", "name": name, "host": "db.example.com",
            "secrets": {"password": PASSWORD}});
        let r = app
            .post(
                "/api/v1/connections",
                &crate::organizations::cookie(&admin),
                body,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let keys = std::fs::read_to_string(app.data_dir.join("connections.keys")).unwrap();
    let mut env = env_of(&app);
    let new = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([9_u8; 32])
    };
    env.push((
        "CONNECTIONS_KEYS".to_owned(),
        format!("{},2:{new}", keys.trim()),
    ));
    let run = platform(&env, &["rewrap"], None);
    assert_eq!(run.result(), json!({"moved": 2, "failed": 0}));
    assert!(
        run.err.contains("rewrap: 2 moved, 0 failed so far"),
        "{}",
        run.err
    );
    let again = platform(&env, &["rewrap"], None);
    assert_eq!(again.result(), json!({"moved": 0, "failed": 0}));
    for r in [&run, &again] {
        assert!(!r.text().contains(PASSWORD) && !r.text().contains(&new));
    }
}

dual!(rewrap_moves_every_secret_to_the_new_key);

/// `export` without `--output` writes the document alone on stdout, and `import` without
/// `--input` reads it from stdin: a pipe between two deployments, the target running (with the
/// source's connection keys), where the admin logs in at once.
async fn export_and_import_work_through_a_pipe(app: TestApp) {
    let (admin, org) = crate::organizations::admin_of_new_org(&app, "Piped").await;
    let exported = platform(&env_of(&app), &["export", "--organization", &org], None);
    assert_eq!(exported.code, 0, "{}", exported.err);
    assert_eq!(
        exported.out.lines().count(),
        1,
        "the document alone on stdout"
    );
    let (target, keys) = guards::target_of(&app).await;
    let mut env = env_of(&target);
    env.push(("CONNECTIONS_KEYS".to_owned(), keys.clone()));
    let imported = platform(&env, &["import"], Some(&exported.out));
    let summary = imported.result();
    assert_eq!(summary["organizationUuid"], org.as_str());
    assert_eq!(summary["rows"], 3, "organization, user, membership");
    let session = login(&target, &admin.email, &admin.password).await;
    let got = target.get("/api/v1/org", &session).await;
    assert_eq!(got.results()["name"], "Piped");
}

dual!(export_and_import_work_through_a_pipe);

/// Every toolbox command explains itself: what it does, what it needs, whether it runs beside
/// the platform.
#[test]
fn every_toolbox_command_has_help() {
    for command in [
        "create-admin",
        "export",
        "import",
        "rewrap",
        "owner-token",
        "rotate-signing-key",
        "rewrap-signing-keys",
    ] {
        let run = platform(&[], &[command, "--help"], None);
        assert_eq!(run.code, 0, "{command}: {}", run.err);
        assert!(run.out.len() > 200, "{command}: {}", run.out);
    }
}
