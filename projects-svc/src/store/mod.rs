//! projects-svc's persistence: [`ProjectsStore`], made of one small trait per area
//! (`projects.rs`, `grants.rs`, `spaces.rs`, `tags.rs`), and [`SqlStore`], which implements
//! them on either backend: each method holds its SQL and runs it with
//! `service_kit::on_pool!`. `events.rs` is the store's side of the event consumer.
//! Architecture invariant: no other service reads these tables, and these tables reference
//! users, organizations and groups by id only.

mod events;
mod grants;
mod projects;
mod spaces;
mod tags;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::Pool;
use uuid::Uuid;

pub use grants::GrantStore;
pub use projects::ProjectStore;
pub use spaces::SpaceStore;
pub use tags::TagStore;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (a grant that exists already).
    #[error("already exists")]
    Conflict,
    /// What the row refers to is gone (deleted meanwhile: a project, a space).
    #[error("gone")]
    Gone,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Shorthand.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

service_kit::from_row! {
    /// A stored project.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ProjectRecord {
        pub project_uuid: Uuid,
        pub organization_uuid: Uuid,
        pub name: String,
        pub project_type: String,
        pub created_by_user_uuid: Option<Uuid>,
        pub scheduler_timezone: String,
        pub upstream_project_uuid: Option<Uuid>,
        pub warehouse_connection_uuid: Option<Uuid>,
        pub warehouse_type: String,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
        /// Moves on every change to the project's spaces or their direct grants (database triggers,
        /// migration 20261125000008); ignored when a project is inserted.
        pub spaces_version: i64,
    }
}

service_kit::from_row! {
    /// A direct grant of a user or a group on a project.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GrantRecord {
        pub project_uuid: Uuid,
        /// The user or the group.
        pub grantee_uuid: Uuid,
        pub role: String,
    }
}

service_kit::from_row! {
    /// A stored space.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SpaceRecord {
        pub space_uuid: Uuid,
        pub project_uuid: Uuid,
        pub parent_space_uuid: Option<Uuid>,
        pub name: String,
        pub slug: String,
        pub is_private: bool,
        pub inherit_parent_permissions: bool,
        pub created_by_user_uuid: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

service_kit::from_row! {
    /// A direct grant of a user or a group on a space.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SpaceGrantRecord {
        pub space_uuid: Uuid,
        /// The user or the group.
        pub grantee_uuid: Uuid,
        pub role: String,
    }
}

service_kit::from_row! {
    /// A tag of a project.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TagRecord {
        pub tag_uuid: Uuid,
        pub project_uuid: Uuid,
        pub name: String,
        pub color: String,
        pub yaml_reference: Option<String>,
        pub created_by_user_uuid: Option<Uuid>,
        pub created_at: DateTime<Utc>,
    }
}

/// An event for other services, written in the same transaction as the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub event_uuid: Uuid,
    pub event_type: &'static str,
    /// JSON; identifiers only, never secrets.
    pub payload: String,
    pub created_at: DateTime<Utc>,
}

/// What projects-svc stores: every area's trait.
pub trait ProjectsStore:
    ProjectStore + GrantStore + SpaceStore + TagStore + Send + Sync + std::fmt::Debug
{
}

impl<T> ProjectsStore for T where
    T: ProjectStore + GrantStore + SpaceStore + TagStore + Send + Sync + std::fmt::Debug
{
}

/// The store on a database of either backend.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: Pool,
}

impl SqlStore {
    /// The store over `pool`.
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The rows `sql` selects with `key` bound to $1.
    async fn rows_by<T>(&self, sql: &'static str, key: Uuid) -> Result<Vec<T>>
    where
        T: Send + Unpin,
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        Ok(service_kit::on_pool!(&self.pool, |p| {
            sqlx::query_as(sql).bind(key).fetch_all(p).await?
        }))
    }

    /// Runs `sql`, a `DELETE` of at most one row keyed by ($1, $2); whether a row went.
    async fn delete_keyed(&self, sql: &'static str, first: Uuid, second: Uuid) -> Result<bool> {
        let n = service_kit::on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(first)
                .bind(second)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }
}

/// A write's failure: a unique violation is a conflict, a foreign key violation means what the
/// row refers to is gone.
fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else if service_kit::db::is_foreign_key_violation(&err) {
        StoreError::Gone
    } else {
        StoreError::Database(err)
    }
}

/// The event consumer's side of the store for `pool`.
pub fn sink_for_pool(pool: Pool) -> Arc<dyn outbox::EventSink> {
    Arc::new(SqlStore::new(pool))
}

/// The store for `pool`.
pub fn for_pool(pool: Pool) -> Arc<dyn ProjectsStore> {
    Arc::new(SqlStore::new(pool))
}
