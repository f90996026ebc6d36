//! The tenant's registry row on PostgreSQL.

use async_trait::async_trait;
use bulkhead_store::{NewTenant, Result, Tenant, TenantRow};
use time::OffsetDateTime;

use super::PgTenantTx;
use crate::codec::{self, TENANT_COLUMNS};

impl PgTenantTx {
    /// Registers the tenant in the platform table (for `Store::create_tenant`).
    pub async fn insert_tenant(&mut self, tenant: &NewTenant) -> Result<()> {
        self.tx
            .execute(
                sqlx::query(
                    "INSERT INTO tenants (id, slug, name, plan, suspended_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, NULL, $5, $5)",
                )
                .bind(tenant.id.as_uuid())
                .bind(tenant.slug.as_str())
                .bind(&tenant.name)
                .bind(&tenant.plan)
                .bind(tenant.at),
            )
            .await?;
        // Its usage starts at nothing; a tenant table row, so on the
        // tenant's shard under Citus.
        self.tx
            .execute(
                sqlx::query(
                    "INSERT INTO tenant_usage (tenant_id, members, records, storage_bytes, collections, api_keys)
                     VALUES ($1, 0, 0, 0, 0, 0)",
                )
                .bind(tenant.id.as_uuid()),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl TenantRow for PgTenantTx {
    async fn tenant(&mut self) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let statement = sqlx::query(&sql).bind(self.t());
        self.tx.optional(statement, codec::tenant).await
    }

    async fn rename_tenant(&mut self, name: &str, at: OffsetDateTime) -> Result<Option<Tenant>> {
        let sql = format!(
            "UPDATE tenants SET name = $2, updated_at = $3 WHERE id = $1 RETURNING {TENANT_COLUMNS}"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(name).bind(at);
        self.tx.optional(statement, codec::tenant).await
    }

    async fn delete_tenant(&mut self) -> Result<bool> {
        let statement = sqlx::query("DELETE FROM tenants WHERE id = $1").bind(self.t());
        Ok(self.tx.execute(statement).await? > 0)
    }
}
