//! The tenant's ledger: accounts, transfers and their postings, holds,
//! limit profiles, and charges.

use async_trait::async_trait;
use bulkhead_domain::{ChargeId, HoldId, LedgerAccountId};
use time::OffsetDateTime;

use crate::error::Result;
use crate::ledger::{
    Charge, Hold, HoldRefusal, LedgerAccount, LedgerAccountQuery, LimitProfileRow, NewCharge,
    NewHold, NewLedgerAccount, NewTransfer, PostedTransfer, Posting, PostingQuery, SettleHold,
    SettleRefusal, SettledHold, TransferRefusal,
};

#[async_trait]
pub trait Ledger: Send {
    async fn insert_ledger_account(&mut self, account: NewLedgerAccount) -> Result<LedgerAccount>;
    /// The account, its `held` as of `now` (expired holds no longer count).
    async fn ledger_account(
        &mut self,
        id: LedgerAccountId,
        now: OffsetDateTime,
    ) -> Result<Option<LedgerAccount>>;
    /// Accounts oldest first, by id.
    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>>;
    /// The tenant's house account of this currency and scale, opened now if
    /// there is none yet.
    async fn house_account(
        &mut self,
        currency: &str,
        scale: u8,
        at: OffsetDateTime,
    ) -> Result<LedgerAccount>;
    /// Posts a transfer atomically: both accounts are locked (in id order),
    /// the source's expired holds let go, the accounts checked (same
    /// currency and scale, funds unless the source may go negative, caps,
    /// no overflow), and both balances and both postings written; or
    /// nothing is written and the refusal says why.
    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>>;
    /// An account's postings, newest first.
    async fn ledger_postings(&mut self, query: &PostingQuery) -> Result<Vec<Posting>>;
    /// The account's balance as of `at`: `(seq, balance_after)` of its
    /// newest posting made at or before `at`, or `(0, 0)` before its first.
    async fn ledger_balance_at(
        &mut self,
        account: LedgerAccountId,
        at: OffsetDateTime,
    ) -> Result<(i64, i64)>;
    /// Reserves part of an account's available balance.
    async fn place_hold(&mut self, hold: NewHold)
    -> Result<std::result::Result<Hold, HoldRefusal>>;
    async fn ledger_hold(&mut self, id: HoldId) -> Result<Option<Hold>>;
    /// Captures (part of) an open hold, releasing the rest, or releases it.
    async fn settle_hold(
        &mut self,
        settle: SettleHold,
    ) -> Result<std::result::Result<SettledHold, SettleRefusal>>;
    /// The tenant's own limit profiles, by name.
    async fn limit_profiles(&mut self) -> Result<Vec<LimitProfileRow>>;
    async fn limit_profile(&mut self, name: &str) -> Result<Option<LimitProfileRow>>;
    /// Creates or replaces a limit profile.
    async fn put_limit_profile(&mut self, profile: LimitProfileRow) -> Result<()>;
    /// Records a charge: unless the account is unlimited or the amount is
    /// 0, posts its transfer to the house (as [`Ledger::post_transfer`]
    /// does, and refused alike, writing nothing), then writes the charge
    /// with its transfer's id.
    async fn record_charge(
        &mut self,
        charge: NewCharge,
    ) -> Result<std::result::Result<Charge, TransferRefusal>>;
    async fn ledger_charge(&mut self, id: ChargeId) -> Result<Option<Charge>>;
    /// An account's charges, newest first.
    async fn ledger_charges(&mut self, account: LedgerAccountId, limit: u32)
    -> Result<Vec<Charge>>;
}
