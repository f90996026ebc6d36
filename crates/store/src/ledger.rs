//! The ledger's model: accounts in integer minor units, transfers between
//! two of them, and the postings a transfer writes on each side.
//!
//! Amounts here are `i64` minor units at the account's scale; parsing and
//! printing decimal strings is the domain's (`bulkhead_domain::ledger`),
//! done at the edge. The store never rounds and never mixes currencies.

use bulkhead_domain::{LedgerAccountId, TransferId, UserId};
use time::OffsetDateTime;

/// An account to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLedgerAccount {
    pub id: LedgerAccountId,
    pub name: String,
    /// A currency code, already checked by the domain.
    pub currency: String,
    /// Digits after the decimal point, 0 to 18.
    pub scale: u8,
    /// The member the account belongs to, if any.
    pub owner_id: Option<UserId>,
    /// May the balance go below zero (below what holds reserve)?
    pub allow_negative: bool,
    /// A house or admin account: never refused for lack of funds.
    pub unlimited: bool,
    pub limit_profile: Option<String>,
    pub at: OffsetDateTime,
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccount {
    pub id: LedgerAccountId,
    pub name: String,
    pub currency: String,
    pub scale: u8,
    pub owner_id: Option<UserId>,
    pub allow_negative: bool,
    pub unlimited: bool,
    pub limit_profile: Option<String>,
    /// The sum of the account's postings, in minor units.
    pub balance: i64,
    /// What open holds reserve; `balance - held` is available.
    pub held: i64,
    /// The number of the account's newest posting (0: none yet).
    pub last_posting: i64,
    pub created_at: OffsetDateTime,
}

impl LedgerAccount {
    /// What may be spent: the balance less what holds reserve.
    pub fn available(&self) -> i64 {
        self.balance.saturating_sub(self.held)
    }
}

/// Which accounts a listing returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerAccountQuery {
    /// Only this member's accounts; `None`: every account of the tenant.
    pub owner: Option<UserId>,
    /// Only accounts whose id sorts after this one (oldest first).
    pub after: Option<LedgerAccountId>,
    pub limit: u32,
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// Between two accounts, at a member's request.
    Transfer,
    /// A metered cost, marked up, paid to the house.
    Charge,
    /// Credits issued by an admin from the tenant's issuance account.
    Grant,
    /// An admin's correction.
    Adjustment,
    /// A hold settled.
    Capture,
}

impl TransferKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            TransferKind::Transfer => "transfer",
            TransferKind::Charge => "charge",
            TransferKind::Grant => "grant",
            TransferKind::Adjustment => "adjustment",
            TransferKind::Capture => "capture",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TransferKind::Transfer,
            TransferKind::Charge,
            TransferKind::Grant,
            TransferKind::Adjustment,
            TransferKind::Capture,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// A transfer to post: `amount` (> 0) leaves `from` and reaches `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub from: LedgerAccountId,
    pub to: LedgerAccountId,
    pub amount: i64,
    pub memo: Option<String>,
    pub at: OffsetDateTime,
}

/// A transfer as posted, with the balances it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedTransfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub from: LedgerAccountId,
    pub to: LedgerAccountId,
    pub amount: i64,
    pub memo: Option<String>,
    pub created_at: OffsetDateTime,
    pub from_balance: i64,
    pub to_balance: i64,
}

/// Why a transfer was not posted. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferRefusal {
    /// No account `from` in this tenant.
    FromNotFound,
    /// No account `to` in this tenant.
    ToNotFound,
    /// The accounts differ in currency or scale.
    CurrencyMismatch,
    /// `from` may not go below what its holds reserve, and would.
    InsufficientFunds,
    /// A balance would leave the range of `i64`.
    BalanceOverflow,
}

impl TransferRefusal {
    /// The refusal a store reports under this name (PostgreSQL's
    /// `bulkhead_ledger_post` answers with it).
    pub fn parse(outcome: &str) -> Option<Self> {
        Some(match outcome {
            "from_not_found" => TransferRefusal::FromNotFound,
            "to_not_found" => TransferRefusal::ToNotFound,
            "currency_mismatch" => TransferRefusal::CurrencyMismatch,
            "insufficient_funds" => TransferRefusal::InsufficientFunds,
            "balance_overflow" => TransferRefusal::BalanceOverflow,
            _ => return None,
        })
    }
}

/// One side of a transfer on one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account_id: LedgerAccountId,
    /// The posting's number in its account: 1, 2, …
    pub seq: i64,
    pub transfer_id: TransferId,
    pub kind: TransferKind,
    /// The account on the other side.
    pub counterparty: LedgerAccountId,
    /// Negative for money leaving the account.
    pub amount: i64,
    pub balance_after: i64,
    pub memo: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A page of an account's postings, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingQuery {
    pub account: LedgerAccountId,
    /// Only postings numbered below this one.
    pub before_seq: Option<i64>,
    pub limit: u32,
}
