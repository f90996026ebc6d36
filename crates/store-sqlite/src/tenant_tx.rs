//! Tenant-scoped statements on SQLite.
//!
//! Every statement that touches a tenant-owned table binds `self.tenant`
//! as `?1` in its `WHERE` clause or as the inserted `tenant_id`. There is no
//! other way in: the `New*` inputs carry no tenant id, and nothing here
//! accepts one. SQLite has no row-level security, so this file is the
//! boundary; the conformance suite's isolation table is its proof.

use async_trait::async_trait;
use bulkhead_domain::collection::FieldType;
use bulkhead_domain::{ApiKeyId, InvitationId, RecordId, Role, TenantId, UserId};
use bulkhead_store::{
    ApiKey, AuditDraft, AuditEntry, AuditQuery, Collection, IdempotencyClaim, Invalidation,
    Invitation, Member, Membership, NewApiKey, NewCollection, NewInvitation, NewMembership,
    NewRecord, NewRecordEvent, NewTenant, Page, Record, RecordChange, RecordEvent, RecordQuery,
    StoreError, Tenant, TenantTx, Write,
};
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use crate::audit_log::{self, Log};
use crate::codec::{Micros, id_param, opt_micros, store_error};
use crate::data_plane;
use crate::rows;
use crate::tx::Tx;

pub struct SqliteTenantTx {
    tx: Tx,
    tenant: TenantId,
}

impl SqliteTenantTx {
    pub fn new(tx: Tx, tenant: TenantId) -> Self {
        Self { tx, tenant }
    }

    fn t(&self) -> &[u8; 16] {
        id_param(&self.tenant)
    }
}

