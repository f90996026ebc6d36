//! The tenant registry on PostgreSQL, seen from the platform.

use async_trait::async_trait;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{TenantId, TenantSlug};
use bulkhead_store::{Page, Result, Tenant, TenantRegistry};
use time::OffsetDateTime;

use super::PgPlatformTx;
use crate::codec::{self, TENANT_COLUMNS};

#[async_trait]
impl TenantRegistry for PgPlatformTx {
    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let statement = sqlx::query(&sql).bind(id.as_uuid());
        self.tx.optional(statement, codec::tenant).await
    }

    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
        let statement = sqlx::query(&sql).bind(slug.as_str());
        self.tx.optional(statement, codec::tenant).await
    }

    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>> {
        // strpos() instead of LIKE: a search text with % or _ means itself.
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants
             WHERE ($1::uuid IS NULL OR id > $1)
               AND ($2::text IS NULL OR strpos(lower(slug), lower($2)) > 0 OR strpos(lower(name), lower($2)) > 0)
             ORDER BY id LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(page.after.map(|id| *id.as_uuid()))
            .bind(search)
            .bind(i64::from(page.limit));
        self.tx.all(statement, codec::tenant).await
    }

    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let statement =
            sqlx::query("UPDATE tenants SET suspended_at = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(at)
                .bind(now);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn set_charge_markup(
        &mut self,
        id: TenantId,
        markup: Markup,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let statement = sqlx::query(
            "UPDATE tenants SET charge_markup_millionths = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(markup.millionths())
        .bind(now);
        Ok(self.tx.execute(statement).await? > 0)
    }
}
