//! The storage side of the security checklist (CR-1, CR-3 to CR-6) and the store's concurrency
//! rules, proven over real rows on both backends: SQLite (a file in a temporary directory) and
//! PostgreSQL (a fresh schema per test, dropped afterwards).
//!
//! PostgreSQL is taken from `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
//! When it is unreachable the PostgreSQL half of each test is skipped loudly, except with
//! `CI=true`, where it fails.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose};
use chrono::{DateTime, Utc};
use connections_svc::{
    POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS,
    domain::{RewrapReport, rewrap_all},
    envelope::{Binding, EnvelopeError, Keyring},
    store::{BoundSecret, ConnectionRecord, ConnectionsStore, SecretRecord, StoreError},
};
use secrecy::{ExposeSecret, SecretString};
use service_kit::db::{DbConfig, Pool};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Harness

/// Runs `async fn name(db: &TestDb)` once on SQLite and once on PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(db) = crate::TestDb::open(crate::Backend::Sqlite).await {
                    super::$name(&db).await;
                    db.close().await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = crate::TestDb::open(crate::Backend::Postgres).await {
                    super::$name(&db).await;
                    db.close().await;
                }
            }
        }
    )*};
}

both_backends!(
    cr_4_and_5_rotation_and_rewrap_over_real_rows,
    cr_3_a_value_copied_into_another_row_does_not_open,
    cr_1_any_flipped_bit_of_a_stored_value_is_detected,
    rewrap_all_skips_what_it_cannot_open_and_terminates,
    replace_sealed_never_overwrites_a_newer_value,
    two_rewraps_at_once_move_each_secret_exactly_once,
    cr_6_neither_secret_nor_key_reaches_the_database,
    update_is_optimistic_delete_cascades_and_preferences_see_deletions,
    limits_hold_under_concurrent_inserts_and_deletes_free_places,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's database lives, to inspect and to remove it.
#[derive(Debug)]
enum Place {
    Sqlite { dir: PathBuf, file: PathBuf },
    Postgres { url: String, schema: String },
}

/// A migrated, empty connections database of its own for one test.
#[derive(Debug)]
struct TestDb {
    pool: Pool,
    store: Arc<dyn ConnectionsStore>,
    place: Place,
}

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned())
}

async fn postgres_reachable(url: &str) -> bool {
    let connect = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ => false,
    }
}

impl TestDb {
    /// A fresh database; `None` when PostgreSQL is unreachable outside CI.
    async fn open(backend: Backend) -> Option<TestDb> {
        let id = Uuid::new_v4().simple().to_string();
        let (config, place) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("connections-store-test-{id}"));
                let file = dir.join("connections.db");
                let config = DbConfig {
                    url: None,
                    schema: "connections".into(),
                    sqlite_file: file.clone(),
                    max_connections: 4,
                };
                (config, Place::Sqlite { dir, file })
            }
            Backend::Postgres => {
                let url = pg_url();
                if !postgres_reachable(&url).await {
                    if std::env::var("CI").as_deref() == Ok("true") {
                        panic!(
                            "PostgreSQL is not reachable at {url}, and CI=true requires the PostgreSQL tests"
                        );
                    }
                    eprintln!(
                        "\n!!! SKIPPING a PostgreSQL store test: no PostgreSQL at {url} (set TEST_DATABASE_URL) !!!\n"
                    );
                    return None;
                }
                let schema = format!("t{}_connections", &id[..16]);
                let config = DbConfig {
                    url: Some(SecretString::from(url.clone())),
                    schema: schema.clone(),
                    sqlite_file: PathBuf::new(),
                    max_connections: 4,
                };
                (config, Place::Postgres { url, schema })
            }
        };
        let pool = service_kit::db::connect(&config)
            .await
            .expect("the test database opens");
        // From here on, Drop removes the database even when the test fails.
        let db = TestDb {
            store: connections_svc::store::for_pool(pool.clone()),
            pool,
            place,
        };
        db.pool
            .migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS)
            .await
            .expect("migrations apply");
        Some(db)
    }

    /// Closes the pool and removes the database.
    async fn close(self) {
        self.pool.close().await;
        // Drop removes the file or schema.
    }

    /// Overwrites a stored sealed value with plain SQL (what an attacker with database access
    /// could do).
    async fn set_sealed(&self, connection: Uuid, field: &str, sealed: &str, version: i32) {
        const SQL: &str = "UPDATE connection_secrets SET sealed = $1, key_version = $2 \
                           WHERE connection_uuid = $3 AND field = $4";
        let n = match &self.pool {
            Pool::Sqlite(p) => sqlx::query(SQL)
                .bind(sealed)
                .bind(version)
                .bind(connection)
                .bind(field)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
            Pool::Postgres(p) => sqlx::query(SQL)
                .bind(sealed)
                .bind(version)
                .bind(connection)
                .bind(field)
                .execute(p)
                .await
                .map(|r| r.rows_affected()),
        }
        .expect("the raw update runs");
        assert_eq!(n, 1, "the raw update found its row");
    }

    /// Rows of `table` (a fixed name below) that name `connection`, counted in SQL.
    async fn count_rows(&self, table: &str, connection: Uuid) -> i64 {
        assert!(
            [
                "connections",
                "connection_secrets",
                "credentials_preferences"
            ]
            .contains(&table),
            "unexpected table {table}"
        );
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE connection_uuid = $1");
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .fetch_one(p)
                    .await
            }
            Pool::Postgres(p) => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(connection)
                    .fetch_one(p)
                    .await
            }
        }
        .expect("the count runs")
    }

    /// The stored sealed value of one field (read through the store).
    async fn stored(&self, connection: Uuid, field: &str) -> SecretRecord {
        self.store
            .secrets(connection)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.field == field)
            .unwrap_or_else(|| panic!("no stored secret {field} for {connection}"))
    }

    /// Every stored secret, by (connection, field), read with plain SQL.
    async fn all_sealed(&self) -> Vec<(Uuid, String, i32, String)> {
        const SQL: &str = "SELECT connection_uuid, field, key_version, sealed FROM connection_secrets \
                           ORDER BY connection_uuid, field";
        match &self.pool {
            Pool::Sqlite(p) => sqlx::query_as(SQL).fetch_all(p).await,
            Pool::Postgres(p) => sqlx::query_as(SQL).fetch_all(p).await,
        }
        .expect("the select runs")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.place {
            Place::Sqlite { dir, .. } => {
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
                            pool.close().await;
                        }
                    })
                })
                .join();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys, records and seals

