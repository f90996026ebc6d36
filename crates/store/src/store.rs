//! The traits every backend implements.

use async_trait::async_trait;
use bulkhead_domain::{
    ApiKeyId, EmailLookup, InvitationId, Role, SessionId, TenantId, TenantSlug, UserId,
};
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::model::*;
use crate::records::*;
use bulkhead_domain::RecordId;
use bulkhead_domain::collection::FieldType;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Whether a transaction may write. Read transactions are cheaper (on
/// SQLite they run beside the single writer, on PostgreSQL they are
/// `READ ONLY`) and any write inside one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A database holding every tenant's data behind the tenant boundary.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    fn backend(&self) -> Backend;

    /// Opens a transaction that sees and changes the data of `tenant` only.
    /// Dropping it without [`TenantTx::commit`] rolls it back.
    async fn tenant(
        &self,
        tenant: TenantId,
        access: Access,
    ) -> Result<Box<dyn TenantTx>, StoreError>;

    /// Registers a new tenant and opens a write transaction for it, so that
    /// the tenant, its first member and the audit entry commit together.
    async fn create_tenant(&self, tenant: NewTenant) -> Result<Box<dyn TenantTx>, StoreError>;

    /// Opens a transaction over platform tables: the system path. It cannot
    /// read or write tenant-owned rows.
    async fn platform(&self, access: Access) -> Result<Box<dyn PlatformTx>, StoreError>;

    /// The memberships of one user across tenants, oldest first: the one
    /// cross-tenant read, bound to a single user.
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<UserMembership>, StoreError>;

    /// Registers a function called with every [`Invalidation`] committed by
    /// any server process on this database: in this process synchronously
    /// after the commit (before `commit` returns), in others as soon as the
    /// database tells them. It also hears when other processes'
    /// invalidations stop reaching this one and when they resume
    /// ([`Notice`]); a store that one process owns (SQLite) never says
    /// [`Notice::Interrupted`]. Listeners must be quick and must not block.
    fn on_notice(&self, listener: NoticeListener);

    /// Succeeds when the database answers and its schema is current.
    async fn readiness(&self) -> Result<(), StoreError>;

    /// Waits for open transactions to end and closes every connection.
    async fn close(&self);
}

/// Called with each [`Notice`]: committed invalidations, and the state of
/// their delivery from other processes.
pub type NoticeListener = std::sync::Arc<dyn Fn(Notice) + Send + Sync>;

/// A transaction bound to one tenant. No method takes a tenant id.
#[async_trait]
pub trait TenantTx: Send {
    fn tenant_id(&self) -> TenantId;

    /// This tenant's registry row; `None` once it was deleted.
    async fn tenant(&mut self) -> Result<Option<Tenant>, StoreError>;
    async fn rename_tenant(
        &mut self,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<Option<Tenant>, StoreError>;
    /// Deletes the tenant and, by cascade, every row it owns.
    async fn delete_tenant(&mut self) -> Result<bool, StoreError>;

    async fn insert_membership(
        &mut self,
        membership: NewMembership,
    ) -> Result<Membership, StoreError>;
    async fn membership(&mut self, user: UserId) -> Result<Option<Membership>, StoreError>;
    async fn list_memberships(&mut self, page: Page<UserId>)
    -> Result<Vec<Membership>, StoreError>;
    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        at: OffsetDateTime,
    ) -> Result<Option<Membership>, StoreError>;
    async fn delete_membership(&mut self, user: UserId) -> Result<bool, StoreError>;
    /// Members with their users' public profiles, ordered by user id.
    async fn list_members(&mut self, page: Page<UserId>) -> Result<Vec<Member>, StoreError>;
    async fn count_members_with_role(&mut self, role: Role) -> Result<u64, StoreError>;

