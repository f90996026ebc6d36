//! Collections: tenant-defined record types (manager and up to change).
//!
//! A collection's schema is validated here ([`CollectionSchema`]), stored by
//! the store as JSON, and re-read for every record operation. Changes that
//! could invalidate stored records are refused
//! ([`schema_change_issues`]); declared indexes become database indexes.

use bulkhead_domain::Permission;
use bulkhead_domain::collection::{
    CollectionSchema, FieldType, SchemaDraft, SchemaIssue, schema_change_issues,
};
use bulkhead_store::{
    Access, Collection, CollectionChange, ConflictKind, Invalidation, NewCollection, StoreError,
    TenantTx, Write,
};

use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::data::Data;
use crate::error::FieldError;
use crate::shared::Permit;

/// A collection with its parsed schema.
#[derive(Debug, Clone)]
pub struct CollectionInfo {
    pub schema: CollectionSchema,
    pub row: Collection,
}

fn issues(issues: Vec<SchemaIssue>) -> ServiceError {
    ServiceError::Validation(
        issues
            .into_iter()
            .map(|issue| FieldError {
                field: issue.path,
                code: "invalid_schema",
                message: issue.message,
            })
            .collect(),
    )
}

pub(crate) fn parse_stored(row: Collection) -> Result<CollectionInfo, ServiceError> {
    let schema: CollectionSchema = serde_json::from_value(row.schema.clone())
        .map_err(|e| ServiceError::Store(StoreError::internal(e)))?;
    Ok(CollectionInfo { schema, row })
}