/// A KEK version 1 and a KEK version 2, in configuration form.
struct Keys {
    spec1: String,
    spec2: String,
}

impl Keys {
    fn new() -> Self {
        Self {
            spec1: Keyring::generate_spec(1),
            spec2: Keyring::generate_spec(2),
        }
    }
    fn both(&self) -> String {
        format!("{},{}", self.spec1, self.spec2)
    }
    /// Before the rotation: version 1 only.
    fn v1(&self) -> Keyring {
        Keyring::parse(&self.spec1, 0).unwrap()
    }
    /// After the rotation: version 2 seals, version 1 still opens.
    fn v12(&self) -> Keyring {
        Keyring::parse(&self.both(), 0).unwrap()
    }
    /// After retirement: both keys configured, but version 1 no longer opens.
    fn v12_retired(&self) -> Keyring {
        Keyring::parse(&self.both(), 2).unwrap()
    }
    /// After retirement, with the old key removed from the configuration.
    fn v2_only(&self) -> Keyring {
        Keyring::parse(&self.spec2, 2).unwrap()
    }
}

/// The base64 and the raw bytes of the key in a `<version>:<base64>` spec.
fn key_material(spec: &str) -> (String, Vec<u8>) {
    let (_, b64) = spec.split_once(':').unwrap();
    let raw = general_purpose::STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 32);
    (b64.to_owned(), raw)
}

/// A fixed instant plus `micros` (the stores keep microseconds).
fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(1_780_000_000_000_000 + micros).unwrap()
}

fn record(organization: Uuid, n: i64) -> ConnectionRecord {
    let t = at(n);
    ConnectionRecord {
        connection_uuid: Uuid::now_v7(),
        organization_uuid: organization,
        owner_user_uuid: Uuid::new_v4(),
        kind: "shared".into(),
        provider: "postgres".into(),
        name: format!("warehouse {n}"),
        description: "{}".into(),
        host: "db.example.test".into(),
        port: "5432".into(),
        identifier: "analytics".into(),
        scope: String::new(),
        expiry: None,
        active: true,
        invalid: false,
        cache: 0,
        datasets_meta_sync_enabled: false,
        datasets_meta_sync_interval: 60,
        linked_at: t,
        options: "{}".into(),
        last_tested_at: None,
        created_at: t,
        updated_at: t,
    }
}

fn binding<'a>(c: &ConnectionRecord, field: &'a str) -> Binding<'a> {
    Binding {
        organization_uuid: c.organization_uuid,
        connection_uuid: c.connection_uuid,
        field,
    }
}

/// Seals `secret` for `c`'s `field` as the domain does (key_version = the value's version).
fn seal(ring: &Keyring, c: &ConnectionRecord, field: &str, secret: &str) -> SecretRecord {
    let sealed = ring.seal(secret.as_bytes(), &binding(c, field));
    SecretRecord {
        connection_uuid: c.connection_uuid,
        field: field.to_owned(),
        key_version: i32::try_from(Keyring::version_of(&sealed).unwrap()).unwrap(),
        sealed,
    }
}

/// Opens a sealed value for `c`'s `field`.
fn open(
    ring: &Keyring,
    c: &ConnectionRecord,
    field: &str,
    sealed: &str,
) -> Result<String, EnvelopeError> {
    ring.open(sealed, &binding(c, field))
        .map(|p| String::from_utf8(p.expose_secret().to_vec()).unwrap())
}

/// The decoded envelope of a sealed value, and its `v{n}` prefix.
fn envelope(sealed: &str) -> (&str, Vec<u8>) {
    let (prefix, body) = sealed.split_once(':').unwrap();
    (
        prefix,
        general_purpose::STANDARD_NO_PAD.decode(body).unwrap(),
    )
}

/// `sealed` with bit `bit` of envelope byte `index` flipped.
fn flip(sealed: &str, index: usize, bit: u8) -> String {
    let (prefix, mut blob) = envelope(sealed);
    blob[index] ^= 1 << bit;
    format!("{prefix}:{}", general_purpose::STANDARD_NO_PAD.encode(blob))
}

// Envelope layout (envelope.rs): dek_nonce (24) ‖ wrapped_dek (32 + 16 tag) ‖ data_nonce (24) ‖
// ciphertext ‖ tag (16).
const WRAPPED_DEK: usize = 24;
const DATA_NONCE: usize = 24 + 48;
const CIPHERTEXT: usize = 24 + 48 + 24;

// ---------------------------------------------------------------------------------------------
// Tests

