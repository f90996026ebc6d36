//! Tenant-scoped statements on PostgreSQL.
//!
//! Two barriers stand between tenants here. The transaction began with
//! `SET LOCAL bulkhead.tenant_id`, so row-level security filters every row
//! of every tenant table; and every statement also names `tenant_id = $1`
//! itself, which keeps the store correct if a policy were ever dropped and
//! lets the planner use the `(tenant_id, …)` indexes directly.

use async_trait::async_trait;
use bulkhead_domain::collection::FieldType;
use bulkhead_domain::{ApiKeyId, InvitationId, RecordId, Role, TenantId, UserId};
use bulkhead_store::invalidation::Listeners;
use bulkhead_store::{
    ApiKey, AuditDraft, AuditEntry, AuditQuery, Collection, IdempotencyClaim, Invalidation,
    Invitation, Member, Membership, NewApiKey, NewCollection, NewInvitation, NewMembership,
    NewRecord, NewRecordEvent, NewTenant, Page, Record, RecordChange, RecordEvent, RecordQuery,
    StoreError, Tenant, TenantTx, Write,
};
use std::sync::Arc;

use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit_log::{self, Log};
use crate::codec::{self, fail};
use crate::data_plane;
use crate::notify::commit_and_notify;

pub struct PgTenantTx {
    tx: Transaction<'static, Postgres>,
    tenant: TenantId,
    /// Set by the first failed statement: PostgreSQL has aborted the
    /// transaction, and COMMIT would silently roll it back.
    failed: bool,
    pending: Vec<Invalidation>,
    listeners: Arc<Listeners>,
}

impl PgTenantTx {
    pub fn new(
        tx: Transaction<'static, Postgres>,
        tenant: TenantId,
        listeners: Arc<Listeners>,
    ) -> Self {
        Self {
            tx,
            tenant,
            failed: false,
            pending: Vec::new(),
            listeners,
        }
    }

    /// Remembers a failed result (see `failed`).
    fn track<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        self.failed |= result.is_err();
        result
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

    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = $1 AND ($2::uuid IS NULL OR m.user_id > $2) ORDER BY m.user_id LIMIT $3",
            codec::MEMBER_COLUMNS
        );
        sqlx::query(&sql)
            .bind(self.t())
            .bind(after(&page))
            .bind(i64::from(page.limit))
            .try_map(|row| codec::member(&row))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| fail(&mut self.failed, e))
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
        let result = audit_log::append(&mut self.tx, Log::Tenant(self.tenant), draft).await;
        self.track(result)
    }

    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let result = audit_log::list(&mut self.tx, Log::Tenant(self.tenant), &query).await;
        self.track(result)
    }

    async fn audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let result =
            audit_log::chain(&mut self.tx, Log::Tenant(self.tenant), after_seq, limit).await;
        self.track(result)
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

    async fn insert_collection(
        &mut self,
        collection: NewCollection,
    ) -> Result<Collection, StoreError> {
        let result = data_plane::insert_collection(&mut self.tx, self.tenant, collection).await;
        self.track(result)
    }

    async fn collection(&mut self, name: &str) -> Result<Option<Collection>, StoreError> {
        let result = data_plane::collection(&mut self.tx, self.tenant, name).await;
        self.track(result)
    }

    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        let result = data_plane::collection_schema(&mut self.tx, self.tenant, name).await;
        self.track(result)
    }

    async fn list_collections(&mut self) -> Result<Vec<Collection>, StoreError> {
        let result = data_plane::list_collections(&mut self.tx, self.tenant).await;
        self.track(result)
    }

    async fn update_collection(
        &mut self,
        name: &str,
        schema: &serde_json::Value,
        expected_version: i64,
        at: OffsetDateTime,
    ) -> Result<Write<Collection>, StoreError> {
        let result = data_plane::update_collection(
            &mut self.tx,
            self.tenant,
            name,
            schema,
            expected_version,
            at,
        )
        .await;
        self.track(result)
    }

    async fn delete_collection(&mut self, name: &str) -> Result<bool, StoreError> {
        let result = data_plane::delete_collection(&mut self.tx, self.tenant, name).await;
        self.track(result)
    }

    async fn remove_record_field(
        &mut self,
        collection: &str,
        field: &str,
    ) -> Result<u64, StoreError> {
        let result =
            data_plane::remove_record_field(&mut self.tx, self.tenant, collection, field).await;
        self.track(result)
    }

    async fn ensure_record_index(
        &mut self,
        _collection: &str,
        fields: &[(String, FieldType)],
    ) -> Result<(), StoreError> {
        let result = data_plane::ensure_record_index(&mut self.tx, fields).await;
        self.track(result)
    }

    async fn insert_record(&mut self, record: NewRecord) -> Result<Record, StoreError> {
        let result = data_plane::insert_record(&mut self.tx, self.tenant, record).await;
        self.track(result)
    }

    async fn record(
        &mut self,
        collection: &str,
        id: RecordId,
    ) -> Result<Option<Record>, StoreError> {
        let result = data_plane::record(&mut self.tx, self.tenant, collection, id).await;
        self.track(result)
    }

    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>, StoreError> {
        let result = data_plane::update_record(&mut self.tx, self.tenant, change).await;
        self.track(result)
    }

    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>, StoreError> {
        let result =
            data_plane::delete_record(&mut self.tx, self.tenant, collection, id, expected_version)
                .await;
        self.track(result)
    }

    async fn list_records(
        &mut self,
        collection: &str,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        let result = data_plane::list_records(&mut self.tx, self.tenant, collection, query).await;
        self.track(result)
    }

    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>, StoreError> {
        let result =
            data_plane::unique_value_holder(&mut self.tx, self.tenant, collection, field, value)
                .await;
        self.track(result)
    }

    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        let result =
            data_plane::claim_idempotency_key(&mut self.tx, self.tenant, key, request_hash, at)
                .await;
        self.track(result)
    }

    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let result =
            data_plane::complete_idempotency_key(&mut self.tx, self.tenant, key, status, body)
                .await;
        self.track(result)
    }

    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry), StoreError> {
        let result =
            data_plane::append_record_change(&mut self.tx, self.tenant, event, audit).await;
        self.track(result)
    }

    async fn record_event_position(&mut self) -> Result<i64, StoreError> {
        let result = audit_log::last_seq(&mut self.tx, self.tenant).await;
        self.track(result)
    }

    async fn record_events_after(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordEvent>, StoreError> {
        let result =
            data_plane::record_events_after(&mut self.tx, self.tenant, after_seq, limit).await;
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
