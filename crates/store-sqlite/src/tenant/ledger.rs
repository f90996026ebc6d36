//! The tenant's ledger on SQLite.
//!
//! Every change is a handful of statements run back to back inside the
//! writer's transaction: SQLite has one writer, so nothing can change an
//! account between the checks and the updates. The conditions are those of
//! PostgreSQL's `bulkhead_ledger_*` functions, and the conformance suite
//! holds both to them.

use async_trait::async_trait;
use bulkhead_domain::{ChargeId, HoldId, LedgerAccountId};
use bulkhead_store::ledger::{
    Charge, Hold, HoldRefusal, HoldStatus, LedgerAccount, LedgerAccountQuery, Limit,
    LimitProfileRow, NewCharge, NewHold, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, SettleHold, SettleRefusal, SettledHold, TransferKind, TransferRefusal, utc_day,
    utc_month,
};
use bulkhead_store::{Ledger, Result, StoreError};
use rusqlite::{OptionalExtension, Row, params};
use time::OffsetDateTime;

use super::SqliteTenantTx;
use crate::codec::{
    Micros, conversion_error, id_col, id_param, opt_id_col, opt_time_col, stored_time, time_col,
};

/// An account's columns; `held` leaves out holds expired by `?2` that
/// nothing has marked yet.
const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.currency, a.scale, a.owner_id, a.allow_negative, \
     a.unlimited, a.limit_profile, a.house, a.balance, \
     a.held - COALESCE((SELECT sum(h.amount) FROM ledger_holds h \
         WHERE h.tenant_id = a.tenant_id AND h.account_id = a.id AND h.status = 'held' \
           AND h.expires_at <= ?2), 0), \
     a.last_posting, a.created_at, a.spent_day, a.spent_today, a.spent_month, a.spent_this_month";

/// An account and its payout counters (day, today, month, this month).
struct AccountRow {
    account: LedgerAccount,
    spent: (i64, i64, i64, i64),
}

fn account_row(row: &Row<'_>) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        account: LedgerAccount {
            id: id_col(row, 0)?,
            name: row.get(1)?,
            currency: row.get(2)?,
            scale: row.get(3)?,
            owner_id: opt_id_col(row, 4)?,
            allow_negative: row.get(5)?,
            unlimited: row.get(6)?,
            limit_profile: row.get(7)?,
            house: row.get(8)?,
            balance: row.get(9)?,
            held: row.get(10)?,
            last_posting: row.get(11)?,
            created_at: time_col(row, 12)?,
        },
        spent: (row.get(13)?, row.get(14)?, row.get(15)?, row.get(16)?),
    })
}

fn account(row: &Row<'_>) -> rusqlite::Result<LedgerAccount> {
    Ok(account_row(row)?.account)
}

fn kind_col(row: &Row<'_>, index: usize) -> rusqlite::Result<TransferKind> {
    let text: String = row.get(index)?;
    TransferKind::parse(&text).ok_or_else(|| {
        conversion_error(
            index,
            StoreError::Internal(format!("unknown transfer kind {text:?}")),
        )
    })
}

/// A posting with its transfer; the counterparty is whichever side of the
/// transfer is not this account.
const POSTING_COLUMNS: &str = "p.account_id, p.seq, p.transfer_id, t.kind, \
     CASE WHEN t.from_account = p.account_id THEN t.to_account ELSE t.from_account END, \
     p.amount, p.balance_after, t.memo, p.created_at";

fn posting(row: &Row<'_>) -> rusqlite::Result<Posting> {
    Ok(Posting {
        account_id: id_col(row, 0)?,
        seq: row.get(1)?,
        transfer_id: id_col(row, 2)?,
        kind: kind_col(row, 3)?,
        counterparty: id_col(row, 4)?,
        amount: row.get(5)?,
        balance_after: row.get(6)?,
        memo: row.get(7)?,
        created_at: time_col(row, 8)?,
    })
}

const HOLD_COLUMNS: &str = "id, account_id, amount, status, captured, transfer_id, memo, \
     expires_at, created_at, settled_at";