/// Relation fields must point at collections of this tenant (or itself).
async fn check_relations(
    tx: &mut dyn TenantTx,
    schema: &CollectionSchema,
) -> Result<(), ServiceError> {
    let mut problems = Vec::new();
    for (i, field) in schema.fields().iter().enumerate() {
        if let FieldType::Relation { collection } = &field.field_type
            && collection != schema.name()
            && tx.collection(collection.as_str()).await?.is_none()
        {
            problems.push(SchemaIssue {
                path: format!("fields[{i}].collection"),
                message: format!("there is no collection {collection:?} in this tenant"),
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(issues(problems))
    }
}

/// Creates the database indexes the schema declares, in a transaction of
/// their own once the schema's has committed. Under Citus an index is made
/// by the schema's owner (through `bulkhead_ensure_record_index`), and Citus
/// refuses that role the shards the runtime role has written earlier in the
/// same transaction. A crash between the two transactions leaves a
/// collection without its index, which is slower, not wrong, until the next
/// change of its schema makes it.
async fn ensure_indexes(permit: Permit<'_>, schema: &CollectionSchema) -> Result<(), ServiceError> {
    if schema.indexes().is_empty() {
        return Ok(());
    }
    let mut tx = permit.open(Access::Write).await?;
    for index in schema.indexes() {
        let fields: Vec<(String, FieldType)> = index
            .iter()
            .filter_map(|name| {
                schema
                    .field(name.as_str())
                    .map(|f| (name.to_string(), f.field_type.clone()))
            })
            .collect();
        tx.ensure_record_index(&fields).await?;
    }
    tx.commit().await?;
    Ok(())
}

impl Data {
    /// The permit of a change to the tenant's collections (manager and up).
    async fn manage<'a>(
        &'a self,
        access: &'a TenantAccess,
        ctx: &'a RequestContext,
        action: &str,
    ) -> Result<Permit<'a>, ServiceError> {
        self.core
            .permit(access, ctx, Permission::CollectionsManage, action)
            .await
    }

    pub async fn create_collection(
        &self,
        access: &TenantAccess,
        draft: SchemaDraft,
        ctx: &RequestContext,
    ) -> Result<CollectionInfo, ServiceError> {
        let permit = self.manage(access, ctx, "collection.create").await?;
        let schema = CollectionSchema::from_draft(draft).map_err(issues)?;
        let mut tx = permit.open(Access::Write).await?;
        check_relations(&mut *tx, &schema).await?;
        let stored = serde_json::to_value(&schema)
            .map_err(|e| ServiceError::Store(StoreError::internal(e)))?;
        let row = match tx
            .insert_collection(NewCollection {
                name: schema.name().to_string(),
                schema: stored,
                visibility: schema.visibility(),
                at: self.core.now(),
            })
            .await
        {
            Ok(row) => row,
            Err(StoreError::Conflict(ConflictKind::Collection)) => {
                return Err(ServiceError::Conflict("collection_exists"));
            }
            Err(error) => return Err(error.into()),
        };
        let details = serde_json::json!({
            "fields": schema.fields().len(),
            "visibility": schema.visibility().as_str(),
        });
        tx.audit(
            "collection.create",
            ("collection", Some(row.name.clone())),
            details,
        )
        .await?;
        // Evicts the cached schemas of this tenant's record reads.
        tx.invalidate(Invalidation::Collections(access.tenant_id()));
        tx.commit().await?;
        ensure_indexes(permit, &schema).await?;
        Ok(CollectionInfo { schema, row })
    }

    pub async fn list_collections(
        &self,
        access: &TenantAccess,
        ctx: &RequestContext,
    ) -> Result<Vec<CollectionInfo>, ServiceError> {
        let mut tx = self
            .core
            .tenant_work(
                access,
                ctx,
                Permission::RecordsRead,
                "collection.list",
                Access::Read,
            )
            .await?;
        tx.list_collections()
            .await?
            .into_iter()
            .map(parse_stored)
            .collect()
    }

    pub async fn get_collection(
        &self,
        access: &TenantAccess,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<CollectionInfo, ServiceError> {
        let permit = self
            .core
            .permit(access, ctx, Permission::RecordsRead, "collection.read")
            .await?;
        if bulkhead_domain::collection::CollectionName::parse(name).is_err() {
            return Err(ServiceError::NotFound("collection_not_found"));
        }
        let mut tx = permit.open(Access::Read).await?;
        let row = tx
            .collection(name)
            .await?
            .ok_or(ServiceError::NotFound("collection_not_found"))?;
        parse_stored(row)
    }

    /// Replaces a collection's schema, refusing changes that could
    /// invalidate stored records. With `expected_version`, only if the
    /// collection is still at that version.
    pub async fn update_collection(
        &self,
        access: &TenantAccess,
        name: &str,
        draft: SchemaDraft,
        expected_version: Option<i64>,
        ctx: &RequestContext,
    ) -> Result<CollectionInfo, ServiceError> {
        let permit = self.manage(access, ctx, "collection.update").await?;
        if bulkhead_domain::collection::CollectionName::parse(name).is_err() {
            return Err(ServiceError::NotFound("collection_not_found"));
        }
        let schema = CollectionSchema::from_draft(draft).map_err(issues)?;
        let mut tx = permit.open(Access::Write).await?;
        let current = parse_stored(
            tx.collection(name)
                .await?
                .ok_or(ServiceError::NotFound("collection_not_found"))?,
        )?;
        if let Some(expected) = expected_version
            && expected != current.row.version
        {
            return Err(ServiceError::VersionMismatch {
                current: current.row.version,
            });
        }
        let problems = schema_change_issues(&current.schema, &schema);
        if !problems.is_empty() {
            return Err(issues(problems));
        }
        check_relations(&mut *tx, &schema).await?;
        // Values of removed fields go now, so a later field of the same name
        // (perhaps of another type) never meets them.
        for field in current.schema.fields() {
            if schema.field(field.name.as_str()).is_none() {
                tx.remove_record_field(name, field.name.as_str()).await?;
            }
        }
        let stored = serde_json::to_value(&schema)
            .map_err(|e| ServiceError::Store(StoreError::internal(e)))?;
        let change = CollectionChange {
            name: name.to_owned(),
            schema: stored,
            visibility: schema.visibility(),
            expected_version: current.row.version,
            at: self.core.now(),
        };
        let row = match tx.update_collection(change).await? {
            Write::Done(row) => row,
            Write::NotFound => return Err(ServiceError::NotFound("collection_not_found")),
            Write::VersionMismatch { current } => {
                return Err(ServiceError::VersionMismatch { current });
            }
        };
        tx.audit(
            "collection.update",
            ("collection", Some(row.name.clone())),
            serde_json::json!({ "version": row.version }),
        )
        .await?;
        // Evicts the cached schemas of this tenant's record reads.
        tx.invalidate(Invalidation::Collections(access.tenant_id()));
        tx.commit().await?;
        ensure_indexes(permit, &schema).await?;
        Ok(CollectionInfo { schema, row })
    }

    /// Deletes a collection and all its records.
    pub async fn delete_collection(
        &self,
        access: &TenantAccess,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<(), ServiceError> {
        let permit = self.manage(access, ctx, "collection.delete").await?;
        if bulkhead_domain::collection::CollectionName::parse(name).is_err() {
            return Err(ServiceError::NotFound("collection_not_found"));
        }
        let mut tx = permit.open(Access::Write).await?;
        if !tx.delete_collection(name).await? {
            return Err(ServiceError::NotFound("collection_not_found"));
        }
        tx.audit(
            "collection.delete",
            ("collection", Some(name.to_owned())),
            serde_json::json!({}),
        )
        .await?;
        // Evicts the cached schemas of this tenant's record reads.
        tx.invalidate(Invalidation::Collections(access.tenant_id()));
        tx.commit().await?;
        Ok(())
    }
}
