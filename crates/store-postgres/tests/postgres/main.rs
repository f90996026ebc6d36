//! PostgreSQL tests: the shared conformance suite, and the row-level
//! security checks only PostgreSQL has. Each test gets its own database.
//!
//! They need a PostgreSQL server reachable with a superuser URL, from
//! `BULKHEAD_TEST_DATABASE_URL` or, by default,
//! `postgres://postgres@127.0.0.1:5432/postgres`. Without one they are
//! skipped with a message, except under `CI=true`, where they fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod cancellation;
mod citus;
mod citus_shape;
mod conformance;
mod explain;
mod notify;
mod outage;
mod rls;
mod roles;
mod server;
mod support;
mod urls;
