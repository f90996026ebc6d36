//! Typed identifiers.
//!
//! Every id is a UUIDv7 (time-ordered, so inserts stay at the right edge of
//! B-tree indexes) wrapped in [`Id<K>`], where the marker `K` says what it
//! identifies. A `TenantId` can therefore never be passed where a `UserId` is
//! expected, which matters most exactly where tenant scope is an argument.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// An identifier of a thing of kind `K`.
pub struct Id<K> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

/// Names the kind of thing an [`Id`] identifies, for messages and logs.
pub trait IdKind {
    const NAME: &'static str;
}

macro_rules! id_kinds {
    ($($(#[$doc:meta])* $marker:ident => $alias:ident, $name:literal;)*) => {$(
        #[derive(Debug)]
        $(#[$doc])*
        pub enum $marker {}
        impl IdKind for $marker {
            const NAME: &'static str = $name;
        }
        $(#[$doc])*
        pub type $alias = Id<$marker>;
    )*};
}

id_kinds! {
    /// Identifies a tenant (an organisation).
    TenantKind => TenantId, "tenant";
    /// Identifies a user account (platform-wide).
    UserKind => UserId, "user";
    /// Identifies a login session.
    SessionKind => SessionId, "session";
    /// Identifies an API key of one tenant.
    ApiKeyKind => ApiKeyId, "api_key";
    /// Identifies an invitation into one tenant.
    InvitationKind => InvitationId, "invitation";
    /// Identifies an audit log entry.
    AuditEntryKind => AuditEntryId, "audit_entry";
    /// Identifies a record of a tenant's collection.
    RecordKind => RecordId, "record";
    /// Identifies an account of a tenant's ledger.
    LedgerAccountKind => LedgerAccountId, "ledger_account";
    /// Identifies a transfer between two ledger accounts.
    LedgerTransferKind => TransferId, "transfer";
    /// Identifies a hold on a ledger account.
    LedgerHoldKind => HoldId, "hold";
    /// Identifies a charge: a metered cost of a ledger account, marked up.
    LedgerChargeKind => ChargeId, "charge";
}

impl<K> Id<K> {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    /// Wraps a UUID read back from storage.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self {
            uuid,
            kind: PhantomData,
        }
    }

    pub const fn as_uuid(&self) -> &Uuid {
        &self.uuid
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.uuid.as_bytes()
    }
}

impl<K> Default for Id<K> {
    fn default() -> Self {
        Self::new()
    }
}

// Manual impls: derives would demand `K: Clone` etc. of an uninhabited marker.
impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<K> Eq for Id<K> {}
impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.uuid.cmp(&other.uuid)
    }
}
impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}

impl<K: IdKind> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", K::NAME, self.uuid)
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.uuid.hyphenated(), f)
    }
}

/// The text was not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
}

impl<K: IdKind> FromStr for Id<K> {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::try_parse(text)
            .map(Self::from_uuid)
            .map_err(|_| InvalidId { kind: K::NAME })
    }
}

impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.uuid.serialize(serializer)
    }
}

impl<'de, K> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Uuid::deserialize(deserializer).map(Self::from_uuid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_7_and_ordered_by_creation() {
        let first = TenantId::new();
        let second = TenantId::new();
        assert_eq!(first.as_uuid().get_version_num(), 7);
        assert!(first < second);
    }

    #[test]
    fn an_id_round_trips_through_text() {
        let id = UserId::new();
        let parsed: UserId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
    }

    #[test]
    fn garbage_is_not_an_id_and_the_error_names_the_kind() {
        let error = "not-a-uuid".parse::<TenantId>().unwrap_err();
        assert_eq!(error.to_string(), "not a valid tenant id");
    }
}
