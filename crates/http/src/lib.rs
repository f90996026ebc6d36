//! Bulkhead's HTTP API: the only crate that knows HTTP and JSON.
//!
//! - [`router`] builds the whole application from an [`AppState`]: every
//!   resource's routes, the not-found fallback and the middleware stack.
//! - [`ApiError`] is the one error type handlers return; it renders as
//!   `application/problem+json` with a stable `code` and never carries
//!   internal detail in a 5xx.
//! - [`middleware`] holds the cross-cutting layers: request ids, security
//!   headers, request tracing and problem+json for errors made by layers.
//! - [`health`] answers liveness (`/healthz`) and readiness (`/readyz`) probes.

mod app;
mod error;
pub mod health;
pub mod middleware;
mod state;

pub use app::{MAX_BODY_BYTES, router};
pub use error::ApiError;
pub use middleware::request_id::{REQUEST_ID_HEADER, RequestId};
pub use state::AppState;
