//! A typed async HTTP client for Bulkhead.
//!
//! [`Client`] has one method per endpoint of the HTTP API, taking and
//! returning the wire types of `bulkhead-api-types` (re-exported as
//! [`types`]). It is what the end-to-end tests, the benchmarks and the
//! examples talk to the server with.
//!
//! ```no_run
//! # async fn example() -> Result<(), bulkhead_client::ClientError> {
//! use bulkhead_client::Client;
//! use bulkhead_client::types::{CreateTenantRequest, LoginRequest};
//!
//! let anonymous = Client::new("http://127.0.0.1:8080")?;
//! let tokens = anonymous
//!     .login(&LoginRequest {
//!         email: "ada@example.com".into(),
//!         password: "correct horse battery staple".into(),
//!     })
//!     .await?;
//! let ada = anonymous.with_token(&tokens.access_token);
//! let tenant = ada
//!     .create_tenant(&CreateTenantRequest {
//!         slug: "acme".into(),
//!         name: "Acme".into(),
//!     })
//!     .await?;
//! # let _ = tenant;
//! # Ok(())
//! # }
//! ```
//!
//! The major components:
//!
//! - [`Client`]: the base URL, the connection pool and the headers sent with
//!   every request. [`Client::with_token`] and [`Client::with_header`] make
//!   cheap copies that share the pool.
//! - `endpoints`: the typed methods, one file per API area.
//! - [`ClientError`]: an error answer (the server's [`types::Problem`]), a
//!   transport failure, or a body that is not what the contract promises.
//! - [`Client::raw`] and [`RawResponse`]: any method, any path, any body, and
//!   the answer as it came, for tests that check statuses and headers
//!   themselves.
//! - [`Client::with_observer`] and [`Exchange`]: every answer shown to a
//!   function of the caller's, for checking answers wholesale.
//!
//! Any 2xx status counts as success; a test that cares which one uses
//! [`Client::raw`]. The client reads no environment (no proxy variables) and
//! holds no state besides its headers: a token is given, never remembered.

mod client;
mod endpoints;
mod error;
mod observer;
mod path;
mod raw;

pub use bulkhead_api_types as types;
pub use bytes::Bytes;
pub use reqwest::{Method, header};

pub use client::{Client, DEFAULT_TIMEOUT};
pub use error::ClientError;
pub use observer::Exchange;
pub use raw::RawResponse;

#[cfg(test)]
mod tests;
