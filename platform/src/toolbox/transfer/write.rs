//! How `import` writes: one transaction per service, in [`SERVICES`]' order. Each service's
//! tables are first compared with the document: a service holding none of the organization's
//! rows gets them written; one holding exactly the document's rows was imported before (by a
//! run whose later commits failed) and is skipped; one holding other rows is refused, and
//! nothing is written anywhere. The transactions commit one after the other once every service
//! is written and checked: three databases cannot commit at once, so when a commit fails the
//! error names the services committed and those not, and running the same import again writes
//! only the latter.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;
use uuid::Uuid;

use super::{Cell, Kind, import::Parsed, sql::Tx, tables::SERVICES};

/// Columns whose stored value the target moves itself as rows are written (a trigger), not
/// compared when deciding whether a service was imported before.
const MOVED_BY_TARGET: &[(&str, &str)] = &[("projects", "spaces_version")];

/// What a service's database holds of the organization.
enum Held {
    /// None of its rows: they are written.
    Nothing,
    /// Exactly the document's rows: imported before.
    Same,
}

/// Writes every service's rows as the module says; answers the number of rows written.
pub(super) async fn write_all(
    pools: &[service_kit::db::Pool],
    services: &[Vec<Parsed>],
    accounts: &[Uuid],
    progress: &mut dyn Write,
) -> anyhow::Result<usize> {
    let mut transactions = Vec::new();
    let mut total = 0;
    for ((service, pool), tables) in SERVICES.iter().zip(pools).zip(services) {
        let mut tx = Tx::begin(pool, false).await?;
        if let Held::Same = held(&mut tx, service.name, tables, accounts).await? {
            writeln!(
                progress,
                "import: {}: already imported (it holds the document's rows); skipped",
                service.name
            )?;
            continue;
        }
        for t in tables {
            tx.insert(t.table, &t.rows).await.with_context(|| {
                format!(
                    "{}-svc's database refused the document; nothing was written",
                    service.name
                )
            })?;
            writeln!(
                progress,
                "import: {}.{}: {} row(s)",
                service.name,
                t.table.name,
                t.rows.len()
            )?;
            total += t.rows.len();
        }
        // Every row written belongs to the organization (a row scoped through another, such as
        // a user through their membership, is counted once both are in).
        for t in tables {
            let held = tx.count(t.table, accounts).await?;
            anyhow::ensure!(
                usize::try_from(held).ok() == Some(t.rows.len()),
                "{}.{}: {} row(s) written but {held} belong to the organization: the document holds rows of others; nothing was written",
                service.name,
                t.table.name,
                t.rows.len()
            );
        }
        transactions.push((service.name, tx));
    }
    commit(transactions).await?;
    Ok(total)
}

/// Commits each transaction in turn; a failure names what committed and what did not.
async fn commit(transactions: Vec<(&'static str, Tx)>) -> anyhow::Result<()> {
    let mut committed = Vec::new();
    let mut left: Vec<&str> = transactions.iter().map(|(name, _)| *name).collect();
    for (name, tx) in transactions {
        left.remove(0);
        if let Err(e) = tx.commit().await {
            let done = if committed.is_empty() {
                "nothing was written".to_owned()
            } else {
                format!("committed: {}", committed.join(", "))
            };
            let mut not = vec![name];
            not.extend(&left);
            anyhow::bail!(
                "{name}-svc's database did not commit ({e:#}): {done}; not committed: {}. Once the cause is fixed, run the same import again: the services committed are recognised as already imported",
                not.join(", ")
            );
        }
        committed.push(name);
    }
    Ok(())
}

/// Whether `tables` of `service` hold nothing of the organization or exactly the document's
/// rows; an error when they hold anything else.
async fn held(
    tx: &mut Tx,
    service: &str,
    tables: &[Parsed],
    accounts: &[Uuid],
) -> anyhow::Result<Held> {
    let mut any = false;
    let mut differs = None;
    for t in tables {
        let rows = tx.select(t.table, accounts).await?;
        any |= !rows.is_empty();
        if differs.is_none() && !same_rows(service, t, &rows)? {
            differs = Some((t.table.name, rows.len()));
        }
    }
    if !any {
        return Ok(Held::Nothing);
    }
    if let Some((table, n)) = differs {
        anyhow::bail!(
            "this deployment already holds {n} row(s) of {service}.{table} for organization {} that differ from the document (imported before, and changed since?); nothing was written",
            accounts[0]
        );
    }
    Ok(Held::Same)
}

/// Whether `held` (as read from the database) are the document's rows of `t`, as a multiset,
/// times to the microsecond (PostgreSQL keeps no more).
fn same_rows(service: &str, t: &Parsed, held: &[super::Row]) -> anyhow::Result<bool> {
    if held.len() != t.rows.len() {
        return Ok(false);
    }
    let compared: Vec<usize> = (t.table.columns.iter().enumerate())
        .filter(|(_, (c, _))| !MOVED_BY_TARGET.contains(&(service, c)))
        .map(|(i, _)| i)
        .collect();
    let key = |cells: &[Cell]| -> String {
        let row: Vec<Value> = compared.iter().map(|i| comparable(&cells[*i])).collect();
        Value::Array(row).to_string()
    };
    let mut theirs = Vec::with_capacity(held.len());
    for row in held {
        let cells = (t.table.columns.iter())
            .map(|(name, kind)| parse_held(*kind, row.get(*name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        theirs.push(key(&cells));
    }
    let mut ours: Vec<String> = t.rows.iter().map(|r| key(r)).collect();
    theirs.sort_unstable();
    ours.sort_unstable();
    Ok(theirs == ours)
}

fn parse_held(kind: Kind, value: Option<&Value>) -> anyhow::Result<Cell> {
    Cell::parse(kind, value.unwrap_or(&Value::Null))
        .map_err(|e| anyhow::anyhow!("a stored row: expected {e}"))
}

/// `cell` as compared: a time to the microsecond.
fn comparable(cell: &Cell) -> Value {
    match cell {
        Cell::Time(Some(t)) => Value::from(t.timestamp_micros()),
        other => other.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolbox::transfer::Table;

    /// The table `name` of `service`.
    fn table(service: &str, name: &str) -> &'static Table {
        SERVICES
            .iter()
            .filter(|s| s.name == service)
            .flat_map(|s| s.tables)
            .find(|t| t.name == name)
            .unwrap()
    }

    #[test]
    fn rows_compare_as_a_multiset_with_times_to_the_microsecond_and_moved_columns_ignored() {
        let t = table("projects", "projects");
        let row = |version: i64, nanos: &str| {
            let mut r = super::super::Row::new();
            for (name, _) in t.columns {
                r.insert((*name).to_owned(), Value::Null);
            }
            r.insert("project_uuid".into(), Uuid::nil().to_string().into());
            r.insert("spaces_version".into(), version.into());
            r.insert(
                "created_at".into(),
                format!("2026-01-02T03:04:05.123456{nanos}Z").into(),
            );
            r
        };
        let parsed = |rows: &[super::super::Row]| Parsed {
            table: t,
            rows: rows
                .iter()
                .map(|r| {
                    t.columns
                        .iter()
                        .map(|(n, k)| parse_held(*k, r.get(*n)).unwrap())
                        .collect()
                })
                .collect(),
        };
        let document = parsed(&[row(1, "789")]);
        assert!(same_rows("projects", &document, &[row(4, "")]).unwrap());
        let mut other = row(1, "");
        other.insert("name".into(), "changed".into());
        assert!(!same_rows("projects", &document, &[other]).unwrap());
        assert!(!same_rows("projects", &document, &[]).unwrap());
    }
}
