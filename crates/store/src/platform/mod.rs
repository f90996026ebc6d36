//! The platform transaction and its areas.
//!
//! [`PlatformTx`] is the explicitly named system path over platform tables
//! (users, the tenant registry, plans, sessions, signing keys, the platform's
//! audit log). It cannot reach tenant-owned rows. As with the tenant
//! transaction, each area is a trait in its own file and `PlatformTx`
//! requires them all.

mod audit;
mod plans;
mod sessions;
mod signing_keys;
mod tenant_registry;
mod users;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::Invalidation;

pub use audit::PlatformAuditLog;
pub use plans::Plans;
pub use sessions::Sessions;
pub use signing_keys::SigningKeys;
pub use tenant_registry::TenantRegistry;
pub use users::Users;

/// A transaction over platform tables.
#[async_trait]
pub trait PlatformTx:
    Users + TenantRegistry + Plans + Sessions + SigningKeys + PlatformAuditLog + Send
{
    /// Announces, once this transaction commits, that cached state is stale.
    fn invalidate(&mut self, invalidation: Invalidation);

    async fn commit(self: Box<Self>) -> Result<()>;
}
