//! The records of the tenant's collections on PostgreSQL, and their unique
//! values.

use async_trait::async_trait;
use bulkhead_domain::{RecordId, TenantId, UserId};
use bulkhead_store::plans::document_size;
use bulkhead_store::{
    Document, NewRecord, Record, RecordChange, RecordQuery, Records, Result, UniqueValue, Write,
};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use super::PgTenantTx;
use crate::record_query;

const RECORD_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";

fn record_row(row: &PgRow) -> sqlx::Result<Record> {
    Ok(Record {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        id: RecordId::from_uuid(row.try_get("id")?),
        collection: row.try_get("collection")?,
        owner_id: row
            .try_get::<Option<uuid::Uuid>, _>("owner_id")?
            .map(UserId::from_uuid),
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        data: Document::from_raw(
            row.try_get::<sqlx::types::Json<Box<RawValue>>, _>("data")?
                .0,
        ),
    })
}

impl PgTenantTx {
    async fn insert_unique_values(
        &mut self,
        collection: &str,
        id: RecordId,
        values: &[UniqueValue],
    ) -> Result<()> {
        for unique in values {
            let statement = sqlx::query(
                "INSERT INTO record_unique_values (tenant_id, collection, field, value, record_id)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(self.t())
            .bind(collection)
            .bind(&unique.field)
            .bind(&unique.value)
            .bind(id.as_uuid());
            self.tx.execute(statement).await?;
        }
        Ok(())
    }

    /// Locks the record and checks its version, for conditional writes.
    /// Locks a record for a conditional write: its stored size if the
    /// write may go on, or the refusal to answer.
    async fn lock_for_write(
        &mut self,
        collection: &str,
        id: RecordId,
        expected: Option<i64>,
    ) -> Result<Result<i64, Write<Record>>> {
        // By primary key only (see `record`), the collection checked here.
        let statement = sqlx::query(
            "SELECT version, collection, size_bytes FROM records
             WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        )
        .bind(self.t())
        .bind(id.as_uuid());
        let current: Option<(i64, String, i64)> = self
            .tx
            .optional(statement, |row| {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            })
            .await?;
        let current = current.filter(|(_, found, _)| found == collection);
        let size = current.as_ref().map_or(0, |(_, _, size)| *size);
        match Write::refusal(current.map(|(version, _, _)| version), expected) {
            Some(refused) => Ok(Err(refused)),
            None => Ok(Ok(size)),
        }
    }
}

#[async_trait]
impl Records for PgTenantTx {
    async fn insert_record(&mut self, new: NewRecord) -> Result<Record> {
        let size = document_size(&new.data);
        let sql = format!(
            "INSERT INTO records (tenant_id, id, collection, owner_id, version, created_at, updated_at, data, size_bytes)
             VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7) RETURNING {RECORD_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(new.id.as_uuid())
            .bind(&new.collection)
            .bind(new.owner_id.map(|id| *id.as_uuid()))
            .bind(new.at)
            .bind(&new.data)
            .bind(size);
        let record = self.tx.one(statement, record_row).await?;
        self.insert_unique_values(&new.collection, new.id, &new.unique_values)
            .await?;
        self.usage.records += 1;
        self.usage.storage_bytes += size;
        Ok(record)
    }

    async fn record(&mut self, collection: &str, id: RecordId) -> Result<Option<Record>> {
        // By primary key only, and the collection checked here: naming the
        // collection in SQL lets a planner without fresh statistics prefer an
        // index led by (tenant_id, collection) and walk the whole collection.
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND id = $2");
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        let record = self.tx.optional(statement, record_row).await?;
        Ok(record.filter(|record| record.collection == collection))
    }

    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>> {
        let expected = change.expected_version;
        let was = match self
            .lock_for_write(&change.collection, change.id, expected)
            .await?
        {
            Ok(size) => size,
            Err(refused) => return Ok(refused),
        };
        let size = document_size(&change.data);
        let sql = format!(
            "UPDATE records SET data = $3, version = version + 1, updated_at = $4, size_bytes = $5
             WHERE tenant_id = $1 AND id = $2 RETURNING {RECORD_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(change.id.as_uuid())
            .bind(&change.data)
            .bind(change.at)
            .bind(size);
        let record = self.tx.one(statement, record_row).await?;
        self.usage.storage_bytes += size - was;
        let statement =
            sqlx::query("DELETE FROM record_unique_values WHERE tenant_id = $1 AND record_id = $2")
                .bind(self.t())
                .bind(change.id.as_uuid());
        self.tx.execute(statement).await?;
        self.insert_unique_values(&change.collection, change.id, &change.unique_values)
            .await?;
        Ok(Write::Done(record))
    }

    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>> {
        let was = match self
            .lock_for_write(collection, id, expected_version)
            .await?
        {
            Ok(size) => size,
            Err(refused) => return Ok(refused),
        };
        let sql = format!(
            "DELETE FROM records WHERE tenant_id = $1 AND id = $2 RETURNING {RECORD_COLUMNS}"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        let record = self.tx.one(statement, record_row).await?;
        self.usage.records -= 1;
        self.usage.storage_bytes -= was;
        Ok(Write::Done(record))
    }

    async fn list_records(&mut self, collection: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let mut sql = QueryBuilder::<Postgres>::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = "
        ));
        sql.push_bind(self.t());
        sql.push(" AND collection = ")
            .push_bind(collection.to_owned());
        if let Some(owner) = &query.owner {
            sql.push(" AND owner_id = ").push_bind(*owner.as_uuid());
        }
        if let Some(filter) = &query.filter {
            sql.push(" AND (");
            record_query::push_filter(&mut sql, filter);
            sql.push(")");
        }
        let order = query.order();
        if let Some(cursor) = &query.after {
            sql.push(" AND ");
            record_query::push_after(&mut sql, &order, cursor);
        }
        sql.push(" ORDER BY ").push(record_query::order_by(&order));
        // A literal (a u32, so nothing to inject): with the limit bound,
        // PostgreSQL planned every list afresh (a custom plan each time, never
        // a generic one), which cost more than the query.
        sql.push(format_args!(" LIMIT {}", query.limit));
        self.tx.all(sql.build(), record_row).await
    }

    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>> {
        let statement = sqlx::query(
            "SELECT record_id FROM record_unique_values
             WHERE tenant_id = $1 AND collection = $2 AND field = $3 AND value = $4",
        )
        .bind(self.t())
        .bind(collection)
        .bind(field)
        .bind(value);
        let holder = self.tx.optional(statement, |row| row.try_get(0)).await?;
        Ok(holder.map(RecordId::from_uuid))
    }
}
