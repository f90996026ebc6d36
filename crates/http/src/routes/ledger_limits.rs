//! `/v1/tenants/{t}/ledger/limit-profiles*` (`ledger.admin`): the caps an
//! account's payments keep to, per payment, UTC day and UTC month.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulkhead_api_types::{LimitProfileList, LimitProfileRequest, LimitProfileView, Problem};
use bulkhead_service::Ledger;
use bulkhead_service::ledger::{LimitProfile, ProfileChange};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Ctx, Tenant};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_limit_profiles, create_limit_profile))
        .routes(routes!(update_limit_profile))
}

fn view(profile: LimitProfile) -> LimitProfileView {
    LimitProfileView {
        name: profile.row.name,
        single: profile.row.single,
        daily: profile.row.daily,
        monthly: profile.row.monthly,
        default: profile.default,
    }
}

/// A cap of the request: left out, `null`, or a value.
fn cap(value: &Option<Option<String>>) -> Option<Option<&str>> {
    value.as_ref().map(|value| value.as_deref())
}

fn change(body: &LimitProfileRequest) -> ProfileChange<'_> {
    ProfileChange {
        single: cap(&body.single),
        daily: cap(&body.daily),
        monthly: cap(&body.monthly),
    }
}

/// Every profile: the defaults (`bronze`, `silver`, `gold`, `platinum`)
/// unless changed, and the tenant's own.
#[utoipa::path(get, path = "/v1/tenants/{t}/ledger/limit-profiles", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    responses((status = 200, body = LimitProfileList), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_limit_profiles(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
) -> Result<Json<LimitProfileList>, ApiError> {
    let profiles = ledger.limit_profiles(&access, &ctx).await?;
    Ok(Json(LimitProfileList {
        items: profiles.into_iter().map(view).collect(),
    }))
}

/// Creates a profile; its name may not be taken (the defaults' included).
#[utoipa::path(post, path = "/v1/tenants/{t}/ledger/limit-profiles", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = LimitProfileRequest,
    responses((status = 201, body = LimitProfileView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "limit_profile_exists", body = Problem),
        (status = 422, description = "validation_failed (name, caps)", body = Problem)))]
async fn create_limit_profile(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<LimitProfileRequest>,
) -> Result<(StatusCode, Json<LimitProfileView>), ApiError> {
    let name = body.name.as_deref().unwrap_or_default();
    let profile = ledger
        .write_limit_profile(&access, name, &change(&body), true, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(view(profile))))
}

/// Changes a profile's caps (a default one too): a cap left out stays,
/// `null` removes it.
#[utoipa::path(patch, path = "/v1/tenants/{t}/ledger/limit-profiles/{name}", tag = "ledger", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id"), ("name" = String, Path, description = "the profile's name")),
    request_body = LimitProfileRequest,
    responses((status = 200, body = LimitProfileView), (status = 403, body = Problem),
        (status = 404, description = "limit_profile_not_found", body = Problem),
        (status = 422, description = "validation_failed (caps, or a name in the body)", body = Problem)))]
async fn update_limit_profile(
    State(ledger): State<Ledger>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    Path((_, name)): Path<(String, String)>,
    AppJson(body): AppJson<LimitProfileRequest>,
) -> Result<Json<LimitProfileView>, ApiError> {
    if body.name.as_ref().is_some_and(|renamed| *renamed != name) {
        return Err(ApiError::from(bulkhead_service::ServiceError::invalid(
            "name",
            "read_only",
            "a profile keeps its name",
        )));
    }
    let profile = ledger
        .write_limit_profile(&access, &name, &change(&body), false, &ctx)
        .await?;
    Ok(Json(view(profile)))
}
