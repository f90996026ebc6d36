//! What a use case can fail with, in terms a caller (HTTP or CLI) can act on.

use bulkhead_store::StoreError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Another account already uses this email address.
    #[error("a user with this email address already exists")]
    EmailTaken,
    /// The store failed; its error says whether retrying may help.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The password hasher rejected its input or parameters.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A signing key is unusable (too short, or the store holds none active).
    #[error("invalid signing key: {0}")]
    InvalidKey(String),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Randomness(String),
}