    async fn insert_api_key(&mut self, key: NewApiKey) -> Result<ApiKey, StoreError>;
    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&mut self, page: Page<ApiKeyId>) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key that is not yet revoked; `false` if there was none.
    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn touch_api_key(&mut self, id: ApiKeyId, at: OffsetDateTime)
    -> Result<bool, StoreError>;

    async fn insert_invitation(
        &mut self,
        invitation: NewInvitation,
    ) -> Result<Invitation, StoreError>;
    async fn invitation(&mut self, id: InvitationId) -> Result<Option<Invitation>, StoreError>;
    async fn list_invitations(
        &mut self,
        page: Page<InvitationId>,
    ) -> Result<Vec<Invitation>, StoreError>;
    /// Marks an unexpired, unaccepted invitation accepted, atomically: of
    /// any number of concurrent callers exactly one gets `true`.
    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn delete_invitation(&mut self, id: InvitationId) -> Result<bool, StoreError>;

    /// Appends an entry to this tenant's hash-chained audit log.
    async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError>;
    async fn list_audit(&mut self, query: AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
    /// Entries in chain order, from `after_seq + 1`, for verification.
    async fn audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Erases the personal fields of one entry; the chain stays verifiable.
    async fn erase_audit_personal(&mut self, seq: i64) -> Result<bool, StoreError>;

    async fn insert_collection(
        &mut self,
        collection: NewCollection,
    ) -> Result<Collection, StoreError>;
    async fn collection(&mut self, name: &str) -> Result<Option<Collection>, StoreError>;
    /// The collection's schema exactly as stored, as JSON text: what a
    /// caller that keeps parsed schemas by their text compares, instead of
    /// parsing the schema again for every write.
    async fn collection_schema(&mut self, name: &str) -> Result<Option<String>, StoreError>;
    /// Every collection of the tenant, by name.
    async fn list_collections(&mut self) -> Result<Vec<Collection>, StoreError>;
    /// Replaces the schema if the collection is at `expected_version`.
    async fn update_collection(
        &mut self,
        name: &str,
        schema: &serde_json::Value,
        expected_version: i64,
        at: OffsetDateTime,
    ) -> Result<Write<Collection>, StoreError>;
    /// Deletes the collection and all its records.
    async fn delete_collection(&mut self, name: &str) -> Result<bool, StoreError>;
    /// Removes a data field from every record of the collection, and its
    /// unique values, when the schema drops the field: a later field of the
    /// same name must not find the old values. Versions are unchanged (it is
    /// a schema change, not a record write). Returns how many records
    /// changed.
    async fn remove_record_field(
        &mut self,
        collection: &str,
        field: &str,
    ) -> Result<u64, StoreError>;
    /// Makes sure an index over these data fields of the collection's records
    /// exists (led by tenant and collection). Idempotent.
    async fn ensure_record_index(
        &mut self,
        collection: &str,
        fields: &[(String, FieldType)],
    ) -> Result<(), StoreError>;

    /// Inserts a record; a taken unique value is `Conflict(UniqueValue)`.
    async fn insert_record(&mut self, record: NewRecord) -> Result<Record, StoreError>;
    async fn record(
        &mut self,
        collection: &str,
        id: RecordId,
    ) -> Result<Option<Record>, StoreError>;
    /// Replaces a record's document, bumping its version.
    async fn update_record(&mut self, change: RecordChange) -> Result<Write<Record>, StoreError>;
    async fn delete_record(
        &mut self,
        collection: &str,
        id: RecordId,
        expected_version: Option<i64>,
    ) -> Result<Write<Record>, StoreError>;
    async fn list_records(
        &mut self,
        collection: &str,
        query: &RecordQuery,
    ) -> Result<Vec<Record>, StoreError>;
    /// Which record holds a unique value, if any.
    async fn unique_value_holder(
        &mut self,
        collection: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<RecordId>, StoreError>;

    /// Claims an `Idempotency-Key` for a request with this body hash, or
    /// finds what it was used for. Concurrent claims of one key serialise:
    /// the second waits for the first transaction and then sees its answer.
    async fn claim_idempotency_key(
        &mut self,
        key: &str,
        request_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<IdempotencyClaim, StoreError>;
    async fn complete_idempotency_key(
        &mut self,
        key: &str,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Appends a change to a record: its audit entry (as `append_audit`) and
    /// its event, which is numbered by that entry (`event.seq ==
    /// entry.seq`). A tenant's realtime stream is thus the record changes of
    /// its audit log: numbers increase per tenant and skip the entries that
    /// are not record changes. Why one call: an event never goes without its
    /// audit entry, and a backend may store the event beside the entry
    /// instead of indexing it again (SQLite does).
    async fn append_record_change(
        &mut self,
        event: NewRecordEvent,
        audit: AuditDraft,
    ) -> Result<(RecordEvent, AuditEntry), StoreError>;
    /// Where the tenant's stream is now: at least the newest record event's
    /// number, and below the number of every event appended after this
    /// (0 for a tenant with no audit entry). It is the newest audit entry's.
    async fn record_event_position(&mut self) -> Result<i64, StoreError>;
    /// Events with a number above `after_seq`, oldest first.
    async fn record_events_after(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<RecordEvent>, StoreError>;

    /// Announces, once this transaction commits, that cached state is stale.
    fn invalidate(&mut self, invalidation: Invalidation);

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A transaction over platform tables.
#[async_trait]
pub trait PlatformTx: Send {
    async fn insert_user(&mut self, user: NewUser) -> Result<User, StoreError>;
    async fn user(&mut self, id: UserId) -> Result<Option<User>, StoreError>;
    /// The account whose email key is `email.key`. Of accounts that share a
    /// key (see [`EmailKeyCollision`]) it is the one stored exactly as
    /// `email.as_stored_before_keys`, or else the one holding the key.
    async fn user_by_email(&mut self, email: &EmailLookup) -> Result<Option<User>, StoreError>;
    /// Every group of accounts that share an email key, oldest first.
    async fn email_key_collisions(&mut self) -> Result<Vec<EmailKeyCollision>, StoreError>;
    async fn set_password_hash(
        &mut self,
        id: UserId,
        hash: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn set_user_deactivated(
        &mut self,
        id: UserId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn count_platform_admins(&mut self) -> Result<u64, StoreError>;

    async fn tenant_by_id(&mut self, id: TenantId) -> Result<Option<Tenant>, StoreError>;
    async fn tenant_by_slug(&mut self, slug: &TenantSlug) -> Result<Option<Tenant>, StoreError>;
    /// Tenants ordered by id, optionally only those whose slug or name
    /// contains `search` (case-insensitively).
    async fn list_tenants(
        &mut self,
        search: Option<&str>,
        page: Page<TenantId>,
    ) -> Result<Vec<Tenant>, StoreError>;
    async fn set_tenant_suspended(
        &mut self,
        id: TenantId,
        at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    async fn insert_session(&mut self, session: NewSession) -> Result<Session, StoreError>;
    async fn session(&mut self, id: SessionId) -> Result<Option<Session>, StoreError>;
    async fn sessions_of_user(&mut self, user: UserId) -> Result<Vec<Session>, StoreError>;
    /// A refresh token, current or rotated, by its SHA-256.
    async fn refresh_token(&mut self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, StoreError>;
    /// Marks `current` rotated and gives the session `next`, only if
    /// `current` is the session's current token and the session is not
    /// revoked: the atomic claim behind refresh-token rotation. Of any
    /// number of concurrent callers with the same `current`, one wins.
    async fn rotate_refresh_token(
        &mut self,
        session: SessionId,
        current: &[u8; 32],
        next: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn revoke_session(
        &mut self,
        id: SessionId,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn revoke_sessions_of_user(
        &mut self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Serialises signing-key bootstrap and rotation across server processes
    /// until this transaction ends, so two processes starting at once agree
    /// on one key.
    async fn lock_signing_keys(&mut self) -> Result<(), StoreError>;
    /// Every signing key, newest first.
    async fn signing_keys(&mut self) -> Result<Vec<SigningKey>, StoreError>;
    async fn insert_signing_key(&mut self, key: SigningKey) -> Result<(), StoreError>;
    async fn retire_signing_keys(
        &mut self,
        except_kid: &str,
        at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Appends an entry to the platform's own hash-chained audit log.
    async fn append_platform_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError>;
    async fn list_platform_audit(
        &mut self,
        query: AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// Platform entries in chain order, from `after_seq + 1`.
    async fn platform_audit_chain(
        &mut self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Announces, once this transaction commits, that cached state is stale.
    fn invalidate(&mut self, invalidation: Invalidation);

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}