fn hold(row: &Row<'_>) -> rusqlite::Result<Hold> {
    let status: String = row.get(3)?;
    Ok(Hold {
        id: id_col(row, 0)?,
        account_id: id_col(row, 1)?,
        amount: row.get(2)?,
        status: HoldStatus::parse(&status).ok_or_else(|| {
            conversion_error(
                3,
                StoreError::Internal(format!("unknown hold status {status:?}")),
            )
        })?,
        captured: row.get(4)?,
        transfer_id: opt_id_col(row, 5)?,
        memo: row.get(6)?,
        expires_at: time_col(row, 7)?,
        created_at: time_col(row, 8)?,
        settled_at: opt_time_col(row, 9)?,
    })
}

const CHARGE_COLUMNS: &str =
    "id, account_id, cost, markup_millionths, amount, transfer_id, memo, created_at";

fn charge(row: &Row<'_>) -> rusqlite::Result<Charge> {
    Ok(Charge {
        id: id_col(row, 0)?,
        account_id: id_col(row, 1)?,
        cost: row.get(2)?,
        markup_millionths: row.get(3)?,
        amount: row.get(4)?,
        transfer_id: opt_id_col(row, 5)?,
        memo: row.get(6)?,
        created_at: time_col(row, 7)?,
    })
}

const PROFILE_COLUMNS: &str = "name, single, daily, monthly, updated_at";

fn profile(row: &Row<'_>) -> rusqlite::Result<LimitProfileRow> {
    Ok(LimitProfileRow {
        name: row.get(0)?,
        single: row.get(1)?,
        daily: row.get(2)?,
        monthly: row.get(3)?,
        updated_at: time_col(row, 4)?,
    })
}

/// What `amount` more makes of a payout counter of window `window`, kept
/// for window `current`; saturating, as an account without caps may pay
/// out more than an `i64` in a window.
fn counted(current: i64, window: i64, spent: i64, amount: i64) -> i64 {
    let spent = if current == window { spent } else { 0 };
    spent.saturating_add(amount)
}

