//! What `export` and `import` refuse or survive, on both backends: a forged document (an
//! account's path naming another organization, a grant to a user of another organization, an
//! email not lower-cased) writes nothing; an import whose later services did not commit is run
//! again and writes only those; a source whose schema is missing is refused, not created; the
//! exported file is its owner's alone even over a partial file left readable by others.

use std::path::Path;

use serde_json::{Value, json};

use super::{Run, env_of, platform};
use crate::{
    helpers::{Backend, TestApp, dual, spawn_app_with},
    organizations::{admin_of_new_org, cookie},
    projects::new_project,
};

/// The keys of `app` and a second platform on its backend sharing them, empty.
pub(super) async fn target_of(app: &TestApp) -> (TestApp, String) {
    let keys = std::fs::read_to_string(app.data_dir.join("connections.keys")).unwrap();
    let keys = keys.trim().to_owned();
    let backend = if app.database.is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let target = spawn_app_with(backend, |c| {
        c.connections.connections_keys = Some(secrecy::SecretString::from(keys.clone()));
    })
    .await
    .unwrap();
    (target, keys)
}

fn import(target: &TestApp, keys: &str, document: &str) -> Run {
    let mut env = env_of(target);
    env.push(("CONNECTIONS_KEYS".to_owned(), keys.to_owned()));
    platform(&env, &["import"], Some(document))
}

fn refused(run: &Run, says: &str) {
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(run.err.contains(says), "expected {says:?} in: {}", run.err);
}

/// Runs `sql` (with `$1` the organization) on `service`'s database of `app`.
async fn execute(app: &TestApp, service: &str, sql: &str, org: &str) {
    let org = uuid::Uuid::parse_str(org).unwrap();
    match &app.database {
        Some((url, prefix)) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let sql = sql.replace("{s}", &format!("{prefix}{service}."));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
        None => {
            let file = app.data_dir.join(format!("{service}.db"));
            let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.replace("{s}", "")))
                .bind(org)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }
}

/// `export --output` over a partial file left readable by others: the export is 0600.
fn export_to_file(app: &TestApp, org: &str, dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("org.json");
    let partial = dir.join(".org.json.partial");
    std::fs::write(&partial, "left over").unwrap();
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = file.display().to_string();
    let run = platform(
        &env_of(app),
        &["export", "--organization", org, "--output", &out],
        None,
    );
    run.result();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the export's mode is {mode:o}");
    std::fs::read_to_string(&file).unwrap()
}

