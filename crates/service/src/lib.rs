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
//! - [`Services`]: the area services of a deployment, each a cheap handle
//!   on one shared core (store, clock, [`cache`], audit drafting, the
//!   [`denials`] tally of outsiders' refused attempts):
//!   - [`Identity`]: sign-up, login, refresh ([`auth`]), sessions, the
//!     caller's profile and authentication ([`sessions`]), with the login
//!     [`throttle`] and [`tokens`] (JWT access tokens);
//!   - [`Tenancy`]: tenants, members, [`invitations`], [`api_keys`], the
//!     [`audit_log`], and resolving `{t}` into a [`TenantAccess`];
//!   - [`Data`]: [`collections`], [`records`] and [`realtime`] events;
//!   - [`Ledger`]: accounts in integer minor units and the transfers
//!     between them ([`ledger`]);
//!   - [`Plans`]: plans, their assignment, and tenants' usage;
//!   - [`Metering`]: requests, records created and active users counted
//!     in memory and flushed by hour and day ([`metering`]);
//!   - [`Admin`]: the audited platform path;
//!   - [`RateLimits`]: requests per minute per client address, principal
//!     and tenant, and caps on open realtime subscriptions ([`rate_limits`]).
//!
//!   Every tenant use case enters through one permit, which checks the
//!   caller's permission, opens the tenant's transaction and drafts its
//!   audit entries.
//! - [`ServiceError`]: what a use case can fail with.

pub mod accounts;
pub mod admin;
pub mod api_key_usage;
pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod cache;
pub mod collections;
pub mod context;
pub mod data;
pub mod denials;
mod error;
pub mod invitations;
pub mod keys;
pub mod ledger;
mod members;
pub mod metering;
pub mod page;
pub mod passwords;
pub mod plans;
pub mod rate_limits;
pub mod realtime;
pub mod records;
mod schema_memo;
pub mod secrets;
mod services;
pub mod sessions;
mod shared;
pub mod signing_keys;
pub mod tenancy;
mod tenants;
pub mod throttle;
pub mod tokens;

pub use admin::Admin;
pub use auth::Identity;
pub use context::{Actor, Principal, RequestContext, TenantAccess};
pub use data::Data;
pub use error::{FieldError, ServiceError};
pub use keys::Keys;
pub use ledger::Ledger;
pub use metering::Metering;
pub use page::Paged;
pub use plans::Plans;
pub use rate_limits::{RateLimitSettings, RateLimits};
pub use services::{AuthSettings, Services};
pub use tenancy::Tenancy;

/// Describes the metrics the use cases record (failed logins, realtime
/// subscribers) to the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        auth::LOGIN_FAILURES,
        "Failed logins, by reason: invalid_credentials, throttled, address_slowed"
    );
    metrics::describe_gauge!(
        realtime::SUBSCRIBERS,
        "Realtime event streams open in this process"
    );
}
