//! The statements of `export` and `import`, written once for both backends: a transaction on
//! one service's database, the rows of one table in scope, their count, their insertion.

use anyhow::Context;
use service_kit::db::Pool;
use uuid::Uuid;

use super::{Cell, Kind, Row, Table, scoped};

/// A transaction on one service's database.
pub(super) enum Tx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Runs `$body` with `$c` bound to the transaction's connection, on either backend.
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
            Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Reads column `$i` of `$row` as `$kind` into a [`Cell`].
macro_rules! read_cell {
    ($row:expr, $i:expr, $kind:expr) => {{
        use sqlx::Row as _;
        match $kind {
            Kind::Uuid => Cell::Uuid($row.try_get($i)?),
            Kind::Time => Cell::Time($row.try_get($i)?),
            Kind::Bool => Cell::Bool($row.try_get($i)?),
            Kind::Int => Cell::Int($row.try_get($i)?),
            Kind::Int32 => Cell::Int32($row.try_get($i)?),
            Kind::Text => Cell::Text($row.try_get($i)?),
        }
    }};
}

/// `$query` with `$cell` bound as its next parameter.
macro_rules! bind_cell {
    ($query:expr, $cell:expr) => {
        match $cell {
            Cell::Uuid(v) => $query.bind(*v),
            Cell::Time(v) => $query.bind(*v),
            Cell::Bool(v) => $query.bind(*v),
            Cell::Int(v) => $query.bind(*v),
            Cell::Int32(v) => $query.bind(*v),
            Cell::Text(v) => $query.bind(v.clone()),
        }
    };
}

impl Tx {
    /// Begins a transaction on `pool`; `read_only` exports see one snapshot on PostgreSQL too
    /// (SQLite's read transaction is one already).
    pub(super) async fn begin(pool: &Pool, read_only: bool) -> anyhow::Result<Self> {
        Ok(match pool {
            Pool::Postgres(p) => {
                let mut t = p.begin().await?;
                if read_only {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *t)
                        .await?;
                }
                Tx::Postgres(t)
            }
            // A writer takes SQLite's write lock at once: a deferred transaction that read first
            // could not upgrade once the running service had written meanwhile.
            Pool::Sqlite(p) if !read_only => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Sqlite(p) => Tx::Sqlite(p.begin().await?),
        })
    }

    /// Commits.
    pub(super) async fn commit(self) -> anyhow::Result<()> {
        match self {
            Tx::Postgres(t) => t.commit().await?,
            Tx::Sqlite(t) => t.commit().await?,
        }
        Ok(())
    }

    /// The rows of `table` in scope of `accounts`, in the order of its first column.
    pub(super) async fn select(
        &mut self,
        table: &Table,
        accounts: &[Uuid],
    ) -> anyhow::Result<Vec<Row>> {
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} ORDER BY {}",
            names.join(", "),
            table.name,
            scoped(table.scope, accounts.len(), 1),
            names.join(", ")
        );
        let read = async {
            on_tx!(self, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for a in accounts {
                    q = q.bind(*a);
                }
                let mut rows = Vec::new();
                for r in q.fetch_all(c).await? {
                    let mut row = Row::new();
                    for (i, (name, kind)) in table.columns.iter().enumerate() {
                        let cell: Cell = read_cell!(r, i, *kind);
                        row.insert((*name).to_owned(), cell.to_json());
                    }
                    rows.push(row);
                }
                Ok::<_, sqlx::Error>(rows)
            })
        };
        read.await
            .with_context(|| format!("cannot read table {}", table.name))
    }

    /// How many rows of `table` are in scope of `accounts`.
    pub(super) async fn count(&mut self, table: &Table, accounts: &[Uuid]) -> anyhow::Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {}",
            table.name,
            scoped(table.scope, accounts.len(), 1)
        );
        let count = async {
            on_tx!(self, |c| {
                let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
                for a in accounts {
                    q = q.bind(*a);
                }
                q.fetch_one(c).await
            })
        };
        count
            .await
            .with_context(|| format!("cannot count table {}", table.name))
    }

    /// Inserts `rows` (cells in the order of the table's columns) into `table`.
    pub(super) async fn insert(&mut self, table: &Table, rows: &[Vec<Cell>]) -> anyhow::Result<()> {
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| *n).collect();
        let params: Vec<String> = (1..=names.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.name,
            names.join(", "),
            params.join(", ")
        );
        for (n, cells) in rows.iter().enumerate() {
            let insert = async {
                on_tx!(self, |c| {
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                    for cell in cells {
                        q = bind_cell!(q, cell);
                    }
                    q.execute(c).await.map(|r| r.rows_affected())
                })
            };
            // The database's message names the constraint, never a value.
            insert
                .await
                .with_context(|| format!("cannot write row {} of table {}", n + 1, table.name))?;
        }
        Ok(())
    }
}

impl Tx {
    /// The accounts of top-level account `root` (it first, then those below it), on
    /// identity-svc's database; an error when it does not exist or is a sub-account.
    pub(super) async fn accounts_of(&mut self, root: Uuid) -> anyhow::Result<Vec<Uuid>> {
        let found: Option<(Option<Uuid>, String)> = on_tx!(self, |c| {
            sqlx::query_as(
                "SELECT parent_uuid, path FROM organizations WHERE organization_uuid = $1",
            )
            .bind(root)
            .fetch_optional(c)
            .await
        })?;
        let Some((parent, path)) = found else {
            anyhow::bail!("organization {root} does not exist in identity-svc's database");
        };
        if let Some(parent) = parent {
            anyhow::bail!(
                "organization {root} is a sub-account of {parent}: export its top-level account, which carries its sub-accounts"
            );
        }
        let below = format!("{path}/%");
        let mut accounts: Vec<Uuid> = on_tx!(self, |c| {
            sqlx::query_scalar(
                "SELECT organization_uuid FROM organizations WHERE path LIKE $1 ORDER BY depth, path",
            )
            .bind(&below)
            .fetch_all(c)
            .await
        })?;
        accounts.insert(0, root);
        Ok(accounts)
    }
}