/// CR-4 (versioned keys: old versions read, new writes use the latest) and CR-5 (rewrap, then
/// retire: 0 rows on v1, a saved v1 blob no longer opens), over 50 stored connections with two
/// secrets each.
async fn cr_4_and_5_rotation_and_rewrap_over_real_rows(db: &TestDb) {
    const N: i64 = 50;
    let keys = Keys::new();
    let (v1, v12) = (keys.v1(), keys.v12());
    let orgs: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();

    // Before the rotation: everything sealed under version 1.
    let mut rows = Vec::new();
    for i in 0..N {
        let c = record(orgs[i as usize % orgs.len()], i);
        let plain = [
            ("password".to_owned(), format!("pw-{i}-canary-3b9e")),
            ("privateKey".to_owned(), format!("pk-{i}-canary-d41c")),
        ];
        let sealed: Vec<SecretRecord> = plain.iter().map(|(f, p)| seal(&v1, &c, f, p)).collect();
        assert!(
            sealed
                .iter()
                .all(|s| s.sealed.starts_with("v1:") && s.key_version == 1)
        );
        db.store.insert(&c, &sealed).await.unwrap();
        rows.push((c, plain, sealed));
    }
    assert_eq!(db.store.versions().await.unwrap(), vec![(1, 2 * N)]);

    // CR-4: after the rotation every stored row still opens, and new writes use version 2.
    for (c, plain, _) in &rows {
        for (field, secret) in plain {
            let s = db.stored(c.connection_uuid, field).await;
            assert_eq!(&open(&v12, c, field, &s.sealed).unwrap(), secret);
        }
    }
    let fresh = record(orgs[0], N);
    let fresh_secret = seal(&v12, &fresh, "password", "fresh-after-rotation");
    assert!(fresh_secret.sealed.starts_with("v2:") && fresh_secret.key_version == 2);
    db.store
        .insert(&fresh, std::slice::from_ref(&fresh_secret))
        .await
        .unwrap();
    assert_eq!(db.store.versions().await.unwrap(), vec![(1, 2 * N), (2, 1)]);

    // CR-5: the re-wrap moves every version-1 row, and only those.
    let report = rewrap_all(&*db.store, &v12).await.unwrap();
    assert_eq!(
        report,
        RewrapReport {
            moved: 2 * N as u64,
            failed: 0
        }
    );
    assert_eq!(db.store.versions().await.unwrap(), vec![(2, 2 * N + 1)]);
    assert!(db.store.secrets_not_on(2, 10_000).await.unwrap().is_empty());
    assert_eq!(
        db.stored(fresh.connection_uuid, "password").await,
        fresh_secret,
        "a row already on the newest key is left alone"
    );

    // Every re-wrapped value opens under the rotated key ring and under the retired ones, to
    // the same plaintext; the saved version-1 blobs no longer open once version 1 is retired.
    let (retired, v2_only) = (keys.v12_retired(), keys.v2_only());
    for (c, plain, before) in &rows {
        for ((field, secret), old) in plain.iter().zip(before) {
            let s = db.stored(c.connection_uuid, field).await;
            assert_eq!(s.key_version, 2);
            assert!(s.sealed.starts_with("v2:"), "{}", s.sealed);
            assert_ne!(s.sealed, old.sealed);
            for ring in [&v12, &retired, &v2_only] {
                assert_eq!(&open(ring, c, field, &s.sealed).unwrap(), secret);
            }
            assert_eq!(
                &open(&v12, c, field, &old.sealed).unwrap(),
                secret,
                "v1 opens before retirement"
            );
            for ring in [&retired, &v2_only] {
                assert_eq!(
                    open(ring, c, field, &old.sealed).unwrap_err(),
                    EnvelopeError::UnknownVersion(1),
                    "a saved v1 blob must not open once v1 is retired"
                );
            }
        }
    }

    // Idempotent: nothing is left to move, under the rotated or the retired key ring.
    for ring in [&v12, &retired, &v2_only] {
        assert_eq!(
            rewrap_all(&*db.store, ring).await.unwrap(),
            RewrapReport::default()
        );
    }
    assert_eq!(db.store.versions().await.unwrap(), vec![(2, 2 * N + 1)]);
}

