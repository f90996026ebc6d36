//! User accounts on SQLite.

use async_trait::async_trait;
use bulkhead_domain::{EmailLookup, UserId};
use bulkhead_store::{EmailKeyCollision, NewUser, Result, User, Users};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::SqlitePlatformTx;
use crate::codec::{Micros, id_param, opt_micros};
use crate::email_keys;
use crate::rows::{self, USER_COLUMNS};

#[async_trait]
impl Users for SqlitePlatformTx {
    async fn insert_user(&mut self, user: NewUser) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, password_hash, is_platform_admin, created_at, updated_at)
             VALUES (?1, ?2, ?7, ?3, ?4, ?5, ?6, ?6) RETURNING {USER_COLUMNS}"
        );
        let binds = params![
            id_param(&user.id),
            user.email.as_str(),
            user.display_name,
            user.password_hash,
            user.is_platform_admin,
            Micros(user.at),
            user.email.key().as_str()
        ];
        self.tx.statement(&sql, |s| s.query_row(binds, rows::user))
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::user).optional()
        })
    }

    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email_key = ?1
             ORDER BY email = ?2 DESC, email_key_collision LIMIT 1"
        );
        let binds = params![email.key.as_str(), email.as_stored_before_keys];
        self.tx
            .statement(&sql, |s| s.query_row(binds, rows::user).optional())
    }

    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>> {
        email_keys::collisions(self.tx.connection()).map_err(|error| self.tx.fail(error))
    }

    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";
        let binds = params![id_param(&id), hash, Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }

    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let sql = "UPDATE users SET deactivated_at = ?2, updated_at = ?3 WHERE id = ?1";
        let binds = params![id_param(&id), opt_micros(at), Micros(now)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }

    async fn count_platform_admins(&mut self) -> Result<u64> {
        self.tx.statement(
            "SELECT count(*) FROM users WHERE is_platform_admin = 1 AND deactivated_at IS NULL",
            |s| s.query_row([], |row| row.get(0)),
        )
    }
}
