//! What authentication reads on every request, cached in process memory
//! and evicted the moment a commit makes it stale.
//!
//! Sessions, users, tenants, memberships and API keys are read on every
//! authenticated request, and a collection's schema on every record read;
//! with this cache the hot path makes no database round trip for them. Correctness rests on invalidation, not expiry: every change
//! to these rows calls `invalidate` on its transaction, and the store
//! delivers that to [`AuthCache::invalidate`] in this process before the
//! commit returns, and in every other process sharing the database within
//! milliseconds (PostgreSQL LISTEN/NOTIFY). Entries also expire after
//! [`TTL`] as a safety net.
//!
//! Invalidation can only be trusted while it arrives. When the store says
//! other processes' invalidations stopped reaching this one
//! ([`AuthCache::suspend`]), the cache forgets everything and serves
//! nothing, so every request reads the database, until the store says they
//! arrive again ([`AuthCache::resume`]); then it forgets everything once
//! more, because what was committed in between is unknown.
//!
//! A load races with an invalidation when it reads the database before a
//! commit and stores its result after the eviction. Each map therefore
//! carries an epoch, bumped by every invalidation, and a loaded value is
//! stored only if the epoch did not move while it was being read.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bulkhead_domain::collection::CollectionSchema;
use bulkhead_domain::{ApiKeyId, Clock, Role, SessionId, TenantId, UserId};
use bulkhead_store::plans::Plan;
use bulkhead_store::{ApiKey, Invalidation, Tenant, UserMembership};
use time::{Duration, OffsetDateTime};

/// How long an entry may be served without being reloaded.
pub const TTL: Duration = Duration::minutes(5);
/// Above this many entries a map is cleared (a crude bound on memory).
const MAX_ENTRIES: usize = 200_000;

/// What authentication needs of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionState {
    pub user: UserId,
    pub revoked: bool,
    pub expires_at: OffsetDateTime,
}

/// What authentication needs of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    pub email: String,
    pub display_name: Option<String>,
    pub created_at: OffsetDateTime,
    pub deactivated: bool,
    pub is_platform_admin: bool,
}

/// A token taken before loading; the load may be stored only if no
/// invalidation happened since.
#[derive(Debug, Clone, Copy)]
pub struct Epoch(u64);

struct Entry<V> {
    value: V,
    loaded_at: OffsetDateTime,
}

/// One cached map.
struct Map<K, V> {
    entries: RwLock<HashMap<K, Entry<V>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Map<K, V> {
    fn new() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, now: OffsetDateTime) -> Option<V> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|entry| now - entry.loaded_at < TTL)
            .map(|entry| entry.value.clone())
    }

    fn insert(&self, key: K, value: V, now: OffsetDateTime) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key,
            Entry {
                value,
                loaded_at: now,
            },
        );
    }

    fn remove(&self, key: &K) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    fn retain(&self, keep: impl Fn(&K, &V) -> bool) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|key, entry| keep(key, &entry.value));
    }

    fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The authentication cache of one server process.
