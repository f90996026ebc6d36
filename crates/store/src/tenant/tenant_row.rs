//! The tenant's own registry row, seen from inside the tenant.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::Tenant;

#[async_trait]
pub trait TenantRow: Send {
    /// This tenant's registry row; `None` once it was deleted.
    async fn tenant(&mut self) -> Result<Option<Tenant>>;
    async fn rename_tenant(&mut self, name: &str, at: OffsetDateTime) -> Result<Option<Tenant>>;
    /// Deletes the tenant and, by cascade, every row it owns.
    async fn delete_tenant(&mut self) -> Result<bool>;
}
