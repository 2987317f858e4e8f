//! Account safety (Lightdash's routes where it has them): changing one's password with the
//! current one, resetting a forgotten one through a link mailed to the account's address,
//! signing out everywhere, and re-hashing a password stored with other parameters at login
//! (AU-3).
//!
//! A password change ends the user's other sessions and keeps the one it was made in; a reset
//! ends them all; signing out everywhere ends them all. Refresh tokens are sessions, and every
//! access token issued for a session names it (`sid`), so each is refused on its next request
//! through any service (`ensure_live`, AU-10). Personal access tokens are not sessions: they
//! stay until deleted, rotated or expired.
//!
//! A reset request answers the same, in the same time, whether or not the address has an
//! account (AU-7): it counts the request against its address and its client's address (rate
//! counters in the database, so the limits hold across replicas), answers, and only then, in
//! the background, looks the address up and mails the link. The link's code (256 random bits)
//! is stored only as its SHA-256; it works once and for [`RESET_TTL`]; a newer link replaces
//! an older one.

use std::{borrow::Cow, sync::Arc};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use service_kit::{
    jwt::AccessClaims,
    secret::{random_token, sha256_hex},
};
use uuid::Uuid;

use super::{Identity, accounts::valid_link_base, caller, password, validate};
use crate::{
    error::{Error, Result},
    mail::{Mail, Mailer},
    store::{EndSessions, IdentityStore, PasswordResetRecord},
};

/// Prefix of password reset codes, followed by 256 random bits.
pub const RESET_PREFIX: &str = "ldpwr_";
/// How long a reset link works.
pub const RESET_TTL: chrono::Duration = chrono::Duration::hours(1);
/// Reset requests whose lookup and mail may be under way at once; beyond, requests answer
/// RESOURCE_EXHAUSTED (whatever the address, so the answer still tells nothing).
pub const MAX_RESETS_IN_FLIGHT: usize = 256;

const LINK_GONE: Error = Error::NotFound(Cow::Borrowed("Password reset link not found or expired"));

/// The mail that carries a reset link.
fn reset_mail(to: &str, link: &str, expires: DateTime<Utc>) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: "Reset your password".into(),
        body: format!(
            "Someone asked to reset the password of your account.\r\n\r\n\
             Choose a new password here: {link}\r\n\r\n\
             The link works once and expires on {} (one hour). Using it signs you out everywhere.\r\n\
             If you did not ask for it, ignore this message: your password stays as it is.\r\n",
            expires.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}

/// A reset code as presented, if it has the shape of one.
fn code_hash(code: &str) -> Result<String> {
    let code = code.trim();
    if !code.starts_with(RESET_PREFIX) || code.len() > 128 {
        return Err(LINK_GONE);
    }
    Ok(sha256_hex(code))
}

impl Identity {
    /// Changes the caller's password: `current` must be their password (a wrong one is counted
    /// by the login throttle, AU-6), `new` must meet the policy (AU-5). Their other sessions end;
    /// the one the call was made in, if any, stays.
    pub async fn change_password(
        &self,
        claims: &AccessClaims,
        current: SecretString,
        new: SecretString,
        client: Option<&str>,
    ) -> Result<()> {
        let user = caller(claims)?;
        password::check_policy(&new)?;
        let found = self
            .store
            .credentials_of(user)
            .await?
            .filter(|c| c.user.is_active)
            .ok_or(Error::Unauthenticated("user not found or inactive".into()))?;
        let address = client
            .filter(|a| !a.is_empty() && a.len() <= 64)
            .unwrap_or("unknown");
        let email = found.user.email.as_str();
        // A wrong current password is a failed login of the account (AU-6).
        let now = Utc::now();
        self.admit_login(Some(email), address, now).await?;
        let old = found.password_hash;
        let verified = match self.hasher.verify(current, old.clone()).await {
            Err(busy @ Error::ResourceExhausted(_)) => {
                self.login_not_judged(Some(email), address, now).await?;
                return Err(busy);
            }
            other => other?,
        };
        if !verified {
            tracing::info!(user_uuid = %user, outcome = "wrong current password", "password change refused");
            return Err(Error::PermissionDenied(
                "The current password is not correct".into(),
            ));
        }
        self.login_succeeded(email, address).await?;
        let old = old.ok_or_else(|| Error::Internal(anyhow::anyhow!("verified without a hash")))?;
        let new_hash = self.hasher.hash(new).await?;
        let end = match claims.sid.as_deref().and_then(|s| Uuid::parse_str(s).ok()) {
            Some(sid) => EndSessions::AllBut(sid),
            None => EndSessions::All,
        };
        if !self
            .store
            .replace_password_hash(user, &old, &new_hash, end, Utc::now())
            .await?
        {
            return Err(Error::FailedPrecondition(
                "The password was changed meanwhile; try again".into(),
            ));
        }
        tracing::info!(user_uuid = %user, "password changed; other sessions ended");
        Ok(())
    }

    /// Ends every session of the caller (browser sessions and API clients' refresh tokens):
    /// each of them, and every access token issued for one, is refused from the next request.
    /// Personal access tokens stay. How many sessions ended.
    pub async fn end_all_sessions(&self, claims: &AccessClaims) -> Result<u64> {
        let user = caller(claims)?;
        let n = self.store.end_sessions(user).await?;
        tracing::info!(user_uuid = %user, sessions = n, "signed out everywhere");
        Ok(n)
    }

