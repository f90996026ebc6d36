//! Reading records: one by id, or a page of them by filter and sort.

use std::sync::Arc;

use bulkhead_domain::collection::{CollectionSchema, Visibility};
use bulkhead_domain::filter::{FilterError, parse, parse_sort, typecheck};
use bulkhead_domain::{Permission, RecordId};
use bulkhead_store::{Access, Cursor, Record, RecordQuery};

use crate::ServiceError;
use crate::context::{RequestContext, TenantAccess};
use crate::data::Data;
use crate::page::Paged;
use crate::shared::TenantWork;

/// What to list: `?filter=&sort=&cursor=&limit=`.
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    pub filter: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: u32,
}

impl Data {
    /// The first steps of every record read: the caller's leave to read,
    /// the tenant's transaction and the collection's schema.
    async fn records_to_read<'a>(
        &'a self,
        access: &'a TenantAccess,
        collection: &str,
        action: &str,
        ctx: &'a RequestContext,
    ) -> Result<(TenantWork<'a>, Arc<CollectionSchema>), ServiceError> {
        let mut tx = self
            .core
            .tenant_work(access, ctx, Permission::RecordsRead, action, Access::Read)
            .await?;
        let schema = self
            .schema_for_read(&mut *tx, access.tenant_id(), collection)
            .await?;
        Ok((tx, schema))
    }

    pub async fn get_record(
        &self,
        access: &TenantAccess,
        collection: &str,
        id: RecordId,
        ctx: &RequestContext,
    ) -> Result<Record, ServiceError> {
        let (mut tx, schema) = self
            .records_to_read(access, collection, "record.read", ctx)
            .await?;
        match tx.record(collection, id).await? {
            Some(record) if Self::may_read(access, &schema, &record) => Ok(record),
            _ => Err(ServiceError::NotFound("record_not_found")),
        }
    }

    /// A page of records matching `filter`, in `sort` order.
    pub async fn list_records(
        &self,
        access: &TenantAccess,
        collection: &str,
        request: &ListRequest<'_>,
        ctx: &RequestContext,
    ) -> Result<Paged<Record>, ServiceError> {
        let ListRequest {
            filter,
            sort,
            cursor,
            limit,
        } = *request;
        let (mut tx, schema) = self
            .records_to_read(access, collection, "record.list", ctx)
            .await?;
        let invalid = |parameter: &'static str| {
            move |error: FilterError| ServiceError::InvalidQuery {
                parameter,
                position: error.position,
                message: error.message,
            }
        };
        for (parameter, text) in [("filter", filter), ("sort", sort)] {
            if let Some(position) = text.and_then(|text| text.find('\0')) {
                return Err(ServiceError::InvalidQuery {
                    parameter,
                    position,
                    message: "a NUL character is not allowed".into(),
                });
            }
        }
        let filter = match filter.filter(|f| !f.trim().is_empty()) {
            Some(text) => Some(
                typecheck(&parse(text).map_err(invalid("filter"))?, &schema)
                    .map_err(invalid("filter"))?,
            ),
            None => None,
        };
        let sort = match sort.filter(|s| !s.trim().is_empty()) {
            Some(text) => parse_sort(text, &schema).map_err(invalid("sort"))?,
            None => Vec::new(),
        };
        let owner = match (schema.visibility(), access.may(Permission::RecordsWriteAny)) {
            (Visibility::Owner, false) => match access.principal().user() {
                Some(user) => Some(user),
                // An API key below manager owns no records of its own.
                None => {
                    return Ok(Paged::empty());
                }
            },
            _ => None,
        };
        let mut query = RecordQuery {
            filter,
            sort,
            after: None,
            owner,
            limit,
        };
        let order = query.order();
        if let Some(text) = cursor.filter(|c| !c.is_empty()) {
            query.after = Some(
                Cursor::decode(text, &order).ok_or(ServiceError::InvalidQuery {
                    parameter: "cursor",
                    position: 0,
                    message: "not a cursor this server handed out for this sort".into(),
                })?,
            );
        }
        let items = tx.list_records(collection, &query).await?;
        Ok(Paged::new(items, limit, |last| {
            Cursor::after_record(last, &order).encode()
        }))
    }
}
