//! A tenant's ledger: `/v1/tenants/{t}/ledger/*`.
//!
//! Amounts are decimal strings with at most the account's `scale` digits
//! after the point ("12.50" at scale 2): the server keeps integer minor
//! units and never rounds, so more digits than the scale is a 422.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `POST /v1/tenants/{t}/ledger/accounts` (201 `AccountView`;
/// `ledger.admin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// 1–100 characters once trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// 3–12 characters of `A-Z0-9`, starting with a letter: an ISO 4217
    /// code such as `USD`, or a unit of your own such as `CREDITS`.
    pub currency: String,
    /// Digits after the decimal point, 0–18.
    #[schema(maximum = 18)]
    pub scale: u8,
    /// The member the account belongs to; they see it and may transfer
    /// out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
    /// May the balance go below zero? (Default false.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_negative: bool,
    /// A house or admin account that is never refused for lack of funds.
    /// (Default false.)
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlimited: bool,
    /// The limit profile whose caps the account's payments keep to: a
    /// default (`bronze`, `silver`, `gold`, `platinum`) or the tenant's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_profile: Option<String>,
}

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    pub currency: String,
    pub scale: u8,
    /// The sum of the account's postings.
    #[schema(example = "12.50")]
    pub balance: String,
    /// The balance less what open holds reserve.
    #[schema(example = "12.50")]
    pub available: String,
    pub owner_id: Option<Uuid>,
    pub limit_profile: Option<String>,
    pub unlimited: bool,
    pub allow_negative: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /v1/tenants/{t}/ledger/accounts`: one page of the accounts the
/// caller may see, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccountList {
    pub items: Vec<AccountView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/tenants/{t}/ledger/transfers` with an `Idempotency-Key`
/// (201 `TransferView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransferRequest {
    pub from: Uuid,
    pub to: Uuid,
    /// Greater than zero, at most the accounts' scale in digits after the
    /// point.
    #[schema(example = "12.50")]
    pub amount: String,
    /// Up to 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// A transfer: `amount` left `from` and reached `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    pub id: Uuid,
    /// `transfer`, `charge`, `grant`, `adjustment` or `capture`.
    pub kind: String,
    pub from: Uuid,
    pub to: Uuid,
    #[schema(example = "12.50")]
    pub amount: String,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One posting of a transfer on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostingView {
    /// The posting's number in its account: 1, 2, …
    pub seq: i64,
    pub transfer_id: Uuid,
    pub kind: String,
    /// The account on the other side of the transfer.
    pub counterparty: Uuid,
    /// Negative when money left the account.
    #[schema(example = "-12.50")]
    pub amount: String,
    /// The account's balance once this posting was applied.
    #[schema(example = "87.50")]
    pub balance_after: String,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `GET /v1/tenants/{t}/ledger/accounts/{id}/entries`: one page of the
/// account's postings, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostingList {
    pub items: Vec<PostingView>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last
    /// page.
    pub next_cursor: Option<String>,
}

/// `POST /v1/tenants/{t}/ledger/holds` with an `Idempotency-Key` (201
/// `HoldView`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHoldRequest {
    pub account: Uuid,
    #[schema(example = "25.00")]
    pub amount: String,
    /// 1 to 2,592,000 (30 days); 3,600 if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 2592000)]
    pub expires_in_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// `POST …/ledger/holds/{id}/capture`: capture `amount` (all of the hold
/// if absent) and release the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureHoldRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "12.34")]
    pub amount: Option<String>,
}

/// A hold: `amount` of `account` reserved until captured, released or
/// expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    pub id: Uuid,
    pub account: Uuid,
    #[schema(example = "25.00")]
    pub amount: String,
    /// `held`, `captured`, `released` or `expired`.
    pub status: String,
    /// What was captured ("0.00" unless `captured`).
    pub captured: String,
    /// The capture's transfer, once captured.
    pub transfer_id: Option<Uuid>,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A hold once captured or released, with the capture's transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SettledHoldView {
    #[serde(flatten)]
    pub hold: HoldView,
    pub transfer: Option<TransferView>,
}

/// `POST /v1/tenants/{t}/ledger/grants` with an `Idempotency-Key`
/// (`ledger.admin`; 201 `TransferView`): credits from the tenant's house
/// account of the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub account: Uuid,
    #[schema(example = "100.00")]
    pub amount: String,
    /// Why, for the audit log: 1–500 characters.
    pub reason: String,
}

/// `POST /v1/tenants/{t}/ledger/charges` with an `Idempotency-Key` (201
/// `ChargeView`): a metered cost of an account, debited times the tenant's
/// markup to the tenant's house account of the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChargeRequest {
    pub account: Uuid,
    /// Above zero, at the account's scale.
    #[schema(example = "0.03")]
    pub cost: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

/// A charge: `cost` times `markup` is `amount` (rounded half up to the
/// account's scale), debited to the house unless the account is unlimited
/// or the amount rounded to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChargeView {
    pub id: Uuid,
    pub account: Uuid,
    #[schema(example = "0.03")]
    pub cost: String,
    /// The tenant's markup when charged.
    #[schema(example = "1.5")]
    pub markup: String,
    #[schema(example = "0.05")]
    pub amount: String,
    /// Did `amount` leave the account? (False for an unlimited account.)
    pub debited: bool,
    /// The debit's transfer (kind `charge`), if debited.
    pub transfer_id: Option<Uuid>,
    pub memo: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A limit profile: caps in the account's unit (decimal strings; `null`:
/// no cap) on one payment, a UTC day's and a UTC month's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LimitProfileView {
    pub name: String,
    #[schema(example = "500")]
    pub single: Option<String>,
    pub daily: Option<String>,
    pub monthly: Option<String>,
    /// A default profile the tenant has not changed.
    pub default: bool,
}

/// `GET /v1/tenants/{t}/ledger/limit-profiles`: every profile, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LimitProfileList {
    pub items: Vec<LimitProfileView>,
}

/// `POST /v1/tenants/{t}/ledger/limit-profiles` (201), or `PATCH
/// …/limit-profiles/{name}` without `name`: a cap left out stays as it is,
/// `null` removes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitProfileRequest {
    /// 1–40 characters of `a-z0-9-_` (POST only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, example = "500")]
    pub single: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub daily: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub monthly: Option<Option<String>>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`, where
/// a missing field stays `None` (by `#[serde(default)]`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `GET /v1/tenants/{t}/ledger/accounts/{id}/balance?at=`: the time, RFC
/// 3339 (now if absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[param(value_type = Option<String>, format = DateTime)]
    pub at: Option<OffsetDateTime>,
}

/// An account's balance as of `at`: after its newest posting made by then
/// (posting `seq`; 0 and a zero balance before its first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    pub account: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[schema(example = "87.50")]
    pub balance: String,
    pub seq: i64,
}
