//! The system path on PostgreSQL: platform tables only. This transaction
//! never sets `bulkhead.tenant_id`, so row-level security hides every
//! tenant-owned row from it even if a statement here tried to read one.

use async_trait::async_trait;
use bulkhead_domain::{Email, SessionId, TenantId, TenantSlug, UserId};
use bulkhead_store::{
    NewSession, NewUser, Page, PlatformTx, Session, SigningKey, StoreError, Tenant, User,
};
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

use crate::codec::{self, fail};

/// The first key of the advisory lock that serialises signing-key bootstrap
/// and rotation ("keys").
const SIGNING_KEYS_LOCK: i64 = 0x6b65_7973;

pub struct PgPlatformTx {
    tx: Transaction<'static, Postgres>,
    /// Set by the first failed statement (see `PgTenantTx`).
    failed: bool,
}

impl PgPlatformTx {
    pub fn new(tx: Transaction<'static, Postgres>) -> Self {
        Self { tx, failed: false }
    }
}

#[async_trait]
impl PlatformTx for PgPlatformTx {
    async fn insert_user(&mut self, user: NewUser) -> Result<User, StoreError> {
        let sql = format!(
            "INSERT INTO users (id, email, display_name, password_hash, is_platform_admin, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {}",
            codec::USER_COLUMNS
        );
        sqlx::query(&sql)
            .bind(user.id.as_uuid())
            .bind(user.email.as_str())
            .bind(&user.display_name)
            .bind(&user.password_hash)
            .bind(user.is_platform_admin)
            .bind(user.at)
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

    async fn user_by_email(&mut self, email: &Email) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {} FROM users WHERE email = $1", codec::USER_COLUMNS);
        sqlx::query(&sql)
            .bind(email.as_str())
            .try_map(|row| codec::user(&row))
            .fetch_optional(&mut *self.tx)
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
            "INSERT INTO sessions (id, user_id, refresh_token_hash, created_at, last_used_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING {}",
            codec::SESSION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(session.id.as_uuid())
            .bind(session.user_id.as_uuid())
            .bind(&session.refresh_token_hash[..])
            .bind(session.at)
            .bind(session.expires_at)
            .bind(&session.ip)
            .bind(&session.user_agent)
            .try_map(|row| codec::session(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
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

    async fn rotate_session_token(
        &mut self,
        id: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE sessions SET refresh_token_hash = $3, last_used_at = $4
             WHERE id = $1 AND refresh_token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(id.as_uuid())
        .bind(&current[..])
        .bind(&next[..])
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
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

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::TransactionAborted);
        }
        self.tx.commit().await.map_err(crate::codec::store_error)
    }
}
