//! Column lists and row decoders, one pair per table, so every query of a
//! table selects the same columns in the same order.

use bulkhead_domain::audit::{ActorKind, Outcome};
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{Email, TenantSlug};
use bulkhead_store::{
    ApiKey, AuditEntry, AuditPersonal, Collection, Document, EventKind, Invitation, Member,
    Membership, Record, RecordEvent, RefreshToken, Session, SigningKey, Tenant, User,
};
use rusqlite::Row;

use crate::codec::{
    conversion_error, id_col, opt_id_col, opt_time_col, opt_uuid_col, role_col, time_col,
};

pub const TENANT_COLUMNS: &str =
    "id, slug, name, plan, suspended_at, created_at, updated_at, charge_markup_millionths";

pub fn tenant(row: &Row<'_>) -> rusqlite::Result<Tenant> {
    let slug: String = row.get(1)?;
    Ok(Tenant {
        id: id_col(row, 0)?,
        slug: TenantSlug::parse(&slug).map_err(|e| conversion_error(1, e))?,
        name: row.get(2)?,
        plan: row.get(3)?,
        suspended_at: opt_time_col(row, 4)?,
        charge_markup: row
            .get::<_, Option<i64>>(7)?
            .map(Markup::from_millionths)
            .transpose()
            .map_err(|e| conversion_error(7, e))?,
        created_at: time_col(row, 5)?,
        updated_at: time_col(row, 6)?,
    })
}

pub const USER_COLUMNS: &str = "id, email, display_name, password_hash, is_platform_admin, deactivated_at, created_at, updated_at";

pub fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    let email: String = row.get(1)?;
    Ok(User {
        id: id_col(row, 0)?,
        email: Email::from_stored(&email),
        display_name: row.get(2)?,
        password_hash: row.get(3)?,
        is_platform_admin: row.get(4)?,
        deactivated_at: opt_time_col(row, 5)?,
        created_at: time_col(row, 6)?,
        updated_at: time_col(row, 7)?,
    })
}

pub const MEMBERSHIP_COLUMNS: &str = "tenant_id, user_id, role, created_at, updated_at";

pub fn membership(row: &Row<'_>) -> rusqlite::Result<Membership> {
    Ok(Membership {
        tenant_id: id_col(row, 0)?,
        user_id: id_col(row, 1)?,
        role: role_col(row, 2)?,
        created_at: time_col(row, 3)?,
        updated_at: time_col(row, 4)?,
    })
}

pub const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent";

pub fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: id_col(row, 0)?,
        user_id: id_col(row, 1)?,
        created_at: time_col(row, 2)?,
        last_used_at: time_col(row, 3)?,
        expires_at: time_col(row, 4)?,
        revoked_at: opt_time_col(row, 5)?,
        ip: row.get(6)?,
        user_agent: row.get(7)?,
    })
}

pub const REFRESH_TOKEN_COLUMNS: &str = "token_hash, session_id, created_at, rotated_at";

pub fn refresh_token(row: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: row.get(0)?,
        session_id: id_col(row, 1)?,
        created_at: time_col(row, 2)?,
        rotated_at: opt_time_col(row, 3)?,
    })
}

pub const MEMBER_COLUMNS: &str =
    "m.tenant_id, m.user_id, m.role, m.created_at, m.updated_at, u.email, u.display_name";

pub fn member(row: &Row<'_>) -> rusqlite::Result<Member> {
    let email: String = row.get(5)?;
    Ok(Member {
        membership: membership(row)?,
        email: Email::from_stored(&email),
        display_name: row.get(6)?,
    })
}

pub const API_KEY_COLUMNS: &str = "tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at, revoked_at, last_used_at";

pub fn api_key(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        tenant_id: id_col(row, 0)?,
        id: id_col(row, 1)?,
        name: row.get(2)?,
        prefix: row.get(3)?,
        key_hash: row.get(4)?,
        role: role_col(row, 5)?,
        created_by: opt_id_col(row, 6)?,
        created_at: time_col(row, 7)?,
        expires_at: opt_time_col(row, 8)?,
        revoked_at: opt_time_col(row, 9)?,
        last_used_at: opt_time_col(row, 10)?,
    })
}

pub const INVITATION_COLUMNS: &str = "tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, accepted_by";

pub fn invitation(row: &Row<'_>) -> rusqlite::Result<Invitation> {
    let email: String = row.get(2)?;
    Ok(Invitation {
        tenant_id: id_col(row, 0)?,
        id: id_col(row, 1)?,
        email: Email::from_stored(&email),
        role: role_col(row, 3)?,
        token_hash: row.get(4)?,
        invited_by: opt_id_col(row, 5)?,
        created_at: time_col(row, 6)?,
        expires_at: time_col(row, 7)?,
        accepted_at: opt_time_col(row, 8)?,
        accepted_by: opt_id_col(row, 9)?,
    })
}

