//! The use cases, in process, on a real SQLite store with a manual clock:
//! the policies that depend on time (throttling, refresh grace, session
//! expiry, the retention of idempotency keys, metering's days) and on
//! stored state (hash upgrades), without HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod auth;
mod idempotency;
mod metering;
mod outsiders;
mod rate_limits;
mod support;
