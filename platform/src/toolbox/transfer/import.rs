//! `platform import`: writes an organization exported by `platform export` into this
//! deployment's databases. The whole document is checked first (its format, every row's
//! columns and kinds, its accounts' paths and users ([`check`]), that every connection secret
//! opens under this deployment's `CONNECTIONS_KEYS`); then [`super::write`] writes each
//! service's rows in one transaction per service, committed in turn.

use std::{collections::HashMap, io::Write, path::PathBuf};

use anyhow::Context;
use uuid::Uuid;

use super::{
    Cell, Document, FORMAT, Table,
    check::{self, uuid_at},
    tables::SERVICES,
};
use crate::toolbox::databases::{self, Databases};

/// Arguments of `platform import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The document to read (from `platform export`). Default: standard input.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Per-service databases (a deployment of separate services).
    #[command(flatten)]
    pub databases: Databases,
}

/// One table's rows, parsed: cells in the order of its columns.
pub(super) struct Parsed {
    pub table: &'static Table,
    pub rows: Vec<Vec<Cell>>,
}

/// Imports as `args` says, with the connection secrets checked against `keyring`; progress to
/// `progress`, one JSON line summing it up to `out`.
pub async fn run(
    config: &crate::Config,
    args: &ImportArgs,
    keyring: &connections_svc::envelope::Keyring,
    progress: &mut dyn Write,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let text = match &args.input {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?,
    };
    // serde's message may quote the document: only where it went wrong is shown.
    let document: Document = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "not a {FORMAT} document: {:?} error at line {}, column {}",
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    anyhow::ensure!(
        document.format == FORMAT,
        "unsupported format {:?}: this tool reads {FORMAT}",
        document.format
    );
    let services = parse(&document)?;
    let accounts = check::accounts(&document, &services[0])?;
    check::users_and_emails(&services)?;
    check_secrets(&services[2], keyring)?;
    writeln!(
        progress,
        "import: organization {}: {} account(s); document checked",
        document.organization_uuid,
        accounts.len()
    )?;
    let mut pools = Vec::new();
    for s in &SERVICES {
        pools.push(databases::open(&args.databases.of(config, s.name), s.name).await?);
    }
    let written = super::write::write_all(&pools, &services, &accounts, progress).await;
    for p in &pools {
        p.close().await;
    }
    let rows = written?;
    let summary = serde_json::json!({
        "organizationUuid": document.organization_uuid,
        "accounts": accounts.len(),
        "rows": rows,
    });
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(())
}

/// Every service's tables, parsed and ordered (parents before children), in [`SERVICES`]'
/// order; an error names the service, table, row and column at fault.
fn parse(document: &Document) -> anyhow::Result<Vec<Vec<Parsed>>> {
    for name in document.services.keys() {
        anyhow::ensure!(
            SERVICES.iter().any(|s| s.name == name),
            "unknown service {name:?}"
        );
    }
    let mut services = Vec::new();
    for service in &SERVICES {
        let tables = document
            .services
            .get(service.name)
            .with_context(|| format!("the document lacks service {}", service.name))?;
        for name in tables.keys() {
            anyhow::ensure!(
                service.tables.iter().any(|t| t.name == name),
                "unknown table {}.{name}",
                service.name
            );
        }
        let mut parsed = Vec::new();
        for table in service.tables {
            let at = format!("{}.{}", service.name, table.name);
            let rows = tables
                .get(table.name)
                .with_context(|| format!("the document lacks table {at}"))?;
            let mut cells = Vec::with_capacity(rows.len());
            for (n, row) in rows.iter().enumerate() {
                cells.push(parse_row(table, row).with_context(|| format!("{at}, row {}", n + 1))?);
            }
            if let Some(tree) = table.tree {
                cells = parents_first(table, tree, cells).with_context(|| at.clone())?;
            }
            parsed.push(Parsed { table, rows: cells });
        }
        services.push(parsed);
    }
    Ok(services)
}

fn parse_row(table: &Table, row: &super::Row) -> anyhow::Result<Vec<Cell>> {
    for key in row.keys() {
        anyhow::ensure!(
            table.columns.iter().any(|(c, _)| c == key),
            "unknown column {key:?}"
        );
    }
    table
        .columns
        .iter()
        .map(|(name, kind)| {
            let value = row
                .get(*name)
                .with_context(|| format!("column {name} is missing"))?;
            Cell::parse(*kind, value).map_err(|e| anyhow::anyhow!("column {name}: expected {e}"))
        })
        .collect()
}