/// A document forged three ways is refused with the reason, and writes nothing: the genuine
/// document is imported afterwards in full.
async fn a_forged_document_is_refused_and_writes_nothing(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Mover").await;
    let project = new_project(&app, &admin, "Moved").await;
    let dir = std::env::temp_dir().join(format!("toolbox-guard-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = export_to_file(&app, &org, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let document: Value = serde_json::from_str(&text).unwrap();
    let (target, keys) = target_of(&app).await;
    let (victim, victim_org) = admin_of_new_org(&target, "Victim").await;

    let mut forged = document.clone();
    let victim_path = uuid::Uuid::parse_str(&victim_org).unwrap().simple();
    forged["services"]["identity"]["organizations"][0]["path"] = victim_path.to_string().into();
    let run = import(&target, &keys, &forged.to_string());
    refused(&run, "the path or depth of");

    let mut forged = document.clone();
    let grant = json!({"project_uuid": project, "user_uuid": victim.user_uuid, "role": "admin",
        "created_at": "2026-01-01T00:00:00Z"});
    forged["services"]["projects"]["project_user_grants"]
        .as_array_mut()
        .unwrap()
        .push(grant);
    let run = import(&target, &keys, &forged.to_string());
    refused(&run, "is not a member of the document's accounts");

    let mut forged = document.clone();
    let email = forged["services"]["identity"]["users"][0]["email"]
        .as_str()
        .unwrap()
        .to_uppercase();
    forged["services"]["identity"]["users"][0]["email"] = email.into();
    let run = import(&target, &keys, &forged.to_string());
    refused(&run, "email is not lower-cased");

    let run = import(&target, &keys, &text);
    assert!(
        run.result()["rows"].as_u64().unwrap() >= 4,
        "organization, user, membership, project: {}",
        run.err
    );
    let got = target.get("/api/v1/org", &cookie(&victim)).await;
    assert_eq!(got.results()["name"], "Victim");
}

dual!(a_forged_document_is_refused_and_writes_nothing);

/// An import whose connections-svc rows are missing (as after its commit failed) is run again:
/// identity and projects are already imported, the connections are written; a third run writes
/// nothing; rows changed since are refused. Export refuses a database that is not there
/// (a DATA_DIR, SCHEMA_PREFIX or URL naming nothing) rather than create it.
async fn an_interrupted_import_is_run_again(app: TestApp) {
    let (admin, org) = admin_of_new_org(&app, "Resumed").await;
    new_project(&app, &admin, "Kept").await;
    let body = json!({"provider": "postgresql", "name": "c", "host": "db.example.com",
        "secrets": {"password": "resume-secret-5e1b"}});
    let r = app.post("/api/v1/connections", &cookie(&admin), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let exported = platform(&env_of(&app), &["export", "--organization", &org], None);
    assert_eq!(exported.code, 0, "{}", exported.err);
    let (target, keys) = target_of(&app).await;
    import(&target, &keys, &exported.out).result();

    for table in [
        "connection_secrets",
        "connection_shares",
        "credentials_preferences",
    ] {
        let sql = format!(
            "DELETE FROM {{s}}{table} WHERE connection_uuid IN \
             (SELECT connection_uuid FROM {{s}}connections WHERE organization_uuid = $1)"
        );
        execute(&target, "connections", &sql, &org).await;
    }
    for table in ["connections", "connection_counts"] {
        let sql = format!("DELETE FROM {{s}}{table} WHERE organization_uuid = $1");
        execute(&target, "connections", &sql, &org).await;
    }
    let again = import(&target, &keys, &exported.out);
    again.result();
    for says in [
        "import: identity: already imported",
        "import: projects: already imported",
        "import: connections.connections: 1 row(s)",
    ] {
        assert!(again.err.contains(says), "{says:?} in: {}", again.err);
    }
    let third = import(&target, &keys, &exported.out);
    assert_eq!(third.result()["rows"], 0, "{}", third.err);
    assert!(third.err.contains("import: connections: already imported"));

    let rename = "UPDATE {s}organizations SET name = 'Changed' WHERE organization_uuid = $1";
    execute(&target, "identity", rename, &org).await;
    let changed = import(&target, &keys, &exported.out);
    refused(&changed, "identity.organizations for organization");

    // A DATA_DIR or SCHEMA_PREFIX naming nothing: refused, and nothing is created.
    let empty = std::env::temp_dir().join(format!("toolbox-none-{}", uuid::Uuid::new_v4()));
    let mut env = env_of(&target);
    env.retain(|(k, _)| k != "DATA_DIR" && k != "SCHEMA_PREFIX");
    env.push(("DATA_DIR".to_owned(), empty.display().to_string()));
    let prefix = format!("none{}_", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    env.push(("SCHEMA_PREFIX".to_owned(), prefix.clone()));
    let run = platform(&env, &["export", "--organization", &org], None);
    refused(&run, "`platform migrate`");
    assert!(!empty.join("identity.db").exists());
    let given = empty.join("given.db");
    let mut env = env_of(&target);
    let url = format!("sqlite://{}", given.display());
    env.push(("IDENTITY_DATABASE_URL".to_owned(), url));
    let run = platform(&env, &["export", "--organization", &org], None);
    refused(&run, "`platform migrate`");
    assert!(!given.exists(), "export created {}", given.display());
    if let Some((url, _)) = &target.database {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let created: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(format!("{prefix}identity"))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(!created, "export created a schema");
        pool.close().await;
    }
}

dual!(an_interrupted_import_is_run_again);
