//! The tenant registry on SQLite, seen from the platform.

use async_trait::async_trait;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{TenantId, TenantSlug};
use bulkhead_store::{Page, Result, Tenant, TenantRegistry};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::SqlitePlatformTx;
use crate::codec::{Micros, id_param, opt_micros};
use crate::rows::{self, TENANT_COLUMNS};

#[async_trait]
impl TenantRegistry for SqlitePlatformTx {
    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1");
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::tenant).optional()
        })
    }

    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = ?1");
        self.tx.statement(&sql, |s| {
            s.query_row([slug.as_str()], rows::tenant).optional()
        })
    }

    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>> {
        // instr() instead of LIKE: a search text with % or _ means itself.
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM tenants
             WHERE (?1 IS NULL OR id > ?1)
               AND (?2 IS NULL OR instr(lower(slug), lower(?2)) > 0 OR instr(lower(name), lower(?2)) > 0)
             ORDER BY id LIMIT ?3"
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![after, search, page.limit], rows::tenant)?
                .collect()
        })
    }

    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE tenants SET suspended_at = ?2, updated_at = ?3 WHERE id = ?1";
        let binds = params![id_param(&id), opt_micros(at), Micros(now)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }

    async fn set_charge_markup(
        &mut self,
        id: TenantId,
        markup: Markup,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE tenants SET charge_markup_millionths = ?2, updated_at = ?3 WHERE id = ?1";
        let binds = params![id_param(&id), markup.millionths(), Micros(now)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }
}
