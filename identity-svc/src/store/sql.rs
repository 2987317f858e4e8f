//! The SQL of the identity store, written once and instantiated for both backends: `$n`
//! placeholders, `uuid::Uuid` and `chrono::DateTime<Utc>` bind and decode natively on both.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    IdentityStore, PatRecord, Result, SessionRecord, SigningKeyRecord, StoreError, UserCredentials,
    UserRecord,
};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore(pub sqlx::PgPool);
/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore(pub sqlx::SqlitePool);

fn conflict(err: sqlx::Error) -> StoreError {
    if service_kit::db::is_unique_violation(&err) {
        StoreError::Conflict
    } else {
        StoreError::Database(err)
    }
}

macro_rules! user_columns {
    () => {
        "user_uuid, email, first_name, last_name, is_active, is_tracking_anonymized, \
         is_marketing_opted_in, is_setup_complete, created_at, updated_at"
    };
}
macro_rules! pat_columns {
    () => {
        "pat_uuid, user_uuid, description, token_hash, auto_generated, created_at, expires_at, rotated_at, last_used_at"
    };
}
macro_rules! insert_session {
    ($executor:expr, $s:expr) => {{
        let s = $s;
        sqlx::query(
            "INSERT INTO sessions (session_uuid, user_uuid, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(s.session_uuid)
        .bind(s.user_uuid)
        .bind(&s.token_hash)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute($executor)
        .await
        .map_err(conflict)
        .map(|_| ())
    }};
}

macro_rules! identity_store {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl IdentityStore for $store {
            #[tracing::instrument(skip_all)]
            async fn insert_user_with_session(&self, u: &UserRecord, password_hash: &str, s: &SessionRecord) -> Result<()> {
                let mut tx = self.0.begin().await?;
                sqlx::query(
                    "INSERT INTO users (user_uuid, email, first_name, last_name, password_hash, is_active, \
                     is_tracking_anonymized, is_marketing_opted_in, is_setup_complete, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(u.user_uuid)
                .bind(&u.email)
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind(password_hash)
                .bind(u.is_active)
                .bind(u.is_tracking_anonymized)
                .bind(u.is_marketing_opted_in)
                .bind(u.is_setup_complete)
                .bind(u.created_at)
                .bind(u.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
                insert_session!(&mut *tx, s)?;
                tx.commit().await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn user(&self, user_uuid: Uuid) -> Result<Option<UserRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users WHERE user_uuid = $1"))
                .bind(user_uuid)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn credentials_by_email(&self, email: &str) -> Result<Option<UserCredentials>> {
                Ok(sqlx::query_as(concat!("SELECT ", user_columns!(), ", password_hash FROM users WHERE email = $1"))
                    .bind(email)
                    .fetch_optional(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_session(&self, s: &SessionRecord) -> Result<()> {
                insert_session!(&self.0, s)
            }

            #[tracing::instrument(skip_all)]
            async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
                Ok(sqlx::query_as(
                    "SELECT session_uuid, user_uuid, token_hash, created_at, expires_at FROM sessions WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.0)
                .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_session(&self, user_uuid: Uuid, session_uuid: Uuid) -> Result<bool> {
                let r = sqlx::query("DELETE FROM sessions WHERE user_uuid = $1 AND session_uuid = $2")
                    .bind(user_uuid)
                    .bind(session_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_pat(&self, p: &PatRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO personal_access_tokens (pat_uuid, user_uuid, description, token_hash, auto_generated, \
                     created_at, expires_at, rotated_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(p.pat_uuid)
                .bind(p.user_uuid)
                .bind(&p.description)
                .bind(&p.token_hash)
                .bind(p.auto_generated)
                .bind(p.created_at)
                .bind(p.expires_at)
                .bind(p.rotated_at)
                .bind(p.last_used_at)
                .execute(&self.0)
                .await
                .map_err(conflict)?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn count_pats(&self, user_uuid: Uuid) -> Result<i64> {
                Ok(sqlx::query_scalar("SELECT COUNT(*) FROM personal_access_tokens WHERE user_uuid = $1")
                    .bind(user_uuid)
                    .fetch_one(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn pats_of_user(&self, user_uuid: Uuid) -> Result<Vec<PatRecord>> {
                Ok(sqlx::query_as(concat!(
                    "SELECT ", pat_columns!(), " FROM personal_access_tokens WHERE user_uuid = $1 ORDER BY created_at DESC, pat_uuid DESC"
                )).bind(user_uuid).fetch_all(&self.0).await?)
            }

            #[tracing::instrument(skip_all)]
            async fn pat_by_token_hash(&self, token_hash: &str) -> Result<Option<PatRecord>> {
                Ok(sqlx::query_as(concat!("SELECT ", pat_columns!(), " FROM personal_access_tokens WHERE token_hash = $1")).bind(token_hash).fetch_optional(&self.0).await?)
            }

            #[tracing::instrument(skip_all)]
            async fn delete_pat(&self, user_uuid: Uuid, pat_uuid: Uuid) -> Result<bool> {
                let r = sqlx::query("DELETE FROM personal_access_tokens WHERE user_uuid = $1 AND pat_uuid = $2")
                    .bind(user_uuid)
                    .bind(pat_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            #[tracing::instrument(skip_all)]
            async fn rotate_pat(
                &self,
                user_uuid: Uuid,
                pat_uuid: Uuid,
                token_hash: &str,
                expires_at: DateTime<Utc>,
                rotated_at: DateTime<Utc>,
            ) -> Result<Option<PatRecord>> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE personal_access_tokens SET token_hash = $1, expires_at = $2, rotated_at = $3 \
                     WHERE user_uuid = $4 AND pat_uuid = $5 RETURNING ", pat_columns!()
                ))
                    .bind(token_hash)
                    .bind(expires_at)
                    .bind(rotated_at)
                    .bind(user_uuid)
                    .bind(pat_uuid)
                    .fetch_optional(&self.0)
                    .await
                    .map_err(conflict)?)
            }

            #[tracing::instrument(skip_all)]
            async fn touch_pat(&self, pat_uuid: Uuid, at: DateTime<Utc>) -> Result<()> {
                sqlx::query("UPDATE personal_access_tokens SET last_used_at = $1 WHERE pat_uuid = $2")
                    .bind(at)
                    .bind(pat_uuid)
                    .execute(&self.0)
                    .await?;
                Ok(())
            }

            #[tracing::instrument(skip_all)]
            async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                Ok(sqlx::query_as("SELECT kid, private_seed, created_at FROM signing_keys ORDER BY created_at, kid")
                    .fetch_all(&self.0)
                    .await?)
            }

            #[tracing::instrument(skip_all)]
            async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
                sqlx::query("INSERT INTO signing_keys (kid, private_seed, created_at) VALUES ($1, $2, $3)")
                    .bind(&k.kid)
                    .bind(&k.private_seed)
                    .bind(k.created_at)
                    .execute(&self.0)
                    .await
                    .map_err(conflict)?;
                Ok(())
            }
        }
    };
}

identity_store!(PgStore);
identity_store!(SqliteStore);
