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
//! - [`Services`]: the one handle to every use case (auth, tenants,
//!   members, invitations, API keys, audit, platform admin), with the
//!   [`cache`] that keeps authentication off the database, the login
//!   [`throttle`], the [`denials`] tally of outsiders' refused attempts,
//!   and [`tokens`] (JWT access tokens).
//! - [`ServiceError`]: what a use case can fail with.

pub mod accounts;
mod admin;
pub mod api_key_usage;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod cache;
pub mod collections;
pub mod context;
pub mod denials;
mod error;
pub mod invitations;
pub mod keys;
mod members;
pub mod passwords;
pub mod realtime;
pub mod records;
mod schema_memo;
pub mod secrets;
mod services;
pub mod signing_keys;
mod tenants;
pub mod throttle;
pub mod tokens;

pub use context::{Actor, Principal, RequestContext, TenantAccess};
pub use error::{FieldError, ServiceError};
pub use keys::Keys;
pub use services::{AuthSettings, Services};
