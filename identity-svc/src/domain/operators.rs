//! Operator tokens (docs/accounts.md): the owner role over every account and nothing else. An
//! operator is no user and owns no data; its token is made, listed and revoked on the command
//! line (`owner-token`, `crate::operator`) and exchanged for an access token naming no user
//! (`sub` `operator:<uuid>`, claim `opr`), which only the account API accepts.

use std::borrow::Cow;

use chrono::{SubsecRound, Utc};
use secrecy::SecretString;
use service_kit::secret::{random_token, sha256_hex};
use uuid::Uuid;

use super::{API_CLIENT_ID, AccessToken, Identity, LAST_USED_GRANULARITY, validate};
use crate::{
    error::{Error, Result},
    store::{OperatorTokenRecord, OperatorTokenStore},
};

/// Prefix of operator tokens, followed by 128 random bits.
pub const OPERATOR_PREFIX: &str = "ldop_";
/// The name of a token made without one.
pub const DEFAULT_NAME: &str = "operator";

/// An operator token with its secret, shown once.
#[derive(Debug)]
pub struct NewOperatorToken {
    pub token: OperatorTokenRecord,
    pub secret: SecretString,
}

const GONE: Error = Error::Unauthenticated(Cow::Borrowed("operator token not recognised"));

/// Makes an operator token named `name` (trimmed, at most 255 characters; empty: "operator").
pub async fn create(store: &dyn OperatorTokenStore, name: &str) -> Result<NewOperatorToken> {
    let name = validate::description(name)?;
    let name = if name.is_empty() {
        DEFAULT_NAME.to_owned()
    } else {
        name
    };
    let secret = random_token::<16>(OPERATOR_PREFIX);
    let token = OperatorTokenRecord {
        operator_token_uuid: Uuid::now_v7(),
        name,
        token_hash: sha256_hex(&secret),
        created_at: Utc::now().trunc_subsecs(6),
        last_used_at: None,
        revoked_at: None,
    };
    store.insert_operator_token(&token).await?;
    tracing::info!(operator_token_uuid = %token.operator_token_uuid, "operator token created");
    Ok(NewOperatorToken {
        token,
        secret: SecretString::from(secret),
    })
}

/// Revokes the operator token `id`: its access tokens fail on their next call. NOT_FOUND when
/// there is no such token.
pub async fn revoke(store: &dyn OperatorTokenStore, id: &str) -> Result<OperatorTokenRecord> {
    let not_found = || Error::NotFound("operator token not found".into());
    let id = Uuid::parse_str(id.trim()).map_err(|_| not_found())?;
    if !store.revoke_operator_token(id, Utc::now()).await? {
        return Err(not_found());
    }
    tracing::info!(operator_token_uuid = %id, "operator token revoked");
    store.operator_token(id).await?.ok_or_else(not_found)
}

impl Identity {
    /// Exchanges an operator token for an access token that names no user. Unknown and
    /// revoked tokens are refused; the last-used time is kept (to the minute).
    pub async fn authenticate_operator(&self, token: &str) -> Result<AccessToken> {
        if !token.starts_with(OPERATOR_PREFIX) || token.len() > 128 {
            return Err(GONE);
        }
        let found = self
            .store
            .operator_token_by_hash(&sha256_hex(token))
            .await?
            .filter(|t| t.revoked_at.is_none())
            .ok_or(GONE)?;
        let now = Utc::now();
        if found
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
        {
            self.store
                .touch_operator_token(found.operator_token_uuid, now)
                .await?;
        }
        let id = found.operator_token_uuid;
        tracing::info!(operator_token_uuid = %id, action = "Authenticate", "operator action");
        let (token, expires_at) = self
            .signer
            .sign_operator(id, API_CLIENT_ID)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing failed: {e}")))?;
        Ok(AccessToken {
            user_uuid: Uuid::nil(),
            token: SecretString::from(token),
            expires_at,
        })
    }

    /// Refuses an operator's access token whose operator token is gone or revoked: a
    /// revocation takes effect on the next call.
    pub(super) async fn ensure_operator_live(&self, id: Uuid) -> Result<()> {
        match self.store.operator_token(id).await? {
            Some(t) if t.revoked_at.is_none() => Ok(()),
            _ => Err(Error::Unauthenticated(
                "the credential behind this token was revoked".into(),
            )),
        }
    }
}
