//! The tenant's collections: their schemas, and what a schema change does
//! to the records stored under them.

use async_trait::async_trait;
use bulkhead_domain::collection::FieldType;

use crate::error::Result;
use crate::records::{Collection, CollectionChange, NewCollection, Write};

#[async_trait]
pub trait Collections: Send {
    async fn insert_collection(&mut self, collection: NewCollection) -> Result<Collection>;
    async fn collection(&mut self, name: &str) -> Result<Option<Collection>>;
    /// The collection's schema exactly as stored, as JSON text: what a
    /// caller that keeps parsed schemas by their text compares, instead of
    /// parsing the schema again for every write.
    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>>;
    /// Every collection of the tenant, by name.
    async fn list_collections(&mut self) -> Result<Vec<Collection>>;
    /// Replaces the schema if the collection is at `expected_version`.
    async fn update_collection(&mut self, change: CollectionChange) -> Result<Write<Collection>>;
    /// Deletes the collection and all its records.
    async fn delete_collection(&mut self, name: &str) -> Result<bool>;
    /// Removes a data field from every record of the collection, and its
    /// unique values, when the schema drops the field: a later field of the
    /// same name must not find the old values. Versions are unchanged (it is
    /// a schema change, not a record write). Returns how many records
    /// changed.
    async fn remove_record_field(&mut self, collection: &str, field: &str) -> Result<u64>;
    /// Makes sure an index over these data fields of records exists (led by
    /// tenant and collection). Idempotent. It is one index for every tenant
    /// and collection that declares the same fields
    /// ([`record_index_name`](crate::record_index_name)), so it takes no
    /// collection.
    ///
    /// Call it in a transaction that has written nothing: on PostgreSQL the
    /// schema's owner makes the index, and under Citus that role may not
    /// touch the shards the runtime role has written in the same
    /// transaction.
    async fn ensure_record_index(&mut self, fields: &[(String, FieldType)]) -> Result<()>;
}