/// Registers a tenant in the platform table (used by `Store::create_tenant`).
pub fn insert_tenant(tx: &Tx, tenant: &NewTenant) -> Result<(), StoreError> {
    tx.connection()
        .prepare_cached(
            "INSERT INTO tenants (id, slug, name, plan, suspended_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?5)",
        )
        .and_then(|mut statement| {
            statement.execute(params![
                id_param(&tenant.id),
                tenant.slug.as_str(),
                tenant.name,
                tenant.plan,
                Micros(tenant.at)
            ])
        })
        .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl TenantTx for SqliteTenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }

    async fn tenant(&mut self) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {} FROM tenants WHERE id = ?1", rows::TENANT_COLUMNS);
        self.tx
            .statement(&sql, |s| s.query_row([self.t()], rows::tenant).optional())
    }

    async fn rename_tenant(
        &mut self,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "UPDATE tenants SET name = ?2, updated_at = ?3 WHERE id = ?1 RETURNING {}",
            rows::TENANT_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), name, Micros(at)], rows::tenant)
                .optional()
        })
    }

    async fn delete_tenant(&mut self) -> Result<bool, StoreError> {
        let n = self
            .tx
            .statement("DELETE FROM tenants WHERE id = ?1", |s| {
                s.execute([self.t()])
            })?;
        Ok(n > 0)
    }

    async fn insert_membership(
        &mut self,
        membership: NewMembership,
    ) -> Result<Membership, StoreError> {
        let sql = format!(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {}",
            rows::MEMBERSHIP_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![
                    self.t(),
                    id_param(&membership.user_id),
                    membership.role.name(),
                    Micros(membership.at)
                ],
                rows::membership,
            )
        })
    }

    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships WHERE tenant_id = ?1 AND user_id = ?2",
            rows::MEMBERSHIP_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&user)], rows::membership)
                .optional()
        })
    }

    async fn list_memberships(
        &mut self,
        page: Page<UserId>,
    ) -> Result<Vec<Membership>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships WHERE tenant_id = ?1 AND (?2 IS NULL OR user_id > ?2)
             ORDER BY user_id LIMIT ?3",
            rows::MEMBERSHIP_COLUMNS
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::membership)?
                .collect()
        })
    }

    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<Option<Membership>, StoreError> {
        let sql = format!(
            "UPDATE memberships SET role = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND user_id = ?2 RETURNING {}",
            rows::MEMBERSHIP_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![self.t(), id_param(&user), role.name(), Micros(at)],
                rows::membership,
            )
            .optional()
        })
    }

    async fn delete_membership(&mut self, user: UserId) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2",
            |s| s.execute(params![self.t(), id_param(&user)]),
        )?;
        Ok(n > 0)
    }

    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>, StoreError> {
        let sql = format!(
            "SELECT {} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.tenant_id = ?1 AND (?2 IS NULL OR m.user_id > ?2) ORDER BY m.user_id LIMIT ?3",
            rows::MEMBER_COLUMNS
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::member)?
                .collect()
        })
    }

    async fn count_members_with_role(&mut self, role: Role) -> Result<u64, StoreError> {
        self.tx.statement(
            "SELECT count(*) FROM memberships WHERE tenant_id = ?1 AND role = ?2",
            |s| s.query_row(params![self.t(), role.name()], |row| row.get(0)),
        )
    }

    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING {}",
            rows::API_KEY_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![
                    self.t(),
                    id_param(&key.id),
                    key.name,
                    key.prefix,
                    key.key_hash,
                    key.role.name(),
                    key.created_by.as_ref().map(id_param),
                    Micros(key.at),
                    opt_micros(key.expires_at)
                ],
                rows::api_key,
            )
        })
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM api_keys WHERE tenant_id = ?1 AND id = ?2",
            rows::API_KEY_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], rows::api_key)
                .optional()
        })
    }

    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!(
            "SELECT {} FROM api_keys WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
            rows::API_KEY_COLUMNS
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::api_key)?
                .collect()
        })
    }

    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement("UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL", |s| s.execute(params![self.t(), id_param(&id), Micros(at)]))?;
        Ok(n > 0)
    }

    async fn touch_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?3), ?3)
                 WHERE tenant_id = ?1 AND id = ?2",
            |s| s.execute(params![self.t(), id_param(&id), Micros(at)]),
        )?;
        Ok(n > 0)
    }

    async fn insert_invitation(
        &mut self,
        invitation: NewInvitation,
    ) -> Result<Invitation, StoreError> {
        let sql = format!(
            "INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {}",
            rows::INVITATION_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(
                params![
                    self.t(),
                    id_param(&invitation.id),
                    invitation.email.as_str(),
                    invitation.role.name(),
                    invitation.token_hash,
                    invitation.invited_by.as_ref().map(id_param),
                    Micros(invitation.at),
                    Micros(invitation.expires_at)
                ],
                rows::invitation,
            )
        })
    }

    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE tenant_id = ?1 AND id = ?2",
            rows::INVITATION_COLUMNS
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], rows::invitation)
                .optional()
        })
    }

    async fn list_invitations(
        &mut self,
        page: Page<InvitationId>,
    ) -> Result<Vec<Invitation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE tenant_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
            rows::INVITATION_COLUMNS
        );
        let after = page.after.as_ref().map(id_param);
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), after, page.limit], rows::invitation)?
                .collect()
        })
    }

    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "UPDATE invitations SET accepted_at = ?4, accepted_by = ?3
                 WHERE tenant_id = ?1 AND id = ?2 AND accepted_at IS NULL AND expires_at > ?4",
            |s| {
                s.execute(params![
                    self.t(),
                    id_param(&id),
                    id_param(&user),
                    Micros(at)
                ])
            },
        )?;
        Ok(n > 0)
    }

    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "DELETE FROM invitations WHERE tenant_id = ?1 AND id = ?2",
            |s| s.execute(params![self.t(), id_param(&id)]),
        )?;
        Ok(n > 0)
    }

    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        audit_log::append(&self.tx, Log::Tenant(self.tenant), draft)
    }

    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        audit_log::list(&self.tx, Log::Tenant(self.tenant), &query)
    }

    async fn audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        audit_log::chain(&self.tx, Log::Tenant(self.tenant), after_seq, limit)
    }

    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool, StoreError> {
        let n = self.tx.statement(
            "DELETE FROM audit_personal WHERE tenant_id = ?1
             AND entry = (SELECT entry FROM audit_log WHERE tenant_id = ?1 AND seq = ?2)",
            |s| s.execute(params![self.t(), seq]),
        )?;
        Ok(n > 0)
    }

    async fn insert_collection(
        &mut self,
        collection: NewCollection,
    ) -> Result<Collection, StoreError> {
        data_plane::insert_collection(&self.tx, self.tenant, collection)
    }

    async fn collection(&mut self, name: &str) -> Result<Option<Collection>, StoreError> {
        data_plane::collection(&self.tx, self.tenant, name)
    }

    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        data_plane::collection_schema(&self.tx, self.tenant, name)
    }

    async fn list_collections(&mut self) -> Result<Vec<Collection>, StoreError> {
        data_plane::list_collections(&self.tx, self.tenant)
    }

    async fn update_collection(
        &mut self,
        name: &str,
        schema: &serde_json::Value,
        expected_version: i64,
        at: OffsetDateTime,
    ) -> Result<Write<Collection>, StoreError> {
        data_plane::update_collection(&self.tx, self.tenant, name, schema, expected_version, at)
    }

    async fn delete_collection(&mut self, name: &str) -> Result<bool, StoreError> {
        data_plane::delete_collection(&self.tx, self.tenant, name)
    }

    async fn remove_record_field(
        &mut self,
        collection: &str,
        field: &str,
    ) -> Result<u64, StoreError> {
        data_plane::remove_record_field(&self.tx, self.tenant, collection, field)
    }

    async fn ensure_record_index(
        &mut self,
        _collection: &str,
        fields: &[(String, FieldType)],
    ) -> Result<(), StoreError> {
        data_plane::ensure_record_index(&self.tx, fields)
    }

    async fn insert_record(&mut self, record: NewRecord) -> Result<Record, StoreError> {
        data_plane::insert_record(&self.tx, self.tenant, record)
    }

    async fn record(
        &mut self,
        collection: &str,
        id: RecordId,
    ) -> Result<Option<Record>, StoreError> {
        data_plane::record(&self.tx, self.tenant, collection, id)
    }

    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>, StoreError> {
        data_plane::update_record(&self.tx, self.tenant, change)
    }

    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>, StoreError> {
        data_plane::delete_record(&self.tx, self.tenant, collection, id, expected_version)
    }

    async fn list_records(
        &mut self,
        collection: &str,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError> {
        data_plane::list_records(&self.tx, self.tenant, collection, query)
    }

    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>, StoreError> {
        data_plane::unique_value_holder(&self.tx, self.tenant, collection, field, value)
    }

    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError> {
        data_plane::claim_idempotency_key(&self.tx, self.tenant, key, request_hash, at)
    }

    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        data_plane::complete_idempotency_key(&self.tx, self.tenant, key, status, body)
    }

    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry), StoreError> {
        data_plane::append_record_change(&self.tx, self.tenant, event, audit)
    }

    async fn record_event_position(&mut self) -> Result<i64, StoreError> {
        audit_log::last_seq(&self.tx, self.tenant)
    }

    async fn record_events_after(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordEvent>, StoreError> {
        data_plane::record_events_after(&self.tx, self.tenant, after_seq, limit)
    }

    fn invalidate(&mut self, invalidation: Invalidation) {
        self.tx.invalidate(invalidation);
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await
    }
}
