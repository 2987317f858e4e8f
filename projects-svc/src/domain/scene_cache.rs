//! A project's spaces and their direct grants, kept in memory between requests.
//!
//! Listing the spaces of a project decides every space of it, so each request needs all of
//! them with their grants: at 10,000 spaces, reading them is most of a listing's cost. They are
//! kept here under the project's `spaces_version`, which database triggers move in the
//! transaction of every change to the project's spaces or their grants, whoever makes it (the
//! API, an event's cascade, a resynchronization; migration 20261125000008). A request reads the
//! project row (and so its version) first and reuses the entry only when the versions are
//! equal; otherwise it reads the spaces again and keeps them. As the version is read before the
//! spaces, what is kept is never older than its version says, and each replica sees any change,
//! made by any replica, on its next request.
//!
//! What identity-svc owns (roles, groups, memberships) is not kept here: it is asked for on every
//! request, so a revoked role or group membership stops working at once. Nor are the project's
//! own grants (two small queries per request).
//!
//! The cache holds at most a configured number of rows (spaces plus grants) and drops the least
//! recently used projects first; a project larger than the whole budget is read every time.
//! A bounded LRU of whole projects is a few lines: the concurrent cache crates split the budget
//! into shards, so one large project (the case this is for) would not fit in one.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, PoisonError},
};

use uuid::Uuid;

use crate::store::{SpaceGrantRecord, SpaceRecord};

/// A project's spaces and every direct grant on them.
#[derive(Debug, Default)]
pub struct Spaces {
    pub spaces: HashMap<Uuid, SpaceRecord>,
    /// The spaces' ids in the store's order (by name).
    pub order: Vec<Uuid>,
    /// Direct user grants, by space.
    pub user_grants: HashMap<Uuid, Vec<SpaceGrantRecord>>,
    /// Direct group grants, by space.
    pub group_grants: HashMap<Uuid, Vec<SpaceGrantRecord>>,
    rows: usize,
}

fn by_space(grants: Vec<SpaceGrantRecord>) -> HashMap<Uuid, Vec<SpaceGrantRecord>> {
    let mut map: HashMap<Uuid, Vec<SpaceGrantRecord>> = HashMap::new();
    for g in grants {
        map.entry(g.space_uuid).or_default().push(g);
    }
    map
}

impl Spaces {
    /// From the store's rows (spaces in order, user grants, group grants).
    pub fn new(
        spaces: Vec<SpaceRecord>,
        user_grants: Vec<SpaceGrantRecord>,
        group_grants: Vec<SpaceGrantRecord>,
    ) -> Self {
        let rows = spaces.len() + user_grants.len() + group_grants.len();
        Self {
            order: spaces.iter().map(|s| s.space_uuid).collect(),
            spaces: spaces.into_iter().map(|s| (s.space_uuid, s)).collect(),
            user_grants: by_space(user_grants),
            group_grants: by_space(group_grants),
            rows,
        }
    }

    /// Spaces plus grants: what the cache's budget counts (at least 1).
    pub fn rows(&self) -> usize {
        self.rows.max(1)
    }
}

/// The cache (one per process).
#[derive(Debug)]
pub struct SpacesCache {
    max_rows: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    /// Last use -> project: the least recently used first.
    lru: BTreeMap<u64, Uuid>,
    rows: usize,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    version: i64,
    spaces: Arc<Spaces>,
    used: u64,
}

impl Inner {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, project: Uuid) {
        if let Some(e) = self.entries.remove(&project) {
            self.lru.remove(&e.used);
            self.rows -= e.spaces.rows();
        }
    }
}

