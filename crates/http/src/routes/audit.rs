//! `/v1/tenants/{t}/audit`.

use axum::Json;
use axum::extract::{Query, State};
use bulkhead_api_types::{AuditList, AuditQuery, Problem};
use bulkhead_service::Tenancy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Ctx, Tenant, cursor, page_limit};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// The tenant's audit log, newest first (admin and up).
#[utoipa::path(get, path = "/v1/tenants/{t}/audit", tag = "audit", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), AuditQuery),
    responses((status = 200, body = AuditList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_audit(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = page_limit(query.limit)?;
    let actor = match query.actor.as_deref() {
        None | Some("") => None,
        Some(actor) => Some(
            uuid::Uuid::try_parse(actor)
                .map_err(|_| ApiError::bad_request("actor must be a user or API key id"))?,
        ),
    };
    let store_query = bulkhead_store::AuditQuery {
        before_seq: cursor::<i64>(query.cursor.as_deref())?,
        action: query.action.filter(|a| !a.is_empty()),
        actor_id: actor,
        since: query.since,
        until: query.until,
        limit,
    };
    let entries = tenancy.list_audit(&access, store_query, &ctx).await?;
    let (items, next_cursor) = views::page(&entries, views::audit_entry);
    Ok(Json(AuditList { items, next_cursor }))
}
