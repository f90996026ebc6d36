//! The tenant's ledger on PostgreSQL.
//!
//! A transfer is posted by one call of `bulkhead_ledger_post` (migration
//! 0006): it locks both accounts in id order, checks them, and writes both
//! balances, the transfer and its two postings, in one round trip. Holds are
//! placed and settled by `bulkhead_ledger_hold` and
//! `bulkhead_ledger_settle_hold`, one round trip each, and a charge by
//! `bulkhead_ledger_charge`, which posts its debit through
//! `bulkhead_ledger_post` and writes the charge in the same round trip.

use async_trait::async_trait;
use bulkhead_domain::{ChargeId, HoldId, LedgerAccountId, TransferId};
use bulkhead_store::ledger::{
    Charge, Hold, HoldRefusal, HoldStatus, LedgerAccount, LedgerAccountQuery, Limit,
    LimitProfileRow, NewCharge, NewHold, NewLedgerAccount, NewTransfer, PostedTransfer, Posting,
    PostingQuery, SettleHold, SettleRefusal, SettledHold, TransferKind, TransferRefusal, utc_day,
    utc_month,
};
use bulkhead_store::{Ledger, Result, StoreError};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use super::PgTenantTx;
use crate::codec::{decode_error, id, opt_id};

/// An account's columns; `held` leaves out holds expired by `$2` that
/// nothing has marked yet. The subquery names the tenant as `$1` (every
/// statement using these columns binds it there), not as `a.tenant_id`:
/// Citus cannot prune a correlated subquery to one shard and would refuse
/// it as a multi-shard query.
const ACCOUNT_COLUMNS: &str = "a.id, a.name, a.currency, a.scale, a.owner_id, a.allow_negative, \
     a.unlimited, a.limit_profile, a.house, a.balance, \
     a.held - COALESCE((SELECT sum(h.amount) FROM ledger_holds h \
         WHERE h.tenant_id = $1 AND h.account_id = a.id AND h.status = 'held' \
           AND h.expires_at <= $2), 0)::bigint AS held, \
     a.last_posting, a.created_at";

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
        house: row.try_get("house")?,
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

const HOLD_COLUMNS: &str = "id, account_id, amount, status, captured, transfer_id, memo, \
     expires_at, created_at, settled_at";

fn hold(row: &PgRow) -> sqlx::Result<Hold> {
    let status: &str = row.try_get("status")?;
    Ok(Hold {
        id: id(row, "id")?,
        account_id: id(row, "account_id")?,
        amount: row.try_get("amount")?,
        status: HoldStatus::parse(status)
            .ok_or_else(|| decode_error("status", format!("unknown hold status {status:?}")))?,
        captured: row.try_get("captured")?,
        transfer_id: opt_id(row, "transfer_id")?,
        memo: row.try_get("memo")?,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        settled_at: row.try_get("settled_at")?,
    })
}

const CHARGE_COLUMNS: &str =
    "id, account_id, cost, markup_millionths, amount, transfer_id, memo, created_at";

fn charge(row: &PgRow) -> sqlx::Result<Charge> {
    Ok(Charge {
        id: id(row, "id")?,
        account_id: id(row, "account_id")?,
        cost: row.try_get("cost")?,
        markup_millionths: row.try_get("markup_millionths")?,
        amount: row.try_get("amount")?,
        transfer_id: opt_id(row, "transfer_id")?,
        memo: row.try_get("memo")?,
        created_at: row.try_get("created_at")?,
    })
}

const PROFILE_COLUMNS: &str = "name, single, daily, monthly, updated_at";

