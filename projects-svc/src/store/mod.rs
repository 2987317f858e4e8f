//! projects-svc's persistence: one trait, a PostgreSQL and a SQLite implementation generated
//! from one body of SQL (`sql.rs`), as in identity-svc. Architecture invariant: no other
//! service reads these tables, and these tables reference users, organizations and groups by
//! id only.

mod events;
mod sql;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use service_kit::db::Pool;
use uuid::Uuid;

pub use sql::{PgStore, SqliteStore};

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

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

/// A direct grant of a user or a group on a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GrantRecord {
    pub project_uuid: Uuid,
    /// The user or the group.
    pub grantee_uuid: Uuid,
    pub role: String,
}

/// A stored space.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

/// A direct grant of a user or a group on a space.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SpaceGrantRecord {
    pub space_uuid: Uuid,
    /// The user or the group.
    pub grantee_uuid: Uuid,
    pub role: String,
}

/// A tag of a project.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TagRecord {
    pub tag_uuid: Uuid,
    pub project_uuid: Uuid,
    pub name: String,
    pub color: String,
    pub yaml_reference: Option<String>,
    pub created_by_user_uuid: Option<Uuid>,
    pub created_at: DateTime<Utc>,
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

/// What projects-svc stores.
#[async_trait::async_trait]
pub trait ProjectsStore: Send + Sync + std::fmt::Debug {
    /// Inserts a project and its creator's admin grant, atomically.
    async fn insert_project(&self, project: &ProjectRecord, creator: Option<Uuid>) -> Result<()>;
    /// A project of an organization.
    async fn project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
    ) -> Result<Option<ProjectRecord>>;
    /// Every project of an organization, by name.
    async fn projects(&self, organization_uuid: Uuid) -> Result<Vec<ProjectRecord>>;
    /// Sets the fields of a project that are `Some` (`upstream`: `Some(None)` clears it),
    /// leaving the others as they are (two concurrent changes of different fields both hold).
    async fn update_project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
        upstream: Option<Option<Uuid>>,
        scheduler_timezone: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// Deletes a project with its grants and records `event`, atomically; whether it existed.
    async fn delete_project(
        &self,
        organization_uuid: Uuid,
        project_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;

    /// The grants of `user` and of `groups` on the projects of an organization (one query
    /// each, whatever the number of projects): (user grants, group grants).
    async fn grants_of(
        &self,
        organization_uuid: Uuid,
        user: Uuid,
        groups: &[Uuid],
    ) -> Result<(Vec<GrantRecord>, Vec<GrantRecord>)>;
    /// Every user grant of a project.
    async fn user_grants(&self, project_uuid: Uuid) -> Result<Vec<GrantRecord>>;
    /// Every group grant of a project.
    async fn group_grants(&self, project_uuid: Uuid) -> Result<Vec<GrantRecord>>;
    /// Inserts (`create`: Conflict when it exists) or updates (false when it does not exist)
    /// a user's grant.
    async fn put_user_grant(&self, grant: &GrantRecord, create: bool) -> Result<bool>;
    /// Deletes a user's grant; whether it existed.
    async fn delete_user_grant(&self, project_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// As [`Self::put_user_grant`], for a group.
    async fn put_group_grant(&self, grant: &GrantRecord, create: bool) -> Result<bool>;
    /// Deletes a group's grant; whether it existed.
    async fn delete_group_grant(&self, project_uuid: Uuid, group_uuid: Uuid) -> Result<bool>;

    /// Inserts a space with its first user grants, atomically.
    async fn insert_space(&self, space: &SpaceRecord, grants: &[SpaceGrantRecord]) -> Result<()>;
    /// A space of a project.
    async fn space(&self, project_uuid: Uuid, space_uuid: Uuid) -> Result<Option<SpaceRecord>>;
    /// Every space of a project (one query, whatever their number).
    async fn spaces(&self, project_uuid: Uuid) -> Result<Vec<SpaceRecord>>;
    /// Replaces a space's name, privacy and inheritance.
    async fn update_space(&self, space: &SpaceRecord) -> Result<()>;
    /// Deletes a space with its descendants and grants; whether it existed.
    async fn delete_space(&self, project_uuid: Uuid, space_uuid: Uuid) -> Result<bool>;
    /// Every user grant on the spaces of a project.
    async fn space_user_grants(&self, project_uuid: Uuid) -> Result<Vec<SpaceGrantRecord>>;
    /// Every group grant on the spaces of a project.
    async fn space_group_grants(&self, project_uuid: Uuid) -> Result<Vec<SpaceGrantRecord>>;
    /// Inserts or replaces a user's grant on a space.
    async fn put_space_user_grant(&self, grant: &SpaceGrantRecord) -> Result<()>;
    /// Deletes a user's grant on a space; whether it existed.
    async fn delete_space_user_grant(&self, space_uuid: Uuid, user_uuid: Uuid) -> Result<bool>;
    /// Inserts or replaces a group's grant on a space.
    async fn put_space_group_grant(&self, grant: &SpaceGrantRecord) -> Result<()>;
    /// Deletes a group's grant on a space; whether it existed.
    async fn delete_space_group_grant(&self, space_uuid: Uuid, group_uuid: Uuid) -> Result<bool>;

    /// The tags of a project, by name.
    async fn tags(&self, project_uuid: Uuid) -> Result<Vec<TagRecord>>;
    /// Inserts a tag; Conflict on a taken name.
    async fn insert_tag(&self, tag: &TagRecord) -> Result<()>;
    /// Renames or recolours a tag of a project; false when it is not there; Conflict on a taken
    /// name.
    async fn update_tag(
        &self,
        project_uuid: Uuid,
        tag_uuid: Uuid,
        name: Option<&str>,
        color: Option<&str>,
    ) -> Result<bool>;
    /// Deletes a tag of a project; whether it existed.
    async fn delete_tag(&self, project_uuid: Uuid, tag_uuid: Uuid) -> Result<bool>;
    /// Replaces every YAML tag of a project with `tags`, atomically; Conflict when a name is
    /// taken by a tag made in the API (nothing changes then).
    async fn replace_yaml_tags(&self, project_uuid: Uuid, tags: &[TagRecord]) -> Result<()>;

    /// Events not yet delivered, oldest first.
    async fn outbox(&self, limit: i64) -> Result<Vec<(Uuid, String, String)>>;
}

/// The event consumer's side of the store for `pool`'s backend.
pub fn sink_for_pool(pool: Pool) -> Arc<dyn outbox::EventSink> {
    match pool {
        Pool::Sqlite(p) => Arc::new(SqliteStore(p)),
        Pool::Postgres(p) => Arc::new(PgStore(p)),
    }
}

/// The store for `pool`'s backend.
pub fn for_pool(pool: Pool) -> Arc<dyn ProjectsStore> {
    match pool {
        Pool::Sqlite(p) => Arc::new(SqliteStore(p)),
        Pool::Postgres(p) => Arc::new(PgStore(p)),
    }
}
