//! Cross-cutting layers applied to every request by [`crate::router`].

pub mod metrics;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod trace;
