//! projects-svc as a consumer of identity-svc's events: what each one removes here, applied in
//! the transaction that advances the cursor (exactly-once effect; every effect is a DELETE).
//!
//! Each effect is bounded in time: a removed member may rejoin, so `MemberRemoved` takes only
//! what was granted before the removal; a resynchronization takes only what existed before its
//! snapshot. Deleted organizations, users and groups never come back: their events take all.

use chrono::{DateTime, Utc};
use outbox::{EventSink, Snapshot, event_uuid, far_future, occurred_at};
use proto::events::v1::{self as pb, event::Payload};
use uuid::Uuid;

use service_kit::on_pool;

use super::SqlStore;

/// The effects, each a short macro over a transaction so that `apply` and `resync` share them.
macro_rules! remove_organization {
    ($tx:expr, $org:expr, $before:expr) => {
        sqlx::query("DELETE FROM projects WHERE organization_uuid = $1 AND created_at < $2")
            .bind($org)
            .bind($before)
            .execute(&mut *$tx)
            .await?
    };
}
macro_rules! remove_member {
    ($tx:expr, $org:expr, $user:expr, $before:expr) => {
        for sql in [
            "DELETE FROM project_user_grants WHERE user_uuid = $1 AND created_at < $3 AND project_uuid IN \
             (SELECT project_uuid FROM projects WHERE organization_uuid = $2)",
            "DELETE FROM space_user_grants WHERE user_uuid = $1 AND created_at < $3 AND space_uuid IN \
             (SELECT s.space_uuid FROM spaces s JOIN projects p ON p.project_uuid = s.project_uuid \
              WHERE p.organization_uuid = $2)",
        ] {
            sqlx::query(sql)
                .bind($user)
                .bind($org)
                .bind($before)
                .execute(&mut *$tx)
                .await?;
        }
    };
}
macro_rules! remove_group {
    ($tx:expr, $group:expr, $before:expr) => {
        for sql in [
            "DELETE FROM project_group_grants WHERE group_uuid = $1 AND created_at < $2",
            "DELETE FROM space_group_grants WHERE group_uuid = $1 AND created_at < $2",
        ] {
            sqlx::query(sql)
                .bind($group)
                .bind($before)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

#[async_trait::async_trait]
impl EventSink for SqlStore {
    async fn cursor(&self, source: &str) -> anyhow::Result<i64> {
        Ok(on_pool!(&self.pool, |p| outbox::cursor::read(p, source).await?))
    }

    async fn apply(&self, source: &str, after: i64, event: &pb::Event) -> anyhow::Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            if !outbox::cursor::advance(&mut *tx, source, after, event.sequence).await? {
                return Ok(false);
            }
            let all: DateTime<Utc> = far_future();
            match &event.payload {
                // Projects go with their organization; their grants, spaces and tags follow
                // by foreign key.
                Some(Payload::OrganizationDeleted(e)) => {
                    let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                    remove_organization!(tx, org, all);
                }
                Some(Payload::UserDeleted(e)) => {
                    let user = event_uuid("user_uuid", &e.user_uuid)?;
                    for sql in [
                        "DELETE FROM project_user_grants WHERE user_uuid = $1",
                        "DELETE FROM space_user_grants WHERE user_uuid = $1",
                    ] {
                        sqlx::query(sql).bind(user).execute(&mut *tx).await?;
                    }
                }
                Some(Payload::MemberRemoved(e)) => {
                    let user = event_uuid("user_uuid", &e.user_uuid)?;
                    let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                    remove_member!(tx, org, user, occurred_at(event));
                }
                Some(Payload::GroupDeleted(e)) => {
                    let group = event_uuid("group_uuid", &e.group_uuid)?;
                    remove_group!(tx, group, all);
                }
                // Not identity's; nothing here depends on other events.
                Some(Payload::ProjectDeleted(_)) | None => {}
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    async fn resync(&self, source: &str, snapshot: &Snapshot) -> anyhow::Result<()> {
        let before = snapshot.taken_at;
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let orgs: Vec<Uuid> =
                sqlx::query_scalar("SELECT DISTINCT organization_uuid FROM projects")
                    .fetch_all(&mut *tx)
                    .await?;
            for org in orgs
                .into_iter()
                .filter(|o| !snapshot.organizations.contains(o))
            {
                remove_organization!(tx, org, before);
            }
            let mut members: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT DISTINCT p.organization_uuid, g.user_uuid FROM project_user_grants g \
                 JOIN projects p ON p.project_uuid = g.project_uuid",
            )
            .fetch_all(&mut *tx)
            .await?;
            members.extend(
                sqlx::query_as::<_, (Uuid, Uuid)>(
                    "SELECT DISTINCT p.organization_uuid, g.user_uuid FROM space_user_grants g \
                     JOIN spaces s ON s.space_uuid = g.space_uuid JOIN projects p ON p.project_uuid = s.project_uuid",
                )
                .fetch_all(&mut *tx)
                .await?,
            );
            for (org, user) in members
                .into_iter()
                .filter(|m| !snapshot.memberships.contains(m))
            {
                remove_member!(tx, org, user, before);
            }
            let groups: Vec<Uuid> = sqlx::query_scalar(
                "SELECT group_uuid FROM project_group_grants UNION SELECT group_uuid FROM space_group_grants",
            )
            .fetch_all(&mut *tx)
            .await?;
            for group in groups.into_iter().filter(|g| !snapshot.groups.contains(g)) {
                remove_group!(tx, group, before);
            }
            outbox::cursor::set_from_snapshot(&mut *tx, source, snapshot).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
