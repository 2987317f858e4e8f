//! Organizations and memberships: an organization's settings, its members and their roles,
//! and the last-admin rule.

use chrono::{DateTime, Utc};
use proto::identity::v1::OrganizationRole;
use service_kit::on_pool;
use uuid::Uuid;

use super::{
    OutboxEvent, Result, SqlStore,
    outbox::{delete_recording, insert_event},
};

service_kit::from_row! {
    /// A stored organization.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OrganizationRecord {
        pub organization_uuid: Uuid,
        pub name: String,
        /// JSON array of colors, when set.
        pub chart_colors: Option<String>,
        pub default_project_uuid: Option<Uuid>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// A user's membership: their organization and role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub organization: OrganizationRecord,
    pub role: OrganizationRole,
}

service_kit::from_row! {
    /// A member of an organization, as listed.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct MemberRecord {
        pub user_uuid: Uuid,
        pub email: String,
        pub first_name: String,
        pub last_name: String,
        pub is_active: bool,
        pub organization_uuid: Uuid,
        #[row(try_from = String)]
        pub role: OrganizationRole,
        /// Invited, not yet registered (no password).
        pub is_pending: bool,
        pub user_created_at: DateTime<Utc>,
        pub user_updated_at: DateTime<Utc>,
    }
}

/// What a guarded change to a membership did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done.
    Done,
    /// The user is not a member of the organization.
    NotMember,
    /// Refused: the organization would be left without an admin.
    LastAdmin,
    /// Refused: the actor is no longer an admin.
    NotAllowed,
    /// Refused: the organization would go along, and it has sub-accounts.
    HasSubAccounts,
}

/// Separates the lower-cased first name, last name and email in `memberships.sort_key` (below
/// every printable character, so the key orders as the names do). A search pattern never holds
/// it (`like_pattern` refuses control characters), so a match lies within one of the three.
pub(super) const SORT_SEPARATOR: &str = "\u{1f}";

/// The member-list sort and search key of user `$user`, from their names and email (`$sep`
/// binds [`SORT_SEPARATOR`]; migration 20261125000012).
macro_rules! sort_key_of {
    ($user:literal, $sep:literal) => {
        concat!(
            "(SELECT LOWER(su.first_name) || ",
            $sep,
            " || LOWER(su.last_name) || ",
            $sep,
            " || LOWER(su.email) FROM users su WHERE su.user_uuid = ",
            $user,
            ")"
        )
    };
}
pub(super) use sort_key_of;

/// The columns of a [`MemberRecord`], from `memberships m` joined with `users u`.
macro_rules! member_columns {
    () => {
        "u.user_uuid, u.email, u.first_name, u.last_name, u.is_active, m.organization_uuid, m.role, \
         (u.password_hash IS NULL) AS is_pending, \
         u.created_at AS user_created_at, u.updated_at AS user_updated_at"
    };
}
pub(super) use member_columns;

/// The members of organization `$1` matching `$2` (a lower-cased LIKE pattern or NULL), tested
/// on the stored key alone: the memberships' index answers it without reading the users.
macro_rules! member_filter {
    () => {
        "m.organization_uuid = $1 AND ($2 IS NULL OR m.sort_key LIKE $2 ESCAPE '\\')"
    };
}

/// Inside transaction `$tx`: locks the organization row (so guarded membership changes of one
/// organization run one at a time on PostgreSQL; SQLite serialises writers anyway), then reads
/// the target's role and whether they are active (have a password), the actor's role, and the
/// number of active admins.
macro_rules! lock_and_count {
    ($tx:expr, $org:expr, $user:expr, $actor:expr) => {{
        $crate::store::guard::lock_organization!($tx, "$1", $org);
        let target: Option<(String, bool)> = sqlx::query_as(
            "SELECT m.role, (u.password_hash IS NOT NULL) FROM memberships m \
             JOIN users u ON u.user_uuid = m.user_uuid \
             WHERE m.organization_uuid = $1 AND m.user_uuid = $2",
        )
        .bind($org)
        .bind($user)
        .fetch_optional(&mut *$tx)
        .await?;
        let actor: Option<String> = sqlx::query_scalar(
            "SELECT role FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2",
        )
        .bind($org)
        .bind($actor)
        .fetch_optional(&mut *$tx)
        .await?;
        let admins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
             WHERE m.organization_uuid = $1 AND m.role = $2 AND u.password_hash IS NOT NULL",
        )
        .bind($org)
        .bind(proto::identity::v1::OrganizationRole::Admin.as_str())
        .fetch_one(&mut *$tx)
        .await?;
        (target, actor, admins)
    }};
}
pub(super) use lock_and_count;

