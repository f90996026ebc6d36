//! Plans, their limits, and a tenant's usage.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// A plan's limits. An absent (or `null`) limit is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLimitsView {
    /// Members, counting open invitations when one is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub members: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub records: Option<u64>,
    /// The size of the tenant's record documents as compact JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub storage_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub collections: Option<u64>,
    /// API keys not revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub api_keys: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    pub requests_per_minute: Option<u64>,
    /// Event streams open at once across the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub realtime_connections: Option<u64>,
}

/// A plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    #[schema(example = "professional")]
    pub name: String,
    pub limits: PlanLimitsView,
    /// What the plan's tenants' charges multiply a metered cost by, as a
    /// decimal string; `null` is 1. A tenant's own markup, if a platform
    /// admin set one, comes first.
    pub ledger_markup: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `GET /v1/admin/plans`: every plan, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanList {
    pub items: Vec<PlanView>,
}

/// `POST /v1/admin/plans` (201 `PlanView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlanRequest {
    /// 1–63 characters of `a-z`, `0-9` and `-`, starting with a letter.
    #[schema(example = "team")]
    pub name: String,
    #[serde(default)]
    pub limits: PlanLimitsView,
    /// A decimal string greater than 0, at most 6 digits after the point.
    #[serde(default)]
    #[schema(example = "5")]
    pub ledger_markup: Option<String>,
}

/// `PATCH /v1/admin/plans/{name}` (200 `PlanView`): what is absent stays.
/// `limits`, when present, replaces every limit (an absent one becomes
/// unlimited); `ledger_markup: null` removes the plan's markup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlanRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<PlanLimitsView>,
    #[serde(
        default,
        deserialize_with = "crate::ledger::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub ledger_markup: Option<Option<String>>,
}

/// `PUT /v1/admin/tenants/{t}/plan` (200 `AdminTenantView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPlanRequest {
    #[schema(example = "professional")]
    pub plan: String,
}

/// What a tenant holds of what its plan may cap, and its requests in the
/// current minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageCounts {
    pub members: u64,
    pub records: u64,
    pub storage_bytes: u64,
    pub collections: u64,
    pub api_keys: u64,
    /// The tenant's requests in the current UTC minute (since `hh:mm:00`)
    /// as counted by the server process that answers: with several
    /// processes behind a load balancer, that process's share only.
    pub requests_this_minute: u64,
}

/// One UTC day of a tenant's metered use.
///
/// Each server process counts in memory and adds its counts to the
/// stored day every flush interval (`metering_flush_interval`, 60 s by
/// default) and when it stops; the answer is the stored day plus what the
/// answering process has not flushed yet. Other processes' unflushed
/// counts (at most one interval's) show after their next flush, and a
/// crashed process's are lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageDay {
    /// `YYYY-MM-DD`.
    #[schema(example = "2026-12-06")]
    pub day: String,
    /// Requests that named the tenant and passed its rate limits, whatever
    /// they answered.
    pub requests: u64,
    /// Records created (an idempotent replay is not a new record).
    pub records_created: u64,
    /// The tenant's stored bytes: now, for today; for a past day, as of the
    /// last flush that counted use on it, or for a day without use, as of
    /// the last day before it with use (0 before metering began).
    pub storage_bytes: u64,
    /// Distinct users who made a request that day (API keys are not users).
    pub active_users: u64,
}

/// `GET /v1/tenants/{t}/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UsageView {
    pub plan: String,
    pub limits: PlanLimitsView,
    pub usage: UsageCounts,
    /// The last `days` UTC days, oldest first, today last; a day without
    /// use is there with zero counts.
    pub daily: Vec<UsageDay>,
}

/// `?days=` of `GET /v1/tenants/{t}/usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// How many days of `daily`, 1–366; 30 when absent.
    #[param(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
}
