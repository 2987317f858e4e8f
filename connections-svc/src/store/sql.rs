//! The SQL of the connections store: one [`SqlStore`] over either backend's pool, each method
//! holding its statements, compiled for PostgreSQL and SQLite by [`service_kit::on_pool!`].

use chrono::{DateTime, Utc};
use service_kit::{db::Pool, on_pool};
use uuid::Uuid;

use super::{
    BoundSecret, ConnectionRecord, ConnectionsStore, ListFilter, Result, SecretRecord, StoreError,
    count_scope,
};

/// The connections store on a PostgreSQL or SQLite pool.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) pool: Pool,
}

impl SqlStore {
    /// The store over `pool` (already migrated).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }
}

fn gone(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_foreign_key_violation(&err) {
        StoreError::Gone
    } else {
        StoreError::Database(err)
    }
}

/// The columns of `connections`, in [`ConnectionRecord`]'s order.
macro_rules! columns {
    () => {
        "connection_uuid, organization_uuid, owner_user_uuid, kind, provider, name, description, \
         host, port, identifier, scope, expiry, active, invalid, cache, datasets_meta_sync_enabled, \
         datasets_meta_sync_interval, linked_at, options, last_tested_at, created_at, updated_at, \
         visibility"
    };
}

/// In an update's transaction `$tx`: deletes the secrets of connection `$id` named in `$remove`.
macro_rules! remove_secrets {
    ($tx:expr, $id:expr, $remove:expr) => {{
        for field in $remove {
            sqlx::query("DELETE FROM connection_secrets WHERE connection_uuid = $1 AND field = $2")
                .bind($id)
                .bind(field)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// In a write's transaction `$tx`: inserts or replaces the sealed `$secrets`, stamped `$now`.
macro_rules! put_secrets {
    ($tx:expr, $secrets:expr, $now:expr) => {{
        for s in $secrets {
            sqlx::query(
                "INSERT INTO connection_secrets \
                 (connection_uuid, field, key_version, sealed, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_uuid, field) DO UPDATE \
                 SET key_version = excluded.key_version, sealed = excluded.sealed, \
                 updated_at = excluded.updated_at",
            )
            .bind(s.connection_uuid)
            .bind(&s.field)
            .bind(s.key_version)
            .bind(&s.sealed)
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err(gone)?;
        }
    }};
}

#[async_trait::async_trait]
impl ConnectionsStore for SqlStore {
    async fn limit_hit(
        &self,
        limit: &service_kit::limits::Limit,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<service_kit::limits::Hit> {
        Ok(limit.hit(&self.pool, key, now).await?)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_within(
        &self,
        c: &ConnectionRecord,
        secrets: &[SecretRecord],
        limit: i64,
    ) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            // One conditional upsert checks and takes the place: concurrent creates cannot both
            // take the last one.
            let counted = sqlx::query(
                "INSERT INTO connection_counts (organization_uuid, scope, n) VALUES ($1, $2, 1) \
                 ON CONFLICT (organization_uuid, scope) DO UPDATE SET n = connection_counts.n + 1 \
                 WHERE connection_counts.n < $3",
            )
            .bind(c.organization_uuid)
            .bind(count_scope(&c.kind, c.owner_user_uuid))
            .bind(limit)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if counted == 0 || limit < 1 {
                return Ok(false);
            }
            sqlx::query(concat!(
                "INSERT INTO connections (",
                columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17, $18, $19, $20, $21, $22, $23)"
            ))
            .bind(c.connection_uuid)
            .bind(c.organization_uuid)
            .bind(c.owner_user_uuid)
            .bind(&c.kind)
            .bind(&c.provider)
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.host)
            .bind(&c.port)
            .bind(&c.identifier)
            .bind(&c.scope)
            .bind(c.expiry)
            .bind(c.active)
            .bind(c.invalid)
            .bind(c.cache)
            .bind(c.datasets_meta_sync_enabled)
            .bind(c.datasets_meta_sync_interval)
            .bind(c.linked_at)
            .bind(&c.options)
            .bind(c.last_tested_at)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(&c.visibility)
            .execute(&mut *tx)
            .await?;
            put_secrets!(tx, secrets, c.updated_at);
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn get(&self, connection_uuid: Uuid) -> Result<Option<ConnectionRecord>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM connections WHERE connection_uuid = $1"
        );
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql)
                .bind(connection_uuid)
                .fetch_optional(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn list(&self, f: &ListFilter<'_>) -> Result<Vec<ConnectionRecord>> {
        on_pool!(&self.pool, |p| {
            let mut qb = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                columns!(),
                " FROM connections c WHERE organization_uuid = "
            ));
            qb.push_bind(f.organization_uuid)
                .push(" AND kind = ")
                .push_bind(f.kind.to_owned());
            if f.kind == "personal" {
                qb.push(" AND owner_user_uuid = ").push_bind(f.reader);
            } else if !f.reader_is_admin {
                qb.push(" AND (visibility = 'organization' OR owner_user_uuid = ")
                    .push_bind(f.reader)
                    .push(
                        " OR EXISTS (SELECT 1 FROM connection_shares s \
                         WHERE s.connection_uuid = c.connection_uuid AND s.user_uuid = ",
                    )
                    .push_bind(f.reader)
                    .push("))");
            }
            if let Some(owner) = f.owner {
                qb.push(" AND owner_user_uuid = ").push_bind(owner);
            }
            if let Some(provider) = f.provider {
                qb.push(" AND provider = ").push_bind(provider.to_owned());
            }
            qb.push(" ORDER BY created_at, connection_uuid");
            Ok(qb.build_query_as().fetch_all(p).await?)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn secret_fields(&self, connections: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
        let mut out = Vec::new();
        // Bounded IN lists: SQLite allows 32766 parameters, PostgreSQL 65535.
        for chunk in connections.chunks(1000) {
            on_pool!(&self.pool, |p| {
                let mut qb = sqlx::QueryBuilder::new(
                    "SELECT connection_uuid, field FROM connection_secrets \
                     WHERE connection_uuid IN (",
                );
                let mut list = qb.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                qb.push(") ORDER BY connection_uuid, field");
                out.extend(qb.build_query_as::<(Uuid, String)>().fetch_all(p).await?);
            });
        }
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn secrets(&self, connection_uuid: Uuid) -> Result<Vec<SecretRecord>> {
        let sql = "SELECT connection_uuid, field, key_version, sealed FROM connection_secrets \
                   WHERE connection_uuid = $1 ORDER BY field";
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql)
                .bind(connection_uuid)
                .fetch_all(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn update(
        &self,
        c: &ConnectionRecord,
        seen: DateTime<Utc>,
        secrets: &[SecretRecord],
        remove: &[String],
    ) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE connections SET provider = $1, name = $2, description = $3, host = $4, \
                 port = $5, identifier = $6, scope = $7, expiry = $8, active = $9, invalid = $10, \
                 cache = $11, datasets_meta_sync_enabled = $12, datasets_meta_sync_interval = $13, \
                 linked_at = $14, options = $15, last_tested_at = $16, updated_at = $17 \
                 WHERE connection_uuid = $18 AND updated_at = $19",
            )
            .bind(&c.provider)
            .bind(&c.name)
            .bind(&c.description)
            .bind(&c.host)
            .bind(&c.port)
            .bind(&c.identifier)
            .bind(&c.scope)
            .bind(c.expiry)
            .bind(c.active)
            .bind(c.invalid)
            .bind(c.cache)
            .bind(c.datasets_meta_sync_enabled)
            .bind(c.datasets_meta_sync_interval)
            .bind(c.linked_at)
            .bind(&c.options)
            .bind(c.last_tested_at)
            .bind(c.updated_at)
            .bind(c.connection_uuid)
            .bind(seen)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            remove_secrets!(tx, c.connection_uuid, remove);
            put_secrets!(tx, secrets, c.updated_at);
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn put_tokens(
        &self,
        connection_uuid: Uuid,
        secrets: &[SecretRecord],
        remove: &[String],
        expiry: Option<DateTime<Utc>>,
        scope: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE connections SET expiry = $1, scope = COALESCE($2, scope), invalid = $3, \
                 updated_at = $4 WHERE connection_uuid = $5",
            )
            .bind(expiry)
            .bind(scope)
            .bind(false)
            .bind(at)
            .bind(connection_uuid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            remove_secrets!(tx, connection_uuid, remove);
            put_secrets!(tx, secrets, at);
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn count(&self, organization_uuid: Uuid, scope: &str) -> Result<i64> {
        let sql = "SELECT n FROM connection_counts WHERE organization_uuid = $1 AND scope = $2";
        let n: Option<i64> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(sql)
                .bind(organization_uuid)
                .bind(scope)
                .fetch_optional(p)
                .await?
        });
        Ok(n.unwrap_or(0))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete(&self, connection_uuid: Uuid) -> Result<bool> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let gone: Option<(Uuid, String, Uuid)> = sqlx::query_as(
                "DELETE FROM connections WHERE connection_uuid = $1 \
                 RETURNING organization_uuid, kind, owner_user_uuid",
            )
            .bind(connection_uuid)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((org, kind, owner)) = gone else {
                return Ok(false);
            };
            sqlx::query(
                "UPDATE connection_counts SET n = n - 1 \
                 WHERE organization_uuid = $1 AND scope = $2 AND n > 0",
            )
            .bind(org)
            .bind(count_scope(&kind, owner))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn record_test(
        &self,
        connection_uuid: Uuid,
        invalid: bool,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let sql = "UPDATE connections SET invalid = $1, last_tested_at = $2, updated_at = $2 \
                   WHERE connection_uuid = $3";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(invalid)
                .bind(at)
                .bind(connection_uuid)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn preference(&self, user_uuid: Uuid, project_uuid: Uuid) -> Result<Option<Uuid>> {
        let sql = "SELECT connection_uuid FROM credentials_preferences \
                   WHERE user_uuid = $1 AND project_uuid = $2";
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_scalar(sql)
                .bind(user_uuid)
                .bind(project_uuid)
                .fetch_optional(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn set_preference(
        &self,
        user_uuid: Uuid,
        project_uuid: Uuid,
        connection_uuid: Uuid,
    ) -> Result<()> {
        let sql = "INSERT INTO credentials_preferences \
                   (user_uuid, project_uuid, connection_uuid, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (user_uuid, project_uuid) DO UPDATE \
                   SET connection_uuid = excluded.connection_uuid, updated_at = excluded.updated_at";
        on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(user_uuid)
                .bind(project_uuid)
                .bind(connection_uuid)
                .bind(Utc::now())
                .execute(p)
                .await
                .map_err(gone)?;
        });
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn secrets_not_on(&self, version: i32, limit: i64) -> Result<Vec<BoundSecret>> {
        let sql = "SELECT c.organization_uuid, s.connection_uuid, s.field, s.key_version, s.sealed \
                   FROM connection_secrets s \
                   JOIN connections c ON c.connection_uuid = s.connection_uuid \
                   WHERE s.key_version <> $1 ORDER BY s.connection_uuid, s.field LIMIT $2";
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(sql)
                .bind(version)
                .bind(limit)
                .fetch_all(p)
                .await?
        }))
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn replace_sealed(&self, old: &BoundSecret, sealed: &str, version: i32) -> Result<bool> {
        let sql = "UPDATE connection_secrets SET sealed = $1, key_version = $2 \
                   WHERE connection_uuid = $3 AND field = $4 AND sealed = $5";
        let n = on_pool!(&self.pool, |p| {
            sqlx::query(sql)
                .bind(sealed)
                .bind(version)
                .bind(old.connection_uuid)
                .bind(&old.field)
                .bind(&old.sealed)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(n > 0)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn oauth_due(
        &self,
        before: DateTime<Utc>,
        providers: &[String],
        limit: i64,
    ) -> Result<Vec<ConnectionRecord>> {
        if providers.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(&self.pool, |p| {
            let mut qb = sqlx::QueryBuilder::new(concat!(
                "SELECT ",
                columns!(),
                " FROM connections c WHERE c.invalid = "
            ));
            qb.push_bind(false)
                .push(" AND c.expiry IS NOT NULL AND c.expiry < ")
                .push_bind(before)
                .push(" AND c.provider IN (");
            let mut list = qb.separated(", ");
            for provider in providers {
                list.push_bind(provider.clone());
            }
            qb.push(
                ") AND EXISTS (SELECT 1 FROM connection_secrets s \
                 WHERE s.connection_uuid = c.connection_uuid AND s.field = 'refresh_token') \
                 ORDER BY c.expiry LIMIT ",
            )
            .push_bind(limit);
            Ok(qb.build_query_as().fetch_all(p).await?)
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn versions(&self) -> Result<Vec<(i32, i64)>> {
        let sql = "SELECT key_version, COUNT(*) FROM connection_secrets \
                   GROUP BY key_version ORDER BY key_version";
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(sql)
            .fetch_all(p)
            .await?))
    }
}
