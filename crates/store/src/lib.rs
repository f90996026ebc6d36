//! The storage contract.
//!
//! A [`Store`] hands out two kinds of transaction and nothing else:
//!
//! - [`TenantTx`], opened for exactly one [`TenantId`]. Every read and write of
//!   tenant-owned data (memberships, API keys, invitations, audit) is a method
//!   here, and none of them takes a tenant id: the scope is fixed when the
//!   transaction is opened, so tenant A's handle has no way to name tenant B.
//! - [`PlatformTx`], the explicitly named system path over platform tables
//!   (users, the tenant registry, sessions, signing keys). It cannot reach
//!   tenant-owned rows at all; services audit their use of it.
//!
//! The one cross-tenant read a signed-in user needs, their own memberships, is
//! [`Store::memberships_of_user`]: bound to one user, read-only.
//!
//! Backends live in their own crates (`bulkhead-store-sqlite`,
//! `bulkhead-store-postgres`) and prove themselves against the conformance
//! suite of `bulkhead-store-conformance`.

pub mod audit;
mod document;
mod error;
pub mod invalidation;
pub mod model;
pub mod records;
mod store;
pub mod tables;

pub use document::Document;
pub use error::{ConflictKind, StoreError};
pub use model::*;
pub use records::*;
pub use store::{Access, Backend, NoticeListener, PlatformTx, Store, TenantTx};
pub use tables::TenantTable;

pub use bulkhead_domain::{ApiKeyId, InvitationId, Role, SessionId, TenantId, UserId};
