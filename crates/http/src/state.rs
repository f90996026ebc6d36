//! What every handler can reach: cheap, cloneable handles. A handler takes
//! the one area service it uses as a substate (`State<Data>`, say), which
//! [`FromRef`] takes out of the [`AppState`].

use std::sync::Arc;

use axum::extract::FromRef;
use bulkhead_service::{Admin, Data, Identity, Ledger, Plans, Services, Tenancy};
use bulkhead_store::Store;

use crate::edge::EdgeSettings;
use crate::prometheus::Metrics;

/// Shared application state. Cloning it clones a few `Arc`s.
#[derive(Debug, Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub edge: Arc<EdgeSettings>,
    /// `None` when the operator gave no metrics token: `/metrics` refuses
    /// every request and no request is measured.
    pub metrics: Option<Arc<Metrics>>,
}

impl AppState {
    pub fn new(services: Arc<Services>, edge: EdgeSettings) -> Self {
        Self {
            services,
            edge: Arc::new(edge),
            metrics: None,
        }
    }

    /// Turns on request metrics and `/metrics`.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self {
            metrics: Some(Arc::new(metrics)),
            ..self
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.services.store()
    }
}

/// Each area service is a substate of the [`AppState`].
macro_rules! substate {
    ($area:ty, $field:ident) => {
        impl FromRef<AppState> for $area {
            fn from_ref(state: &AppState) -> Self {
                state.services.$field.clone()
            }
        }
    };
}

substate!(Identity, identity);
substate!(Tenancy, tenancy);
substate!(Data, data);
substate!(Admin, admin);
substate!(Ledger, ledger);
substate!(Plans, plans);
