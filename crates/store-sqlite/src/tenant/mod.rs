//! Tenant-scoped statements on SQLite, one file per area of [`TenantTx`].
//!
//! Every statement that touches a tenant-owned table binds `self.tenant`
//! as `?1` in its `WHERE` clause or as the inserted `tenant_id`. There is no
//! other way in: the `New*` inputs carry no tenant id, and nothing here
//! accepts one. SQLite has no row-level security, so this module is the
//! boundary; the conformance suite's isolation table is its proof.

mod api_keys;
mod audit;
mod collections;
mod events;
mod idempotency;
mod invitations;
mod ledger;
mod members;
mod metering;
mod records;
mod tenant_row;
mod usage;

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_store::plans::UsageDelta;
use bulkhead_store::{Invalidation, Result, TenantTx};

use crate::codec::id_param;
use crate::tx::Tx;

pub use tenant_row::insert_tenant;
pub(crate) use usage::{LIMIT_COLUMNS, limits_row};

pub struct SqliteTenantTx {
    tx: Tx,
    tenant: TenantId,
    /// What the writes so far changed in the tenant's usage, applied and
    /// checked against its plan at commit.
    usage: UsageDelta,
}

impl SqliteTenantTx {
    pub fn new(tx: Tx, tenant: TenantId) -> Self {
        Self {
            tx,
            tenant,
            usage: UsageDelta::default(),
        }
    }

    /// The tenant, as every statement binds it (`?1`).
    fn t(&self) -> &[u8; 16] {
        id_param(&self.tenant)
    }
}

#[async_trait]
impl TenantTx for SqliteTenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.apply_usage()?;
        self.tx.commit().await
    }
}
