//! In-process tests of the HTTP application: requests go through the full
//! router and middleware stack with `tower::ServiceExt::oneshot`, against a
//! real SQLite store in a temporary directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

mod edge;
mod errors;
mod filters;
mod health;
mod metrics;
mod middleware;
mod openapi;
mod support;
