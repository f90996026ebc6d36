//! The records of the tenant's collections, and their unique values.

use async_trait::async_trait;
use bulkhead_domain::RecordId;

use crate::error::Result;
use crate::records::{NewRecord, Record, RecordChange, RecordQuery, Write};

#[async_trait]
pub trait Records: Send {
    /// Inserts a record; a taken unique value is `Conflict(UniqueValue)`.
    async fn insert_record(&mut self, record: NewRecord) -> Result<Record>;
    async fn record(&mut self, collection: &str, id: RecordId) -> Result<Option<Record>>;
    /// Replaces a record's document, bumping its version.
    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>>;
    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>>;
    async fn list_records(&mut self, collection: &str, query: &RecordQuery) -> Result<Vec<Record>>;
    /// Which record holds a unique value, if any.
    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>>;
}
