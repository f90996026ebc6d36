//! Tenant-scoped statements on PostgreSQL, one file per area of
//! [`TenantTx`].
//!
//! Two barriers stand between tenants here. The transaction began with
//! `SET LOCAL bulkhead.tenant_id`, so row-level security filters every row
//! of every tenant table; and every statement also names `tenant_id = $1`
//! itself, which keeps the store correct if a policy were ever dropped and
//! lets the planner use the `(tenant_id, …)` indexes directly.

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

pub(crate) use usage::{LIMIT_COLUMNS, limits_row};

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::id::Id;
use bulkhead_store::plans::UsageDelta;
use bulkhead_store::{Invalidation, Page, Result, TenantTx};
use uuid::Uuid;

use crate::tx::Tx;

pub struct PgTenantTx {
    tx: Tx,
    tenant: TenantId,
    /// What the writes so far changed in the tenant's usage, applied and
    /// checked against its plan at commit.
    usage: UsageDelta,
}

impl PgTenantTx {
    pub fn new(tx: Tx, tenant: TenantId) -> Self {
        Self {
            tx,
            tenant,
            usage: UsageDelta::default(),
        }
    }

    /// The tenant, as every statement binds it (`$1`).
    fn t(&self) -> Uuid {
        *self.tenant.as_uuid()
    }
}

/// Where a page starts: after this id, if any.
fn after<K>(page: &Page<Id<K>>) -> Option<Uuid> {
    page.after.as_ref().map(|id| *id.as_uuid())
}

#[async_trait]
impl TenantTx for PgTenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.apply_usage().await?;
        self.tx.commit().await
    }
}
