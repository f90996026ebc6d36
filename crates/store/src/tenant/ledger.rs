//! The tenant's ledger: accounts, transfers and their postings.

use async_trait::async_trait;
use bulkhead_domain::LedgerAccountId;

use crate::error::Result;
use crate::ledger::{
    LedgerAccount, LedgerAccountQuery, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, TransferRefusal,
};

#[async_trait]
pub trait Ledger: Send {
    async fn insert_ledger_account(&mut self, account: NewLedgerAccount) -> Result<LedgerAccount>;
    async fn ledger_account(&mut self, id: LedgerAccountId) -> Result<Option<LedgerAccount>>;
    /// Accounts oldest first, by id.
    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>>;
    /// Posts a transfer atomically: both accounts are locked (in id order),
    /// checked (same currency and scale, funds unless the source may go
    /// negative, no overflow), and both balances and both postings written;
    /// or nothing is written and the refusal says why.
    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>>;
    /// An account's postings, newest first.
    async fn ledger_postings(&mut self, query: &PostingQuery) -> Result<Vec<Posting>>;
}
