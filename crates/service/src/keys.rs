//! The key ring a running server signs and verifies with, kept fresh.
//!
//! Rotation (`bulkhead keys rotate`) writes to the database; every server
//! process picks it up when it meets a token signed with a kid it does not
//! know and on a periodic [`Keys::reload`], so a rotation needs no restart.

use std::sync::{Arc, RwLock};

use bulkhead_domain::Clock;
use bulkhead_store::{SigningKey, Store};
use time::OffsetDateTime;

use crate::ServiceError;
use crate::signing_keys::{KeyRing, ensure_signing_key};

/// Reloads for unknown kids are rate-limited to one per this many seconds,
/// so garbage tokens cannot make every request hit the database.
const RELOAD_INTERVAL_SECONDS: i64 = 10;

/// Where the ring comes from.
#[derive(Debug)]
enum Source {
    /// The database: reloadable.
    Store,
    /// An operator-supplied secret file: fixed.
    Fixed,
}

#[derive(Debug)]
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    source: Source,
    last_reload: RwLock<Option<OffsetDateTime>>,
}

impl Keys {
    /// A ring that never changes (a configured secret file, or tests).
    pub fn fixed(ring: KeyRing) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
            source: Source::Fixed,
            last_reload: RwLock::new(None),
        }
    }

    /// The ring kept in the database, created there if it has none.
    pub async fn from_store(store: &dyn Store, clock: &dyn Clock) -> Result<Self, ServiceError> {
        let ring = ensure_signing_key(store, clock).await?;
        Ok(Self {
            ring: RwLock::new(Arc::new(ring)),
            source: Source::Store,
            last_reload: RwLock::new(Some(clock.now())),
        })
    }

    pub fn current(&self) -> Arc<KeyRing> {
        Arc::clone(&self.ring.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn verifying_key(&self, kid: &str) -> Option<SigningKey> {
        self.current().verifying_key(kid).cloned()
    }

    /// Whether a reload for an unknown kid is allowed now.
    pub fn may_reload(&self, now: OffsetDateTime) -> bool {
        if matches!(self.source, Source::Fixed) {
            return false;
        }
        let last = *self.last_reload.read().unwrap_or_else(|p| p.into_inner());
        last.is_none_or(|last| (now - last).whole_seconds() >= RELOAD_INTERVAL_SECONDS)
    }

    /// Reads the ring from the database again (no-op for a fixed ring).
    pub async fn reload(&self, store: &dyn Store, clock: &dyn Clock) -> Result<(), ServiceError> {
        if matches!(self.source, Source::Fixed) {
            return Ok(());
        }
        *self.last_reload.write().unwrap_or_else(|p| p.into_inner()) = Some(clock.now());
        let ring = ensure_signing_key(store, clock).await?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        Ok(())
    }
}
