//! The system path on SQLite: platform tables only (users, the tenant
//! registry, sessions, signing keys). Nothing here reads a tenant-owned
//! table, except [`memberships_of_user`], which is bound to one user.

use async_trait::async_trait;
use bulkhead_domain::{EmailLookup, SessionId, TenantId, TenantSlug, UserId};
use bulkhead_store::{
    AuditDraft, AuditEntry, AuditQuery, EmailKeyCollision, Invalidation, NewSession, NewUser, Page,
    PlatformTx, RefreshToken, Session, SigningKey, StoreError, Tenant, User, UserMembership,
};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use crate::audit_log::{self, Log};
use crate::codec::{Micros, id_param, opt_micros, role_col, time_col};
use crate::email_keys;
use crate::rows;
use crate::tx::Tx;

pub struct SqlitePlatformTx {
    tx: Tx,
}

impl SqlitePlatformTx {
    pub fn new(tx: Tx) -> Self {
        Self { tx }
    }
}

/// One user's memberships with their tenants, oldest first.
pub fn memberships_of_user(tx: &Tx, user: UserId) -> Result<Vec<UserMembership>, StoreError> {
    let sql = format!(
        "SELECT {}, m.role, m.created_at FROM memberships m JOIN tenants t ON t.id = m.tenant_id
         WHERE m.user_id = ?1 ORDER BY m.created_at, t.id",
        rows::TENANT_COLUMNS
            .split(", ")
            .map(|column| format!("t.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    tx.statement(&sql, |s| {
        s.query_map([id_param(&user)], |row| {
            Ok(UserMembership {
                tenant: rows::tenant(row)?,
                role: role_col(row, 7)?,
                joined_at: time_col(row, 8)?,
            })
        })?
        .collect()
    })
}

#[async_trait]
impl PlatformTx for SqlitePlatformTx {
    async fn insert_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, password_hash, is_platform_admin, created_at, updated_at)
             VALUES (?1, ?2, ?7, ?3, ?4, ?5, ?6, ?6) RETURNING {}",
            rows::USER_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![
                    id_param(&user.id),
                    user.email.as_str(),
                    user.display_name,
                    user.password_hash,
                    user.is_platform_admin,
                    Micros(user.at),
                    user.email.key().as_str()
                ],
                rows::user,
            )
        })
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {} FROM users WHERE id = ?1", rows::USER_COLUMNS);
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::user).optional()
        })
    }

    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {} FROM users WHERE email_key = ?1
             ORDER BY email = ?2 DESC, email_key_collision LIMIT 1",
            rows::USER_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![email.key.as_str(), email.as_stored_before_keys],
                rows::user,
            )
            .optional()
        })
    }

    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>, StoreError> {
        email_keys::collisions(self.tx.connection()).map_err(|error| self.tx.fail(error))
    }

    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
            |s| s.execute(params![id_param(&id), hash, Micros(at)]),
        )?;
        Ok(n > 0)
    }

    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE users SET deactivated_at = ?2, updated_at = ?3 WHERE id = ?1",
            |s| s.execute(params![id_param(&id), opt_micros(at), Micros(now)]),
        )?;
        Ok(n > 0)
    }

    async fn count_platform_admins(&mut self) -> Result<u64, StoreError> {
        self.tx.statement(
            "SELECT count(*) FROM users WHERE is_platform_admin = 1 AND deactivated_at IS NULL",
            |s| s.query_row([], |row| row.get(0)),
        )
    }

    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {} FROM tenants WHERE id = ?1", rows::TENANT_COLUMNS);
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::tenant).optional()
        })
    }

    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tenants WHERE slug = ?1",
            rows::TENANT_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row([slug.as_str()], rows::tenant).optional()
        })
    }

    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>, StoreError> {
        // instr() instead of LIKE: a search text with % or _ means itself.
        let sql = format!(
            "SELECT {} FROM tenants
             WHERE (?1 IS NULL OR id > ?1)
               AND (?2 IS NULL OR instr(lower(slug), lower(?2)) > 0 OR instr(lower(name), lower(?2)) > 0)
             ORDER BY id LIMIT ?3",
            rows::TENANT_COLUMNS
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![after, search, page.limit], rows::tenant)?
                .collect()
        })
    }

    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE tenants SET suspended_at = ?2, updated_at = ?3 WHERE id = ?1",
            |s| s.execute(params![id_param(&id), opt_micros(at), Micros(now)]),
        )?;
        Ok(n > 0)
    }

    async fn insert_session(&mut self, session: NewSession) -> Result<Session, StoreError> {
        let sql = format!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6) RETURNING {}",
            rows::SESSION_COLUMNS
        );
        let inserted = self.tx.statement(&sql, |s| {
            s.query_row(
                params![
                    id_param(&session.id),
                    id_param(&session.user_id),
                    Micros(session.at),
                    Micros(session.expires_at),
                    session.ip,
                    session.user_agent
                ],
                rows::session,
            )
        })?;
        self.tx.statement(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
            |s| {
                s.execute(params![
                    session.refresh_token_hash,
                    id_param(&session.id),
                    Micros(session.at)
                ])
            },
        )?;
        Ok(inserted)
    }

    async fn session(&mut self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE id = ?1",
            rows::SESSION_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row([id_param(&id)], rows::session).optional()
        })
    }

    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE user_id = ?1 ORDER BY id",
            rows::SESSION_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_map([id_param(&user)], rows::session)?.collect()
        })
    }

    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError> {
        let sql = format!(
            "SELECT {} FROM refresh_tokens WHERE token_hash = ?1",
            rows::REFRESH_TOKEN_COLUMNS
        );
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
    ) -> Result<bool, StoreError> {
        let claimed = self.tx.statement(
            "UPDATE refresh_tokens SET rotated_at = ?3
                 WHERE token_hash = ?2 AND session_id = ?1 AND rotated_at IS NULL
                   AND EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND revoked_at IS NULL)",
            |s| s.execute(params![id_param(&session), current, Micros(at)]),
        )?;
        if claimed == 0 {
            return Ok(false);
        }
        let connection = self.tx.connection();
        connection
            .prepare_cached("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![next, id_param(&session), Micros(at)]))
            .and_then(|_| {
                connection
                    .prepare_cached("UPDATE sessions SET last_used_at = ?2 WHERE id = ?1")
                    .and_then(|mut s| s.execute(params![id_param(&session), Micros(at)]))
            })
            .map_err(|e| self.tx.fail(e))?;
        Ok(true)
    }

    async fn revoke_session(
        &mut self,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            |s| s.execute(params![id_param(&id), Micros(at)]),
        )?;
        Ok(n > 0)
    }

    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n = self.tx.statement(
            "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            |s| s.execute(params![id_param(&user), Micros(at)]),
        )?;
        Ok(n as u64)
    }

    async fn lock_signing_keys(&mut self) -> Result<(), StoreError> {
        // Write transactions already hold SQLite's only write lock.
        Ok(())
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM signing_keys ORDER BY created_at DESC, kid DESC",
            rows::SIGNING_KEY_COLUMNS
        );
        self.tx
            .statement(&sql, |s| s.query_map([], rows::signing_key)?.collect())
    }

    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<(), StoreError> {
        self.tx.statement("INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES (?1, ?2, ?3, ?4)", |s| s.execute(params![key.kid, key.secret, Micros(key.created_at), opt_micros(key.retired_at)]))?;
        Ok(())
    }

    async fn retire_signing_keys(
        &mut self,
        except_kid: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let n = self.tx.statement(
            "UPDATE signing_keys SET retired_at = ?2 WHERE kid <> ?1 AND retired_at IS NULL",
            |s| s.execute(params![except_kid, Micros(at)]),
        )?;
        Ok(n as u64)
    }

    async fn append_platform_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        audit_log::append(&self.tx, Log::Platform, draft)
    }

    async fn list_platform_audit(
        &mut self,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit_log::list(&self.tx, Log::Platform, &query)
    }

    async fn platform_audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit_log::chain(&self.tx, Log::Platform, after_seq, limit)
    }

    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await
    }
}
