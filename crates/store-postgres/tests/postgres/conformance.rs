//! The shared store conformance suite, on PostgreSQL as the runtime role.

use crate::support::fresh_store;

bulkhead_store_conformance::conformance_suite!(fresh_store);
