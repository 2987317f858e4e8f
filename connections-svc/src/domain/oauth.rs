//! OAuth2 for connections whose provider has an OAuth2 configuration: exchanging an
//! authorization code on update, refreshing an expired access token (on a test, and in the
//! periodic sweep that renews tokens before they expire). A refresh first claims the row
//! (optimistic update), so replicas never spend one refresh token twice.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use super::{ACCESS_TOKEN, Connections, REFRESH_TOKEN, TestStatus, invalid, not_found, now};
use crate::{
    error::{Error, Result},
    oauth::OAuthError,
    store::{ConnectionRecord, SecretRecord},
};

impl Connections {
    /// Exchanges an authorization `code` for tokens at `c`'s provider, for an update of `c`:
    /// the tokens join the `sealed` secrets to store, and the previous grant's refresh token
    /// joins the secrets to `remove` unless the new grant brings one. Nothing is stored here:
    /// when the exchange fails, the update changes nothing.
    pub(super) async fn exchange_code(
        &self,
        c: &mut ConnectionRecord,
        code: &SecretString,
        sealed: &mut Vec<SecretRecord>,
        remove: &mut Vec<String>,
    ) -> Result<()> {
        let code = code.expose_secret().trim().to_owned();
        if code.is_empty() || code.len() > 2048 {
            return Err(invalid("code must be 1 to 2048 characters"));
        }
        if !self.oauth.supports(&c.provider) {
            return Err(invalid(format!(
                "provider {:?} has no OAuth2 configuration",
                c.provider
            )));
        }
        let tokens = self
            .oauth
            .exchange_code(&c.provider, &code)
            .await
            .map_err(oauth_error)?;
        sealed.extend(self.seal_tokens(c, &tokens));
        // A grant without a refresh token replaces the previous grant's too: an old refresh
        // token would bring the old authorization back at the next refresh.
        if tokens.refresh_token.is_none() {
            remove.push(REFRESH_TOKEN.to_owned());
        }
        remove.retain(|f| !sealed.iter().any(|s| &s.field == f));
        c.invalid = false;
        Ok(())
    }

    /// An OAuth2 connection: refreshes its access token when it has expired (or is about to).
    pub(super) async fn refresh(
        &self,
        mut c: ConnectionRecord,
        stored: &[SecretRecord],
        margin: chrono::Duration,
    ) -> Result<(TestStatus, String)> {
        if !stored.iter().any(|s| s.field == ACCESS_TOKEN) {
            return Ok((
                TestStatus::Failed,
                "no OAuth2 token yet: update the connection with an authorization code".into(),
            ));
        }
        let fresh = c.expiry.is_none_or(|e| e > Utc::now() + margin);
        if fresh {
            return Ok((TestStatus::Connected, "the access token is valid".into()));
        }
        let Some(refresh) = stored.iter().find(|s| s.field == REFRESH_TOKEN) else {
            return Ok((
                TestStatus::AuthenticationFailed,
                "the access token expired and there is no refresh token".into(),
            ));
        };
        let refresh = match self.open(&c, refresh) {
            Ok(r) => r,
            Err(e) => {
                // A retired key or a damaged row: the token is unusable for good.
                tracing::error!(error = %e, "a stored refresh token cannot be opened");
                return Ok((
                    TestStatus::AuthenticationFailed,
                    "the stored refresh token cannot be opened; authorize again with a code".into(),
                ));
            }
        };
        // Claim the row first: of several replicas (or a test and the periodic refresh), one
        // spends the refresh token; a provider that rotates refresh tokens may revoke them all
        // when a spent one comes back.
        let seen = c.updated_at;
        c.updated_at = now();
        if !self.store.update(&c, seen, &[], &[]).await? {
            return Err(Error::FailedPrecondition(
                "the connection changed meanwhile; retry".into(),
            ));
        }
        match self.oauth.refresh(&c.provider, &refresh).await {
            Ok(tokens) => {
                // The provider spent the old refresh token: the new ones are stored whatever
                // changed meanwhile.
                let sealed = self.seal_tokens(&mut c, &tokens);
                let scope = tokens.scope.as_ref().map(|_| c.scope.as_str());
                if !self
                    .store
                    .put_tokens(c.connection_uuid, &sealed, &[], c.expiry, scope, now())
                    .await?
                {
                    return Err(not_found());
                }
                Ok((
                    TestStatus::Connected,
                    "the access token was refreshed".into(),
                ))
            }
            Err(OAuthError::Rejected { error, .. }) => Ok((
                TestStatus::AuthenticationFailed,
                format!("the provider refused to refresh the token ({error})"),
            )),
            Err(OAuthError::Unreachable(_)) => Ok((
                TestStatus::Failed,
                "the provider's token endpoint did not answer".into(),
            )),
            Err(e) => Err(oauth_error(e)),
        }
    }

