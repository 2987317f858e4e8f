//! projects-svc as a consumer of identity-svc's events: what each one removes here, applied in
//! the transaction that advances the cursor (exactly-once effect; every effect is a DELETE, so
//! applying one twice would change nothing either).

use proto::events::v1::{self as pb, event::Payload};
use service_kit::events::{ADVANCE_CURSOR, ENSURE_CURSOR, EventSink, READ_CURSOR, event_uuid};

use super::{PgStore, SqliteStore};

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
                    // Projects go with their organization; their grants, spaces and tags follow
                    // by foreign key.
                    Some(Payload::OrganizationDeleted(e)) => {
                        let org = event_uuid("organization_uuid", &e.organization_uuid)?;
                        sqlx::query("DELETE FROM projects WHERE organization_uuid = $1")
                            .bind(org)
                            .execute(&mut *tx)
                            .await?;
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
                        for sql in [
                            "DELETE FROM project_user_grants WHERE user_uuid = $1 AND project_uuid IN \
                             (SELECT project_uuid FROM projects WHERE organization_uuid = $2)",
                            "DELETE FROM space_user_grants WHERE user_uuid = $1 AND space_uuid IN \
                             (SELECT s.space_uuid FROM spaces s JOIN projects p ON p.project_uuid = s.project_uuid \
                              WHERE p.organization_uuid = $2)",
                        ] {
                            sqlx::query(sql).bind(user).bind(org).execute(&mut *tx).await?;
                        }
                    }
                    Some(Payload::GroupDeleted(e)) => {
                        let group = event_uuid("group_uuid", &e.group_uuid)?;
                        for sql in [
                            "DELETE FROM project_group_grants WHERE group_uuid = $1",
                            "DELETE FROM space_group_grants WHERE group_uuid = $1",
                        ] {
                            sqlx::query(sql).bind(group).execute(&mut *tx).await?;
                        }
                    }
                    // Not identity's; nothing here depends on other events.
                    Some(Payload::ProjectDeleted(_)) | None => {}
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

sink!(PgStore);
sink!(SqliteStore);
