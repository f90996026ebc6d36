//! Plans on PostgreSQL (a reference table under Citus).

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::plan::{PlanLimits, PlanName, PlanTerms};
use bulkhead_store::plans::Plan;
use bulkhead_store::{Plans, Result};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::PgPlatformTx;
use crate::codec::decode_error;
use crate::tenant::{LIMIT_COLUMNS, limits_row};

fn plan_columns() -> String {
    format!("name, {LIMIT_COLUMNS}, ledger_markup_millionths, created_at, updated_at")
}

fn plan_row(row: &PgRow) -> sqlx::Result<Plan> {
    let name: &str = row.try_get("name")?;
    Ok(Plan {
        name: PlanName::parse(name).map_err(|e| decode_error("name", e))?,
        terms: PlanTerms {
            limits: limits_row(row)?,
            ledger_markup: row
                .try_get::<Option<i64>, _>("ledger_markup_millionths")?
                .map(Markup::from_millionths)
                .transpose()
                .map_err(|e| decode_error("ledger_markup_millionths", e))?,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A limit as stored: NULL is unlimited, and past i64 is as good as
/// unlimited, stored as the largest.
fn limit(value: Option<u64>) -> Option<i64> {
    value.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// The limits and markup in the order of `plan_columns` after the name,
/// bound from `$2`.
fn bind_terms<'q>(
    statement: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    terms: &PlanTerms,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let PlanLimits {
        members,
        records,
        storage_bytes,
        collections,
        api_keys,
        requests_per_minute,
        realtime_connections,
    } = terms.limits;
    statement
        .bind(limit(members))
        .bind(limit(records))
        .bind(limit(storage_bytes))
        .bind(limit(collections))
        .bind(limit(api_keys))
        .bind(limit(requests_per_minute))
        .bind(limit(realtime_connections))
        .bind(terms.ledger_markup.map(|m| m.millionths()))
}

#[async_trait]
impl Plans for PgPlatformTx {
    async fn plans(&mut self) -> Result<Vec<Plan>> {
        let sql = format!("SELECT {} FROM plans ORDER BY name", plan_columns());
        self.tx.all(sqlx::query(&sql), plan_row).await
    }

    async fn plan(&mut self, name: &PlanName) -> Result<Option<Plan>> {
        let sql = format!("SELECT {} FROM plans WHERE name = $1", plan_columns());
        let statement = sqlx::query(&sql).bind(name.as_str());
        self.tx.optional(statement, plan_row).await
    }

    async fn insert_plan(&mut self, plan: &Plan) -> Result<()> {
        let sql = format!(
            "INSERT INTO plans ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            plan_columns()
        );
        let statement = bind_terms(sqlx::query(&sql).bind(plan.name.as_str()), &plan.terms)
            .bind(plan.created_at)
            .bind(plan.updated_at);
        self.tx.execute(statement).await?;
        Ok(())
    }

    async fn update_plan(
        &mut self,
        name: &PlanName,
        terms: &PlanTerms,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE plans SET max_members = $2, max_records = $3, max_storage_bytes = $4,
                       max_collections = $5, max_api_keys = $6, requests_per_minute = $7,
                       realtime_connections = $8, ledger_markup_millionths = $9, updated_at = $10
                   WHERE name = $1";
        let statement = bind_terms(sqlx::query(sql).bind(name.as_str()), terms).bind(at);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn set_tenant_plan(
        &mut self,
        tenant: TenantId,
        plan: &PlanName,
        at: OffsetDateTime,
    ) -> Result<bool> {
        // A plan that does not exist breaks fk_tenants_plan: MissingReference.
        let statement = sqlx::query("UPDATE tenants SET plan = $2, updated_at = $3 WHERE id = $1")
            .bind(tenant.as_uuid())
            .bind(plan.as_str())
            .bind(at);
        Ok(self.tx.execute(statement).await? > 0)
    }
}
