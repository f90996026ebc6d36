//! What can go wrong in a store, in terms a service can act on.

use bulkhead_domain::plan::Quota;

/// What a store operation returns.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the kind says which.
    #[error("conflict: {0:?} already exists")]
    Conflict(ConflictKind),
    /// A row refers to another that does not exist (in this tenant).
    #[error("a referenced row does not exist")]
    MissingReference,
    /// The database cannot be reached or gave up (pool timeout, connection
    /// lost, busy for too long). Worth retrying later: maps to 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The transaction lost a race with another (a serialization failure or
    /// a deadlock) and was rolled back. Running it again may succeed at
    /// once; services that retry do so, the others answer 503.
    #[error("transaction lost a race: {0}")]
    Contention(String),
    /// The transaction's writes would take the tenant past its plan's
    /// limit of this quota; nothing was committed.
    #[error("quota exceeded: {}", .0.name())]
    QuotaExceeded(Quota),
    /// The schema is older than this binary expects.
    #[error("database migrations are not current: {0}")]
    MigrationsPending(String),
    /// The deployment is unsafe to run (e.g. the runtime role can bypass
    /// row-level security).
    #[error("{0}")]
    Misconfigured(String),
    /// An earlier statement of this transaction failed, so it cannot be
    /// committed: drop it and start again.
    #[error("the transaction was aborted by an earlier error")]
    TransactionAborted,
    /// Stored data could not be decoded, or the database answered in a way
    /// the store does not expect. A bug or corruption: maps to 500.
    #[error("internal store error: {0}")]
    Internal(String),
}

/// Which uniqueness rule a [`StoreError::Conflict`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    TenantSlug,
    UserEmail,
    Membership,
    SessionToken,
    ApiKey,
    Invitation,
    SigningKey,
    Collection,
    /// A value of a `unique` field already used by another record.
    UniqueValue,
    Record,
    Plan,
    Other,
}

impl StoreError {
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}
