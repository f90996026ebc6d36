//! Bulkhead's domain: the values every other crate agrees on.
//!
//! Everything here is parsed, not validated: a [`TenantSlug`], [`Email`] or
//! [`Password`] that exists is already valid, so stores and services never
//! re-check them. The crate does no IO.
//!
//! - [`id`]: UUIDv7 identifiers, one type per kind of thing ([`TenantId`], [`UserId`], …).
//! - [`email`], [`slug`], [`password`]: parsed newtypes.
//! - [`role`]: tenant roles, ordered, and the named permissions each one grants.
//! - [`clock`]: time as a parameter, so expiry can be tested without sleeping.
//! - [`audit`]: the hash chain that makes each tenant's audit log tamper-evident.
//! - [`collection`]: tenant-defined collections: schemas, schema changes, and
//!   record validation and normalisation.
//! - [`filter`]: the filter language over records (parse, then typecheck
//!   against a schema) and the sort parameter.
//! - [`ledger`]: the credit ledger's values: currencies, scales, amounts in
//!   integer minor units, and markups.
//! - [`plan`]: plans, their quotas and rate limits.

pub mod audit;
pub mod clock;
pub mod collection;
pub mod email;
pub mod filter;
pub mod id;
pub mod ledger;
pub mod password;
pub mod plan;
pub mod role;
pub mod slug;

pub use clock::{Clock, ManualClock, SystemClock};
pub use collection::{
    CollectionName, CollectionSchema, FieldDef, FieldIssue, FieldName, FieldType, SchemaIssue,
    Visibility, WriteMode, schema_change_issues, validate_record,
};
pub use email::{Email, EmailKey, EmailLookup};
pub use id::{
    ApiKeyId, AuditEntryId, ChargeId, HoldId, Id, InvitationId, LedgerAccountId, RecordId,
    SessionId, TenantId, TransferId, UserId,
};
pub use password::Password;
pub use plan::{PlanLimits, PlanName, PlanTerms, Quota};
pub use role::{Permission, Role};
pub use slug::TenantSlug;
