//! identity-svc's rules: registration, login, sessions, personal access tokens, signing keys.
//! No tonic or sqlx types here: handlers convert at the edge, the store behind a trait.

pub mod account_safety;
pub mod accounts;
pub mod attributes;
pub mod context;
pub mod email;
#[doc(hidden)]
pub mod fuzzing;
pub mod groups;
pub mod invites;
pub mod ip_access;
pub mod keys;
pub mod operators;
pub mod organizations;
pub mod password;
mod pats;
pub mod throttle;
pub mod validate;

use std::{borrow::Cow, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use service_kit::{
    jwt::{AccessClaims, TokenRequest, TokenSigner},
    scope::{self, Scope},
    secret::{random_token, sha256_hex},
};
use uuid::Uuid;

use crate::{
    error::{Error, Result},
    mail::Mailer,
    store::{
        CredentialIds, CredentialState, IdentityStore, MembershipRecord, PatRecord, SessionRecord,
        SessionRotation, StoreError, UserRecord,
    },
};
use password::PasswordHasher;

/// Prefix of personal access tokens (Lightdash's `AuthTokenPrefix`), followed by 128 random bits.
pub const PAT_PREFIX: &str = "ldpat_";
/// Prefix of browser session tokens, followed by 256 random bits.
pub const SESSION_PREFIX: &str = "ldsess_";
/// Prefix of API clients' refresh tokens (a session's token that only refreshes: it is refused
/// as a session cookie), followed by 256 random bits.
pub const REFRESH_PREFIX: &str = "ldrt_";
/// How many personal access tokens one user may hold.
pub const MAX_PATS_PER_USER: i64 = 50;
/// Longest token description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 255;
/// A token's last-used time is written at most this often, to keep writes off the hot path.
pub const LAST_USED_GRANULARITY: chrono::Duration = chrono::Duration::seconds(60);
/// The `client_id` of tokens issued to callers of the public API.
pub const API_CLIENT_ID: &str = "platform-api";

/// Settings of the identity domain.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Absolute lifetime of a browser session.
    pub session_ttl: Duration,
    /// Failed-login limits.
    pub login_limits: throttle::Limits,
    /// Lifetime of an email passcode.
    pub passcode_ttl: Duration,
    /// Attempts allowed on one email passcode.
    pub max_passcode_attempts: i64,
    /// Email passcodes one user may request per hour.
    pub passcodes_per_hour: u32,
    /// The key of passcode hashes.
    pub passcode_key: email::PasscodeKey,
    /// Invitations one organization may create per hour.
    pub invitations_per_hour: u32,
    /// Open registrations per client address per hour.
    pub registrations_per_address_per_hour: u32,
    /// Open registrations per hour, from anywhere.
    pub registrations_per_hour: u32,
    /// Password reset requests per email address per hour.
    pub password_resets_per_hour: u32,
    /// Password reset requests per client address per hour.
    pub password_resets_per_address_per_hour: u32,
    /// How long after logging in a session may take admin actions (`service_kit::scope`).
    pub recent_login: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(7 * 24 * 3600),
            login_limits: throttle::Limits::default(),
            passcode_ttl: Duration::from_secs(15 * 60),
            max_passcode_attempts: 5,
            passcodes_per_hour: 5,
            passcode_key: email::PasscodeKey::random(),
            invitations_per_hour: 100,
            registrations_per_address_per_hour: 20,
            registrations_per_hour: 1000,
            password_resets_per_hour: 5,
            password_resets_per_address_per_hour: 30,
            recent_login: Duration::from_secs(service_kit::scope::DEFAULT_RECENT_LOGIN_SECONDS),
        }
    }
}

/// Input of a registration.
#[derive(Debug)]
pub struct Registration {
    pub email: String,
    pub password: SecretString,
    pub first_name: String,
    pub last_name: String,
    /// The client's address as the gateway saw it (throttling).
    pub client_address: Option<String>,
}