/// CR-3: a sealed value is bound to its organization, connection and field. Copied into a
/// connection of another organization (by SQL or through the store), or into another field of
/// its own connection, it does not open (AEAD tag error).
async fn cr_3_a_value_copied_into_another_row_does_not_open(db: &TestDb) {
    const CANARY: &str = "canary-org-a-password-51d0";
    let ring = Keys::new().v12();
    let (org_a, org_b) = (Uuid::new_v4(), Uuid::new_v4());
    let a = record(org_a, 0);
    let b = record(org_b, 1);
    let a_password = seal(&ring, &a, "password", CANARY);
    db.store
        .insert(
            &a,
            &[a_password.clone(), seal(&ring, &a, "privateKey", "a-key")],
        )
        .await
        .unwrap();
    db.store
        .insert(&b, &[seal(&ring, &b, "password", "b-password")])
        .await
        .unwrap();

    // By SQL, into organization B's row.
    db.set_sealed(
        b.connection_uuid,
        "password",
        &a_password.sealed,
        a_password.key_version,
    )
    .await;
    let copied = db.stored(b.connection_uuid, "password").await;
    assert_eq!(copied.sealed, a_password.sealed, "the copy is in B's row");
    assert_eq!(
        open(&ring, &b, "password", &copied.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );
    // The value itself is intact: only its binding differs.
    assert_eq!(open(&ring, &a, "password", &copied.sealed).unwrap(), CANARY);

    // By SQL, into another field of the same connection.
    db.set_sealed(
        a.connection_uuid,
        "privateKey",
        &a_password.sealed,
        a_password.key_version,
    )
    .await;
    let moved = db.stored(a.connection_uuid, "privateKey").await;
    assert_eq!(
        open(&ring, &a, "privateKey", &moved.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );

    // Through the store: an update of B carrying A's sealed value as B's password.
    let mut b2 = b.clone();
    b2.updated_at = at(10);
    let smuggled = SecretRecord {
        connection_uuid: b.connection_uuid,
        field: "password".into(),
        ..a_password.clone()
    };
    assert!(
        db.store
            .update(&b2, b.updated_at, &[smuggled], &[])
            .await
            .unwrap()
    );
    let stored = db.stored(b.connection_uuid, "password").await;
    assert_eq!(stored.sealed, a_password.sealed);
    assert_eq!(
        open(&ring, &b2, "password", &stored.sealed).unwrap_err(),
        EnvelopeError::Tampered
    );

    // A's own password still opens where it belongs.
    let own = db.stored(a.connection_uuid, "password").await;
    assert_eq!(open(&ring, &a, "password", &own.sealed).unwrap(), CANARY);
}

/// CR-1: flipping any one bit of a stored sealed value (its text or its decoded envelope) makes
/// it fail to open; also after a round trip through the database.
async fn cr_1_any_flipped_bit_of_a_stored_value_is_detected(db: &TestDb) {
    const CANARY: &str = "canary-7f3a-flip-me";
    let ring = Keys::new().v12();
    let c = record(Uuid::new_v4(), 0);
    db.store
        .insert(&c, &[seal(&ring, &c, "password", CANARY)])
        .await
        .unwrap();
    let stored = db.stored(c.connection_uuid, "password").await.sealed;
    assert_eq!(open(&ring, &c, "password", &stored).unwrap(), CANARY);

    // Every bit of the stored text (the 7 bits of each ASCII character).
    let text = stored.as_bytes();
    assert!(text.is_ascii());
    for i in 0..text.len() {
        for bit in 0..7 {
            let mut bad = text.to_vec();
            bad[i] ^= 1 << bit;
            let bad = String::from_utf8(bad).unwrap();
            assert!(
                open(&ring, &c, "password", &bad).is_err(),
                "text character {i}, bit {bit} flipped, still opens"
            );
        }
    }

    // Every bit of the decoded envelope: always an AEAD tag error.
    let (_, blob) = envelope(&stored);
    for i in 0..blob.len() {
        for bit in 0..8 {
            assert_eq!(
                open(&ring, &c, "password", &flip(&stored, i, bit)).unwrap_err(),
                EnvelopeError::Tampered,
                "envelope byte {i}, bit {bit}"
            );
        }
    }

    // Written to the database and read back: one flipped bit in each part of the envelope.
    let last = blob.len() - 1;
    for (i, bit) in [
        (0, 0),
        (WRAPPED_DEK - 1, 7),
        (WRAPPED_DEK, 3),
        (DATA_NONCE - 1, 1),
        (DATA_NONCE, 5),
        (CIPHERTEXT - 1, 2),
        (CIPHERTEXT, 0),
        (last - 16, 6),
        (last, 7),
    ] {
        let bad = flip(&stored, i, bit);
        db.set_sealed(c.connection_uuid, "password", &bad, 2).await;
        let back = db.stored(c.connection_uuid, "password").await.sealed;
        assert_eq!(back, bad);
        assert_eq!(
            open(&ring, &c, "password", &back).unwrap_err(),
            EnvelopeError::Tampered,
            "byte {i}, bit {bit}, through the database"
        );
    }
    // The row itself is fine: the original value opens again once restored.
    db.set_sealed(c.connection_uuid, "password", &stored, 2)
        .await;
    let back = db.stored(c.connection_uuid, "password").await.sealed;
    assert_eq!(open(&ring, &c, "password", &back).unwrap(), CANARY);
}

/// `rewrap_all` counts a secret it cannot re-wrap in `failed`, leaves it exactly as it was,
/// moves all the others (more than one batch of 500), and terminates, also when run again.
/// Cannot re-wrap: a key version the ring does not hold, a version-1 value under another
/// version-1 key, a tampered wrapped data key, a value copied from another row (CR-3: a copy
/// cannot be laundered by a re-wrap), a malformed value; and, run with version 1 already
/// retired, every version-1 row.
async fn rewrap_all_skips_what_it_cannot_open_and_terminates(db: &TestDb) {
    let keys = Keys::new();
    let (v1, v12) = (keys.v1(), keys.v12());
    let org = Uuid::new_v4();
    let mut n = 0;
    let mut next = || {
        n += 1;
        record(org, n)
    };

    // The bad rows, some created first and some last (they sort first and last).
    let mut bad: Vec<(ConnectionRecord, SecretRecord)> = Vec::new();
    let unknown_version = {
        let c = next();
        let v9 = Keyring::parse(&Keyring::generate_spec(9), 0).unwrap();
        let s = seal(&v9, &c, "password", "sealed-by-a-newer-replica");
        assert_eq!(s.key_version, 9);
        (c, s)
    };
    let foreign_key = {
        let c = next();
        let other_v1 = Keyring::parse(&Keyring::generate_spec(1), 0).unwrap();
        let s = seal(&other_v1, &c, "password", "sealed-under-another-v1-key");
        (c, s)
    };
    let tampered_dek = {
        let c = next();
        let mut s = seal(&v1, &c, "password", "tampered-data-key");
        s.sealed = flip(&s.sealed, WRAPPED_DEK + 5, 2);
        (c, s)
    };
    for row in [unknown_version, foreign_key, tampered_dek] {
        db.store
            .insert(&row.0, std::slice::from_ref(&row.1))
            .await
            .unwrap();
        bad.push(row);
    }

    // The good rows: 2 × 260 = 520 secrets, more than one batch.
    let mut good: Vec<(ConnectionRecord, [(&str, String); 2])> = Vec::new();
    for i in 0..260 {
        let c = next();
        let plain = [
            ("password", format!("good-{i}")),
            ("token", format!("token-{i}")),
        ];
        let sealed: Vec<SecretRecord> = plain.iter().map(|(f, p)| seal(&v1, &c, f, p)).collect();
        db.store.insert(&c, &sealed).await.unwrap();
        good.push((c, plain));
    }

    // A tampered ciphertext (the data part, not the wrapped key): a re-wrap does not decrypt
    // the secret, so it cannot notice; it moves it, and the value still does not open.
    let tampered_data = next();
    let mut tampered_data_secret = seal(&v1, &tampered_data, "password", "tampered-ciphertext");
    tampered_data_secret.sealed = flip(&tampered_data_secret.sealed, CIPHERTEXT + 3, 4);
    db.store
        .insert(&tampered_data, std::slice::from_ref(&tampered_data_secret))
        .await
        .unwrap();

    // A copy of a good row's sealed value into another organization's row (CR-3).
    let copied = {
        let c = record(Uuid::new_v4(), 9_999);
        let s = seal(&v1, &c, "password", "placeholder");
        db.store.insert(&c, std::slice::from_ref(&s)).await.unwrap();
        let source = db.stored(good[7].0.connection_uuid, "password").await;
        db.set_sealed(c.connection_uuid, "password", &source.sealed, 1)
            .await;
        (
            c.clone(),
            SecretRecord {
                sealed: source.sealed,
                ..s
            },
        )
    };
    let malformed = {
        let c = next();
        let s = SecretRecord {
            connection_uuid: c.connection_uuid,
            field: "password".into(),
            key_version: 1,
            sealed: "v1:not-an-envelope".into(),
        };
        (c, s)
    };
    db.store
        .insert(&malformed.0, std::slice::from_ref(&malformed.1))
        .await
        .unwrap();
    bad.push(copied);
    bad.push(malformed);

    let total = 2 * 260 + 1 + bad.len();
    let before = db.all_sealed().await;
    assert_eq!(before.len(), total);

    // Operator error first: version 1 retired before the re-wrap. Nothing can move, nothing is
    // changed, and the run ends.
    let report = rewrap_all(&*db.store, &keys.v12_retired()).await.unwrap();
    assert_eq!(
        report,
        RewrapReport {
            moved: 0,
            failed: total as u64
        }
    );
    assert_eq!(db.all_sealed().await, before);

    // The real re-wrap.
    let report = rewrap_all(&*db.store, &v12).await.unwrap();
    assert_eq!(
        report,
        RewrapReport {
            moved: 2 * 260 + 1,
            failed: bad.len() as u64
        }
    );
    for (c, s) in &bad {
        assert_eq!(
            &db.stored(c.connection_uuid, "password").await,
            s,
            "a secret that cannot be re-wrapped is left exactly as it was"
        );
    }
    assert_eq!(
        db.store.versions().await.unwrap(),
        vec![(1, bad.len() as i64 - 1), (2, 2 * 260 + 1), (9, 1)]
    );
    for (c, plain) in &good {
        for (field, secret) in plain {
            let s = db.stored(c.connection_uuid, field).await;
            assert_eq!(s.key_version, 2);
            assert_eq!(&open(&keys.v2_only(), c, field, &s.sealed).unwrap(), secret);
        }
    }
    let moved = db.stored(tampered_data.connection_uuid, "password").await;
    assert_eq!(moved.key_version, 2);
    assert_eq!(
        open(&v12, &tampered_data, "password", &moved.sealed).unwrap_err(),
        EnvelopeError::Tampered,
        "a tampered ciphertext stays detected after a re-wrap"
    );

    // Run again: the failures are reported again and still left alone; nothing else moves.
    let after = db.all_sealed().await;
    let report = rewrap_all(&*db.store, &v12).await.unwrap();
    assert_eq!(
        report,
        RewrapReport {
            moved: 0,
            failed: bad.len() as u64
        }
    );
    assert_eq!(db.all_sealed().await, after);
}

/// `replace_sealed` (the re-wrap's write) never overwrites a value that changed since it was
/// read, whether the newer value is on the newest key or, from a replica not yet rotated, on the
/// old one; and `rewrap_all` running while rows change keeps every newer value.
async fn replace_sealed_never_overwrites_a_newer_value(db: &TestDb) {
    let keys = Keys::new();
    let (v1, v12) = (keys.v1(), keys.v12());
    let c = record(Uuid::new_v4(), 0);
    db.store
        .insert(&c, &[seal(&v1, &c, "password", "old")])
        .await
        .unwrap();
    let read = db.store.secrets_not_on(2, 10).await.unwrap();
    assert_eq!(read.len(), 1);
    let read = read.into_iter().next().unwrap();
    let rewrapped = v12.rewrap(&read.sealed, &binding(&c, "password")).unwrap();

    // Meanwhile the user changes the password (sealed under the newest key).
    let newer = seal(&v12, &c, "password", "new");
    let mut c1 = c.clone();
    c1.updated_at = at(1);
    assert!(
        db.store
            .update(&c1, c.updated_at, std::slice::from_ref(&newer), &[])
            .await
            .unwrap()
    );
    assert!(!db.store.replace_sealed(&read, &rewrapped, 2).await.unwrap());
    assert_eq!(db.stored(c.connection_uuid, "password").await, newer);

    // A replica still on the old key ring changes it again: a stale re-wrap still loses.
    let from_old_replica = seal(&v1, &c, "password", "newer-from-an-old-replica");
    let mut c2 = c1.clone();
    c2.updated_at = at(2);
    assert!(
        db.store
            .update(
                &c2,
                c1.updated_at,
                std::slice::from_ref(&from_old_replica),
                &[]
            )
            .await
            .unwrap()
    );
    assert!(!db.store.replace_sealed(&read, &rewrapped, 2).await.unwrap());
    assert_eq!(
        db.stored(c.connection_uuid, "password").await,
        from_old_replica
    );

    // A re-wrap of what is there now succeeds, exactly once.
    let fresh = db.store.secrets_not_on(2, 10).await.unwrap().remove(0);
    assert_eq!(fresh.sealed, from_old_replica.sealed);
    let fresh_rewrapped = v12.rewrap(&fresh.sealed, &binding(&c, "password")).unwrap();
    assert!(
        db.store
            .replace_sealed(&fresh, &fresh_rewrapped, 2)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .replace_sealed(&fresh, &fresh_rewrapped, 2)
            .await
            .unwrap()
    );
    let now = db.stored(c.connection_uuid, "password").await;
    assert_eq!((now.key_version, &now.sealed), (2, &fresh_rewrapped));
    assert_eq!(
        open(&v12, &c, "password", &now.sealed).unwrap(),
        "newer-from-an-old-replica"
    );

    // rewrap_all while two rows change between its read and its write.
    let org = Uuid::new_v4();
    let mut rows = Vec::new();
    for i in 0..10 {
        let c = record(org, 100 + i);
        db.store
            .insert(&c, &[seal(&v1, &c, "password", &format!("pw-{i}"))])
            .await
            .unwrap();
        rows.push(c);
    }
    let user_write = seal(&v12, &rows[3], "password", "changed-by-the-user");
    let replica_write = seal(&v1, &rows[7], "password", "changed-by-an-old-replica");
    let meddling = Meddling {
        inner: db.store.clone(),
        pending: Mutex::new(vec![
            (rows[3].clone(), user_write.clone()),
            (rows[7].clone(), replica_write.clone()),
        ]),
    };
    let report = rewrap_all(&meddling, &v12).await.unwrap();
    assert!(
        meddling.pending.lock().unwrap().is_empty(),
        "both changes happened"
    );
    // 8 untouched rows moved, row 7 moved on the next pass (its newer value, re-wrapped), row
    // 3 kept as the user wrote it.
    assert_eq!(
        report,
        RewrapReport {
            moved: 9,
            failed: 0
        }
    );
    assert_eq!(
        db.stored(rows[3].connection_uuid, "password").await,
        user_write
    );
    let row7 = db.stored(rows[7].connection_uuid, "password").await;
    assert_eq!(row7.key_version, 2);
    assert_eq!(
        open(&keys.v2_only(), &rows[7], "password", &row7.sealed).unwrap(),
        "changed-by-an-old-replica"
    );
    for (i, c) in rows.iter().enumerate().filter(|(i, _)| ![3, 7].contains(i)) {
        let s = db.stored(c.connection_uuid, "password").await;
        assert_eq!(
            open(&keys.v2_only(), c, "password", &s.sealed).unwrap(),
            format!("pw-{i}")
        );
    }
    assert!(db.store.secrets_not_on(2, 100).await.unwrap().is_empty());
}

/// Two replicas running `rewrap_all` at the same time (an overlapping job): every secret is
/// moved exactly once between them, none is lost or left behind, and every value still opens.
async fn two_rewraps_at_once_move_each_secret_exactly_once(db: &TestDb) {
    const N: i64 = 300;
    let keys = Keys::new();
    let (v1, v12) = (keys.v1(), keys.v12());
    let org = Uuid::new_v4();
    let mut rows = Vec::new();
    for i in 0..N {
        let c = record(org, i);
        let sealed = [
            seal(&v1, &c, "password", &format!("pw-{i}")),
            seal(&v1, &c, "token", &format!("tk-{i}")),
        ];
        db.store.insert(&c, &sealed).await.unwrap();
        rows.push(c);
    }
    let (a, b) = tokio::join!(rewrap_all(&*db.store, &v12), rewrap_all(&*db.store, &v12));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.failed, b.failed), (0, 0));
    assert_eq!(a.moved + b.moved, 2 * N as u64, "{a:?} {b:?}");
    assert_eq!(db.store.versions().await.unwrap(), vec![(2, 2 * N)]);
    let v2_only = keys.v2_only();
    for (i, c) in rows.iter().enumerate() {
        for (field, secret) in [
            ("password", format!("pw-{i}")),
            ("token", format!("tk-{i}")),
        ] {
            let s = db.stored(c.connection_uuid, field).await;
            assert_eq!(open(&v2_only, c, field, &s.sealed).unwrap(), secret);
        }
    }
}

