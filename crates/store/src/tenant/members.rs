//! The tenant's memberships: who belongs to it, with which role.

use async_trait::async_trait;
use bulkhead_domain::{Role, UserId};
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{Member, Membership, NewMembership, Page};

#[async_trait]
pub trait Members: Send {
    async fn insert_membership(&mut self, membership: NewMembership) -> Result<Membership>;
    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>>;
    async fn list_memberships(&mut self, page: Page<UserId>) -> Result<Vec<Membership>>;
    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<Option<Membership>>;
    async fn delete_membership(&mut self, user: UserId) -> Result<bool>;
    /// Members with their users' public profiles, ordered by user id.
    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>>;
    async fn count_members_with_role(&mut self, role: Role) -> Result<u64>;
}
