//! The ledger's model: accounts in integer minor units, transfers between
//! two of them, and the postings a transfer writes on each side.
//!
//! Amounts here are `i64` minor units at the account's scale; parsing and
//! printing decimal strings is the domain's (`bulkhead_domain::ledger`),
//! done at the edge. The store never rounds and never mixes currencies.

use bulkhead_domain::{ChargeId, HoldId, LedgerAccountId, TransferId, UserId};
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
    /// The tenant's house account of this currency and scale (at most one;
    /// it must allow negative balances).
    pub house: bool,
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
    pub house: bool,
    /// The sum of the account's postings, in minor units.
    pub balance: i64,
    /// What open holds reserve (those past their expiry no longer count,
    /// whether or not they were marked yet); `balance - held` is available.
    pub held: i64,
    /// The number of the account's newest posting (0: none yet).
    pub last_posting: i64,
    pub created_at: OffsetDateTime,
}

impl LedgerAccount {
    /// The account `new` opens: empty, created at `created_at` (the time as
    /// the backend stores it).
    pub fn opened(new: NewLedgerAccount, created_at: OffsetDateTime) -> Self {
        Self {
            id: new.id,
            name: new.name,
            currency: new.currency,
            scale: new.scale,
            owner_id: new.owner_id,
            allow_negative: new.allow_negative,
            unlimited: new.unlimited,
            limit_profile: new.limit_profile,
            house: new.house,
            balance: 0,
            held: 0,
            last_posting: 0,
            created_at,
        }
    }

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
    /// Holds expired by this time no longer count in `held`.
    pub now: OffsetDateTime,
}

/// An account's caps on what it pays out, in its minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub single: Option<i64>,
    pub daily: Option<i64>,
    pub monthly: Option<i64>,
}

impl Caps {
    pub const NONE: Caps = Caps {
        single: None,
        daily: None,
        monthly: None,
    };
}

/// Which cap a payment would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Single,
    Daily,
    Monthly,
}

impl Limit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::Single => "single",
            Limit::Daily => "daily",
            Limit::Monthly => "monthly",
        }
    }
}

/// The UTC day of `at` (days since 1970-01-01): the window of daily caps.
pub fn utc_day(at: OffsetDateTime) -> i64 {
    at.unix_timestamp().div_euclid(86_400)
}

/// The UTC month of `at` (year × 12 + month − 1): the window of monthly caps.
pub fn utc_month(at: OffsetDateTime) -> i64 {
    let at = at.to_offset(time::UtcOffset::UTC);
    i64::from(at.year()) * 12 + i64::from(u8::from(at.month())) - 1
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
    /// The source's caps, counted over the UTC day and month of `at`.
    pub caps: Caps,
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
    /// The source's limit profile caps it below this.
    LimitExceeded(Limit),
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
            "limit_single" => TransferRefusal::LimitExceeded(Limit::Single),
            "limit_daily" => TransferRefusal::LimitExceeded(Limit::Daily),
            "limit_monthly" => TransferRefusal::LimitExceeded(Limit::Monthly),
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

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    /// Open: its amount counts in the account's `held`.
    Held,
    Captured,
    Released,
    Expired,
}

impl HoldStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Captured => "captured",
            HoldStatus::Released => "released",
            HoldStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            HoldStatus::Held,
            HoldStatus::Captured,
            HoldStatus::Released,
            HoldStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A hold to place: `amount` of `account` reserved until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub id: HoldId,
    pub account: LedgerAccountId,
    pub amount: i64,
    pub memo: Option<String>,
    pub expires_at: OffsetDateTime,
    pub at: OffsetDateTime,
    /// The account's single-payment cap, which a hold may not exceed.
    pub single_cap: Option<i64>,
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub account_id: LedgerAccountId,
    pub amount: i64,
    /// As stored: an open hold past `expires_at` is still `Held` here until
    /// something marks it; [`Hold::status_at`] says what it is.
    pub status: HoldStatus,
    pub captured: i64,
    pub transfer_id: Option<TransferId>,
    pub memo: Option<String>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub settled_at: Option<OffsetDateTime>,
}

impl Hold {
    /// The hold's status at `now`: an open hold whose time has passed has
    /// expired, marked or not.
    pub fn status_at(&self, now: OffsetDateTime) -> HoldStatus {
        match self.status {
            HoldStatus::Held if self.expires_at <= now => HoldStatus::Expired,
            status => status,
        }
    }
}

/// Why a hold was not placed. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldRefusal {
    AccountNotFound,
    InsufficientFunds,
    BalanceOverflow,
    LimitExceeded(Limit),
}

/// How an open hold ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettleHold {
    pub hold: HoldId,
    pub at: OffsetDateTime,
    /// `None`: release it all.
    pub capture: Option<Capture>,
}

/// The captured part of a hold, moved by a transfer of kind `capture`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// `None`: the whole hold.
    pub amount: Option<i64>,
    pub transfer: TransferId,
    pub to: LedgerAccountId,
    pub memo: Option<String>,
    pub caps: Caps,
}

/// Why a hold was not settled. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleRefusal {
    HoldNotFound,
    /// Its time passed before it was settled.
    Expired,
    /// Already captured or released.
    Settled,
    CaptureExceedsHold,
    /// The capture's transfer was refused.
    Transfer(TransferRefusal),
}

impl SettleRefusal {
    /// The refusal a store reports under this name (PostgreSQL's
    /// `bulkhead_ledger_settle_hold` answers with it).
    pub fn parse(outcome: &str) -> Option<Self> {
        Some(match outcome {
            "hold_not_found" => SettleRefusal::HoldNotFound,
            "hold_expired" => SettleRefusal::Expired,
            "hold_settled" => SettleRefusal::Settled,
            "capture_exceeds_hold" => SettleRefusal::CaptureExceedsHold,
            other => SettleRefusal::Transfer(TransferRefusal::parse(other)?),
        })
    }
}

/// A limit profile as a tenant stored it: caps as decimal text in the
/// account's unit (`None`: no cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitProfileRow {
    pub name: String,
    pub single: Option<String>,
    pub daily: Option<String>,
    pub monthly: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// A settled hold, and the transfer that captured it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledHold {
    pub hold: Hold,
    pub transfer: Option<PostedTransfer>,
}

/// A charge to record: a metered `cost` of `account`, marked up to
/// `amount` (both in the account's minor units). Unless the account is
/// unlimited or `amount` is 0, a transfer of kind `charge` moves `amount`
/// from the account to `house`, its caps applying as to any payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharge {
    pub id: ChargeId,
    pub account: LedgerAccountId,
    pub cost: i64,
    /// The tenant's markup when charged, in millionths.
    pub markup_millionths: i64,
    pub amount: i64,
    pub memo: Option<String>,
    pub at: OffsetDateTime,
    /// The id of the debit's transfer, if one is posted.
    pub transfer: TransferId,
    /// The tenant's house account of the account's currency and scale.
    pub house: LedgerAccountId,
    pub caps: Caps,
}

/// A charge as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: ChargeId,
    pub account_id: LedgerAccountId,
    pub cost: i64,
    pub markup_millionths: i64,
    pub amount: i64,
    /// The transfer that debited `amount`; `None` when nothing was debited
    /// (an unlimited account, or an amount that rounded to 0).
    pub transfer_id: Option<TransferId>,
    pub memo: Option<String>,
    pub created_at: OffsetDateTime,
}
