//! The tables `export` moves against the services' migrated schemas: every table and column is
//! moved or named as skipped, so a migration that adds one fails here until it is placed.

use std::collections::BTreeSet;

use super::tables::{SERVICES, SKIPPED, SKIPPED_COLUMNS};

#[tokio::test]
async fn every_table_and_column_is_moved_or_named_as_skipped() {
    let dir = std::env::temp_dir().join(format!("toolbox-schema-{}", uuid::Uuid::new_v4()));
    let config = crate::Config::new("127.0.0.1:0".parse().unwrap(), dir.clone());
    let mut missing = Vec::new();
    for service in &SERVICES {
        let db = crate::toolbox::databases::Databases::default_for(&config, service.name);
        let pool = service_kit::db::connect(&db).await.unwrap();
        let migrations = crate::toolbox::databases::migrations_of(service.name);
        pool.migrate(migrations.sqlite, migrations.postgres)
            .await
            .unwrap();
        let service_kit::db::Pool::Sqlite(p) = &pool else {
            unreachable!("no URL: SQLite")
        };
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(p)
        .await
        .unwrap();
        for table in tables {
            let at = format!("{}.{table}", service.name);
            let Some(spec) = service.tables.iter().find(|t| t.name == table) else {
                if !SKIPPED.iter().any(|(s, _)| *s == at) {
                    missing.push(at);
                }
                continue;
            };
            let columns: BTreeSet<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(p)
            .await
            .unwrap()
            .into_iter()
            .collect();
            let moved: BTreeSet<String> =
                spec.columns.iter().map(|(c, _)| (*c).to_owned()).collect();
            for c in &columns {
                let name = format!("{at}.{c}");
                if !moved.contains(c) && !SKIPPED_COLUMNS.iter().any(|(s, _)| *s == name) {
                    missing.push(name);
                }
            }
            for c in moved.difference(&columns) {
                missing.push(format!("{at}.{c} (moved, but not in the schema)"));
            }
        }
        pool.close().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        missing.is_empty(),
        "place these in toolbox/transfer/tables.rs (moved or skipped): {missing:?}"
    );
}

#[test]
fn cells_refuse_values_of_another_kind_without_quoting_them() {
    use super::{Cell, Kind};
    use serde_json::json;
    let canary = "canary-7d1e";
    for (kind, value) in [
        (Kind::Uuid, json!(canary)),
        (Kind::Time, json!(canary)),
        (Kind::Bool, json!(canary)),
        (Kind::Int, json!(canary)),
        (Kind::Int32, json!(1_i64 << 40)),
        (Kind::Text, json!([canary])),
    ] {
        let e = Cell::parse(kind, &value).unwrap_err();
        assert!(!e.contains(canary), "{e}");
    }
    let t = Cell::parse(Kind::Time, &json!("2026-12-07T01:02:03.456789Z")).unwrap();
    assert_eq!(t.to_json(), json!("2026-12-07T01:02:03.456789Z"));
    let u = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        Cell::parse(Kind::Uuid, &json!(u)).unwrap().to_json(),
        json!(u)
    );
    assert_eq!(
        Cell::parse(Kind::Int32, &json!(null)).unwrap().to_json(),
        json!(null)
    );
}
