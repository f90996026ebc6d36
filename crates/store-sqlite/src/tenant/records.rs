//! The records of the tenant's collections on SQLite, and their unique
//! values.

use async_trait::async_trait;
use bulkhead_domain::RecordId;
use bulkhead_store::{
    Document, NewRecord, Record, RecordChange, RecordQuery, Records, Result, StoreError,
    UniqueValue, Write,
};
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, params, params_from_iter};

use super::SqliteTenantTx;
use crate::codec::{Micros, id_col, id_param, stored_time};
use crate::record_query;
use crate::rows::{self, RECORD_COLUMNS};

impl SqliteTenantTx {
    fn insert_unique_values(
        &self,
        collection: &str,
        id: RecordId,
        values: &[UniqueValue],
    ) -> Result<()> {
        let sql =
            "INSERT INTO record_unique_values (tenant_id, collection, field, value, record_id)
                   VALUES (?1, ?2, ?3, ?4, ?5)";
        for unique in values {
            let binds = params![
                self.t(),
                collection,
                unique.field,
                unique.value,
                id_param(&id)
            ];
            self.tx.statement(sql, |s| s.execute(binds))?;
        }
        Ok(())
    }

    fn find_record(&self, collection: &str, id: RecordId) -> Result<Option<Record>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = ?1 AND id = ?2 AND collection = ?3"
        );
        let binds = params![self.t(), id_param(&id), collection];
        self.tx
            .statement(&sql, |s| s.query_row(binds, rows::record).optional())
    }

    /// The size a record's document was counted at.
    fn stored_size(&self, id: RecordId) -> Result<i64> {
        let size = self.tx.statement(
            "SELECT size_bytes FROM records WHERE tenant_id = ?1 AND id = ?2",
            |s| {
                s.query_row(params![self.t(), id_param(&id)], |row| row.get(0))
                    .optional()
            },
        )?;
        Ok(size.unwrap_or(0))
    }

    /// The current version of a record, for conditional writes.
    fn check_version(
        &self,
        collection: &str,
        id: RecordId,
        expected: Option<i64>,
    ) -> Result<Option<Write<Record>>> {
        let current = self.find_record(collection, id)?;
        Ok(Write::refusal(
            current.map(|record| record.version),
            expected,
        ))
    }
}

/// What a document counts toward the storage quota: its bytes as stored.
fn document_size(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Records for SqliteTenantTx {
    async fn insert_record(&mut self, new: NewRecord) -> Result<Record> {
        // The record is returned as written, not read back: parsing its
        // document again cost the writer time that every queued write waits
        // for. owner_only is the collection's (0 for a missing collection,
        // which the foreign key then refuses).
        let data = Document::from_value(&new.data)
            .map_err(|e| StoreError::Internal(format!("record document: {e}")))?;
        let size = document_size(data.as_str());
        let binds = params![
            self.t(),
            id_param(&new.id),
            new.collection,
            new.owner_id.as_ref().map(id_param),
            Micros(new.at),
            data.as_str(),
            size
        ];
        self.tx.statement(
            "INSERT INTO records (tenant_id, id, collection, owner_id, version, created_at, updated_at, data, owner_only, size_bytes)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6,
                     coalesce((SELECT owner_only FROM collections WHERE tenant_id = ?1 AND name = ?3), 0), ?7)",
            |s| s.execute(binds),
        )?;
        self.insert_unique_values(&new.collection, new.id, &new.unique_values)?;
        self.usage.records += 1;
        self.usage.storage_bytes += size;
        let at = stored_time(new.at);
        Ok(Record {
            tenant_id: self.tenant,
            id: new.id,
            collection: new.collection,
            owner_id: new.owner_id,
            version: 1,
            created_at: at,
            updated_at: at,
            data,
        })
    }

    async fn record(&mut self, collection: &str, id: RecordId) -> Result<Option<Record>> {
        self.find_record(collection, id)
    }

    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>> {
        let expected = change.expected_version;
        if let Some(refused) = self.check_version(&change.collection, change.id, expected)? {
            return Ok(refused);
        }
        let was = self.stored_size(change.id)?;
        let data = change.data.to_string();
        let size = document_size(&data);
        let sql = format!(
            "UPDATE records SET data = ?3, version = version + 1, updated_at = ?4, size_bytes = ?5
             WHERE tenant_id = ?1 AND id = ?2 RETURNING {RECORD_COLUMNS}"
        );
        let binds = params![
            self.t(),
            id_param(&change.id),
            data,
            Micros(change.at),
            size
        ];
        let record = self
            .tx
            .statement(&sql, |s| s.query_row(binds, rows::record))?;
        self.usage.storage_bytes += size - was;
        self.tx.statement(
            "DELETE FROM record_unique_values WHERE tenant_id = ?1 AND record_id = ?2",
            |s| s.execute(params![self.t(), id_param(&change.id)]),
        )?;
        self.insert_unique_values(&change.collection, change.id, &change.unique_values)?;
        Ok(Write::Done(record))
    }

    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>> {
        if let Some(refused) = self.check_version(collection, id, expected_version)? {
            return Ok(refused);
        }
        let was = self.stored_size(id)?;
        let sql = format!(
            "DELETE FROM records WHERE tenant_id = ?1 AND id = ?2 RETURNING {RECORD_COLUMNS}"
        );
        let record = self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], rows::record)
        })?;
        self.usage.records -= 1;
        self.usage.storage_bytes -= was;
        Ok(Write::Done(record))
    }

    async fn list_records(&mut self, collection: &str, query: &RecordQuery) -> Result<Vec<Record>> {
        let mut params: Vec<Sql> = vec![
            Sql::Blob(self.t().to_vec()),
            Sql::Text(collection.to_owned()),
        ];
        let mut sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = ?1 AND collection = ?2"
        );
        if let Some(owner) = &query.owner {
            params.push(Sql::Blob(id_param(owner).to_vec()));
            sql.push_str(&format!(" AND owner_id = ?{}", params.len()));
            // In an owner-visibility collection every record has
            // owner_only = 1; saying so, as a literal, is what lets SQLite use
            // the partial index ix_records_owner (migration 0004). Elsewhere
            // (the service never asks) the owner is a plain filter.
            if self.collection_is_owner_only(collection)? {
                sql.push_str(" AND owner_only = 1");
            }
        }
        let order = query.order();
        if let Some(filter) = &query.filter {
            let leading_sort = order.first().map(|key| &key.field);
            let fragment = record_query::filter(filter, params.len(), leading_sort);
            sql.push_str(&format!(" AND ({})", fragment.sql));
            params.extend(fragment.params);
        }
        if let Some(cursor) = &query.after {
            let fragment = record_query::after(&order, cursor, params.len());
            sql.push_str(&format!(" AND {}", fragment.sql));
            params.extend(fragment.params);
        }
        params.push(Sql::Integer(i64::from(query.limit)));
        sql.push_str(&format!(
            " ORDER BY {} LIMIT ?{}",
            record_query::order_by(&order),
            params.len()
        ));
        self.tx.statement(&sql, |s| {
            s.query_map(params_from_iter(params.iter()), rows::record)?
                .collect()
        })
    }

    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>> {
        let sql = "SELECT record_id FROM record_unique_values
                   WHERE tenant_id = ?1 AND collection = ?2 AND field = ?3 AND value = ?4";
        let binds = params![self.t(), collection, field, value];
        self.tx
            .statement(sql, |s| s.query_row(binds, |row| id_col(row, 0)).optional())
    }
}
