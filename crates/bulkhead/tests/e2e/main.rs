//! End-to-end tests of the compiled `bulkhead` binary: each test starts the
//! real executable on a free loopback port with its own temporary data
//! directory, learns the port from the `listening on` line, and talks HTTP
//! to it. One test binary, one module per area.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

// First: it defines `scenario!`, which the identity and records modules use.
#[macro_use]
mod harness;

mod admin;
mod citus;
mod connections;
mod contract;
mod contract_tests;
mod cors;
mod crash;
mod crash_ledger;
mod identity_audit_admin;
mod identity_auth;
mod identity_http;
mod identity_isolation;
mod identity_lookalikes;
mod identity_outsiders;
mod identity_replicas;
mod identity_tenants;
mod identity_tokens;
mod keys;
mod ledger;
mod ledger_atomicity;
mod ledger_charges;
mod ledger_holds;
mod metrics;
mod migrate;
mod outage;
mod plans;
mod pool;
mod postgres;
mod private_postgres;
mod proxy;
mod rate_limits;
mod realtime;
mod records_collections;
mod records_common;
mod records_crud;
mod records_listing;
mod records_permissions;
mod records_random_filters;
mod serve;
mod startup_errors;
mod support;
mod usage;

// The PostgreSQL server and its URLs, spelled as the store crate's tests
// spell them.
#[path = "../../../store-postgres/tests/postgres/server.rs"]
mod server;
#[path = "../../../store-postgres/tests/postgres/urls.rs"]
mod urls;
