//! Throttling that is not a lockout (checklist AU-6, issue #18), kept in the database so that
//! every replica counts against the same limits:
//!
//! - **Logins**: failures are counted per (account, client address) pair. The first
//!   `per_account` failures of a pair are free; each further attempt from that pair must wait
//!   1 s, then 2 s, 4 s, … up to 15 minutes. An attacker elsewhere never delays the account's
//!   owner, whose address is another pair. An attempt is counted before the password is
//!   checked (a burst cannot slip past a wait) and taken back when it succeeds, or when the
//!   hashing pool was too busy to judge it. Failures are forgotten a day after the last one.
//!   Each client address also has `per_address` attempts (across accounts, successes taken
//!   back) per `window`: credential stuffing from one address stops there.
//! - **Registrations**: per client address and in all, per hour.
//! - **Email passcode attempts**: per target address, per day (a passcode also dies after
//!   its own attempts, whoever tries).
//! - **Invitations**: per inviting organization, per hour.
//! - **Password reset requests**: per client address and per email address, per hour
//!   (counted whether or not the address has an account).
//!
//! A refusal is RESOURCE_EXHAUSTED with the wait (`Retry-After`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::limits::{Hit, Limit};

use super::Identity;
use crate::{
    error::{Error, Result},
    store::LoginAdmission,
};

/// Limits of login attempts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures of one account from one client address before each attempt must wait.
    pub per_account: u32,
    /// Attempts from one client address (across accounts, successes not counted) per
    /// `window`.
    pub per_address: u32,
    /// The window of `per_address`.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_account: 10,
            per_address: 50,
            window: Duration::from_secs(300),
        }
    }
}

/// The longest a pair waits between attempts.
pub const MAX_LOGIN_WAIT: Duration = Duration::from_secs(15 * 60);
/// How long a pair's failures are remembered after the last one.
pub const FORGET_FAILURES_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Email passcode attempts accepted per target address per day (across passcodes and users).
pub const PASSCODE_ATTEMPTS_PER_ADDRESS_PER_DAY: i64 = 20;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// The wait imposed after `failures` failures of a pair, `free` of them free: 0, then 1 s,
/// doubling, up to [`MAX_LOGIN_WAIT`].
pub fn login_delay(free: u32, failures: i64) -> Duration {
    let beyond = failures - i64::from(free);
    if beyond <= 0 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(beyond - 1).unwrap_or(u32::MAX).min(20);
    Duration::from_secs(1u64 << exp).min(MAX_LOGIN_WAIT)
}

/// The limits of the kinds of request identity-svc throttles, from its settings.
#[derive(Debug, Clone, Copy)]
pub struct Throttles {
    pub login: Limits,
    pub login_address: Limit,
    pub register_address: Limit,
    pub register_all: Limit,
    pub passcode_address: Limit,
    pub invitations: Limit,
    pub reset_address: Limit,
    pub reset_email: Limit,
}

impl Throttles {
    /// The throttles the settings ask for.
    pub fn new(settings: &super::Settings) -> Self {
        let hourly = |scope, limit: u32| Limit {
            scope,
            limit: i64::from(limit),
            window: HOUR,
        };
        let login = settings.login_limits;
        Self {
            login,
            login_address: Limit {
                scope: "login_address",
                limit: i64::from(login.per_address),
                window: login.window,
            },
            register_address: hourly(
                "register_address",
                settings.registrations_per_address_per_hour,
            ),
            register_all: hourly("register", settings.registrations_per_hour),
            passcode_address: Limit {
                scope: "passcode_address",
                limit: PASSCODE_ATTEMPTS_PER_ADDRESS_PER_DAY,
                window: DAY,
            },
            invitations: hourly("invitations", settings.invitations_per_hour),
            reset_address: hourly(
                "password_reset_address",
                settings.password_resets_per_address_per_hour,
            ),
            reset_email: hourly("password_reset_email", settings.password_resets_per_hour),
        }
    }

    /// The longest window: older state can be pruned.
    pub fn longest(&self) -> Duration {
        [
            self.login.window,
            HOUR,
            DAY,
            FORGET_FAILURES_AFTER,
            MAX_LOGIN_WAIT,
        ]
        .into_iter()
        .max()
        .unwrap_or(DAY)
    }
}

fn throttled(message: &'static str, wait: Duration) -> Error {
    Error::Throttled {
        message: message.into(),
        retry_after: wait,
    }
}

impl Identity {
    /// Counts a hit of `limit` for `key`; RESOURCE_EXHAUSTED with `message` and the wait when
    /// it is over.
    pub(crate) async fn limit(
        &self,
        limit: &Limit,
        key: &str,
        message: &'static str,
    ) -> Result<()> {
        match self.store.hit(limit, key, Utc::now()).await? {
            Hit::Admitted => Ok(()),
            Hit::Refused(wait) => {
                tracing::info!(scope = limit.scope, "throttled");
                Err(throttled(message, wait))
            }
        }
    }

    /// Admits a login attempt of `account` (None: no account could have this name) from
    /// `address`, counting it as a failure until [`Self::login_succeeded`].
    pub(super) async fn admit_login(
        &self,
        account: Option<&str>,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        const MESSAGE: &str = "Too many failed login attempts; try again later";
        let t = self.throttles;
        if let Hit::Refused(wait) = self.store.hit(&t.login_address, address, now).await? {
            tracing::info!(outcome = "throttled", "login refused");
            return Err(throttled(MESSAGE, wait));
        }
        let Some(account) = account else {
            return Ok(());
        };
        let forget = chrono::Duration::from_std(FORGET_FAILURES_AFTER).unwrap_or_default();
        let free = t.login.per_account;
        let delay = move |failures: i64| login_delay(free, failures);
        match self
            .store
            .admit_login(account, address, now, now - forget, &delay)
            .await?
        {
            LoginAdmission::Admitted { .. } => Ok(()),
            LoginAdmission::Wait(wait) => {
                // The address's hit is not the pair's fault: only judged attempts count.
                self.store.take_back(&t.login_address, address).await?;
                tracing::info!(outcome = "throttled", "login refused");
                Err(throttled(MESSAGE, wait))
            }
        }
    }

    /// Takes an admitted attempt back: it was not judged (the hashing pool was busy).
    pub(super) async fn login_not_judged(
        &self,
        account: Option<&str>,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.store
            .take_back(&self.throttles.login_address, address)
            .await?;
        if let Some(account) = account {
            self.store.login_not_judged(account, address, now).await?;
        }
        Ok(())
    }

    /// Forgets the pair's failures and takes the address's attempt back.
    pub(super) async fn login_succeeded(&self, account: &str, address: &str) -> Result<()> {
        self.store
            .take_back(&self.throttles.login_address, address)
            .await?;
        Ok(self.store.login_succeeded(account, address).await?)
    }

    /// Counts an open registration from `address` against its hourly limits.
    pub(super) async fn admit_registration(&self, address: &str) -> Result<()> {
        const MESSAGE: &str = "Too many registrations; try again later";
        let t = self.throttles;
        self.limit(&t.register_address, address, MESSAGE).await?;
        self.limit(&t.register_all, "", MESSAGE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_start_after_the_free_failures_and_double_up_to_the_cap() {
        let d = |f| login_delay(3, f).as_secs();
        assert_eq!([d(0), d(1), d(3)], [0, 0, 0]);
        assert_eq!([d(4), d(5), d(6), d(7)], [1, 2, 4, 8]);
        assert_eq!(d(14), 900, "capped at 15 minutes");
        assert_eq!(d(i64::MAX), 900);
    }
}
