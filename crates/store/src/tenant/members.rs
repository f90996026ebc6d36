//! The tenant's memberships: who belongs to it, with which role.

use async_trait::async_trait;
use bulkhead_domain::{Role, UserId};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::model::{Member, Membership, NewMembership, Page};

#[async_trait]
pub trait Members: Send {
    async fn insert_membership(
        &mut self,
        membership: NewMembership,
    ) -> Result<Membership, StoreError>;
    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>, StoreError>;
    async fn list_memberships(&mut self, page: Page<UserId>)
    -> Result<Vec<Membership>, StoreError>;
    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<Option<Membership>, StoreError>;
    async fn delete_membership(&mut self, user: UserId) -> Result<bool, StoreError>;
    /// Members with their users' public profiles, ordered by user id.
    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>, StoreError>;
    async fn count_members_with_role(&mut self, role: Role) -> Result<u64, StoreError>;
}
