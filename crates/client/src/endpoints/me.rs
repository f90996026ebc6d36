//! `GET /v1/me` and `/v1/me/sessions`.

use reqwest::Method;
use uuid::Uuid;

use crate::types::{MeResponse, SessionList};
use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/me`: the signed-in user and their memberships.
    pub async fn me(&self) -> Result<MeResponse, ClientError> {
        self.call(Method::GET, "/v1/me").await
    }

    /// `GET /v1/me/sessions`: the user's live sessions.
    pub async fn list_sessions(&self) -> Result<SessionList, ClientError> {
        self.call(Method::GET, "/v1/me/sessions").await
    }

    /// `DELETE /v1/me/sessions/{id}`: revoke one of the user's sessions.
    pub async fn revoke_session(&self, session_id: Uuid) -> Result<(), ClientError> {
        self.call_for_nothing(Method::DELETE, &format!("/v1/me/sessions/{session_id}"))
            .await
    }
}
