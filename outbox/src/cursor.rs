//! A consumer's cursor: its table `event_cursors (source TEXT PRIMARY KEY, sequence BIGINT)`,
//! one row per producer followed, and the statements an [`EventSink`](crate::EventSink) runs
//! on it. The SQL is the same on both backends, so each function is generic over sqlx's
//! database; a sink calls them with its pool or with the transaction that applies an event.

use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

use crate::Snapshot;

/// The stored cursor of `source`, 0 when none (for
/// [`EventSink::cursor`](crate::EventSink::cursor)).
pub async fn read<'c, E, DB>(executor: E, source: &str) -> sqlx::Result<i64>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    let cursor: Option<i64> =
        sqlx::query_scalar("SELECT sequence FROM event_cursors WHERE source = $1")
            .bind(source)
            .fetch_optional(executor)
            .await?;
    Ok(cursor.unwrap_or(0))
}

/// In the transaction that applies an event ([`EventSink::apply`](crate::EventSink::apply)):
/// makes sure the cursor of `source` exists and moves it from `after` to `to`. False when
/// another instance moved it first: the caller then drops the transaction (rolled back) and
/// answers false.
pub async fn advance<C, DB>(conn: &mut C, source: &str, after: i64, to: i64) -> sqlx::Result<bool>
where
    for<'e> &'e mut C: Executor<'e, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
{
    ensure(&mut *conn, source).await?;
    let moved =
        sqlx::query("UPDATE event_cursors SET sequence = $1 WHERE source = $2 AND sequence = $3")
            .bind(to)
            .bind(source)
            .bind(after)
            .execute(&mut *conn)
            .await?;
    Ok(moved.rows() > 0)
}

/// In the transaction of [`EventSink::resync`](crate::EventSink::resync): sets the cursor of
/// `source` to the snapshot's head, forward only (an instance holding an older snapshot never
/// moves it back) unless the snapshot says to rewind; a reconciliation leaves it alone.
pub async fn set_from_snapshot<C, DB>(
    conn: &mut C,
    source: &str,
    snapshot: &Snapshot,
) -> sqlx::Result<()>
where
    for<'e> &'e mut C: Executor<'e, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    if snapshot.reconcile_only {
        return Ok(());
    }
    ensure(&mut *conn, source).await?;
    let sql = if snapshot.rewind {
        "UPDATE event_cursors SET sequence = $1 WHERE source = $2"
    } else {
        "UPDATE event_cursors SET sequence = $1 WHERE source = $2 AND sequence < $1"
    };
    sqlx::query(sql)
        .bind(snapshot.head)
        .bind(source)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Creates the cursor of `source` at 0 when it has none.
async fn ensure<'c, E, DB>(executor: E, source: &str) -> sqlx::Result<()>
where
    E: Executor<'c, Database = DB>,
    DB: Database,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO event_cursors (source, sequence) VALUES ($1, 0) \
         ON CONFLICT (source) DO NOTHING",
    )
    .bind(source)
    .execute(executor)
    .await?;
    Ok(())
}

/// The number of rows a statement changed, which sqlx reports on each backend's own type.
pub trait RowsAffected {
    /// Rows inserted, updated or deleted.
    fn rows(&self) -> u64;
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}
