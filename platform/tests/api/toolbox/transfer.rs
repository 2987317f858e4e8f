//! `export` and `import`: an organization made through the API on a platform on SQLite (an
//! admin, a member, a personal access token, a project with a grant, a private space shared
//! with the member, connections with secrets) is exported by the real binary, imported into
//! fresh PostgreSQL schemas with the same connection keys, and a platform started there serves
//! it all: the same logins, the token, the project, space and grant, the connection whose
//! secret still connects. The secrets appear in clear nowhere: not in the file, the output or a
//! response. Bad input changes nothing.

use std::path::Path;

use serde_json::{Value, json};

use super::{Run, env_of, login, platform};
use crate::{
    connections::connection_tests::{MARIADB_PASSWORD, MARIADB_USER, mariadb_user},
    helpers::{
        Auth, Backend, TestApp, TestUser, log_text, pg_url, postgres_reachable, spawn_app_with,
    },
    organizations::{admin_of_new_org, cookie, invite_and_join},
    projects::new_project,
};

const CANARY: &str = "canary-export-secret-41d7";

/// What the source organization holds, to look for at the target.
struct Made {
    admin: TestUser,
    member: TestUser,
    org: String,
    pat: String,
    project: String,
    space: String,
    maria: String,
    canary_connection: String,
    /// A sub-account of the organization (seed 003's ULID) and its uuid.
    sub_account: (String, String),
}

/// The uuid a seed 003 ULID writes.
fn uuid_of_ulid(ulid: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let n = ulid.bytes().fold(0_u128, |n, c| {
        (n << 5) | ALPHABET.iter().position(|a| *a == c).unwrap() as u128
    });
    uuid::Uuid::from_u128(n).to_string()
}

async fn create_connection(app: &TestApp, auth: &Auth, body: Value) -> String {
    let r = app.post("/api/v1/connections", auth, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.results()["connectionUuid"].as_str().unwrap().to_owned()
}

async fn make(app: &TestApp) -> Made {
    let (admin, org) = admin_of_new_org(app, "Movers").await;
    let a = cookie(&admin);
    let member = invite_and_join(app, &admin, "member").await;
    let (_, pat) = app
        .create_pat(&admin, json!({"description": "moving"}))
        .await;
    let project = new_project(app, &admin, "Moved project").await;
    let path = format!("/api/v1/projects/{project}");
    let grant = json!({"email": member.email, "role": "viewer", "sendEmail": false});
    app.post(&format!("{path}/access"), &a, grant)
        .await
        .results();
    let space = json!({"name": "Private", "isPrivate": true});
    let r = app.post(&format!("{path}/spaces"), &a, space).await;
    let space = r.results()["uuid"].as_str().unwrap().to_owned();
    let share = json!({"userUuid": member.user_uuid, "spaceRole": "editor"});
    let r = app
        .post(&format!("{path}/spaces/{space}/share"), &a, share)
        .await;
    r.results();
    let maria = json!({"provider": "mariadb", "name": "m", "host": "127.0.0.1", "port": "3306",
        "identifier": MARIADB_USER, "options": {"database": "test"},
        "secrets": {"password": MARIADB_PASSWORD}});
    let maria = create_connection(app, &a, maria).await;
    let canary = json!({"provider": "postgresql", "name": "c", "host": "db.example.com",
        "secrets": {"password": CANARY, "token": format!("{CANARY}-token")}});
    let canary_connection = create_connection(app, &a, canary).await;
    let body = json!({"data": {"name": "Movers East"}, "type": "account"});
    let sub = app
        .post("/api/v1/accounts", &Auth::Bearer(pat.clone()), body)
        .await;
    assert_eq!(sub.status, 201, "{}", sub.body);
    let ulid = sub.body["data"]["id"].as_str().unwrap().to_owned();
    let sub_account = (ulid.clone(), uuid_of_ulid(&ulid));
    Made {
        admin,
        member,
        org,
        pat,
        project,
        space,
        maria,
        canary_connection,
        sub_account,
    }
}

/// Drops the PostgreSQL schemas of `prefix` when the test ends, however it ends.
struct Schemas(String);

impl Drop for Schemas {
    fn drop(&mut self) {
        crate::helpers::drop_schemas(&pg_url(), &self.0);
    }
}

/// Organizations, projects and connections in the target's schemas (0 before they exist).
async fn organizations_in(prefix: &str) -> i64 {
    let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT COUNT(*) FROM {prefix}identity.organizations) \
         + (SELECT COUNT(*) FROM {prefix}projects.projects) \
         + (SELECT COUNT(*) FROM {prefix}connections.connections)"
    )))
    .fetch_one(&pool)
    .await
    .unwrap_or(0);
    pool.close().await;
    n
}

