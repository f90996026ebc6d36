//! A tenant's ledger: `/v1/tenants/{t}/ledger/*`.
//!
//! Amounts are decimal strings with at most the account's `scale` digits
//! after the point ("12.50" at scale 2): the server keeps integer minor
//! units and never rounds, so more digits than the scale is a 422.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
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
