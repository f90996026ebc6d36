//! User accounts, which are platform-wide.

use async_trait::async_trait;
use bulkhead_domain::{EmailLookup, UserId};
use time::OffsetDateTime;

use crate::error::Result;
use crate::model::{EmailKeyCollision, NewUser, User};

#[async_trait]
pub trait Users: Send {
    async fn insert_user(&mut self, user: NewUser) -> Result<User>;
    async fn user(&mut self, id: UserId) -> Result<Option<User>>;
    /// The account whose email key is `email.key`. Of accounts that share a
    /// key (see [`EmailKeyCollision`]) it is the one stored exactly as
    /// `email.as_stored_before_keys`, or else the one holding the key.
    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>>;
    /// Every group of accounts that share an email key, oldest first.
    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>>;
    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool>;
    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool>;
    async fn count_platform_admins(&mut self) -> Result<u64>;
}
