//! CR-6 and CR-5 for the signing keys: no clear private key in the database (file bytes on
//! SQLite, every table's rows on PostgreSQL) or the logs; keys an older version stored in
//! clear are sealed at start and their clear bytes erased; `rewrap-signing-keys` moves every
//! key to the newest key version.

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::json;
use service_kit::{
    envelope::Keyring,
    jwt::{SigningKey, TokenProfile, TokenRequest, TokenSigner},
};
use tokio_util::sync::CancellationToken;

use super::{holds, key_file_ring, open_seed, platform_command, stored_keys};
use crate::helpers::{Auth, Backend, TestApp, dual, dual_backend, log_text, spawn_app};

/// Everything identity-svc's database holds, as bytes: the SQLite files (database, write-ahead
/// log, shared memory), or on PostgreSQL every row of every table of its schema as text (what
/// a logical dump writes) and, after a checkpoint, the files of `signing_keys`.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match &app.identity_db {
        service_kit::db::Pool::Sqlite(_) => {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let path = app.data_dir.join(format!("identity.db{suffix}"));
                if let Ok(b) = std::fs::read(&path) {
                    bytes.extend_from_slice(&b);
                }
            }
            assert!(bytes.len() > 4096, "the SQLite files were read");
            bytes
        }
        service_kit::db::Pool::Postgres(pg) => {
            let schema = format!("{}identity", app.database.as_ref().unwrap().1);
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = $1 AND table_type = 'BASE TABLE'",
            )
            .bind(&schema)
            .fetch_all(pg)
            .await
            .unwrap();
            assert!(tables.iter().any(|t| t == "signing_keys"), "{tables:?}");
            let mut bytes = Vec::new();
            for t in tables {
                let sql =
                    format!("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM {schema}.{t} t");
                let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(pg)
                    .await
                    .unwrap();
                bytes.extend_from_slice(rows.as_bytes());
            }
            // The table's own file, as written to disk (the test's role is a superuser).
            // Other tests share the server: a checkpoint may take longer than the pool's
            // statement timeout.
            let mut c = pg.acquire().await.unwrap();
            sqlx::query("SET statement_timeout = 0")
                .execute(&mut *c)
                .await
                .unwrap();
            sqlx::query("CHECKPOINT")
                .execute(&mut *c)
                .await
                .unwrap_or_else(|e| panic!("CHECKPOINT: {e}"));
            sqlx::query("RESET statement_timeout")
                .execute(&mut *c)
                .await
                .unwrap();
            drop(c);
            let file: Vec<u8> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT pg_read_binary_file(pg_relation_filepath('{schema}.signing_keys'))"
            )))
            .fetch_one(pg)
            .await
            .unwrap();
            assert!(!file.is_empty(), "the table's file was read");
            bytes.extend_from_slice(&file);
            bytes
        }
    }
}

