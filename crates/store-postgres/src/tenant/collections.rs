//! The tenant's collections on PostgreSQL, and what a schema change does to
//! their records.

use async_trait::async_trait;
use bulkhead_domain::TenantId;
use bulkhead_domain::collection::FieldType;
use bulkhead_store::{
    Collection, CollectionChange, Collections, NewCollection, Result, Write, record_index,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgTenantTx;
use crate::record_query;

const COLLECTION_COLUMNS: &str = "tenant_id, name, schema, version, created_at, updated_at";

fn collection_row(row: &PgRow) -> sqlx::Result<Collection> {
    Ok(Collection {
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        name: row.try_get("name")?,
        schema: row.try_get("schema")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The collection's visibility is not stored apart on PostgreSQL (SQLite
/// keeps a copy for its planner), so `visibility` is not read here.
#[async_trait]
impl Collections for PgTenantTx {
    async fn insert_collection(&mut self, new: NewCollection) -> Result<Collection> {
        let sql = format!(
            "INSERT INTO collections (tenant_id, name, schema, version, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4) RETURNING {COLLECTION_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(&new.name)
            .bind(&new.schema)
            .bind(new.at);
        let inserted = self.tx.one(statement, collection_row).await?;
        self.usage.collections += 1;
        Ok(inserted)
    }

    async fn collection(&mut self, name: &str) -> Result<Option<Collection>> {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 AND name = $2"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(name);
        self.tx.optional(statement, collection_row).await
    }

    /// `jsonb` renders the same value as the same text, so equal text means
    /// an unchanged schema.
    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>> {
        let statement =
            sqlx::query("SELECT schema::text FROM collections WHERE tenant_id = $1 AND name = $2")
                .bind(self.t())
                .bind(name);
        self.tx.optional(statement, |row| row.try_get(0)).await
    }

    async fn list_collections(&mut self) -> Result<Vec<Collection>> {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 ORDER BY name COLLATE \"C\""
        );
        let statement = sqlx::query(&sql).bind(self.t());
        self.tx.all(statement, collection_row).await
    }

    async fn update_collection(&mut self, change: CollectionChange) -> Result<Write<Collection>> {
        let sql = format!(
            "UPDATE collections SET schema = $3, version = version + 1, updated_at = $5
             WHERE tenant_id = $1 AND name = $2 AND version = $4 RETURNING {COLLECTION_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(&change.name)
            .bind(&change.schema)
            .bind(change.expected_version)
            .bind(change.at);
        let updated = self.tx.optional(statement, collection_row).await?;
        Ok(match updated {
            Some(collection) => Write::Done(collection),
            None => Write::missed(
                self.collection(&change.name)
                    .await?
                    .map(|current| current.version),
            ),
        })
    }

    async fn delete_collection(&mut self, name: &str) -> Result<bool> {
        // Its records go with it (a cascading foreign key), so they leave
        // the usage too. Locking them first keeps a concurrent change of
        // one from slipping between the count and the delete.
        let statement = sqlx::query(
            "WITH gone AS (
                 SELECT size_bytes FROM records WHERE tenant_id = $1 AND collection = $2 FOR UPDATE)
             SELECT count(*), coalesce(sum(size_bytes), 0)::bigint FROM gone",
        )
        .bind(self.t())
        .bind(name);
        let (records, bytes): (i64, i64) = self
            .tx
            .one(statement, |row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .await?;
        let statement = sqlx::query("DELETE FROM collections WHERE tenant_id = $1 AND name = $2")
            .bind(self.t())
            .bind(name);
        let deleted = self.tx.execute(statement).await? > 0;
        if deleted {
            self.usage.collections -= 1;
            self.usage.records -= records;
            self.usage.storage_bytes -= bytes;
        }
        Ok(deleted)
    }

    async fn remove_record_field(&mut self, collection: &str, field: &str) -> Result<u64> {
        // The rows are locked and their sizes read in the statement that
        // changes them, so what the usage gains is exactly what they grew.
        let statement = sqlx::query(
            "WITH old AS (
                 SELECT id, size_bytes FROM records
                 WHERE tenant_id = $1 AND collection = $2 AND data ? $3 FOR UPDATE),
             changed AS (
                 UPDATE records r SET data = r.data - $3,
                     size_bytes = octet_length((r.data - $3)::text)
                 FROM old WHERE r.tenant_id = $1 AND r.id = old.id
                 RETURNING r.size_bytes - old.size_bytes AS grown)
             SELECT count(*), coalesce(sum(grown), 0)::bigint FROM changed",
        )
        .bind(self.t())
        .bind(collection)
        .bind(field);
        let (changed, grown): (i64, i64) = self
            .tx
            .one(statement, |row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .await?;
        self.usage.storage_bytes += grown;
        let changed = u64::try_from(changed).unwrap_or(0);
        self.tx
            .execute(
                sqlx::query(
                    "DELETE FROM record_unique_values
                     WHERE tenant_id = $1 AND collection = $2 AND field = $3",
                )
                .bind(self.t())
                .bind(collection)
                .bind(field),
            )
            .await?;
        Ok(changed)
    }

    async fn ensure_record_index(&mut self, fields: &[(String, FieldType)]) -> Result<()> {
        let Some((name, expressions)) = record_index(fields, record_query::order_expression) else {
            return Ok(());
        };
        let statement = sqlx::query("SELECT bulkhead_ensure_record_index($1, $2)")
            .bind(&name)
            .bind(&expressions);
        self.tx.execute(statement).await?;
        Ok(())
    }
}
