//! Creating accounts.

use bulkhead_domain::{Clock, Email, Password, UserId};
use bulkhead_store::{Access, ConflictKind, EmailKeyCollision, NewUser, Store, StoreError, User};

use crate::{ServiceError, passwords};

/// Creates a platform administrator: a user with `is_platform_admin` set and
/// no tenant membership.
///
/// Nothing is written to any tenant's audit log, because no tenant is
/// involved. The platform-level audit trail does not exist yet; when it does,
/// this is one of the events it must record, in this same transaction.
pub async fn create_platform_admin(
    store: &dyn Store,
    clock: &dyn Clock,
    email: Email,
    password: &Password,
) -> Result<User, ServiceError> {
    // Hash before opening the transaction, so the write lock is not held
    // for the tens of milliseconds Argon2 takes.
    let password_hash = passwords::hash_password(password)?;
    let mut tx = store.platform(Access::Write).await?;
    let user = tx
        .insert_user(NewUser {
            id: UserId::new(),
            email,
            display_name: None,
            password_hash,
            is_platform_admin: true,
            at: clock.now(),
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict(ConflictKind::UserEmail) => ServiceError::EmailTaken,
            other => ServiceError::Store(other),
        })?;
    tx.commit().await?;
    Ok(user)
}

/// Groups of accounts from before email keys whose addresses share a key
/// (see [`EmailKeyCollision`]), for the operator to resolve.
pub async fn email_key_collisions(
    store: &dyn Store,
) -> Result<Vec<EmailKeyCollision>, ServiceError> {
    let mut tx = store.platform(Access::Read).await?;
    Ok(tx.email_key_collisions().await?)
}

#[cfg(test)]
mod tests;