impl SqliteTenantTx {
    fn find_account(&self, id: LedgerAccountId, now: OffsetDateTime) -> Result<Option<AccountRow>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.tenant_id = ?1 AND a.id = ?3"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), Micros(now), id_param(&id)], account_row)
                .optional()
        })
    }

    /// Marks the account's holds whose time has passed as expired and
    /// gives back what they reserved.
    fn expire_holds(&self, account: LedgerAccountId, now: OffsetDateTime) -> Result<()> {
        let freed: Option<i64> = self.tx.statement(
            "SELECT sum(amount) FROM ledger_holds
             WHERE tenant_id = ?1 AND account_id = ?2 AND status = 'held' AND expires_at <= ?3",
            |s| {
                s.query_row(params![self.t(), id_param(&account), Micros(now)], |row| {
                    row.get(0)
                })
            },
        )?;
        let Some(freed) = freed else { return Ok(()) };
        self.tx.statement(
            "UPDATE ledger_holds SET status = 'expired', settled_at = ?3
             WHERE tenant_id = ?1 AND account_id = ?2 AND status = 'held' AND expires_at <= ?3",
            |s| s.execute(params![self.t(), id_param(&account), Micros(now)]),
        )?;
        self.tx.statement(
            "UPDATE ledger_accounts SET held = held - ?3 WHERE tenant_id = ?1 AND id = ?2",
            |s| s.execute(params![self.t(), id_param(&account), freed]),
        )?;
        Ok(())
    }

    /// Posts a transfer, `release` of the source's `held` given up in the
    /// same step (a captured hold's whole amount).
    fn post(
        &self,
        transfer: &NewTransfer,
        release: i64,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>> {
        self.expire_holds(transfer.from, transfer.at)?;
        let Some(source) = self.find_account(transfer.from, transfer.at)? else {
            return Ok(Err(TransferRefusal::FromNotFound));
        };
        let Some(target) = self.find_account(transfer.to, transfer.at)? else {
            return Ok(Err(TransferRefusal::ToNotFound));
        };
        let (day, month) = (utc_day(transfer.at), utc_month(transfer.at));
        let (spent_day, spent_today, spent_month, spent_this_month) = source.spent;
        let today = counted(day, spent_day, spent_today, transfer.amount);
        let this_month = counted(month, spent_month, spent_this_month, transfer.amount);
        let (source, target) = (source.account, target.account);
        let amount = transfer.amount;
        let caps = transfer.caps;
        let refusal = if source.currency != target.currency || source.scale != target.scale {
            Some(TransferRefusal::CurrencyMismatch)
        } else if !(source.allow_negative || source.unlimited)
            && source.balance - (source.held - release) < amount
        {
            Some(TransferRefusal::InsufficientFunds)
        } else if target.balance.checked_add(amount).is_none()
            || source.balance.checked_sub(amount).is_none()
        {
            Some(TransferRefusal::BalanceOverflow)
        } else if caps.single.is_some_and(|cap| amount > cap) {
            Some(TransferRefusal::LimitExceeded(Limit::Single))
        } else if caps.daily.is_some_and(|cap| today > cap) {
            Some(TransferRefusal::LimitExceeded(Limit::Daily))
        } else if caps.monthly.is_some_and(|cap| this_month > cap) {
            Some(TransferRefusal::LimitExceeded(Limit::Monthly))
        } else {
            None
        };
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        let (from_balance, from_seq): (i64, i64) = self.tx.statement(
            "UPDATE ledger_accounts SET balance = balance - ?3, held = held - ?4,
                 last_posting = last_posting + 1, spent_day = ?5, spent_today = ?6,
                 spent_month = ?7, spent_this_month = ?8
             WHERE tenant_id = ?1 AND id = ?2 RETURNING balance, last_posting",
            |s| {
                let binds = params![
                    self.t(),
                    id_param(&transfer.from),
                    amount,
                    release,
                    day,
                    today,
                    month,
                    this_month
                ];
                s.query_row(binds, |row| Ok((row.get(0)?, row.get(1)?)))
            },
        )?;
        let (to_balance, to_seq): (i64, i64) = self.tx.statement(
            "UPDATE ledger_accounts SET balance = balance + ?3, last_posting = last_posting + 1
             WHERE tenant_id = ?1 AND id = ?2 RETURNING balance, last_posting",
            |s| {
                s.query_row(params![self.t(), id_param(&transfer.to), amount], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
            },
        )?;
        let binds = params![
            self.t(),
            id_param(&transfer.id),
            transfer.kind.as_str(),
            id_param(&transfer.from),
            id_param(&transfer.to),
            amount,
            transfer.memo,
            Micros(transfer.at),
        ];
        self.tx.statement(
            "INSERT INTO ledger_transfers (tenant_id, id, kind, from_account, to_account, amount,
                 memo, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            |s| s.execute(binds),
        )?;
        let binds = params![
            self.t(),
            id_param(&transfer.id),
            Micros(transfer.at),
            id_param(&transfer.from),
            from_seq,
            -amount,
            from_balance,
            id_param(&transfer.to),
            to_seq,
            amount,
            to_balance,
        ];
        self.tx.statement(
            "INSERT INTO ledger_postings (tenant_id, account_id, seq, transfer_id, amount,
                 balance_after, created_at)
             VALUES (?1, ?4, ?5, ?2, ?6, ?7, ?3), (?1, ?8, ?9, ?2, ?10, ?11, ?3)",
            |s| s.execute(binds),
        )?;
        Ok(Ok(PostedTransfer {
            id: transfer.id,
            kind: transfer.kind,
            from: transfer.from,
            to: transfer.to,
            amount,
            memo: transfer.memo.clone(),
            created_at: stored_time(transfer.at),
            from_balance,
            to_balance,
        }))
    }

    fn find_hold(&self, id: HoldId) -> Result<Option<Hold>> {
        let sql =
            format!("SELECT {HOLD_COLUMNS} FROM ledger_holds WHERE tenant_id = ?1 AND id = ?2");
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], hold)
                .optional()
        })
    }

    fn insert_account(&self, new: &NewLedgerAccount) -> Result<()> {
        let binds = params![
            self.t(),
            id_param(&new.id),
            new.name,
            new.currency,
            new.scale,
            new.owner_id.as_ref().map(id_param),
            new.allow_negative,
            new.unlimited,
            new.limit_profile,
            new.house,
            Micros(new.at),
        ];
        self.tx.statement(
            "INSERT INTO ledger_accounts (tenant_id, id, name, currency, scale, owner_id,
                 allow_negative, unlimited, limit_profile, house, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            |s| s.execute(binds),
        )?;
        Ok(())
    }
}

