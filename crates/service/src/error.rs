//! What a use case can fail with, in terms a caller (HTTP or CLI) can act on.
//!
//! Each variant maps to one answer at the edge; the HTTP crate turns them
//! into problem+json with a stable `code`.

use bulkhead_store::StoreError;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

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
    /// The request's fields are invalid; every bad field is listed.
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    /// Wrong email or password (or an unknown email: the same answer).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// No valid credential was presented.
    #[error("authentication required")]
    Unauthenticated,
    /// The refresh token is unknown, rotated, or its session has ended.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts")]
    Throttled { retry_after_secs: u64 },
    /// Over a rate limit, or a cap on open realtime subscriptions.
    #[error("rate limited")]
    RateLimited(crate::rate_limits::RateLimited),
    #[error("sign-up is closed")]
    SignupClosed,
    /// Authenticated, inside its own tenant, but not allowed.
    #[error("forbidden")]
    Forbidden,
    /// The tenant does not exist, or the caller is not a member: the same
    /// answer, so existence does not leak.
    #[error("tenant not found")]
    TenantNotFound,
    #[error("the tenant is suspended")]
    TenantSuspended,
    /// A resource inside the tenant does not exist; the code names it.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The request conflicts with the current state; the code says how.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A filter or sort expression is malformed or does not fit the
    /// collection; `position` is a byte offset into the expression.
    #[error("invalid {parameter} at {position}: {message}")]
    InvalidQuery {
        parameter: &'static str,
        position: usize,
        message: String,
    },
    /// `If-Match` named another version than the current one.
    #[error("version mismatch: the current version is {current}")]
    VersionMismatch { current: i64 },
    /// A well-formed request the current state does not allow (a transfer
    /// beyond the funds, between currencies, past a limit); the code says
    /// which rule, the detail explains.
    #[error("refused: {code}")]
    Refused { code: &'static str, detail: String },
    /// An `Idempotency-Key` was reused for a different request.
    #[error("idempotency key reused for a different request")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` has not finished: its
    /// answer is not known yet. Retrying shortly gets it replayed (or the
    /// key free again, if that request failed).
    #[error("a request with this idempotency key is still in flight")]
    IdempotencyKeyInFlight,
}

impl ServiceError {
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.to_owned(),
            code,
            message: message.into(),
        }])
    }
}
