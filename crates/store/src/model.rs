//! The rows a store reads and writes.
//!
//! `New*` types are what a caller supplies to create a row. None of them has
//! a tenant id: a tenant-owned row always lands in the tenant of the
//! transaction that inserts it.

use bulkhead_domain::audit::{ActorKind, Outcome};
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{
    ApiKeyId, AuditEntryId, Email, InvitationId, Role, SessionId, TenantId, TenantSlug, UserId,
};
use time::OffsetDateTime;

/// A tenant (an organisation) in the platform registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub plan: String,
    pub suspended_at: Option<OffsetDateTime>,
    /// What the tenant's charges multiply a metered cost by, when a
    /// platform admin set it; the plan's markup (or 1) applies otherwise.
    pub charge_markup: Option<Markup>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    pub plan: String,
    pub at: OffsetDateTime,
}

/// A user account. Users are platform-wide; what they may do inside a tenant
/// comes from their [`Membership`] there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
    /// A PHC string (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub deactivated_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Email,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub at: OffsetDateTime,
}

/// Accounts whose addresses share one [`bulkhead_domain::EmailKey`]: made
/// before keys existed (migration 0007 on SQLite, 0003 on PostgreSQL), kept
/// as they were, and reported so an operator can resolve them. The first
/// account listed, the oldest, holds the key; a new sign-up with it is
/// refused as taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailKeyCollision {
    pub key: String,
    pub users: Vec<CollidingUser>,
}

impl EmailKeyCollision {
    /// Groups `(key, user)` rows ordered by key into one collision a key.
    pub fn group(rows: impl IntoIterator<Item = (String, CollidingUser)>) -> Vec<Self> {
        let mut groups: Vec<Self> = Vec::new();
        for (key, user) in rows {
            match groups.last_mut() {
                Some(group) if group.key == key => group.users.push(user),
                _ => groups.push(Self {
                    key,
                    users: vec![user],
                }),
            }
        }
        groups
    }
}

/// One account of an [`EmailKeyCollision`], with the address it logs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollidingUser {
    pub id: UserId,
    pub email: String,
}

/// A user's role in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewMembership {
    pub user_id: UserId,
    pub role: Role,
    pub at: OffsetDateTime,
}

/// A member's new role.
#[derive(Debug, Clone)]
pub struct MembershipChange {
    pub user_id: UserId,
    pub role: Role,
    pub at: OffsetDateTime,
}

/// One of a user's memberships, with the tenant it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMembership {
    pub tenant: Tenant,
    pub role: Role,
    pub joined_at: OffsetDateTime,
}

/// A login session. Its refresh tokens are kept apart ([`RefreshToken`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session with its first refresh token (only the token's SHA-256).
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub refresh_token_hash: [u8; 32],
    pub expires_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub at: OffsetDateTime,
}

/// One refresh token a session was given, by its SHA-256. The session's
/// current token has `rotated_at == None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: [u8; 32],
    pub session_id: SessionId,
    pub created_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
}

/// A refresh-token rotation: in `session`, the token `current` (by its
/// SHA-256) gives way to `next`.
#[derive(Debug, Clone, Copy)]
pub struct TokenRotation {
    pub session: SessionId,
    pub current: [u8; 32],
    pub next: [u8; 32],
    pub at: OffsetDateTime,
}

/// A member of a tenant with the user's public profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub membership: Membership,
    pub email: Email,
    pub display_name: Option<String>,
}

/// Something cached elsewhere that a committed change made stale. Stores
/// deliver these to every listener of every server process sharing the
/// database, after the commit and before the commit call returns locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Invalidation {
    Session(SessionId),
    /// The user's account (deactivation, password change).
    User(UserId),
    /// A tenant's registry row (renamed, suspended, deleted).
    Tenant(TenantId),
    /// One user's membership in one tenant (added, role changed, removed).
    Membership(TenantId, UserId),
    ApiKey(TenantId, ApiKeyId),
    /// The tenant has new record events (for realtime subscribers).
    RecordEvents(TenantId),
    /// A collection of the tenant was created, changed or deleted.
    Collections(TenantId),
    /// A plan was added or changed (a tenant moving plans is `Tenant`).
    Plans,
    /// Anything may be stale (e.g. notifications may have been missed).
    Everything,
}

