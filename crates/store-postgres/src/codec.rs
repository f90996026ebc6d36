//! PostgreSQL rows into model types, and sqlx errors into [`StoreError`].

use bulkhead_domain::audit::{ActorKind, Outcome};
use bulkhead_domain::id::Id;
use bulkhead_domain::ledger::Markup;
use bulkhead_domain::{Email, Role, TenantSlug};
use bulkhead_store::{
    ApiKey, AuditEntry, AuditPersonal, ConflictKind, Invitation, Member, Membership, RefreshToken,
    Session, SigningKey, StoreError, Tenant, TenantTable, User,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::migrate::platform_tables;

/// Maps a sqlx error to what a service can act on.
pub fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => StoreError::Conflict(conflict_kind(conflicting_table(db.as_ref()))),
            Some("23503") => StoreError::MissingReference,
            // Serialization failures and deadlocks: the transaction lost a
            // race, and running it again may well succeed at once.
            Some("40001" | "40P01") => StoreError::Contention(error.to_string()),
            // Shutdown and connection loss: the request may succeed if
            // retried later.
            Some("57P01" | "57P02" | "57P03" | "53300") => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Internal(error.to_string()),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        _ => StoreError::Internal(error.to_string()),
    }
}

/// Maps an error and remembers that the transaction has failed.
pub fn fail(failed: &mut bool, error: sqlx::Error) -> StoreError {
    *failed = true;
    store_error(error)
}

/// The table a shard belongs to. Under Citus a violation is raised by a
/// worker, on a shard named after its table and a shard number
/// (`tenants_102008`); the table is what says which conflict it is.
fn logical_table(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((table, shard)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => {
            table
        }
        _ => name,
    }
}

/// The table of a unique violation. PostgreSQL names it in the error's
/// table field; a violation that Citus relays from a worker carries only
/// the message, which names the shard's constraint
/// (`duplicate key value violates unique constraint "uq_tenants_slug_102008"`),
/// and the schema names every unique constraint after its table.
fn conflicting_table(db: &dyn sqlx::error::DatabaseError) -> Option<&str> {
    if let Some(table) = db.table() {
        return Some(logical_table(table));
    }
    let constraint = db
        .constraint()
        .or_else(|| db.message().split('"').nth(1))
        .map(logical_table)?;
    table_of_constraint(constraint)
}

/// The table of the schema (tenant or platform) that `constraint` is
/// named after; the longest name wins, so that a table whose name begins
/// another's (`records`, `record_…`) is never taken for it.
fn table_of_constraint(constraint: &str) -> Option<&'static str> {
    TenantTable::names()
        .chain(platform_tables())
        .filter(|table| names_constraint_of(constraint, table))
        .max_by_key(|table| table.len())
}

/// Whether `constraint` is one of `table`'s, by the schema's naming:
/// `<table>_pkey`, `<table>_<columns>_key` or `uq_<table>_<what>`.
fn names_constraint_of(constraint: &str, table: &str) -> bool {
    constraint
        .strip_prefix("uq_")
        .unwrap_or(constraint)
        .strip_prefix(table)
        .is_some_and(|rest| rest.starts_with('_'))
}

fn conflict_kind(table: Option<&str>) -> ConflictKind {
    match table {
        Some("tenants") => ConflictKind::TenantSlug,
        Some("users") => ConflictKind::UserEmail,
        Some("memberships") => ConflictKind::Membership,
        Some("sessions" | "refresh_tokens") => ConflictKind::SessionToken,
        Some("api_keys") => ConflictKind::ApiKey,
        Some("invitations") => ConflictKind::Invitation,
        Some("signing_keys") => ConflictKind::SigningKey,
        Some("collections") => ConflictKind::Collection,
        Some("records") => ConflictKind::Record,
        Some("record_unique_values") => ConflictKind::UniqueValue,
        Some("plans") => ConflictKind::Plan,
        _ => ConflictKind::Other,
    }
}

pub(crate) fn decode_error(column: &str, error: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: error.to_string().into(),
    }
}

pub(crate) fn id<K>(row: &PgRow, column: &str) -> sqlx::Result<Id<K>> {
    Ok(Id::from_uuid(row.try_get(column)?))
}

