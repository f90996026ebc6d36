//! Tenant-scoped statements on PostgreSQL.
//!
//! Two barriers stand between tenants here. The transaction began with
//! `SET LOCAL bulkhead.tenant_id`, so row-level security filters every row
//! of every tenant table; and every statement also names `tenant_id = $1`
//! itself, which keeps the store correct if a policy were ever dropped and
//! lets the planner use the `(tenant_id, …)` indexes directly.

use async_trait::async_trait;
use bulkhead_domain::{ApiKeyId, InvitationId, Role, TenantId, UserId};
use bulkhead_store::audit::seal;
use bulkhead_store::{
    ApiKey, AuditDraft, AuditEntry, AuditQuery, Invitation, Membership, NewApiKey, NewInvitation,
    NewMembership, NewTenant, Page, StoreError, Tenant, TenantTx,
};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{self, fail};

/// The first key of the advisory lock that serialises appends to one
/// tenant's audit chain ("audi").
const AUDIT_LOCK: i32 = 0x6175_6469;

pub struct PgTenantTx {
    tx: Transaction<'static, Postgres>,
    tenant: TenantId,
    /// Set by the first failed statement: PostgreSQL has aborted the
    /// transaction, and COMMIT would silently roll it back.
    failed: bool,
}

impl PgTenantTx {
    pub fn new(tx: Transaction<'static, Postgres>, tenant: TenantId) -> Self {
        Self {
            tx,
            tenant,
            failed: false,
        }
    }

    fn t(&self) -> Uuid {
        *self.tenant.as_uuid()
    }
}

/// Registers a tenant in the platform table (used by `Store::create_tenant`).
pub async fn insert_tenant(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &NewTenant,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenants (id, slug, name, plan, suspended_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, NULL, $5, $5)",
    )
    .bind(tenant.id.as_uuid())
    .bind(tenant.slug.as_str())
    .bind(&tenant.name)
    .bind(&tenant.plan)
    .bind(tenant.at)
    .execute(&mut **tx)
    .await
    .map_err(crate::codec::store_error)?;
    Ok(())
}

fn after<K>(page: &Page<bulkhead_domain::id::Id<K>>) -> Option<Uuid> {
    page.after.as_ref().map(|id| *id.as_uuid())
}

