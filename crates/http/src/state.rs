//! What every handler can reach: cheap, cloneable handles.

use std::sync::Arc;

use bulkhead_service::Services;
use bulkhead_store::Store;

use crate::edge::EdgeSettings;

/// Shared application state. Cloning it clones two `Arc`s.
#[derive(Debug, Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub edge: Arc<EdgeSettings>,
}

impl AppState {
    pub fn new(services: Arc<Services>, edge: EdgeSettings) -> Self {
        Self {
            services,
            edge: Arc::new(edge),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }
}
