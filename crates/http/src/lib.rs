//! Bulkhead's HTTP API: the only crate that knows HTTP and JSON.
//!
//! - [`router`] builds the whole application from an [`AppState`]: every
//!   resource's routes, the not-found fallback and the middleware stack.
//! - [`ApiError`] is the one error type handlers return; it renders as
//!   `application/problem+json` with a stable `code` and never carries
//!   internal detail in a 5xx.
//! - [`middleware`] holds the cross-cutting layers: request ids, security
//!   headers, request tracing and problem+json for errors made by layers.
//! - [`health`] answers liveness (`/healthz`) and readiness (`/readyz`) probes,
//!   and [`prometheus`] Prometheus scrapes (`/metrics`), which the request
//!   metrics of [`middleware::metrics`] feed.
//! - [`routes`] holds one router per resource of `/v1`, each handler taking
//!   the area service it uses as a substate of the [`AppState`]; [`extract`]
//!   the extractors that put identity (`Auth`) and tenant scope (`Tenant`)
//!   in every handler's signature; [`openapi`] the generated document.
//! - The wire format is made here: service results into `api-types` values
//!   (`views`, with the records' hand-written JSON and every list's page),
//!   and versions into `ETag`s ([`etag`]).
//! - [`edge`] knows the deployment's network: trusted proxies, tenant
//!   subdomains and (through [`cors`]) the browser origins allowed to call.
//! - [`server`] accepts and serves connections: read timeouts, a cap on
//!   open connections, and the drain at shutdown.

mod app;
pub mod cors;
pub mod edge;
mod error;
pub mod etag;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod prometheus;
pub mod routes;
pub mod server;
mod state;
mod views;

pub use app::{MAX_BODY_BYTES, documented_routes, router};
pub use edge::EdgeSettings;
pub use error::{ApiError, FieldError, ProblemCode};
pub use middleware::request_id::{REQUEST_ID_HEADER, RequestId};
pub use server::ConnectionLimits;
pub use state::AppState;
