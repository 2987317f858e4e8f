//! Email verification with one-time passcodes, and joining an organization by verified email
//! domain (Lightdash's `/user/me/email/*`, `/user/me/allowedOrganizations` and
//! `/user/me/joinOrganization`).
//!
//! A passcode is 6 random digits, mailed to the user's primary email; only its SHA-256 (bound
//! to the user) is stored. It expires after `passcode_ttl`, allows `max_passcode_attempts`
//! tries counted atomically in the database (a wrong guess and a right one both count), and
//! works once: success marks the email verified and deletes the passcode. Creating passcodes
//! is rate limited per user; a new one replaces the old.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use service_kit::jwt::AccessClaims;
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use super::{Identity, caller};
use crate::{
    error::{Error, Result},
    mail::Mail,
    store::{AllowedOrganization, JoinOutcome, PasscodeRecord},
};

/// Digits in a passcode.
pub const PASSCODE_DIGITS: usize = 6;

/// A pending passcode as the user may see it (never the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasscodeStatus {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i64,
    pub is_expired: bool,
    pub is_max_attempts: bool,
}

/// Whether the user's primary email is verified, and their pending passcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailStatus {
    pub email: String,
    pub is_verified: bool,
    pub otp: Option<PasscodeStatus>,
}

/// The stored form of a passcode: HMAC-SHA-256 under a key that is not in the database (six
/// digits hashed without a secret would fall to a million guesses from a dump), bound to the user.
fn passcode_hash(key: &PasscodeKey, user: Uuid, passcode: &str) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.bytes())
        .expect("HMAC takes keys of any length");
    mac.update(format!("email-passcode:{user}:{passcode}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The key of passcode hashes. Debug output never shows it.
#[derive(Clone)]
pub struct PasscodeKey([u8; 32]);

impl PasscodeKey {
    /// The key derived from a secret every replica shares (identity-svc's own service
    /// credential, which no other part holds), so that a passcode sent by one replica verifies
    /// on another.
    pub fn derive(secret: &str) -> Self {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(b"platform/identity/email-passcode-key/v1\0");
        h.update(secret.as_bytes());
        Self(h.finalize().into())
    }

    /// A random key (tests and the defaults).
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).expect("the OS random source works");
        Self(k)
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for PasscodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasscodeKey([REDACTED])")
    }
}

fn new_passcode() -> Result<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)
        .map_err(|e| Error::Internal(anyhow::anyhow!("no randomness for a passcode: {e}")))?;
    // 2^64 mod 10^6 is negligible next to 2^64: the digits are uniform for every purpose here.
    Ok(format!("{:06}", u64::from_le_bytes(b) % 1_000_000))
}

/// The email domain of an address (after the last `@`), lower-cased, when it is a host name
/// an organization could allow.
fn domain_of(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .and_then(|(_, d)| super::organizations::email_domain(d).ok())
}

impl Identity {
    /// The user's email, the email they verified and their pending passcode.
    async fn email_of(
        &self,
        user: Uuid,
    ) -> Result<(String, Option<String>, Option<PasscodeRecord>)> {
        self.store
            .email_status(user)
            .await?
            .ok_or(Error::Unauthenticated("user not found or inactive".into()))
    }

    fn status(
        &self,
        p: Option<PasscodeRecord>,
        email: String,
        verified: Option<String>,
    ) -> EmailStatus {
        let now = Utc::now();
        let max = self.settings.max_passcode_attempts;
        let is_verified = verified.as_deref() == Some(email.as_str());
        let otp = p
            .filter(|p| !is_verified && p.email == email)
            .map(|p| PasscodeStatus {
                created_at: p.created_at,
                expires_at: p.expires_at,
                attempts: p.attempts,
                is_expired: p.expires_at <= now,
                is_max_attempts: p.attempts >= max,
            });
        EmailStatus {
            email,
            is_verified,
            otp,
        }
    }