/// What a store tells the listeners registered with
/// [`Store::on_notice`](crate::Store::on_notice): committed invalidations,
/// and whether those of other server processes are reaching this one.
///
/// A cache may serve what it holds only while other processes'
/// invalidations arrive: a change committed elsewhere while they do not
/// is learned of by nobody. So between [`Notice::Interrupted`] and
/// [`Notice::Resumed`] a cache serves nothing from memory, and at
/// `Resumed` it forgets what it held, since what was committed in the gap
/// is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// A committed change made this stale.
    Invalidated(Invalidation),
    /// Invalidations committed by other processes may no longer reach this
    /// one (the connection that carries them was lost).
    Interrupted,
    /// Other processes' invalidations reach this one again: the connection
    /// is back and listening. Anything cached may have missed some.
    Resumed,
}

/// An API key of one tenant. Only the SHA-256 of the key is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub tenant_id: TenantId,
    pub id: ApiKeyId,
    pub name: String,
    /// The key's first characters, shown in lists so people can tell keys apart.
    pub prefix: String,
    pub key_hash: [u8; 32],
    pub role: Role,
    pub created_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub key_hash: [u8; 32],
    pub role: Role,
    pub created_by: Option<UserId>,
    pub expires_at: Option<OffsetDateTime>,
    pub at: OffsetDateTime,
}

/// An invitation into one tenant. Only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub tenant_id: TenantId,
    pub id: InvitationId,
    pub email: Email,
    pub role: Role,
    pub token_hash: [u8; 32],
    pub invited_by: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub accepted_by: Option<UserId>,
}

#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub id: InvitationId,
    pub email: Email,
    pub role: Role,
    pub token_hash: [u8; 32],
    pub invited_by: Option<UserId>,
    pub expires_at: OffsetDateTime,
    pub at: OffsetDateTime,
}

/// An invitation's acceptance by a user.
#[derive(Debug, Clone, Copy)]
pub struct InvitationAcceptance {
    pub invitation: InvitationId,
    pub user: UserId,
    pub at: OffsetDateTime,
}

/// What a service records in a tenant's audit log. The store assigns the
/// sequence number and the chain hashes.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub id: AuditEntryId,
    pub at: OffsetDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<uuid::Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An entry of a hash-chained audit log: one tenant's, or the platform's.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `None` for the platform's own log.
    pub tenant_id: Option<TenantId>,
    /// Position in the tenant's chain, from 1, without gaps.
    pub seq: i64,
    pub id: AuditEntryId,
    pub at: OffsetDateTime,
    pub actor_kind: ActorKind,
    pub actor_id: Option<uuid::Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub details: serde_json::Value,
    /// `None` once the personal data was erased.
    pub personal: Option<AuditPersonal>,
    pub personal_digest: [u8; 32],
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The erasable part of an audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPersonal {
    pub salt: [u8; 16],
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Which audit entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries with a smaller sequence number (the cursor).
    pub before_seq: Option<i64>,
    pub action: Option<String>,
    pub actor_id: Option<uuid::Uuid>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub limit: u32,
}

/// A key for signing access tokens, shared by every server process of a
/// deployment through the database.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Set when a newer key took over; the key still verifies tokens until
    /// they have all expired.
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A page request over a list ordered by id.
#[derive(Debug, Clone, Copy)]
pub struct Page<K> {
    /// Only items whose key sorts after this one.
    pub after: Option<K>,
    pub limit: u32,
}

impl<K> Page<K> {
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}
