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
            if self.0.len() >= MAX_KEYS {
                // Memory is bounded before throttling is: forget everything rather than grow.
                tracing::warn!(keys = self.0.len(), "throttle full; counters reset");
                self.0.clear();
            }
        }
        let entry = self.0.entry(key.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    fn remove_one(&mut self, key: &str) {
        if let Some(entry) = self.0.get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
    }
}

/// Counts login attempts that did not succeed.
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

    /// Admits an attempt for `account` from `address` when both are under their limits, and
    /// counts it at once (so a burst of parallel attempts cannot slip past the limit); a
    /// success takes it back with [`Self::succeeded`].
    pub fn admit(&self, account: Option<&str>, address: Option<&str>) -> bool {
        let w = self.limits.window;
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
        let account_ok = account.is_none_or(|a| accounts.count(a, w) < self.limits.per_account);
        let address_ok = address.is_none_or(|a| addresses.count(a, w) < self.limits.per_address);
        if !(account_ok && address_ok) {
            return false;
        }
        if let Some(a) = account {
            accounts.add(a, w);
        }
        if let Some(a) = address {
            addresses.add(a, w);
        }
        true
    }

    /// Records a success: the account's count is forgotten, the address's attempt taken back.
    pub fn succeeded(&self, account: &str, address: Option<&str>) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .remove(account);
        if let Some(a) = address {
            self.addresses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove_one(a);
        }
    }
}

/// A fixed-window rate limit on one kind of request (invitations per organization): at most
/// `limit` admitted per key within `window`. Like the login throttle it
/// lives in the process; with several replicas each admits its own share.
#[derive(Debug)]
pub struct RateLimit {
    limit: u32,
    window: Duration,
    counters: Mutex<Counters>,
}

impl RateLimit {
    /// At most `limit` per key per `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            counters: Mutex::default(),
        }
    }

    /// Admits and counts one request for `key`, or refuses it when the key is at its limit.
    pub fn admit(&self, key: &str) -> bool {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if c.count(key, self.window) >= self.limit {
            return false;
        }
        c.add(key, self.window);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_admits_its_limit_per_key_per_window() {
        let r = RateLimit::new(2, Duration::from_millis(200));
        assert!(r.admit("org-a") && r.admit("org-a"));
        assert!(!r.admit("org-a"), "the third in the window is refused");
        assert!(r.admit("org-b"), "keys are counted apart");
        std::thread::sleep(Duration::from_millis(250));
        assert!(r.admit("org-a"), "a new window admits again");
    }

    #[test]
    fn limits_apply_per_account_and_per_address_and_expire() {
        let t = LoginThrottle::new(Limits {
            per_account: 2,
            per_address: 3,
            window: Duration::from_millis(200),
        });
        assert!(t.admit(Some("a"), Some("1.1.1.1")));
        assert!(t.admit(Some("a"), Some("1.1.1.1")));
        assert!(
            !t.admit(Some("a"), Some("2.2.2.2")),
            "the account is throttled from anywhere"
        );
        assert!(t.admit(Some("b"), Some("1.1.1.1")));
        assert!(
            !t.admit(Some("c"), Some("1.1.1.1")),
            "the address is throttled for any account"
        );
        assert!(t.admit(Some("c"), Some("3.3.3.3")));
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            t.admit(Some("a"), Some("1.1.1.1")),
            "the lockout ends by itself"
        );
        assert!(t.admit(Some("d"), None));
        t.succeeded("d", None);
        assert!(
            t.admit(Some("d"), None) && t.admit(Some("d"), None),
            "a success clears the account"
        );
    }

    #[test]
    fn parallel_attempts_are_counted_when_admitted() {
        let t = LoginThrottle::new(Limits {
            per_account: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        });
        let admitted = (0..10).filter(|_| t.admit(Some("a"), None)).count();
        assert_eq!(admitted, 3);
    }
}