/// CR-6: the KEK lives outside the database and secrets are stored only sealed. After a canary
/// secret is stored, the SQLite file (and its WAL) or a dump of the PostgreSQL schema holds
/// neither the canary (as text, base64 or hex) nor the KEK (base64, raw or hex bytes), while it
/// does hold the sealed value (so the search looks at the right bytes).
async fn cr_6_neither_secret_nor_key_reaches_the_database(db: &TestDb) {
    const CANARY: &str = "canary-7f3a9c2e-kek-test-secret";
    let keys = Keys::new();
    let ring = keys.v12();
    let c = record(Uuid::new_v4(), 0);
    let secrets = [
        seal(&ring, &c, "password", CANARY),
        seal(
            &ring,
            &c,
            "privateKey",
            &format!("-----BEGIN PRIVATE KEY-----{CANARY}"),
        ),
    ];
    db.store.insert(&c, &secrets).await.unwrap();
    // And an update, so that the WAL or the dead tuples also see a second version.
    let mut c1 = c.clone();
    c1.updated_at = at(1);
    let updated = seal(&ring, &c, "password", &format!("{CANARY}-rotated"));
    assert!(
        db.store
            .update(&c1, c.updated_at, std::slice::from_ref(&updated), &[])
            .await
            .unwrap()
    );

    let mut forbidden: Vec<(String, Vec<u8>)> = vec![
        ("the canary".into(), CANARY.as_bytes().to_vec()),
        (
            "the canary in base64".into(),
            general_purpose::STANDARD_NO_PAD.encode(CANARY).into_bytes(),
        ),
        (
            "the canary in hex".into(),
            hex(CANARY.as_bytes()).into_bytes(),
        ),
    ];
    for (name, spec) in [("KEK 1", &keys.spec1), ("KEK 2", &keys.spec2)] {
        let (b64, raw) = key_material(spec);
        forbidden.push((format!("{name} as configured"), spec.as_bytes().to_vec()));
        forbidden.push((
            format!("{name} in base64"),
            b64.trim_end_matches('=').as_bytes().to_vec(),
        ));
        forbidden.push((format!("{name} in hex"), hex(&raw).into_bytes()));
        forbidden.push((format!("{name}'s raw bytes"), raw));
    }

    let mut looked_at: Vec<(String, Vec<u8>)> = Vec::new();
    match &db.place {
        Place::Sqlite { file, .. } => {
            let read_all = |looked_at: &mut Vec<(String, Vec<u8>)>, when: &str| {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let path = PathBuf::from(format!("{}{suffix}", file.display()));
                    if let Ok(bytes) = std::fs::read(&path) {
                        looked_at.push((format!("{} ({when})", path.display()), bytes));
                    }
                }
            };
            read_all(&mut looked_at, "open");
            // Closing checkpoints the WAL into the main file: look again.
            db.pool.close().await;
            read_all(&mut looked_at, "closed");
        }
        Place::Postgres { url, schema } => {
            looked_at.push((
                format!("SQL dump of schema {schema}"),
                sql_dump(db, schema).await,
            ));
            match which_pg_dump() {
                Some(pg_dump) => {
                    let out = std::process::Command::new(pg_dump)
                        .arg("--dbname")
                        .arg(url)
                        .arg("--schema")
                        .arg(schema)
                        .arg("--no-owner")
                        .output()
                        .expect("pg_dump runs");
                    if out.status.success() {
                        looked_at.push((format!("pg_dump --schema={schema}"), out.stdout));
                    } else {
                        eprintln!(
                            "\n!!! pg_dump failed ({}): checking the SQL dump only !!!\n",
                            String::from_utf8_lossy(&out.stderr).trim()
                        );
                    }
                }
                None => eprintln!("\n!!! no pg_dump on PATH: checking the SQL dump only !!!\n"),
            }
        }
    }

    let everything: Vec<u8> = looked_at
        .iter()
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    for sealed in [&secrets[1].sealed, &updated.sealed] {
        assert!(
            contains(&everything, sealed.as_bytes()),
            "the sealed value is not where the test looks: {:?}",
            looked_at.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
    }
    for (what, bytes) in &looked_at {
        for (name, needle) in &forbidden {
            assert!(!contains(bytes, needle), "{name} found in {what}");
        }
    }
}