impl SpacesCache {
    /// A cache of at most `max_rows` spaces and grants; 0 keeps nothing.
    pub fn new(max_rows: usize) -> Self {
        Self {
            max_rows,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent before anything can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The spaces of `project` as of `version`, when kept.
    pub fn get(&self, project: Uuid, version: i64) -> Option<Arc<Spaces>> {
        let mut inner = self.lock();
        let now = inner.tick();
        let entry = inner.entries.get_mut(&project)?;
        if entry.version != version {
            return None;
        }
        let before = std::mem::replace(&mut entry.used, now);
        let spaces = entry.spaces.clone();
        inner.lru.remove(&before);
        inner.lru.insert(now, project);
        Some(spaces)
    }

    /// Keeps the spaces of `project` read at `version` (an entry of a later version stays).
    pub fn put(&self, project: Uuid, version: i64, spaces: Arc<Spaces>) {
        let rows = spaces.rows();
        let mut inner = self.lock();
        if let Some(e) = inner.entries.get(&project) {
            if e.version > version {
                return;
            }
            inner.remove(project);
        }
        if rows > self.max_rows {
            return;
        }
        while inner.rows + rows > self.max_rows {
            let Some((_, oldest)) = inner.lru.pop_first() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.rows -= e.spaces.rows();
            }
        }
        let now = inner.tick();
        inner.lru.insert(now, project);
        inner.rows += rows;
        inner.entries.insert(
            project,
            Entry {
                version,
                spaces,
                used: now,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn spaces(n: usize) -> Arc<Spaces> {
        let now = Utc::now();
        let project = Uuid::now_v7();
        let records = (0..n)
            .map(|i| SpaceRecord {
                space_uuid: Uuid::now_v7(),
                project_uuid: project,
                parent_space_uuid: None,
                name: format!("s{i}"),
                slug: format!("s{i}"),
                is_private: false,
                inherit_parent_permissions: false,
                created_by_user_uuid: None,
                created_at: now,
                updated_at: now,
            })
            .collect::<Vec<_>>();
        let grants = records
            .iter()
            .map(|s| SpaceGrantRecord {
                space_uuid: s.space_uuid,
                grantee_uuid: Uuid::now_v7(),
                role: "viewer".into(),
            })
            .collect();
        Arc::new(Spaces::new(records, grants, Vec::new()))
    }

    #[test]
    fn an_entry_serves_its_version_only() {
        let cache = SpacesCache::new(100);
        let p = Uuid::now_v7();
        let s = spaces(3);
        assert_eq!(s.rows(), 6);
        assert_eq!(s.user_grants.len(), 3);
        cache.put(p, 4, s.clone());
        assert!(Arc::ptr_eq(&cache.get(p, 4).unwrap(), &s));
        assert!(cache.get(p, 5).is_none(), "a later version is a miss");
        assert!(cache.get(p, 3).is_none());
        assert!(cache.get(Uuid::now_v7(), 4).is_none());
    }

    #[test]
    fn an_older_read_does_not_replace_a_newer_one() {
        let cache = SpacesCache::new(100);
        let p = Uuid::now_v7();
        let (old, new) = (spaces(1), spaces(2));
        cache.put(p, 7, new.clone());
        cache.put(p, 6, old);
        assert!(Arc::ptr_eq(&cache.get(p, 7).unwrap(), &new));
        cache.put(p, 8, spaces(1));
        assert!(cache.get(p, 7).is_none());
        assert_eq!(cache.lock().rows, 2, "the replaced entry's rows are freed");
    }

    #[test]
    fn the_least_recently_used_projects_go_first_and_the_budget_holds() {
        let cache = SpacesCache::new(10);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        cache.put(a, 1, spaces(2)); // 4 rows
        cache.put(b, 1, spaces(2)); // 8
        assert!(cache.get(a, 1).is_some()); // b is now the least recently used
        cache.put(c, 1, spaces(2)); // 12 > 10: b goes
        assert!(cache.get(b, 1).is_none());
        assert!(cache.get(a, 1).is_some());
        assert!(cache.get(c, 1).is_some());
        let inner = cache.lock();
        assert_eq!(inner.rows, 8);
        assert_eq!(inner.lru.len(), inner.entries.len());
    }

    #[test]
    fn a_project_over_the_budget_is_not_kept() {
        let cache = SpacesCache::new(5);
        let p = Uuid::now_v7();
        cache.put(p, 1, spaces(1));
        cache.put(p, 2, spaces(3)); // 6 rows > 5
        assert!(cache.get(p, 2).is_none());
        assert!(cache.get(p, 1).is_none(), "the older entry is dropped too");
        assert_eq!(cache.lock().rows, 0);
        let off = SpacesCache::new(0);
        off.put(p, 1, spaces(0));
        assert!(off.get(p, 1).is_none(), "0 keeps nothing");
    }
}