/// Audit columns, joined with the erasable personal part (`p`).
pub const AUDIT_COLUMNS: &str = "a.tenant_id, a.seq, a.id, a.at, a.actor_kind, a.actor_id, a.action, a.resource_type, \
     a.resource_id, a.outcome, a.request_id, a.details, a.personal_digest, a.prev_hash, a.hash, \
     p.salt, p.ip, p.user_agent";

/// The platform log's columns in the same order, with no tenant.
pub const PLATFORM_AUDIT_COLUMNS: &str = "NULL, a.seq, a.id, a.at, a.actor_kind, a.actor_id, a.action, a.resource_type, \
     a.resource_id, a.outcome, a.request_id, a.details, a.personal_digest, a.prev_hash, a.hash, \
     p.salt, p.ip, p.user_agent";

#[derive(Debug, thiserror::Error)]
#[error("unknown {0} in audit_log")]
struct UnknownValue(&'static str);

pub fn audit_entry(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let actor_kind: String = row.get(4)?;
    let outcome: String = row.get(9)?;
    let details: String = row.get(11)?;
    let salt: Option<[u8; 16]> = row.get(15)?;
    Ok(AuditEntry {
        tenant_id: opt_id_col(row, 0)?,
        seq: row.get(1)?,
        id: id_col(row, 2)?,
        at: time_col(row, 3)?,
        actor_kind: ActorKind::parse(&actor_kind)
            .ok_or_else(|| conversion_error(4, UnknownValue("actor_kind")))?,
        actor_id: opt_uuid_col(row, 5)?,
        action: row.get(6)?,
        resource_type: row.get(7)?,
        resource_id: row.get(8)?,
        outcome: Outcome::parse(&outcome)
            .ok_or_else(|| conversion_error(9, UnknownValue("outcome")))?,
        request_id: row.get(10)?,
        details: serde_json::from_str(&details).map_err(|e| conversion_error(11, e))?,
        personal_digest: row.get(12)?,
        prev_hash: row.get(13)?,
        hash: row.get(14)?,
        personal: match salt {
            Some(salt) => Some(AuditPersonal {
                salt,
                ip: row.get(16)?,
                user_agent: row.get(17)?,
            }),
            None => None,
        },
    })
}

pub const SIGNING_KEY_COLUMNS: &str = "kid, secret, created_at, retired_at";

pub fn signing_key(row: &Row<'_>) -> rusqlite::Result<SigningKey> {
    Ok(SigningKey {
        kid: row.get(0)?,
        secret: row.get(1)?,
        created_at: time_col(row, 2)?,
        retired_at: opt_time_col(row, 3)?,
    })
}

pub const COLLECTION_COLUMNS: &str = "tenant_id, name, schema, version, created_at, updated_at";

pub fn collection(row: &Row<'_>) -> rusqlite::Result<Collection> {
    let schema: String = row.get(2)?;
    Ok(Collection {
        tenant_id: id_col(row, 0)?,
        name: row.get(1)?,
        schema: serde_json::from_str(&schema).map_err(|e| conversion_error(2, e))?,
        version: row.get(3)?,
        created_at: time_col(row, 4)?,
        updated_at: time_col(row, 5)?,
    })
}

pub const RECORD_COLUMNS: &str =
    "tenant_id, id, collection, owner_id, version, created_at, updated_at, data";

pub fn record(row: &Row<'_>) -> rusqlite::Result<Record> {
    let data: String = row.get(7)?;
    Ok(Record {
        tenant_id: id_col(row, 0)?,
        id: id_col(row, 1)?,
        collection: row.get(2)?,
        owner_id: opt_id_col(row, 3)?,
        version: row.get(4)?,
        created_at: time_col(row, 5)?,
        updated_at: time_col(row, 6)?,
        data: Document::from_text(data).map_err(|e| conversion_error(7, e))?,
    })
}

/// An event's columns, joined to its audit entry (`a`), which gives it its
/// number.
pub const RECORD_EVENT_COLUMNS: &str =
    "e.tenant_id, a.seq, e.collection, e.record_id, e.kind, e.owner_id, e.payload, e.at";

pub fn record_event(row: &Row<'_>) -> rusqlite::Result<RecordEvent> {
    let kind: String = row.get(4)?;
    let payload: String = row.get(6)?;
    Ok(RecordEvent {
        tenant_id: id_col(row, 0)?,
        seq: row.get(1)?,
        collection: row.get(2)?,
        record_id: id_col(row, 3)?,
        kind: EventKind::parse(&kind)
            .ok_or_else(|| conversion_error(4, UnknownValue("event kind")))?,
        owner_id: opt_id_col(row, 5)?,
        payload: serde_json::from_str(&payload).map_err(|e| conversion_error(6, e))?,
        at: time_col(row, 7)?,
    })
}
