//! The tenant's ledger on PostgreSQL.
//!
//! A transfer is posted by one call of `bulkhead_ledger_post` (migration
//! 0006): it locks both accounts in id order, checks them, and writes both
//! balances, the transfer and its two postings, in one round trip.

use async_trait::async_trait;
use bulkhead_domain::LedgerAccountId;
use bulkhead_store::ledger::{
    LedgerAccount, LedgerAccountQuery, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, TransferKind, TransferRefusal,
};
use bulkhead_store::{Ledger, Result, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgTenantTx;
use crate::codec::{decode_error, id, opt_id};

const ACCOUNT_COLUMNS: &str = "id, name, currency, scale, owner_id, allow_negative, unlimited, \
     limit_profile, balance, held, last_posting, created_at";

fn account(row: &PgRow) -> sqlx::Result<LedgerAccount> {
    let scale: i16 = row.try_get("scale")?;
    Ok(LedgerAccount {
        id: id(row, "id")?,
        name: row.try_get("name")?,
        currency: row.try_get("currency")?,
        scale: u8::try_from(scale).map_err(|e| decode_error("scale", e))?,
        owner_id: opt_id(row, "owner_id")?,
        allow_negative: row.try_get("allow_negative")?,
        unlimited: row.try_get("unlimited")?,
        limit_profile: row.try_get("limit_profile")?,
        balance: row.try_get("balance")?,
        held: row.try_get("held")?,
        last_posting: row.try_get("last_posting")?,
        created_at: row.try_get("created_at")?,
    })
}

/// A posting with its transfer; the counterparty is whichever side of the
/// transfer is not this account.
const POSTING_COLUMNS: &str = "p.account_id, p.seq, p.transfer_id, t.kind, \
     CASE WHEN t.from_account = p.account_id THEN t.to_account ELSE t.from_account END \
     AS counterparty, p.amount, p.balance_after, t.memo, p.created_at";

fn posting(row: &PgRow) -> sqlx::Result<Posting> {
    let kind: &str = row.try_get("kind")?;
    Ok(Posting {
        account_id: id(row, "account_id")?,
        seq: row.try_get("seq")?,
        transfer_id: id(row, "transfer_id")?,
        kind: TransferKind::parse(kind)
            .ok_or_else(|| decode_error("kind", format!("unknown transfer kind {kind:?}")))?,
        counterparty: id(row, "counterparty")?,
        amount: row.try_get("amount")?,
        balance_after: row.try_get("balance_after")?,
        memo: row.try_get("memo")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl Ledger for PgTenantTx {
    async fn insert_ledger_account(&mut self, new: NewLedgerAccount) -> Result<LedgerAccount> {
        let sql = format!(
            "INSERT INTO ledger_accounts (tenant_id, id, name, currency, scale, owner_id,
                 allow_negative, unlimited, limit_profile, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {ACCOUNT_COLUMNS}"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(new.id.as_uuid())
            .bind(&new.name)
            .bind(&new.currency)
            .bind(i16::from(new.scale))
            .bind(new.owner_id.map(|owner| *owner.as_uuid()))
            .bind(new.allow_negative)
            .bind(new.unlimited)
            .bind(&new.limit_profile)
            .bind(new.at);
        self.tx.one(statement, account).await
    }

    async fn ledger_account(&mut self, id: LedgerAccountId) -> Result<Option<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts WHERE tenant_id = $1 AND id = $2"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        self.tx.optional(statement, account).await
    }

    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts
             WHERE tenant_id = $1 AND ($2::uuid IS NULL OR owner_id = $2)
               AND ($3::uuid IS NULL OR id > $3)
             ORDER BY id LIMIT $4"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(query.owner.map(|owner| *owner.as_uuid()))
            .bind(query.after.map(|after| *after.as_uuid()))
            .bind(i64::from(query.limit));
        self.tx.all(statement, account).await
    }

    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>> {
        let statement = sqlx::query(
            "SELECT outcome, from_balance, to_balance
             FROM bulkhead_ledger_post($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.t())
        .bind(transfer.id.as_uuid())
        .bind(transfer.kind.as_str())
        .bind(transfer.from.as_uuid())
        .bind(transfer.to.as_uuid())
        .bind(transfer.amount)
        .bind(&transfer.memo)
        .bind(transfer.at);
        let (outcome, from_balance, to_balance): (String, Option<i64>, Option<i64>) = self
            .tx
            .one(statement, |row| {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            })
            .await?;
        match (outcome.as_str(), from_balance, to_balance) {
            ("posted", Some(from_balance), Some(to_balance)) => Ok(Ok(PostedTransfer {
                id: transfer.id,
                kind: transfer.kind,
                from: transfer.from,
                to: transfer.to,
                amount: transfer.amount,
                memo: transfer.memo,
                created_at: crate::codec::stored_time(transfer.at),
                from_balance,
                to_balance,
            })),
            (other, _, _) => TransferRefusal::parse(other).map(Err).ok_or_else(|| {
                StoreError::Internal(format!("bulkhead_ledger_post answered {other:?}"))
            }),
        }
    }

    async fn ledger_postings(&mut self, query: &PostingQuery) -> Result<Vec<Posting>> {
        let sql = format!(
            "SELECT {POSTING_COLUMNS} FROM ledger_postings p
             JOIN ledger_transfers t ON t.tenant_id = p.tenant_id AND t.id = p.transfer_id
             WHERE p.tenant_id = $1 AND t.tenant_id = $1 AND p.account_id = $2
               AND ($3::bigint IS NULL OR p.seq < $3)
             ORDER BY p.seq DESC LIMIT $4"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(query.account.as_uuid())
            .bind(query.before_seq)
            .bind(i64::from(query.limit));
        self.tx.all(statement, posting).await
    }
}