/// The key-encryption keys of the platform's key file (raw bytes).
fn kek_bytes(app: &TestApp) -> Vec<Vec<u8>> {
    let spec = std::fs::read_to_string(app.data_dir.join("identity.keys")).unwrap();
    spec.trim()
        .split(',')
        .map(|e| {
            let (_, b64) = e.split_once(':').unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .collect()
}

/// CR-6: every signing key is stored sealed under IDENTITY_KEYS (here the key file), its clear
/// column empty; no form of any private seed, nor of the key-encryption key, is in the
/// database or in the logs; the sealed seeds are the keys the JWKS publishes.
async fn cr_6_the_database_holds_no_clear_signing_key(app: TestApp) {
    let user = app.register().await;
    let (_, pat) = app
        .create_pat(&user, json!({"description": "at rest"}))
        .await;
    let jwt = app.access_token(&pat).await;
    app.get("/api/v1/user", &Auth::Bearer(jwt)).await.results();
    let out = platform_command(&app, &["rotate-signing-key"], &[]);
    let new_kid = out.lines().last().unwrap().to_owned();

    let ring = key_file_ring(&app);
    let keys = stored_keys(&app).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().any(|k| k.kid == new_kid));
    let jwks: serde_json::Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seeds = Vec::new();
    for k in &keys {
        assert!(k.private_seed.is_empty(), "{} has a clear copy", k.kid);
        assert!(k.sealed_seed.as_deref().unwrap().starts_with("v1:"));
        let seed = open_seed(&ring, k);
        let published = SigningKey::from_seed(k.kid.clone(), seed.clone().try_into().unwrap());
        if k.kid != new_kid {
            assert!(
                jwks["keys"]
                    .as_array()
                    .unwrap()
                    .contains(&published.public_jwk()),
                "the sealed seed is the published key: {jwks}"
            );
        }
        seeds.push(seed);
    }
    let bytes = database_bytes(&app).await;
    let logs = log_text();
    for seed in &seeds {
        assert!(!holds(&bytes, seed), "a private seed is in the database");
        assert!(
            !holds(logs.as_bytes(), seed),
            "a private seed is in the logs"
        );
    }
    for kek in kek_bytes(&app) {
        assert!(
            !holds(&bytes, &kek),
            "the key-encryption key is in the database"
        );
        assert!(
            !holds(logs.as_bytes(), &kek),
            "the key-encryption key is in the logs"
        );
    }
}

dual!(cr_6_the_database_holds_no_clear_signing_key);

/// Another platform (an upgraded identity-svc replica and its gateway) on `app`'s database,
/// with `adjust` applied to its configuration; its base URL and the token that stops it.
async fn another_replica(
    app: &TestApp,
    adjust: impl FnOnce(&mut platform::Config),
) -> anyhow::Result<(String, CancellationToken)> {
    let mut config = platform::Config::new("127.0.0.1:0".parse().unwrap(), app.data_dir.clone());
    if let Some((url, prefix)) = &app.database {
        config.database_url = Some(SecretString::from(url.clone()));
        config.schema_prefix = prefix.clone();
    }
    adjust(&mut config);
    let shutdown = CancellationToken::new();
    let replica = platform::Platform::start(config, shutdown.clone()).await?;
    let base = format!("http://{}", replica.gateway_addr);
    tokio::spawn(replica.wait());
    Ok((base, shutdown))
}

/// A token for the same user and personal access token as `jwt`, signed by `key`.
fn signed_like(jwt: &str, key: SigningKey) -> String {
    let claims = crate::tokens::claims_of(jwt);
    let signer = TokenSigner::new(TokenProfile::default(), key);
    let (token, _) = signer
        .sign(&TokenRequest {
            user_uuid: claims["sub"].as_str().unwrap().parse().unwrap(),
            amr: "pat",
            session_id: None,
            pat_id: Some(claims["pat"].as_str().unwrap().parse().unwrap()),
            pat_version: claims["pat_v"].as_i64(),
            client_id: claims["client_id"].as_str().unwrap(),
            scope: service_kit::scope::Scope::Admin,
            auth_time: None,
        })
        .unwrap();
    token
}

/// CR-6, the upgrade: a key an older version stored in clear is sealed when an upgraded
/// replica starts, its clear column emptied and its bytes gone from the database's files; the
/// tokens it signed still verify.
async fn cr_6_a_clear_key_from_an_older_version_is_sealed_at_start(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let user = app.register().await;
    let (_, pat) = app
        .create_pat(&user, json!({"description": "legacy"}))
        .await;
    let jwt = app.access_token(&pat).await;
    let legacy = SigningKey::generate();
    let seed = legacy.seed().to_vec();
    let kid = legacy.kid().to_owned();
    let created = chrono::Utc::now() - chrono::Duration::minutes(1);
    service_kit::on_pool!(&app.identity_db, |p| {
        sqlx::query("INSERT INTO signing_keys (kid, private_seed, created_at) VALUES ($1, $2, $3)")
            .bind(&kid)
            .bind(&seed)
            .bind(created)
            .execute(p)
            .await
            .map(|_| ())
    })
    .unwrap();
    let legacy_token = signed_like(&jwt, legacy);
    assert!(
        holds(&database_bytes(&app).await, &seed),
        "the search finds a clear seed where there is one"
    );

    let (base, stop) = another_replica(&app, |_| {})
        .await
        .expect("the upgraded replica starts");
    let stored = stored_keys(&app).await;
    let row = stored.iter().find(|k| k.kid == kid).unwrap();
    assert!(row.private_seed.is_empty(), "the clear copy is emptied");
    assert_eq!(open_seed(&key_file_ring(&app), row), seed);
    let bytes = database_bytes(&app).await;
    assert!(
        !holds(&bytes, &seed),
        "the old clear seed is still in the database's files"
    );
    let r = app
        .http
        .get(format!("{base}/api/v1/user"))
        .bearer_auth(&legacy_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a token of the sealed key verifies");
    stop.cancel();
}

dual_backend!(cr_6_a_clear_key_from_an_older_version_is_sealed_at_start);

/// CR-5: after a new key version is added, `rewrap-signing-keys` moves every signing key to
/// it; a replica whose ring no longer opens version 1 then serves the tokens signed before,
/// and one holding only version 1 no longer starts.
async fn cr_5_rewrap_moves_every_signing_key_to_the_newest_version(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let user = app.register().await;
    let (_, pat) = app
        .create_pat(&user, json!({"description": "rewrap"}))
        .await;
    let jwt = app.access_token(&pat).await;
    platform_command(&app, &["rotate-signing-key"], &[]);
    let v1 = std::fs::read_to_string(app.data_dir.join("identity.keys")).unwrap();
    let both = format!("{},{}", v1.trim(), Keyring::generate_spec(2));
    let out = platform_command(&app, &["rewrap-signing-keys"], &[("IDENTITY_KEYS", &both)]);
    assert!(out.contains("2 moved, 0 already there, 0 failed"), "{out}");
    let keys = stored_keys(&app).await;
    assert!(
        keys.iter()
            .all(|k| k.sealed_seed.as_deref().unwrap().starts_with("v2:")),
        "{keys:?}"
    );
    let again = platform_command(&app, &["rewrap-signing-keys"], &[("IDENTITY_KEYS", &both)]);
    assert!(again.contains("0 moved, 2 already there"), "{again}");

    let (base, stop) = another_replica(&app, |c| {
        c.identity.identity_keys = Some(SecretString::from(both.clone()));
        c.identity.identity_key_min_decrypt_version = 2;
    })
    .await
    .expect("a replica with version 1 retired starts");
    let r = app
        .http
        .get(format!("{base}/api/v1/user"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stop.cancel();
    let old_only = another_replica(&app, |c| {
        c.identity.identity_keys = Some(SecretString::from(v1.trim().to_owned()));
    })
    .await;
    let err = old_only.expect_err("version 1 alone opens no key");
    let text = format!("{err:#}");
    assert!(text.contains("does not open"), "{text}");
    assert!(
        !text.contains(v1.trim().split(':').nth(1).unwrap()),
        "{text}"
    );
}

dual_backend!(cr_5_rewrap_moves_every_signing_key_to_the_newest_version);