#[async_trait]
impl TenantTx for PgTenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    async fn tenant(&mut self) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tenants WHERE id = $1",
            codec::TENANT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .try_map(|row| codec::tenant(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn rename_tenant(
        &mut self,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "UPDATE tenants SET name = $2, updated_at = $3 WHERE id = $1 RETURNING {}",
            codec::TENANT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(name)
            .bind(at)
            .try_map(|row| codec::tenant(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn delete_tenant(&mut self) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(self.t())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn insert_membership(
        &mut self,
        membership: NewMembership,
    ) -> Result<Membership, StoreError> {
        let sql = format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING {}",
            codec::MEMBERSHIP_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(membership.user_id.as_uuid())
            .bind(membership.role.name())
            .bind(membership.at)
            .try_map(|row| codec::membership(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships WHERE tenant_id = $1 AND user_id = $2",
            codec::MEMBERSHIP_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(user.as_uuid())
            .try_map(|row| codec::membership(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn list_memberships(
        &mut self,
        page: Page<UserId>,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id > $2)
             ORDER BY user_id LIMIT $3",
            codec::MEMBERSHIP_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit))
            .try_map(|row| codec::membership(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<Option<Membership>, StoreError> {
        let sql = format!(
            "UPDATE memberships SET role = $3, updated_at = $4 WHERE tenant_id = $1 AND user_id = $2 RETURNING {}",
            codec::MEMBERSHIP_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(user.as_uuid())
            .bind(role.name())
            .bind(at)
            .try_map(|row| codec::membership(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn delete_membership(&mut self, user: UserId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(self.t())
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn count_members_with_role(&mut self, role: Role) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM memberships WHERE tenant_id = $1 AND role = $2",
        )
        .bind(self.t())
        .bind(role.name())
        .fetch_one(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(n.unsigned_abs())
    }

    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {}",
            codec::API_KEY_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(key.id.as_uuid())
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.key_hash[..])
            .bind(key.role.name())
            .bind(key.created_by.map(|id| *id.as_uuid()))
            .bind(key.at)
            .bind(key.expires_at)
            .try_map(|row| codec::api_key(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM api_keys WHERE tenant_id = $1 AND id = $2",
            codec::API_KEY_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(id.as_uuid())
            .try_map(|row| codec::api_key(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM api_keys WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
            codec::API_KEY_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit))
            .try_map(|row| codec::api_key(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(self.t())
        .bind(id.as_uuid())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE api_keys SET last_used_at = greatest(coalesce(last_used_at, $3), $3)
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.t())
        .bind(id.as_uuid())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn insert_invitation(
        &mut self,
        invitation: NewInvitation,
    ) -> Result<Invitation, StoreError> {
        let sql = format!(
            "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {}",
            codec::INVITATION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(invitation.id.as_uuid())
            .bind(invitation.email.as_str())
            .bind(invitation.role.name())
            .bind(&invitation.token_hash[..])
            .bind(invitation.invited_by.map(|id| *id.as_uuid()))
            .bind(invitation.at)
            .bind(invitation.expires_at)
            .try_map(|row| codec::invitation(&row))
            .fetch_one(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE tenant_id = $1 AND id = $2",
            codec::INVITATION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(id.as_uuid())
            .try_map(|row| codec::invitation(&row))
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn list_invitations(
        &mut self,
        page: Page<InvitationId>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
            codec::INVITATION_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit))
            .try_map(|row| codec::invitation(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // One conditional UPDATE: under READ COMMITTED a concurrent accepter
        // waits for our row lock, re-checks accepted_at IS NULL, and loses.
        let result = sqlx::query(
            "UPDATE invitations SET accepted_at = $4, accepted_by = $3
             WHERE tenant_id = $1 AND id = $2 AND accepted_at IS NULL AND expires_at > $4",
        )
        .bind(self.t())
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM invitations WHERE tenant_id = $1 AND id = $2")
            .bind(self.t())
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        // Appends to one tenant's chain are serialised by a transaction-level
        // advisory lock, so the last entry read here stays the last one until
        // ours commits. Other tenants' appends take other locks.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
            .bind(AUDIT_LOCK)
            .bind(self.t().to_string())
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        let previous = sqlx::query(
            "SELECT seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(self.t())
        .try_map(|row: sqlx::postgres::PgRow| {
            let hash: Vec<u8> = row.try_get("hash")?;
            let hash: [u8; 32] = hash.try_into().map_err(|_| sqlx::Error::ColumnDecode {
                index: "hash".into(),
                source: "expected 32 bytes".into(),
            })?;
            Ok((row.try_get::<i64, _>("seq")?, hash))
        })
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        let entry = seal(self.tenant, previous, draft);
        sqlx::query(
            "INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action, resource_type,
                 resource_id, outcome, request_id, details, personal_digest, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(self.t())
        .bind(entry.seq)
        .bind(entry.id.as_uuid())
        .bind(entry.at)
        .bind(entry.actor_kind.name())
        .bind(entry.actor_id)
        .bind(&entry.action)
        .bind(&entry.resource_type)
        .bind(&entry.resource_id)
        .bind(entry.outcome.name())
        .bind(&entry.request_id)
        .bind(&entry.details)
        .bind(&entry.personal_digest[..])
        .bind(&entry.prev_hash[..])
        .bind(&entry.hash[..])
        .execute(&mut *self.tx)
        .await
        .map_err(|e| fail(&mut self.failed, e))?;
        if let Some(personal) = &entry.personal {
            sqlx::query("INSERT INTO audit_personal (tenant_id, seq, salt, ip, user_agent) VALUES ($1, $2, $3, $4, $5)")
                .bind(self.t())
                .bind(entry.seq)
                .bind(&personal.salt[..])
                .bind(&personal.ip)
                .bind(&personal.user_agent)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| fail(&mut self.failed, e))?;
        }
        Ok(entry)
    }

    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = QueryBuilder::<Postgres>::new(format!(
            "SELECT {} FROM audit_log a
             LEFT JOIN audit_personal p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
             WHERE a.tenant_id = ",
            codec::AUDIT_COLUMNS
        ));
        sql.push_bind(self.t());
        if let Some(before) = query.before_seq {
            sql.push(" AND a.seq < ").push_bind(before);
        }
        if let Some(action) = &query.action {
            sql.push(" AND a.action = ").push_bind(action);
        }
        if let Some(actor) = query.actor_id {
            sql.push(" AND a.actor_id = ").push_bind(actor);
        }
        if let Some(since) = query.since {
            sql.push(" AND a.at >= ").push_bind(since);
        }
        if let Some(until) = query.until {
            sql.push(" AND a.at < ").push_bind(until);
        }
        sql.push(" ORDER BY a.seq DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        sql.build()
            .try_map(|row| codec::audit_entry(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!(
            "SELECT {} FROM audit_log a
             LEFT JOIN audit_personal p ON p.tenant_id = a.tenant_id AND p.seq = a.seq
             WHERE a.tenant_id = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3",
            codec::AUDIT_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(after_seq)
            .bind(i64::from(limit))
            .try_map(|row| codec::audit_entry(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
    }

    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM audit_personal WHERE tenant_id = $1 AND seq = $2")
            .bind(self.t())
            .bind(seq)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))?;
        Ok(result.rows_affected() > 0)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::TransactionAborted);
        }
        self.tx.commit().await.map_err(crate::codec::store_error)
    }
}
