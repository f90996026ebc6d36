//! The tenant transaction and its areas.
//!
//! [`TenantTx`] is the only handle to tenant-owned data, and it is bound to
//! one tenant: no method of any area takes a tenant id. Each area of tenant
//! data is a trait of its own in its own file; `TenantTx` requires them
//! all, so a caller holding a `Box<dyn TenantTx>` reaches every area's
//! methods without importing anything. A new capability adds an area trait
//! here, a bound on `TenantTx`, and one file in each backend.

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

use crate::error::Result;
use crate::model::Invalidation;

pub use api_keys::ApiKeys;
pub use audit::AuditLog;
pub use collections::Collections;
pub use events::RecordEvents;
pub use idempotency::IdempotencyKeys;
pub use invitations::Invitations;
pub use ledger::Ledger;
pub use members::Members;
pub use metering::Metering;
pub use records::Records;
pub use tenant_row::TenantRow;
pub use usage::Usage;

/// A transaction bound to one tenant. No method takes a tenant id.
#[async_trait]
pub trait TenantTx:
    TenantRow
    + Members
    + ApiKeys
    + Invitations
    + AuditLog
    + Collections
    + Records
    + RecordEvents
    + IdempotencyKeys
    + Ledger
    + Usage
    + Metering
    + Send
{
    fn tenant_id(&self) -> TenantId;

    /// Announces, once this transaction commits, that cached state is stale.
    fn invalidate(&mut self, invalidation: Invalidation);

    /// Commits, after adding what the transaction's writes changed to the
    /// tenant's usage: `QuotaExceeded` (and nothing committed) if that took
    /// a quota it grew past the tenant's plan.
    async fn commit(self: Box<Self>) -> Result<()>;
}
