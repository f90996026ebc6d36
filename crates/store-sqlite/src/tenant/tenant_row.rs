//! The tenant's registry row on SQLite.

use async_trait::async_trait;
use bulkhead_store::{NewTenant, Result, Tenant, TenantRow};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::SqliteTenantTx;
use crate::codec::{Micros, id_param};
use crate::rows::{self, TENANT_COLUMNS};
use crate::tx::Tx;

/// Registers a tenant in the platform table (used by `Store::create_tenant`).
pub fn insert_tenant(tx: &Tx, tenant: &NewTenant) -> Result<()> {
    tx.statement(
        "INSERT INTO tenants (id, slug, name, plan, suspended_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?5)",
        |s| {
            s.execute(params![
                id_param(&tenant.id),
                tenant.slug.as_str(),
                tenant.name,
                tenant.plan,
                Micros(tenant.at)
            ])
        },
    )?;
    super::usage::insert_usage(tx, tenant.id)
}

#[async_trait]
impl TenantRow for SqliteTenantTx {
    async fn tenant(&mut self) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1");
        self.tx
            .statement(&sql, |s| s.query_row([self.t()], rows::tenant).optional())
    }

    async fn rename_tenant(&mut self, name: &str, at: OffsetDateTime) -> Result<Option<Tenant>> {
        let sql = format!(
            "UPDATE tenants SET name = ?2, updated_at = ?3 WHERE id = ?1 RETURNING {TENANT_COLUMNS}"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), name, Micros(at)], rows::tenant)
                .optional()
        })
    }

    async fn delete_tenant(&mut self) -> Result<bool> {
        let sql = "DELETE FROM tenants WHERE id = ?1";
        Ok(self.tx.statement(sql, |s| s.execute([self.t()]))? > 0)
    }
}
