//! The plans a platform admin defines and assigns to tenants.

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::plan::{PlanName, PlanTerms};
use time::OffsetDateTime;

use crate::error::Result;
use crate::plans::Plan;

#[async_trait]
pub trait Plans: Send {
    /// Every plan, by name.
    async fn plans(&mut self) -> Result<Vec<Plan>>;
    async fn plan(&mut self, name: &PlanName) -> Result<Option<Plan>>;
    /// Adds a plan; a name already taken is `Conflict(Plan)`.
    async fn insert_plan(&mut self, plan: &Plan) -> Result<()>;
    /// Replaces a plan's terms; `false` if there is no such plan.
    async fn update_plan(
        &mut self,
        name: &PlanName,
        terms: &PlanTerms,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// Puts a tenant on a plan: `false` if there is no such tenant, and
    /// `MissingReference` if there is no such plan.
    async fn set_tenant_plan(
        &mut self,
        tenant: TenantId,
        plan: &PlanName,
        at: OffsetDateTime,
    ) -> Result<bool>;
}
