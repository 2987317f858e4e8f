//! Key rotation and re-wrap over real rows (CR-4, CR-5): old versions still open, new writes
//! use the newest key, `rewrap_all` moves every secret once, skips what it cannot open, and
//! never overwrites a newer value.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use connections_svc::{
    domain::{RewrapReport, rewrap_all},
    envelope::{EnvelopeError, Keyring},
    store::{
        BoundSecret, ConnectionRecord, ConnectionsStore, ListFilter, SecretRecord, ShareStore,
        Shared,
    },
};
use uuid::Uuid;

use crate::{fixtures::*, harness::*};

both_backends!(
    cr_4_and_5_rotation_and_rewrap_over_real_rows,
    rewrap_all_skips_what_it_cannot_open_and_terminates,
    replace_sealed_never_overwrites_a_newer_value,
    two_rewraps_at_once_move_each_secret_exactly_once,
);

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

/// A store that, right before the re-wrap writes a secret, lets a concurrent writer change it
/// first (once per listed secret): a deterministic interleaving.
#[derive(Debug)]
struct Meddling {
    inner: Arc<dyn ConnectionsStore>,
    pending: Mutex<Vec<(ConnectionRecord, SecretRecord)>>,
}

type R<T> = connections_svc::store::Result<T>;

#[async_trait::async_trait]
impl ShareStore for Meddling {
    async fn share(&self, id: Uuid, user: Uuid, at: DateTime<Utc>, max: i64) -> R<Shared> {
        self.inner.share(id, user, at, max).await
    }
    async fn unshare(&self, id: Uuid, user: Uuid) -> R<bool> {
        self.inner.unshare(id, user).await
    }
    async fn is_shared_with(&self, id: Uuid, user: Uuid) -> R<bool> {
        self.inner.is_shared_with(id, user).await
    }
    async fn shares_of(&self, connections: &[Uuid]) -> R<Vec<(Uuid, Uuid)>> {
        self.inner.shares_of(connections).await
    }
}

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
    async fn list(&self, filter: &ListFilter<'_>) -> R<Vec<ConnectionRecord>> {
        self.inner.list(filter).await
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
    async fn limit_hit(
        &self,
        limit: &service_kit::limits::Limit,
        key: &str,
        now: DateTime<Utc>,
    ) -> R<service_kit::limits::Hit> {
        self.inner.limit_hit(limit, key, now).await
    }
}

/// `connections-svc rewrap`, the real binary, needs no service credential: with only its
/// database (here an empty SQLite file in `DATA_DIR`) it answers the counts as its last line;
/// on PostgreSQL without `CONNECTIONS_KEYS` it says what is missing.
#[test]
fn the_rewrap_command_needs_only_the_database_and_the_keys() {
    let dir = std::env::temp_dir().join(format!("rewrap-cli-{}", Uuid::new_v4()));
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_connections-svc"))
            .env_clear()
            .env("DATA_DIR", &dir)
            .arg("rewrap")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().last(), Some(r#"{"moved":0,"failed":0}"#));
    let out = run(&[
        "--connections-database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("CONNECTIONS_KEYS is required"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
