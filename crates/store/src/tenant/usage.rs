//! What the tenant holds of what its plan may cap.
//!
//! Every write keeps it: see [`crate::plans`] for how a transaction's
//! changes are counted and checked at its commit.

use async_trait::async_trait;

use crate::error::Result;
use crate::plans::TenantUsage;

#[async_trait]
pub trait Usage: Send {
    /// The tenant's usage as of this transaction (its own uncommitted
    /// writes not counted until its commit).
    async fn usage(&mut self) -> Result<TenantUsage>;
}