    /// Refreshes the OAuth2 tokens that expire within `margin`, of the providers configured
    /// here; a refused refresh marks its connection invalid. Returns (refreshed, failed).
    pub async fn refresh_due(&self, margin: chrono::Duration) -> Result<(u64, u64)> {
        let providers = self.oauth.providers();
        if providers.is_empty() {
            return Ok((0, 0));
        }
        let due = self
            .store
            .oauth_due(Utc::now() + margin, &providers, 100)
            .await?;
        let (mut refreshed, mut failed) = (0, 0);
        for c in due {
            let id = c.connection_uuid;
            let stored = self.store.secrets(id).await?;
            match self.refresh(c, &stored, margin).await {
                Ok((TestStatus::Connected, _)) => refreshed += 1,
                Ok((TestStatus::AuthenticationFailed, message)) => {
                    failed += 1;
                    tracing::warn!(connection = %id, reason = %message, "OAuth2 refresh refused; the connection is now invalid");
                    self.store.record_test(id, true, now()).await?;
                }
                Ok((_, message)) => {
                    failed += 1;
                    tracing::warn!(connection = %id, reason = %message, "OAuth2 refresh failed; will retry");
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(connection = %id, error = %e, "OAuth2 refresh failed; will retry");
                }
            }
        }
        Ok((refreshed, failed))
    }

    /// Refreshes due OAuth2 tokens every `interval` until `shutdown`: tokens are renewed
    /// before they expire (within twice the interval plus a minute).
    pub fn spawn_oauth_refresh(
        self: &Arc<Self>,
        interval: Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let this = Arc::clone(self);
        let margin = chrono::Duration::from_std(interval * 2).unwrap_or(chrono::Duration::MAX)
            + chrono::Duration::seconds(60);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {}
                }
                match this.refresh_due(margin).await {
                    Ok((0, 0)) => {}
                    Ok((refreshed, failed)) => {
                        tracing::info!(refreshed, failed, "OAuth2 tokens refreshed");
                    }
                    Err(e) => tracing::warn!(error = %e, "OAuth2 refresh sweep failed"),
                }
            }
        });
    }
}

/// The domain error of a failed OAuth2 exchange.
fn oauth_error(e: OAuthError) -> Error {
    match e {
        OAuthError::UnknownProvider => invalid("this provider has no OAuth2 configuration"),
        OAuthError::Rejected { error, description } => invalid(match description {
            Some(d) => format!("the provider rejected the authorization: {error}: {d}"),
            None => format!("the provider rejected the authorization: {error}"),
        }),
        OAuthError::Unreachable(_) => {
            Error::Unavailable("the provider's token endpoint did not answer; try again".into())
        }
        OAuthError::InvalidResponse(m) => {
            tracing::warn!(reason = %m, "unexpected answer from an OAuth2 token endpoint");
            Error::Unavailable("the provider's token endpoint answered unexpectedly".into())
        }
    }
}
