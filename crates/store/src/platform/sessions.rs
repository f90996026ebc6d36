//! Sign-in sessions and their refresh tokens.

use async_trait::async_trait;
use bulkhead_domain::{SessionId, UserId};
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{NewSession, RefreshToken, Session};

#[async_trait]
pub trait Sessions: Send {
    async fn insert_session(&mut self, session: NewSession) -> Result<Session>;
    async fn session(&mut self, id: SessionId) -> Result<Option<Session>>;
    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>>;
    /// A refresh token, current or rotated, by its SHA-256.
    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>>;
    /// Marks `current` rotated and gives the session `next`, only if
    /// `current` is the session's current token and the session is not
    /// revoked: the atomic claim behind refresh-token rotation. Of any
    /// number of concurrent callers with the same `current`, one wins.
    async fn rotate_refresh_token(
        &mut self,
        session: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool>;
    async fn revoke_session(&mut self, id: SessionId, at: OffsetDateTime) -> Result<bool>;
    async fn revoke_sessions_of_user(&mut self, user: UserId, at: OffsetDateTime) -> Result<u64>;
}
