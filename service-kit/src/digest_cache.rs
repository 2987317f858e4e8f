//! A bounded, expiring map keyed by the SHA-256 digest of a secret: what a verifier or the
//! gateway remembers about a credential it has already checked, without keeping the credential.
//!
//! Hand-written rather than taken from a cache crate: the two users need a digest key, a
//! deadline per entry and a hard bound, and nothing else (no LRU order, no loader, no
//! background task), which is a few lines over a `HashMap`.
//!
//! When full, an insert first drops the expired entries and, if that frees less than an eighth of
//! the room, empties the map: a flood of distinct credentials costs their re-verification, never
//! unbounded memory, and a full map is scanned at most once per eighth of its size in inserts.

use std::{
    collections::HashMap,
    fmt,
    sync::{PoisonError, RwLock},
    time::Instant,
};

use sha2::{Digest, Sha256};

/// The SHA-256 digest of `parts`, each prefixed by its length (so `("ab","c")` and
/// `("a","bc")` differ).
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// A map from a digest to a value that expires at its own deadline, holding at most
/// `capacity` entries.
pub struct DigestCache<V> {
    map: RwLock<HashMap<[u8; 32], (V, Instant), foldhash::fast::RandomState>>,
    capacity: usize,
}

impl<V> fmt::Debug for DigestCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the values: they may be credentials.
        f.debug_struct("DigestCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<V> DigestCache<V> {
    /// How many entries are held (expired ones included, until an insert drops them).
    pub fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V: Clone> DigestCache<V> {
    /// An empty cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            map: RwLock::new(HashMap::default()),
            capacity: capacity.max(1),
        }
    }

    /// The value under `key`, unless it expired by `now`.
    pub fn get(&self, key: &[u8; 32], now: Instant) -> Option<V> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        match map.get(key) {
            Some((v, until)) if *until > now => Some(v.clone()),
            _ => None,
        }
    }

    /// Keeps `value` under `key` until `until`. A deadline already past is not kept.
    pub fn insert(&self, key: [u8; 32], value: V, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, (_, u)| *u > now);
            if map.len() > self.capacity - self.capacity.div_ceil(8) {
                map.clear();
            }
        }
        map.insert(key, (value, until));
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &[u8; 32]) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn entries_expire_at_their_deadline() {
        let c = DigestCache::new(4);
        let now = Instant::now();
        let k = digest(&[b"token"]);
        c.insert(k, 1, now + Duration::from_secs(10), now);
        assert_eq!(c.get(&k, now), Some(1));
        assert_eq!(c.get(&k, now + Duration::from_secs(9)), Some(1));
        assert_eq!(c.get(&k, now + Duration::from_secs(10)), None);
        c.insert(digest(&[b"past"]), 2, now, now);
        assert_eq!(c.len(), 1, "an entry born expired is not kept");
        c.remove(&k);
        assert_eq!(c.get(&k, now), None);
    }

    #[test]
    fn the_bound_holds_and_expired_entries_go_first() {
        let c = DigestCache::new(8);
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        let later = now + Duration::from_secs(100);
        let key = |i: u8| digest(&[&[i]]);
        c.insert(key(0), 0, soon, now);
        for i in 1..8 {
            c.insert(key(i), i, later, now);
        }
        // Full; entry 0 has expired by then, so only it goes (an eighth of the room).
        let then = now + Duration::from_secs(2);
        c.insert(key(8), 8, later, then);
        assert_eq!(c.len(), 8);
        assert_eq!(c.get(&key(1), then), Some(1));
        assert_eq!(c.get(&key(8), then), Some(8));
        // Full of live entries: the map is emptied rather than grown.
        c.insert(digest(&[b"e"]), 5, later, then);
        assert_eq!(c.len(), 1);
        assert_eq!(c.get(&digest(&[b"e"]), then), Some(5));
        // Replacing a held key never evicts.
        c.insert(digest(&[b"e"]), 6, later, then);
        assert_eq!(c.get(&digest(&[b"e"]), then), Some(6));
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
        assert_eq!(digest(&[b"ab", b"c"]), digest(&[b"ab", b"c"]));
    }

    #[test]
    fn debug_output_shows_no_value() {
        let c = DigestCache::new(2);
        let now = Instant::now();
        c.insert(
            digest(&[b"k"]),
            "canary-secret",
            now + Duration::from_secs(5),
            now,
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("canary-secret"), "{shown}");
        assert!(shown.contains("len: 1"), "{shown}");
    }
}
