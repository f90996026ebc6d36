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
        self.tx.one(statement, collection_row).await
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
            None => match self.collection(&change.name).await? {
                Some(current) => Write::VersionMismatch {
                    current: current.version,
                },
                None => Write::NotFound,
            },
        })
    }

    async fn delete_collection(&mut self, name: &str) -> Result<bool> {
        let statement = sqlx::query("DELETE FROM collections WHERE tenant_id = $1 AND name = $2")
            .bind(self.t())
            .bind(name);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn remove_record_field(&mut self, collection: &str, field: &str) -> Result<u64> {
        let changed = self
            .tx
            .execute(
                sqlx::query(
                    "UPDATE records SET data = data - $3
                     WHERE tenant_id = $1 AND collection = $2 AND data ? $3",
                )
                .bind(self.t())
                .bind(collection)
                .bind(field),
            )
            .await?;
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

    async fn ensure_record_index(
        &mut self,
        _collection: &str,
        fields: &[(String, FieldType)],
    ) -> Result<()> {
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