/// A new session: the user and the token, shown once.
#[derive(Debug)]
pub struct NewSession {
    pub user: UserRecord,
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// An access token handed out for a session or a personal access token.
#[derive(Debug)]
pub struct AccessToken {
    pub user_uuid: Uuid,
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// A personal access token with its secret, shown once.
#[derive(Debug)]
pub struct NewPat {
    pub pat: PatRecord,
    pub secret: SecretString,
}

/// A new active user with a password (registration, `create-admin`), set up, opted out of
/// tracking and marketing as Lightdash's defaults have it.
pub(crate) fn new_user(
    email: String,
    first_name: String,
    last_name: String,
    now: DateTime<Utc>,
) -> UserRecord {
    UserRecord {
        user_uuid: Uuid::now_v7(),
        email,
        first_name,
        last_name,
        is_active: true,
        is_tracking_anonymized: false,
        is_marketing_opted_in: false,
        is_setup_complete: true,
        created_at: now,
        updated_at: now,
    }
}

/// The identity domain service.
#[derive(Debug)]
pub struct Identity {
    pub(crate) store: Arc<dyn IdentityStore>,
    pub(crate) hasher: PasswordHasher,
    pub throttles: throttle::Throttles,
    pub(crate) signer: Arc<TokenSigner>,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) settings: Settings,
    /// Password reset lookups and mails under way (`account_safety`).
    resets_in_flight: Arc<tokio::sync::Semaphore>,
}

impl Identity {
    /// Builds the service.
    pub fn new(
        store: Arc<dyn IdentityStore>,
        hasher: PasswordHasher,
        signer: Arc<TokenSigner>,
        mailer: Arc<dyn Mailer>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            hasher,
            throttles: throttle::Throttles::new(&settings),
            signer,
            mailer,
            settings,
            resets_in_flight: Arc::new(tokio::sync::Semaphore::new(
                account_safety::MAX_RESETS_IN_FLIGHT,
            )),
        }
    }