fn assert_refused(run: &Run, says: &str) {
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(run.err.contains(says), "expected {says:?} in: {}", run.err);
}

/// Exports `made`'s organization from the stopped source; checks the file and the refusals.
fn export(source: &TestApp, made: &Made, file: &Path) -> Run {
    let env = env_of(source);
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_refused(
        &platform(&env, &["export", "--organization", &unknown], None),
        "does not exist",
    );
    assert_refused(
        &platform(
            &env,
            &["export", "--organization", &made.sub_account.1],
            None,
        ),
        "is a sub-account",
    );
    let file_arg = file.display().to_string();
    let run = platform(
        &env,
        &["export", "--organization", &made.org, "--output", &file_arg],
        None,
    );
    let summary = run.result();
    assert_eq!(summary["organizationUuid"], made.org.as_str());
    assert_eq!(summary["accounts"], 2, "the sub-account comes along");
    assert!(
        run.err.contains("export: identity.users: 2 row(s)"),
        "{}",
        run.err
    );
    let text = std::fs::read_to_string(file).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(document["format"], "platform-org-export/1");
    assert_eq!(
        document["services"]["connections"]["connection_secrets"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(text.contains(&made.admin.email) && text.contains(&made.project));
    for secret in [CANARY, MARIADB_PASSWORD, &made.pat] {
        assert!(!text.contains(secret), "the export holds a secret in clear");
        assert!(!run.text().contains(secret), "the output shows a secret");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the export is readable by others: {mode:o}"
    );
    run
}

/// Imports `file` into the PostgreSQL schemas of `prefix` with `keys`: first into schemas not
/// migrated yet, refused, then bad input, which writes nothing, then the file, then the file
/// again, which finds it all imported already.
async fn import(file: &Path, prefix: &str, keys: &str, dir: &Path) {
    let env = |keys: &str| {
        vec![
            ("DATA_DIR".to_owned(), dir.display().to_string()),
            ("DATABASE_URL".to_owned(), pg_url()),
            ("SCHEMA_PREFIX".to_owned(), prefix.to_owned()),
            ("CONNECTIONS_KEYS".to_owned(), keys.to_owned()),
        ]
    };
    let file_arg = file.display().to_string();
    // The target's schemas do not exist yet: import creates none, `platform migrate` does.
    let unmigrated = platform(&env(keys), &["import", "--input", &file_arg], None);
    assert_refused(&unmigrated, "`platform migrate`");
    let migrated = platform(&env(keys), &["migrate"], None);
    assert_eq!(migrated.code, 0, "{}", migrated.text());
    let malformed = dir.join("malformed.json");
    let text = std::fs::read_to_string(file).unwrap();
    std::fs::write(&malformed, &text[..text.len() / 2]).unwrap();
    let bad = platform(
        &env(keys),
        &["import", "--input", &malformed.display().to_string()],
        None,
    );
    assert_refused(&bad, "not a platform-org-export/1 document");
    // Another deployment's keys: the secrets do not open, nothing is written.
    let other = format!("1:{}", base64_of_32(7));
    let run = platform(&env(&other), &["import", "--input", &file_arg], None);
    assert_refused(
        &run,
        "does not open under this deployment's CONNECTIONS_KEYS",
    );
    assert_eq!(organizations_in(prefix).await, 0);

    let run = platform(&env(keys), &["import", "--input", &file_arg], None);
    assert_eq!(run.result()["accounts"], 2);
    assert!(
        run.err.contains("import: projects.spaces: 1 row(s)"),
        "{}",
        run.err
    );
    let written = organizations_in(prefix).await;
    assert_eq!(written, 2 + 1 + 2);
    // Run again, every service holds the document's rows: nothing more is written.
    let twice = platform(&env(keys), &["import", "--input", &file_arg], None);
    assert_eq!(twice.result()["rows"], 0, "{}", twice.err);
    assert!(
        twice.err.contains("import: projects: already imported"),
        "{}",
        twice.err
    );
    assert_eq!(organizations_in(prefix).await, written);
    for run in [&bad, &run, &twice] {
        assert!(!run.text().contains(CANARY) && !run.text().contains(MARIADB_PASSWORD));
    }
}

fn base64_of_32(byte: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// At the target: logins, the token, the project, its grant, the space and its share, the
/// connection that still connects; no response carries a secret.
async fn check_target(target: &TestApp, made: &Made) {
    let mut bodies = Vec::new();
    let admin = login(target, &made.admin.email, &made.admin.password).await;
    let me = target.get("/api/v1/user", &admin).await;
    assert_eq!(me.results()["role"], "admin");
    assert_eq!(me.results()["organizationUuid"], made.org.as_str());
    let org = target.get("/api/v1/org", &admin).await;
    assert_eq!(org.results()["name"], "Movers");
    let by_pat = target
        .get("/api/v1/user", &Auth::ApiKey(made.pat.clone()))
        .await;
    assert_eq!(by_pat.results()["userUuid"], made.admin.user_uuid.as_str());

    let member = login(target, &made.member.email, &made.member.password).await;
    let project = format!("/api/v1/projects/{}", made.project);
    let seen = target
        .get(
            &format!("{project}/user/{}", made.member.user_uuid),
            &member,
        )
        .await;
    assert_eq!(seen.results()["role"], "viewer");
    let space = target
        .get(&format!("{project}/spaces/{}", made.space), &member)
        .await;
    assert_eq!(space.status, 200, "{}", space.body);

    for id in [&made.maria, &made.canary_connection] {
        let got = target
            .get(&format!("/api/v1/connections/{id}"), &admin)
            .await;
        assert_eq!(got.status, 200, "{}", got.body);
        bodies.push(got.text);
    }
    let test = target
        .post(
            &format!("/api/v1/connections/{}/test", made.maria),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(test.results()["result"], "connected", "{}", test.body);
    bodies.push(test.text);
    bodies.push(target.get("/api/v1/connections", &admin).await.text);
    for b in &bodies {
        assert!(!b.contains(CANARY) && !b.contains(MARIADB_PASSWORD), "{b}");
    }
}

/// A document's rows with times to the microsecond (PostgreSQL's precision) and without a
/// project's spaces version (which the target's triggers move on every insert of a space).
fn comparable(document: &Value) -> Value {
    let mut services = document["services"].clone();
    for tables in services.as_object_mut().unwrap().values_mut() {
        for rows in tables.as_object_mut().unwrap().values_mut() {
            for row in rows.as_array_mut().unwrap() {
                let row = row.as_object_mut().unwrap();
                row.remove("spaces_version");
                for v in row.values_mut() {
                    let time = v
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                    if let Some(t) = time {
                        *v = t
                            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                            .into();
                    }
                }
            }
            rows.as_array_mut().unwrap().sort_by_key(Value::to_string);
        }
    }
    services
}

/// Exported again from the target on PostgreSQL before anyone uses it, the organization has the
/// same rows as the file made on SQLite: a round trip through both backends' statements.
fn export_back(target: &TestApp, made: &Made, file: &Path) {
    let again = file.with_extension("again.json");
    let out = again.display().to_string();
    let run = platform(
        &env_of(target),
        &["export", "--organization", &made.org, "--output", &out],
        None,
    );
    assert_eq!(run.result()["accounts"], 2);
    let read =
        |p: &Path| serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap();
    let (back, there) = (comparable(&read(&again)), comparable(&read(file)));
    for (service, tables) in there.as_object().unwrap() {
        for (table, rows) in tables.as_object().unwrap() {
            assert_eq!(&back[service][table], rows, "{service}.{table}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_moves_from_sqlite_to_postgres() {
    let url = pg_url();
    if !postgres_reachable(&url).await {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true requires PostgreSQL at {url}"
        );
        eprintln!("\n!!! SKIPPING the export/import test: no PostgreSQL at {url} !!!\n");
        return;
    }
    if !mariadb_user().await {
        return;
    }
    let loopback = |c: &mut platform::Config| c.connections.connections_test_allow_loopback = true;
    let source = spawn_app_with(Backend::Sqlite, loopback).await.unwrap();
    let made = make(&source).await;
    source.shutdown.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let dir = std::env::temp_dir().join(format!("toolbox-move-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("movers.json");
    export(&source, &made, &file);
    let keys = std::fs::read_to_string(source.data_dir.join("connections.keys")).unwrap();
    let keys = keys.trim().to_owned();

    let prefix = format!("tbx{}_", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let _drop = Schemas(prefix.clone());
    import(&file, &prefix, &keys, &dir).await;

    let target = spawn_app_with(Backend::Postgres, |c| {
        c.schema_prefix = prefix.clone();
        c.connections.connections_keys = Some(secrecy::SecretString::from(keys.clone()));
        c.connections.connections_test_allow_loopback = true;
    })
    .await
    .unwrap();
    export_back(&target, &made, &file);
    check_target(&target, &made).await;
    assert!(
        !log_text().contains(CANARY),
        "a log line carried the secret"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
