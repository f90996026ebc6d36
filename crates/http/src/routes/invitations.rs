//! `/v1/tenants/{t}/invitations` and `/v1/invitations/accept`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bulkhead_api_types::{
    AcceptInvitationRequest, AcceptedMembership, CreateInvitationRequest, InvitationCreated,
    Problem,
};
use bulkhead_service::Tenancy;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{AppJson, Auth, Ctx, Tenant};
use crate::{ApiError, AppState, views};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invitation))
        .routes(routes!(accept_invitation))
}

/// Invites an email address with a role; the token is shown once.
#[utoipa::path(post, path = "/v1/tenants/{t}/invitations", tag = "invitations", security(("bearer" = [])),
    params(("t" = String, Path, description = "the tenant's slug or id")),
    request_body = CreateInvitationRequest,
    responses((status = 201, body = InvitationCreated), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn create_invitation(
    State(tenancy): State<Tenancy>,
    Tenant(access): Tenant,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<CreateInvitationRequest>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    let created = tenancy
        .create_invitation(&access, &body.email, views::domain_role(body.role), &ctx)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationCreated {
            id: *created.id.as_uuid(),
            token: created.token,
            expires_at: created.expires_at,
        }),
    ))
}

/// Accepts an invitation for the signed-in user whose email it names.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "invitations", security(("bearer" = [])),
    request_body = AcceptInvitationRequest,
    responses((status = 200, body = AcceptedMembership), (status = 403, description = "forbidden, or quota_exceeded: `quota` names the plan's limit", body = Problem),
        (status = 404, description = "invitation_not_found", body = Problem),
        (status = 409, description = "invitation_used, invitation_expired or already_member", body = Problem)))]
async fn accept_invitation(
    State(tenancy): State<Tenancy>,
    Auth(principal): Auth,
    Ctx(ctx): Ctx,
    AppJson(body): AppJson<AcceptInvitationRequest>,
) -> Result<Json<AcceptedMembership>, ApiError> {
    let accepted = tenancy
        .accept_invitation(&principal, &body.token, &ctx)
        .await?;
    Ok(Json(AcceptedMembership {
        tenant: views::tenant_ref(&accepted.tenant),
        role: views::role(accepted.role),
        joined_at: accepted.joined_at,
    }))
}
