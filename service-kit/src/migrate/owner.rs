//! What `migrate` does after migrating, as the owner of a PostgreSQL schema: what the runtime
//! role cannot do itself.
//!
//! - It takes back the runtime roles' right to write `_sqlx_migrations` (the schema's default
//!   privileges grant it with every table the owner creates), so the state a service started
//!   with MIGRATE_ON_START=false trusts can only be changed by the owner; they keep SELECT,
//!   which that service needs to check its schema.
//! - It rewrites the tables the service names ([`super::ServiceSchema::compact`]) with
//!   `VACUUM FULL`: PostgreSQL skips it, with a mere warning, for a role that does not own the
//!   table, so the old row versions an upgraded service overwrote (signing keys an older
//!   release stored in clear) stay in the table's file until the owner does it.

use anyhow::Context;
use sqlx::PgPool;

use super::TABLE;

/// Whether the connection's role owns (or is a member of the owner of) `table` in the current
/// schema; false when there is no such table.
pub async fn owns(pg: &PgPool, table: &str) -> sqlx::Result<bool> {
    let owns: Option<bool> = sqlx::query_scalar(
        "SELECT pg_has_role(current_user, tableowner, 'USAGE') FROM pg_tables \
         WHERE schemaname = current_schema() AND tablename = $1",
    )
    .bind(table)
    .fetch_optional(pg)
    .await?;
    Ok(owns.unwrap_or(false))
}

/// Runs both steps when the connection's role owns the schema's `_sqlx_migrations`, telling
/// `report` what it did; does nothing otherwise (a role that does not own the schema may run
/// `migrate` when there is nothing to apply).
pub(super) async fn finish(
    pg: &PgPool,
    compact: &[&str],
    report: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<()> {
    if !owns(pg, TABLE)
        .await
        .context("cannot read the schema's owner")?
    {
        return Ok(());
    }
    let writers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' \
           ELSE quote_ident(pg_get_userbyid(a.grantee)) END \
         FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a \
         WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner \
           AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') \
         ORDER BY 1",
    )
    .bind(TABLE)
    .fetch_all(pg)
    .await
    .with_context(|| format!("cannot read the privileges on {TABLE}"))?;
    if !writers.is_empty() {
        let grantees = writers.join(", ");
        // The names come from the catalog, quoted by quote_ident.
        let sql = format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {TABLE} FROM {grantees}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pg)
            .await
            .with_context(|| format!("cannot revoke the writes on {TABLE}"))?;
        report(format!("{TABLE} is read-only for {grantees}"));
    }
    for table in compact {
        if !owns(pg, table)
            .await
            .with_context(|| format!("cannot read the owner of {table}"))?
        {
            continue;
        }
        let sql = format!("VACUUM FULL {table}");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pg)
            .await
            .with_context(|| format!("cannot compact {table} (VACUUM FULL)"))?;
        report(format!(
            "compacted {table} (VACUUM FULL: old row versions erased)"
        ));
    }
    Ok(())
}
