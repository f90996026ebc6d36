//! The tenant's collections on SQLite, and what a schema change does to
//! their records.

use async_trait::async_trait;
use bulkhead_domain::collection::{FieldType, Visibility};
use bulkhead_store::{
    Collection, CollectionChange, Collections, NewCollection, Result, Write, record_index,
};
use rusqlite::{OptionalExtension, params};

use super::SqliteTenantTx;
use crate::codec::Micros;
use crate::record_query;
use crate::rows::{self, COLLECTION_COLUMNS};

/// Whether a collection restricts its records to their owners: what
/// `owner_only` records, on the collection (migration 0005) and on each of
/// its records (migration 0004).
fn owner_only(visibility: Visibility) -> bool {
    visibility == Visibility::Owner
}

impl SqliteTenantTx {
    /// False for a collection that does not exist.
    pub(super) fn collection_is_owner_only(&self, name: &str) -> Result<bool> {
        let sql = "SELECT owner_only FROM collections WHERE tenant_id = ?1 AND name = ?2";
        let owner_only: Option<bool> = self.tx.statement(sql, |s| {
            s.query_row(params![self.t(), name], |row| row.get(0))
                .optional()
        })?;
        Ok(owner_only.unwrap_or(false))
    }

    /// Rewrites `owner_only` on every record of the collection, after a
    /// schema update changed its visibility.
    fn mark_owner_only(&self, name: &str, owner_only: bool) -> Result<()> {
        let sql = "UPDATE records SET owner_only = ?3
                   WHERE tenant_id = ?1 AND collection = ?2 AND owner_only != ?3";
        self.tx
            .statement(sql, |s| s.execute(params![self.t(), name, owner_only]))?;
        Ok(())
    }

    /// How many records a collection holds and their documents' bytes.
    fn collection_size(&self, name: &str) -> Result<(i64, i64)> {
        let sql = "SELECT count(*), coalesce(sum(size_bytes), 0) FROM records
                   WHERE tenant_id = ?1 AND collection = ?2";
        self.tx.statement(sql, |s| {
            s.query_row(params![self.t(), name], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
        })
    }
}

#[async_trait]
impl Collections for SqliteTenantTx {
    async fn insert_collection(&mut self, new: NewCollection) -> Result<Collection> {
        let sql = format!(
            "INSERT INTO collections (tenant_id, name, schema, version, created_at, updated_at, owner_only)
             VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5) RETURNING {COLLECTION_COLUMNS}"
        );
        let binds = params![
            self.t(),
            new.name,
            new.schema.to_string(),
            Micros(new.at),
            owner_only(new.visibility)
        ];
        let inserted = self
            .tx
            .statement(&sql, |s| s.query_row(binds, rows::collection))?;
        self.usage.collections += 1;
        Ok(inserted)
    }

    async fn collection(&mut self, name: &str) -> Result<Option<Collection>> {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = ?1 AND name = ?2"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), name], rows::collection)
                .optional()
        })
    }

    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>> {
        let sql = "SELECT schema FROM collections WHERE tenant_id = ?1 AND name = ?2";
        self.tx.statement(sql, |s| {
            s.query_row(params![self.t(), name], |row| row.get(0))
                .optional()
        })
    }

    async fn list_collections(&mut self) -> Result<Vec<Collection>> {
        let sql = format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = ?1 ORDER BY name"
        );
        self.tx.statement(&sql, |s| {
            s.query_map([self.t()], rows::collection)?.collect()
        })
    }

    async fn update_collection(&mut self, change: CollectionChange) -> Result<Write<Collection>> {
        let was_owner_only = self.collection_is_owner_only(&change.name)?;
        let now_owner_only = owner_only(change.visibility);
        let sql = format!(
            "UPDATE collections SET schema = ?3, owner_only = ?6, version = version + 1, updated_at = ?5
             WHERE tenant_id = ?1 AND name = ?2 AND version = ?4 RETURNING {COLLECTION_COLUMNS}"
        );
        // In a block of its own: the binds are not `Send`, and must be gone
        // before the await below.
        let updated = {
            let binds = params![
                self.t(),
                change.name,
                change.schema.to_string(),
                change.expected_version,
                Micros(change.at),
                now_owner_only
            ];
            self.tx
                .statement(&sql, |s| s.query_row(binds, rows::collection).optional())?
        };
        Ok(match updated {
            Some(collection) => {
                if now_owner_only != was_owner_only {
                    self.mark_owner_only(&change.name, now_owner_only)?;
                }
                Write::Done(collection)
            }
            None => Write::missed(
                self.collection(&change.name)
                    .await?
                    .map(|current| current.version),
            ),
        })
    }

    async fn delete_collection(&mut self, name: &str) -> Result<bool> {
        // Its records go with it (a cascading foreign key), so they leave
        // the usage too.
        let (records, bytes) = self.collection_size(name)?;
        let sql = "DELETE FROM collections WHERE tenant_id = ?1 AND name = ?2";
        let n = self
            .tx
            .statement(sql, |s| s.execute(params![self.t(), name]))?;
        if n > 0 {
            self.usage.collections -= 1;
            self.usage.records -= records;
            self.usage.storage_bytes -= bytes;
        }
        Ok(n > 0)
    }

    async fn remove_record_field(&mut self, collection: &str, field: &str) -> Result<u64> {
        // Field names are [a-z][a-z0-9_]* (FieldName), so the JSON path is
        // well-formed; it is bound anyway.
        let path = format!("$.{field}");
        let (_, bytes_before) = self.collection_size(collection)?;
        let changed = self.tx.statement(
            "UPDATE records SET data = json_remove(data, ?3),
                 size_bytes = length(CAST(json_remove(data, ?3) AS BLOB))
             WHERE tenant_id = ?1 AND collection = ?2 AND json_type(data, ?3) IS NOT NULL",
            |s| s.execute(params![self.t(), collection, path]),
        )?;
        let (_, bytes_after) = self.collection_size(collection)?;
        self.usage.storage_bytes += bytes_after - bytes_before;
        self.tx.statement(
            "DELETE FROM record_unique_values WHERE tenant_id = ?1 AND collection = ?2 AND field = ?3",
            |s| s.execute(params![self.t(), collection, field]),
        )?;
        Ok(changed as u64)
    }

    async fn ensure_record_index(&mut self, fields: &[(String, FieldType)]) -> Result<()> {
        let Some((name, expressions)) = record_index(fields, record_query::order_expression) else {
            return Ok(());
        };
        // DDL cannot bind parameters; the name is hex and the expressions are
        // built from validated field names only.
        let sql = format!(
            "CREATE INDEX IF NOT EXISTS {name} ON records (tenant_id, collection, {})",
            expressions.join(", ")
        );
        let tx = &self.tx;
        tx.connection().execute_batch(&sql).map_err(|e| tx.fail(e))
    }
}
