//! Conversions between Rust values and SQLite columns, and SQLite errors
//! into [`StoreError`].
//!
//! Ids are stored as 16-byte blobs and times as microseconds since the Unix
//! epoch, which sorts correctly and matches PostgreSQL's precision.

use bulkhead_domain::Role;
use bulkhead_domain::id::Id;
use bulkhead_store::{ConflictKind, StoreError};
use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use time::OffsetDateTime;

/// An id as a SQLite blob parameter.
pub fn id_param<K>(id: &Id<K>) -> &[u8; 16] {
    id.as_bytes()
}

/// A time as microseconds since the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Micros(pub OffsetDateTime);

impl ToSql for Micros {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(to_micros(self.0)))
    }
}

impl FromSql for Micros {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let micros = i64::column_result(value)?;
        from_micros(micros)
            .map(Micros)
            .ok_or(FromSqlError::OutOfRange(micros))
    }
}

pub fn to_micros(at: OffsetDateTime) -> i64 {
    // i64 microseconds span ±292,000 years; `time` cannot represent more.
    (at.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_micros(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// `at` as the database keeps it (whole microseconds): what a read would
/// return, for values the store returns without reading them back.
pub fn stored_time(at: OffsetDateTime) -> OffsetDateTime {
    from_micros(to_micros(at)).unwrap_or(at)
}

pub fn opt_micros(at: Option<OffsetDateTime>) -> Option<Micros> {
    at.map(Micros)
}

/// Reads a 16-byte blob column as an id.
pub fn id_col<K>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Id<K>> {
    let bytes: [u8; 16] = row.get(index)?;
    Ok(Id::from_uuid(uuid::Uuid::from_bytes(bytes)))
}

pub fn opt_id_col<K>(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<Id<K>>> {
    let bytes: Option<[u8; 16]> = row.get(index)?;
    Ok(bytes.map(|bytes| Id::from_uuid(uuid::Uuid::from_bytes(bytes))))
}

pub fn opt_uuid_col(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<uuid::Uuid>> {
    let bytes: Option<[u8; 16]> = row.get(index)?;
    Ok(bytes.map(uuid::Uuid::from_bytes))
}

pub fn time_col(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<OffsetDateTime> {
    Ok(row.get::<_, Micros>(index)?.0)
}

pub fn opt_time_col(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<OffsetDateTime>> {
    Ok(row.get::<_, Option<Micros>>(index)?.map(|m| m.0))
}

pub fn role_col(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Role> {
    let text: String = row.get(index)?;
    text.parse().map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

/// Wraps a parse error from a column as a rusqlite conversion error.
pub fn conversion_error(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error))
}

/// Maps a SQLite error to what a service can act on.
pub fn store_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ffi::ErrorCode;
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation => {
                let message = message.as_deref().unwrap_or_default();
                if message.starts_with("UNIQUE") || message.starts_with("PRIMARY KEY") {
                    StoreError::Conflict(conflict_kind(message))
                } else if message.starts_with("FOREIGN KEY") {
                    StoreError::MissingReference
                } else {
                    StoreError::Internal(error.to_string())
                }
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::Unavailable(error.to_string())
            }
            ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Internal(error.to_string()),
        },
        _ => StoreError::Internal(error.to_string()),
    }
}

/// SQLite names the columns of the broken constraint ("UNIQUE constraint
/// failed: tenants.slug").
fn conflict_kind(message: &str) -> ConflictKind {
    let columns = message.rsplit(": ").next().unwrap_or_default();
    match columns.split('.').next().unwrap_or_default() {
        "tenants" => ConflictKind::TenantSlug,
        "users" => ConflictKind::UserEmail,
        "memberships" => ConflictKind::Membership,
        "sessions" | "refresh_tokens" => ConflictKind::SessionToken,
        "api_keys" => ConflictKind::ApiKey,
        "invitations" => ConflictKind::Invitation,
        "signing_keys" => ConflictKind::SigningKey,
        "collections" => ConflictKind::Collection,
        "records" => ConflictKind::Record,
        "record_unique_values" => ConflictKind::UniqueValue,
        "plans" => ConflictKind::Plan,
        _ => ConflictKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_round_trip_at_microsecond_precision() {
        let at = datetime!(2026-11-22 18:00:00.123456 UTC);
        assert_eq!(from_micros(to_micros(at)), Some(at));
    }

    #[test]
    fn unique_violations_name_their_table() {
        assert_eq!(
            conflict_kind("UNIQUE constraint failed: tenants.slug"),
            ConflictKind::TenantSlug
        );
        assert_eq!(
            conflict_kind("UNIQUE constraint failed: memberships.tenant_id, memberships.user_id"),
            ConflictKind::Membership
        );
    }
}
