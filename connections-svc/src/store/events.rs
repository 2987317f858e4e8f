//! connections-svc as a consumer of identity-svc's and projects-svc's events: what each one
//! removes here, applied in the transaction that advances that producer's cursor (exactly-once
//! effect; every effect is a DELETE, and each deleted connection gives its place back in
//! `connection_counts`).
//!
//! Each effect is bounded in time: a removed member may rejoin, so `MemberRemoved` takes only
//! what was created before the removal; a resynchronization takes only what existed before its
//! snapshot. Deleted organizations, users and projects never come back: their events take all.

use chrono::{DateTime, Utc};
use outbox::{EventSink, Snapshot, event_uuid, far_future, occurred_at};
use proto::events::v1::{self as pb, event::Payload};
use service_kit::on_pool;
use uuid::Uuid;

use super::{SqlStore, count_scope};

/// Runs a `DELETE FROM connections … RETURNING organization_uuid, kind, owner_user_uuid` and
/// gives each deleted connection's place back.
macro_rules! delete_connections {
    ($tx:expr, $sql:expr, $($bind:expr),+) => {{
        let gone: Vec<(Uuid, String, Uuid)> = sqlx::query_as($sql)
            $(.bind($bind))+
            .fetch_all(&mut *$tx)
            .await?;
        // One update per count, not per connection (an organization holds up to a thousand).
        let mut freed: std::collections::BTreeMap<(Uuid, String), i64> = Default::default();
        for (org, kind, owner) in gone {
            *freed.entry((org, count_scope(&kind, owner))).or_default() += 1;
        }
        for ((org, scope), n) in freed {
            sqlx::query(
                "UPDATE connection_counts SET n = CASE WHEN n > $3 THEN n - $3 ELSE 0 END \
                 WHERE organization_uuid = $1 AND scope = $2",
            )
            .bind(org)
            .bind(scope)
            .bind(n)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
macro_rules! remove_organization {
    ($tx:expr, $org:expr, $before:expr) => {
        delete_connections!(
            $tx,
            "DELETE FROM connections WHERE organization_uuid = $1 AND created_at < $2 \
             RETURNING organization_uuid, kind, owner_user_uuid",
            $org,
            $before
        )
    };
}
macro_rules! remove_member {
    ($tx:expr, $org:expr, $user:expr, $before:expr) => {{
        delete_connections!(
            $tx,
            "DELETE FROM connections WHERE kind = 'personal' AND owner_user_uuid = $1 \
             AND organization_uuid = $2 AND created_at < $3 \
             RETURNING organization_uuid, kind, owner_user_uuid",
            $user,
            $org,
            $before
        );
        // What the organization's connections were shared with them.
        sqlx::query(
            "DELETE FROM connection_shares WHERE user_uuid = $1 AND created_at < $3 \
             AND connection_uuid IN \
             (SELECT connection_uuid FROM connections WHERE organization_uuid = $2)",
        )
        .bind($user)
        .bind($org)
        .bind($before)
        .execute(&mut *$tx)
        .await?;
    }};
}
macro_rules! remove_project {
    ($tx:expr, $project:expr, $before:expr) => {
        sqlx::query(
            "DELETE FROM credentials_preferences WHERE project_uuid = $1 AND updated_at < $2",
        )
        .bind($project)
        .bind($before)
        .execute(&mut *$tx)
        .await?;
    };
}

#[async_trait::async_trait]
impl EventSink for SqlStore {
    async fn cursor(&self, source: &str) -> anyhow::Result<i64> {
        on_pool!(&self.pool, |p| Ok(outbox::cursor::read(p, source).await?))
    }

    async fn apply(&self, source: &str, after: i64, event: &pb::Event) -> anyhow::Result<bool> {
        let all: DateTime<Utc> = far_future();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            if !outbox::cursor::advance(&mut *tx, source, after, event.sequence).await? {
                return Ok(false);
            }
            match &event.payload {
                // Every connection and credential of the organization, with their secrets and
                // the preferences naming them (foreign keys).
                Some(Payload::OrganizationDeleted(e)) => {
                    let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                    remove_organization!(tx, org, all);
                }
                // The user's personal credentials everywhere, their preferences and what was
                // shared with them; shared connections they made stay with their organization.
                Some(Payload::UserDeleted(e)) => {
                    let user = event_uuid("user_uuid", &e.user_uuid)?;
                    delete_connections!(
                        tx,
                        "DELETE FROM connections WHERE kind = 'personal' AND owner_user_uuid = $1 \
                         RETURNING organization_uuid, kind, owner_user_uuid",
                        user
                    );
                    for sql in [
                        "DELETE FROM credentials_preferences WHERE user_uuid = $1",
                        "DELETE FROM connection_shares WHERE user_uuid = $1",
                    ] {
                        sqlx::query(sql).bind(user).execute(&mut *tx).await?;
                    }
                }
                // The member's personal credentials in that organization (and the preferences
                // naming them) and the shares of its connections with them, made before the
                // removal.
                Some(Payload::MemberRemoved(e)) => {
                    let user = event_uuid("user_uuid", &e.user_uuid)?;
                    let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                    remove_member!(tx, org, user, occurred_at(event));
                }
                Some(Payload::ProjectDeleted(e)) => {
                    let project = event_uuid("project_uuid", &e.project_uuid)?;
                    remove_project!(tx, project, all);
                }
                Some(Payload::GroupDeleted(_)) | None => {}
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn resync(&self, source: &str, snapshot: &Snapshot) -> anyhow::Result<()> {
        let before = snapshot.taken_at;
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            if source == "identity" {
                let orgs: Vec<Uuid> =
                    sqlx::query_scalar("SELECT DISTINCT organization_uuid FROM connections")
                        .fetch_all(&mut *tx)
                        .await?;
                for org in orgs
                    .into_iter()
                    .filter(|o| !snapshot.organizations.contains(o))
                {
                    remove_organization!(tx, org, before);
                }
                let owners: Vec<(Uuid, Uuid)> = sqlx::query_as(
                    "SELECT DISTINCT organization_uuid, owner_user_uuid FROM connections \
                     WHERE kind = 'personal' UNION SELECT DISTINCT c.organization_uuid, \
                     s.user_uuid FROM connection_shares s JOIN connections c \
                     ON c.connection_uuid = s.connection_uuid",
                )
                .fetch_all(&mut *tx)
                .await?;
                for (org, user) in owners
                    .into_iter()
                    .filter(|m| !snapshot.memberships.contains(m))
                {
                    remove_member!(tx, org, user, before);
                }
            } else {
                let projects: Vec<Uuid> =
                    sqlx::query_scalar("SELECT DISTINCT project_uuid FROM credentials_preferences")
                        .fetch_all(&mut *tx)
                        .await?;
                for project in projects
                    .into_iter()
                    .filter(|p| !snapshot.projects.contains(p))
                {
                    remove_project!(tx, project, before);
                }
            }
            outbox::cursor::set_from_snapshot(&mut *tx, source, snapshot).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