    /// Registers a user with a password and opens their first session.
    pub async fn register(&self, reg: Registration) -> Result<NewSession> {
        let email = validate::email(&reg.email)?;
        let first_name = validate::name("firstName", &reg.first_name)?;
        let last_name = validate::name("lastName", &reg.last_name)?;
        password::check_policy(&reg.password)?;
        // Counted once the request is valid, before the costly hash (AU-6, issue #18).
        let address = reg.client_address.as_deref().unwrap_or("unknown");
        self.admit_registration(address).await?;
        let hash = self.hasher.hash(reg.password).await?;
        let now = Utc::now();
        let user = new_user(email, first_name, last_name, now);
        let (session, token) = self.new_session(user.user_uuid, now);
        let mut insert = self
            .store
            .insert_user_with_session(&user, &hash, &session)
            .await;
        // An invitation that lapsed unused does not keep the address from registering.
        if matches!(insert, Err(StoreError::Conflict))
            && self.reclaim_stale_invitee(&user.email).await?
        {
            insert = self
                .store
                .insert_user_with_session(&user, &hash, &session)
                .await;
        }
        match insert {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(Error::AlreadyExists(
                    "a user with this email already exists".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(user_uuid = %user.user_uuid, "user registered");
        Ok(NewSession {
            user,
            token,
            expires_at: session.expires_at,
        })
    }

    /// Checks an email and password and opens a session. An unknown email, a wrong password
    /// and an inactive user all answer the same error after the same work (AU-7).
    /// An `api_client` gets a refresh token (not usable as a cookie) and an access token.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        client_address: Option<&str>,
        api_client: bool,
    ) -> Result<(NewSession, Option<AccessToken>)> {
        const BAD: Error =
            Error::Unauthenticated(Cow::Borrowed("Email and password not recognized."));
        let email = email.trim().to_lowercase();
        // Without an address (a caller other than the gateway), one shared bucket.
        let address = client_address
            .filter(|a| !a.is_empty() && a.len() <= 64)
            .unwrap_or("unknown");
        // An over-long email cannot be an account: it counts against the address only.
        let account = (email.len() <= validate::MAX_EMAIL_LEN).then_some(email.as_str());
        let now = Utc::now();
        self.admit_login(account, address, now).await?;
        let found = if email.len() <= validate::MAX_EMAIL_LEN {
            self.store.credentials_by_email(&email).await?
        } else {
            None
        };
        let (user, hash) = match found {
            Some(c) => (Some(c.user), c.password_hash),
            None => (None, None),
        };
        // AU-3: a hash made otherwise than today's is replaced once the password verifies.
        let upgrade = hash
            .as_deref()
            .filter(|h| password::needs_rehash(h))
            .map(|h| (h.to_owned(), password.clone()));
        let ok = match self.hasher.verify(password, hash).await {
            // Too busy to judge: not a failure of the caller's (AU-6).
            Err(busy @ Error::ResourceExhausted(_)) => {
                self.login_not_judged(account, address, now).await?;
                return Err(busy);
            }
            other => other?,
        };
        let user = match user {
            Some(u) if ok && u.is_active => u,
            _ => {
                tracing::info!(outcome = "failure", "login refused");
                return Err(BAD);
            }
        };
        self.login_succeeded(&email, address).await?;
        if let Some((old, pw)) = upgrade {
            self.upgrade_hash(user.user_uuid, &old, pw).await;
        }
        let now = Utc::now();
        let prefix = if api_client {
            REFRESH_PREFIX
        } else {
            SESSION_PREFIX
        };
        let (session, token) = self.new_session_with(user.user_uuid, now, prefix);
        self.store.insert_session(&session).await?;
        tracing::info!(outcome = "success", user_uuid = %user.user_uuid, "login");
        let access = if api_client {
            Some(self.session_access_token(&session)?)
        } else {
            None
        };
        Ok((
            NewSession {
                user,
                token,
                expires_at: session.expires_at,
            },
            access,
        ))
    }

    pub(crate) fn new_session(
        &self,
        user_uuid: Uuid,
        now: DateTime<Utc>,
    ) -> (SessionRecord, SecretString) {
        self.new_session_with(user_uuid, now, SESSION_PREFIX)
    }

    fn new_session_with(
        &self,
        user_uuid: Uuid,
        now: DateTime<Utc>,
        prefix: &str,
    ) -> (SessionRecord, SecretString) {
        let token = random_token::<32>(prefix);
        let ttl = chrono::Duration::from_std(self.settings.session_ttl)
            .unwrap_or(chrono::Duration::days(7));
        let session = SessionRecord {
            session_uuid: Uuid::now_v7(),
            user_uuid,
            token_hash: sha256_hex(&token),
            created_at: now,
            expires_at: now + ttl,
        };
        (session, SecretString::from(token))
    }

    /// Exchanges a session token for an access token.
    pub async fn authenticate_session(&self, token: &str) -> Result<AccessToken> {
        const BAD: Error = Error::Unauthenticated(Cow::Borrowed("session not recognised"));
        if !token.starts_with(SESSION_PREFIX) || token.len() > 128 {
            return Err(BAD);
        }
        let session = self
            .store
            .session_by_token_hash(&sha256_hex(token))
            .await?
            .ok_or(BAD)?;
        if session.expires_at <= Utc::now() {
            return Err(BAD);
        }
        self.active_user(session.user_uuid).await.map_err(|_| BAD)?;
        self.session_access_token(&session)
    }

    /// Refreshes an API client's session: its token (the refresh token) is replaced by a new
    /// one, returned with a new access token. The session keeps its absolute expiry. A token
    /// the session had before revokes the session (a replayed refresh token means one of two
    /// holders is a thief).
    pub async fn refresh_session(&self, token: &str) -> Result<(NewSession, AccessToken)> {
        const BAD: Error = Error::Unauthenticated(Cow::Borrowed("refresh token not recognised"));
        if !token.starts_with(REFRESH_PREFIX) || token.len() > 128 {
            return Err(BAD);
        }
        let new = random_token::<32>(REFRESH_PREFIX);
        let session = match self
            .store
            .rotate_session(&sha256_hex(token), &sha256_hex(&new))
            .await?
        {
            SessionRotation::Rotated(s) => s,
            SessionRotation::Reused => {
                tracing::warn!("a replaced refresh token was presented; its session is revoked");
                return Err(BAD);
            }
            SessionRotation::Unknown => return Err(BAD),
        };
        if session.expires_at <= Utc::now() {
            return Err(BAD);
        }
        let user = self.active_user(session.user_uuid).await.map_err(|_| BAD)?;
        let access = self.session_access_token(&session)?;
        tracing::info!(user_uuid = %user.user_uuid, session_uuid = %session.session_uuid, "session refreshed");
        Ok((
            NewSession {
                user,
                token: SecretString::from(new),
                expires_at: session.expires_at,
            },
            access,
        ))
    }

    /// Exchanges a personal access token for an access token. Expired and deleted tokens are
    /// refused; the last-used time is kept (to the minute).
    pub async fn authenticate_pat(&self, token: &str) -> Result<AccessToken> {
        const BAD: Error =
            Error::Unauthenticated(Cow::Borrowed("Personal access token is not recognised"));
        if !token.starts_with(PAT_PREFIX) || token.len() > 128 {
            return Err(BAD);
        }
        let pat = self
            .store
            .pat_by_token_hash(&sha256_hex(token))
            .await?
            .ok_or(BAD)?;
        let now = Utc::now();
        if pat.expires_at.is_some_and(|e| e <= now) {
            return Err(BAD);
        }
        self.active_user(pat.user_uuid).await.map_err(|_| BAD)?;
        if pat
            .last_used_at
            .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
        {
            self.store.touch_pat(pat.pat_uuid, now).await?;
        }
        // The token's level is the highest of its scopes (a stored list is never empty; were it
        // to name nothing known, the least).
        let scope = scope::split(&pat.scopes)
            .into_iter()
            .max()
            .unwrap_or(Scope::Read);
        self.access_token(&TokenRequest {
            user_uuid: pat.user_uuid,
            amr: "pat",
            session_id: None,
            pat_id: Some(pat.pat_uuid),
            pat_version: Some(pat_version(pat.rotated_at)),
            client_id: API_CLIENT_ID,
            scope,
            auth_time: None,
        })
    }

    /// An access token for a session: every scope, and when its user logged in (the session's
    /// start; refreshing does not move it), for the admin actions that need a recent login.
    fn session_access_token(&self, session: &SessionRecord) -> Result<AccessToken> {
        self.access_token(&TokenRequest {
            user_uuid: session.user_uuid,
            amr: "pwd",
            session_id: Some(session.session_uuid),
            pat_id: None,
            pat_version: None,
            client_id: API_CLIENT_ID,
            scope: Scope::Admin,
            auth_time: Some(session.created_at.timestamp()),
        })
    }

    fn access_token(&self, req: &TokenRequest<'_>) -> Result<AccessToken> {
        let user_uuid = req.user_uuid;
        let (token, expires_at) = self
            .signer
            .sign(req)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing failed: {e}")))?;
        Ok(AccessToken {
            user_uuid,
            token: SecretString::from(token),
            expires_at,
        })
    }

    async fn active_user(&self, user_uuid: Uuid) -> Result<UserRecord> {
        match self.store.user(user_uuid).await? {
            Some(u) if u.is_active => Ok(u),
            _ => Err(Error::Unauthenticated("user not found or inactive".into())),
        }
    }

    /// Refuses an access token whose session or personal access token is gone or expired:
    /// logging out, deleting or rotating a token takes effect on the next call (AU-10). And
    /// refuses a user calling from `client` (the call's `x-client-address`) when their account
    /// admits only its allowed IPs and none covers it ([`ip_access`]). One statement reads the
    /// credential and the account's flag; the networks are read only when the flag is on.
    /// An operator's token stands while its operator token is not revoked; no allowed IPs
    /// apply to it.
    pub async fn ensure_live(&self, claims: &AccessClaims, client: Option<&str>) -> Result<()> {
        if claims.is_operator() {
            let id = claims.operator_uuid().ok_or(GONE)?;
            return self.ensure_operator_live(id).await;
        }
        self.current_user(claims, client).await.map(drop)
    }

    /// The user an access token speaks for, once [`Self::ensure_live`]'s checks pass: one
    /// statement reads the user, their membership and the credential.
    pub async fn current_user(
        &self,
        claims: &AccessClaims,
        client: Option<&str>,
    ) -> Result<(UserRecord, Option<MembershipRecord>)> {
        let ids = credential_ids(claims)?;
        let user = caller(claims)?;
        let Some(found) = self.store.user_with_membership(user, ids).await? else {
            return Err(Error::Unauthenticated("user not found or inactive".into()));
        };
        check_live(claims, ids, found.credential, Utc::now())?;
        if !found.user.is_active {
            return Err(Error::Unauthenticated("user not found or inactive".into()));
        }
        if found.require_ip_api_access
            && let Some(m) = &found.membership
        {
            self.ensure_address_allowed(user, m.organization.organization_uuid, client)
                .await?;
        }
        Ok((found.user, found.membership))
    }

    /// Ends the session a session-derived token was issued for.
    pub async fn logout(&self, claims: &AccessClaims) -> Result<()> {
        let user = caller(claims)?;
        if let Some(sid) = claims.sid.as_deref().and_then(|s| Uuid::parse_str(s).ok()) {
            self.store.delete_session(user, sid).await?;
        }
        Ok(())
    }
}

/// Deletes expired sessions, passcodes and invitations, and throttling state older than
/// `keep`, every `every` (they are refused when presented anyway; this keeps the tables from
/// growing without bound, without forgetting a live limit).
pub fn spawn_purge(
    store: Arc<dyn IdentityStore>,
    every: Duration,
    keep: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(1));
    tokio::spawn(async move {
        loop {
            match store.purge_expired(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "expired credentials purged"),
                Err(e) => {
                    tracing::warn!(error = ?e, "purging expired credentials failed; will retry")
                }
            }
            if let Err(e) = store.prune_limits(Utc::now() - keep).await {
                tracing::warn!(error = ?e, "pruning throttling state failed; will retry");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

pub(crate) fn caller(claims: &AccessClaims) -> Result<Uuid> {
    claims
        .user_uuid()
        .map_err(|_| Error::Unauthenticated("invalid access token".into()))
}

const GONE: Error = Error::Unauthenticated(Cow::Borrowed(
    "the credential behind this token was revoked",
));

/// The session and personal access token an access token names.
fn credential_ids(claims: &AccessClaims) -> Result<CredentialIds> {
    let parse = |id: Option<&str>| id.map(|v| Uuid::parse_str(v).map_err(|_| GONE)).transpose();
    Ok(CredentialIds {
        session: parse(claims.sid.as_deref())?,
        pat: parse(claims.pat.as_deref())?,
    })
}

/// Whether the credentials an access token was issued for still stand at `now`: the session
/// exists and has not expired; the personal access token exists, has not expired and was not
/// rotated after the token was issued.
fn check_live(
    claims: &AccessClaims,
    ids: CredentialIds,
    state: CredentialState,
    now: DateTime<Utc>,
) -> Result<()> {
    if ids.session.is_some() && state.session_expires_at.is_none_or(|e| e <= now) {
        return Err(GONE);
    }
    if ids.pat.is_some()
        && !state.pat.is_some_and(|p| {
            p.expires_at.is_none_or(|e| e > now)
                && match claims.pat_v {
                    // The secret the token was issued for is still the token's secret.
                    Some(v) => pat_version(p.rotated_at) == v,
                    // A token signed before versions were carried (it lives 15 minutes at most):
                    // by its issue time, which counts whole seconds.
                    None => p.rotated_at.is_none_or(|r| r.timestamp() <= claims.iat),
                }
        })
    {
        return Err(GONE);
    }
    Ok(())
}

/// The version of a personal access token's secret: its last rotation in Unix microseconds (the
/// precision both stores keep), 0 if it was never rotated.
fn pat_version(rotated_at: Option<DateTime<Utc>>) -> i64 {
    rotated_at.map_or(0, |r| r.timestamp_micros())
}

#[cfg(test)]
mod busy_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PatState;

    fn claims_for_pat(pat: Uuid, signed_at: DateTime<Utc>) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            sub: Uuid::now_v7().to_string(),
            aud: "a".into(),
            exp: signed_at.timestamp() + 900,
            nbf: signed_at.timestamp(),
            iat: signed_at.timestamp(),
            jti: Uuid::now_v7().to_string(),
            client_id: "c".into(),
            amr: vec!["pat".into()],
            sid: None,
            pat: Some(pat.to_string()),
            pat_v: None,
            opr: None,
            scope: None,
            auth_time: None,
        }
    }

    /// AU-9: a rotation refuses every access token issued for the secret it replaced: by the
    /// secret's version when the token carries it, else by its issue time.
    #[test]
    fn a_rotation_refuses_the_tokens_signed_before_it() {
        let pat = Uuid::now_v7();
        let signed = DateTime::parse_from_rfc3339("2026-11-26T12:00:00.300Z")
            .unwrap()
            .with_timezone(&Utc);
        let claims = claims_for_pat(pat, signed);
        let ids = credential_ids(&claims).unwrap();
        let state = |rotated_at: Option<DateTime<Utc>>| CredentialState {
            session_expires_at: None,
            pat: Some(PatState {
                expires_at: None,
                rotated_at,
            }),
        };
        let ms = chrono::Duration::milliseconds;
        let now = signed + ms(1000);
        assert!(check_live(&claims, ids, state(None), now).is_ok());
        assert!(check_live(&claims, ids, state(Some(signed - ms(5))), now).is_ok());
        assert!(
            check_live(&claims, ids, state(Some(signed + ms(700))), now).is_err(),
            "rotated in the second after the token's"
        );

        // A token that names its secret's version stands exactly as long as that secret does,
        // whatever the clocks say: a rotation that committed after the secret was checked but
        // stamped its time before the token was signed still refuses it.
        let before = signed - ms(20);
        let versioned = AccessClaims {
            pat_v: Some(pat_version(Some(before))),
            ..claims.clone()
        };
        assert!(check_live(&versioned, ids, state(Some(before)), now).is_ok());
        assert!(check_live(&versioned, ids, state(Some(before + ms(1))), now).is_err());
        assert!(check_live(&versioned, ids, state(None), now).is_err());
        let never_rotated = AccessClaims {
            pat_v: Some(0),
            ..claims.clone()
        };
        assert!(check_live(&never_rotated, ids, state(None), now).is_ok());
        assert!(check_live(&never_rotated, ids, state(Some(signed - ms(500))), now).is_err());
        assert!(
            check_live(&claims, ids, CredentialState::default(), now).is_err(),
            "deleted"
        );
        let expired = CredentialState {
            session_expires_at: None,
            pat: Some(PatState {
                expires_at: Some(now),
                rotated_at: None,
            }),
        };
        assert!(check_live(&claims, ids, expired, now).is_err(), "expired");
    }
}