    /// Asks for a password reset link for `email`, to be mailed with links under `link_base`.
    /// The answer is the same whether or not the address has an account; the lookup and the
    /// mail happen after it. Limited per address and per client address (RESOURCE_EXHAUSTED).
    pub async fn request_password_reset(
        &self,
        email: &str,
        client: Option<&str>,
        link_base: &str,
    ) -> Result<()> {
        let email = validate::email(email)?;
        let link_base = valid_link_base(link_base).map_err(|_| {
            Error::InvalidArgument("link_base must be an absolute http(s) URL".into())
        })?;
        const TOO_MANY: &str = "Too many password reset requests; try again later";
        let too_many = || Error::ResourceExhausted(TOO_MANY.into());
        let address = client
            .filter(|a| !a.is_empty() && a.len() <= 64)
            .unwrap_or("unknown");
        let t = self.throttles;
        self.limit(&t.reset_address, address, TOO_MANY).await?;
        self.limit(&t.reset_email, &email, TOO_MANY).await?;
        let permit = Arc::clone(&self.resets_in_flight)
            .try_acquire_owned()
            .map_err(|_| too_many())?;
        let (store, mailer) = (Arc::clone(&self.store), Arc::clone(&self.mailer));
        tokio::spawn(async move {
            if let Err(e) =
                mail_reset_link(store.as_ref(), mailer.as_ref(), &email, &link_base).await
            {
                tracing::warn!(error = %e, "password reset not mailed");
            }
            drop(permit);
        });
        Ok(())
    }

    /// Whether a reset code is one of a live link (Lightdash's `GET /password-reset/{code}`,
    /// which its page calls before it asks for a new password).
    pub async fn check_password_reset(&self, code: &str) -> Result<()> {
        let hash = code_hash(code)?;
        match self.store.password_reset(&hash).await? {
            Some(r) if r.expires_at > Utc::now() => Ok(()),
            _ => Err(LINK_GONE),
        }
    }

    /// Sets a new password with a reset link's code: once, before the link expires; the new
    /// password meets the policy (AU-5). Every session of the user ends.
    pub async fn reset_password(&self, code: &str, new: SecretString) -> Result<()> {
        let hash = code_hash(code)?;
        password::check_policy(&new)?;
        // Hash only for a live link: a guess costs a lookup, not an Argon2 run.
        self.check_password_reset(code).await?;
        let new_hash = self.hasher.hash(new).await?;
        let user = self
            .store
            .use_password_reset(&hash, &new_hash, Utc::now())
            .await?
            .ok_or(LINK_GONE)?;
        tracing::info!(user_uuid = %user, "password reset; every session ended");
        Ok(())
    }

    /// AU-3: after a login with the right password, replaces a stored hash made with other
    /// parameters than today's by a hash made with them. A failure leaves the old hash (it
    /// still verifies) and does not fail the login.
    pub(super) async fn upgrade_hash(&self, user: Uuid, old_hash: &str, pw: SecretString) {
        let replaced = match self.hasher.hash(pw).await {
            Ok(new_hash) => self
                .store
                .replace_password_hash(user, old_hash, &new_hash, EndSessions::None, Utc::now())
                .await
                .map_err(Error::from),
            Err(e) => Err(e),
        };
        match replaced {
            Ok(true) => {
                tracing::info!(user_uuid = %user, "password re-hashed with current parameters")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user_uuid = %user, error = %e, "password re-hash failed; kept the old hash")
            }
        }
    }
}

/// Looks `email` up and, for an active user with a password, stores a new reset link and
/// mails it. Nothing for any other address.
async fn mail_reset_link(
    store: &dyn IdentityStore,
    mailer: &dyn Mailer,
    email: &str,
    link_base: &str,
) -> Result<()> {
    let found = store
        .credentials_by_email(email)
        .await?
        .filter(|c| c.user.is_active && c.password_hash.is_some());
    let Some(found) = found else {
        tracing::info!(
            outcome = "no account with a password",
            "password reset requested"
        );
        return Ok(());
    };
    let user = found.user.user_uuid;
    let code = SecretString::from(random_token::<32>(RESET_PREFIX));
    let now = Utc::now();
    let reset = PasswordResetRecord {
        user_uuid: user,
        code_hash: sha256_hex(code.expose_secret()),
        created_at: now,
        expires_at: now + RESET_TTL,
    };
    store.put_password_reset(&reset).await?;
    let link = format!("{link_base}/reset-password/{}", code.expose_secret());
    mailer
        .send(reset_mail(email, &link, reset.expires_at))
        .await
        .map_err(|e| Error::Unavailable(format!("the reset mail was not sent: {e}").into()))?;
    tracing::info!(user_uuid = %user, "password reset link mailed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_codes_of_the_shape_are_looked_up() {
        assert!(code_hash("ldpwr_abc").is_ok());
        assert_eq!(
            code_hash(" ldpwr_abc ").unwrap(),
            code_hash("ldpwr_abc").unwrap()
        );
        for bad in [
            "",
            "abc",
            "ldinv_abc",
            &format!("ldpwr_{}", "a".repeat(200)),
        ] {
            assert!(matches!(code_hash(bad), Err(Error::NotFound(_))), "{bad}");
        }
    }

    #[test]
    fn the_mail_holds_the_link_and_never_shows_it_in_debug() {
        let expires = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mail = reset_mail("a@example.com", "https://x/reset-password/ldpwr_1", expires);
        assert!(mail.body.contains("https://x/reset-password/ldpwr_1"));
        assert!(mail.body.contains("2027-01-15 08:00 UTC"));
        assert!(!format!("{mail:?}").contains("ldpwr_"));
    }
}