pub struct AuthCache {
    clock: Arc<dyn Clock>,
    epoch: AtomicU64,
    /// False while other processes' invalidations may not be arriving:
    /// nothing is served or stored then.
    serving: AtomicBool,
    sessions: Map<SessionId, Option<SessionState>>,
    users: Map<UserId, Option<UserState>>,
    tenants: Map<TenantId, Option<Tenant>>,
    tenant_ids_by_slug: Map<String, Option<TenantId>>,
    memberships: Map<(TenantId, UserId), Option<Role>>,
    user_memberships: Map<UserId, Arc<Vec<UserMembership>>>,
    api_keys: Map<(TenantId, ApiKeyId), Option<ApiKey>>,
    /// Parsed collection schemas, for the record reads (writes read the
    /// schema inside their transaction: they must validate against exactly
    /// the schema they commit with).
    schemas: Map<(TenantId, String), Arc<CollectionSchema>>,
    /// Plans by name, for the limits of every tenant request (keyed by the
    /// tenant row's own text, so a lookup allocates nothing).
    plans: Map<String, Option<Arc<Plan>>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

macro_rules! cached {
    ($get:ident, $put:ident, $map:ident, $key:ty, $value:ty) => {
        pub fn $get(&self, key: &$key) -> Option<$value> {
            if !self.serving.load(Ordering::Acquire) {
                return None;
            }
            self.$map.get(key, self.clock.now())
        }

        pub fn $put(&self, epoch: Epoch, key: $key, value: $value) {
            // Hold off a value read before an invalidation that has since
            // happened: it may be the stale one the invalidation evicted.
            if self.serving.load(Ordering::Acquire) && self.epoch.load(Ordering::Acquire) == epoch.0
            {
                self.$map.insert(key, value, self.clock.now());
            }
        }
    };
}

impl AuthCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            epoch: AtomicU64::new(0),
            serving: AtomicBool::new(true),
            sessions: Map::new(),
            users: Map::new(),
            tenants: Map::new(),
            tenant_ids_by_slug: Map::new(),
            memberships: Map::new(),
            user_memberships: Map::new(),
            api_keys: Map::new(),
            schemas: Map::new(),
            plans: Map::new(),
        }
    }

    /// Take before reading the database for a value to cache.
    pub fn epoch(&self) -> Epoch {
        Epoch(self.epoch.load(Ordering::Acquire))
    }

    cached!(
        session,
        put_session,
        sessions,
        SessionId,
        Option<SessionState>
    );
    cached!(user, put_user, users, UserId, Option<UserState>);
    cached!(tenant, put_tenant, tenants, TenantId, Option<Tenant>);
    cached!(
        tenant_id_by_slug,
        put_tenant_id_by_slug,
        tenant_ids_by_slug,
        String,
        Option<TenantId>
    );
    cached!(
        membership,
        put_membership,
        memberships,
        (TenantId, UserId),
        Option<Role>
    );
    cached!(
        user_memberships,
        put_user_memberships,
        user_memberships,
        UserId,
        Arc<Vec<UserMembership>>
    );
    cached!(
        api_key,
        put_api_key,
        api_keys,
        (TenantId, ApiKeyId),
        Option<ApiKey>
    );
    cached!(
        schema,
        put_schema,
        schemas,
        (TenantId, String),
        Arc<CollectionSchema>
    );
    cached!(plan, put_plan, plans, String, Option<Arc<Plan>>);

    /// Evicts what `invalidation` made stale.
    pub fn invalidate(&self, invalidation: Invalidation) {
        if matches!(invalidation, Invalidation::RecordEvents(_)) {
            // News for realtime subscribers, nothing cached here.
            return;
        }
        // Bump first: a load that read before this point must not be stored.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match invalidation {
            Invalidation::Session(session) => self.sessions.remove(&session),
            Invalidation::User(user) => {
                self.users.remove(&user);
                self.user_memberships.remove(&user);
                // A deactivated user's sessions must fail too.
                self.sessions
                    .retain(|_, state| state.is_none_or(|s| s.user != user));
            }
            Invalidation::Tenant(tenant) => {
                self.tenants.remove(&tenant);
                // Renamed, created or deleted: slugs may now point elsewhere,
                // including slugs that pointed nowhere.
                self.tenant_ids_by_slug
                    .retain(|_, id| id.is_some_and(|id| id != tenant));
                self.memberships.retain(|(t, _), _| *t != tenant);
                self.api_keys.retain(|(t, _), _| *t != tenant);
                self.schemas.retain(|(t, _), _| *t != tenant);
                // Lists of a user's tenants carry the tenant's name.
                self.user_memberships.clear();
            }
            Invalidation::Membership(tenant, user) => {
                self.memberships.remove(&(tenant, user));
                self.user_memberships.remove(&user);
            }
            Invalidation::ApiKey(tenant, key) => self.api_keys.remove(&(tenant, key)),
            Invalidation::RecordEvents(_) => {}
            Invalidation::Collections(tenant) => self.schemas.retain(|(t, _), _| *t != tenant),
            Invalidation::Plans => self.plans.clear(),
            Invalidation::Everything => self.clear(),
        }
    }

    /// Other processes' invalidations may not be arriving: forget
    /// everything and serve nothing until [`AuthCache::resume`].
    pub fn suspend(&self) {
        self.serving.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.clear();
    }

    /// Other processes' invalidations arrive again: forget what was held
    /// (it may have missed some) and serve from memory again.
    pub fn resume(&self) {
        // Bump before serving again: a load that read the database before
        // this point, while invalidations were not arriving, is not stored.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.clear();
        self.serving.store(true, Ordering::Release);
    }

    fn clear(&self) {
        self.sessions.clear();
        self.users.clear();
        self.tenants.clear();
        self.tenant_ids_by_slug.clear();
        self.memberships.clear();
        self.user_memberships.clear();
        self.api_keys.clear();
        self.schemas.clear();
        self.plans.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_domain::ManualClock;
    use time::macros::datetime;

    fn cache() -> (Arc<ManualClock>, AuthCache) {
        let clock = Arc::new(ManualClock::new(datetime!(2026-06-01 12:00 UTC)));
        (clock.clone(), AuthCache::new(clock))
    }

    #[test]
    fn an_invalidation_evicts_at_once() {
        let (_clock, cache) = cache();
        let (tenant, user) = (TenantId::new(), UserId::new());
        cache.put_membership(cache.epoch(), (tenant, user), Some(Role::Admin));
        assert_eq!(cache.membership(&(tenant, user)), Some(Some(Role::Admin)));
        cache.invalidate(Invalidation::Membership(tenant, user));
        assert_eq!(cache.membership(&(tenant, user)), None);
    }

    #[test]
    fn a_value_loaded_across_an_invalidation_is_not_stored() {
        let (_clock, cache) = cache();
        let session = SessionId::new();
        let before_load = cache.epoch();
        cache.invalidate(Invalidation::Session(session));
        let stale = SessionState {
            user: UserId::new(),
            revoked: false,
            expires_at: datetime!(2027-01-01 0:00 UTC),
        };
        cache.put_session(before_load, session, Some(stale));
        assert_eq!(cache.session(&session), None);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let (clock, cache) = cache();
        let user = UserId::new();
        cache.put_user(cache.epoch(), user, None);
        assert_eq!(cache.user(&user), Some(None));
        clock.advance(TTL);
        assert_eq!(cache.user(&user), None);
    }

    #[test]
    fn deactivating_a_user_evicts_their_sessions() {
        let (_clock, cache) = cache();
        let (user, other) = (UserId::new(), UserId::new());
        let state = |user| {
            Some(SessionState {
                user,
                revoked: false,
                expires_at: datetime!(2027-01-01 0:00 UTC),
            })
        };
        let (mine, theirs) = (SessionId::new(), SessionId::new());
        cache.put_session(cache.epoch(), mine, state(user));
        cache.put_session(cache.epoch(), theirs, state(other));
        cache.invalidate(Invalidation::User(user));
        assert_eq!(cache.session(&mine), None);
        assert!(cache.session(&theirs).is_some());
    }

    fn live_session(user: UserId) -> Option<SessionState> {
        Some(SessionState {
            user,
            revoked: false,
            expires_at: datetime!(2027-01-01 0:00 UTC),
        })
    }

    #[test]
    fn nothing_is_served_or_stored_while_invalidations_are_interrupted() {
        let (_clock, cache) = cache();
        let (session, user) = (SessionId::new(), UserId::new());
        cache.put_session(cache.epoch(), session, live_session(user));
        cache.suspend();
        assert_eq!(cache.session(&session), None, "served while suspended");
        cache.put_session(cache.epoch(), session, live_session(user));
        assert_eq!(cache.session(&session), None, "stored while suspended");
        cache.resume();
        assert_eq!(cache.session(&session), None, "kept across the gap");
        cache.put_session(cache.epoch(), session, live_session(user));
        assert_eq!(cache.session(&session), Some(live_session(user)));
    }

    #[test]
    fn a_value_loaded_before_invalidations_resumed_is_not_stored() {
        let (_clock, cache) = cache();
        let (session, user) = (SessionId::new(), UserId::new());
        cache.suspend();
        let during_the_gap = cache.epoch();
        cache.resume();
        cache.put_session(during_the_gap, session, live_session(user));
        assert_eq!(cache.session(&session), None);
    }

    #[test]
    fn a_new_tenant_clears_slugs_that_pointed_nowhere() {
        let (_clock, cache) = cache();
        cache.put_tenant_id_by_slug(cache.epoch(), "acme".into(), None);
        cache.invalidate(Invalidation::Tenant(TenantId::new()));
        assert_eq!(cache.tenant_id_by_slug(&"acme".to_owned()), None);
    }
}