#[async_trait]
impl Ledger for SqliteTenantTx {
    async fn insert_ledger_account(&mut self, new: NewLedgerAccount) -> Result<LedgerAccount> {
        self.insert_account(&new)?;
        let created_at = stored_time(new.at);
        Ok(LedgerAccount::opened(new, created_at))
    }

    async fn ledger_account(
        &mut self,
        id: LedgerAccountId,
        now: OffsetDateTime,
    ) -> Result<Option<LedgerAccount>> {
        Ok(self.find_account(id, now)?.map(|row| row.account))
    }

    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a
             WHERE a.tenant_id = ?1 AND (?3 IS NULL OR a.owner_id = ?3)
               AND (?4 IS NULL OR a.id > ?4)
             ORDER BY a.id LIMIT ?5"
        );
        let binds = params![
            self.t(),
            Micros(query.now),
            query.owner.as_ref().map(id_param),
            query.after.as_ref().map(id_param),
            query.limit,
        ];
        self.tx.statement(&sql, |s| {
            s.query_map(binds, account)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn house_account(
        &mut self,
        currency: &str,
        scale: u8,
        at: OffsetDateTime,
    ) -> Result<LedgerAccount> {
        let find = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a
             WHERE a.tenant_id = ?1 AND a.currency = ?3 AND a.scale = ?4 AND a.house = 1"
        );
        let found = self.tx.statement(&find, |s| {
            s.query_row(params![self.t(), Micros(at), currency, scale], account)
                .optional()
        })?;
        if let Some(house) = found {
            return Ok(house);
        }
        let new = NewLedgerAccount {
            id: LedgerAccountId::new(),
            name: format!("house {currency}"),
            currency: currency.to_owned(),
            scale,
            owner_id: None,
            allow_negative: true,
            unlimited: false,
            limit_profile: None,
            house: true,
            at,
        };
        self.insert_ledger_account(new).await
    }

    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>> {
        self.post(&transfer, 0)
    }

    async fn ledger_postings(&mut self, query: &PostingQuery) -> Result<Vec<Posting>> {
        let sql = format!(
            "SELECT {POSTING_COLUMNS} FROM ledger_postings p
             JOIN ledger_transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
             WHERE p.tenant_id = ?1 AND p.account_id = ?2 AND (?3 IS NULL OR p.seq < ?3)
             ORDER BY p.seq DESC LIMIT ?4"
        );
        let binds = params![
            self.t(),
            id_param(&query.account),
            query.before_seq,
            query.limit,
        ];
        self.tx.statement(&sql, |s| {
            s.query_map(binds, posting)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn ledger_balance_at(
        &mut self,
        account: LedgerAccountId,
        at: OffsetDateTime,
    ) -> Result<(i64, i64)> {
        // Newest first by number: a statement at a recent time reads few
        // rows, and there is no index on the time to keep up on every write.
        let found = self.tx.statement(
            "SELECT seq, balance_after FROM ledger_postings
             WHERE tenant_id = ?1 AND account_id = ?2 AND created_at <= ?3
             ORDER BY seq DESC LIMIT 1",
            |s| {
                s.query_row(params![self.t(), id_param(&account), Micros(at)], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
            },
        )?;
        Ok(found.unwrap_or((0, 0)))
    }

    async fn place_hold(&mut self, new: NewHold) -> Result<std::result::Result<Hold, HoldRefusal>> {
        self.expire_holds(new.account, new.at)?;
        let Some(row) = self.find_account(new.account, new.at)? else {
            return Ok(Err(HoldRefusal::AccountNotFound));
        };
        let account = row.account;
        if !(account.allow_negative || account.unlimited) && account.available() < new.amount {
            return Ok(Err(HoldRefusal::InsufficientFunds));
        }
        if account.held.checked_add(new.amount).is_none() {
            return Ok(Err(HoldRefusal::BalanceOverflow));
        }
        if new.single_cap.is_some_and(|cap| new.amount > cap) {
            return Ok(Err(HoldRefusal::LimitExceeded(Limit::Single)));
        }
        self.tx.statement(
            "UPDATE ledger_accounts SET held = held + ?3 WHERE tenant_id = ?1 AND id = ?2",
            |s| s.execute(params![self.t(), id_param(&new.account), new.amount]),
        )?;
        let binds = params![
            self.t(),
            id_param(&new.id),
            id_param(&new.account),
            new.amount,
            new.memo,
            Micros(new.expires_at),
            Micros(new.at),
        ];
        self.tx.statement(
            "INSERT INTO ledger_holds (tenant_id, id, account_id, amount, status, memo,
                 expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, 'held', ?5, ?6, ?7)",
            |s| s.execute(binds),
        )?;
        Ok(Ok(Hold {
            id: new.id,
            account_id: new.account,
            amount: new.amount,
            status: HoldStatus::Held,
            captured: 0,
            transfer_id: None,
            memo: new.memo,
            expires_at: stored_time(new.expires_at),
            created_at: stored_time(new.at),
            settled_at: None,
        }))
    }

    async fn ledger_hold(&mut self, id: HoldId) -> Result<Option<Hold>> {
        self.find_hold(id)
    }

    async fn settle_hold(
        &mut self,
        settle: SettleHold,
    ) -> Result<std::result::Result<SettledHold, SettleRefusal>> {
        let Some(held) = self.find_hold(settle.hold)? else {
            return Ok(Err(SettleRefusal::HoldNotFound));
        };
        match held.status_at(settle.at) {
            HoldStatus::Held => {}
            HoldStatus::Expired => return Ok(Err(SettleRefusal::Expired)),
            HoldStatus::Captured | HoldStatus::Released => return Ok(Err(SettleRefusal::Settled)),
        }
        let Some(capture) = settle.capture else {
            self.tx.statement(
                "UPDATE ledger_accounts SET held = held - ?3 WHERE tenant_id = ?1 AND id = ?2",
                |s| s.execute(params![self.t(), id_param(&held.account_id), held.amount]),
            )?;
            self.tx.statement(
                "UPDATE ledger_holds SET status = 'released', settled_at = ?3
                 WHERE tenant_id = ?1 AND id = ?2",
                |s| s.execute(params![self.t(), id_param(&held.id), Micros(settle.at)]),
            )?;
            let hold = Hold {
                status: HoldStatus::Released,
                settled_at: Some(stored_time(settle.at)),
                ..held
            };
            return Ok(Ok(SettledHold {
                hold,
                transfer: None,
            }));
        };
        let amount = capture.amount.unwrap_or(held.amount);
        if amount > held.amount {
            return Ok(Err(SettleRefusal::CaptureExceedsHold));
        }
        let transfer = NewTransfer {
            id: capture.transfer,
            kind: TransferKind::Capture,
            from: held.account_id,
            to: capture.to,
            amount,
            memo: capture.memo.or_else(|| held.memo.clone()),
            at: settle.at,
            caps: capture.caps,
        };
        let posted = match self.post(&transfer, held.amount)? {
            Ok(posted) => posted,
            Err(refusal) => return Ok(Err(SettleRefusal::Transfer(refusal))),
        };
        self.tx.statement(
            "UPDATE ledger_holds SET status = 'captured', captured = ?3, transfer_id = ?4,
                 settled_at = ?5
             WHERE tenant_id = ?1 AND id = ?2",
            |s| {
                s.execute(params![
                    self.t(),
                    id_param(&held.id),
                    amount,
                    id_param(&posted.id),
                    Micros(settle.at)
                ])
            },
        )?;
        let hold = Hold {
            status: HoldStatus::Captured,
            captured: amount,
            transfer_id: Some(posted.id),
            settled_at: Some(stored_time(settle.at)),
            ..held
        };
        Ok(Ok(SettledHold {
            hold,
            transfer: Some(posted),
        }))
    }

    async fn limit_profiles(&mut self) -> Result<Vec<LimitProfileRow>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM ledger_limit_profiles WHERE tenant_id = ?1 ORDER BY name"
        );
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t()], profile)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn limit_profile(&mut self, name: &str) -> Result<Option<LimitProfileRow>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM ledger_limit_profiles WHERE tenant_id = ?1 AND name = ?2"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), name], profile).optional()
        })
    }

    async fn put_limit_profile(&mut self, row: LimitProfileRow) -> Result<()> {
        let binds = params![
            self.t(),
            row.name,
            row.single,
            row.daily,
            row.monthly,
            Micros(row.updated_at)
        ];
        self.tx.statement(
            "INSERT INTO ledger_limit_profiles (tenant_id, name, single, daily, monthly, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, name) DO UPDATE SET single = excluded.single,
                 daily = excluded.daily, monthly = excluded.monthly,
                 updated_at = excluded.updated_at",
            |s| s.execute(binds),
        )?;
        Ok(())
    }

    async fn record_charge(
        &mut self,
        new: NewCharge,
    ) -> Result<std::result::Result<Charge, TransferRefusal>> {
        let Some(row) = self.find_account(new.account, new.at)? else {
            return Ok(Err(TransferRefusal::FromNotFound));
        };
        let transfer_id = if row.account.unlimited || new.amount == 0 {
            None
        } else {
            let transfer = NewTransfer {
                id: new.transfer,
                kind: TransferKind::Charge,
                from: new.account,
                to: new.house,
                amount: new.amount,
                memo: new.memo.clone(),
                at: new.at,
                caps: new.caps,
            };
            match self.post(&transfer, 0)? {
                Ok(posted) => Some(posted.id),
                Err(refusal) => return Ok(Err(refusal)),
            }
        };
        let binds = params![
            self.t(),
            id_param(&new.id),
            id_param(&new.account),
            new.cost,
            new.markup_millionths,
            new.amount,
            transfer_id.as_ref().map(id_param),
            new.memo,
            Micros(new.at),
        ];
        self.tx.statement(
            "INSERT INTO ledger_charges (tenant_id, id, account_id, cost, markup_millionths,
                 amount, transfer_id, memo, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            |s| s.execute(binds),
        )?;
        Ok(Ok(Charge {
            id: new.id,
            account_id: new.account,
            cost: new.cost,
            markup_millionths: new.markup_millionths,
            amount: new.amount,
            transfer_id,
            memo: new.memo,
            created_at: stored_time(new.at),
        }))
    }

    async fn ledger_charge(&mut self, id: ChargeId) -> Result<Option<Charge>> {
        let sql =
            format!("SELECT {CHARGE_COLUMNS} FROM ledger_charges WHERE tenant_id = ?1 AND id = ?2");
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], charge)
                .optional()
        })
    }

    async fn ledger_charges(
        &mut self,
        account: LedgerAccountId,
        limit: u32,
    ) -> Result<Vec<Charge>> {
        let sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM ledger_charges
             WHERE tenant_id = ?1 AND account_id = ?2 ORDER BY id DESC LIMIT ?3"
        );
        self.tx.statement(&sql, |s| {
            s.query_map(params![self.t(), id_param(&account), limit], charge)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }
}
