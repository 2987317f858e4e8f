//! connections-svc as a consumer of identity-svc's and projects-svc's events: what each one
//! removes here, applied in the transaction that advances that producer's cursor (exactly-once
//! effect; every effect is a DELETE).

use proto::events::v1::{self as pb, event::Payload};
use service_kit::events::{
    ADVANCE_CURSOR, ENSURE_CURSOR, EventSink, READ_CURSOR, Snapshot, event_uuid,
};
use uuid::Uuid;

use super::{PgStore, SqliteStore, count_scope};

/// The effects, each a macro over a transaction so that `apply` and `resync` share them.
macro_rules! remove_organization {
    ($tx:expr, $org:expr) => {
        for sql in [
            "DELETE FROM connections WHERE organization_uuid = $1",
            "DELETE FROM connection_counts WHERE organization_uuid = $1",
        ] {
            sqlx::query(sql).bind($org).execute(&mut *$tx).await?;
        }
    };
}
macro_rules! remove_member {
    ($tx:expr, $org:expr, $user:expr) => {
        sqlx::query(
            "DELETE FROM connections WHERE kind = 'personal' AND owner_user_uuid = $1 \
             AND organization_uuid = $2",
        )
        .bind($user)
        .bind($org)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM connection_counts WHERE organization_uuid = $1 AND scope = $2")
            .bind($org)
            .bind(count_scope("personal", $user))
            .execute(&mut *$tx)
            .await?;
    };
}
macro_rules! remove_project {
    ($tx:expr, $project:expr) => {
        sqlx::query("DELETE FROM credentials_preferences WHERE project_uuid = $1")
            .bind($project)
            .execute(&mut *$tx)
            .await?;
    };
}

macro_rules! sink {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl EventSink for $store {
            async fn cursor(&self, source: &str) -> anyhow::Result<i64> {
                Ok(sqlx::query_scalar(READ_CURSOR)
                    .bind(source)
                    .fetch_optional(&self.0)
                    .await?
                    .unwrap_or(0))
            }

            async fn apply(&self, source: &str, after: i64, event: &pb::Event) -> anyhow::Result<bool> {
                let mut tx = self.0.begin().await?;
                sqlx::query(ENSURE_CURSOR).bind(source).execute(&mut *tx).await?;
                let moved = sqlx::query(ADVANCE_CURSOR)
                    .bind(event.sequence)
                    .bind(source)
                    .bind(after)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                match &event.payload {
                    // Every connection and credential of the organization, with their secrets
                    // and the preferences naming them (foreign keys).
                    Some(Payload::OrganizationDeleted(e)) => {
                        let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                        remove_organization!(tx, org);
                    }
                    // The user's personal credentials everywhere and their preferences; shared
                    // connections they made stay with their organization.
                    Some(Payload::UserDeleted(e)) => {
                        let user = event_uuid("user_uuid", &e.user_uuid)?;
                        sqlx::query("DELETE FROM connections WHERE kind = 'personal' AND owner_user_uuid = $1")
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM connection_counts WHERE scope = $1")
                            .bind(count_scope("personal", user))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("DELETE FROM credentials_preferences WHERE user_uuid = $1")
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                    }
                    // The member's personal credentials in that organization (and the
                    // preferences naming them).
                    Some(Payload::MemberRemoved(e)) => {
                        let user = event_uuid("user_uuid", &e.user_uuid)?;
                        let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                        remove_member!(tx, org, user);
                    }
                    Some(Payload::ProjectDeleted(e)) => {
                        let project = event_uuid("project_uuid", &e.project_uuid)?;
                        remove_project!(tx, project);
                    }
                    Some(Payload::GroupDeleted(_)) | None => {}
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn resync(&self, source: &str, snapshot: &Snapshot) -> anyhow::Result<()> {
                let mut tx = self.0.begin().await?;
                if source == "identity" {
                    let orgs: Vec<Uuid> =
                        sqlx::query_scalar("SELECT DISTINCT organization_uuid FROM connections")
                            .fetch_all(&mut *tx)
                            .await?;
                    for org in orgs.into_iter().filter(|o| !snapshot.organizations.contains(o)) {
                        remove_organization!(tx, org);
                    }
                    let owners: Vec<(Uuid, Uuid)> = sqlx::query_as(
                        "SELECT DISTINCT organization_uuid, owner_user_uuid FROM connections WHERE kind = 'personal'",
                    )
                    .fetch_all(&mut *tx)
                    .await?;
                    for (org, user) in owners.into_iter().filter(|m| !snapshot.memberships.contains(m)) {
                        remove_member!(tx, org, user);
                    }
                } else {
                    let projects: Vec<Uuid> =
                        sqlx::query_scalar("SELECT DISTINCT project_uuid FROM credentials_preferences")
                            .fetch_all(&mut *tx)
                            .await?;
                    for project in projects.into_iter().filter(|p| !snapshot.projects.contains(p)) {
                        remove_project!(tx, project);
                    }
                }
                sqlx::query(ENSURE_CURSOR).bind(source).execute(&mut *tx).await?;
                sqlx::query("UPDATE event_cursors SET sequence = $1 WHERE source = $2")
                    .bind(snapshot.head)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

sink!(PgStore);
sink!(SqliteStore);