pub(crate) fn opt_id<K>(row: &PgRow, column: &str) -> sqlx::Result<Option<Id<K>>> {
    Ok(row
        .try_get::<Option<uuid::Uuid>, _>(column)?
        .map(Id::from_uuid))
}

fn role(row: &PgRow, column: &str) -> sqlx::Result<Role> {
    let text: &str = row.try_get(column)?;
    text.parse().map_err(|e| decode_error(column, e))
}

pub fn bytes<const N: usize>(row: &PgRow, column: &str) -> sqlx::Result<[u8; N]> {
    let bytes: &[u8] = row.try_get(column)?;
    bytes
        .try_into()
        .map_err(|_| decode_error(column, format!("expected {N} bytes, found {}", bytes.len())))
}

pub const TENANT_COLUMNS: &str =
    "id, slug, name, plan, suspended_at, created_at, updated_at, charge_markup_millionths";

pub fn tenant(row: &PgRow) -> sqlx::Result<Tenant> {
    let slug: &str = row.try_get("slug")?;
    Ok(Tenant {
        id: id(row, "id")?,
        slug: TenantSlug::parse(slug).map_err(|e| decode_error("slug", e))?,
        name: row.try_get("name")?,
        plan: row.try_get("plan")?,
        suspended_at: row.try_get("suspended_at")?,
        charge_markup: row
            .try_get::<Option<i64>, _>("charge_markup_millionths")?
            .map(Markup::from_millionths)
            .transpose()
            .map_err(|e| decode_error("charge_markup_millionths", e))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub const USER_COLUMNS: &str = "id, email, display_name, password_hash, is_platform_admin, deactivated_at, created_at, updated_at";

pub fn user(row: &PgRow) -> sqlx::Result<User> {
    let email: &str = row.try_get("email")?;
    Ok(User {
        id: id(row, "id")?,
        email: Email::from_stored(email),
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        is_platform_admin: row.try_get("is_platform_admin")?,
        deactivated_at: row.try_get("deactivated_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub const MEMBERSHIP_COLUMNS: &str = "tenant_id, user_id, role, created_at, updated_at";

pub fn membership(row: &PgRow) -> sqlx::Result<Membership> {
    Ok(Membership {
        tenant_id: id(row, "tenant_id")?,
        user_id: id(row, "user_id")?,
        role: role(row, "role")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent";

pub fn session(row: &PgRow) -> sqlx::Result<Session> {
    Ok(Session {
        id: id(row, "id")?,
        user_id: id(row, "user_id")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

pub const REFRESH_TOKEN_COLUMNS: &str = "token_hash, session_id, created_at, rotated_at";

pub fn refresh_token(row: &PgRow) -> sqlx::Result<RefreshToken> {
    Ok(RefreshToken {
        token_hash: bytes(row, "token_hash")?,
        session_id: id(row, "session_id")?,
        created_at: row.try_get("created_at")?,
        rotated_at: row.try_get("rotated_at")?,
    })
}

pub const MEMBER_COLUMNS: &str =
    "m.tenant_id, m.user_id, m.role, m.created_at, m.updated_at, u.email, u.display_name";

pub fn member(row: &PgRow) -> sqlx::Result<Member> {
    let email: &str = row.try_get("email")?;
    Ok(Member {
        membership: membership(row)?,
        email: Email::from_stored(email),
        display_name: row.try_get("display_name")?,
    })
}

pub const API_KEY_COLUMNS: &str = "tenant_id, id, name, prefix, key_hash, role, created_by, created_at, expires_at, revoked_at, last_used_at";

pub fn api_key(row: &PgRow) -> sqlx::Result<ApiKey> {
    Ok(ApiKey {
        tenant_id: id(row, "tenant_id")?,
        id: id(row, "id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        key_hash: bytes(row, "key_hash")?,
        role: role(row, "role")?,
        created_by: opt_id(row, "created_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

pub const INVITATION_COLUMNS: &str = "tenant_id, id, email, role, token_hash, invited_by, created_at, expires_at, accepted_at, accepted_by";

pub fn invitation(row: &PgRow) -> sqlx::Result<Invitation> {
    let email: &str = row.try_get("email")?;
    Ok(Invitation {
        tenant_id: id(row, "tenant_id")?,
        id: id(row, "id")?,
        email: Email::from_stored(email),
        role: role(row, "role")?,
        token_hash: bytes(row, "token_hash")?,
        invited_by: opt_id(row, "invited_by")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted_at: row.try_get("accepted_at")?,
        accepted_by: opt_id(row, "accepted_by")?,
    })
}

/// Audit columns, joined with the erasable personal part (`p`).
pub const AUDIT_COLUMNS: &str = "a.tenant_id, a.seq, a.id, a.at, a.actor_kind, a.actor_id, a.action, \
     a.resource_type, a.resource_id, a.outcome, a.request_id, a.details, a.personal_digest, \
     a.prev_hash, a.hash, p.salt, p.ip, p.user_agent";

/// The platform log's columns, with a NULL tenant.
pub const PLATFORM_AUDIT_COLUMNS: &str = "NULL::uuid AS tenant_id, a.seq, a.id, a.at, a.actor_kind, \
     a.actor_id, a.action, a.resource_type, a.resource_id, a.outcome, a.request_id, a.details, \
     a.personal_digest, a.prev_hash, a.hash, p.salt, p.ip, p.user_agent";

pub fn audit_entry(row: &PgRow) -> sqlx::Result<AuditEntry> {
    let actor_kind: &str = row.try_get("actor_kind")?;
    let outcome: &str = row.try_get("outcome")?;
    let salt: Option<&[u8]> = row.try_get("salt")?;
    let personal = match salt {
        Some(_) => Some(AuditPersonal {
            salt: bytes(row, "salt")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
        }),
        None => None,
    };
    Ok(AuditEntry {
        tenant_id: opt_id(row, "tenant_id")?,
        seq: row.try_get("seq")?,
        id: id(row, "id")?,
        at: row.try_get("at")?,
        actor_kind: ActorKind::parse(actor_kind)
            .ok_or_else(|| decode_error("actor_kind", actor_kind))?,
        actor_id: row.try_get("actor_id")?,
        action: row.try_get("action")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        outcome: Outcome::parse(outcome).ok_or_else(|| decode_error("outcome", outcome))?,
        request_id: row.try_get("request_id")?,
        details: row.try_get("details")?,
        personal,
        personal_digest: bytes(row, "personal_digest")?,
        prev_hash: bytes(row, "prev_hash")?,
        hash: bytes(row, "hash")?,
    })
}

pub const SIGNING_KEY_COLUMNS: &str = "kid, secret, created_at, retired_at";

pub fn signing_key(row: &PgRow) -> sqlx::Result<SigningKey> {
    Ok(SigningKey {
        kid: row.try_get("kid")?,
        secret: row.try_get("secret")?,
        created_at: row.try_get("created_at")?,
        retired_at: row.try_get("retired_at")?,
    })
}

/// `at` as a `timestamptz` keeps it: sqlx sends whole microseconds,
/// truncating the rest. For values returned without reading them back.
pub fn stored_time(at: time::OffsetDateTime) -> time::OffsetDateTime {
    let nanos = at.unix_timestamp_nanos();
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1_000)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constraint_names_its_table() {
        let table = |constraint: &str| table_of_constraint(logical_table(constraint));
        assert_eq!(table("uq_tenants_slug_102008"), Some("tenants"));
        assert_eq!(table("uq_users_email_key_102010"), Some("users"));
        assert_eq!(
            table("record_unique_values_pkey_102300"),
            Some("record_unique_values")
        );
        assert_eq!(table("records_pkey_102200"), Some("records"));
        assert_eq!(table("collections_pkey"), Some("collections"));
        assert_eq!(table("uq_api_keys_hash_102100"), Some("api_keys"));
        assert_eq!(table("something_else"), None);
    }

    #[test]
    fn a_shard_names_its_table() {
        assert_eq!(logical_table("tenants_102008"), "tenants");
        assert_eq!(
            logical_table("record_unique_values_102100"),
            "record_unique_values"
        );
        assert_eq!(
            logical_table("record_unique_values"),
            "record_unique_values"
        );
        assert_eq!(logical_table("api_keys"), "api_keys");
    }
}