/// Why an admin's change to a member is refused, from what [`lock_and_count!`] read: the actor
/// is no longer an admin, the target no longer a member, or the change takes the admin role
/// (`demotes`) from the organization's last active admin.
fn refusal(
    target: Option<(String, bool)>,
    actor: Option<String>,
    admins: i64,
    demotes: bool,
) -> Option<MembershipChange> {
    let admin = OrganizationRole::Admin.as_str();
    if actor.as_deref() != Some(admin) {
        return Some(MembershipChange::NotAllowed);
    }
    let Some((current, active)) = target else {
        return Some(MembershipChange::NotMember);
    };
    (current == admin && active && demotes && admins <= 1).then_some(MembershipChange::LastAdmin)
}

/// Organizations, their members and roles.
/// Inside transaction `$tx`: inserts top-level organization `$o` (an [`OrganizationRecord`];
/// the database assigns its customer id) with user `$admin` as its admin; Conflict when the
/// user already belongs to an organization.
macro_rules! insert_organization_with_admin {
    ($tx:expr, $o:expr, $admin:expr) => {{
        let o: &$crate::store::OrganizationRecord = $o;
        async {
            // A top-level account (depth 0); the database assigns its customer id.
            sqlx::query(
                "INSERT INTO organizations (organization_uuid, name, chart_colors, \
                 default_project_uuid, created_at, updated_at, path) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(o.organization_uuid)
            .bind(&o.name)
            .bind(&o.chart_colors)
            .bind(o.default_project_uuid)
            .bind(o.created_at)
            .bind(o.updated_at)
            .bind($crate::store::account_path(None, o.organization_uuid))
            .execute(&mut *$tx)
            .await?;
            sqlx::query(concat!(
                "INSERT INTO memberships (user_uuid, organization_uuid, role, created_at, sort_key) \
                 VALUES ($1, $2, $5, $3, ",
                sort_key_of!("$1", "$4"),
                ")"
            ))
            .bind($admin)
            .bind(o.organization_uuid)
            .bind(o.created_at)
            .bind($crate::store::organizations::SORT_SEPARATOR)
            .bind(proto::identity::v1::OrganizationRole::Admin.as_str())
            .execute(&mut *$tx)
            .await
            .map_err($crate::store::conflict)?;
            Ok::<(), $crate::store::StoreError>(())
        }
        .await
    }};
}
pub(super) use insert_organization_with_admin;

#[async_trait::async_trait]
pub trait OrganizationStore: Send + Sync {
    /// Creates an organization with `admin` as its first admin; Conflict when they already
    /// belong to one.
    async fn create_organization(&self, org: &OrganizationRecord, admin: Uuid) -> Result<()>;
    /// The organization and role of a user.
    async fn membership(&self, user_uuid: Uuid) -> Result<Option<MembershipRecord>>;
    /// Replaces an organization's settings.
    async fn update_organization(&self, org: &OrganizationRecord) -> Result<()>;
    /// Deletes an organization (its memberships go with it) and records `event`, atomically.
    async fn delete_organization(
        &self,
        organization_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<bool>;
    /// One page of members, filtered by `search` (a LIKE pattern, already escaped), and the total.
    async fn members(
        &self,
        organization_uuid: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<MemberRecord>, i64)>;
    /// One member.
    async fn member(
        &self,
        organization_uuid: Uuid,
        user_uuid: Uuid,
    ) -> Result<Option<MemberRecord>>;
    /// Sets a member's role unless that would leave the organization without an active admin;
    /// `actor` must still be an admin when the change runs.
    async fn set_member_role(
        &self,
        organization_uuid: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        role: OrganizationRole,
    ) -> Result<MembershipChange>;
    /// Removes a member unless they are its last active admin; records `event` with the
    /// removal; `actor` must still be an admin when the change runs.
    async fn remove_member(
        &self,
        organization_uuid: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<MembershipChange>;
}

#[async_trait::async_trait]
impl OrganizationStore for SqlStore {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn create_organization(&self, o: &OrganizationRecord, admin: Uuid) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            insert_organization_with_admin!(&mut *tx, o, admin)?;
            tx.commit().await?;
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn membership(&self, user_uuid: Uuid) -> Result<Option<MembershipRecord>> {
        service_kit::from_row! {
            struct Row {
                #[row(flatten)]
                organization: OrganizationRecord,
                #[row(try_from = String)]
                role: OrganizationRole,
            }
        }
        let row: Option<Row> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT o.organization_uuid, o.name, o.chart_colors, o.default_project_uuid, \
                 o.created_at, o.updated_at, m.role FROM memberships m \
                 JOIN organizations o ON o.organization_uuid = m.organization_uuid \
                 WHERE m.user_uuid = $1",
            )
            .bind(user_uuid)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(|r| MembershipRecord {
            organization: r.organization,
            role: r.role,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update_organization(&self, o: &OrganizationRecord) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE organizations SET name = $2, chart_colors = $3, default_project_uuid = $4, \
                 updated_at = $5 WHERE organization_uuid = $1",
            )
            .bind(o.organization_uuid)
            .bind(&o.name)
            .bind(&o.chart_colors)
            .bind(o.default_project_uuid)
            .bind(o.updated_at)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_organization(&self, org: Uuid, event: &OutboxEvent) -> Result<bool> {
        // In a block of its own: the macros' `?` returns from it, not from this method.
        let deleted: Result<bool> = async {
            on_pool!(&self.pool, |p| delete_recording!(
                p,
                // Not while it has sub-accounts (the domain refuses that first; this holds under a
                // race with a sub-account's creation: the NOT EXISTS for one already committed, the
                // foreign key for one committing meanwhile).
                sqlx::query(
                    "DELETE FROM organizations WHERE organization_uuid = $1 \
                 AND NOT EXISTS (SELECT 1 FROM organizations c WHERE c.parent_uuid = $1)"
                )
                .bind(org),
                event
            ))
        }
        .await;
        match deleted {
            Err(super::StoreError::Database(e))
                if service_kit::db::is_foreign_key_violation(&e) =>
            {
                Ok(false)
            }
            other => other,
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn members(
        &self,
        org: Uuid,
        search: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<MemberRecord>, i64)> {
        on_pool!(&self.pool, |p| {
            // The page is found in the memberships' index alone (the order and a search are
            // on its key): the members skipped by the offset are never looked up; only the
            // page's rows are joined (a deferred join).
            let rows = sqlx::query_as(concat!(
                "SELECT ",
                member_columns!(),
                " FROM (SELECT m.user_uuid, m.sort_key FROM memberships m WHERE ",
                member_filter!(),
                " ORDER BY m.sort_key, m.user_uuid LIMIT $3 OFFSET $4) p \
                 JOIN memberships m ON m.user_uuid = p.user_uuid AND m.organization_uuid = $1 \
                 JOIN users u ON u.user_uuid = p.user_uuid \
                 ORDER BY p.sort_key, p.user_uuid"
            ))
            .bind(org)
            .bind(search)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await?;
            // The count reads the memberships' index only, with or without a search.
            let total: i64 = sqlx::query_scalar(concat!(
                "SELECT COUNT(*) FROM memberships m WHERE ",
                member_filter!()
            ))
            .bind(org)
            .bind(search)
            .fetch_one(p)
            .await?;
            Ok((rows, total))
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn member(&self, org: Uuid, user_uuid: Uuid) -> Result<Option<MemberRecord>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                member_columns!(),
                " FROM memberships m JOIN users u ON u.user_uuid = m.user_uuid \
                 WHERE m.organization_uuid = $1 AND m.user_uuid = $2"
            ))
            .bind(org)
            .bind(user_uuid)
            .fetch_optional(p)
            .await
        })?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_member_role(
        &self,
        org: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        role: OrganizationRole,
    ) -> Result<MembershipChange> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let (target, actor, admins) = lock_and_count!(tx, org, user_uuid, actor);
            let demotes = role != OrganizationRole::Admin;
            if let Some(refusal) = refusal(target, actor, admins, demotes) {
                return Ok(refusal);
            }
            sqlx::query(
                "UPDATE memberships SET role = $3 WHERE organization_uuid = $1 AND user_uuid = $2",
            )
            .bind(org)
            .bind(user_uuid)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(MembershipChange::Done)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn remove_member(
        &self,
        org: Uuid,
        actor: Uuid,
        user_uuid: Uuid,
        event: &OutboxEvent,
    ) -> Result<MembershipChange> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let (target, actor, admins) = lock_and_count!(tx, org, user_uuid, actor);
            if let Some(refusal) = refusal(target, actor, admins, true) {
                return Ok(refusal);
            }
            sqlx::query(
                "DELETE FROM group_memberships WHERE user_uuid = $2 \
                 AND group_uuid IN (SELECT group_uuid FROM groups WHERE organization_uuid = $1)",
            )
            .bind(org)
            .bind(user_uuid)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM user_attribute_values WHERE user_uuid = $2 AND attribute_uuid IN \
                 (SELECT attribute_uuid FROM user_attributes WHERE organization_uuid = $1)",
            )
            .bind(org)
            .bind(user_uuid)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM memberships WHERE organization_uuid = $1 AND user_uuid = $2")
                .bind(org)
                .bind(user_uuid)
                .execute(&mut *tx)
                .await?;
            insert_event!(&mut *tx, event)?;
            tx.commit().await?;
            Ok(MembershipChange::Done)
        })
    }
}
