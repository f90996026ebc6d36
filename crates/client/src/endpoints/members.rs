//! `/v1/tenants/{t}/members`.

use reqwest::Method;
use uuid::Uuid;

use crate::path::tenant_path;
use crate::types::{MemberList, MemberView, PageQuery, UpdateMemberRequest};
use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/tenants/{t}/members`: one page of members.
    pub async fn list_members(
        &self,
        tenant: &str,
        page: &PageQuery,
    ) -> Result<MemberList, ClientError> {
        self.call_with_query(&format!("{}/members", tenant_path(tenant)), page)
            .await
    }

    /// `PATCH /v1/tenants/{t}/members/{user_id}` (admin and above): change a
    /// member's role. Only an owner grants or removes `owner`.
    pub async fn update_member(
        &self,
        tenant: &str,
        user_id: Uuid,
        request: &UpdateMemberRequest,
    ) -> Result<MemberView, ClientError> {
        self.call_with_body(Method::PATCH, &member_path(tenant, user_id), request)
            .await
    }

    /// `DELETE /v1/tenants/{t}/members/{user_id}` (admin and above, or the
    /// member itself). The last owner cannot leave.
    pub async fn remove_member(&self, tenant: &str, user_id: Uuid) -> Result<(), ClientError> {
        self.call_for_nothing(Method::DELETE, &member_path(tenant, user_id))
            .await
    }
}

fn member_path(tenant: &str, user_id: Uuid) -> String {
    format!("{}/members/{user_id}", tenant_path(tenant))
}
