//! What every handler can reach: cheap, cloneable handles.

use std::sync::Arc;

use bulkhead_domain::Clock;
use bulkhead_service::signing_keys::KeyRing;
use bulkhead_store::Store;

/// Shared application state. Cloning it clones three `Arc`s.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The access-token signing keys, loaded once at start-up.
    pub keys: Arc<KeyRing>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: KeyRing) -> Self {
        Self {
            store,
            clock,
            keys: Arc::new(keys),
        }
    }
}
