//! The JSON bodies of Bulkhead's HTTP API, as serde types.
//!
//! This crate is the wire contract of `/work/shared/API.md` written in Rust.
//! The server (`bulkhead-http`) serialises these types, the client
//! (`bulkhead-client`) and the console deserialise them, so one change here
//! changes every side at once. Every type derives [`utoipa::ToSchema`] (and
//! the query types [`utoipa::IntoParams`]) so the server can publish an
//! OpenAPI 3.1 document generated from the same definitions.
//!
//! One module per API area:
//!
//! - [`auth`]: sign-up, login, refresh, password change and the token pair.
//! - [`me`]: the signed-in user, their memberships and sessions.
//! - [`tenants`], [`members`], [`invitations`], [`api_keys`]: a tenant and
//!   who may act inside it.
//! - [`audit`]: a tenant's audit log.
//! - [`ledger`]: a tenant's ledger accounts, transfers and postings.
//! - [`admin`]: the platform administrator's view of all tenants.
//! - [`plans`]: plans, their limits, and a tenant's usage.
//! - [`problem`]: the RFC 9457 error body every failure carries.
//! - [`page`]: query strings of the list endpoints.
//! - [`health`]: the `/healthz` and `/readyz` probes.
//! - [`role`]: a member's role inside a tenant.
//!
//! Conventions, the same in every module:
//!
//! - Ids are UUIDs on the wire ([`uuid::Uuid`]); the server converts them to
//!   and from its typed ids. Times are RFC 3339 strings.
//! - Request bodies reject unknown fields (`deny_unknown_fields`), so a typo
//!   is a 400 rather than a silently ignored setting. Response bodies accept
//!   unknown fields, because the API may add fields.
//! - Absent optional values in responses are `null`, not missing.
//! - Types that carry a secret (passwords, tokens, API keys) print it as
//!   `<redacted>` in their `Debug` output, so a logged value leaks nothing.
//!
//! This crate has no workspace dependencies and knows nothing of HTTP: it is
//! data only.

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod collections;
pub mod health;
pub mod invitations;
pub mod ledger;
pub mod me;
pub mod members;
pub mod page;
pub mod plans;
pub mod problem;
pub mod role;
pub mod tenants;

pub use admin::{AdminTenantList, AdminTenantView, SetChargeMarkupRequest};
pub use api_keys::{ApiKeyCreated, ApiKeyList, ApiKeyView, CreateApiKeyRequest};
pub use audit::{ActorView, AuditEntryView, AuditList};
pub use auth::{ChangePasswordRequest, LoginRequest, RefreshRequest, SignupRequest, TokenResponse};
pub use collections::{
    CollectionList, CollectionSpec, CollectionView, FieldSpec, RecordList, RecordQuery, RecordView,
};
pub use health::HealthStatus;
pub use invitations::{
    AcceptInvitationRequest, AcceptedMembership, CreateInvitationRequest, InvitationCreated,
};
pub use ledger::{
    AccountList, AccountView, BalanceQuery, BalanceView, CaptureHoldRequest, ChargeView,
    CreateAccountRequest, CreateChargeRequest, CreateGrantRequest, CreateHoldRequest,
    CreateTransferRequest, HoldView, LimitProfileList, LimitProfileRequest, LimitProfileView,
    PostingList, PostingView, SettledHoldView, TransferView,
};
pub use me::{MeResponse, MembershipView, SessionList, SessionView, TenantRef, UserView};
pub use members::{MemberList, MemberUser, MemberView, UpdateMemberRequest};
pub use page::{AdminTenantQuery, AuditQuery, PageQuery};
pub use plans::{
    CreatePlanRequest, PlanLimitsView, PlanList, PlanView, SetPlanRequest, UpdatePlanRequest,
    UsageCounts, UsageDay, UsageQuery, UsageView,
};
pub use problem::{FieldError, Problem};
pub use role::Role;
pub use tenants::{
    CreateTenantRequest, TenantList, TenantView, TenantWithRole, UpdateTenantRequest,
};

/// Written in place of a secret in `Debug` output.
const REDACTED: &str = "<redacted>";

#[cfg(test)]
mod tests;
