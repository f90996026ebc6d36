//! The system path on PostgreSQL: platform tables only, one file per area
//! of [`PlatformTx`]. This transaction never sets `bulkhead.tenant_id`, so
//! row-level security hides every tenant-owned row from it even if a
//! statement here tried to read one.

mod audit;
mod plans;
mod sessions;
mod signing_keys;
mod tenant_registry;
mod users;

use async_trait::async_trait;
use bulkhead_store::{Invalidation, PlatformTx, Result};

use crate::tx::Tx;

pub struct PgPlatformTx {
    tx: Tx,
}

impl PgPlatformTx {
    pub fn new(tx: Tx) -> Self {
        Self { tx }
    }
}

#[async_trait]
impl PlatformTx for PgPlatformTx {
    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await
    }
}
