//! Bulkhead's use cases, independent of any transport.
//!
//! Each module is one use case or one piece of policy that several use cases
//! share. Functions take the [`Store`](bulkhead_store::Store) and a
//! [`Clock`](bulkhead_domain::Clock) as parameters, so the binary, the HTTP
//! layer and tests all call the same code with the same inputs.
//!
//! - [`passwords`]: Argon2id hashing, verification and rehash detection, and
//!   generated initial passwords.
//! - [`accounts`]: creating users (for now, platform administrators).
//! - [`signing_keys`]: the [`KeyRing`](signing_keys::KeyRing) of access-token
//!   signing keys, bootstrapped and rotated through the store.
//! - [`ServiceError`]: what a use case can fail with.

pub mod accounts;
mod error;
pub mod passwords;
pub mod signing_keys;

pub use error::ServiceError;
