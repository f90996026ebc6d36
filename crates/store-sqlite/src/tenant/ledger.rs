//! The tenant's ledger on SQLite.
//!
//! A transfer is posted by a handful of statements run back to back inside
//! the writer's transaction: SQLite has one writer, so nothing can change
//! either account between the checks and the updates. The conditions are
//! the same as PostgreSQL's `bulkhead_ledger_post`, and the conformance
//! suite holds both to them.

use async_trait::async_trait;
use bulkhead_domain::LedgerAccountId;
use bulkhead_store::ledger::{
    LedgerAccount, LedgerAccountQuery, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, TransferKind, TransferRefusal,
};
use bulkhead_store::{Ledger, Result};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteTenantTx;
use crate::codec::{Micros, conversion_error, id_col, id_param, opt_id_col, stored_time, time_col};

const ACCOUNT_COLUMNS: &str = "id, name, currency, scale, owner_id, allow_negative, unlimited, \
     limit_profile, balance, held, last_posting, created_at";

fn account(row: &Row<'_>) -> rusqlite::Result<LedgerAccount> {
    Ok(LedgerAccount {
        id: id_col(row, 0)?,
        name: row.get(1)?,
        currency: row.get(2)?,
        scale: row.get(3)?,
        owner_id: opt_id_col(row, 4)?,
        allow_negative: row.get(5)?,
        unlimited: row.get(6)?,
        limit_profile: row.get(7)?,
        balance: row.get(8)?,
        held: row.get(9)?,
        last_posting: row.get(10)?,
        created_at: time_col(row, 11)?,
    })
}

fn kind_col(row: &Row<'_>, index: usize) -> rusqlite::Result<TransferKind> {
    let text: String = row.get(index)?;
    TransferKind::parse(&text).ok_or_else(|| {
        conversion_error(
            index,
            bulkhead_store::StoreError::Internal(format!("unknown transfer kind {text:?}")),
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

impl SqliteTenantTx {
    fn find_account(&self, id: LedgerAccountId) -> Result<Option<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE tenant_id = ?1 AND id = ?2"
        );
        self.tx.statement(&sql, |s| {
            s.query_row(params![self.t(), id_param(&id)], account)
                .optional()
        })
    }

    /// Moves `amount` into (or, negative, out of) an account and numbers
    /// its posting: the balance and the posting's number after.
    fn apply_posting(&self, id: LedgerAccountId, amount: i64) -> Result<(i64, i64)> {
        self.tx.statement(
            "UPDATE ledger_accounts SET balance = balance + ?3, last_posting = last_posting + 1
             WHERE tenant_id = ?1 AND id = ?2 RETURNING balance, last_posting",
            |s| {
                s.query_row(params![self.t(), id_param(&id), amount], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
            },
        )
    }
}

/// Why `transfer` may not move money between `source` and `target`.
fn refusal(source: &LedgerAccount, target: &LedgerAccount, amount: i64) -> Option<TransferRefusal> {
    if source.currency != target.currency || source.scale != target.scale {
        return Some(TransferRefusal::CurrencyMismatch);
    }
    if !(source.allow_negative || source.unlimited) && source.available() < amount {
        return Some(TransferRefusal::InsufficientFunds);
    }
    if target.balance.checked_add(amount).is_none() || source.balance.checked_sub(amount).is_none()
    {
        return Some(TransferRefusal::BalanceOverflow);
    }
    None
}

#[async_trait]
impl Ledger for SqliteTenantTx {
    async fn insert_ledger_account(&mut self, new: NewLedgerAccount) -> Result<LedgerAccount> {
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
            Micros(new.at),
        ];
        self.tx.statement(
            "INSERT INTO ledger_accounts (tenant_id, id, name, currency, scale, owner_id,
                 allow_negative, unlimited, limit_profile, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            |s| s.execute(binds),
        )?;
        Ok(LedgerAccount {
            id: new.id,
            name: new.name,
            currency: new.currency,
            scale: new.scale,
            owner_id: new.owner_id,
            allow_negative: new.allow_negative,
            unlimited: new.unlimited,
            limit_profile: new.limit_profile,
            balance: 0,
            held: 0,
            last_posting: 0,
            created_at: stored_time(new.at),
        })
    }

    async fn ledger_account(&mut self, id: LedgerAccountId) -> Result<Option<LedgerAccount>> {
        self.find_account(id)
    }

    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts
             WHERE tenant_id = ?1 AND (?2 IS NULL OR owner_id = ?2) AND (?3 IS NULL OR id > ?3)
             ORDER BY id LIMIT ?4"
        );
        let binds = params![
            self.t(),
            query.owner.as_ref().map(id_param),
            query.after.as_ref().map(id_param),
            query.limit,
        ];
        self.tx.statement(&sql, |s| {
            s.query_map(binds, account)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
    }

    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>> {
        let Some(source) = self.find_account(transfer.from)? else {
            return Ok(Err(TransferRefusal::FromNotFound));
        };
        let Some(target) = self.find_account(transfer.to)? else {
            return Ok(Err(TransferRefusal::ToNotFound));
        };
        if let Some(refusal) = refusal(&source, &target, transfer.amount) {
            return Ok(Err(refusal));
        }
        let (from_balance, from_seq) = self.apply_posting(transfer.from, -transfer.amount)?;
        let (to_balance, to_seq) = self.apply_posting(transfer.to, transfer.amount)?;
        let binds = params![
            self.t(),
            id_param(&transfer.id),
            transfer.kind.as_str(),
            id_param(&transfer.from),
            id_param(&transfer.to),
            transfer.amount,
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
            -transfer.amount,
            from_balance,
            id_param(&transfer.to),
            to_seq,
            transfer.amount,
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
            amount: transfer.amount,
            memo: transfer.memo,
            created_at: stored_time(transfer.at),
            from_balance,
            to_balance,
        }))
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
}