fn profile(row: &PgRow) -> sqlx::Result<LimitProfileRow> {
    Ok(LimitProfileRow {
        name: row.try_get("name")?,
        single: row.try_get("single")?,
        daily: row.try_get("daily")?,
        monthly: row.try_get("monthly")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The transfer `bulkhead_ledger_post` wrote, with the balances it left.
fn posted(transfer: &NewTransfer, from_balance: i64, to_balance: i64) -> PostedTransfer {
    PostedTransfer {
        id: transfer.id,
        kind: transfer.kind,
        from: transfer.from,
        to: transfer.to,
        amount: transfer.amount,
        memo: transfer.memo.clone(),
        created_at: crate::codec::stored_time(transfer.at),
        from_balance,
        to_balance,
    }
}

impl PgTenantTx {
    async fn find_hold(&mut self, id: HoldId) -> Result<Option<Hold>> {
        let sql =
            format!("SELECT {HOLD_COLUMNS} FROM ledger_holds WHERE tenant_id = $1 AND id = $2");
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        self.tx.optional(statement, hold).await
    }
}

#[async_trait]
impl Ledger for PgTenantTx {
    async fn insert_ledger_account(&mut self, new: NewLedgerAccount) -> Result<LedgerAccount> {
        let statement = sqlx::query(
            "INSERT INTO ledger_accounts (tenant_id, id, name, currency, scale, owner_id,
                 allow_negative, unlimited, limit_profile, house, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING created_at",
        )
        .bind(self.t())
        .bind(new.id.as_uuid())
        .bind(&new.name)
        .bind(&new.currency)
        .bind(i16::from(new.scale))
        .bind(new.owner_id.map(|owner| *owner.as_uuid()))
        .bind(new.allow_negative)
        .bind(new.unlimited)
        .bind(&new.limit_profile)
        .bind(new.house)
        .bind(new.at);
        let created_at = self.tx.one(statement, |row| row.try_get(0)).await?;
        Ok(LedgerAccount::opened(new, created_at))
    }

    async fn ledger_account(
        &mut self,
        id: LedgerAccountId,
        now: OffsetDateTime,
    ) -> Result<Option<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a WHERE a.tenant_id = $1 AND a.id = $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(now)
            .bind(id.as_uuid());
        self.tx.optional(statement, account).await
    }

    async fn ledger_accounts(&mut self, query: &LedgerAccountQuery) -> Result<Vec<LedgerAccount>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a
             WHERE a.tenant_id = $1 AND ($3::uuid IS NULL OR a.owner_id = $3)
               AND ($4::uuid IS NULL OR a.id > $4)
             ORDER BY a.id LIMIT $5"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(query.now)
            .bind(query.owner.map(|owner| *owner.as_uuid()))
            .bind(query.after.map(|after| *after.as_uuid()))
            .bind(i64::from(query.limit));
        self.tx.all(statement, account).await
    }

    async fn house_account(
        &mut self,
        currency: &str,
        scale: u8,
        at: OffsetDateTime,
    ) -> Result<LedgerAccount> {
        // Two first charges at once both insert; the unique index lets one
        // row in and the other finds it.
        let statement = sqlx::query(
            "INSERT INTO ledger_accounts (tenant_id, id, name, currency, scale, allow_negative,
                 unlimited, house, created_at)
             VALUES ($1, $2, $3, $4, $5, true, false, true, $6)
             ON CONFLICT (tenant_id, currency, scale) WHERE house DO NOTHING",
        )
        .bind(self.t())
        .bind(*LedgerAccountId::new().as_uuid())
        .bind(format!("house {currency}"))
        .bind(currency)
        .bind(i16::from(scale))
        .bind(at);
        self.tx.execute(statement).await?;
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM ledger_accounts a
             WHERE a.tenant_id = $1 AND a.currency = $3 AND a.scale = $4 AND a.house"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(at)
            .bind(currency)
            .bind(i16::from(scale));
        self.tx.one(statement, account).await
    }

    async fn post_transfer(
        &mut self,
        transfer: NewTransfer,
    ) -> Result<std::result::Result<PostedTransfer, TransferRefusal>> {
        let statement = sqlx::query(
            "SELECT outcome, from_balance, to_balance
             FROM bulkhead_ledger_post($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, $11, $12, $13)",
        )
        .bind(self.t())
        .bind(transfer.id.as_uuid())
        .bind(transfer.kind.as_str())
        .bind(transfer.from.as_uuid())
        .bind(transfer.to.as_uuid())
        .bind(transfer.amount)
        .bind(&transfer.memo)
        .bind(transfer.at)
        .bind(transfer.caps.single)
        .bind(transfer.caps.daily)
        .bind(transfer.caps.monthly)
        .bind(utc_day(transfer.at))
        .bind(utc_month(transfer.at));
        let (outcome, from_balance, to_balance): (String, Option<i64>, Option<i64>) = self
            .tx
            .one(statement, |row| {
                Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            })
            .await?;
        match (outcome.as_str(), from_balance, to_balance) {
            ("posted", Some(from_balance), Some(to_balance)) => {
                Ok(Ok(posted(&transfer, from_balance, to_balance)))
            }
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

    async fn ledger_balance_at(
        &mut self,
        account: LedgerAccountId,
        at: OffsetDateTime,
    ) -> Result<(i64, i64)> {
        // Newest first by number: a statement at a recent time reads few
        // rows, and there is no index on the time to keep up on every write.
        let statement = sqlx::query(
            "SELECT seq, balance_after FROM ledger_postings
             WHERE tenant_id = $1 AND account_id = $2 AND created_at <= $3
             ORDER BY seq DESC LIMIT 1",
        )
        .bind(self.t())
        .bind(account.as_uuid())
        .bind(at);
        let found = self
            .tx
            .optional(statement, |row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .await?;
        Ok(found.unwrap_or((0, 0)))
    }

    async fn place_hold(&mut self, new: NewHold) -> Result<std::result::Result<Hold, HoldRefusal>> {
        let statement =
            sqlx::query("SELECT outcome FROM bulkhead_ledger_hold($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(self.t())
                .bind(new.id.as_uuid())
                .bind(new.account.as_uuid())
                .bind(new.amount)
                .bind(&new.memo)
                .bind(new.expires_at)
                .bind(new.at)
                .bind(new.single_cap);
        let outcome: String = self.tx.one(statement, |row| row.try_get(0)).await?;
        let refusal = match outcome.as_str() {
            "held" => {
                return Ok(Ok(Hold {
                    id: new.id,
                    account_id: new.account,
                    amount: new.amount,
                    status: HoldStatus::Held,
                    captured: 0,
                    transfer_id: None,
                    memo: new.memo,
                    expires_at: crate::codec::stored_time(new.expires_at),
                    created_at: crate::codec::stored_time(new.at),
                    settled_at: None,
                }));
            }
            "account_not_found" => HoldRefusal::AccountNotFound,
            "insufficient_funds" => HoldRefusal::InsufficientFunds,
            "balance_overflow" => HoldRefusal::BalanceOverflow,
            "limit_single" => HoldRefusal::LimitExceeded(Limit::Single),
            other => {
                return Err(StoreError::Internal(format!(
                    "bulkhead_ledger_hold answered {other:?}"
                )));
            }
        };
        Ok(Err(refusal))
    }

    async fn ledger_hold(&mut self, id: HoldId) -> Result<Option<Hold>> {
        self.find_hold(id).await
    }

    async fn settle_hold(
        &mut self,
        settle: SettleHold,
    ) -> Result<std::result::Result<SettledHold, SettleRefusal>> {
        let capture = settle.capture.as_ref();
        let caps = capture.map(|capture| capture.caps).unwrap_or_default();
        let statement = sqlx::query(
            "SELECT outcome, amount_captured, from_balance, to_balance
             FROM bulkhead_ledger_settle_hold($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.t())
        .bind(settle.hold.as_uuid())
        .bind(capture.and_then(|capture| capture.amount))
        .bind(capture.map(|capture| *capture.transfer.as_uuid()))
        .bind(capture.map(|capture| *capture.to.as_uuid()))
        .bind(capture.and_then(|capture| capture.memo.clone()))
        .bind(settle.at)
        .bind(caps.single)
        .bind(caps.daily)
        .bind(caps.monthly)
        .bind(utc_day(settle.at))
        .bind(utc_month(settle.at));
        type Settled = (String, Option<i64>, Option<i64>, Option<i64>);
        let (outcome, captured, from_balance, to_balance): Settled = self
            .tx
            .one(statement, |row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                ))
            })
            .await?;
        if outcome != "captured" && outcome != "released" {
            return SettleRefusal::parse(&outcome).map(Err).ok_or_else(|| {
                StoreError::Internal(format!("bulkhead_ledger_settle_hold answered {outcome:?}"))
            });
        }
        let hold = self
            .find_hold(settle.hold)
            .await?
            .ok_or_else(|| StoreError::Internal("a settled hold vanished".into()))?;
        let transfer = match (capture, captured, from_balance, to_balance) {
            (Some(capture), Some(amount), Some(from_balance), Some(to_balance)) => {
                let transfer = NewTransfer {
                    id: capture.transfer,
                    kind: TransferKind::Capture,
                    from: hold.account_id,
                    to: capture.to,
                    amount,
                    memo: capture.memo.clone().or_else(|| hold.memo.clone()),
                    at: settle.at,
                    caps,
                };
                Some(posted(&transfer, from_balance, to_balance))
            }
            _ => None,
        };
        Ok(Ok(SettledHold { hold, transfer }))
    }

    async fn limit_profiles(&mut self) -> Result<Vec<LimitProfileRow>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM ledger_limit_profiles WHERE tenant_id = $1 ORDER BY name"
        );
        let statement = sqlx::query(&sql).bind(self.t());
        self.tx.all(statement, profile).await
    }

    async fn limit_profile(&mut self, name: &str) -> Result<Option<LimitProfileRow>> {
        let sql = format!(
            "SELECT {PROFILE_COLUMNS} FROM ledger_limit_profiles WHERE tenant_id = $1 AND name = $2"
        );
        let statement = sqlx::query(&sql).bind(self.t()).bind(name);
        self.tx.optional(statement, profile).await
    }

    async fn put_limit_profile(&mut self, row: LimitProfileRow) -> Result<()> {
        let statement = sqlx::query(
            "INSERT INTO ledger_limit_profiles (tenant_id, name, single, daily, monthly, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, name) DO UPDATE SET single = excluded.single,
                 daily = excluded.daily, monthly = excluded.monthly,
                 updated_at = excluded.updated_at",
        )
        .bind(self.t())
        .bind(&row.name)
        .bind(&row.single)
        .bind(&row.daily)
        .bind(&row.monthly)
        .bind(row.updated_at);
        self.tx.execute(statement).await?;
        Ok(())
    }

    async fn record_charge(
        &mut self,
        new: NewCharge,
    ) -> Result<std::result::Result<Charge, TransferRefusal>> {
        let statement = sqlx::query(
            "SELECT outcome, debit FROM bulkhead_ledger_charge($1, $2, $3, $4, $5, $6, $7, $8,
                 $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(self.t())
        .bind(new.id.as_uuid())
        .bind(new.account.as_uuid())
        .bind(new.cost)
        .bind(new.markup_millionths)
        .bind(new.amount)
        .bind(&new.memo)
        .bind(new.at)
        .bind(new.transfer.as_uuid())
        .bind(new.house.as_uuid())
        .bind(new.caps.single)
        .bind(new.caps.daily)
        .bind(new.caps.monthly)
        .bind(utc_day(new.at))
        .bind(utc_month(new.at));
        let (outcome, debit): (String, Option<uuid::Uuid>) = self
            .tx
            .one(statement, |row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .await?;
        if outcome != "charged" {
            return TransferRefusal::parse(&outcome).map(Err).ok_or_else(|| {
                StoreError::Internal(format!("bulkhead_ledger_charge answered {outcome:?}"))
            });
        }
        Ok(Ok(Charge {
            id: new.id,
            account_id: new.account,
            cost: new.cost,
            markup_millionths: new.markup_millionths,
            amount: new.amount,
            transfer_id: debit.map(TransferId::from_uuid),
            memo: new.memo,
            created_at: crate::codec::stored_time(new.at),
        }))
    }

    async fn ledger_charge(&mut self, id: ChargeId) -> Result<Option<Charge>> {
        let sql =
            format!("SELECT {CHARGE_COLUMNS} FROM ledger_charges WHERE tenant_id = $1 AND id = $2");
        let statement = sqlx::query(&sql).bind(self.t()).bind(id.as_uuid());
        self.tx.optional(statement, charge).await
    }

    async fn ledger_charges(
        &mut self,
        account: LedgerAccountId,
        limit: u32,
    ) -> Result<Vec<Charge>> {
        let sql = format!(
            "SELECT {CHARGE_COLUMNS} FROM ledger_charges
             WHERE tenant_id = $1 AND account_id = $2 ORDER BY id DESC LIMIT $3"
        );
        let statement = sqlx::query(&sql)
            .bind(self.t())
            .bind(account.as_uuid())
            .bind(i64::from(limit));
        self.tx.all(statement, charge).await
    }
}
