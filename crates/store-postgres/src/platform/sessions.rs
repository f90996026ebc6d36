//! Sessions and refresh tokens on PostgreSQL.

use async_trait::async_trait;
use bulkhead_domain::{SessionId, UserId};
use bulkhead_store::{NewSession, RefreshToken, Result, Session, Sessions};
use time::OffsetDateTime;

use super::PgPlatformTx;
use crate::codec::{self, REFRESH_TOKEN_COLUMNS, SESSION_COLUMNS};

impl PgPlatformTx {
    async fn insert_refresh_token(
        &mut self,
        hash: &[u8; 32],
        session: SessionId,
        at: OffsetDateTime,
    ) -> Result<()> {
        let statement = sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&hash[..])
        .bind(session.as_uuid())
        .bind(at);
        self.tx.execute(statement).await?;
        Ok(())
    }
}

#[async_trait]
impl Sessions for PgPlatformTx {
    async fn insert_session(&mut self, session: NewSession) -> Result<Session> {
        let sql = format!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING {SESSION_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(session.id.as_uuid())
            .bind(session.user_id.as_uuid())
            .bind(session.at)
            .bind(session.expires_at)
            .bind(&session.ip)
            .bind(&session.user_agent);
        let inserted = self.tx.one(statement, codec::session).await?;
        self.insert_refresh_token(&session.refresh_token_hash, session.id, session.at)
            .await?;
        Ok(inserted)
    }

    async fn session(&mut self, id: SessionId) -> Result<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        let statement = sqlx::query(&sql).bind(id.as_uuid());
        self.tx.optional(statement, codec::session).await
    }

    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY id");
        let statement = sqlx::query(&sql).bind(user.as_uuid());
        self.tx.all(statement, codec::session).await
    }

    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>> {
        let sql =
            format!("SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let statement = sqlx::query(&sql).bind(&hash[..]);
        self.tx.optional(statement, codec::refresh_token).await
    }

    async fn rotate_refresh_token(
        &mut self,
        session: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool> {
        // One conditional UPDATE claims the token: under READ COMMITTED a
        // concurrent claimer waits for our row lock, re-checks
        // rotated_at IS NULL once we commit, and loses.
        let claim = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $3
             WHERE token_hash = $2 AND session_id = $1 AND rotated_at IS NULL
               AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL)",
        )
        .bind(session.as_uuid())
        .bind(&current[..])
        .bind(at);
        if self.tx.execute(claim).await? == 0 {
            return Ok(false);
        }
        self.insert_refresh_token(next, session, at).await?;
        let statement = sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1")
            .bind(session.as_uuid())
            .bind(at);
        self.tx.execute(statement).await?;
        Ok(true)
    }

    async fn revoke_session(&mut self, id: SessionId, at: OffsetDateTime) -> Result<bool> {
        let statement =
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .bind(at);
        Ok(self.tx.execute(statement).await? > 0)
    }

    async fn revoke_sessions_of_user(&mut self, user: UserId, at: OffsetDateTime) -> Result<u64> {
        let statement = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(at);
        self.tx.execute(statement).await
    }
}
