//! Personal access tokens: created with their scopes, listed, deleted and rotated, by a
//! session only (a stolen token must not be able to extend itself).

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use service_kit::{
    jwt::AccessClaims,
    scope,
    secret::{random_token, sha256_hex},
};
use uuid::Uuid;

use super::{Identity, MAX_PATS_PER_USER, NewPat, PAT_PREFIX, caller, validate};
use crate::{
    error::{Error, Result},
    store::PatRecord,
};

impl Identity {
    /// Creates a personal access token with `scopes` (`None`: admin, the power of every token
    /// before scopes existed). A token cannot mint another, whatever its scopes: creating one
    /// needs a session (a stolen token must not be able to extend itself); the scope guard
    /// holds that session to a recent login (`grpc/scopes.rs`).
    pub async fn create_pat(
        &self,
        claims: &AccessClaims,
        description: &str,
        expires_at: Option<DateTime<Utc>>,
        auto_generated: bool,
        scopes: Option<&[String]>,
    ) -> Result<NewPat> {
        let user = caller(claims)?;
        refuse_pat_management(claims)?;
        let description = validate::description(description)?;
        let scopes = scope::join(scope::requested(scopes)?);
        let now = Utc::now();
        if let Some(e) = expires_at {
            validate::future("expiresAt", e, now)?;
        }
        if self.store.count_pats(user).await? >= MAX_PATS_PER_USER {
            return Err(Error::ResourceExhausted(
                format!("a user may hold at most {MAX_PATS_PER_USER} personal access tokens")
                    .into(),
            ));
        }
        let secret = random_token::<16>(PAT_PREFIX);
        let pat = PatRecord {
            pat_uuid: Uuid::now_v7(),
            user_uuid: user,
            description,
            token_hash: sha256_hex(&secret),
            auto_generated,
            created_at: now,
            expires_at,
            rotated_at: None,
            last_used_at: None,
            scopes,
        };
        self.store.insert_pat(&pat).await?;
        tracing::info!(user_uuid = %user, pat_uuid = %pat.pat_uuid, scopes = %pat.scopes, "personal access token created");
        Ok(NewPat {
            pat,
            secret: SecretString::from(secret),
        })
    }

    /// The caller's personal access tokens.
    pub async fn list_pats(&self, claims: &AccessClaims) -> Result<Vec<PatRecord>> {
        Ok(self.store.pats_of_user(caller(claims)?).await?)
    }

    /// Deletes one of the caller's tokens; another user's token answers NOT_FOUND.
    pub async fn delete_pat(&self, claims: &AccessClaims, pat_uuid: &str) -> Result<()> {
        let user = caller(claims)?;
        refuse_pat_management(claims)?;
        let id = parse_pat_uuid(pat_uuid)?;
        if self.store.delete_pat(user, id).await? {
            tracing::info!(user_uuid = %user, pat_uuid = %id, "personal access token deleted");
            Ok(())
        } else {
            Err(Error::NotFound("personal access token not found".into()))
        }
    }

    /// Gives one of the caller's tokens a new secret and expiry; the old secret stops working.
    pub async fn rotate_pat(
        &self,
        claims: &AccessClaims,
        pat_uuid: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<NewPat> {
        let user = caller(claims)?;
        refuse_pat_management(claims)?;
        let id = parse_pat_uuid(pat_uuid)?;
        let now = Utc::now();
        validate::future("expiresAt", expires_at, now)?;
        let secret = random_token::<16>(PAT_PREFIX);
        let pat = self
            .store
            .rotate_pat(user, id, &sha256_hex(&secret), expires_at, now)
            .await?
            .ok_or(Error::NotFound("personal access token not found".into()))?;
        tracing::info!(user_uuid = %user, pat_uuid = %id, "personal access token rotated");
        Ok(NewPat {
            pat,
            secret: SecretString::from(secret),
        })
    }
}

/// Personal access tokens are managed with a session only: a stolen token must not be able to
/// mint, extend or rotate tokens.
fn refuse_pat_management(claims: &AccessClaims) -> Result<()> {
    if claims.authenticated_by("pat") {
        return Err(Error::PermissionDenied(
            "personal access tokens cannot be managed with a personal access token; log in first"
                .into(),
        ));
    }
    Ok(())
}

fn parse_pat_uuid(value: &str) -> Result<Uuid> {
    // A malformed id cannot name a token of the caller's: answer as for any unknown one.
    Uuid::parse_str(value).map_err(|_| Error::NotFound("personal access token not found".into()))
}