/// Optimistic `update` refuses a writer that read an older `updated_at` (and writes none of its
/// secrets); `delete` takes the connection's secrets and the preferences naming it along, and
/// leaves other connections alone; `set_preference` on a deleted connection is `Gone`.
async fn update_is_optimistic_delete_cascades_and_preferences_see_deletions(db: &TestDb) {
    let ring = Keys::new().v12();
    let org = Uuid::new_v4();
    let c = record(org, 0);
    let other = record(org, 1);
    db.store
        .insert(
            &c,
            &[
                seal(&ring, &c, "password", "pw-1"),
                seal(&ring, &c, "token", "tk-1"),
            ],
        )
        .await
        .unwrap();
    db.store
        .insert(&other, &[seal(&ring, &other, "password", "other-pw")])
        .await
        .unwrap();

    let mut c1 = c.clone();
    c1.name = "renamed".into();
    c1.updated_at = at(100);
    assert!(
        db.store
            .update(
                &c1,
                c.updated_at,
                &[seal(&ring, &c, "password", "pw-2")],
                &[]
            )
            .await
            .unwrap()
    );
    assert_eq!(
        db.store.get(c.connection_uuid).await.unwrap(),
        Some(c1.clone())
    );

    // A writer that read the connection before that change loses, and writes nothing.
    let mut stale = c.clone();
    stale.name = "stale".into();
    stale.updated_at = at(200);
    let stale_secrets = [
        seal(&ring, &c, "password", "stale-pw"),
        seal(&ring, &c, "newField", "stale-new"),
    ];
    for seen in [c.updated_at, at(99), at(101)] {
        assert!(
            !db.store
                .update(&stale, seen, &stale_secrets, &[])
                .await
                .unwrap(),
            "seen {seen}"
        );
    }
    assert_eq!(
        db.store.get(c.connection_uuid).await.unwrap(),
        Some(c1.clone())
    );
    let fields: Vec<String> = db
        .store
        .secrets(c.connection_uuid)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.field)
        .collect();
    assert_eq!(fields, ["password", "token"]);
    let pw = db.stored(c.connection_uuid, "password").await;
    assert_eq!(open(&ring, &c, "password", &pw.sealed).unwrap(), "pw-2");

    // Preferences naming both connections.
    let (user, other_user) = (Uuid::new_v4(), Uuid::new_v4());
    let (project, project2) = (Uuid::new_v4(), Uuid::new_v4());
    db.store
        .set_preference(user, project, c.connection_uuid)
        .await
        .unwrap();
    db.store
        .set_preference(other_user, project, c.connection_uuid)
        .await
        .unwrap();
    db.store
        .set_preference(user, project2, other.connection_uuid)
        .await
        .unwrap();
    assert_eq!(
        db.store.preference(user, project).await.unwrap(),
        Some(c.connection_uuid)
    );
    assert_eq!(
        db.count_rows("credentials_preferences", c.connection_uuid)
            .await,
        2
    );
    assert_eq!(
        db.count_rows("connection_secrets", c.connection_uuid).await,
        2
    );

    // Delete: the secrets and preferences go with it; the other connection's stay.
    assert!(db.store.delete(c.connection_uuid).await.unwrap());
    assert!(
        !db.store.delete(c.connection_uuid).await.unwrap(),
        "already gone"
    );
    assert_eq!(db.store.get(c.connection_uuid).await.unwrap(), None);
    assert!(
        db.store
            .secrets(c.connection_uuid)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        db.store
            .secret_fields(&[c.connection_uuid])
            .await
            .unwrap()
            .is_empty()
    );
    for table in [
        "connections",
        "connection_secrets",
        "credentials_preferences",
    ] {
        assert_eq!(db.count_rows(table, c.connection_uuid).await, 0, "{table}");
    }
    assert_eq!(db.store.preference(user, project).await.unwrap(), None);
    assert_eq!(
        db.store.preference(other_user, project).await.unwrap(),
        None
    );
    assert_eq!(
        db.store.preference(user, project2).await.unwrap(),
        Some(other.connection_uuid)
    );
    assert_eq!(
        db.store.secrets(other.connection_uuid).await.unwrap().len(),
        1
    );

    // Choosing the deleted connection: Gone, and nothing is stored.
    assert!(matches!(
        db.store
            .set_preference(user, project, c.connection_uuid)
            .await,
        Err(StoreError::Gone)
    ));
    assert!(matches!(
        db.store
            .set_preference(user, project2, c.connection_uuid)
            .await,
        Err(StoreError::Gone)
    ));
    assert_eq!(db.store.preference(user, project).await.unwrap(), None);
    assert_eq!(
        db.store.preference(user, project2).await.unwrap(),
        Some(other.connection_uuid)
    );
    // Nor can an update bring it or its secrets back.
    let mut c2 = c1.clone();
    c2.updated_at = at(300);
    assert!(
        !db.store
            .update(
                &c2,
                c1.updated_at,
                &[seal(&ring, &c, "password", "pw-3")],
                &[]
            )
            .await
            .unwrap()
    );
    assert_eq!(
        db.count_rows("connection_secrets", c.connection_uuid).await,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers of the tests above

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn which_pg_dump() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("pg_dump"))
        .find(|p| p.is_file())
}

