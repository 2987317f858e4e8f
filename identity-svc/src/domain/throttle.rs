//! Login throttling (checklist AU-6): failed logins are counted per account and per client
//! address in a fixed window; past the limit, further attempts answer RESOURCE_EXHAUSTED (429)
//! until the window ends. A success clears the account's count. The lockout is soft (it ends by
//! itself), so it cannot lock a user out for good. Counters live in the process: with several
//! replicas each enforces its own share.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Limits of the throttle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per account within `window`.
    pub per_account: u32,
    /// Failures allowed per client address within `window`.
    pub per_address: u32,
    /// Length of the counting window.
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

const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
struct Counters(HashMap<String, (u32, Instant)>);

impl Counters {
    fn count(&self, key: &str, window: Duration) -> u32 {
        match self.0.get(key) {
            Some((n, start)) if start.elapsed() < window => *n,
            _ => 0,
        }
    }

    fn add(&mut self, key: &str, window: Duration) {
        if self.0.len() >= MAX_KEYS {
            self.0.retain(|_, (_, start)| start.elapsed() < window);
        }
        let entry = self.0.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// Counts failed logins.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: Limits,
    accounts: Mutex<Counters>,
    addresses: Mutex<Counters>,
}

impl LoginThrottle {
    /// A throttle with `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Whether another attempt for `account` from `address` may proceed.
    pub fn allows(&self, account: &str, address: Option<&str>) -> bool {
        let w = self.limits.window;
        let account_ok = self
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count(account, w)
            < self.limits.per_account;
        let address_ok = address.is_none_or(|a| {
            self.addresses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .count(a, w)
                < self.limits.per_address
        });
        account_ok && address_ok
    }

    /// Records a failed attempt.
    pub fn failed(&self, account: &str, address: Option<&str>) {
        let w = self.limits.window;
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(account, w);
        if let Some(a) = address {
            self.addresses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(a, w);
        }
    }

    /// Records a success: the account's failures are forgotten.
    pub fn succeeded(&self, account: &str) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_apply_per_account_and_per_address_and_expire() {
        let t = LoginThrottle::new(Limits {
            per_account: 2,
            per_address: 3,
            window: Duration::from_millis(200),
        });
        t.failed("a", Some("1.1.1.1"));
        t.failed("a", Some("1.1.1.1"));
        assert!(
            !t.allows("a", Some("2.2.2.2")),
            "the account is throttled from anywhere"
        );
        assert!(t.allows("b", Some("1.1.1.1")));
        t.failed("b", Some("1.1.1.1"));
        assert!(
            !t.allows("c", Some("1.1.1.1")),
            "the address is throttled for any account"
        );
        assert!(t.allows("c", Some("3.3.3.3")));
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.allows("a", Some("1.1.1.1")), "the lockout ends by itself");
        t.failed("d", None);
        t.succeeded("d");
        assert!(t.allows("d", None));
    }
}
