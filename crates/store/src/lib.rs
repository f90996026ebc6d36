//! The storage contract.
//!
//! A [`Store`] hands out two kinds of transaction and nothing else:
//!
//! - [`TenantTx`], opened for exactly one [`TenantId`]. Every read and write of
//!   tenant-owned data is a method here, and none of them takes a tenant id:
//!   the scope is fixed when the transaction is opened, so tenant A's handle
//!   has no way to name tenant B. Its methods are grouped by area, one trait
//!   each ([`Members`], [`ApiKeys`], [`Invitations`], [`AuditLog`],
//!   [`Collections`], [`Records`], [`RecordEvents`], [`IdempotencyKeys`],
//!   [`Ledger`], [`Usage`], [`Metering`], [`TenantRow`]), which `TenantTx` requires.
//! - [`PlatformTx`], the explicitly named system path over platform tables
//!   ([`Users`], the [`TenantRegistry`], [`Plans`], [`Sessions`], [`SigningKeys`], the
//!   [`PlatformAuditLog`]). It cannot reach tenant-owned rows at all;
//!   services audit their use of it.
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
pub mod ledger;
pub mod metering;
pub mod model;
pub mod plans;
mod platform;
pub mod records;
mod store;
pub mod tables;
mod tenant;

pub use document::Document;
pub use error::{ConflictKind, Result, StoreError};
pub use model::*;
pub use platform::{
    Plans, PlatformAuditLog, PlatformTx, Sessions, SigningKeys, TenantRegistry, Users,
};
pub use records::*;
pub use store::{Access, Backend, NoticeListener, PoolStats, Store};
pub use tables::TenantTable;
pub use tenant::{
    ApiKeys, AuditLog, Collections, IdempotencyKeys, Invitations, Ledger, Members, Metering,
    RecordEvents, Records, TenantRow, TenantTx, Usage,
};

/// The store's traits, for code that implements them or names them:
/// calling an area's methods on a `TenantTx` or `PlatformTx` needs no
/// import, because the transaction traits require every area.
pub mod prelude {
    pub use crate::platform::{
        Plans, PlatformAuditLog, PlatformTx, Sessions, SigningKeys, TenantRegistry, Users,
    };
    pub use crate::store::Store;
    pub use crate::tenant::{
        ApiKeys, AuditLog, Collections, IdempotencyKeys, Invitations, Ledger, Members, Metering,
        RecordEvents, Records, TenantRow, TenantTx, Usage,
    };
}

pub use bulkhead_domain::{ApiKeyId, InvitationId, Role, SessionId, TenantId, UserId};