/// Every column of every row of every table of `schema`, as text.
async fn sql_dump(db: &TestDb, schema: &str) -> Vec<u8> {
    let Pool::Postgres(pool) = &db.pool else {
        unreachable!("PostgreSQL only")
    };
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        tables.iter().any(|t| t == "connection_secrets"),
        "{tables:?}"
    );
    let mut out = Vec::new();
    for table in tables {
        assert!(service_kit::db::valid_schema_name(&table), "{table}");
        let sql = format!("SELECT t::text FROM {schema}.{table} t");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        for row in rows {
            out.extend_from_slice(row.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// A store that, right before the re-wrap writes a secret, lets a concurrent writer change it
/// first (once per listed secret): a deterministic interleaving.
#[derive(Debug)]
struct Meddling {
    inner: Arc<dyn ConnectionsStore>,
    pending: Mutex<Vec<(ConnectionRecord, SecretRecord)>>,
}

type R<T> = connections_svc::store::Result<T>;

#[async_trait::async_trait]
impl ConnectionsStore for Meddling {
    async fn insert_within(
        &self,
        c: &ConnectionRecord,
        secrets: &[SecretRecord],
        limit: i64,
    ) -> R<bool> {
        self.inner.insert_within(c, secrets, limit).await
    }
    async fn get(&self, id: Uuid) -> R<Option<ConnectionRecord>> {
        self.inner.get(id).await
    }
    async fn list(
        &self,
        organization_uuid: Uuid,
        kind: &str,
        owner: Option<Uuid>,
        provider: Option<&str>,
    ) -> R<Vec<ConnectionRecord>> {
        self.inner
            .list(organization_uuid, kind, owner, provider)
            .await
    }
    async fn secret_fields(&self, connections: &[Uuid]) -> R<Vec<(Uuid, String)>> {
        self.inner.secret_fields(connections).await
    }
    async fn secrets(&self, id: Uuid) -> R<Vec<SecretRecord>> {
        self.inner.secrets(id).await
    }
    async fn update(
        &self,
        c: &ConnectionRecord,
        seen: DateTime<Utc>,
        secrets: &[SecretRecord],
        remove: &[String],
    ) -> R<bool> {
        self.inner.update(c, seen, secrets, remove).await
    }
    async fn put_tokens(
        &self,
        id: Uuid,
        secrets: &[SecretRecord],
        remove: &[String],
        expiry: Option<DateTime<Utc>>,
        scope: Option<&str>,
        at: DateTime<Utc>,
    ) -> R<bool> {
        self.inner
            .put_tokens(id, secrets, remove, expiry, scope, at)
            .await
    }
    async fn count(&self, org: Uuid, scope: &str) -> R<i64> {
        self.inner.count(org, scope).await
    }
    async fn oauth_due(
        &self,
        before: DateTime<Utc>,
        providers: &[String],
        limit: i64,
    ) -> R<Vec<ConnectionRecord>> {
        self.inner.oauth_due(before, providers, limit).await
    }
    async fn delete(&self, id: Uuid) -> R<bool> {
        self.inner.delete(id).await
    }
    async fn record_test(&self, id: Uuid, invalid: bool, at: DateTime<Utc>) -> R<()> {
        self.inner.record_test(id, invalid, at).await
    }
    async fn preference(&self, user: Uuid, project: Uuid) -> R<Option<Uuid>> {
        self.inner.preference(user, project).await
    }
    async fn set_preference(&self, user: Uuid, project: Uuid, connection: Uuid) -> R<()> {
        self.inner.set_preference(user, project, connection).await
    }
    async fn secrets_not_on(&self, version: i32, limit: i64) -> R<Vec<BoundSecret>> {
        self.inner.secrets_not_on(version, limit).await
    }
    async fn replace_sealed(&self, old: &BoundSecret, sealed: &str, version: i32) -> R<bool> {
        let change = {
            let mut pending = self.pending.lock().unwrap();
            pending
                .iter()
                .position(|(c, s)| c.connection_uuid == old.connection_uuid && s.field == old.field)
                .map(|i| pending.remove(i))
        };
        if let Some((c, s)) = change {
            let current = self
                .inner
                .get(c.connection_uuid)
                .await?
                .expect("the row exists");
            let mut next = current.clone();
            next.updated_at = current.updated_at + chrono::Duration::microseconds(1);
            assert!(
                self.inner
                    .update(&next, current.updated_at, &[s], &[])
                    .await?
            );
        }
        self.inner.replace_sealed(old, sealed, version).await
    }
    async fn versions(&self) -> R<Vec<(i32, i64)>> {
        self.inner.versions().await
    }
}

/// API4: a limit holds when creates race for the last places (one conditional upsert per
/// insert), counts are per organization and per owner, and a delete frees a place.
async fn limits_hold_under_concurrent_inserts_and_deletes_free_places(db: &TestDb) {
    use connections_svc::store::count_scope;
    let org = Uuid::now_v7();
    let limit = 5;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = db.store.clone();
            tokio::spawn(async move {
                let mut c = record(org, n);
                c.kind = "shared".into();
                store.insert_within(&c, &[], limit).await.unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for t in tasks {
        taken += i64::from(t.await.unwrap());
    }
    assert_eq!(taken, limit, "exactly the limit was taken");
    assert_eq!(db.store.count(org, "shared").await.unwrap(), limit);
    let listed = db.store.list(org, "shared", None, None).await.unwrap();
    assert_eq!(listed.len() as i64, limit);

    // Personal credentials count per owner, apart from the shared ones.
    let owner = Uuid::now_v7();
    let mut mine = record(org, 100);
    mine.kind = "personal".into();
    mine.owner_user_uuid = owner;
    assert!(db.store.insert_within(&mine, &[], 1).await.unwrap());
    let mut again = record(org, 101);
    again.kind = "personal".into();
    again.owner_user_uuid = owner;
    assert!(!db.store.insert_within(&again, &[], 1).await.unwrap());
    assert!(db.store.get(again.connection_uuid).await.unwrap().is_none());
    assert_eq!(
        db.store
            .count(org, &count_scope("personal", owner))
            .await
            .unwrap(),
        1
    );
    // Another organization has its own count.
    assert!(
        db.store
            .insert_within(&record(Uuid::now_v7(), 200), &[], 1)
            .await
            .unwrap()
    );

    // A delete frees a place; deleting twice frees one.
    let first = listed[0].connection_uuid;
    assert!(db.store.delete(first).await.unwrap());
    assert!(!db.store.delete(first).await.unwrap());
    assert_eq!(db.store.count(org, "shared").await.unwrap(), limit - 1);
    assert!(
        db.store
            .insert_within(&record(org, 300), &[], limit)
            .await
            .unwrap()
    );
    assert!(
        !db.store
            .insert_within(&record(org, 301), &[], limit)
            .await
            .unwrap()
    );
}
