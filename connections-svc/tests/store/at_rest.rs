//! What reaches the database (CR-6): secrets only sealed, and never the key.

use std::path::PathBuf;

use base64::{Engine as _, engine::general_purpose};

use service_kit::db::Pool;
use uuid::Uuid;

use crate::{fixtures::*, harness::*};

both_backends!(cr_6_neither_secret_nor_key_reaches_the_database,);

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

// Helpers

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
