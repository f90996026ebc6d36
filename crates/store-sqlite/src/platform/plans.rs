//! Plans on SQLite.

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::plan::{PlanName, PlanTerms};
use bulkhead_store::plans::Plan;
use bulkhead_store::{Plans, Result, StoreError};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};
use time::OffsetDateTime;

use super::SqlitePlatformTx;
use crate::codec::{Micros, conversion_error, id_param, time_col, to_micros};
use crate::tenant::{LIMIT_COLUMNS, limits_row};

fn plan_columns() -> String {
    format!("name, {LIMIT_COLUMNS}, ledger_markup_millionths, created_at, updated_at")
}

fn plan_row(row: &Row<'_>) -> rusqlite::Result<Plan> {
    let name: String = row.get(0)?;
    Ok(Plan {
        name: PlanName::parse(&name).map_err(|e| conversion_error(0, e))?,
        terms: PlanTerms {
            limits: limits_row(row, 1)?,
            ledger_markup: row
                .get::<_, Option<i64>>(8)?
                .map(Markup::from_millionths)
                .transpose()
                .map_err(|e| conversion_error(8, e))?,
        },
        created_at: time_col(row, 9)?,
        updated_at: time_col(row, 10)?,
    })
}

/// A limit as stored: NULL is unlimited. Past i64 is as good as unlimited
/// and is stored as the largest.
fn limit(value: Option<u64>) -> Sql {
    value.map_or(Sql::Null, |n| {
        Sql::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    })
}

/// The terms' columns in the order of `plan_columns` after the name.
fn terms_values(terms: &PlanTerms) -> Vec<Sql> {
    let l = &terms.limits;
    vec![
        limit(l.members),
        limit(l.records),
        limit(l.storage_bytes),
        limit(l.collections),
        limit(l.api_keys),
        limit(l.requests_per_minute),
        limit(l.realtime_connections),
        terms
            .ledger_markup
            .map_or(Sql::Null, |m| Sql::Integer(m.millionths())),
    ]
}

#[async_trait]
impl Plans for SqlitePlatformTx {
    async fn plans(&mut self) -> Result<Vec<Plan>> {
        let sql = format!("SELECT {} FROM plans ORDER BY name", plan_columns());
        self.tx
            .statement(&sql, |s| s.query_map([], plan_row)?.collect())
    }

    async fn plan(&mut self, name: &PlanName) -> Result<Option<Plan>> {
        let sql = format!("SELECT {} FROM plans WHERE name = ?1", plan_columns());
        self.tx
            .statement(&sql, |s| s.query_row([name.as_str()], plan_row).optional())
    }

    async fn insert_plan(&mut self, plan: &Plan) -> Result<()> {
        let sql = format!(
            "INSERT INTO plans ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            plan_columns()
        );
        let mut values = vec![Sql::Text(plan.name.as_str().to_owned())];
        values.extend(terms_values(&plan.terms));
        values.push(Sql::Integer(to_micros(plan.created_at)));
        values.push(Sql::Integer(to_micros(plan.updated_at)));
        self.tx
            .statement(&sql, |s| s.execute(params_from_iter(values)))?;
        Ok(())
    }

    async fn update_plan(
        &mut self,
        name: &PlanName,
        terms: &PlanTerms,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE plans SET max_members = ?2, max_records = ?3, max_storage_bytes = ?4,
                       max_collections = ?5, max_api_keys = ?6, requests_per_minute = ?7,
                       realtime_connections = ?8, ledger_markup_millionths = ?9, updated_at = ?10
                   WHERE name = ?1";
        let mut values = vec![Sql::Text(name.as_str().to_owned())];
        values.extend(terms_values(terms));
        values.push(Sql::Integer(to_micros(at)));
        let n = self
            .tx
            .statement(sql, |s| s.execute(params_from_iter(values)))?;
        Ok(n > 0)
    }

    async fn set_tenant_plan(
        &mut self,
        tenant: TenantId,
        plan: &PlanName,
        at: OffsetDateTime,
    ) -> Result<bool> {
        // SQLite has no foreign key on tenants.plan (see migration 0011).
        if self.plan(plan).await?.is_none() {
            return Err(StoreError::MissingReference);
        }
        let sql = "UPDATE tenants SET plan = ?2, updated_at = ?3 WHERE id = ?1";
        let binds = params![id_param(&tenant), plan.as_str(), Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }
}
