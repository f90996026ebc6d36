//! The tenant's invitations to join it.

use async_trait::async_trait;
use bulkhead_domain::{InvitationId, UserId};
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{Invitation, NewInvitation, Page};

#[async_trait]
pub trait Invitations: Send {
    async fn insert_invitation(&mut self, invitation: NewInvitation) -> Result<Invitation>;
    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>>;
    async fn list_invitations(&mut self, page: Page<InvitationId>) -> Result<Vec<Invitation>>;
    /// Marks an unexpired, unaccepted invitation accepted, atomically: of
    /// any number of concurrent callers exactly one gets `true`.
    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool>;
    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool>;
}
