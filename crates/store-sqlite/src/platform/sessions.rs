//! Sessions and refresh tokens on SQLite.

use async_trait::async_trait;
use bulkhead_domain::{SessionId, UserId};
use bulkhead_store::{NewSession, RefreshToken, Result, Session, Sessions};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::SqlitePlatformTx;
use crate::codec::{Micros, id_param};
use crate::rows::{self, REFRESH_TOKEN_COLUMNS, SESSION_COLUMNS};

impl SqlitePlatformTx {
    fn insert_refresh_token(
        &self,
        hash: &[u8; 32],
        session: SessionId,
        at: OffsetDateTime,
    ) -> Result<()> {
        self.tx.statement(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
            |s| s.execute(params![hash, id_param(&session), Micros(at)]),
        )?;
        Ok(())
    }
}

#[async_trait]
impl Sessions for SqlitePlatformTx {
    async fn insert_session(&mut self, session: NewSession) -> Result<Session> {
        let sql = format!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6) RETURNING {SESSION_COLUMNS}"
        );
        let binds = params![
            id_param(&session.id),
            id_param(&session.user_id),
            Micros(session.at),
            Micros(session.expires_at),
            session.ip,
            session.user_agent
        ];
        let inserted = self
            .tx
            .statement(&sql, |s| s.query_row(binds, rows::session))?;
        self.insert_refresh_token(&session.refresh_token_hash, session.id, session.at)?;
        Ok(inserted)
    }

    async fn session(&mut self, id: SessionId) -> Result<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1");
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::session).optional()
        })
    }

    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = ?1 ORDER BY id");
        self.tx.statement(&sql, |s| {
            s.query_map([id_param(&user)], rows::session)?.collect()
        })
    }

    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>> {
        let sql =
            format!("SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = ?1");
        self.tx.statement(&sql, |s| {
            s.query_row([hash], rows::refresh_token).optional()
        })
    }

    async fn rotate_refresh_token(
        &mut self,
        session: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool> {
        let claimed = self.tx.statement(
            "UPDATE refresh_tokens SET rotated_at = ?3
             WHERE token_hash = ?2 AND session_id = ?1 AND rotated_at IS NULL
               AND EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND revoked_at IS NULL)",
            |s| s.execute(params![id_param(&session), current, Micros(at)]),
        )?;
        if claimed == 0 {
            return Ok(false);
        }
        self.insert_refresh_token(next, session, at)?;
        self.tx
            .statement("UPDATE sessions SET last_used_at = ?2 WHERE id = ?1", |s| {
                s.execute(params![id_param(&session), Micros(at)])
            })?;
        Ok(true)
    }

    async fn revoke_session(&mut self, id: SessionId, at: OffsetDateTime) -> Result<bool> {
        let sql = "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";
        let binds = params![id_param(&id), Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? > 0)
    }

    async fn revoke_sessions_of_user(&mut self, user: UserId, at: OffsetDateTime) -> Result<u64> {
        let sql = "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL";
        let binds = params![id_param(&user), Micros(at)];
        Ok(self.tx.statement(sql, |s| s.execute(binds))? as u64)
    }
}