/// `rows` ordered so that each row's parent (in the same table) comes before it.
fn parents_first(
    table: &Table,
    (id, parent): (&str, &str),
    mut rows: Vec<Vec<Cell>>,
) -> anyhow::Result<Vec<Vec<Cell>>> {
    let ids: std::collections::HashSet<Uuid> =
        rows.iter().filter_map(|r| uuid_at(table, r, id)).collect();
    let mut placed = std::collections::HashSet::new();
    let mut ordered = Vec::with_capacity(rows.len());
    while !rows.is_empty() {
        let before = rows.len();
        let (ready, waiting): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| {
            uuid_at(table, r, parent).is_none_or(|p| placed.contains(&p) || !ids.contains(&p))
        });
        for r in ready {
            placed.extend(uuid_at(table, &r, id));
            ordered.push(r);
        }
        rows = waiting;
        anyhow::ensure!(rows.len() < before, "rows whose parents form a cycle");
    }
    Ok(ordered)
}

/// Every sealed secret opens under `keyring` with its binding (organization, connection,
/// field): the target must hold the key versions they were sealed with. Nothing is kept or
/// shown of what opens.
fn check_secrets(
    connections: &[Parsed],
    keyring: &connections_svc::envelope::Keyring,
) -> anyhow::Result<()> {
    let (rows, secrets) = (&connections[0], &connections[1]);
    let organization_of: HashMap<Uuid, Uuid> = rows
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                uuid_at(rows.table, r, "connection_uuid")?,
                uuid_at(rows.table, r, "organization_uuid")?,
            ))
        })
        .collect();
    for (n, s) in secrets.rows.iter().enumerate() {
        let at = || format!("connections.connection_secrets, row {}", n + 1);
        let connection = uuid_at(secrets.table, s, "connection_uuid").with_context(at)?;
        let organization = *organization_of
            .get(&connection)
            .with_context(|| format!("{}: its connection is not in the document", at()))?;
        let (Cell::Text(Some(field)), Cell::Text(Some(sealed))) = (&s[1], &s[3]) else {
            anyhow::bail!("{}: field and sealed are required", at());
        };
        let binding = connections_svc::envelope::Binding {
            organization_uuid: organization,
            connection_uuid: connection,
            field,
        };
        if let Err(e) = keyring.open(sealed, &binding) {
            anyhow::bail!(
                "the secret {field:?} of connection {connection} does not open under this deployment's CONNECTIONS_KEYS ({e}; sealed under key version {}): give the target the source's key versions (docs/operations.md)",
                connections_svc::envelope::Keyring::version_of(sealed)
                    .map_or_else(|_| "?".to_owned(), |v| v.to_string())
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn organization(id: Uuid, parent: Option<Uuid>) -> Vec<Cell> {
        let table = &SERVICES[0].tables[0];
        let mut row = super::super::Row::new();
        for (name, _) in table.columns {
            row.insert((*name).to_owned(), serde_json::Value::Null);
        }
        row.insert("organization_uuid".into(), id.to_string().into());
        if let Some(p) = parent {
            row.insert("parent_uuid".into(), p.to_string().into());
        }
        parse_row(table, &row).unwrap()
    }

    #[test]
    fn parents_are_written_before_their_children_and_a_cycle_is_refused() {
        let table = &SERVICES[0].tables[0];
        let tree = table.tree.unwrap();
        let (root, child, grandchild) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let rows = vec![
            organization(grandchild, Some(child)),
            organization(child, Some(root)),
            organization(root, None),
        ];
        let ordered = parents_first(table, tree, rows).unwrap();
        let ids: Vec<Uuid> = ordered
            .iter()
            .map(|r| uuid_at(table, r, "organization_uuid").unwrap())
            .collect();
        assert_eq!(ids, [root, child, grandchild]);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let cycle = vec![organization(a, Some(b)), organization(b, Some(a))];
        assert!(parents_first(table, tree, cycle).is_err());
    }
}
