//! `POST /v1/tenants/{t}/invitations` and `POST /v1/invitations/accept`.

use reqwest::Method;

use crate::path::tenant_path;
use crate::types::{
    AcceptInvitationRequest, AcceptedMembership, CreateInvitationRequest, InvitationCreated,
};
use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/tenants/{t}/invitations` (201): the token is in the answer
    /// and nowhere else.
    pub async fn create_invitation(
        &self,
        tenant: &str,
        request: &CreateInvitationRequest,
    ) -> Result<InvitationCreated, ClientError> {
        let path = format!("{}/invitations", tenant_path(tenant));
        self.call_with_body(Method::POST, &path, request).await
    }

    /// `POST /v1/invitations/accept`: join as the signed-in user, whose
    /// email must match the invitation's.
    pub async fn accept_invitation(
        &self,
        request: &AcceptInvitationRequest,
    ) -> Result<AcceptedMembership, ClientError> {
        self.call_with_body(Method::POST, "/v1/invitations/accept", request)
            .await
    }
}
