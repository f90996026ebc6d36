//! The data area: a tenant's collections ([`crate::collections`]), their
//! records ([`crate::records`]) and the realtime stream of record changes
//! ([`crate::realtime`]).

use std::sync::Arc;

use crate::rate_limits::RateLimits;
use crate::realtime::RealtimeHub;
use crate::schema_memo::SchemaMemo;
use crate::shared::Core;

/// Collections, records and realtime events.
#[derive(Debug, Clone)]
pub struct Data {
    pub(crate) core: Arc<Core>,
    /// Parsed schemas for record writes.
    pub(crate) schemas: Arc<SchemaMemo>,
    pub(crate) realtime: Arc<RealtimeHub>,
    /// Caps on open subscriptions.
    pub(crate) rate_limits: RateLimits,
}

impl Data {
    pub(crate) fn new(
        core: Arc<Core>,
        realtime: Arc<RealtimeHub>,
        rate_limits: RateLimits,
    ) -> Self {
        Self {
            core,
            schemas: Arc::new(SchemaMemo::default()),
            realtime,
            rate_limits,
        }
    }
}