    /// The verification status of the caller's primary email. With a `passcode`, it is
    /// checked first: when it matches a live passcode with attempts left the email becomes
    /// verified; otherwise the attempt is counted and the status says so (a wrong passcode is
    /// not an error, as in Lightdash).
    pub async fn email_status(
        &self,
        claims: &AccessClaims,
        passcode: Option<&str>,
    ) -> Result<EmailStatus> {
        let user = caller(claims)?;
        if let Some(code) = passcode {
            let code = code.trim();
            if code.len() != PASSCODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::InvalidArgument(
                    format!("passcode must be {PASSCODE_DIGITS} digits").into(),
                ));
            }
            let now = Utc::now();
            // Counts the attempt atomically; nothing when there is no live passcode with
            // attempts left.
            if let Some(p) = self
                .store
                .attempt_passcode(user, now, self.settings.max_passcode_attempts)
                .await?
            {
                // Attempts on one address are bounded whoever makes them and whatever
                // passcode they aim at (issue #18): past the limit, not even a right guess is
                // judged.
                self.limit(
                    &self.throttles.passcode_address,
                    &p.email,
                    "Too many passcode attempts for this address; try again later",
                )
                .await?;
                let matches: bool = passcode_hash(&self.settings.passcode_key, user, code)
                    .as_bytes()
                    .ct_eq(p.passcode_hash.as_bytes())
                    .into();
                if matches && self.store.verify_email(user, &p.email).await? {
                    tracing::info!(user_uuid = %user, "email verified");
                } else {
                    tracing::info!(user_uuid = %user, attempts = p.attempts, "wrong email passcode");
                }
            }
        }
        let (email, verified, p) = self.email_of(user).await?;
        Ok(self.status(p, email, verified))
    }

    /// Mails a new passcode to the caller's primary email (replacing any pending one).
    pub async fn send_email_passcode(&self, claims: &AccessClaims) -> Result<EmailStatus> {
        let user = caller(claims)?;
        let (email, verified, _) = self.email_of(user).await?;
        if verified.as_deref() == Some(email.as_str()) {
            return Err(Error::FailedPrecondition(
                "Your email is already verified".into(),
            ));
        }
        let code = new_passcode()?;
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.settings.passcode_ttl)
            .unwrap_or(chrono::Duration::minutes(15));
        let record = PasscodeRecord {
            user_uuid: user,
            email: email.clone(),
            passcode_hash: passcode_hash(&self.settings.passcode_key, user, &code),
            attempts: 0,
            created_at: now,
            expires_at: now + ttl,
        };
        let window_start = now - chrono::Duration::hours(1);
        let limit = i64::from(self.settings.passcodes_per_hour);
        if !self
            .store
            .put_passcode(&record, limit, window_start)
            .await?
        {
            return Err(Error::ResourceExhausted(
                "Too many passcodes requested; try again later".into(),
            ));
        }
        let minutes = ttl.num_minutes().max(1);
        let sent = self
            .mailer
            .send(Mail {
                to: email.clone(),
                subject: "Your verification code".into(),
                body: format!(
                    "Your verification code is {code}\r\n\r\nIt expires in {minutes} minutes and works once.\r\n\
                     If you did not ask for it, you can ignore this message.\r\n"
                ),
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(user_uuid = %user, error = %e, "verification email not sent");
            return Err(Error::Unavailable(
                "The verification email could not be sent; try again later".into(),
            ));
        }
        tracing::info!(user_uuid = %user, "verification passcode sent");
        Ok(self.status(Some(record), email, verified))
    }

    /// Organizations the caller may join: those allowing their verified email's domain. Empty
    /// while their email is unverified or when they belong to an organization already.
    pub async fn allowed_organizations(
        &self,
        claims: &AccessClaims,
    ) -> Result<Vec<AllowedOrganization>> {
        let user = caller(claims)?;
        let (email, verified, _) = self.email_of(user).await?;
        if verified.as_deref() != Some(email.as_str())
            || self.store.membership(user).await?.is_some()
        {
            return Ok(Vec::new());
        }
        let Some(domain) = domain_of(&email) else {
            return Ok(Vec::new());
        };
        Ok(self.store.allowed_organizations(&domain).await?)
    }

    /// Joins an organization that allows the caller's verified email domain, with the role it
    /// grants. An organization that does not allow them answers NOT_FOUND like one that does not
    /// exist (AC-8).
    pub async fn join_organization(
        &self,
        claims: &AccessClaims,
        organization_uuid: &str,
    ) -> Result<()> {
        const NOT_FOUND: Error = Error::NotFound(Cow::Borrowed("organization not found"));
        let user = caller(claims)?;
        let org = Uuid::parse_str(organization_uuid).map_err(|_| NOT_FOUND)?;
        let (email, verified, _) = self.email_of(user).await?;
        if verified.as_deref() != Some(email.as_str()) {
            return Err(Error::PermissionDenied(
                "Verify your email address before joining an organization".into(),
            ));
        }
        let domain = domain_of(&email).ok_or(NOT_FOUND)?;
        match self
            .store
            .join_organization(user, org, &email, &domain, Utc::now())
            .await?
        {
            JoinOutcome::Joined(role) => {
                tracing::info!(user_uuid = %user, organization_uuid = %org, role = role.as_str(), "joined organization by email domain");
                Ok(())
            }
            JoinOutcome::NotAllowed => Err(NOT_FOUND),
            JoinOutcome::AlreadyMember => Err(Error::AlreadyExists(
                "You already belong to an organization".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passcodes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..50).map(|_| new_passcode().unwrap()).collect();
        assert!(codes.len() > 45, "random: {codes:?}");
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
    }

    #[test]
    fn a_passcode_hash_is_bound_to_its_user() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let key = PasscodeKey::random();
        assert_ne!(
            passcode_hash(&key, a, "123456"),
            passcode_hash(&key, b, "123456")
        );
        assert_ne!(
            passcode_hash(&key, a, "123456"),
            passcode_hash(&key, a, "123457")
        );
        assert_ne!(
            passcode_hash(&key, a, "123456"),
            passcode_hash(&PasscodeKey::random(), a, "123456"),
            "keyed"
        );
        assert_eq!(
            passcode_hash(&PasscodeKey::derive("s"), a, "1"),
            passcode_hash(&PasscodeKey::derive("s"), a, "1"),
            "replicas sharing the secret agree"
        );
        assert_eq!(format!("{key:?}"), "PasscodeKey([REDACTED])");
    }

    #[test]
    fn domains_come_after_the_last_at() {
        assert_eq!(domain_of("Ann@Example.COM").as_deref(), Some("example.com"));
        assert_eq!(domain_of("\"a@b\"@c.org").as_deref(), Some("c.org"));
        assert_eq!(domain_of("nodomain@"), None);
        assert_eq!(domain_of("a@[127.0.0.1]"), None);
        assert_eq!(domain_of("a@ex_ample.com"), None);
    }
}
