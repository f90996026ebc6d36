//! User accounts on PostgreSQL.

use async_trait::async_trait;
use bulkhead_domain::{EmailLookup, UserId};
use bulkhead_store::{EmailKeyCollision, NewUser, Result, User, Users};
use sqlx::Row;
use time::OffsetDateTime;

use super::PgPlatformTx;
use crate::codec::{self, USER_COLUMNS};
use crate::email_keys;

#[async_trait]
impl Users for PgPlatformTx {
    async fn insert_user(&mut self, user: NewUser) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, password_hash, is_platform_admin, created_at, updated_at)
             VALUES ($1, $2, $7, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(user.id.as_uuid())
            .bind(user.email.as_str())
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.is_platform_admin)
            .bind(user.at)
            .bind(user.email.key().as_str());
        self.tx.one(statement, codec::user).await
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let statement = sqlx::query(&sql).bind(id.as_uuid());
        self.tx.optional(statement, codec::user).await
    }

    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_key = $1
             ORDER BY email = $2 DESC, email_key_collision LIMIT 1"
        );
        let statement = sqlx::query(&sql)
            .bind(email.key.as_str())
            .bind(&email.as_stored_before_keys);
        self.tx.optional(statement, codec::user).await
    }

    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>> {
        let result = email_keys::collisions(self.tx.connection()).await;
        self.tx.track(result)
    }

    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let statement =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(hash)
                .bind(at);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let statement =
            sqlx::query("UPDATE users SET deactivated_at = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(at)
                .bind(now);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn count_platform_admins(&mut self) -> Result<u64> {
        let statement = sqlx::query(
            "SELECT count(*) FROM users WHERE is_platform_admin AND deactivated_at IS NULL",
        );
        let n: i64 = self.tx.one(statement, |row| row.try_get(0)).await?;
        Ok(n.unsigned_abs())
    }
}
