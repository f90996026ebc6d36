//! The system path on PostgreSQL: platform tables only. This transaction
//! never sets `bulkhead.tenant_id`, so row-level security hides every
//! tenant-owned row from it even if a statement here tried to read one.

use async_trait::async_trait;
use bulkhead_domain::{EmailLookup, SessionId, TenantId, TenantSlug, UserId};
use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{
    AuditDraft, AuditEntry, AuditQuery, EmailKeyCollision, Invalidation, NewSession, NewUser, Page,
    PlatformTx, RefreshToken, Session, SigningKey, StoreError, Tenant, User,
};
use std::sync::Arc;

use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

use crate::audit_log::{self, Log};
use crate::codec::{self, fail};
use crate::email_keys;
use crate::notify::commit_and_notify;

/// The first key of the advisory lock that serialises signing-key bootstrap
/// and rotation ("keys").
const SIGNING_KEYS_LOCK: i64 = 0x6b65_7973;

pub struct PgPlatformTx {
    tx: Transaction<'static, Postgres>,
    /// Set by the first failed statement (see `PgTenantTx`).
    failed: bool,
    pending: Vec<Invalidation>,
    listeners: Arc<Listeners>,
}

impl PgPlatformTx {
    pub fn new(tx: Transaction<'static, Postgres>, listeners: Arc<Listeners>) -> Self {
        Self {
            tx,
            failed: false,
            pending: Vec::new(),
            listeners,
        }
    }

    fn track<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.failed |= result.is_err();
        result
    }
}

#[async_trait]
impl PlatformTx for PgPlatformTx {
    async fn insert_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, password_hash, is_platform_admin, created_at, updated_at)
             VALUES ($1, $2, $7, $3, $4, $5, $6, $6) RETURNING {}",
            codec::USER_COLUMNS
        );
        sqlx::query(&sql)
            .bind(user.id.as_uuid())
            .bind(user.email.as_str())
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.is_platform_admin)
            .bind(user.at)
            .bind(user.email.key().as_str())
            .try_map(|row| codec::user(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {} FROM users WHERE id = $1", codec::USER_COLUMNS);
        sqlx::query(&sql)
            .bind(id.as_uuid())
            .try_map(|row| codec::user(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {} FROM users WHERE email_key = $1
             ORDER BY email = $2 DESC, email_key_collision LIMIT 1",
            codec::USER_COLUMNS
        );
        sqlx::query(&sql)
            .bind(email.key.as_str())
            .bind(&email.as_stored_before_keys)
            .try_map(|row| codec::user(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>, StoreError> {
        email_keys::collisions(&mut self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(hash)
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE users SET deactivated_at = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(at)
                .bind(now)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn count_platform_admins(&mut self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE is_platform_admin AND deactivated_at IS NULL",
        )
        .fetch_one(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(n.unsigned_abs())
    }

    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tenants WHERE id = $1",
            codec::TENANT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(id.as_uuid())
            .try_map(|row| codec::tenant(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tenants WHERE slug = $1",
            codec::TENANT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(slug.as_str())
            .try_map(|row| codec::tenant(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>, StoreError> {
        // strpos() instead of LIKE: a search text with % or _ means itself.
        let sql = format!(
            "SELECT {} FROM tenants
             WHERE ($1::uuid IS NULL OR id > $1)
               AND ($2::text IS NULL OR strpos(lower(slug), lower($2)) > 0 OR strpos(lower(name), lower($2)) > 0)
             ORDER BY id LIMIT $3",
            codec::TENANT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(page.after.map(|id| *id.as_uuid()))
            .bind(search)
            .bind(i64::from(page.limit))
            .try_map(|row| codec::tenant(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE tenants SET suspended_at = $2, updated_at = $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(at)
                .bind(now)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn insert_session(&mut self, session: NewSession) -> Result<Session, StoreError> {
        let sql = format!(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6) RETURNING {}",
            codec::SESSION_COLUMNS
        );
        let inserted = sqlx::query(&sql)
            .bind(session.id.as_uuid())
            .bind(session.user_id.as_uuid())
            .bind(session.at)
            .bind(session.expires_at)
            .bind(&session.ip)
            .bind(&session.user_agent)
            .try_map(|row| codec::session(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&session.refresh_token_hash[..])
        .bind(session.id.as_uuid())
        .bind(session.at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(inserted)
    }

    async fn session(&mut self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE id = $1",
            codec::SESSION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(id.as_uuid())
            .try_map(|row| codec::session(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {} FROM sessions WHERE user_id = $1 ORDER BY id",
            codec::SESSION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(user.as_uuid())
            .try_map(|row| codec::session(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError> {
        let sql = format!(
            "SELECT {} FROM refresh_tokens WHERE token_hash = $1",
            codec::REFRESH_TOKEN_COLUMNS
        );
        sqlx::query(&sql)
            .bind(&hash[..])
            .try_map(|row| codec::refresh_token(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn rotate_refresh_token(
        &mut self,
        session: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One conditional UPDATE claims the token: under READ COMMITTED a
        // concurrent claimer waits for our row lock, re-checks
        // rotated_at IS NULL once we commit, and loses.
        let claimed = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $3
             WHERE token_hash = $2 AND session_id = $1 AND rotated_at IS NULL
               AND EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL)",
        )
        .bind(session.as_uuid())
        .bind(&current[..])
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&next[..])
        .bind(session.as_uuid())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1")
            .bind(session.as_uuid())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(true)
    }

    async fn revoke_session(
        &mut self,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected())
    }

    async fn lock_signing_keys(&mut self) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SIGNING_KEYS_LOCK)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(())
    }

    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM signing_keys ORDER BY created_at DESC, kid DESC",
            codec::SIGNING_KEY_COLUMNS
        );
        sqlx::query(&sql)
            .try_map(|row| codec::signing_key(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO signing_keys (kid, secret, created_at, retired_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.kid)
            .bind(&key.secret)
            .bind(key.created_at)
            .bind(key.retired_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(())
    }

    async fn retire_signing_keys(
        &mut self,
        except_kid: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "UPDATE signing_keys SET retired_at = $2 WHERE kid <> $1 AND retired_at IS NULL",
        )
        .bind(except_kid)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected())
    }

    async fn append_platform_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        let result = audit_log::append(&mut self.tx, Log::Platform, draft).await;
        self.track(result)
    }

    async fn list_platform_audit(
        &mut self,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let result = audit_log::list(&mut self.tx, Log::Platform, &query).await;
        self.track(result)
    }

    async fn platform_audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let result = audit_log::chain(&mut self.tx, Log::Platform, after_seq, limit).await;
        self.track(result)
    }

    fn invalidate(&mut self, invalidation: Invalidation) {
        self.pending.push(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::TransactionAborted);
        }
        commit_and_notify(self.tx, self.pending, &self.listeners).await
    }
}
